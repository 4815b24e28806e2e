"""Fused, blocked kernels for the objective: one pass over X per evaluation.

Rows are split into one chunk per thread (each with its own gradient accumulator, summed
at the end: deterministic for a fixed thread count) and each chunk into blocks of rows.
Per block the kernel forms the logits Z = X_b W + b with register tiles, the max-shifted
softmax, the loss and the residual R = s (P - Y) along the block's rows in vector lanes,
and adds R^T X_b to the gradient while the block is still in cache, so X is read from
memory once per evaluation (a NumPy evaluation reads it twice and writes several n x K
temporaries). The logits and gradient micro-kernels are explicit 512-bit SIMD code
(:mod:`softreg._kernel_simd`, 256-bit on hosts without AVX-512), the exp and the staging
copies plain loops (:mod:`softreg._kernel_tiles`).

- C-ordered X: blocks of ``_BLOCK`` rows; the logits tiles prefetch into L2 the rows
  ``_AHEAD`` on while they compute, so X streams from memory behind the arithmetic.
- F-ordered X (what pandas hands over): read in place, never copied or transposed, through
  X.T (C-ordered), in blocks of ``_F_BLOCK`` rows whose column segments are contiguous;
  the tiles run their lanes along those segments.

Shapes: X (n, d) C- or F-contiguous ndarray; Wp (d, Kp) = W padded with zero classes to
Kp (a multiple of the vector's lanes), Wt (Kt, d) = W^T padded to a multiple of the
F-order tiles' class tile (float32 F order only), b (Kt,) likewise; codes (n,) int, or
Y (n, K) soft targets; sw (n,) normalised weights. X is read in its own dtype (float32
stays float32 in memory: half the bytes); the parameters and all arithmetic are float64,
so float32 data costs no accuracy in the optimisation.

Mixed precision (``mixed=True``, :func:`_mixed_pass`): the two products in float32,
softmax and sums in float64; error about 1e-7 of the gradient's scale (bound tested).
A float32 softmax (16 lanes, float32 exp) was measured and dropped: as fast as the float64
one once both are vectorised, and its exp rounding put about 1e-10 relative noise into the
loss (10x the float32 logits' own), which made L-BFGS's line search take 44 mixed passes
instead of 24 on the benchmark's dense32 fit.
The L-BFGS solver uses it on float32 X until max |grad J| <= 10 tol, then float64 passes
(so the stopping test is float64's).

Measured per pass, one thread, shared 2-core machine, best of 15 (``benchmarks.machine.
evaluation_times``; before -> after the SIMD kernels): n = 200 000, d = 100, K = 10:
float64 X 41 -> 25-28 ms (F order 47 -> 30), float32 X mixed 25 -> 16-18 ms (F order
27 -> 16), float32 X in float64 30 -> 27-28 ms (F order 41 -> 25); n = 50 000, K = 100:
float64 65 -> 42-44 ms, mixed 53 -> 27-29 ms. Then the softmax's exps of all classes in
one call per block (a call per class cost about as much as its exps) and a branch-free,
vectorised log (:func:`softreg._kernel_tiles.log_positive`; ``math.log`` was a libm call
per row, ~0.9 ms per pass): mixed 13.6-16 -> 12.3-13.3 ms, float64 24.2 -> 23.7 ms (best
of 30, alternating old and new code in one session). Then the softmax step's sweeps
fused (the label's logit picked up in the max's sweep, scaling, label subtraction and the
intercept's row sums in one) and an exp with 2 fewer vector operations and 1 fewer FMA
(:func:`softreg._kernel_tiles.exp_shifted_sum`): on a block in cache, per pass (1563
blocks of 128 rows), :func:`_residuals` 2.2-2.6 -> 1.7-2.0 ms (0.67-0.84x), the exps
1.3 -> 0.94 ms (0.71-0.73x); the whole evaluation only 0.97-0.98x (mixed 17.0 -> 16.7 ms,
float64 26.6 -> 25.6 ms, best of 40 alternating in one process on a loaded machine).
Measured and dropped: exps of two classes per sweep (register spills: slower), a float32
division with Newton steps for the log's and the softmax's reciprocals (no faster).
Python around the compiled pass costs ~14 us per evaluation (n = 256: ``loss_grad``
31 us, the compiled call 17 us). Then the C-order logits' classes
that do not fill a vector in feature-interleaved pieces, written straight into the
class-major Z with the intercept (:func:`softreg._kernel_simd.logits_pieces`; K = 10
float32 filled 10 of 16 lanes with one broadcast load per row and feature): mixed
14.8 -> 13.0 ms, K = 100 mixed 26.7 -> 24.0 ms, K = 100 float64 41.5 -> 40.5 ms,
float64 K = 10 unchanged (old tile kept there; one process, interleaved, best of 15,
CPU time, load ~2). What is left: the softmax (about 1.7 ms at K = 10), the float64 K = 10
logits' padding lanes (10 of 16), and the float32-to-float64 conversion of the x
broadcasts when float32 X is computed in float64 (a widened panel per block measured no
faster).

Measured alternative (``benchmarks``, "two BLAS GEMMs per row block"): X_b W and X_b^T R
by BLAS on cache-sized row blocks with the softmax between is slower than these kernels
for the benchmark's K = 10: OpenBLAS runs (rows x 100) @ (100 x 10) products at a small
fraction of its peak.

:func:`supports` says False where numba is not installed or X is sparse or strided; the
NumPy path in :mod:`softreg._objective` is then used (and is always the reference the
kernels are tested against).
"""

