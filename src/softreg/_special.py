"""The one softmax step the objective needs privately: softmax and logsumexp in one pass.

Public softmax, log_softmax and logsumexp are :mod:`scipy.special`'s. Nothing here
exponentiates a raw logit: every ``exp`` sees ``Z - max(Z)`` <= 0, so nothing overflows.
Works row-wise on arrays of shape (n_samples, n_classes).
"""

from __future__ import annotations

import numpy as np


def _row_max(Z: np.ndarray) -> np.ndarray:
    """Row maxima of shape (n, 1); a row of all -inf gets 0 so that Z - m stays -inf."""
    m = Z.max(axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0
    return m


def softmax_and_logsumexp(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Overwrite Z (n, K) with softmax(Z) and return it with logsumexp(Z) (n,) in one pass."""
    m = _row_max(Z)
    Z -= m
    np.exp(Z, out=Z)
    total = Z.sum(axis=1, keepdims=True)
    Z /= total
    return Z, (np.log(total) + m)[:, 0]
