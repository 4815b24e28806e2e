"""The cross-entropy datafit over Dask partitions: the whole datafit protocol.

Each evaluation is one pass over the partitions: every partition computes its share of
the value and gradient (or of a Hessian-vector product, the Hessian, the feature
moments) with the in-memory :class:`~softreg._objective.SoftmaxObjective`, and the
partial results are added by a tree reduction. The parameters are small and travel
inside each pass's task graph (nothing is scattered, so a lost worker only costs Dask a
recomputation); the solver runs on the client. With J_p the datafit of partition p, S_p
its weight total and S the global one,

    datafit = sum_i s_i CE_i / S = sum_p (S_p / S) J_p,

and so for the gradient, the Hessian and the (weight-normalised) feature moments.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from .._objective import SoftmaxObjective
from .._targets import apply_class_weights
from ._compute import _compute, _limit_blas, tree_sum
from ._data import DaskData, _as_float_matrix, _split, _weights
from ._scan import summarise


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


def _matrix_and_targets(X, y, s, spec: _Spec, targets=None):
    """(X as a float matrix, targets): targets = (codes, Y, weights, local weight sum).

    ``targets``: those of this partition from an earlier pass (the matrix is still
    converted: it is never kept between passes).
    """
    X, y, s = _split(X, y, s, spec.layout)
    X = _as_float_matrix(X, -1).astype(spec.dtype, copy=False)
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
    return X, (codes, Y, s, float(s.sum()))


def _block(X, y, s, spec: _Spec, targets=None) -> tuple[SoftmaxObjective | None, float]:
    """The in-memory datafit on one partition and its share S_p / S (None when empty)."""
    X, (codes, Y, s, local) = _matrix_and_targets(X, y, s, spec, targets)
    if X.shape[0] == 0 or local <= 0:
        return None, 0.0
    objective = SoftmaxObjective(X, y=codes, Y=Y, sample_weight=s,
                                 fit_intercept=spec.fit_intercept, n_classes=spec.n_classes)
    return objective, local / spec.weight_sum


#: per worker process: the label codes and weights of the partitions seen, reused on
#: later passes over the same (persisted) partition objects: their validation costs a
#: few times a kernel pass. Keyed by the ids of the partition's objects and checked
#: against a weak reference to X, so an entry dies with its partition (X is never held;
#: y and s of a dead entry are dropped on the next task).
_TARGETS: dict = {}
_TARGETS_LOCK = threading.Lock()
CACHE_TARGETS = True  # False: validate every partition on every pass (for comparisons)


def _spec_key(spec: _Spec) -> tuple:
    arrays = tuple(None if a is None else (np.asarray(a).dtype.str, np.asarray(a).tobytes())
                   for a in (spec.classes, spec.cw))
    return (spec.n_classes, spec.soft, arrays, spec.weight_sum, spec.fit_intercept,
            np.dtype(spec.dtype).str, spec.layout)


def _cached_block(X, y, s, spec: _Spec) -> tuple[SoftmaxObjective | None, float]:
    """:func:`_block`, with the targets of a partition seen before taken from the cache."""
    try:
        ref = weakref.ref(X)
    except TypeError:  # not weak-referenceable: no cache
        return _block(X, y, s, spec)
    if not CACHE_TARGETS:
        return _block(X, y, s, spec)
    key = (id(X), id(y), id(s), _spec_key(spec))
    with _TARGETS_LOCK:
        for k in [k for k, v in _TARGETS.items() if v[0]() is None]:
            del _TARGETS[k]
        hit = _TARGETS.get(key)
    if hit is not None and hit[0]() is X and hit[1] is y and hit[2] is s:
        return _block(X, y, s, spec, hit[3])
    _, targets = _matrix_and_targets(X, y, s, spec)
    with _TARGETS_LOCK:
        _TARGETS[key] = (ref, y, s, targets)
    return _block(X, y, s, spec, targets)


def _scaled(value, share: float):
    if isinstance(value, tuple):
        return tuple(_scaled(v, share) for v in value)
    return value * share


def _partial(X, y, s, spec: _Spec, method: str, *args):
    """S_p / S times ``method(*args)`` of partition p's datafit (None when it is empty)."""
    _limit_blas()
    objective, share = _cached_block(X, y, s, spec)
    if objective is None:
        return None
    return _scaled(getattr(objective, method)(*args), share)


def _probabilities(X, y, s, spec: _Spec, theta: np.ndarray) -> np.ndarray:
    """softmax(X W + b) of one partition, shape (n_p, K)."""
    from scipy.special import softmax

    X = _as_float_matrix(_split(X, y, s, spec.layout)[0], -1)
    d, K = X.shape[1], spec.n_classes
    Z = X @ theta[: d * K].reshape(d, K)
    if spec.fit_intercept:
        Z += theta[d * K:]
    return softmax(Z, axis=1)


