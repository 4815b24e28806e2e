"""Fused, blocked kernels for the objective: one pass over X per evaluation.

For every row the kernel forms the logits z = x W + b, the max-shifted softmax, the loss
term and the residual r = s (p - y), and adds r x to the gradient while the row is still
in cache, so X is read from memory once per evaluation (a NumPy evaluation reads it twice
and writes several n x K temporaries). Rows are split into one chunk per thread; each
chunk has its own gradient accumulator, summed at the end (deterministic for a fixed
thread count).

Shapes: X (n, d) C- or F-contiguous ndarray; Wt (K, d) = W^T, C order; b (K,); codes (n,)
int, or Y (n, K) soft targets; sw (n,) normalised weights. X is read in its own dtype
(float32 stays float32 in memory: half the bytes); the parameters and all arithmetic are
float64, so float32 data costs no accuracy in the optimisation.

:func:`supports` says False where numba is not installed or X is sparse or strided; the
NumPy path in :mod:`softreg._objective` is then used (and is always the reference the
kernels are tested against).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

numba: Any
try:  # numba is a dependency, but the library still works (more slowly) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

_OPTIONS = dict(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp"})


def _jit(fn):
    """Compile a helper with numba (left as Python where numba is missing)."""
    return fn if numba is None else numba.njit(**_OPTIONS)(fn)


_prange = range if numba is None else numba.prange

#: rows per register block of the dense kernels
_ROWS = 4
#: minimum rows per thread before a second thread is worth starting
_MIN_ROWS_PER_THREAD = 2048


@_jit
def _dense_logits(X, i0, m, Wt, b, z):
    """z[r, k] = x_{i0+r} . Wt[k] + b[k] for r < m (m <= 4 rows), float64."""
    K, d = Wt.shape
    if m == _ROWS:
        for k in range(K):
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            for j in range(d):
                w = Wt[k, j]
                s0 += X[i0, j] * w
                s1 += X[i0 + 1, j] * w
                s2 += X[i0 + 2, j] * w
                s3 += X[i0 + 3, j] * w
            z[0, k] = s0 + b[k]
            z[1, k] = s1 + b[k]
            z[2, k] = s2 + b[k]
            z[3, k] = s3 + b[k]
    else:
        for r in range(m):
            for k in range(K):
                s = 0.0
                for j in range(d):
                    s += X[i0 + r, j] * Wt[k, j]
                z[r, k] = s + b[k]


@_jit
def _dense_accumulate(X, i0, m, res, acc):
    """acc[k, :] += sum_{r < m} res[r, k] * x_{i0+r} (acc of shape (K, d), float64)."""
    K, d = acc.shape
    if m == _ROWS:
        for k in range(K):
            r0 = res[0, k]
            r1 = res[1, k]
            r2 = res[2, k]
            r3 = res[3, k]
            for j in range(d):
                acc[k, j] += (r0 * X[i0, j] + r1 * X[i0 + 1, j]) + \
                    (r2 * X[i0 + 2, j] + r3 * X[i0 + 3, j])
    else:
        for r in range(m):
            for k in range(K):
                rk = res[r, k]
                for j in range(d):
                    acc[k, j] += rk * X[i0 + r, j]


@_jit
def _softmax_residual(z, r, i, codes, Y, soft, sw, res, P_out, want_P):
    """Turn logits z[r] of row i into the residual res[r] = sw_i (p - y_i); return sw_i CE_i.

    The softmax is max-shifted: every exp sees z - max(z) <= 0.
    """
    K = z.shape[1]
    zmax = z[r, 0]
    for k in range(1, K):
        if z[r, k] > zmax:
            zmax = z[r, k]
    total = 0.0
    for k in range(K):
        e = math.exp(z[r, k] - zmax)
        res[r, k] = e
        total += e
    lse = zmax + math.log(total)
    w = sw[i]
    if soft:
        yz = 0.0
        for k in range(K):
            yz += Y[i, k] * z[r, k]
    else:
        yz = z[r, codes[i]]
    for k in range(K):
        p = res[r, k] / total
        if want_P:
            P_out[i, k] = p
        res[r, k] = w * p
    if soft:
        for k in range(K):
            res[r, k] -= w * Y[i, k]
    else:
        res[r, codes[i]] -= w
    return w * (lse - yz)


@_jit
def _hessian_residual(z, r, i, P, sw, res):
    """res[r] = sw_i (p * z - p (p . z)) for the direction's logits z[r] of row i."""
    K = z.shape[1]
    pz = 0.0
    for k in range(K):
        pz += P[i, k] * z[r, k]
    w = sw[i]
    for k in range(K):
        res[r, k] = w * P[i, k] * (z[r, k] - pz)


@_jit
def _chunk_bounds(n, n_chunks, c):
    return c * n // n_chunks, (c + 1) * n // n_chunks


def _dense_pass(X, Wt, b, codes, Y, soft, sw, P, want_P, hessian, n_chunks):
    """One fused pass; returns (data loss, gradient of W^T (K, d), gradient of b (K,)).

    hessian=False: Wt, b are the parameters and the residual is sw (p - y) (P is written
    when want_P). hessian=True: Wt, b are a direction V^T, c and the residual is the
    Hessian's, using the probabilities P of the current point.
    """
    n, d = X.shape
    K = Wt.shape[0]
    grads = np.zeros((n_chunks, K, d))
    gbs = np.zeros((n_chunks, K))
    losses = np.zeros(n_chunks)
    for c in _prange(n_chunks):
        lo, hi = _chunk_bounds(n, n_chunks, c)
        acc = grads[c]
        z = np.empty((_ROWS, K))
        res = np.empty((_ROWS, K))
        loss = 0.0
        for i0 in range(lo, hi, _ROWS):
            m = min(_ROWS, hi - i0)
            _dense_logits(X, i0, m, Wt, b, z)
            for r in range(m):
                if hessian:
                    _hessian_residual(z, r, i0 + r, P, sw, res)
                else:
                    loss += _softmax_residual(z, r, i0 + r, codes, Y, soft, sw, res, P,
                                              want_P)
                for k in range(K):
                    gbs[c, k] += res[r, k]
            _dense_accumulate(X, i0, m, res, acc)
        losses[c] = loss
    return losses.sum(), grads.sum(axis=0), gbs.sum(axis=0)


