"""The softmax-regression objective over Dask partitions, and the estimator glue for Dask input.

Each objective evaluation is one pass over the partitions: every partition computes its
share of the loss and gradient (or of a Hessian-vector product) with the in-memory
:class:`~softreg._objective.SoftmaxObjective`, and the partial sums are added by a tree
reduction. The parameters are small and travel inside each pass's task graph (nothing is
scattered, so a lost worker only costs Dask a recomputation); the optimiser runs on the
client. One scan before the optimisation discovers the labels, the sample and class
weights' totals and validates every partition.

Shapes: X partitions (n_i, d); labels (n_i,) or soft targets (n_i, K); weights (n_i,).
The global objective is

    J = sum_i s_i CE_i / sum_i s_i + (alpha / 2) ||W||^2
      = sum_p (S_p / S) J_p(alpha=0) + (alpha / 2) ||W||^2,

with J_p the in-memory objective on partition p, S_p its weight total and S the global one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ._objective import SoftmaxObjective
from ._targets import apply_class_weights, check_soft_targets, class_weights

#: how many partial results one reduction task adds
SPLIT_EVERY = 8

#: BLAS threads per Dask worker thread (a worker's threads are its share of the cores)
BLAS_THREADS = int(os.environ.get("SOFTREG_DASK_BLAS_THREADS", "1"))


def is_dask_collection(*objs) -> bool:
    """True when any of ``objs`` is a Dask collection (without importing dask)."""
    import sys

    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(o) for o in objs)


# -- per-partition work (runs on the workers) ----------------------------------------------------
_blas_limited = False


def _limit_blas() -> None:
    """Once per worker process: at most BLAS_THREADS BLAS threads per worker thread.

    Only inside a ``distributed`` worker; with the local schedulers the client wraps the
    whole computation in a limit instead.
    """
    global _blas_limited
    if _blas_limited:
        return
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(1, BLAS_THREADS))
    _blas_limited = True
    del worker


@dataclass(frozen=True)
class _Spec:
    """What every partition task needs to know besides its data (small; in the graph)."""

    n_classes: int
    soft: bool
    classes: np.ndarray | None  # sorted labels (hard targets)
    cw: np.ndarray | None  # class weights (K,) or None
    weight_sum: float  # global sum of the (class-weighted) sample weights
    fit_intercept: bool
    dtype: np.dtype
    layout: tuple | None  # (X columns, y columns, weight column) when a partition is one frame


def _as_float_matrix(X, index: int) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"partition {index} of X has {X.ndim} dimensions, expected 2")
    if X.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"partition {index} of X is not numeric (dtype {X.dtype})")
        X = X.astype(np.float64)
    return np.ascontiguousarray(X)


def _split(X, y, s, layout):
    """(X, y, s) of one partition; with a layout, X is one frame holding all three."""
    if layout is None:
        return X, y, s
    xcols, ycols, scol = layout
    frame = X
    y = frame[ycols[0]] if len(ycols) == 1 else frame[list(ycols)]
    return frame[list(xcols)], y, (frame[scol] if scol is not None else None)


def _weights(s, n: int) -> np.ndarray:
    return np.ones(n) if s is None else np.asarray(s, dtype=np.float64).reshape(-1)


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


def _block_objective(X, y, s, spec: _Spec) -> tuple[SoftmaxObjective | None, float]:
    """The in-memory objective (alpha = 0) on one partition and its share S_p / S."""
    X, y, s = _split(X, y, s, spec.layout)
    X = _as_float_matrix(X, -1).astype(spec.dtype, copy=False)
    n = X.shape[0]
    s = _weights(s, n)
    if spec.soft:
        Y = np.asarray(y, dtype=np.float64)
        codes = None
    else:
        y = np.asarray(y)
        if y.ndim == 2:
            y = y[:, 0]
        codes = np.searchsorted(spec.classes, y)
        Y = None
    if spec.cw is not None:
        s, Yw = apply_class_weights(spec.cw, s, codes=codes, Y=Y)
        Y = Yw if Y is not None else None
    local = float(s.sum())
    if n == 0 or local <= 0:
        return None, 0.0
    objective = SoftmaxObjective(X, y=codes, Y=Y, sample_weight=s, alpha=0.0,
                                 fit_intercept=spec.fit_intercept, n_classes=spec.n_classes)
    return objective, local / spec.weight_sum


def _partial_loss_grad(X, y, s, spec: _Spec, theta: np.ndarray):
    """(S_p/S * J_p, S_p/S * grad J_p) of one partition, at alpha = 0."""
    _limit_blas()
    objective, share = _block_objective(X, y, s, spec)
    if objective is None:
        return 0.0, np.zeros_like(theta)
    loss, grad = objective.loss_grad(theta)
    return loss * share, grad * share


def _partial_hessp(X, y, s, spec: _Spec, theta: np.ndarray, v: np.ndarray):
    """S_p/S * H_p(theta) v of one partition, at alpha = 0."""
    _limit_blas()
    objective, share = _block_objective(X, y, s, spec)
    if objective is None:
        return np.zeros_like(v)
    return objective.hessp(theta, v) * share


def _add(*parts):
    """Elementwise sum of partial results (floats, arrays, or tuples of them)."""
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_add(*items) for items in zip(*parts, strict=True))
    total = first
    for p in parts[1:]:
        total = total + p
    return total


def tree_sum(parts: list, split_every: int = SPLIT_EVERY):
    """A Delayed that adds the Delayed partial results ``parts`` in a tree of fan-in
    ``split_every`` (a fixed shape, so the sum is the same whichever worker computes it)."""
    from dask import delayed

    add = delayed(_add, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i:i + split_every]) if len(parts[i:i + split_every]) > 1
                 else parts[i] for i in range(0, len(parts), split_every)]
    return parts[0]


# -- the data: aligned Delayed partitions --------------------------------------------------------
@dataclass
class DaskData:
    """X, y and sample weights as aligned lists of Delayed partitions.

    Attributes
    ----------
    X, y, s : lists of Delayed of equal length (s may be None: unit weights)
    layout : None, or (X columns, y columns, weight column or None) when each X partition
        is one frame that holds the targets and weights too (y and s are then None)
    soft : whether y holds soft targets (n, K)
    n_classes_soft : K for soft targets, else None
    soft_columns : a soft-target dataframe's column names (the classes), else None
    feature_names : a dataframe's column names, else None
    """

    X: list
    y: list
    s: list | None
    soft: bool
    n_classes_soft: int | None
    soft_columns: np.ndarray | None
    feature_names: np.ndarray | None
    n_features: int
    layout: tuple | None = None

    def parts(self):
        """(X, y, s) Delayed triples, one per partition (None where absent)."""
        none = [None] * len(self.X)
        return list(zip(self.X, self.y if self.y is not None else none,
                        self.s if self.s is not None else none, strict=True))


def _is_frame(obj) -> bool:
    return hasattr(obj, "divisions") and hasattr(obj, "to_delayed")  # dask DataFrame/Series


def _x_partitions(X):
    """(list of Delayed, row chunks or None, feature names or None, n_features)."""
    import dask.array as da

    if _is_frame(X):
        if getattr(X, "ndim", 2) != 2:
            raise ValueError("X must be 2-D: a dask DataFrame or a 2-D dask array, "
                             "not a Series")
        bad = [c for c, t in X.dtypes.items()
               if not (np.issubdtype(np.dtype(t), np.number) or np.dtype(t) == bool)]
        if bad:
            raise ValueError(f"X has non-numeric columns {bad[:5]}: encode them first")
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        names = names if all(isinstance(c, str) for c in X.columns) else None
        return list(X.to_delayed()), None, names, len(X.columns)
    if not isinstance(X, da.Array):
        raise TypeError(f"X is a Dask collection of type {type(X).__name__}; expected a dask "
                        "array or dask DataFrame")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a dask array of shape {X.shape}")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return list(X.to_delayed()[:, 0]), X.chunks[0], None, X.shape[1]


def _aligned(obj, name: str, n_parts: int, row_chunks, two_d_ok: bool):
    """Delayed partitions of y or sample_weight aligned with X's partitions."""
    import dask.array as da

    if obj is None:
        return None
    if _is_frame(obj):
        if obj.npartitions != n_parts:
            raise ValueError(f"{name} has {obj.npartitions} partitions but X has {n_parts}: "
                             "partition them alike (e.g. take both from one dataframe)")
        return list(obj.to_delayed())
    if not is_dask_collection(obj):
        if row_chunks is None or any(np.isnan(c) for c in row_chunks):
            raise ValueError(f"{name} is in memory but X is a dask collection with unknown "
                             f"partition sizes: pass {name} as a dask collection partitioned "
                             "like X (e.g. a column of the same dask DataFrame)")
        obj = np.asarray(obj)
        if obj.shape[0] != sum(row_chunks):
            raise ValueError(f"{name} has {obj.shape[0]} rows, X has {sum(row_chunks)}")
        obj = da.from_array(obj, chunks=(row_chunks,) + obj.shape[1:])
    if not isinstance(obj, da.Array):
        raise TypeError(f"{name} is a Dask collection of type {type(obj).__name__}")
    if obj.ndim == 2 and two_d_ok:
        if row_chunks is not None and obj.chunks[0] != tuple(row_chunks):
            obj = obj.rechunk({0: row_chunks, 1: -1})
        elif obj.numblocks[1] > 1:
            obj = obj.rechunk({1: -1})
        parts = list(obj.to_delayed()[:, 0])
    elif obj.ndim == 1:
        if row_chunks is not None and obj.chunks[0] != tuple(row_chunks) \
                and not any(np.isnan(obj.chunks[0])):
            obj = obj.rechunk({0: row_chunks})
        parts = list(obj.to_delayed())
    else:
        raise ValueError(f"{name} must be 1-D{' or 2-D' if two_d_ok else ''}, got shape "
                         f"{obj.shape}")
    if len(parts) != n_parts:
        raise ValueError(f"{name} has {len(parts)} partitions but X has {n_parts}: "
                         "partition them alike")
    return parts