from __future__ import annotations

import threading

import numpy as np

from . import _kernel_simd as _simd
from . import _kernel_tiles as _tiles
from ._jit import njit
from ._kernel_tiles import numba
from ._simd import wide

_OPTIONS = _tiles._OPTIONS

_prange = range if numba is None else numba.prange

#: rows per block of the C-order pass (its Z, R buffers and rows stay in L1/L2)
_BLOCK = 128
#: rows ahead that the C-order pass prefetches (one block: it streams while a block computes)
_AHEAD = 64
#: rows per block of the F-order pass (and how far ahead it prefetches each column segment)
_F_BLOCK = 256
#: minimum rows per thread before a second thread is worth starting
_MIN_ROWS_PER_THREAD = 2048


def _class_tile(K: int) -> int:
    """The logits tile's class count (4 or 5) that pads K the least (4 on a tie)."""
    return 5 if -K % 5 < -K % 4 else 4


@njit(**_OPTIONS)
def _residuals(Z, m, K, i0, codes, Y, soft, sw, P, want_P, hessian, R, aux, bits, gb):
    """:func:`_residuals_into` with the residuals written into R itself."""
    return _residuals_into(Z, m, K, i0, codes, Y, soft, sw, P, want_P, hessian, R, R, aux,
                           bits, gb)


