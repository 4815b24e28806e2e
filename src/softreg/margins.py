"""Marginal effects of the features on the class probabilities, as statsmodels' MNLogit.

For a row x (a leading 1 for the intercept) with p = softmax(x B), B (n_terms, K) the
contrasts with a zero reference column, the effect of term j on class k is

    dp_k / dx_j = p_k (B[j, k] - bbar_j),     bbar_j = sum_l p_l B[j, l],

and the ``method`` rescales it: "dydx" as is, "eyex" times x_j / p_k (an elasticity),
"dyex" times x_j, "eydx" divided by p_k. ``at`` says where: "overall" averages the effect
over the observations (frequency-weighted), "mean" and "median" evaluate it at the
(weighted) mean or median row, "zero" at x = 0 (the intercept's 1 kept). The intercept's
own row is left out, so the table has shape (n_features, n_classes), as statsmodels'.

Standard errors come from the delta method, Var = G V G' with V the covariance of the
contrasts and G the exact Jacobian of the effects with respect to them (derived by hand,
for c a non-reference class and m a term)::

    dp_k / dB[m, c]     = x_m p_k (delta_kc - p_c)
    dbbar_j / dB[m, c]  = x_m p_c (B[j, c] - bbar_j) + p_c delta_jm
    d me_jk / dB[m, c]  = dp_k/dB[m, c] (B[j, k] - bbar_j)
                          + p_k (delta_jm delta_kc - dbbar_j/dB[m, c]),

with the rescaled versions by the quotient rule (averaged over rows for "overall").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from .prediction import (
    contrast_matrix,
    design_matrix,
    feature_names,
    has_intercept,
    pandas_module,
)

__all__ = ["MarginalEffects", "MarginsMixin", "weighted_median"]

AT = ("overall", "mean", "median", "zero")
METHODS = ("dydx", "eyex", "dyex", "eydx")
#: statsmodels' column names of the effect per method
METHOD_NAMES = {"dydx": "dy/dx", "eyex": "d(lny)/d(lnx)", "dyex": "dy/d(lnx)",
                "eydx": "d(lny)/dx"}
#: rows per block: about this many float64 entries in the Jacobian of a block
BLOCK_ENTRIES = 1 << 21


def weighted_median(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Column medians of X (n, d) with frequency weights w (n,), shape (d,).

    With integer weights this equals ``np.median`` of the rows repeated w times (the mean
    of the two middle values when the total is even); for other weights it is the value
    where the cumulative weight reaches half, averaged with the next when it is exactly half.
    """
    keep = w > 0
    X, w = X[keep], w[keep]
    half = w.sum() / 2
    out = np.empty(X.shape[1])
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        x, cw = X[order, j], np.cumsum(w[order])
        i = int(np.searchsorted(cw, half * (1 - 1e-12)))
        exact = abs(cw[i] - half) <= 1e-12 * half and i + 1 < len(x)
        out[j] = (x[i] + x[i + 1]) / 2 if exact else x[i]
    return out


def _effects(x: np.ndarray, B: np.ndarray, others: list[int], method: str, w=None):
    """Effects (q, K) and their Jacobian (q, K, Kc, q) at rows x (b, q), weighted-averaged."""
    b, q = x.shape
    K = B.shape[1]
    P = special.softmax(x @ B, axis=1)
    bbar = P @ B.T  # (b, q)
    D = B[None] - bbar[:, :, None]  # (b, q, K)
    me = P[:, None, :] * D
    Po = P[:, others]  # (b, Kc)
    delta = np.eye(K)[:, others]  # (K, Kc): delta_kc
    dP = (P[:, :, None] * (delta[None] - Po[:, None, :]))[..., None] * x[:, None, None, :]
    eye_q = np.eye(q)
    dbbar = (Po[:, None, :] * D[:, :, others])[..., None] * x[:, None, None, :] \
        + Po[:, None, :, None] * eye_q[None, :, None, :]  # (b, q_j, Kc, q_m)
    dme = dP[:, None] * D[:, :, :, None, None] \
        + P[:, None, :, None, None] * (eye_q[None, :, None, None, :] * delta[None, None, :, :,
                                                                             None]
                                       - dbbar[:, :, None])  # (b, q_j, K, Kc, q_m)
    if "ey" in method[:2]:  # divide by p_k: (dme p - me dp) / p^2
        dme = dme / P[:, None, :, None, None] \
            - (me / P[:, None, :] ** 2)[..., None, None] * dP[:, None]
        me = me / P[:, None, :]
    if method.endswith("ex"):
        me = me * x[:, :, None]
        dme = dme * x[:, :, None, None, None]
    w = np.full(b, 1.0 / b) if w is None else w
    return np.tensordot(w, me, axes=1), np.tensordot(w, dme, axes=1)