def as_dask_data(X, y, sample_weight=None) -> DaskData:
    """Split (X, y, sample_weight) into aligned Delayed partitions (nothing is computed)."""
    if not is_dask_collection(X):
        raise TypeError("X must be a dask array or dask DataFrame when y or sample_weight "
                        "is a Dask collection")
    if y is None:
        raise ValueError("SoftmaxRegression requires y to be passed, but the target y is None")
    soft = getattr(y, "ndim", np.ndim(y)) == 2 and (
        len(y.columns) > 1 if _is_frame(y) else y.shape[1] > 1)
    K = columns = None
    if soft:
        K = len(y.columns) if hasattr(y, "columns") else int(y.shape[1])
        columns = np.asarray(y.columns) if hasattr(y, "columns") else None
    if _is_frame(X) and _is_frame(y) and (sample_weight is None or _is_frame(sample_weight)):
        return _frame_data(X, y, sample_weight, soft, K, columns)
    Xp, row_chunks, names, d = _x_partitions(X)
    yp = _aligned(y, "y", len(Xp), row_chunks, two_d_ok=True)
    sp_ = _aligned(sample_weight, "sample_weight", len(Xp), row_chunks, two_d_ok=False)
    return DaskData(Xp, yp, sp_, soft, K, columns, names, d)