@njit(**_OPTIONS, error_model="numpy")  # 1 / total without a zero check: vectorised
def _residuals_into(Z, m, K, i0, codes, Y, soft, sw, P, want_P, hessian, R, Rs, aux, bits,
                    gb):
    """Turn the logits Z[:K, :m] of rows i0.. into residuals Rs[:, :m]; add their row sums to gb.

    Class-major (Z[k, r], R[k, r]), so every loop below runs along the m rows of the block
    in vector lanes, exp and log included. aux (4, B) float64 scratch. Three sweeps over
    the classes (hard labels): the row maxima with the label's logit (a select per lane,
    no gather), the exps with their row sums (:func:`softreg._kernel_tiles.
    exp_shifted_sum_classes`), and R = (exp / total) sw - sw y with R's row sums; the
    rows' log, loss and 1 / total in between run once per row. Rows K.. of R and the lanes
    past m are left alone. R (>= K, B) float64 holds the exps; the last sweep writes the
    residuals into Rs (R itself, or the mixed pass's float32 block: the rounding copy
    fused into that sweep).

    hessian=False: R[:, r] = sw_i (p_i - y_i) with p_i the max-shifted softmax of Z[:, r];
    returns sum_r sw_i CE_i and writes P[i] when ``want_P``. hessian=True: Z holds the
    direction's logits and R[:, r] = sw_i (p_i * z - p_i (p_i . z)) with the current
    point's probabilities P; returns 0.
    """
    wide()  # 512-bit vectors on an AVX-512 host (see :mod:`softreg._simd`)
    w = sw[i0:i0 + m]  # views of the block's rows: range() indices need no wraparound
    loss = 0.0
    if hessian:
        Pb = P[i0:i0 + m]
        pz = aux[0]
        pz[:m] = 0.0
        for k in range(K):
            for r in range(m):
                pz[r] += Pb[r, k] * Z[k, r]
        for k in range(K):
            s = 0.0
            for r in range(m):
                v = w[r] * Pb[r, k] * (Z[k, r] - pz[r])
                Rs[k, r] = v
                s += v
            gb[k] += s
        return loss
    zmax = aux[0]
    total = aux[1]
    yz = aux[2]
    scale = aux[3]
    Yb = Y[i0:i0 + m] if soft else Y
    cb = codes if soft else codes[i0:i0 + m]
    if soft:
        zmax[:m] = Z[0, :m]
        for k in range(1, K):
            for r in range(m):
                zmax[r] = max(zmax[r], Z[k, r])
        yz[:m] = 0.0
        for k in range(K):
            for r in range(m):
                yz[r] += Yb[r, k] * Z[k, r]
    else:  # the label's logit picked up in the max's sweep (a select per lane, no gather)
        for r in range(m):
            z = Z[0, r]
            zmax[r] = z
            yz[r] = z if cb[r] == 0 else 0.0
        for k in range(1, K):
            for r in range(m):
                z = Z[k, r]
                zmax[r] = max(zmax[r], z)
                yz[r] += z if cb[r] == k else 0.0
    total[:m] = 0.0
    _tiles.exp_shifted_sum_classes(Z, zmax, R, total, K, m)
    _tiles.log_positive(total, scale, m)
    for r in range(m):
        loss += w[r] * (zmax[r] + scale[r] - yz[r])
        total[r] = 1.0 / total[r]
        scale[r] = w[r] * total[r]
    if want_P:
        Pb = P[i0:i0 + m]
        for r in range(m):
            for k in range(K):
                Pb[r, k] = R[k, r] * total[r]
    # R = sw (p - y) and its row sums (the intercept's gradient) in one sweep
    if soft:
        for k in range(K):
            s = 0.0
            for r in range(m):
                v = R[k, r] * scale[r] - w[r] * Yb[r, k]
                Rs[k, r] = v
                s += v
            gb[k] += s
    else:
        for k in range(K):
            s = 0.0
            for r in range(m):
                v = R[k, r] * scale[r] - (w[r] if cb[r] == k else 0.0)
                Rs[k, r] = v
                s += v
            gb[k] += s
    return loss


@_tiles._jit
def _block(src, s0, i0, m, ahead, Wp, Kf, Wq, ga, gb_, b, K, codes, Y, soft, sw, P, want_P,
           hessian, Zr, Z, R, Rs, aux, bits, acc, accs, gb, zero):
    """One block: rows i0..i0+m of X, read as rows s0..s0+m of the C-ordered ``src``.

    The explicit-SIMD tiles of :mod:`softreg._kernel_simd` in the arithmetic of ``zero``:
    Wp (d, Kp) = W padded; Zr (B, Kp) the row-major logits of the classes below Kf that
    they write, copied class-major with the intercept into Z (Kp, B) float64 for
    :func:`_residuals` (the pieces' classes from Kf on go into Z directly); acc (Kg, d)
    float64.
    float64 (``Wp`` float64): R and acc are used as they are (``Rs``, ``accs``: the same
    arrays). Mixed (``Wp`` float32): the softmax's last sweep writes the residuals rounded
    into Rs (float32; R holds only the exps) and the block's gradient is summed in float32
    into ``accs`` (Kg, d; zero on entry), then added to ``acc`` in float64 in a sweep that
    zeroes ``accs`` for the next block (measured: the separate rounding copy and zeroing
    cost ~0.2 ms of the ~12 ms pass at n = 200 000, d = 100, K = 10: 0.975-0.98x best,
    0.984-0.991x paired median, means of 5 passes, 31 alternating reps, one process).
    ahead > 0: the logits tiles prefetch the rows ``ahead`` rows on into L2.
    Kf, Wq, ga, gb_: :func:`softreg._kernel_simd.piece_plan` and ``piece_weights``: the
    classes from Kf on by :func:`softreg._kernel_simd.logits_pieces` (ga empty: none).
    """
    _simd.logits(src, s0, m, Wp, Kf, Zr, zero, ahead)
    if len(ga):  # the classes from Kf on straight into Z
        _simd.logits_pieces(src, s0, m, Wq, Kf, K, ga, gb_, Zr, Z, b, zero,
                            ahead if Kf == 0 else 0)
    for k in range(min(Kf, K)):
        bk = b[k]
        Zk = Z[k]
        for r in range(m):
            Zk[r] = Zr[r, k] + bk
    loss = _residuals_into(Z, m, K, i0, codes, Y, soft, sw, P, want_P, hessian, R, Rs, aux,
                           bits, gb)
    if Wp.itemsize == 8:
        if acc.shape[0] % 5 == 0:
            _simd.accumulate5(src, s0, m, R, acc, zero)
        else:
            _simd.accumulate(src, s0, m, R, acc, zero)
        return loss
    if acc.shape[0] % 5 == 0:  # accs is zero here (see below)
        _simd.accumulate5(src, s0, m, Rs, accs, zero)
    else:
        _simd.accumulate(src, s0, m, Rs, accs, zero)
    Kg, d = acc.shape
    for k in range(K):  # the padding classes' rows stay zero
        for j in range(d):
            acc[k, j] += accs[k, j]
            accs[k, j] = 0.0  # zeroed for the next block in the same sweep
    return loss


