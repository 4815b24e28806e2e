"""Register-tiled micro-kernels for the fused passes of :mod:`softreg._kernels`.

Each C-order function works on one block of rows of a C-ordered row panel ``src``
starting at panel row ``s0``; the F-order ones read X.T (C-ordered, the same memory).
Shapes: ``src`` (rows, d) float32 or float64; ``Wt`` (Kp, d) = W^T padded with zero rows to
Kp classes, a multiple of the class tile (4 or 5); ``Z`` (Kp, B) and
``R`` (K, B) float64 block buffers, class-major so that the softmax runs along rows in
vector lanes; ``acc`` (K, d) float64 gradient accumulator.

Why the loops look as they do (checked with numba's ``inspect_asm``):

- The logits tile keeps 4 rows x 4 (or 5) classes = 16 (20) running sums in registers;
  the inner loop over the d features is then vectorised by LLVM (``reassoc`` lets it split
  each sum into vector lanes): per step it loads 4 + 4 (5) vectors and issues 16 (20)
  fused multiply-adds, so the loop is bound by the FMA units, not by loads. The vector
  width is LLVM's choice for the host (256-bit on AVX-512 machines, where LLVM prefers
  256-bit vectors by default).
- The gradient tile adds 4 rows into 4 (or 5) class rows of ``acc`` at once, so each vector
  of x is loaded once for 16 (20) FMAs and ``acc`` (Kp x d, a few KB) stays in L1 (measured:
  10.3 against 12.2 ms for the 2-class tile it replaced, n=200 000, d=100, K=10, in L2).
- Arrays are indexed by ``range`` variables over views (``XT[j, start:start + m]``, not
  ``XT[j, start + r]``): numba's negative-index wraparound on ``start + r`` otherwise makes
  LLVM load with gathers.
- ``exp_nonpositive`` is a branch-free exp (range reduction by ln 2, degree-12 Taylor
  polynomial, exponent bits written through an int64 view) that LLVM vectorises; numba's
  ``math.exp`` is a scalar libm call per element (about 3.5x slower measured here). Its
  relative error is below 1e-15 for the max-shifted logits it sees (tested against
  NumPy), so the kernels still agree with the NumPy reference to 1e-12.

The tiles are generic in their arithmetic: the running sums start from the ``zero`` they
are given (float64 or float32) and the products take the types of ``src``, ``Wt`` and
``R``. Two uses:

- float64 (the default, and the reference-accuracy path): float32 rows are widened to
  float64 as they are loaded (exact) and every product and sum is float64. The logits
  z = x W feed exp() and a max-shift, and the gradient is a sum of n terms of mixed
  signs, so this agrees with the NumPy reference to 1e-12.
- mixed (``fused_pass(mixed=True)``, float32 X, the solvers' early iterations): ``Wt``,
  ``R`` and the per-block gradient in float32, so each 256-bit FMA does 8 products
  instead of 4. Where accuracy needs float64 it stays float64: the softmax, exp, log and
  loss (their inputs, the logits, carry float32 rounding of about 1e-7 relative), and the
  sum of the blocks' gradients (a float32 sum over n rows would lose accuracy with n;
  per 64-row block it stays about 1e-7 of the gradient's scale).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._jit import njit
from ._simd import bits_to_float64, wide

numba: Any
try:  # numba is a dependency, but the library still works (more slowly) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

#: reductions are reassociated (vectorised); no NaN/Inf assumptions are made
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH)
#: the exp keeps the order of its operations (its ln 2 hi/lo split must not be merged)
_EXACT_OPTIONS = dict(cache=True, nogil=True, fastmath={"contract", "nsz"})


def _make_prefetch():
    """``prefetch(a, i)``: hint the CPU to load the cache line of flat element i of a.

    LLVM's ``llvm.prefetch`` (read, high locality); an address past the end of ``a`` is
    harmless (a prefetch never faults). A no-op without numba.
    """
    if numba is None:
        return lambda a, i: None
    from llvmlite import binding, ir  # type: ignore[import-untyped]
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    # the intrinsic's name carries its pointer type: opaque "p0" from LLVM 17 on (numba's
    # llvmlite builds), "p0i8" where LLVM still has typed pointers
    name = "llvm.prefetch.p0" if binding.llvm_version_info[0] >= 17 else "llvm.prefetch.p0i8"

    @intrinsic
    def prefetch(typingctx, a, i):
        if not isinstance(a, types.Array) or not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            index = context.cast(builder, args[1], signature.args[1], types.intp)
            ptr = builder.bitcast(builder.gep(ary.data, [index]), ir.IntType(8).as_pointer())
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            builder.call(fn, [ptr, i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(a, i), codegen

    return prefetch


prefetch = _make_prefetch()


def _jit(fn, exact=False):
    """Compile a helper with numba (left as Python where numba is missing)."""
    if numba is None:
        return fn
    return njit(**(_EXACT_OPTIONS if exact else _OPTIONS))(fn)


#: rows per register tile (logits and gradient)
ROWS = 4
#: rows of a tile's prefetch (ahead) that the logits tile issues; the gradient tile the rest
PREFETCH_ROWS = 2

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI


def _exp_nonpositive(x, bits, m):
    """x[:m] <- exp(x[:m]) in place for x <= 0 (values below -708 give exp(-708)).

    x : (>= m,) float64; bits : (>= m,) int64 scratch. exp(v) = 2^k exp(f) with
    k = round(v / ln 2) and |f| <= ln(2) / 2; exp(f) by its Taylor polynomial of degree 12
    (truncation error below 2e-17); 2^k is built in the exponent bits of ``bits``.
    """
    wide()  # 512-bit vectors on an AVX-512 host (see :mod:`softreg._simd`)
    for i in range(m):
        v = max(x[i], -708.0)
        k = math.floor(v * _LOG2E + 0.5)
        f = (v - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 479001600.0
        p = p * f + 1.0 / 39916800.0
        p = p * f + 1.0 / 3628800.0
        p = p * f + 1.0 / 362880.0
        p = p * f + 1.0 / 40320.0
        p = p * f + 1.0 / 5040.0
        p = p * f + 1.0 / 720.0
        p = p * f + 1.0 / 120.0
        p = p * f + 1.0 / 24.0
        p = p * f + 1.0 / 6.0
        p = p * f + 0.5
        p = p * f + 1.0
        p = p * f + 1.0
        x[i] = p
        bits[i] = (np.int64(k) + 1023) << 52
    scale = bits.view(np.float64)
    for i in range(m):
        x[i] *= scale[i]


exp_nonpositive = _jit(_exp_nonpositive, exact=True)


def _exp_shifted_sum(Zk, zmax, Rk, total, m):
    """Rk[:m] = exp(Zk[:m] - zmax[:m]) (arguments <= 0), total[:m] += Rk[:m], in one loop.

    The same arithmetic as :func:`_exp_nonpositive` on ``Zk - zmax`` (bit for bit), with
    2^k made by a bitcast in the loop instead of a second pass through an int64 buffer.
    """
    wide()
    for i in range(m):
        v = max(Zk[i] - zmax[i], -708.0)
        k = math.floor(v * _LOG2E + 0.5)
        f = (v - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 479001600.0
        p = p * f + 1.0 / 39916800.0
        p = p * f + 1.0 / 3628800.0
        p = p * f + 1.0 / 362880.0
        p = p * f + 1.0 / 40320.0
        p = p * f + 1.0 / 5040.0
        p = p * f + 1.0 / 720.0
        p = p * f + 1.0 / 120.0
        p = p * f + 1.0 / 24.0
        p = p * f + 1.0 / 6.0
        p = p * f + 0.5
        p = p * f + 1.0
        p = p * f + 1.0
        e = p * bits_to_float64((np.int64(k) + 1023) << 52)
        Rk[i] = e
        total[i] += e


exp_shifted_sum = _jit(_exp_shifted_sum, exact=True)


@_jit
def logits_tile4(src, s0, mt, Wt, b, Z, ahead, zero):
    """Z[k, r] = src[s0 + r] . Wt[k] + b[k] for r < mt (a multiple of 4), k < Kp (of 4).

    ahead > 0: prefetch the rows ``ahead`` rows further on (C-ordered ``src`` streamed from
    memory); 0 for a panel already in cache.
    """
    Kp, d = Wt.shape
    step = 64 // src.itemsize  # elements per 64-byte cache line
    for r in range(0, mt, 4):
        i = s0 + r
        if ahead:  # half the tile's rows ``ahead`` rows on (the gradient tile: the rest)
            first = (i + ahead) * d
            for off in range(0, PREFETCH_ROWS * d, step):
                prefetch(src, first + off)
        for kb in range(0, Kp, 4):
            s00 = s01 = s02 = s03 = zero
            s10 = s11 = s12 = s13 = zero
            s20 = s21 = s22 = s23 = zero
            s30 = s31 = s32 = s33 = zero
            for j in range(d):
                x0 = src[i, j]
                x1 = src[i + 1, j]
                x2 = src[i + 2, j]
                x3 = src[i + 3, j]
                w0 = Wt[kb, j]
                w1 = Wt[kb + 1, j]
                w2 = Wt[kb + 2, j]
                w3 = Wt[kb + 3, j]
                s00 += x0 * w0
                s01 += x0 * w1
                s02 += x0 * w2
                s03 += x0 * w3
                s10 += x1 * w0
                s11 += x1 * w1
                s12 += x1 * w2
                s13 += x1 * w3
                s20 += x2 * w0
                s21 += x2 * w1
                s22 += x2 * w2
                s23 += x2 * w3
                s30 += x3 * w0
                s31 += x3 * w1
                s32 += x3 * w2
                s33 += x3 * w3
            b0, b1, b2, b3 = b[kb], b[kb + 1], b[kb + 2], b[kb + 3]
            Z[kb, r], Z[kb + 1, r], Z[kb + 2, r], Z[kb + 3, r] = \
                s00 + b0, s01 + b1, s02 + b2, s03 + b3
            Z[kb, r + 1], Z[kb + 1, r + 1], Z[kb + 2, r + 1], Z[kb + 3, r + 1] = \
                s10 + b0, s11 + b1, s12 + b2, s13 + b3
            Z[kb, r + 2], Z[kb + 1, r + 2], Z[kb + 2, r + 2], Z[kb + 3, r + 2] = \
                s20 + b0, s21 + b1, s22 + b2, s23 + b3
            Z[kb, r + 3], Z[kb + 1, r + 3], Z[kb + 2, r + 3], Z[kb + 3, r + 3] = \
                s30 + b0, s31 + b1, s32 + b2, s33 + b3


@_jit
def logits_tile5(src, s0, mt, Wt, b, Z, ahead, zero):
    """As :func:`logits_tile4` with tiles of 4 rows x 5 classes (Kp a multiple of 5)."""
    Kp, d = Wt.shape
    step = 64 // src.itemsize  # elements per 64-byte cache line
    for r in range(0, mt, 4):
        i = s0 + r
        if ahead:  # half the tile's rows ``ahead`` rows on (the gradient tile: the rest)
            first = (i + ahead) * d
            for off in range(0, PREFETCH_ROWS * d, step):
                prefetch(src, first + off)
        for kb in range(0, Kp, 5):
            s00 = s01 = s02 = s03 = s04 = zero
            s10 = s11 = s12 = s13 = s14 = zero
            s20 = s21 = s22 = s23 = s24 = zero
            s30 = s31 = s32 = s33 = s34 = zero
            for j in range(d):
                x0 = src[i, j]
                x1 = src[i + 1, j]
                x2 = src[i + 2, j]
                x3 = src[i + 3, j]
                w0 = Wt[kb, j]
                w1 = Wt[kb + 1, j]
                w2 = Wt[kb + 2, j]
                w3 = Wt[kb + 3, j]
                w4 = Wt[kb + 4, j]
                s00 += x0 * w0
                s01 += x0 * w1
                s02 += x0 * w2
                s03 += x0 * w3
                s04 += x0 * w4
                s10 += x1 * w0
                s11 += x1 * w1
                s12 += x1 * w2
                s13 += x1 * w3
                s14 += x1 * w4
                s20 += x2 * w0
                s21 += x2 * w1
                s22 += x2 * w2
                s23 += x2 * w3
                s24 += x2 * w4
                s30 += x3 * w0
                s31 += x3 * w1
                s32 += x3 * w2
                s33 += x3 * w3
                s34 += x3 * w4
            b0, b1, b2, b3, b4 = b[kb], b[kb + 1], b[kb + 2], b[kb + 3], b[kb + 4]
            Z[kb, r], Z[kb + 1, r], Z[kb + 2, r], Z[kb + 3, r], Z[kb + 4, r] = \
                s00 + b0, s01 + b1, s02 + b2, s03 + b3, s04 + b4
            Z[kb, r + 1], Z[kb + 1, r + 1], Z[kb + 2, r + 1], Z[kb + 3, r + 1], \
                Z[kb + 4, r + 1] = s10 + b0, s11 + b1, s12 + b2, s13 + b3, s14 + b4
            Z[kb, r + 2], Z[kb + 1, r + 2], Z[kb + 2, r + 2], Z[kb + 3, r + 2], \
                Z[kb + 4, r + 2] = s20 + b0, s21 + b1, s22 + b2, s23 + b3, s24 + b4
            Z[kb, r + 3], Z[kb + 1, r + 3], Z[kb + 2, r + 3], Z[kb + 3, r + 3], \
                Z[kb + 4, r + 3] = s30 + b0, s31 + b1, s32 + b2, s33 + b3, s34 + b4


@_jit
def logits_rows(src, s0, r0, m, Wt, b, K, Z):
    """Z[k, r] for the leftover rows r0 <= r < m (fewer than a tile), k < K."""
    d = Wt.shape[1]
    for r in range(r0, m):
        for k in range(K):
            s = 0.0
            for j in range(d):
                s += src[s0 + r, j] * Wt[k, j]
            Z[k, r] = s + b[k]


@_jit
def accumulate_tile(src, s0, mt, R, acc, ahead):
    """acc[k] += sum_{r < mt} R[k, r] src[s0 + r] (mt a multiple of 4), 4 rows x 4 or 5 classes.

    R (Kp, B) and acc (Kp, d) are padded to Kp classes, a multiple of 4 or 5 (the tile:
    5 when Kp % 5 == 0); padding rows of R are zero. Each vector of x is loaded once for
    16 or 20 FMAs, and the tile's rows of acc stay in L1. ahead > 0: prefetch the rows of
    the tile ``ahead`` rows on that the logits tile left.
    """
    Kp, d = acc.shape
    tile = 5 if Kp % 5 == 0 else 4
    step = 64 // src.itemsize
    for r in range(0, mt, 4):
        i = s0 + r
        if ahead and PREFETCH_ROWS < ROWS:
            first = (i + ahead + PREFETCH_ROWS) * d
            for off in range(0, (ROWS - PREFETCH_ROWS) * d, step):
                prefetch(src, first + off)
        x0r, x1r, x2r, x3r = src[i], src[i + 1], src[i + 2], src[i + 3]
        for k in range(0, Kp, tile):
            a0, a1, a2, a3 = R[k, r], R[k, r + 1], R[k, r + 2], R[k, r + 3]
            c0, c1, c2, c3 = R[k + 1, r], R[k + 1, r + 1], R[k + 1, r + 2], R[k + 1, r + 3]
            e0, e1, e2, e3 = R[k + 2, r], R[k + 2, r + 1], R[k + 2, r + 2], R[k + 2, r + 3]
            f0, f1, f2, f3 = R[k + 3, r], R[k + 3, r + 1], R[k + 3, r + 2], R[k + 3, r + 3]
            A0, A1, A2, A3 = acc[k], acc[k + 1], acc[k + 2], acc[k + 3]
            if tile == 5:
                h0, h1, h2, h3 = R[k + 4, r], R[k + 4, r + 1], R[k + 4, r + 2], R[k + 4, r + 3]
                A4 = acc[k + 4]
                for j in range(d):
                    x0, x1, x2, x3 = x0r[j], x1r[j], x2r[j], x3r[j]
                    A0[j] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                    A1[j] += (c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3)
                    A2[j] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
                    A3[j] += (f0 * x0 + f1 * x1) + (f2 * x2 + f3 * x3)
                    A4[j] += (h0 * x0 + h1 * x1) + (h2 * x2 + h3 * x3)
            else:
                for j in range(d):
                    x0, x1, x2, x3 = x0r[j], x1r[j], x2r[j], x3r[j]
                    A0[j] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                    A1[j] += (c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3)
                    A2[j] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
                    A3[j] += (f0 * x0 + f1 * x1) + (f2 * x2 + f3 * x3)


@_jit
def accumulate_rows(src, s0, r0, m, R, acc):
    """acc[k] += R[k, r] src[s0 + r] for the leftover rows r0 <= r < m."""
    K, d = acc.shape
    for r in range(r0, m):
        for k in range(K):
            rk = R[k, r]
            for j in range(d):
                acc[k, j] += rk * src[s0 + r, j]


# -- F-ordered X, read in place: vectorised along the rows of one column segment ---------------

@_jit
def logits_f(XT, start, m, Wt, b, K, tile, Z, ahead):
    """Z[k, r] = X[start + r] . Wt[k] + b[k] for r < m, k < Kp, from F-ordered X in place.

    XT (d, n) = X.T, C-ordered (passed so, numba knows the rows' unit stride and loads
    vectors instead of gathering). Column j of the block is a contiguous segment, so the
        loop over its m rows runs in vector lanes, with ``tile`` (4 or 5) classes updated
    per load of x (Z's block rows stay
    in L1). ahead > 0: prefetch the same column segment ``ahead`` rows on.
    """
    Kp, d = Wt.shape
    n = XT.shape[1]
    step = 64 // XT.itemsize
    for k in range(Kp):
        bk = b[k]
        for r in range(m):
            Z[k, r] = bk
    for j in range(d):
        if ahead:
            first = j * n + start + ahead
            for off in range(0, m, step):
                prefetch(XT, first + off)
        xj = XT[j, start:start + m]  # a view: indices from range() need no wraparound
        if tile == 5:
            for kb in range(0, Kp, 5):
                w0, w1, w2, w3, w4 = Wt[kb, j], Wt[kb + 1, j], Wt[kb + 2, j], \
                    Wt[kb + 3, j], Wt[kb + 4, j]
                Z0, Z1, Z2, Z3, Z4 = Z[kb], Z[kb + 1], Z[kb + 2], Z[kb + 3], Z[kb + 4]
                for r in range(m):
                    x = xj[r]
                    Z0[r] += x * w0
                    Z1[r] += x * w1
                    Z2[r] += x * w2
                    Z3[r] += x * w3
                    Z4[r] += x * w4
        else:
            for kb in range(0, Kp, 4):
                w0, w1, w2, w3 = Wt[kb, j], Wt[kb + 1, j], Wt[kb + 2, j], Wt[kb + 3, j]
                Z0, Z1, Z2, Z3 = Z[kb], Z[kb + 1], Z[kb + 2], Z[kb + 3]
                for r in range(m):
                    x = xj[r]
                    Z0[r] += x * w0
                    Z1[r] += x * w1
                    Z2[r] += x * w2
                    Z3[r] += x * w3


@_jit
def accumulate_f(XT, start, m, R, acc, zero):
    """acc[k, j] += sum_{r < m} R[k, r] X[start + r, j] from F-ordered X in place (XT = X.T).

    One dot product along the block's column segment per (class, column), four classes
    per load of x; the block's columns are still in cache from :func:`logits_f`. The sums
    start from ``zero`` and so run in its type (float32 in the mixed-precision pass).
    """
    K, d = acc.shape
    for j in range(d):
        xj = XT[j, start:start + m]
        for kb in range(0, K - 3, 4):
            R0, R1, R2, R3 = R[kb], R[kb + 1], R[kb + 2], R[kb + 3]
            s0 = s1 = s2 = s3 = zero
            for r in range(m):
                x = xj[r]
                s0 += R0[r] * x
                s1 += R1[r] * x
                s2 += R2[r] * x
                s3 += R3[r] * x
            acc[kb, j] += s0
            acc[kb + 1, j] += s1
            acc[kb + 2, j] += s2
            acc[kb + 3, j] += s3
        for k in range(K - K % 4, K):
            Rk = R[k]
            s = zero
            for r in range(m):
                s += Rk[r] * xj[r]
            acc[k, j] += s


# -- staging a block of rows into a float32 C-ordered panel (mixed precision) ------------------

@_jit
def stage_c(src, i0, m, panel, ahead):
    """panel[r] = src[i0 + r] rounded to float32, r < m (C-ordered src; prefetch ``ahead``)."""
    d = src.shape[1]
    step = 64 // src.itemsize
    first = (i0 + ahead) * d
    for off in range(0, m * d, step):
        prefetch(src, first + off)
    for r in range(m):
        row = src[i0 + r]
        out = panel[r]
        for j in range(d):
            out[j] = row[j]


@_jit
def stage_f(XT, i0, m, panel, ahead):
    """panel[r, j] = X[i0 + r, j] rounded to float32 from F-ordered X (XT = X.T, C order).

    Reads each column segment contiguously (a blocked transpose into the panel);
    prefetches the same segment ``ahead`` rows on.
    """
    d, n = XT.shape
    step = 64 // XT.itemsize
    for j in range(d):
        first = j * n + i0 + ahead
        for off in range(0, m, step):
            prefetch(XT, first + off)
        xj = XT[j, i0:i0 + m]
        for r in range(m):
            panel[r, j] = xj[r]
