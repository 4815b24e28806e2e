"""The cross-entropy datafit on fixed in-memory data: value, gradient, Hessian products.

Shapes, written once:

- ``X``: ndarray or scipy.sparse matrix of shape (n_samples, n_features) = (n, d)
- targets: int codes ``y`` of shape (n,) in ``range(K)``, or a soft-target matrix
  ``Y`` of shape (n, K) whose rows are probabilities
- ``sample_weight`` ``s``: shape (n,), non-negative, not all zero
- parameters ``W`` (d, K) and ``b`` (K,), flattened for the solvers into
  ``theta = concat(W.ravel(), b)`` of shape (d*K + K,) (without ``b`` when there is no
  intercept)

    datafit(W, b) = sum_i s_i CE_i / sum_i s_i,
    CE_i = logsumexp(Z_i) - Y_i . Z_i,   Z = X W + b.

The penalty (alpha / 2 ||W||^2 and its relatives) is not part of it: the solvers add a
:class:`~softreg.penalties.Penalty`. :class:`SoftmaxObjective` implements the whole
protocol of :mod:`softreg._protocol`.

X is read in its own dtype and never copied whole (float32 stays float32 in memory); the
parameters and all arithmetic are float64 (a float32 block of rows is widened at a
time), so float32 data costs no accuracy in the optimisation. The value is returned as
a Python float and gradients as float64 vectors for the solvers.

Two implementations compute the same numbers: the fused one-pass kernels of
:mod:`softreg._kernels` (numba; C- or F-contiguous dense X) and the plain NumPy
``reference`` path (any layout), which the kernels are tested against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from . import _kernels
from ._hessian import softmax_hessian
from ._special import softmax_and_logsumexp

#: below this many entries of X, "auto" keeps the NumPy path (nothing to gain from a kernel)
FAST_MIN_SIZE = 20_000
KERNELS = ("auto", "fast", "reference")


def resolve_kernel(kernel: str, X) -> str:
    """'fast' or 'reference' for X (n, d); raises ValueError for an impossible 'fast'."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}; got {kernel!r}")
    if kernel == "reference":
        return kernel
    ok = _kernels.supports(X)
    if kernel == "fast":
        if not ok:
            why = "numba is not installed" if not _kernels.available() else \
                "X is not a C- or F-contiguous float32/float64 ndarray"
            raise ValueError(f"kernel='fast' is not available: {why}")
        return kernel
    return "fast" if ok and X.shape[0] * X.shape[1] >= FAST_MIN_SIZE else "reference"