def _frame_data(X, y, sample_weight, soft, K, columns) -> DaskData:
    """X, y and weights from dask dataframes as one frame per partition.

    Joining them first lets Dask align the partitions (the column projections of one
    Parquet data set may be partitioned differently) and gives each task one input.
    """
    _, _, names, d = _x_partitions(X)
    if getattr(y, "ndim", 1) == 1:
        ycols = ["__softreg_y0"]
        extra = {ycols[0]: y}
    else:
        ycols = [f"__softreg_y{i}" for i in range(len(y.columns))]
        extra = dict(zip(ycols, [y[c] for c in y.columns], strict=True))
    scol = None
    if sample_weight is not None:
        scol = "__softreg_sample_weight"
        extra[scol] = sample_weight
    xcols = list(X.columns)
    try:
        combined = X.assign(**extra)
    except Exception as e:
        raise ValueError(f"cannot align the partitions of y or sample_weight with X ({e}): "
                         "take them from one dask dataframe, or give them the same "
                         "partitions") from e
    parts = list(combined.to_delayed())
    return DaskData(parts, None, None, soft, K, columns, names, d,
                    layout=(tuple(xcols), tuple(ycols), scol))


# -- the objective ------------------------------------------------------------------------------
def _compute(*collections, what: str):
    """dask.compute with the BLAS limited in-process (local schedulers) and errors that say
    which step failed."""
    import dask

    try:
        from distributed import default_client

        default_client()
        local = False
    except (ImportError, ValueError):
        local = True
    try:
        if local:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=max(1, BLAS_THREADS)):
                return dask.compute(*collections)
        return dask.compute(*collections)
    except Exception as e:
        if type(e).__name__ == "KilledWorker":
            raise RuntimeError(
                f"softreg: a Dask task of the {what} keeps killing the workers that run it "
                f"({e}). A partition is probably too large for a worker's memory: use smaller "
                "partitions (e.g. a smaller blocksize) or give the workers more memory"
            ) from e
        e.add_note(f"softreg: raised while computing the {what} over Dask partitions")
        raise