def marginal_effects(result, X, sample_weight, at: str, method: str):
    """(effects (q, K), Jacobian (q, K, Kc*q)) over all terms, for the result's contrasts."""
    B, ref = contrast_matrix(result)
    q, K = B.shape
    others = [k for k in range(K) if k != ref]
    s = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if at == "overall":
        w = s / s.sum()
        me, jac = np.zeros((q, K)), np.zeros((q, K, len(others), q))
        step = max(1, BLOCK_ENTRIES // (q * q * K * len(others)))
        for start in range(0, len(X), step):
            rows = slice(start, start + step)
            m, j = _effects(X[rows], B, others, method, w[rows])
            me += m
            jac += j
    else:
        if at == "mean":
            x = (s @ X) / s.sum()
        elif at == "median":
            x = weighted_median(X, s)
        else:
            x = np.zeros(q)
        if has_intercept(result):
            x[0] = 1.0
        me, jac = _effects(x[None], B, others, method)
    return me, jac.reshape(q, K, len(others) * q)


@dataclass
class MarginalEffects:
    """Marginal effects with delta-method standard errors (statsmodels' DiscreteMargins).

    Attributes
    ----------
    margeff : ndarray of shape (n_features, n_classes)
    margeff_se : ndarray of shape (n_features, n_classes)
    margeff_cov : ndarray of shape (n_features * n_classes, n_features * n_classes),
        ordered class-major (all features of the first class, then the next), as statsmodels
    features : list of str, classes : list, at : str, method : str
    """

    margeff: np.ndarray
    margeff_se: np.ndarray
    margeff_cov: np.ndarray
    features: list
    classes: list
    at: str
    method: str

    @property
    def tvalues(self) -> np.ndarray:
        """margeff / margeff_se, shape (n_features, n_classes)."""
        return self.margeff / self.margeff_se

    @property
    def pvalues(self) -> np.ndarray:
        """Two-sided normal p-values of the z statistics, shape (n_features, n_classes)."""
        return 2 * special.ndtr(-np.abs(self.tvalues))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Wald intervals of shape (n_features, 2, n_classes) (lower, upper), as statsmodels."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        z = special.ndtri(1 - alpha / 2)
        return np.stack([self.margeff - z * self.margeff_se,
                         self.margeff + z * self.margeff_se], axis=1)

    def summary_frame(self, alpha: float = 0.05):
        """pandas.DataFrame indexed by (class, feature), statsmodels' columns."""
        pd = pandas_module()
        ci = self.conf_int(alpha)
        cols = [self.margeff, self.margeff_se, self.tvalues, self.pvalues, ci[:, 0], ci[:, 1]]
        index = pd.MultiIndex.from_product([self.classes, self.features],
                                           names=["class", "feature"])
        return pd.DataFrame(np.column_stack([c.ravel("F") for c in cols]), index=index,
                            columns=[METHOD_NAMES[self.method], "Std. Err.", "z", "Pr(>|z|)",
                                     "Conf. Int. Low", "Conf. Int. Hi."])

    def summary(self, alpha: float = 0.05) -> str:
        """A readable table per class."""
        ci = self.conf_int(alpha)
        z, p = self.tvalues, self.pvalues
        width = max(12, *(len(f) for f in self.features))
        lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
        rule = "=" * (width + 66)
        lines = ["Marginal effects of the features on the class probabilities",
                 f"method: {METHOD_NAMES[self.method]} ({self.method})   at: {self.at}"]
        for k, cls in enumerate(self.classes):
            lines += [rule, f"class = {cls!r}",
                      f"{'':<{width}} {METHOD_NAMES[self.method]:>13} {'std err':>11} "
                      f"{'z':>9} {'P>|z|':>8} {lo:>11} {hi:>11}", "-" * (width + 66)]
            for j, name in enumerate(self.features):
                lines.append(f"{name:<{width}} {self.margeff[j, k]:>13.4g} "
                             f"{self.margeff_se[j, k]:>11.4g} {z[j, k]:>9.3f} "
                             f"{p[j, k]:>8.3g} {ci[j, 0, k]:>11.4g} {ci[j, 1, k]:>11.4g}")
        lines.append(rule)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"MarginalEffects(at={self.at!r}, method={self.method!r}, "
                f"shape={self.margeff.shape})")


class MarginsMixin:
    """``get_margeff`` on :class:`softreg.inference.InferenceResult`."""

    # provided by the result class this is mixed into
    _data: Any
    cov: Any
    classes: Any

    def get_margeff(self, at: str = "overall", method: str = "dydx", X=None,
                    sample_weight=None) -> MarginalEffects:
        """Marginal effects of the features on every class probability.

        Parameters
        ----------
        at : {"overall", "mean", "median", "zero"}, default="overall"
        method : {"dydx", "eyex", "dyex", "eydx"}, default="dydx"
        X : array-like of shape (n_samples, n_features), default=None
            The rows to average over or summarise; None uses the data ``infer`` saw (a
            result read back with ``from_dict`` has none: pass X then).
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights of X (None with X=None: those given to ``infer``).

        Returns
        -------
        MarginalEffects
            ``margeff``, ``margeff_se``, ``pvalues`` of shape (n_features, n_classes),
            ``conf_int()`` of shape (n_features, 2, n_classes), ``summary()``.
        """
        if at not in AT:
            raise ValueError(f"at must be one of {AT}; got {at!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if X is None:
            if self._data is None:
                raise ValueError("this result holds no data (it was read back from a "
                                 "dict or file): pass X (and sample_weight) to get_margeff")
            Xt, s = self._data
            Xt = np.column_stack([np.ones(len(Xt)), Xt]) if has_intercept(self) else Xt
            s = s if sample_weight is None else sample_weight
        else:
            Xt, _ = design_matrix(self, X)
            s = sample_weight
        if s is not None:
            s = np.asarray(s, dtype=np.float64)
            if s.shape != (len(Xt),) or np.any(s < 0) or not np.any(s > 0):
                raise ValueError("sample_weight must be non-negative, not all zero, one per "
                                 "row of X")
        me, jac = marginal_effects(self, Xt, s, at, method)
        first = 1 if has_intercept(self) else 0
        me, jac = me[first:], jac[first:]
        q, K = me.shape
        # class-major order, as statsmodels: row k * n_features + j
        G = jac.transpose(1, 0, 2).reshape(K * q, -1)
        flat = G @ self.cov @ G.T
        se = np.sqrt(np.clip(np.diag(flat), 0, None)).reshape(K, q).T
        return MarginalEffects(margeff=me, margeff_se=se, margeff_cov=(flat + flat.T) / 2,
                               features=feature_names(self), classes=list(self.classes),
                               at=at, method=method)
