"""Targets and weights at the boundary: labels, soft targets, sample and class weights."""

from __future__ import annotations

import numpy as np
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight


def is_soft_target(y) -> bool:
    """True for a 2-D target with more than one column (a matrix of class probabilities)."""
    shape = getattr(y, "shape", None)
    if shape is None:
        shape = np.asarray(y).shape
    return len(shape) == 2 and shape[1] > 1


def encode_labels(y, classes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(classes, codes): sorted distinct labels of shape (K,) and int codes of shape (n,).

    With ``classes`` given, labels outside it raise a ValueError naming them. Bool and
    integer labels over a small range are counted in one pass (:func:`_integer_codes`,
    the same result as ``np.unique(y, return_inverse=True)`` without its sort); such
    labels are always "binary" or "multiclass" for scikit-learn's target check, which
    then need not scan y again.
    """
    if not (type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "biuf"):
        y = column_or_1d(y, warn=True)  # (a 1-D numeric array it would return as it is)
    integer = y.dtype.kind in "biu"
    if y.dtype.kind == "f":
        assert_all_finite(y, input_name="y")
    if not integer:
        check_classification_targets(y)
    if classes is None:
        found = _integer_codes(y) if integer else None
        if found is not None:
            return found
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.reshape(-1)
    codes = np.searchsorted(classes, y)
    codes = np.clip(codes, 0, len(classes) - 1)
    unknown = classes[codes] != y
    if np.any(unknown):
        raise ValueError(f"y contains labels not in classes {list(classes)}: "
                         f"{sorted(set(np.asarray(y)[unknown].tolist()))[:5]}")
    return classes, codes


#: integer labels spanning up to max(this, 2 n) values are counted, not sorted
COUNT_SPAN_MIN = 1 << 16


def _integer_codes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(y, return_inverse=True)`` for 1-D bool or integer y by counting.

    One bincount over y - min(y) marks the labels present; their running count is each
    label's code. None (sort instead) when y is empty, its values do not fit a signed
    pointer-size integer, or they span more than max(2 n, :data:`COUNT_SPAN_MIN`)
    values (the counts would outgrow y).

    Returns
    -------
    classes : ndarray of shape (K,), y's dtype
    codes : ndarray of shape (n,), intp
    """
    if y.size == 0:
        return None
    lo, hi = int(y.min()), int(y.max())
    limit = np.iinfo(np.intp)
    if lo < limit.min or hi > limit.max or hi - lo + 1 > max(2 * y.size, COUNT_SPAN_MIN):
        return None
    shifted = y.astype(np.intp, copy=False)
    if lo != 0:
        shifted = shifted - lo  # in intp: no wrap-around of narrow types
    present = np.bincount(shifted, minlength=hi - lo + 1) > 0
    classes = (np.flatnonzero(present) + lo).astype(y.dtype)
    rank = np.cumsum(present, dtype=np.intp) - 1
    return classes, rank[shifted]


def check_soft_targets(Y, n_classes: int | None = None, dtype=np.float64
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(classes, Y) for a soft-target matrix Y of shape (n, K).

    Rows must be finite, non-negative and sum to 1 (to 1e-6, or 1e-4 for float32).
    ``classes`` are a DataFrame's column names, else 0..K-1.
    """
    columns = getattr(Y, "columns", None)
    Y = np.asarray(Y)
    if not np.issubdtype(Y.dtype, np.number) or Y.dtype == bool:
        raise ValueError(f"soft targets must be numeric class probabilities, got dtype {Y.dtype}")
    Y = Y.astype(dtype, copy=False)
    if n_classes is not None and Y.shape[1] != n_classes:
        raise ValueError(f"soft targets have {Y.shape[1]} columns, expected {n_classes} classes")
    if not np.all(np.isfinite(Y)):
        raise ValueError("soft targets contain NaN or infinity")
    negative = np.flatnonzero((Y < 0).any(axis=1))
    if negative.size:
        raise ValueError(f"soft targets must be non-negative; row {negative[0]} has "
                         f"{Y[negative[0]].min():g} ({negative.size} rows are negative)")
    atol = 1e-4 if Y.dtype == np.float32 else 1e-6
    sums = Y.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > atol)
    if off.size:
        raise ValueError(f"soft-target rows must sum to 1; row {off[0]} sums to "
                         f"{sums[off[0]]:.6g} ({off.size} rows do not). Pass counts as "
                         "proportions with the row totals as sample_weight")
    classes = np.asarray(columns) if columns is not None else np.arange(Y.shape[1])
    return classes, Y


def check_weights(sample_weight, X, n_samples: int, *, normalize: bool = False) -> np.ndarray:
    """Sample weights of shape (n,), float64: finite, non-negative, not all zero.

    With ``normalize``, they are divided by their largest value (so they lie in [0, 1]).
    The fit's objective divides by the weights' sum, so this changes no fit; it keeps the
    sum finite and normal (weights of 1e307 on 50 rows sum to infinity, weights of 1e-320
    to a subnormal number), where a raw sum would silently zero every weight. Frequency
    weights whose scale matters (standard errors) must not be normalised.
    """
    if sample_weight is None:  # ones: nothing to check or normalise
        return np.ones(n_samples)
    s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if s.shape[0] != n_samples:
        raise ValueError(f"sample_weight has {s.shape[0]} entries for {n_samples} samples")
    if not np.any(s > 0):
        raise ValueError("sample_weight is zero for every sample: nothing to fit")
    if normalize:
        s = s / s.max()
    return s


def class_weights(class_weight, classes: np.ndarray, class_mass: np.ndarray) -> np.ndarray:
    """Weight per class, shape (K,).

    ``class_mass`` (K,) is the sample-weighted amount of each class; "balanced" gives
    class k the weight sum(mass) / (K * mass_k), as scikit-learn does with sample weights.
    """
    K = len(classes)
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str):  # "balanced" (the only string the constraints allow)
        if np.any(class_mass <= 0):
            raise ValueError("class_weight='balanced' needs every class present with weight")
        return class_mass.sum() / (K * class_mass)
    weights = np.ones(K)
    known = {c: i for i, c in enumerate(classes.tolist())}
    for label, w in class_weight.items():
        if label not in known:
            raise ValueError(f"class_weight names class {label!r}, which is not in "
                             f"classes {classes.tolist()}")
        if not (np.isfinite(w) and w >= 0):
            raise ValueError(f"class_weight for class {label!r} must be finite and >= 0, got {w}")
        weights[known[label]] = w
    return weights


def apply_class_weights(cw: np.ndarray, s: np.ndarray, codes=None, Y=None):
    """Fold class weights into (sample weights, soft targets).

    Labels: s_i * cw[y_i]. Soft targets: the fit equals the one on K weighted copies of each
    row, so s_i -> s_i * (Y_i . cw) and Y_i -> Y_i * cw / (Y_i . cw).
    """
    if codes is not None:
        return s * cw[codes], None
    mass = Y @ cw
    Yw = np.divide(Y * cw, mass[:, None], out=np.array(Y, dtype=float), where=mass[:, None] > 0)
    return s * mass, Yw.astype(Y.dtype, copy=False)