class DaskObjective:
    """J(W, b) over Dask partitions, with the methods the solvers use.

    Each ``loss``/``loss_grad`` is one pass over the partitions (the last result is
    cached, so a line search's accepted point costs no second pass), and each Hessian
    product is one more pass. Construction makes one scan pass (validation, labels,
    weight totals).

    Parameters
    ----------
    data : DaskData
    alpha : float
    fit_intercept : bool
    class_weight : dict, "balanced" or None
    classes : ndarray of shape (K,) or None (discovered by the scan)
    """

    def __init__(self, data: DaskData, *, alpha=0.0, fit_intercept=True, class_weight=None,
                 classes=None):
        from dask import delayed

        self.data = data
        scan = delayed(_scan, pure=True)
        summaries = _compute(
            [scan(X, y, s, data.layout, i, data.soft, data.n_classes_soft, data.n_features)
             for i, (X, y, s) in enumerate(data.parts())],
            what="scan of the data")[0]
        self.n_samples = int(sum(r["n"] for r in summaries))
        if self.n_samples == 0:
            raise ValueError("X has 0 samples: nothing to fit")
        self.n_features = data.n_features
        dtypes = {np.dtype(r["dtype"]) for r in summaries if r["n"]}
        self.dtype = np.dtype(np.float32) if dtypes == {np.dtype(np.float32)} \
            else np.dtype(np.float64)
        col_sum = sum(r["col_sum"] for r in summaries)
        col_sq = sum(r["col_sq"] for r in summaries)
        mean = col_sum / self.n_samples
        #: per-feature standard deviation, shape (d,) (for the estimator's advice)
        self.feature_std = np.sqrt(np.clip(col_sq / self.n_samples - mean ** 2, 0, None))
        if data.soft:
            K = data.n_classes_soft
            found = data.soft_columns if data.soft_columns is not None else np.arange(K)
            self.classes = found if classes is None else np.asarray(classes)
            mass = sum(r["mass"] for r in summaries)
            row_sq = sum(r["row_sq"] for r in summaries)
        else:
            self.classes, mass, row_sq = _merge_labels(summaries, classes)
            K = len(self.classes)
        if K < 2:
            raise ValueError("SoftmaxRegression needs samples of at least 2 classes in y; "
                             f"got only one class: {self.classes[0]!r}")
        if not np.any(mass > 0):
            raise ValueError("sample_weight is zero for every sample: nothing to fit")
        cw = None
        if class_weight is not None:
            cw = class_weights(class_weight, self.classes, mass)
            mass, row_sq = mass * cw, row_sq * cw
        self.weight_sum = float(mass.sum())
        if self.weight_sum <= 0:
            raise ValueError("class_weight leaves every sample with zero weight")
        self._weighted_row_sq = float(row_sq.sum())
        self.n_classes = K
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = (self.n_features + self.fit_intercept) * K
        self.n_passes = 0
        self._spec = delayed(_Spec(K, data.soft, None if data.soft else self.classes, cw,
                                   self.weight_sum, self.fit_intercept, self.dtype,
                                   data.layout),
                             pure=True)
        self._cache = None

    # -- parameter layout (as SoftmaxObjective) -------------------------------------------------
    unpack = SoftmaxObjective.unpack
    pack = SoftmaxObjective.pack
    zeros = SoftmaxObjective.zeros

    def _parts(self):
        return self.data.parts()

    def _penalty(self, theta):
        W, _ = self.unpack(theta)
        return W

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(J(theta), grad J(theta)) with the gradient of shape (n_params,): one pass."""
        from dask import delayed

        theta = np.asarray(theta, dtype=np.float64)
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1], self._cache[2].copy()
        th = delayed(theta.copy(), pure=True)
        part = delayed(_partial_loss_grad, pure=True)
        total = tree_sum([part(X, y, s, self._spec, th) for X, y, s in self._parts()])
        loss, grad = _compute(total, what=f"objective pass {self.n_passes + 1}")[0]
        self.n_passes += 1
        W = self._penalty(theta)
        loss = float(loss) + 0.5 * self.alpha * float(np.dot(W.ravel(), W.ravel()))
        grad = np.array(grad, dtype=np.float64)
        grad[: W.size] += self.alpha * W.ravel()
        self._cache = (theta.copy(), loss, grad.copy())
        return loss, grad

    def loss(self, theta: np.ndarray) -> float:
        """J(theta) (computed with its gradient in the same pass)."""
        return self.loss_grad(theta)[0]

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(theta) v, shape (n_params,): one pass."""
        from dask import delayed

        th = delayed(np.array(theta, dtype=np.float64), pure=True)
        vv = delayed(np.array(v, dtype=np.float64), pure=True)
        part = delayed(_partial_hessp, pure=True)
        total = tree_sum([part(X, y, s, self._spec, th, vv) for X, y, s in self._parts()])
        Hv = np.array(_compute(total, what=f"Hessian product (pass {self.n_passes + 1})")[0],
                      dtype=np.float64)
        self.n_passes += 1
        V, _ = self.unpack(np.asarray(v, dtype=np.float64))
        Hv[: V.size] += self.alpha * V.ravel()
        return Hv

    def loss_grad_hessp(self, theta: np.ndarray):
        """J, grad J and v -> H(theta) v (each product one pass)."""
        loss, grad = self.loss_grad(theta)
        theta = np.array(theta, dtype=np.float64, copy=True)
        return loss, grad, lambda v: self.hessp(theta, v)

    def smoothness_bound(self) -> float:
        """0.5 * (sum_i sw_i ||x_i||^2 + [intercept]) + alpha, as SoftmaxObjective."""
        return 0.5 * (self._weighted_row_sq / self.weight_sum + self.fit_intercept) + self.alpha


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


