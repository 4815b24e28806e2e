"""Confidence intervals for every predicted class probability (the delta method).

For a row x (with a leading 1 when the model has an intercept) the class probabilities
are p = softmax(x B), where B (n_terms, K) holds the contrasts of the inference result in
the non-reference columns and zeros in the reference column. The contrasts beta are
approximately normal with covariance V (``result.cov``: the inverse observed information
for alpha = 0, the Laplace approximation for alpha > 0), so each smooth function of them
is too, with variance g' V g (the delta method).

The interval of p_k is formed on its logit scale l_k = log(p_k / (1 - p_k)) and mapped
back, so both bounds lie strictly inside (0, 1)::

    d l_k / d B[m, c] = x_m (delta_kc - p_c) / (1 - p_k)       (c non-reference)
                      = x_m                      for c = k,
                      = -x_m q_c                 for c != k,  q = softmax of the logits without k,
    se(l_k) = sqrt(g' V g),   se(p_k) = p_k (1 - p_k) se(l_k),
    bounds  = expit(l_k -/+ z se(l_k)),   z = Phi^{-1}(1 - alpha / 2).

Written with q and with log(1 - p_k) = logsumexp(z_{-k}) - logsumexp(z), nothing is divided
by a probability, so rows predicted with probability 1 - 1e-20 keep finite logits and
standard errors. (In floating point a bound within 1e-16 of 1 rounds to 1.0.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

__all__ = ["PredictionMixin", "PredictionResult", "contrast_matrix", "design_matrix"]

#: rows are processed in blocks of about this many float64 entries of the largest array
BLOCK_ENTRIES = 1 << 21


def pandas_module():
    """pandas, or an ImportError saying how to install it (the result tables are frames)."""
    try:
        import pandas
    except ImportError as error:  # pragma: no cover - pandas is in the stats extra
        raise ImportError("the tables of softreg.infer (summary_frame, params, ...) are pandas "
                          "DataFrames: pip install 'softreg[stats]' (or pandas); the arrays "
                          "are in result.coef, result.cov and result.to_dict()") from error
    return pandas


def has_intercept(result) -> bool:
    return bool(result.term_names) and result.term_names[0] == "intercept"


def feature_names(result) -> list[str]:
    """The features of the result's model in order (the terms without the intercept)."""
    return list(result.term_names[1:] if has_intercept(result) else result.term_names)


def design_matrix(result, X) -> tuple[np.ndarray, Any]:
    """(X~ of shape (n, n_terms), row index or None): the terms of the result for rows X.

    A DataFrame's columns are matched to the features by name (reordered; extra columns
    are an error); an array must have one column per feature, in order.
    """
    names = feature_names(result)
    index = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        cols = [str(c) for c in X.columns]
        missing = [n for n in names if n not in cols]
        if missing:
            raise ValueError(f"X lacks the model's features {missing}")
        extra = [c for c in cols if c not in names]
        if extra:
            raise ValueError(f"X has columns that are not features of the model: {extra}")
        index = X.index
        X = X.to_numpy()[:, [cols.index(n) for n in names]]
    import scipy.sparse as sp

    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n_samples, n_features); got shape "
                         f"{X.shape}")
    if X.shape[1] != len(names):
        raise ValueError(f"X has {X.shape[1]} columns but the model has {len(names)} "
                         f"features {names}")
    try:
        X = X.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"X must be numeric: {error}") from None
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity")
    if has_intercept(result):
        X = np.column_stack([np.ones(len(X)), X])
    return np.ascontiguousarray(X), index


def contrast_matrix(result) -> tuple[np.ndarray, int]:
    """(B of shape (n_terms, K), reference index): contrasts with a zero reference column."""
    classes = list(result.classes)
    ref = classes.index(result.reference)
    q, K = len(result.term_names), len(classes)
    B = np.zeros((q, K))
    B[:, [k for k in range(K) if k != ref]] = result.coef
    return B, ref