@_tiles._jit
def _chunk_bounds(n, n_chunks, c):
    return c * n // n_chunks, (c + 1) * n // n_chunks


def _dense_pass(X, Wp, Kf, Wq, ga, gb_, b, K, codes, Y, soft, sw, P, want_P, hessian,
                n_chunks):
    """One fused pass over C-ordered X; returns (data loss, grad of W^T (K, d), grad b (K,)).

    Wp (d, Kp): W padded with zero classes to Kp (:func:`softreg._kernel_simd.padded_classes`),
    b (>= Kp,) zero-padded; Kf, Wq, ga, gb_: the C-order logits' split of the classes
    (:func:`softreg._kernel_simd.piece_plan`, ``piece_weights``; ga = (): none).
    hessian=False: Wp, b are the parameters and the residual is sw (p - y)
    (P is written when want_P). hessian=True: Wp, b are a direction V, c and the residual
    is the Hessian's, using the probabilities P of the current point.
    """
    n, d = X.shape
    Kp = Wp.shape[1]
    Kg = _simd.gradient_classes(K)
    grads = np.zeros((n_chunks, Kg, d))
    gbs = np.zeros((n_chunks, K))
    losses = np.zeros(n_chunks)
    for c in _prange(n_chunks):
        lo, hi = _chunk_bounds(n, n_chunks, c)
        Zr = np.zeros((_BLOCK, Kp))
        Z = np.zeros((Kp, _BLOCK))
        R = np.zeros((Kp, _BLOCK))
        aux = np.zeros((4, _BLOCK))
        bits = np.zeros(_BLOCK, np.int64)
        loss = 0.0
        for i0 in range(lo, hi, _BLOCK):
            m = min(_BLOCK, hi - i0)
            loss += _block(X, i0, i0, m, _AHEAD, Wp, Kf, Wq, ga, gb_, b, K, codes, Y, soft,
                           sw, P, want_P, hessian, Zr, Z, R, R, aux, bits, grads[c], grads[c],
                           gbs[c], 0.0)
        losses[c] = loss
    return losses.sum(), grads.sum(axis=0)[:K], gbs.sum(axis=0)


def _dense_f_pass(XT, Wt, b, K, tile, codes, Y, soft, sw, P, want_P, hessian, n_chunks):
    """As :func:`_dense_pass` for F-ordered X, read in place through XT = X.T (d, n), C order.

    Blocks of ``_F_BLOCK`` rows, computed in place with lanes over rows (each column's
    segment of the block is contiguous): the logits by
    :func:`softreg._kernel_simd.logits_t` (Wt (Kt, d) = W^T padded to a multiple of
    ``tile``, the next block's segments prefetched into L2), the gradient by
    :func:`softreg._kernel_simd.accumulate_t`. No padding lanes, so at K = 10 this is
    about as fast as C order. Measured, one thread, n = 200 000, d = 100, K = 10: 47 ms
    per pass before (a transposed C-order panel per block), 30 ms with these tiles
    (float32 X in float64: 41 -> 24-25 ms; mixed: 27 -> 16 ms); without the prefetch the
    logits alone took 30 ms. Then the prefetches shared out over all class tiles (they
    came in a burst in the first) and plain loads for the gradient's whole vectors:
    31.1 -> 23.1 ms, 0.91x C order's pass in the same run (25.5 ms).
    """
    d, n = XT.shape
    Kg = _simd.gradient_classes(K)
    grads = np.zeros((n_chunks, Kg, d))
    gbs = np.zeros((n_chunks, K))
    losses = np.zeros(n_chunks)
    for c in _prange(n_chunks):
        lo, hi = _chunk_bounds(n, n_chunks, c)
        loss = 0.0
        ZF = np.zeros((Wt.shape[0], _F_BLOCK))
        RF = np.zeros((Wt.shape[0], _F_BLOCK))  # rows K.. stay zero
        auxF = np.zeros((4, _F_BLOCK))
        bitsF = np.zeros(_F_BLOCK, np.int64)
        for i0 in range(lo, hi, _F_BLOCK):
            m = min(_F_BLOCK, hi - i0)
            _simd.logits_t(XT, i0, m, Wt, b, ZF, 0.0, _F_BLOCK)
            loss += _residuals(ZF, m, K, i0, codes, Y, soft, sw, P, want_P, hessian, RF,
                               auxF, bitsF, gbs[c])
            _simd.accumulate_t(XT, i0, m, RF, grads[c], 0.0)
        losses[c] = loss
    return losses.sum(), grads.sum(axis=0)[:K], gbs.sum(axis=0)