# -- estimator glue -------------------------------------------------------------------------------
def fit_dask(estimator, X, y, sample_weight=None):
    """``SoftmaxRegression.fit`` on Dask input: the same optimum as the in-memory fit.

    Parameters
    ----------
    estimator : SoftmaxRegression (parameters already validated)
    X : dask array of shape (n, d) or dask DataFrame
    y : dask array/Series of labels (n,), or dask array/DataFrame of soft targets (n, K)
        (or an in-memory array when X is a dask array with known chunks)
    sample_weight : like y, shape (n,), or None

    Returns
    -------
    estimator, fitted
    """

    data = as_dask_data(X, y, sample_weight)
    objective = DaskObjective(data, alpha=estimator.alpha, fit_intercept=estimator.fit_intercept,
                              class_weight=estimator.class_weight)
    estimator.classes_ = objective.classes
    estimator.n_features_in_ = objective.n_features
    if data.feature_names is not None:
        estimator.feature_names_in_ = data.feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    if estimator.resolved_solver(objective.n_params) == "sgd":
        raise ValueError("solver='sgd' does not run on Dask input (it needs random "
                         "minibatches); use 'lbfgs', 'newton' or 'gd', or stream the "
                         "partitions through partial_fit")
    # two rows whose column variances are the data's: the advice needs only the spread
    spread = np.vstack([objective.feature_std, -objective.feature_std]).astype(objective.dtype)
    return estimator._solve(objective, spread)


