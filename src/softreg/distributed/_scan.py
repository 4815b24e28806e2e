"""The one scan before a Dask fit: validate every partition and total its weights.

Each partition reports its size, dtype, column sums and sums of squares (for the
feature-scale advice) and, per label (hard targets) or class (soft), its weighted mass
and weighted squared row norms; :func:`summarise` merges them on the client.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._targets import check_soft_targets, class_weights
from ._compute import _compute, _limit_blas
from ._data import DaskData, _as_float_matrix, _split, _weights


def _scan(X, y, s, layout, index: int, soft: bool, n_classes: int | None,
          n_features: int | None):
    """Validate partition ``index`` and summarise it for the client.

    Returns a dict with n, d, dtype, column sums and sums of squares (for the feature-scale
    advice), and per label (hard) or per class (soft) the weighted mass sum s and the
    weighted squared row norms sum s ||x||^2.
    """
    _limit_blas()
    X, y, s = _split(X, y, s, layout)
    X = _as_float_matrix(X, index)
    n, d = X.shape
    if n_features is not None and d != n_features:
        raise ValueError(f"partition {index} of X has {d} columns, expected {n_features}")
    if not np.all(np.isfinite(X)):
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise ValueError(f"partition {index} of X contains NaN or infinity "
                         f"(first in its row {bad})")
    s = _weights(s, n)
    if s.shape[0] != n:
        raise ValueError(f"partition {index} of sample_weight has {s.shape[0]} entries for "
                         f"{n} rows of X: partition X and sample_weight alike")
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"partition {index} of sample_weight has negative or non-finite "
                         "values")
    if np.shape(y)[0] != n:
        raise ValueError(f"partition {index} of y has {np.shape(y)[0]} rows for {n} rows of X: "
                         "partition X and y alike (e.g. take both from one dataframe)")
    row_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    out = {"n": n, "d": d, "dtype": X.dtype,
           "col_sum": X.sum(axis=0, dtype=np.float64),
           "col_sq": np.einsum("ij,ij->j", X, X, dtype=np.float64)}
    if soft:
        try:
            _, Y = check_soft_targets(y, n_classes, dtype=np.float64)
        except ValueError as e:
            raise ValueError(f"partition {index}: {e}") from None
        out["mass"] = s @ Y
        out["row_sq"] = (s * row_sq) @ Y
    else:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"partition {index} of y has shape {y.shape}; expected labels of "
                             "shape (n,) or soft targets (n, K)")
        labels, inverse = np.unique(y, return_inverse=True)
        out["labels"] = labels
        out["mass"] = np.bincount(inverse.reshape(-1), weights=s, minlength=len(labels))
        out["row_sq"] = np.bincount(inverse.reshape(-1), weights=s * row_sq,
                                    minlength=len(labels))
    return out



@dataclass
class Summary:
    """What the scan found, merged over the partitions."""

    n_samples: int
    dtype: np.dtype
    feature_std: np.ndarray  # (d,)
    classes: np.ndarray  # (K,)
    class_weight: np.ndarray | None  # (K,) factors or None
    weight_sum: float  # sum of the (class-weighted) sample weights
    weighted_row_sq: float  # sum_i s_i ||x_i||^2
    part_rows: tuple[int, ...]  # rows per partition, in order


def summarise(data: DaskData, class_weight=None, classes=None) -> Summary:
    """Scan every partition once (validation, labels, weight totals) and merge."""
    from dask import delayed

    scan = delayed(_scan, pure=True)
    summaries = _compute(
        [scan(X, y, s, data.layout, i, data.soft, data.n_classes_soft, data.n_features)
         for i, (X, y, s) in enumerate(data.parts())],
        what="scan of the data")[0]
    n = int(sum(r["n"] for r in summaries))
    if n == 0:
        raise ValueError("X has 0 samples: nothing to fit")
    dtypes = {np.dtype(r["dtype"]) for r in summaries if r["n"]}
    dtype = np.dtype(np.float32) if dtypes == {np.dtype(np.float32)} else np.dtype(np.float64)
    mean = sum(r["col_sum"] for r in summaries) / n
    col_sq = sum(r["col_sq"] for r in summaries)
    feature_std = np.sqrt(np.clip(col_sq / n - mean ** 2, 0, None))
    if data.soft:
        K = int(data.n_classes_soft or 0)
        found = data.soft_columns if data.soft_columns is not None else np.arange(K)
        classes = found if classes is None else np.asarray(classes)
        mass = sum(r["mass"] for r in summaries)
        row_sq = sum(r["row_sq"] for r in summaries)
    else:
        classes, mass, row_sq = _merge_labels(summaries, classes)
    if len(classes) < 2:
        raise ValueError("SoftmaxRegression needs samples of at least 2 classes in y; "
                         f"got only one class: {classes[0]!r}")
    if not np.any(mass > 0):
        raise ValueError("sample_weight is zero for every sample: nothing to fit")
    cw = None
    if class_weight is not None:
        cw = class_weights(class_weight, classes, mass)
        mass, row_sq = mass * cw, row_sq * cw
    weight_sum = float(mass.sum())
    if weight_sum <= 0:
        raise ValueError("class_weight leaves every sample with zero weight")
    return Summary(n, dtype, feature_std, classes, cw, weight_sum, float(row_sq.sum()),
                   tuple(int(r["n"]) for r in summaries))


def _merge_labels(summaries, classes):
    """(classes, mass per class, weighted row norms per class) from the partitions' scans."""
    from sklearn.utils.multiclass import check_classification_targets

    found = [r["labels"] for r in summaries if r["n"]]
    labels, inverse = np.unique(np.concatenate(found), return_inverse=True)
    check_classification_targets(labels)
    inverse = inverse.reshape(-1)
    mass = np.bincount(inverse, weights=np.concatenate([r["mass"] for r in summaries if r["n"]]),
                       minlength=len(labels))
    row_sq = np.bincount(inverse, minlength=len(labels),
                         weights=np.concatenate([r["row_sq"] for r in summaries if r["n"]]))
    if classes is None:
        return labels, mass, row_sq
    classes = np.asarray(classes)
    pos = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    unknown = classes[pos] != labels
    if np.any(unknown):
        raise ValueError(f"y contains labels not in classes {classes.tolist()}: "
                         f"{labels[unknown][:5].tolist()}")
    full_mass, full_sq = np.zeros(len(classes)), np.zeros(len(classes))
    np.add.at(full_mass, pos, mass)
    np.add.at(full_sq, pos, row_sq)
    return classes, full_mass, full_sq

