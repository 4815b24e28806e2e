"""Dask input as aligned lists of Delayed partitions: X, y and sample weights.

Shapes: X partitions (n_i, d); labels (n_i,) or soft targets (n_i, K); weights (n_i,).
Nothing here computes more than the label scan of :func:`scan_labels`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ._compute import _compute


def is_dask_collection(*objs) -> bool:
    """True when any of ``objs`` is a Dask collection (without importing dask)."""
    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(o) for o in objs)


def _as_float_matrix(X, index: int, any_order: bool = False) -> np.ndarray:
    """A partition of X as a float32/float64 ndarray, C-contiguous (``any_order``: C- or
    F-contiguous, as the fused kernels read both: a pandas frame of one float block is
    then a view, not a copy)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"partition {index} of X has {X.ndim} dimensions, expected 2")
    if X.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"partition {index} of X is not numeric (dtype {X.dtype})")
        X = X.astype(np.float64)
    if any_order and (X.flags.c_contiguous or X.flags.f_contiguous):
        return X
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
    sources : the collections the partitions were taken from, kept alive with the data
        (the Delayed partitions of a persisted array name its keys without holding its
        futures: the data would be released with the collection)
    """

    X: list
    y: list | None
    s: list | None
    soft: bool
    n_classes_soft: int | None
    soft_columns: np.ndarray | None
    feature_names: np.ndarray | None
    n_features: int
    layout: tuple | None = None
    sources: tuple = ()

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
    sources = (X, y, sample_weight)
    if _is_frame(X) and _is_frame(y) and (sample_weight is None or _is_frame(sample_weight)):
        data = _persisted_frame_data(X, y, sample_weight, soft, K, columns)
        if data is None:
            data = _frame_data(X, y, sample_weight, soft, K, columns)
        data.sources = sources
        return data
    Xp, row_chunks, names, d = _x_partitions(X)
    yp = _aligned(y, "y", len(Xp), row_chunks, two_d_ok=True)
    sp_ = _aligned(sample_weight, "sample_weight", len(Xp), row_chunks, two_d_ok=False)
    return DaskData(Xp, yp, sp_, soft, K, columns, names, d, sources=sources)


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


def _resident_key(part):
    """The key of Delayed ``part`` when its value is already in the cluster's memory (its
    graph holds no task: only futures, aliases to them, or nothing), else None."""
    from dask._task_spec import Alias
    from distributed import Future

    graph = part.__dask_graph__()
    key = part.key
    for _ in range(100):  # a chain of aliases ends long before
        node = graph.get(key)
        if node is None:
            return key
        if isinstance(node, Future):
            return node.key
        if isinstance(node, Alias) and node.target != key:
            key = node.target
            continue
        return None
    return None


def _columns(obj):
    return list(obj.columns) if getattr(obj, "ndim", 1) == 2 else obj.name


def _projection_source(X, y, sample_weight):
    """The one dask DataFrame that X, y and sample_weight are column selections of
    (``df[cols]``, ``df.drop(columns=...)``, ``df["label"]``), or None."""
    try:
        from dask.dataframe.dask_expr import new_collection

        source = new_collection(X.expr.frame)
        for obj in (X, y, sample_weight):
            if obj is None:
                continue
            if obj.expr.simplify()._name != \
                    source[_columns(obj)].expr.simplify()._name:
                return None
    except Exception:  # another dask version, or not a selection: join the frames
        return None
    return source


def _persisted_frame_data(X, y, sample_weight, soft, K, columns) -> DaskData | None:
    """X, y and weights that are columns of one persisted dask DataFrame: its own
    partitions (already in memory, nothing joined or copied), each task picking its
    columns; None when they are not."""
    pieces = [o for o in (X, y, sample_weight) if o is not None]
    if all(o.npartitions == X.npartitions and o.known_divisions and
           tuple(o.divisions) == tuple(X.divisions) for o in pieces):
        # each persisted on its own, partitioned alike: partition i of each is the same rows
        split = [list(o.to_delayed()) for o in pieces]
        if all(_resident_key(p) is not None for parts in split for p in parts):
            _, _, names, d = _x_partitions(X)
            s_parts = split[2] if sample_weight is not None else None
            return DaskData(split[0], split[1], s_parts, soft, K, columns, names, d)
    source = _projection_source(X, y, sample_weight)
    if source is None:
        return None
    parts = list(source.to_delayed())
    if not parts or any(_resident_key(p) is None for p in parts):
        return None  # computed on every pass: the joined frame reads only the columns used
    _, _, names, d = _x_partitions(X)
    ycols = tuple(y.columns) if getattr(y, "ndim", 1) == 2 else (y.name,)
    scol = None if sample_weight is None else sample_weight.name
    return DaskData(parts, None, None, soft, K, columns, names, d,
                    layout=(tuple(X.columns), ycols, scol))


def in_memory_partitions(data: DaskData):
    """(X, y, s) of each non-empty partition in turn, computed one at a time."""
    import dask

    for Xp, yp, sp_ in data.parts():
        Xi, yi, si = dask.compute(Xp, yp, sp_)
        Xi, yi, si = _split(Xi, yi, si, data.layout)
        if len(Xi):
            yield Xi, yi, si


def _labels(X, y, s, layout) -> np.ndarray:
    return np.unique(np.asarray(_split(X, y, s, layout)[1]))


def scan_labels(data: DaskData) -> np.ndarray:
    """The sorted distinct labels of y (one scan of the partitions)."""
    from dask import delayed

    labels = delayed(_labels, pure=True)
    found = _compute([labels(*p, data.layout) for p in data.parts()],
                     what="scan of the labels")[0]
    return np.unique(np.concatenate(found))