def partial_fit_dask(estimator, X, y, classes=None, sample_weight=None):
    """``partial_fit`` on Dask input: one SGD epoch over each partition in turn.

    Only one partition is in the client's memory at a time. Without ``classes`` on the
    first call, one scan of y discovers them.
    """
    import dask
    from dask import delayed

    data = as_dask_data(X, y, sample_weight)
    if classes is None and not hasattr(estimator, "classes_") and not data.soft:
        labels = delayed(_labels, pure=True)
        found = _compute([labels(*p, data.layout) for p in data.parts()],
                         what="scan of the labels")[0]
        classes = np.unique(np.concatenate(found))
    for Xp, yp, sp_ in data.parts():
        Xi, yi, si = _split(*dask.compute(Xp, yp, sp_), data.layout)
        if len(Xi) == 0:
            continue
        estimator.partial_fit(Xi, yi, classes=classes, sample_weight=si)
    return estimator


def _labels(X, y, s, layout) -> np.ndarray:
    return np.unique(np.asarray(_split(X, y, s, layout)[1]))


def _predict_block(block, estimator, method: str, names):
    if names is not None:
        import pandas as pd

        block = pd.DataFrame(block, columns=list(names))
    return getattr(estimator, method)(block)


def predict_dask(estimator, X, method: str):
    """``estimator.<method>(X)`` for Dask X, as a lazy dask array (one task per partition).

    Returns
    -------
    dask array of shape (n,) for predict (and decision_function with two classes), else
    (n, n_classes)
    """
    import dask.array as da
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    names = None
    if _is_frame(X):
        names = [str(c) for c in X.columns]
        X = X.to_dask_array()
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array or dask DataFrame, got {type(X).__name__}")
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    K = len(estimator.classes_)
    one_d = method == "predict" or (method == "decision_function" and K == 2)
    if method == "predict":
        dtype = estimator.classes_.dtype
    else:
        dtype = estimator.coef_.dtype
    kwargs = dict(estimator=estimator, method=method, names=names, dtype=dtype, meta=np.empty(
        (0,) if one_d else (0, 0), dtype=dtype))
    if one_d:
        return X.map_blocks(_predict_block, drop_axis=1, **kwargs)
    return X.map_blocks(_predict_block, chunks=(X.chunks[0], (K,)), **kwargs)


