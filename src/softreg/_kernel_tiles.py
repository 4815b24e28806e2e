"""Micro-kernels of :mod:`softreg._kernels` written as plain loops: exp and staging.

The logits and gradient tiles of both orders are explicit-SIMD code in
:mod:`softreg._kernel_simd`. Here: the vectorised exp and log of the softmax, and the
copies that stage a block of rows into a C-ordered panel (float64 X in the mixed-precision
pass).

Why the loops look as they do (checked with numba's ``inspect_asm``):

- Arrays are indexed by ``range`` variables over views (``XT[j, start:start + m]``, not
  ``XT[j, start + r]``): numba's negative-index wraparound on ``start + r`` otherwise makes
  LLVM load with gathers.
- ``exp_shifted_sum`` is a branch-free exp (range reduction by
  ln 2 with a rounding constant, degree-11 minimax polynomial, 2^k put in the exponent
  bits) that LLVM vectorises, at 512 bits on an AVX-512 host (:func:`softreg._simd.wide`);
  numba's ``math.exp`` is a scalar libm call per element (about 3.5x slower measured
  here). Its relative error is below 1e-15 for the max-shifted logits it sees (tested
  against NumPy), so the kernels still agree with the NumPy reference to 1e-12.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._jit import njit
from ._simd import CACHE, bits_to_float64, float64_to_bits, prefetch_l1, wide

numba: Any
try:  # numba is a dependency, but the library still works (more slowly) without it
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None

#: reductions are reassociated (vectorised); no NaN/Inf assumptions are made
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
_OPTIONS = dict(cache=CACHE, nogil=True, fastmath=FASTMATH)
#: the exp keeps the order of its operations (its ln 2 hi/lo split must not be merged)
_EXACT_OPTIONS = dict(cache=CACHE, nogil=True, fastmath={"contract", "nsz"})


#: read the cache line of a[i] into L1 (see :mod:`softreg._simd`)
prefetch = prefetch_l1


def _jit(fn, exact=False):
    """Compile a helper with numba (left as Python where numba is missing)."""
    if numba is None:
        return fn
    return njit(**(_EXACT_OPTIONS if exact else _OPTIONS))(fn)


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
#: 1.5 * 2^52 + 1023: x + _SHIFTER rounds x (|x| < 2^50) to an integer k, whose k + 1023 is
#: then the low bits of the sum's float64 bits
_SHIFTER = 6755399441056767.0
#: exp(f) ~ sum_j _EXP_POLY[j] f^j on |f| <= ln(2) / 2: degree 11, least maximum relative
#: error (Lawson's iteration on 4000 Chebyshev points, residual in extended precision), the
#: two lowest coefficients kept at 1; relative error 1.1e-17 (against exp in 80-bit floats)
#: before float64 rounding, 1.6e-16 measured after it
_EXP_POLY = (1.0, 1.0, 0.5000000000000011, 0.16666666666666413, 0.04166666666653006,
             0.008333333333493714, 0.0013888888943640902, 0.00019841269507529845,
             2.4801493096379712e-05, 2.7557585917309396e-06, 2.7630247288568055e-07,
             2.500011845732854e-08)
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11 = _EXP_POLY


def _exp_shifted_sum(Zk, zmax, Rk, total, m):
    """Rk[:m] = exp(Zk[:m] - zmax[:m]) (arguments <= 0), total[:m] += Rk[:m], in one loop.

    exp(v) = 2^k exp(f) with k = round(v / ln 2) and |f| <= ln(2) / 2; k by adding the
    rounding constant :data:`_SHIFTER` (no floor, no float-to-int conversion: 2^k is then
    the sum's low bits shifted into the exponent field), exp(f) by the degree-11 minimax
    polynomial :data:`_EXP_POLY` (11 FMAs; the degree-12 Taylor polynomial before it
    needed 12 and was less accurate after rounding, 3.6e-16 against 1.6e-16). Arguments
    below -708 give exp(-708).
    """
    wide()
    for i in range(m):
        v = max(Zk[i] - zmax[i], -708.0)
        t = v * _LOG2E + _SHIFTER  # k + 1023 + 1.5 * 2^52, exactly (one rounding)
        kf = t - _SHIFTER  # k, exactly
        f = (v - kf * _LN2_HI) - kf * _LN2_LO
        p = _E11 * f + _E10
        p = p * f + _E9
        p = p * f + _E8
        p = p * f + _E7
        p = p * f + _E6
        p = p * f + _E5
        p = p * f + _E4
        p = p * f + _E3
        p = p * f + _E2
        p = p * f + _E1
        p = p * f + _E0
        e = p * bits_to_float64(float64_to_bits(t) << 52)  # 2^k: k + 1023 in the exponent
        Rk[i] = e
        total[i] += e


exp_shifted_sum = _jit(_exp_shifted_sum, exact=True)
_exp_row64 = njit(**_EXACT_OPTIONS, inline="always")(_exp_shifted_sum)


def _exp_shifted_sum_classes(Z, zmax, R, total, K, m):
    """:func:`exp_shifted_sum` for the rows Z[k], R[k], k < K, in one call (Z, R (>= K, B)).

    A call per class costs about as much as its exps at m = 128 rows.
    """
    wide()
    for k in range(K):
        _exp_row64(Z[k], zmax, R[k], total, m)


exp_shifted_sum_classes = _jit(_exp_shifted_sum_classes, exact=True)


# -- log of the softmax's row sums ------------------------------------------------------------

_SQRT_HALF_BITS = int(np.float64(math.sqrt(0.5)).view(np.int64))
_LN2 = math.log(2.0)


def _log_positive(t, out, m):
    """out[:m] = log(t[:m]) in float64 for finite t > 0 (float32 or float64 t, normal numbers).

    Branch-free, so it vectorises (numba's ``math.log`` is a scalar libm call per
    element): t = 2^e u with u in [sqrt(1/2), sqrt(2)) (e and u from t's bits, integer
    arithmetic only), log u = 2 atanh(s), s = (u-1)/(u+1),
    |s| <= 0.1716, by the odd series to s^15 (truncation below 1e-12 absolute).
    """
    wide()
    for i in range(m):
        bits = float64_to_bits(np.float64(t[i]))
        e = (bits - _SQRT_HALF_BITS) >> 52  # t in [2^e sqrt(1/2), 2^e sqrt(2))
        u = bits_to_float64(bits - (e << 52))  # t / 2^e, by its exponent bits
        s = (u - 1.0) / (u + 1.0)
        q = s * s
        p = 1.0 / 15.0
        p = p * q + 1.0 / 13.0
        p = p * q + 1.0 / 11.0
        p = p * q + 1.0 / 9.0
        p = p * q + 1.0 / 7.0
        p = p * q + 1.0 / 5.0
        p = p * q + 1.0 / 3.0
        p = p * q + 1.0
        out[i] = e * _LN2 + 2.0 * s * p


#: division by zero gives inf (NumPy's rule) instead of a check and an exception per
#: division, which keeps the loop branch-free (numba's default blocks its vectorisation)
log_positive = njit(**_EXACT_OPTIONS, error_model="numpy")(_log_positive) \
    if numba is not None else _log_positive


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