class DaskObjective:
    """The cross-entropy datafit over Dask partitions (protocol: :mod:`softreg._protocol`).

    Each ``loss``/``loss_grad`` is one pass over the partitions (the last result is
    cached, so a line search's accepted point costs no second pass); each Hessian
    product, Hessian or moments computation is one more. Construction makes one scan
    pass (validation, labels, weight totals).

    Parameters
    ----------
    data : DaskData
    fit_intercept : bool
    class_weight : dict, "balanced" or None
    classes : ndarray of shape (K,) or None (discovered by the scan)
    """

    def __init__(self, data: DaskData, *, fit_intercept=True, class_weight=None, classes=None):
        from dask import delayed

        self.data = data
        summary = summarise(data, class_weight, classes)
        self.n_samples = summary.n_samples
        self.n_features = data.n_features
        self.dtype = summary.dtype
        #: per-feature standard deviation, shape (d,) (for the estimator's advice)
        self.feature_std = summary.feature_std
        self.classes = summary.classes
        self.weight_sum = summary.weight_sum
        self._weighted_row_sq = summary.weighted_row_sq
        self.n_classes = K = len(self.classes)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = (self.n_features + self.fit_intercept) * K
        self._passes = 0
        self._spec = delayed(_Spec(K, data.soft, None if data.soft else self.classes,
                                   summary.class_weight, self.weight_sum, self.fit_intercept,
                                   self.dtype, data.layout), pure=True)
        self._cache: tuple | None = None

    @property
    def n_passes(self) -> int:
        """Passes over the partitions so far (the scan not counted)."""
        return self._passes

    # -- parameter layout (as SoftmaxObjective) -------------------------------------------------
    unpack = SoftmaxObjective.unpack
    pack = SoftmaxObjective.pack
    zeros = SoftmaxObjective.zeros

    def _pass(self, method: str, *args, what: str):
        """Sum over the partitions of S_p / S * method(*args) (one pass)."""
        from dask import delayed

        args = tuple(delayed(np.array(a, dtype=np.float64), pure=True)
                     if isinstance(a, np.ndarray) else a for a in args)
        part = delayed(_partial, pure=True)
        total = tree_sum([part(X, y, s, self._spec, method, *args)
                          for X, y, s in self.data.parts()])
        result = _compute(total, what=f"{what} (pass {self._passes + 1})")[0]
        self._passes += 1
        return result

    # -- evaluations ------------------------------------------------------------------------------
    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(value, gradient of shape (n_params,)): one pass."""
        theta = np.asarray(theta, dtype=np.float64)
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1], self._cache[2].copy()
        loss, grad = self._pass("loss_grad", theta, what="objective")
        loss, grad = float(loss), np.array(grad, dtype=np.float64)
        self._cache = (theta.copy(), loss, grad.copy())
        return loss, grad

    def loss(self, theta: np.ndarray) -> float:
        """The datafit's value (computed with its gradient in the same pass)."""
        return self.loss_grad(theta)[0]

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(theta) v, shape (n_params,): one pass."""
        return np.array(self._pass("hessp", theta, v, what="Hessian product"), dtype=np.float64)

    def loss_grad_hessp(self, theta: np.ndarray):
        """Value, gradient and v -> H(theta) v (each product one pass)."""
        loss, grad = self.loss_grad(theta)
        theta = np.array(theta, dtype=np.float64, copy=True)
        return loss, grad, lambda v: self.hessp(theta, v)

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """The Hessian of shape (n_params, n_params): one pass (for few parameters)."""
        return np.array(self._pass("hessian", theta, what="Hessian"), dtype=np.float64)

    def feature_moments(self, dense: bool = True) -> np.ndarray:
        """C = sum_i sw_i a_i a_i^T (a_i = [x_i, 1]), (m, m) or its diagonal: one pass."""
        return np.array(self._pass("feature_moments", bool(dense), what="feature moments"),
                        dtype=np.float64)

    def probabilities(self, theta: np.ndarray):
        """P = softmax(X W + b) as a lazy dask array of shape (n, K) (rows in X's order)."""
        import dask.array as da
        from dask import delayed

        th = delayed(np.array(theta, dtype=np.float64), pure=True)
        part = delayed(_probabilities, pure=True)
        blocks = [da.from_delayed(part(X, y, s, self._spec, th), shape=(np.nan, self.n_classes),
                                  dtype=np.float64) for X, y, s in self.data.parts()]
        return da.concatenate(blocks, axis=0)

    def smoothness_bound(self) -> float:
        """0.5 * (sum_i sw_i ||x_i||^2 + [intercept]), as SoftmaxObjective."""
        return 0.5 * (self._weighted_row_sq / self.weight_sum + self.fit_intercept)
