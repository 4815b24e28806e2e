"""Penalties on the weight matrix W: the parts of J that are not the datafit.

    penalty(W) = alpha * ( l1_ratio * Omega(W) + (1 - l1_ratio) / 2 * ||W||_F^2 )
    Omega(W)   = sum_jk pf_j |W_jk|           entrywise (lasso, elastic net)
               = sum_j  pf_j ||W_j,:||_2      grouped: a feature in or out for all K classes

Shapes: ``W`` is (n_features, n_classes) = (d, K), the solvers' layout (the estimator's
``coef_`` is its transpose); ``penalty_factor`` ``pf`` is (d,), non-negative (0: the
feature is not penalised). The intercept is never penalised: a penalty only sees W.

A penalty splits into a smooth part, the ridge term with coefficient ``ridge`` (its
gradient ``ridge * W`` and Hessian ``ridge * I`` are what the smooth solvers and the
preconditioner use), and a non-smooth part with coefficient ``l1`` that the proximal
solvers handle through :meth:`Penalty.prox` and judge through
:meth:`Penalty.optimality_violation`. With ``l1 == 0`` the penalty is smooth and
``prox`` is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _as_penalty_factor(penalty_factor, n_features: int | None) -> np.ndarray | None:
    """Validated penalty factors of shape (n_features,) as float64, or None (all ones)."""
    if penalty_factor is None:
        return None
    pf = np.asarray(penalty_factor, dtype=np.float64)
    if pf.ndim != 1:
        raise ValueError(f"penalty_factor must be 1-dimensional; got shape {pf.shape}")
    if n_features is not None and pf.shape[0] != n_features:
        raise ValueError(f"penalty_factor has {pf.shape[0]} entries but X has {n_features} "
                         "features")
    if not np.all(np.isfinite(pf)):
        raise ValueError("penalty_factor contains NaN or infinity")
    if np.any(pf < 0):
        raise ValueError("penalty_factor must be non-negative (0 leaves a feature unpenalised)")
    return pf


@dataclass(frozen=True)
class Penalty:
    """alpha * (l1_ratio * Omega(W) + (1 - l1_ratio) / 2 * ||W||_F^2) on W of shape (d, K).

    Parameters
    ----------
    alpha : float >= 0
        Overall strength (glmnet's ``lambda``).
    l1_ratio : float in [0, 1]
        Share of the L1 part (glmnet's ``alpha``); 0 is the ridge (L2) penalty.
    grouped : bool
        Omega sums the row norms ||W_j,:||_2 instead of the entries' absolute values.
    penalty_factor : ndarray of shape (d,) or None
        Per-feature multiplier of the penalty (both parts, as glmnet's ``penalty.factor``).
    """

    alpha: float = 0.0
    l1_ratio: float = 0.0
    grouped: bool = False
    penalty_factor: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self):
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0; got {self.alpha!r}")
        if not (0.0 <= self.l1_ratio <= 1.0):
            raise ValueError(f"l1_ratio must lie in [0, 1]; got {self.l1_ratio!r}")
        if self.grouped and self.l1_ratio == 0:
            raise ValueError("grouped=True needs l1_ratio > 0: with l1_ratio=0 there is no "
                             "L1 part to group (the ridge penalty treats all entries alike)")
        object.__setattr__(self, "penalty_factor",
                           _as_penalty_factor(self.penalty_factor, None))

    # -- the two parts' strengths -----------------------------------------------------------
    @property
    def ridge(self) -> float:
        """Coefficient of (1/2)||W||^2 (before penalty factors): alpha * (1 - l1_ratio)."""
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def l1(self) -> float:
        """Coefficient of Omega(W): alpha * l1_ratio."""
        return self.alpha * self.l1_ratio

    @property
    def is_smooth(self) -> bool:
        """True when there is no non-smooth part (the smooth solvers can handle it alone)."""
        return self.l1 == 0.0

    def _pf(self, d: int) -> np.ndarray:
        pf = self.penalty_factor
        if pf is None:
            return np.ones(d)
        if pf.shape[0] != d:
            raise ValueError(f"penalty_factor has {pf.shape[0]} entries but W has {d} rows")
        return pf

    def ridge_weights(self, d: int) -> np.ndarray:
        """The ridge part's per-feature coefficient ridge * pf, shape (d,)."""
        return self.ridge * self._pf(d)

    # -- value and smooth part ----------------------------------------------------------------
    def value(self, W: np.ndarray) -> float:
        """penalty(W) for W of shape (d, K)."""
        W = np.asarray(W, dtype=np.float64)
        pf = self._pf(W.shape[0])
        total = 0.0
        # pf @ (d, K) then a sum of K: a matrix-vector product, much faster than row sums
        if self.ridge:
            total += 0.5 * self.ridge * float(np.sum(pf @ (W * W)))
        if self.l1:
            if self.grouped:
                total += self.l1 * float(np.dot(pf, np.linalg.norm(W, axis=1)))
            else:
                total += self.l1 * float(np.sum(pf @ np.abs(W)))
        return total

    def smooth_gradient(self, W: np.ndarray) -> np.ndarray:
        """Gradient of the ridge part, ridge * pf_j * W_jk, shape (d, K)."""
        W = np.asarray(W, dtype=np.float64)
        if not self.ridge:
            return np.zeros_like(W)
        return self.ridge_weights(W.shape[0])[:, None] * W

    # -- non-smooth part ------------------------------------------------------------------------
    def prox(self, W: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """argmin_U  ||U - W||^2 / (2 step) + l1 * Omega(U), shape (d, K).

        ``step`` is a scalar or per-feature steps of shape (d,) (a diagonal metric).
        Entrywise: soft-thresholding at step * l1 * pf_j; grouped: each row shrunk
        towards 0 by step * l1 * pf_j in its Euclidean norm. The ridge part is not
        included (it is smooth).
        """
        W = np.asarray(W, dtype=np.float64)
        if not self.l1:
            return W.copy()
        thresh = self.l1 * self._pf(W.shape[0]) * np.broadcast_to(step, (W.shape[0],))
        if self.grouped:
            norms = np.linalg.norm(W, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(norms > thresh, 1.0 - thresh / norms, 0.0)
            return W * scale[:, None]
        return np.sign(W) * np.maximum(np.abs(W) - thresh[:, None], 0.0)

    def optimality_violation(self, W: np.ndarray, G: np.ndarray) -> np.ndarray:
        """Distance of -G from the subdifferential of the L1 part at W, shape (d, K).

        ``G`` (d, K) is the gradient of the smooth part of J at W (datafit plus ridge).
        W is optimal (for W; the intercept's gradient is checked apart) iff every entry
        is 0. Entrywise, for W_jk != 0: |G_jk + l1 pf_j sign(W_jk)|, for W_jk = 0:
        max(|G_jk| - l1 pf_j, 0). Grouped, each row j gets the same value in all K
        columns: for W_j != 0 the norm of G_j + l1 pf_j W_j / ||W_j||, else
        max(||G_j|| - l1 pf_j, 0).
        """
        W = np.asarray(W, dtype=np.float64)
        G = np.asarray(G, dtype=np.float64)
        if not self.l1:
            return np.abs(G)
        lam = self.l1 * self._pf(W.shape[0])
        if self.grouped:
            norms = np.linalg.norm(W, axis=1)
            active = norms > 0
            out = np.maximum(np.linalg.norm(G, axis=1) - lam, 0.0)
            if np.any(active):
                U = G[active] + lam[active, None] * W[active] / norms[active, None]
                out[active] = np.linalg.norm(U, axis=1)
            return np.repeat(out[:, None], W.shape[1], axis=1)
        return np.where(W != 0, np.abs(G + lam[:, None] * np.sign(W)),
                        np.maximum(np.abs(G) - lam[:, None], 0.0))


def alpha_max(G0: np.ndarray, *, l1_ratio: float = 1.0, grouped: bool = False,
              penalty_factor=None) -> float:
    """The smallest alpha whose optimum has W = 0, from the datafit gradient G0 (d, K).

    ``G0`` is the gradient of the datafit with respect to W at W = 0 with the intercept
    at its intercept-only optimum. Entrywise: max_jk |G0_jk| / (pf_j l1_ratio); grouped:
    max_j ||G0_j,:||_2 / (pf_j l1_ratio). Features with pf_j = 0 are left out (they are
    never zero). Needs l1_ratio > 0 (a ridge penalty never zeroes W).
    """
    if not l1_ratio > 0:
        raise ValueError("alpha_max needs l1_ratio > 0: a ridge penalty never makes W zero")
    G0 = np.asarray(G0, dtype=np.float64)
    pf = _as_penalty_factor(penalty_factor, G0.shape[0])
    rows = np.linalg.norm(G0, axis=1) if grouped else np.abs(G0).max(axis=1)
    if pf is not None:
        keep = pf > 0
        rows, pf = rows[keep], pf[keep]
    else:
        pf = np.ones_like(rows)
    if rows.size == 0:
        return 0.0
    return float(np.max(rows / pf)) / l1_ratio
