"""What a Dask worker runs for one pass: a partition's (or a group's) share of the datafit.

Shapes: a partition's X (n_p, d), labels (n_p,) or soft targets (n_p, K), weights (n_p,);
theta and directions (n_params,). With J_p the datafit of partition p, S_p its weight total
and S the global one, a partition contributes (S_p / S) J_p (and so for the gradient,
Hessian products, the Hessian and the feature moments); a group of partitions contributes
the sum of its members' shares, added in partition order.

Each partition's datafit is the in-memory :class:`~softreg._objective.SoftmaxObjective`, so
it runs the fused kernels (single-threaded: a worker thread is one core's share; the
kernels run serially off the main thread by themselves). A group's ``loss_grad`` (the
solvers' every pass) skips the objectives: one :func:`softreg._kernels.fused_passes` over
its partitions with each partition's weights divided by S directly (s_i / S, the
in-memory objective's own normalisation), the kernels' set-up made once per group.
Measured (n = 400 000, d = 50, K = 5, 8 partitions, one thread): building 8 objectives
and calling each cost 1.5-2.5 ms a pass more than one kernel call over all rows; now
0.8-0.9 ms more (the kernels' streams starting 8 times, not Python).

Worker-resident state: the label codes and weights (and those weights divided by S) of
the partitions seen are kept per worker process (see :func:`_targets_of`), so later
passes over persisted partitions skip their validation; X is never held by the cache.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from .. import _kernels
from .._objective import SoftmaxObjective
from .._targets import apply_class_weights
from ._compute import _add, _limit_blas
from ._data import _as_float_matrix, _split, _weights


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

    def key(self) -> tuple:
        """A hashable summary (equal specs give equal keys)."""
        arrays = tuple(None if a is None else (np.asarray(a).dtype.str, np.asarray(a).tobytes())
                       for a in (self.classes, self.cw))
        return (self.n_classes, self.soft, arrays, self.weight_sum, self.fit_intercept,
                np.dtype(self.dtype).str, self.layout)


def _matrix_and_targets(X, y, s, spec: _Spec, targets=None):
    """(X as a float matrix, targets): targets = (codes, Y, weights, local weight sum,
    weights / global weight sum), codes (n_p,) intp or None, Y (n_p, K) C-ordered float64
    or None.

    ``targets``: those of this partition from an earlier pass (the matrix is still
    converted: it is never kept between passes).
    """
    X, y, s = _split(X, y, s, spec.layout)
    X = _as_float_matrix(X, -1, any_order=True).astype(spec.dtype, copy=False)
    if targets is not None:
        return X, targets
    n = X.shape[0]
    s = _weights(s, n)
    if spec.soft:
        Y = np.asarray(y, dtype=np.float64)
        codes = None
    else:
        y = np.asarray(y)
        if y.ndim == 2:
            y = y[:, 0]
        codes = np.searchsorted(np.asarray(spec.classes), y)
        Y = None
    if spec.cw is not None:
        s, Yw = apply_class_weights(spec.cw, s, codes=codes, Y=Y)
        Y = Yw if Y is not None else None
    if Y is not None:
        Y = np.ascontiguousarray(Y, dtype=np.float64)
    return X, (codes, Y, s, float(s.sum()), s / spec.weight_sum)


def _block(X, y, s, spec: _Spec, targets=None) -> tuple[SoftmaxObjective | None, float]:
    """The in-memory datafit on one partition and its share S_p / S (None when empty)."""
    X, (codes, Y, s, local, _) = _matrix_and_targets(X, y, s, spec, targets)
    if X.shape[0] == 0 or local <= 0:
        return None, 0.0
    # the fused kernel however small the partition ("auto" keeps NumPy for a small X, but
    # a partition is a slice of a large one: its fixed costs add up over the partitions)
    objective = SoftmaxObjective(X, y=codes, Y=Y, sample_weight=s, weight_sum=local,
                                 fit_intercept=spec.fit_intercept, n_classes=spec.n_classes,
                                 kernel="fast" if _kernels.supports(X) else "auto")
    return objective, local / spec.weight_sum


# -- the worker-resident targets -------------------------------------------------------------------
#: per worker process: id(X) -> (weak reference to X, [(spec key, y, s, targets), ...]), the
#: label codes and weights of partitions seen, newest first, reused on later passes over the
#: same (persisted) partition objects: validating them costs a few times a kernel pass. An
#: entry is dropped when its X dies (weakref callback), so X is never held; y and s are held
#: only as long as their X lives. At most MAX_SPECS target sets per X (one per objective
#: that used it recently); y or s objects that changed replace their entry.
_TARGETS: dict[int, tuple] = {}
_TARGETS_LOCK = threading.RLock()
MAX_SPECS = 4
CACHE_TARGETS = True  # False: validate every partition on every pass (for comparisons)
#: False: a group's loss_grad builds each partition's objective (for comparisons and tests)
FAST_GROUPS = True


def _forget(ident: int, ref) -> None:
    """Drop the entry of a partition whose X died (a weakref callback)."""
    with _TARGETS_LOCK:
        slot = _TARGETS.get(ident)
        if slot is not None and slot[0] is ref:
            del _TARGETS[ident]


def _targets_of(X, y, s, spec: _Spec, spec_key: tuple):
    """Partition (X, y, s)'s targets from the cache, or None (then computed and stored)."""
    if not CACHE_TARGETS:
        return None
    with _TARGETS_LOCK:
        slot = _TARGETS.get(id(X))
        if slot is None or slot[0]() is not X:
            return None
        for entry in slot[1]:
            if entry[0] == spec_key and entry[1] is y and entry[2] is s:
                return entry[3]
    return None