class SoftmaxObjective:
    """The cross-entropy datafit on fixed data; the one place in the library that touches X.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    y : ndarray of shape (n,) with int codes in range(n_classes), or None
    Y : ndarray of shape (n, n_classes) of soft targets, or None (exactly one of y, Y)
    sample_weight : ndarray of shape (n,) or None (all ones)
    fit_intercept : bool
    n_classes : int, K (needed with ``y``)
    weight_sum : float or None
        Divide the weights by this instead of their own sum (a minibatch uses the full data
        set's, so that its gradient is an unbiased estimate of the full one).
    kernel : {"auto", "fast", "reference"}
        "fast": the fused numba kernels; "reference": NumPy; "auto": fast where X's
        layout allows it and X is not tiny.
    """

    def __init__(self, X, *, y=None, Y=None, sample_weight=None, fit_intercept=True,
                 n_classes=None, weight_sum=None, kernel="auto"):
        if (y is None) == (Y is None):
            raise TypeError("pass exactly one of y (int codes) or Y (soft targets)")
        self.X = X
        self.dtype = np.dtype(X.dtype)
        n, d = X.shape
        self.n_samples, self.n_features = n, d
        if Y is not None:
            self.Y = np.asarray(Y, dtype=np.float64)
            self.y = None
            self.n_classes = self.Y.shape[1]
        else:
            self.y = np.asarray(y, dtype=np.intp)
            self.Y = None
            self.n_classes = int(n_classes)
        s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.weight_sum = float(s.sum()) if weight_sum is None else float(weight_sum)
        #: normalised weights s / sum(s), shape (n,), float64
        self.sw = s / self.weight_sum
        self.fit_intercept = bool(fit_intercept)
        self.n_params = (d + self.fit_intercept) * self.n_classes
        self._passes = 0  # full passes over X made here
        self._minibatch_rows = 0  # rows handed out through minibatch()
        self.kernel = resolve_kernel(kernel, X)
        #: minibatches: "auto" picks by their own (small) size, "reference" stays so
        self._minibatch_kernel = "reference" if kernel == "reference" else "auto"
        self._cache = None  # (theta, loss, grad, P or None) of the last forward pass
        self._P = None  # (n, K) float64 buffer for the fast path's probabilities
        self._precision = "float64"

    @property
    def can_mix_precision(self) -> bool:
        """Whether :meth:`set_precision` ("mixed") changes anything: float32 X, fast kernel."""
        return self.kernel == "fast" and self.dtype == np.float32

    @property
    def precision(self) -> str:
        """"float64" (every product in float64: the reference's numbers to 1e-12) or "mixed"."""
        return self._precision

    def set_precision(self, precision: str) -> None:
        """Choose the arithmetic of ``loss`` and ``loss_grad`` (the fast kernel, float32 X).

        "mixed": the two products X W and X^T R in float32 (SIMD lanes twice as wide), the
        softmax, loss and each block's gradient sum in float64 (see
        :func:`softreg._kernels.fused_pass`): the gradient is then accurate to about 1e-7
        of max |x| (tested), enough for a solver's early iterations at the cost of a
        float32 pass. Probabilities, Hessian products and Hessians stay float64. Elsewhere
        (float64 X, the NumPy path) "mixed" computes in float64.
        """
        if precision not in ("float64", "mixed"):
            raise ValueError(f"precision must be 'float64' or 'mixed'; got {precision!r}")
        if precision != self._precision:
            self._precision = precision
            self._cache = None

    @property
    def n_passes(self) -> int:
        """Passes over X so far: one per evaluation, Hessian product, Hessian or moments,
        plus one per n_samples rows handed out by :meth:`minibatch`."""
        return self._passes + self._minibatch_rows // max(self.n_samples, 1)

    def minibatch_passes(self, count: int, rows: int) -> None:
        """Count ``count`` passes over a minibatch of ``rows`` rows (a subsample's fit)."""
        self._minibatch_rows += int(count) * int(rows)

    def add_passes(self, count: int = 1) -> None:
        """Count passes over X that a solver made with kernels of its own (saga)."""
        self._passes += int(count)

    # -- parameter layout -------------------------------------------------------------
    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split theta (n_params,) into W (d, K) and b (K,) (None without intercept)."""
        d, K = self.n_features, self.n_classes
        W = theta[: d * K].reshape(d, K)
        b = theta[d * K:] if self.fit_intercept else None
        return W, b

    def pack(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Flatten W (d, K) and b (K,) into theta (n_params,), float64."""
        parts = [np.asarray(W, dtype=np.float64).ravel()]
        if self.fit_intercept:
            parts.append(np.zeros(self.n_classes) if b is None else np.asarray(b, np.float64))
        return np.concatenate(parts)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_params)

    # -- pieces ---------------------------------------------------------------------------
    def _row_blocks(self, block_entries: int = 1 << 20):
        """Row slices of about ``block_entries`` entries of X (one slice for float64 X)."""
        n = self.n_samples
        if self.dtype == np.float64:
            return [slice(0, n)]
        step = max(1, block_entries // max(self.n_features, 1))
        return [slice(lo, min(n, lo + step)) for lo in range(0, n, step)]

    def _rows64(self, rows: slice):
        """X[rows] in float64 (a view for float64 X)."""
        Xb = self.X if rows == slice(0, self.n_samples) else self.X[rows]
        return Xb if self.dtype == np.float64 else Xb.astype(np.float64)

    def logits(self, theta: np.ndarray) -> np.ndarray:
        """Z = X W + b of shape (n, K), float64."""
        W, b = self.unpack(theta)
        Z = np.empty((self.n_samples, self.n_classes))
        for rows in self._row_blocks():
            Z[rows] = self._rows64(rows) @ W
        if b is not None:
            Z += b
        return Z

    def _pack_grad(self, G: np.ndarray) -> np.ndarray:
        """[X^T G, G.sum(0)] as a flat float64 vector; G of shape (n, K)."""
        gW = np.zeros((self.n_features, self.n_classes))
        for rows in self._row_blocks():
            gW += np.asarray(self._rows64(rows).T @ G[rows])
        return self._pack_parts(gW, G.sum(axis=0))

    def _forward(self, theta):
        """NumPy reference: the datafit, weighted residual G = s * (P - Y) / sum(s), P (n, K)."""
        Z = self.logits(theta)
        sw = self.sw
        if self.Y is not None:
            yz = np.einsum("ik,ik->i", self.Y, Z)
        else:
            yz = Z[np.arange(self.n_samples), self.y]
        P, lse = softmax_and_logsumexp(Z)  # Z is overwritten by P
        loss = float(np.dot(sw, lse - yz))
        G = P.copy()
        if self.Y is not None:
            G -= self.Y
        else:
            G[np.arange(self.n_samples), self.y] -= 1
        G *= sw[:, None]
        return loss, G, P

    def _evaluate(self, theta, want_P: bool = False):
        """(loss, grad, P or None) at theta, one pass over X (none when cached).

        The last result is cached, so a line search's accepted trial point costs no
        second pass when the solver then asks for its gradient.
        """
        c = self._cache
        if c is not None and (c[3] is not None or not want_P) and np.array_equal(c[0], theta):
            return c[1:]
        W, b = self.unpack(theta)
        if self.kernel == "fast":
            if want_P and self._P is None:
                self._P = np.empty((self.n_samples, self.n_classes))
            mixed = self._precision == "mixed" and not want_P and self.can_mix_precision
            data_loss, gW, gb = _kernels.fused_pass(
                self.X, W, self._intercept_or_zeros(b), codes=self.y, Y=self.Y, sw=self.sw,
                P=self._P if want_P else None, want_P=want_P, mixed=mixed)
            loss = float(data_loss)
            grad = self._pack_parts(gW, gb)
            P = self._P if want_P else None
        else:
            loss, G, P = self._forward(theta)
            grad = self._pack_grad(G)
        self._passes += 1
        self._cache = (np.array(theta, copy=True), loss, grad, P)
        return loss, grad, P

    def _intercept_or_zeros(self, b):
        return np.zeros(self.n_classes) if b is None else b

    def _pack_parts(self, gW, gb):
        """[gW, gb] as a flat float64 vector (gW (d, K), gb (K,))."""
        parts = [np.asarray(gW, dtype=np.float64).ravel()]
        if self.fit_intercept:
            parts.append(np.asarray(gb, dtype=np.float64))
        return np.concatenate(parts)

    # -- public entry points ------------------------------------------------------------------
    def loss(self, theta: np.ndarray) -> float:
        """The datafit's value at theta."""
        return self._evaluate(theta)[0]

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(value, gradient of shape (n_params,)) at theta."""
        loss, grad, _ = self._evaluate(theta)
        return loss, grad.copy()

    def probabilities(self, theta: np.ndarray) -> np.ndarray:
        """P = softmax(X W + b) of shape (n, K), float64.

        Free after ``loss_grad`` at the same theta on the reference path; the fast path
        makes one pass unless P was kept (as ``loss_grad_hessp`` does). The array is the
        objective's own buffer, read-only, valid until its next evaluation: copy it to
        keep it.
        """
        P = self._evaluate(theta, want_P=True)[2].view()
        P.flags.writeable = False
        return P

    def loss_grad_hessp(self, theta: np.ndarray
                        ) -> tuple[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Value, gradient and a function v -> H(theta) v that reuses P (one pass each)."""
        loss, grad, P = self._evaluate(theta, want_P=True)
        grad = grad.copy()
        sw = self.sw[:, None]
        if self.kernel == "fast":
            P = P.copy()  # the buffer is overwritten by the next evaluation

            def fast_hessp(v: np.ndarray) -> np.ndarray:
                V, c = self.unpack(v)
                _, gV, gc = _kernels.fused_pass(self.X, V, self._intercept_or_zeros(c),
                                                sw=self.sw, P=P, hessian=True)
                self._passes += 1
                return self._pack_parts(gV, gc)

            return loss, grad, fast_hessp

        def hessp(v: np.ndarray) -> np.ndarray:
            R = self.logits(v)  # X V + c, a directional change of the logits
            PR = P * R
            D = PR - P * PR.sum(axis=1, keepdims=True)
            D *= sw
            self._passes += 1
            return self._pack_grad(D)

        return loss, grad, hessp

    def minibatch(self, rows: np.ndarray) -> SoftmaxObjective:
        """The objective's unbiased estimate from the rows ``rows`` (shape (m,)).

        Its data term is (n / m) * sum over the rows of sw_i CE_i, whose expectation over
        uniformly drawn rows is the full data term, however uneven the weights. The rows
        count towards this objective's passes (n_samples rows make one).
        """
        self._minibatch_rows += len(rows)
        s = self.sw[rows] * (self.n_samples / len(rows))
        return SoftmaxObjective(
            self.X[rows],
            y=None if self.y is None else self.y[rows],
            Y=None if self.Y is None else self.Y[rows],
            sample_weight=s, fit_intercept=self.fit_intercept,
            n_classes=self.n_classes, weight_sum=1.0, kernel=self._minibatch_kernel,
        )

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(theta) v, shape (n_params,)."""
        return self.loss_grad_hessp(theta)[2](v)

    def hessian(self, theta: np.ndarray, dtype=np.float64) -> np.ndarray:
        """The datafit's Hessian at theta, shape (n_params, n_params) (see :mod:`._hessian`).

        One pass for P (none when cached) and one for the Hessian. ``dtype`` float32: an
        estimate with float32 products, at half the cost (for a preconditioner).
        """
        P = self._evaluate(theta, want_P=True)[2]
        self._passes += 1
        return softmax_hessian(self.X, P, self.sw, self.fit_intercept, dtype=dtype)

    def feature_moments(self, dense: bool = True, block_entries: int = 1 << 18) -> np.ndarray:
        """C = sum_i sw_i a_i a_i^T for a_i = [x_i, 1] (1 only with an intercept), float64.

        Shape (m, m) when ``dense``, else its diagonal (m,), m = d + intercept. Read in
        row blocks of about ``block_entries`` entries: one pass over X, no copy of it
        (a sparse block is densified only for the dense result, block by block).
        """
        X = self.X
        n, d = X.shape
        sw = self.sw
        C = np.zeros((d + 1, d + 1) if dense else d + 1)  # the last row: the intercept's
        step = max(1, block_entries // max(d, 1))
        for lo in range(0, n, step):
            s = sw[lo:lo + step]
            Xb = X[lo:lo + step]
            if not dense:  # the diagonal: sum_i s_i x_ij^2
                sq = Xb.multiply(Xb) if sp.issparse(Xb) else np.square(Xb, dtype=np.float64)
                C[:d] += np.asarray(sq.T @ s, dtype=np.float64).ravel()
                continue
            # As = sqrt(s) [Xb, 1]: C += As^T As, one symmetric product (NumPy calls SYRK
            # for a.T @ a: 1.8 ms against 3.2 for Xb^T (s Xb) on 6 250 x 100)
            root = np.sqrt(s)
            As = np.empty((len(s), d + 1))
            np.multiply(Xb.toarray() if sp.issparse(Xb) else Xb, root[:, None], out=As[:, :d])
            As[:, d] = root
            C += As.T @ As
        if not dense:
            C[d] = sw.sum()
        if not self.fit_intercept:
            C = C[:d, :d] if dense else C[:d]
        self._passes += 1
        return C

    def smoothness_bound(self) -> float:
        """An upper bound L on the largest eigenvalue of the datafit's Hessian.

        The softmax Hessian with respect to one row of logits has norm <= 1/2 and the
        Hessian is a weighted sum of such terms, so
        L <= 0.5 * sum_i sw_i (||x_i||^2 + [intercept])  (sw: normalised weights).
        """
        X = self.X
        if sp.issparse(X):
            row_sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        else:
            row_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        mean_sq = float(np.dot(self.sw, row_sq))
        return 0.5 * (mean_sq + self.fit_intercept)
