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
    """log(sum(exp(Z), axis=1)) of shape (n,), computed as m + log(sum(exp(Z - m)))."""
    Z = np.asarray(Z)
    m = _row_max(Z)
    E = np.exp(Z - m)
    return np.log(E.sum(axis=1)) + m[:, 0]


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Z - logsumexp(Z) row-wise, of the same shape (n, K) and dtype as Z."""
    Z = np.asarray(Z)
    shifted = Z - _row_max(Z)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax(Z: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """exp(Z - m) / sum(exp(Z - m)) row-wise, shape (n, K).

    ``out=Z`` computes in place (no extra n x K buffer).
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