def _mixed_pass(src, f_order, Wp32, Kf, Wq32, ga, gb_, Wt32, b, K, tile, codes, Y, soft, sw, P,
                want_P, n_chunks):
    """One fused pass with float32 products (see :func:`_block`); as :func:`_dense_pass`.

    The two products (logits and gradient) run in float32 (twice the lanes per vector);
    the softmax, the loss and the residuals in float64 (exp and log of logits rounded to
    float32 would still be accurate to ~1e-7, but they cost little next to the products).
    Each block's float32 gradient is added to the float64 accumulator once per block:
    float32 rounding then grows with the block's 64 rows, never with n (a float32 sum over
    n = 200 000 rows would lose about 1e-4 relative).

    src: C-ordered X, or X.T (d, n) C-ordered for F-ordered X (``f_order``). float32 X is
    read in place: C order by the explicit-SIMD tiles with ``Wp32`` (d, Kp) and the
    float32 pieces ``Kf, Wq32, ga, gb_`` (as :func:`_dense_pass`; prefetching, as the
    float64 pass), F order by the F-order tiles with ``Wt32`` (Kp', d) = W^T padded
    to a multiple of ``tile``, float32 logits and sums. float64 X is staged block by block
    into a float32 C-ordered panel (a rounding copy, or a transpose of the block's column
    segments) that the tiles then read in L1 (float64 X is not mixed by the solvers: this
    path exists for completeness and tests).
    """
    if f_order:
        d, n = src.shape
    else:
        n, d = src.shape
    direct = not f_order and src.itemsize == 4
    Kp = Wp32.shape[1]
    Kg = _simd.gradient_classes(K)
    grads = np.zeros((n_chunks, Kg, d))
    gbs = np.zeros((n_chunks, K))
    losses = np.zeros(n_chunks)
    zero = np.float32(0.0)
    for c in _prange(n_chunks):
        lo, hi = _chunk_bounds(n, n_chunks, c)
        acc32 = np.zeros((Kg, d), np.float32)
        aux = np.zeros((4, _F_BLOCK))
        bits = np.zeros(_F_BLOCK, np.int64)
        loss = 0.0
        if f_order and src.itemsize == 4:  # float32 F order: the F-order tiles in float32
            Z = np.zeros((Wt32.shape[0], _F_BLOCK))
            R = np.zeros((K, _F_BLOCK))
            R32 = np.zeros((Wt32.shape[0], _F_BLOCK), np.float32)  # rows K.. stay zero
            Z32 = np.zeros((Wt32.shape[0], _F_BLOCK), np.float32)
            for i0 in range(lo, hi, _F_BLOCK):
                m = min(_F_BLOCK, hi - i0)
                _simd.logits_t(src, i0, m, Wt32, b, Z32, zero, _F_BLOCK)
                for k in range(K):
                    for r in range(m):
                        Z[k, r] = Z32[k, r]
                loss += _residuals_into(Z, m, K, i0, codes, Y, soft, sw, P, want_P, False, R,
                                        R32, aux, bits, gbs[c])
                _simd.accumulate_t(src, i0, m, R32, acc32, zero)  # acc32 is zero here
                for k in range(K):
                    for j in range(d):
                        grads[c, k, j] += acc32[k, j]
                        acc32[k, j] = 0.0
            losses[c] = loss
            continue
        Zr = np.zeros((_BLOCK, Kp), np.float32)
        Z = np.zeros((Kp, _BLOCK))
        R = np.zeros((Kp, _BLOCK))
        R32 = np.zeros((Kp, _BLOCK), np.float32)
        panel = np.zeros((_BLOCK if not direct else 0, d), np.float32)
        for i0 in range(lo, hi, _BLOCK):
            m = min(_BLOCK, hi - i0)
            if direct:
                loss += _block(src, i0, i0, m, _AHEAD, Wp32, Kf, Wq32, ga, gb_, b, K, codes,
                               Y, soft, sw, P, want_P, False, Zr, Z, R, R32, aux, bits,
                               grads[c], acc32, gbs[c], zero)
                continue
            if f_order:
                _tiles.stage_f(src, i0, m, panel, _BLOCK)
            else:
                _tiles.stage_c(src, i0, m, panel, _AHEAD)
            loss += _block(panel, 0, i0, m, 0, Wp32, Kf, Wq32, ga, gb_, b, K, codes, Y, soft,
                           sw, P, want_P, False, Zr, Z, R, R32, aux, bits, grads[c], acc32,
                           gbs[c], zero)
        losses[c] = loss
    return losses.sum(), grads.sum(axis=0)[:K], gbs.sum(axis=0)