def _remember(X, y, s, spec_key: tuple, targets) -> None:
    ident = id(X)
    with _TARGETS_LOCK:
        slot = _TARGETS.get(ident)
        if slot is None or slot[0]() is not X:
            try:
                ref = weakref.ref(X, functools.partial(_forget, ident))
            except TypeError:  # not weak-referenceable: no cache
                return
            slot = (ref, [])
            _TARGETS[ident] = slot
        entries = [e for e in slot[1] if e[0] != spec_key][: MAX_SPECS - 1]
        slot[1][:] = [(spec_key, y, s, targets)] + entries


def _cached_block(X, y, s, spec: _Spec, spec_key: tuple | None = None):
    """:func:`_block`, with the targets of a partition seen before taken from the cache."""
    spec_key = spec.key() if spec_key is None else spec_key
    targets = _targets_of(X, y, s, spec, spec_key)
    if targets is None:
        _, targets = _matrix_and_targets(X, y, s, spec)
        if CACHE_TARGETS:
            _remember(X, y, s, spec_key, targets)
    return _block(X, y, s, spec, targets)


# -- tasks -----------------------------------------------------------------------------------------
def _scaled(value, share: float):
    if isinstance(value, tuple):
        return tuple(_scaled(v, share) for v in value)
    return value * share


def _partial(X, y, s, spec: _Spec, method: str, *args, spec_key: tuple | None = None):
    """S_p / S times ``method(*args)`` of partition p's datafit (None when it is empty)."""
    _limit_blas()
    objective, share = _cached_block(X, y, s, spec, spec_key)
    if objective is None:
        return None
    return _scaled(getattr(objective, method)(*args), share)


def _kernel_rows(spec: _Spec, spec_key: tuple, parts: list):
    """[(X, codes, Y, sw)] of a group's non-empty partitions for
    :func:`softreg._kernels.fused_passes` (sw normalised by the global weight sum), or
    None where some partition's X is not a layout the kernels read."""
    rows = []
    for row in parts:
        X, y, s = row[0] if len(row) == 1 else row
        cached = _targets_of(X, y, s, spec, spec_key)
        Xm, targets = _matrix_and_targets(X, y, s, spec, cached)
        if cached is None and CACHE_TARGETS:
            _remember(X, y, s, spec_key, targets)
        if not _kernels.supports(Xm):
            return None
        codes, Y, _, local, sw = targets
        if Xm.shape[0] and local > 0:
            rows.append((Xm, codes, Y, sw))
    return rows


def _group_loss_grad(spec: _Spec, spec_key: tuple, theta: np.ndarray, parts: list):
    """(True, (value, gradient) or None when all are empty): a group's share by one
    :func:`softreg._kernels.fused_passes` (no objective built per partition); (False,
    None) where the kernels cannot read some partition's X."""
    rows = _kernel_rows(spec, spec_key, parts)
    if rows is None:
        return False, None
    if not rows:
        return True, None
    d = rows[0][0].shape[1]
    K = spec.n_classes
    W = theta[: d * K].reshape(d, K)
    b = theta[d * K:] if spec.fit_intercept else np.zeros(K)
    loss, gW, gb = _kernels.fused_passes(rows, W, b, serial=True)
    grad = np.concatenate([gW.ravel(), gb]) if spec.fit_intercept else gW.ravel()
    return True, (float(loss), grad)


def _group_partial(spec: _Spec, method: str, args: tuple, parts: list):
    """The sum over a group's partitions ``parts`` [(X, y, s) or ((X, y, s),), ...] of
    their partials, added in the order given; returns (sum or None, address of the worker
    that ran it). ``loss_grad`` over partitions the kernels read runs as one
    :func:`softreg._kernels.fused_passes` with each partition's weights normalised by the
    global sum (the same numbers as S_p / S times the partition's datafit, to rounding)."""
    spec_key = spec.key()
    total = None
    if method == "loss_grad" and FAST_GROUPS:
        done, total = _group_loss_grad(spec, spec_key, args[0], parts)
        if done:
            parts = []
    for row in parts:  # (X, y, s), or (triple,): one value holding all three
        X, y, s = row[0] if len(row) == 1 else row
        total = _add(total, _partial(X, y, s, spec, method, *args, spec_key=spec_key))
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = None
    return total, where


def _sample_rows(X, y, s, spec: _Spec, rows: np.ndarray):
    """Rows ``rows`` (sorted local indices, shape (m,)) of one partition: (X rows (m, d) in
    the spec's dtype, codes (m,) or None, Y (m, K) or None, weights / global weight sum
    (m,)), as the passes see them (labels coded, class weights applied)."""
    Xm, (codes, Y, _, _, sw) = _matrix_and_targets(X, y, s, spec)
    return (np.ascontiguousarray(Xm[rows]), None if codes is None else codes[rows],
            None if Y is None else Y[rows], sw[rows])


def _probabilities(X, y, s, spec: _Spec, theta: np.ndarray) -> np.ndarray:
    """softmax(X W + b) of one partition, shape (n_p, K)."""
    from scipy.special import softmax

    X = _as_float_matrix(_split(X, y, s, spec.layout)[0], -1)
    d, K = X.shape[1], spec.n_classes
    Z = X @ theta[: d * K].reshape(d, K)
    if spec.fit_intercept:
        Z += theta[d * K:]
    return softmax(Z, axis=1)
