"""The cross-entropy datafit over Dask partitions: the whole datafit protocol.

Each evaluation is one pass over the partitions: every partition computes its share of
the value and gradient (or of a Hessian-vector product, the Hessian, the feature
moments) with the in-memory :class:`~softreg._objective.SoftmaxObjective` (the fused
kernels; :mod:`._blocks`). The parameters are small and travel inside each pass's tasks
(nothing is scattered, so a lost worker only costs Dask a recomputation); the solver runs
on the client. Persisted data on a distributed cluster takes one task per worker thread
and pass (:mod:`._resident`); anything else one task per partition, added by a tree
reduction. With J_p the datafit of partition p, S_p its weight total and S the global
one,

    datafit = sum_i s_i CE_i / S = sum_p (S_p / S) J_p,

and so for the gradient, the Hessian and the (weight-normalised) feature moments.
"""

from __future__ import annotations

import numpy as np

from .._objective import SoftmaxObjective
from ._blocks import _partial, _probabilities, _sample_rows, _Spec
from ._compute import _compute, tree_sum
from ._data import DaskData
from ._resident import ResidentPasses, distributed_client
from ._scan import summarise

#: False: one task per partition even for persisted data (for comparisons and tests)
RESIDENT = True


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
        self._part_rows = np.asarray(summary.part_rows, dtype=np.int64)
        self._minibatch_rows = 0  # rows gathered by minibatch()
        self._spec_value = _Spec(K, data.soft, None if data.soft else self.classes,
                                 summary.class_weight, self.weight_sum, self.fit_intercept,
                                 self.dtype, data.layout)
        self._spec = delayed(self._spec_value, pure=True)
        client = distributed_client()
        #: passes over persisted partitions (one task per worker thread), or None
        self._resident = None if client is None or not RESIDENT else \
            ResidentPasses.create(client, data.parts())
        self._cache: tuple | None = None

    @property
    def n_passes(self) -> int:
        """Passes over the partitions so far (the scan not counted), plus one per n_samples
        rows gathered by :meth:`minibatch` or counted by :meth:`minibatch_passes`."""
        return self._passes + self._minibatch_rows // max(self.n_samples, 1)

    def minibatch_passes(self, count: int, rows: int) -> None:
        """Count ``count`` passes over a minibatch of ``rows`` rows (a subsample's fit)."""
        self._minibatch_rows += int(count) * int(rows)

    # -- parameter layout (as SoftmaxObjective) -------------------------------------------------
    unpack = SoftmaxObjective.unpack
    pack = SoftmaxObjective.pack
    zeros = SoftmaxObjective.zeros

    def _pass(self, method: str, *args, what: str):
        """Sum over the partitions of S_p / S * method(*args) (one pass)."""
        from dask import delayed

        what = f"{what} (pass {self._passes + 1})"
        args = tuple(np.array(a, dtype=np.float64) if isinstance(a, np.ndarray) else a
                     for a in args)
        resident = self._resident
        if resident is not None and distributed_client() is resident.client:
            result = resident.run(self._spec_value, method, args, what=what)
            self._passes += 1
            return result
        args = tuple(delayed(a, pure=True) if isinstance(a, np.ndarray) else a for a in args)
        part = delayed(_partial, pure=True)
        total = tree_sum([part(X, y, s, self._spec, method, *args)
                          for X, y, s in self.data.parts()])
        result = _compute(total, what=what)[0]
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

    # -- a subsample in memory (L-BFGS's subsample-Hessian start) -----------------------------
    @property
    def dense_nbytes(self) -> int:
        """Bytes of X as one dense array, n * d * itemsize (every partition is dense)."""
        return self.n_samples * self.n_features * np.dtype(self.dtype).itemsize

    def minibatch(self, rows: np.ndarray) -> SoftmaxObjective:
        """The rows ``rows`` (sorted distinct indices into the rows in partition order, shape
        (m,)) gathered into an in-memory datafit scaled as
        :meth:`SoftmaxObjective.minibatch <softreg._objective.SoftmaxObjective.minibatch>`:
        (n / m) sum over the rows of sw_i CE_i, sw normalised by the global weight sum, an
        unbiased estimate of this datafit.

        One task per partition that holds some of the rows (one round trip, m rows back).
        On persisted partitions the rows count towards this objective's passes (n_samples
        rows make one); elsewhere the partitions had to be read or computed: one pass.
        """
        from dask import delayed

        rows = np.asarray(rows, dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(self._part_rows)])
        if rows.size == 0 or rows[0] < 0 or rows[-1] >= bounds[-1] or \
                np.any(np.diff(rows) <= 0):
            raise ValueError("minibatch needs sorted distinct row indices in range(n_samples)")
        sample = delayed(_sample_rows, pure=True)
        tasks = []
        for (X, y, s), lo, hi in zip(self.data.parts(), bounds[:-1], bounds[1:], strict=True):
            local = rows[(rows >= lo) & (rows < hi)] - lo
            if local.size:
                tasks.append(sample(X, y, s, self._spec, local))
        pieces = _compute(tasks, what="subsample of the rows")[0]
        resident = self._resident
        if resident is not None and distributed_client() is resident.client:
            self._minibatch_rows += len(rows)  # taken from partitions held in memory
        else:  # the partitions were read or computed to take the rows: count a pass
            self._passes += 1
        soft = self._spec_value.soft
        return SoftmaxObjective(
            np.concatenate([p[0] for p in pieces]),
            y=None if soft else np.concatenate([p[1] for p in pieces]),
            Y=np.concatenate([p[2] for p in pieces]) if soft else None,
            sample_weight=np.concatenate([p[3] for p in pieces]) * (self.n_samples / len(rows)),
            fit_intercept=self.fit_intercept, n_classes=self.n_classes, weight_sum=1.0,
            kernel="auto")

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
