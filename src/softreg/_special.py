"""Numerically stable softmax, log-softmax and logsumexp (max-shifted).

No function here exponentiates a raw logit: every ``exp`` sees ``Z - max(Z)``,
which is <= 0, so nothing overflows. All functions work row-wise on arrays of
shape (n_samples, n_classes) and keep the input dtype.
"""

from __future__ import annotations

import numpy as np


def _row_max(Z: np.ndarray) -> np.ndarray:
    """Row maxima of shape (n, 1); a row of all -inf gets 0 so that Z - m stays -inf."""
    m = Z.max(axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0
    return m


def logsumexp(Z: np.ndarray) -> np.ndarray:
    """log(sum(exp(Z), axis=1)) row-wise, computed as m + log(sum(exp(Z - m))).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Logits; rows may hold -inf (a row of all -inf gives -inf).

    Returns
    -------
    ndarray of shape (n_samples,)
        In Z's floating dtype. Finite for any finite Z: nothing overflows.

    Examples
    --------
    >>> import numpy as np
    >>> from softreg import logsumexp
    >>> logsumexp(np.array([[1000.0, 1000.0]]))  # 1000 + log 2, where exp(1000) = inf
    array([1000.69314718])
    """
    Z = np.asarray(Z)
    m = _row_max(Z)
    E = np.exp(Z - m)
    return np.log(E.sum(axis=1)) + m[:, 0]


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Z - logsumexp(Z) row-wise: the log of the softmax, without forming the softmax.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Logits.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Log-probabilities in Z's dtype; rows of exp(result) sum to 1. A very unlikely
        class gets a large negative number, never -inf from an underflowed probability.
    """
    Z = np.asarray(Z)
    shifted = Z - _row_max(Z)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax(Z: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """exp(Z - m) / sum(exp(Z - m)) row-wise, with m the row maximum (max-shifted).

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Logits.
    out : ndarray of shape (n_samples, n_classes), optional
        Where to write the result; ``out=Z`` computes in place (no extra n x K buffer).

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Probabilities: every row is non-negative and sums to 1, for any finite Z.

    Examples
    --------
    >>> import numpy as np
    >>> from softreg import softmax
    >>> softmax(np.array([[1000.0, 0.0, -1000.0]]))  # naive exp(Z) / sum gives nan
    array([[1., 0., 0.]])
    """
    Z = np.asarray(Z)
    m = _row_max(Z)
    P = np.subtract(Z, m, out=out)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)
    return P


def softmax_and_logsumexp(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite Z (n, K) with softmax(Z) and return it with logsumexp(Z) (n,) in one pass."""
    m = _row_max(Z)
    Z -= m
    np.exp(Z, out=Z)
    total = Z.sum(axis=1, keepdims=True)
    Z /= total
    return Z, (np.log(total) + m)[:, 0]