class _Compiled:
    """The passes compiled twice: multi-threaded (main thread) and single-threaded.

    numba's default threading layer must not be entered from two threads at once, so a
    call from any other thread (a Dask worker's task, say) runs the serial version.
    """

    def __init__(self):
        self.dense = njit(parallel=True, **_OPTIONS)(_dense_pass)
        self.dense_serial = njit(**_OPTIONS)(_dense_pass)
        self.dense_f = njit(parallel=True, **_OPTIONS)(_dense_f_pass)
        self.dense_f_serial = njit(**_OPTIONS)(_dense_f_pass)
        self.mixed = njit(parallel=True, **_OPTIONS)(_mixed_pass)
        self.mixed_serial = njit(**_OPTIONS)(_mixed_pass)


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


def fused_pass(X, W, b, *, codes=None, Y=None, sw, P=None, want_P=False, hessian=False,
               mixed=False, serial=False):
    """One pass over X (see module docstring); returns (data loss, grad W (d, K), grad b (K,)).

    X : C- or F-contiguous ndarray (n, d), float32 or float64
    W : (d, K) parameters, or the direction when ``hessian``; b : (K,) (zeros: no intercept)
    codes : (n,) int class codes, or Y : (n, K) soft targets (one of them; not for hessian)
    sw : (n,) normalised sample weights, float64
    P : (n, K) float64 probabilities: written when ``want_P``, read when ``hessian``
    mixed : bool, the two products X W and X^T R in float32 (:func:`_mixed_pass`): the
        loss and gradient then carry float32 rounding (about 1e-7 of their scale; bound
        tested in tests/test_kernels.py). Ignored (float64) with ``want_P`` or ``hessian``.
    serial : one thread even on the main thread (a Dask worker's share of the cores)
    """
    kernels = _get()
    n = X.shape[0]
    K = W.shape[1]
    soft = Y is not None
    codes_ = np.zeros(0, np.intp) if codes is None else np.asarray(codes, np.intp)
    Y_ = np.zeros((0, K)) if Y is None else np.ascontiguousarray(Y, dtype=np.float64)
    P_ = np.zeros((0, K)) if P is None else P
    b_ = np.ascontiguousarray(b, dtype=np.float64)
    threads = 1 if serial else _threads(n)
    parallel = threads > 1
    tile = _class_tile(K)
    Kt = -(-K // tile) * tile  # the F-order tiles' padded class count
    f_order = not X.flags.c_contiguous
    Wa = np.asarray(W)
    bp = np.zeros(max(Kt, _simd.padded_classes(K, 4)))  # the F-order tiles read Kt
    # intercepts, the C-order pieces up to the padded class count
    bp[:K] = b_
    if mixed and not hessian and not want_P:  # P and Hessian products: float64 always
        Wp32 = np.zeros((W.shape[0], _simd.padded_classes(K, 4)), np.float32)
        Wp32[:, :K] = Wa
        Kf, g1, g2 = _simd.piece_plan(K, 4)
        Wq32 = _simd.piece_weights(Wa, Kf, g1, g2, np.float32)
        Wt32 = np.zeros((Kt if f_order and X.dtype == np.float32 else 0, W.shape[0]),
                        np.float32)
        if len(Wt32):
            Wt32[:K] = Wa.T
        fn = kernels.mixed if parallel else kernels.mixed_serial
        loss, gWt, gb = fn(X.T if f_order else X, f_order, Wp32, Kf, Wq32, (0,) * g1,
                           (0,) * g2, Wt32, bp, K, tile, codes_, Y_, soft, sw, P_, want_P,
                           threads)
        return loss, gWt.T, gb
    Wp = np.zeros((W.shape[0], _simd.padded_classes(K, 8)))
    Wp[:, :K] = Wa
    if not f_order:
        fn = kernels.dense if parallel else kernels.dense_serial
        Kf, g1, g2 = _simd.piece_plan(K, 8)
        Wq = _simd.piece_weights(Wa, Kf, g1, g2, np.float64)
        loss, gWt, gb = fn(X, Wp, Kf, Wq, (0,) * g1, (0,) * g2, bp, K, codes_, Y_, soft, sw,
                           P_, want_P, hessian, threads)
        return loss, gWt.T, gb
    # F order: the kernel reads X.T, C-ordered (the same memory)
    Wt = np.zeros((Kt, W.shape[0]))
    if len(Wt):
        Wt[:K] = Wa.T
    fn = kernels.dense_f if parallel else kernels.dense_f_serial
    loss, gWt, gb = fn(X.T, Wt, bp, K, tile, codes_, Y_, soft, sw, P_, want_P, hessian,
                       threads)
    return loss, gWt.T, gb


def fused_passes(parts, W, b, *, serial: bool = False):
    """:func:`fused_pass` summed over row blocks held apart (a Dask worker's partitions),
    the parameters' layout for the kernels made once for all of them.

    parts : list of (X, codes or None, Y or None, sw), each as :func:`fused_pass` takes
        them (codes (n_p,) int or Y (n_p, K) soft targets; sw (n_p,) weights normalised by
        the total of all parts). Float64 parameters and products (no P, no Hessian).
    W : (d, K) parameters; b : (K,) (zeros: no intercept)
    serial : one thread even on the main thread (a Dask worker's share of the cores).

    Returns (data loss, grad W (d, K), grad b (K,)), the sums over ``parts``, added in
    their order. A call of :func:`fused_pass` per part costs ~35 us of set-up (padding W,
    the pieces' weights, checks); over a worker's 8 partitions that was ~0.3 ms a pass.
    """
    kernels = _get()
    Wa = np.asarray(W, dtype=np.float64)
    d, K = Wa.shape
    tile = _class_tile(K)
    bp = np.zeros(max(-(-K // tile) * tile, _simd.padded_classes(K, 4)))
    bp[:K] = np.asarray(b, dtype=np.float64)
    Wp = np.zeros((d, _simd.padded_classes(K, 8)))
    Wp[:, :K] = Wa
    Kf, g1, g2 = _simd.piece_plan(K, 8)
    Wq = _simd.piece_weights(Wa, Kf, g1, g2, np.float64)
    ga, gb_ = (0,) * g1, (0,) * g2
    no_codes, no_Y, no_P = np.zeros(0, np.intp), np.zeros((0, K)), np.zeros((0, K))
    loss = 0.0
    gWt = np.zeros((K, d))
    gb = np.zeros(K)
    for X, codes, Y, sw in parts:
        if not X.flags.c_contiguous:  # F order: the layout of its own (see fused_pass)
            part_loss, part_gW, part_gb = fused_pass(X, Wa, b, codes=codes, Y=Y, sw=sw,
                                                     serial=serial)
            loss += part_loss
            gWt += part_gW.T
            gb += part_gb
            continue
        threads = 1 if serial else _threads(X.shape[0])
        fn = kernels.dense if threads > 1 else kernels.dense_serial
        soft = Y is not None
        part_loss, part_gWt, part_gb = fn(
            X, Wp, Kf, Wq, ga, gb_, bp, K,
            no_codes if soft else np.asarray(codes, np.intp),
            np.ascontiguousarray(Y, dtype=np.float64) if soft else no_Y, soft, sw, no_P,
            False, False, threads)
        loss += part_loss
        gWt += part_gWt
        gb += part_gb
    return loss, gWt.T, gb
