"""The regularisation path of the penalised softmax regression (glmnet's path).

    J_alpha(W, b) = sum_i s_i CE_i / sum_i s_i
                    + alpha * ( l1_ratio * Omega(W) + (1 - l1_ratio) / 2 * ||W||_F^2 )

solved at a decreasing sequence of alphas, each solution warm-starting the next. At each
alpha the working set starts from the features ever active and the sequential strong
rule's survivors (Tibshirani et al. 2012: feature j is kept when its gradient at the
previous solution exceeds l1_ratio * pf_j * (2 alpha_new - alpha_old)); the solver's full
optimality check adds any feature the rule wrongly dropped, so screening never changes
the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._objective import SoftmaxObjective
from .penalties import Penalty, _as_penalty_factor, alpha_max
from .solvers._common import CONVERGED
from .solvers.prox_newton import ColumnData, solve


@dataclass
class RegularizationPath:
    """Solutions along a decreasing sequence of alphas.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,), decreasing
    coefs : ndarray of shape (n_alphas, n_classes, n_features)  (the estimator's coef_ layout)
    intercepts : ndarray of shape (n_alphas, n_classes)  (zeros without an intercept)
    n_active : ndarray of int of shape (n_alphas,)
        Features with a non-zero coefficient in some class.
    dev_ratio : ndarray of shape (n_alphas,)
        Fraction of the null deviance explained (glmnet's %dev / 100):
        1 - (L - L_sat) / (L_null - L_sat) with L the weighted mean cross-entropy, L_null
        the intercept-only fit's (W = 0, b = 0 without intercept) and L_sat the saturated
        model's (0 for hard labels, the targets' entropy for soft ones).
    objective : ndarray of shape (n_alphas,), J at each solution
    violation : ndarray of shape (n_alphas,), the largest optimality violation at each
    n_iter : ndarray of int of shape (n_alphas,), proximal Newton steps per alpha
    stop_reasons : list of str
    alpha_max : float, the smallest alpha whose solution has W = 0 (penalised features)
    classes : ndarray of shape (n_classes,) or None (soft targets)
    l1_ratio, grouped, penalty_factor : the penalty's settings
    """

    alphas: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_active: np.ndarray
    dev_ratio: np.ndarray
    objective: np.ndarray
    violation: np.ndarray
    n_iter: np.ndarray
    stop_reasons: list
    alpha_max: float
    classes: np.ndarray | None
    l1_ratio: float
    grouped: bool
    penalty_factor: np.ndarray | None = field(default=None, repr=False)

    @property
    def converged(self) -> bool:
        """True when every alpha's fit met the tolerance."""
        return all(r == CONVERGED for r in self.stop_reasons)


def _targets(y, n: int):
    """(codes or None, soft Y or None, classes or None) from labels (n,) or soft Y (n, K)."""
    y = np.asarray(y)
    if y.ndim == 2 and np.issubdtype(y.dtype, np.floating):
        Y = np.asarray(y, dtype=np.float64)
        if Y.shape[0] != n:
            raise ValueError(f"Y has {Y.shape[0]} rows but X has {n}")
        if not np.all(np.isfinite(Y)) or np.any(Y < 0) or \
                not np.allclose(Y.sum(axis=1), 1.0, atol=1e-8):
            raise ValueError("soft targets Y must be rows of probabilities (non-negative, "
                             "summing to 1)")
        return None, Y, None
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be of shape (n_samples,) = ({n},); got {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError("y has a single class: there is nothing to classify")
    return codes, None, classes


def default_alphas(a_max: float, n_alphas: int, alpha_min_ratio: float) -> np.ndarray:
    """n_alphas values from a_max geometrically down to alpha_min_ratio * a_max."""
    if n_alphas < 1:
        raise ValueError(f"n_alphas must be >= 1; got {n_alphas}")
    if not 0 < alpha_min_ratio < 1:
        raise ValueError(f"alpha_min_ratio must lie in (0, 1); got {alpha_min_ratio}")
    if n_alphas == 1:
        return np.array([a_max])
    return a_max * alpha_min_ratio ** (np.arange(n_alphas) / (n_alphas - 1))


def regularization_path(X, y, *, l1_ratio: float = 1.0, grouped: bool = False, alphas=None,
                        n_alphas: int = 100, alpha_min_ratio: float | None = None,
                        sample_weight=None, penalty_factor=None, fit_intercept: bool = True,
                        tol: float = 1e-7, max_iter: int = 500,
                        obj_tol: float | None = None) -> RegularizationPath:
    """Fit the penalised softmax regression along a decreasing sequence of alphas.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Read in its dtype (float32 stays float32); CSR/CSC/dense.
    y : array of shape (n_samples,) of labels, or float array (n_samples, n_classes) of
        soft targets (rows of probabilities)
    l1_ratio : float in (0, 1], share of the L1 part (glmnet's ``alpha``)
    grouped : bool, Omega = sum_j pf_j ||W_j,:||_2 (glmnet's type.multinomial="grouped")
    alphas : array of floats or None
        The alphas to fit (sorted decreasing here); None: ``n_alphas`` values from
        :attr:`RegularizationPath.alpha_max` geometrically down to
        ``alpha_min_ratio * alpha_max``.
    n_alphas : int
    alpha_min_ratio : float or None, default 1e-2 when n_samples < n_features else 1e-4
    sample_weight : array of shape (n_samples,) or None
    penalty_factor : array of shape (n_features,) or None (all ones); 0 leaves a feature
        unpenalised. Used as given (glmnet rescales its penalty.factor to sum to
        n_features: pass ``pf * n_features / pf.sum()`` to reproduce glmnet).
    fit_intercept : bool
    tol : float, the largest optimality violation accepted at each alpha
    max_iter : int, proximal Newton steps per alpha at most
    obj_tol : float or None
        If given, each alpha's fit also needs the objective decrease still available
        (estimated entry by entry, v^2 / (2 h) summed; see
        :func:`softreg.solvers.prox_newton.solve`) at most ``obj_tol * |J|``.

    Returns
    -------
    RegularizationPath
    """
    if not 0 < l1_ratio <= 1:
        raise ValueError(f"regularization_path needs l1_ratio in (0, 1]; got {l1_ratio!r}")
    n, d = X.shape
    codes, Y, classes = _targets(y, n)
    K = Y.shape[1] if Y is not None else classes.size
    if sample_weight is not None:
        s = np.asarray(sample_weight, dtype=np.float64)
        if s.shape != (n,) or not np.all(np.isfinite(s)) or np.any(s < 0) or s.sum() <= 0:
            raise ValueError("sample_weight must be (n_samples,) finite, non-negative and "
                             "not all zero")
    pf = _as_penalty_factor(penalty_factor, d)
    datafit = SoftmaxObjective(X, y=codes, Y=Y, sample_weight=sample_weight,
                               fit_intercept=fit_intercept, n_classes=K)
    cd = ColumnData(datafit)
    pf_full = np.ones(d) if pf is None else pf

    # the null model: W = 0 with the intercept-only optimum (or b = 0)
    b0 = cd.intercept_only() if fit_intercept else np.zeros(K)
    Z0 = np.zeros((n, K)) + b0
    P0 = np.empty_like(Z0)
    from .solvers import _cd_kernels as kern
    null_loss = kern.softmax_loss(Z0, cd.Y, cd.sw, P0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sat_loss = -float(cd.sw @ np.where(cd.Y > 0, cd.Y * np.log(cd.Y), 0.0).sum(axis=1))
    G0 = cd.gradient(cd.sw[:, None] * (P0 - cd.Y))
    W0 = np.zeros((d, K))
    if np.any(pf_full == 0) and np.any(pf_full > 0):
        # unpenalised features are part of the null fit: solve for them (and b) with the
        # penalised ones held at zero by a prohibitive penalty, as glmnet does
        big = 1e6 * (np.abs(G0).max() / pf_full[pf_full > 0].min() / l1_ratio + 1.0)
        res = solve(cd, Penalty(big, l1_ratio, grouped, pf), W0, b0, tol=tol,
                    max_iter=max_iter, screen=np.flatnonzero(pf_full == 0))
        W0, b0, G0 = res.W, res.b, res.G
    a_max = alpha_max(G0, l1_ratio=l1_ratio, grouped=grouped, penalty_factor=pf)

    if alphas is None:
        if alpha_min_ratio is None:
            alpha_min_ratio = 1e-2 if n < d else 1e-4
        alphas = default_alphas(a_max if a_max > 0 else 1.0, n_alphas, alpha_min_ratio)
    else:
        alphas = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1]
        if alphas.size == 0 or np.any(~np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError("alphas must be a non-empty list of finite numbers >= 0")

    m = alphas.size
    coefs = np.zeros((m, K, d))
    intercepts = np.zeros((m, K))
    out = dict(n_active=np.zeros(m, dtype=np.int64), dev_ratio=np.zeros(m),
               objective=np.zeros(m), violation=np.zeros(m), n_iter=np.zeros(m, dtype=np.int64))
    reasons = []
    W = W0
    b = b0.copy()
    G = G0
    alpha_prev = max(a_max, alphas[0])
    ever = np.flatnonzero(pf_full == 0)  # unpenalised features are always in
    for t, alpha in enumerate(alphas):
        penalty = Penalty(float(alpha), l1_ratio, grouped, pf)
        # sequential strong rule on the smooth part's gradient at the previous solution
        Gs = G + penalty.smooth_gradient(W)
        score = np.linalg.norm(Gs, axis=1) if grouped else np.abs(Gs).max(axis=1)
        strong = np.flatnonzero(score >= l1_ratio * pf_full * (2 * alpha - alpha_prev))
        screen = np.union1d(ever, strong)
        res = solve(cd, penalty, W, b, tol=tol, max_iter=max_iter, screen=screen,
                    obj_tol=obj_tol, G0=G if t > 0 else None)
        W, b, G = res.W, res.b, res.G
        ever = np.union1d(ever, np.flatnonzero(np.any(W != 0, axis=1)))
        coefs[t] = W.T
        intercepts[t] = b if fit_intercept else 0.0
        out["n_active"][t] = np.count_nonzero(np.any(W != 0, axis=1))
        denom = null_loss - sat_loss
        out["dev_ratio"][t] = 1.0 - (res.data_loss - sat_loss) / denom if denom > 0 else 0.0
        out["objective"][t] = res.loss
        out["violation"][t] = res.violation
        out["n_iter"][t] = res.n_iter
        reasons.append(res.stop_reason)
        alpha_prev = alpha
    return RegularizationPath(alphas=alphas, coefs=coefs, intercepts=intercepts,
                              stop_reasons=reasons, alpha_max=a_max, classes=classes,
                              l1_ratio=l1_ratio, grouped=grouped, penalty_factor=pf, **out)