def _blocks(n: int, per_row: int):
    step = max(1, BLOCK_ENTRIES // max(per_row, 1))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def logit_se(result, Xt: np.ndarray):
    """(p, logit of p, se of the logit), each of shape (n, K), for the design rows Xt."""
    B, ref = contrast_matrix(result)
    q, K = B.shape
    others = [k for k in range(K) if k != ref]
    Kc = len(others)
    # V as (Kc, Kc, q, q): V[c, d] is the covariance of column c with column d
    V = result.cov.reshape(Kc, q, Kc, q).transpose(0, 2, 1, 3)
    Vflat = V.transpose(2, 0, 1, 3).reshape(q, Kc * Kc * q)
    n = len(Xt)
    P = np.empty((n, K))
    L = np.empty((n, K))
    S = np.empty((n, K))
    for rows in _blocks(n, Kc * Kc * q + K * K):
        x = Xt[rows]
        Z = x @ B
        lse = special.logsumexp(Z, axis=1, keepdims=True)
        logp = Z - lse
        # log(1 - p_k) = logsumexp of the other logits - lse
        Zk = np.where(np.eye(K, dtype=bool)[None], -np.inf, Z[:, None, :])  # (b, k, l)
        lse_k = special.logsumexp(Zk, axis=2)  # (b, K)
        Q = np.exp(Zk - lse_k[:, :, None])  # q_l without k, (b, k, l); zero at l = k
        A = -Q[:, :, others]
        A[:, others, np.arange(Kc)] = 1.0  # d l_k / d(column c) = delta_kc - q_c
        M = (x @ Vflat).reshape(len(x), Kc, Kc, q)
        M = np.einsum("icdn,in->icd", M, x)  # x' V[c, d] x
        var = np.einsum("ikc,icd,ikd->ik", A, M, A)
        P[rows] = np.exp(logp)
        L[rows] = logp - (lse_k - lse)
        S[rows] = np.sqrt(np.clip(var, 0, None))
    return P, L, S


@dataclass
class PredictionResult:
    """Predicted class probabilities with delta-method standard errors and intervals.

    Attributes
    ----------
    predicted : ndarray of shape (n_samples, n_classes), every class in ``classes`` order
    se : ndarray of shape (n_samples, n_classes), standard errors of the probabilities
    logit : ndarray of shape (n_samples, n_classes), log(p / (1 - p))
    se_logit : ndarray of shape (n_samples, n_classes), standard errors of the logits
    classes : list of the class labels
    """

    predicted: np.ndarray
    se: np.ndarray
    logit: np.ndarray
    se_logit: np.ndarray
    classes: list
    row_index: Any = None

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """Intervals formed on the logit scale: ndarray of shape (n_samples, n_classes, 2).

        ``[..., 0]`` is the lower and ``[..., 1]`` the upper bound, both strictly inside
        (0, 1) in exact arithmetic; in float64 an upper bound whose logit exceeds about 37
        rounds to 1.0 (and a lower one below about -745 to 0.0). ``logit`` and
        ``se_logit`` keep the exact logit-scale interval ``logit -/+ z se_logit``.
        """
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        z = special.ndtri(1 - alpha / 2)
        return np.stack([special.expit(self.logit - z * self.se_logit),
                         special.expit(self.logit + z * self.se_logit)], axis=-1)

    def summary_frame(self, alpha: float = 0.05):
        """pandas.DataFrame with one row per (row, class): mean, mean_se, mean_ci_lower,
        mean_ci_upper (statsmodels' names for a predicted mean)."""
        pd = pandas_module()

        ci = self.conf_int(alpha)
        rows = range(len(self.predicted)) if self.row_index is None else self.row_index
        index = pd.MultiIndex.from_product([rows, self.classes], names=["row", "class"])
        return pd.DataFrame({"mean": self.predicted.ravel(), "mean_se": self.se.ravel(),
                             "mean_ci_lower": ci[..., 0].ravel(),
                             "mean_ci_upper": ci[..., 1].ravel()}, index=index)

    def __repr__(self) -> str:
        return (f"PredictionResult(n_samples={len(self.predicted)}, "
                f"classes={list(self.classes)})")


class PredictionMixin:
    """``get_prediction`` on :class:`softreg.inference.InferenceResult`."""

    classes: Any  # provided by the result class this is mixed into

    def get_prediction(self, X) -> PredictionResult:
        """Class probabilities of new rows with their uncertainty.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The model's features (no intercept column); a DataFrame is matched by column
            name. On the scale the inference was computed on.

        Returns
        -------
        PredictionResult
            ``predicted`` and ``se`` of shape (n_samples, n_classes), ``conf_int(alpha)``
            of shape (n_samples, n_classes, 2), ``summary_frame(alpha)``.
        """
        Xt, index = design_matrix(self, X)
        P, L, S = logit_se(self, Xt)
        one_minus = special.expit(-L)  # 1 - p from the logit: exact where p rounds to 1
        return PredictionResult(predicted=P, se=P * one_minus * S, logit=L, se_logit=S,
                                classes=list(self.classes), row_index=index)