# -- out-of-core training from files --------------------------------------------------------------
def read_table(paths, *, blocksize="64MB"):
    """A lazy dask DataFrame over Parquet or CSV files.

    Parameters
    ----------
    paths : str or list of str
        A folder (all its ``*.parquet``/``*.pq`` or ``*.csv`` files), a glob pattern, one
        file, or a list of files; local paths or any fsspec URL (``s3://...``) the workers
        can read.
    blocksize : str or int
        Target partition size for CSV (Parquet keeps its files' row groups).
    """
    import glob as globlib

    import dask.dataframe as dd

    if isinstance(paths, str | os.PathLike):
        paths = os.fspath(paths)
        if os.path.isdir(paths):
            found = sorted(p for p in globlib.glob(os.path.join(paths, "*"))
                           if p.lower().endswith((".parquet", ".pq", ".csv")))
            if not found:
                raise FileNotFoundError(f"no .parquet, .pq or .csv files in folder {paths!r}")
            paths = found
        elif "://" not in paths:
            found = sorted(globlib.glob(paths))
            if not found:
                raise FileNotFoundError(f"no files match {paths!r}")
            paths = found
        else:
            paths = [paths]
    paths = [os.fspath(p) for p in paths]
    kinds = {"csv" if p.lower().endswith(".csv") else "parquet" for p in paths}
    if len(kinds) > 1:
        raise ValueError("mixing CSV and Parquet files in one data set is not supported")
    if kinds == {"csv"}:
        return dd.read_csv(paths, blocksize=blocksize)
    return dd.read_parquet(paths)


def fit_files(paths, target: str, *, features=None, sample_weight: str | None = None,
              scheduler=None, n_workers: int | None = None, memory_limit="auto",
              blocksize="64MB", **params):
    """Fit a SoftmaxRegression out of core on Parquet/CSV files, on a Dask cluster.

    No process ever holds the whole data set: every pass re-reads the files partition by
    partition on the workers.

    Parameters
    ----------
    paths : str or list of str
        Folder, glob, file or list of files (see :func:`read_table`).
    target : str
        The label column (or, for soft targets, pass several names as a list).
    features : list of str or None
        Feature columns; default: every column but the target and weight columns.
    sample_weight : str or None
        Name of a sample-weight column.
    scheduler : None, str or distributed.Client
        None: start a ``LocalCluster`` sized to this machine (one single-threaded worker
        process per core) and close it afterwards; an address such as
        ``"tcp://10.0.0.5:8786"``: use that running cluster; a Client: use it;
        ``"threads"`` or ``"sync"``: Dask's in-process schedulers (no cluster).
    n_workers, memory_limit : for the LocalCluster started when ``scheduler`` is None
    blocksize : CSV partition size
    **params : SoftmaxRegression parameters (e.g. alpha, solver, max_iter, callback)

    Returns
    -------
    SoftmaxRegression, fitted (its arrays are in memory; nothing refers to the cluster)
    """
    import contextlib

    import dask

    from .estimator import SoftmaxRegression

    estimator = SoftmaxRegression(**params)
    df = read_table(paths, blocksize=blocksize)
    targets = [target] if isinstance(target, str) else list(target)
    missing = [c for c in targets + ([sample_weight] if sample_weight else [])
               if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data; it has {list(df.columns)}")
    if features is None:
        features = [c for c in df.columns if c not in targets and c != sample_weight]
    y = df[targets[0]] if len(targets) == 1 else df[targets]
    s = df[sample_weight] if sample_weight else None
    with contextlib.ExitStack() as stack:
        if scheduler in ("threads", "sync", "synchronous", "processes"):
            stack.enter_context(dask.config.set(scheduler=scheduler))
        elif scheduler is None:
            from distributed import Client, LocalCluster

            cluster = stack.enter_context(LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
                processes=True, memory_limit=memory_limit, dashboard_address=":0"))
            stack.enter_context(Client(cluster))
        elif isinstance(scheduler, str):
            from distributed import Client

            stack.enter_context(Client(scheduler))
        else:
            stack.enter_context(scheduler.as_current())
        estimator.fit(df[features], y, sample_weight=s)
    return estimator