def _dense_f_pass(X, Wt, b, codes, Y, soft, sw, P, want_P, hessian, n_chunks):
    """As :func:`_dense_pass` for F-contiguous X: blocks of rows, vectorised along columns.

    A block's logits Zt (K, rows) are built column by column (each column segment of X is
    contiguous), the residuals follow row by row, and the gradient takes one dot product
    per (class, column) with the block still in cache.
    """
    n, d = X.shape
    K = Wt.shape[0]
    grads = np.zeros((n_chunks, K, d))
    gbs = np.zeros((n_chunks, K))
    losses = np.zeros(n_chunks)
    block = 256
    for c in _prange(n_chunks):
        lo, hi = _chunk_bounds(n, n_chunks, c)
        acc = grads[c]
        Zt = np.empty((K, block))
        Rt = np.empty((K, block))
        z = np.empty((1, K))
        res = np.empty((1, K))
        loss = 0.0
        for start in range(lo, hi, block):
            m = min(block, hi - start)
            for k in range(K):
                for r in range(m):
                    Zt[k, r] = b[k]
            for j in range(d):
                for k in range(K):
                    w = Wt[k, j]
                    for r in range(m):
                        Zt[k, r] += X[start + r, j] * w
            for r in range(m):
                for k in range(K):
                    z[0, k] = Zt[k, r]
                if hessian:
                    _hessian_residual(z, 0, start + r, P, sw, res)
                else:
                    loss += _softmax_residual(z, 0, start + r, codes, Y, soft, sw, res, P,
                                              want_P)
                for k in range(K):
                    Rt[k, r] = res[0, k]
                    gbs[c, k] += res[0, k]
            for j in range(d):
                for k in range(K):
                    total = 0.0
                    for r in range(m):
                        total += Rt[k, r] * X[start + r, j]
                    acc[k, j] += total
        losses[c] = loss
    return losses.sum(), grads.sum(axis=0), gbs.sum(axis=0)


class _Compiled:
    """The passes compiled twice: multi-threaded (main thread) and single-threaded.

    numba's default threading layer must not be entered from two threads at once, so a
    call from any other thread (a Dask worker's task, say) runs the serial version.
    """

    def __init__(self):
        self.dense = numba.njit(parallel=True, **_OPTIONS)(_dense_pass)
        self.dense_serial = numba.njit(**_OPTIONS)(_dense_pass)
        self.dense_f = numba.njit(parallel=True, **_OPTIONS)(_dense_f_pass)
        self.dense_f_serial = numba.njit(**_OPTIONS)(_dense_f_pass)


_compiled: _Compiled | None = None
_compile_lock = threading.Lock()


def available() -> bool:
    """Whether the fused kernels can run here (numba importable)."""
    return numba is not None


def _get() -> _Compiled:
    global _compiled
    with _compile_lock:
        if _compiled is None:
            _compiled = _Compiled()
    return _compiled


def _threads(n: int) -> int:
    if threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, min(numba.get_num_threads(), n // _MIN_ROWS_PER_THREAD))


def supports(X) -> bool:
    """Whether X has a layout the kernels read in place: a C- or F-contiguous ndarray.

    Sparse X stays on the NumPy/SciPy path: a per-row CSR kernel was measured slower
    than SciPy's two sparse products (105 ms against 78 ms per evaluation on the
    benchmark's tf-idf problem).
    """
    if not available() or not isinstance(X, np.ndarray) or \
            X.dtype not in (np.float32, np.float64):
        return False
    return isinstance(X, np.ndarray) and X.ndim == 2 and \
        (X.flags.c_contiguous or X.flags.f_contiguous)


def fused_pass(X, W, b, *, codes=None, Y=None, sw, P=None, want_P=False, hessian=False):
    """One pass over X (see module docstring); returns (data loss, grad W (d, K), grad b (K,)).

    X : C- or F-contiguous ndarray (n, d), float32 or float64
    W : (d, K) parameters, or the direction when ``hessian``; b : (K,) (zeros: no intercept)
    codes : (n,) int class codes, or Y : (n, K) soft targets (one of them; not for hessian)
    sw : (n,) normalised sample weights, float64
    P : (n, K) float64 probabilities: written when ``want_P``, read when ``hessian``
    """
    kernels = _get()
    n = X.shape[0]
    K = W.shape[1]
    soft = Y is not None
    codes_ = np.zeros(0, np.intp) if codes is None else np.asarray(codes, np.intp)
    Y_ = np.zeros((0, K)) if Y is None else np.ascontiguousarray(Y, dtype=np.float64)
    P_ = np.zeros((0, K)) if P is None else P
    b_ = np.ascontiguousarray(b, dtype=np.float64)
    threads = _threads(n)
    parallel = threads > 1
    if X.flags.c_contiguous:
        fn = kernels.dense if parallel else kernels.dense_serial
    else:
        fn = kernels.dense_f if parallel else kernels.dense_f_serial
    Wt = np.ascontiguousarray(np.asarray(W).T, dtype=np.float64)
    loss, gWt, gb = fn(X, Wt, b_, codes_, Y_, soft, sw, P_, want_P, hessian, threads)
    return loss, gWt.T, gb
