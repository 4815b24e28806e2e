"""Explicit-SIMD micro-kernels (:mod:`softreg._simd`) for the fused passes.

C order (:func:`logits`, :func:`logits_pieces`, :func:`accumulate`, :func:`accumulate5`)
and F order
(:func:`logits_t`, :func:`accumulate_t`: lanes over rows along X.T's contiguous column
segments, described in their docstrings; no padding lanes there).

Shapes: ``src`` (rows, d) C-ordered block source (X itself, or a staged panel), float32 or
float64; ``Wp`` (d, Kp) = W padded with zero classes to Kp, a multiple of the vector's
lanes, in the arithmetic's dtype (``zero``'s: float64, or float32 in the mixed pass);
``Z`` (B, Kp) row-major logits block in that dtype; ``R`` (>= Kg, B) class-major
residuals in that dtype, rows K.. zero; ``acc`` (Kg, d) the gradient accumulator in that
dtype, Kg = K rounded up to a multiple of the class tile (:func:`class_tile`: 4 or 5).

- :func:`logits`: lanes over classes. Per feature j, one vector of W's row j is loaded
  per class vector and multiplied by x_ij broadcast to every lane, for 8 rows at once:
  8 x 2 accumulators (16 of the 32 zmm registers) for 10 loads, 16 FMAs per step, no
  horizontal sums and no tail along d. It covers the classes below Kf (:func:`piece_plan`):
  all of Kp (lanes past K padding) where the pieces below save nothing. ``ahead`` > 0:
  one L2 prefetch per row of the tile and per cache line of its features, for the rows
  ``ahead`` on, spread through the loop.
- :func:`logits_pieces`: the rK = K - Kf classes that do not fill a vector, with lanes
  over (class, feature) pairs: a piece of p = L / g classes holds in lane l class
  Kf + l // g and feature offset l % g, multiplied by g consecutive features of the row
  repeated L / g times (one broadcast load: ``vbroadcastsd`` for g = 2 float32,
  ``vbroadcastf64x4`` for g = 8); each group of g lanes is summed once per row. K = 10
  float32: classes 0-7 in groups of 2 features and 8-9 in groups of 8, 5 FMAs per row
  per 8 features instead of 8 (every lane useful), 45 loads to 40 FMAs per step of 8
  rows; the row sums are transposed in registers into the class-major float64 logits
  with the intercept (no copy of a row-major block).
- :func:`accumulate` (:func:`accumulate5`): lanes over features. acc[c, j] += R[c, r]
  x_rj for 4 (5) classes x 4 vectors of features held in 16 (20) registers through all
  the block's rows (4 loads and 4 (5) broadcast FMAs' operands per row), then added to
  ``acc`` once per block; the features left over (d not a multiple of 4 vectors) three
  (:func:`accumulate5`, while more than two are left) or two vectors at a time, row by
  row, the last one or two with masked loads and stores. float32 d = 100: 4 + 3 vectors
  (the third masked) per class tile, where 4 + 2 + a masked one took an extra sweep over
  the block's rows: the tile on a block in cache 2.92 -> 2.78 ms per 200 000 rows, the
  mixed pass 0.967-0.980x (paired medians of 31 alternating reps of 5 passes, one process).
  Every tile takes its lane count from the arithmetic's scalar
  (:func:`softreg._simd.lanes_of`), a compile-time constant: the vector offsets fold
  into the loads' addresses instead of living in spilled registers.

What the assembly of the C-order tiles shows (``inspect_asm``, AVX-512 host, float64 and
float32 alike):
zmm FMAs only, the R broadcasts folded into the FMAs (``{1to8}``/``{1to16}``), the x
broadcasts of the logits as broadcast loads, no register spills in the inner loops. Each
function calls :func:`softreg._simd.wide` first; without it LLVM splits every 512-bit
operation in two (this host's LLVM prefers 256-bit vectors). :func:`logits_pieces`'
inner loop (float32, K = 10): 40 FMAs, 40 broadcast loads of x (``vbroadcastsd``,
``vbroadcastf64x4``), 5 vector loads of W and the loop's counters, zmm only, no stack
access (the masked last step of d, once per tile, reloads a few spilled addresses).

Measured, one thread, n = 200 000, d = 100, K = 10, per pass over X (best of several; the
machine was shared): the gradient tiles in cache 6.3 ms float64 / 3.4 ms float32 (the
256-bit register tiles they replace: 12.3 ms float64); the logits 9 ms float64 / 5 ms
float32 in cache. Streaming X from memory is what the old tiles lost most to: logits
alone took 21 ms float64 / 11 ms float32 reading X without prefetch, 11.5 / 5.6 ms with
the L2 prefetches above (prefetching into L1 in bursts, as before, was slower than none).

The pieces (same conditions; one process, old and new interleaved, best of 15, CPU
time): float32 K = 10 logits from memory 5.9 ms plus a 0.7 ms copy into the class-major
block before, 4.5 ms now with the transposed store (in cache 4.7 -> 3.7 ms without it);
the whole mixed pass (:func:`softreg._kernels.fused_pass`) 14.8 -> 13.0 ms (0.88x), K =
100 mixed (n = 50 000) 26.7 -> 24.0 ms (0.90x), K = 100 float64 41.5 -> 40.5 ms (0.98x;
4 leftover classes in groups of 2). Where K // L is odd (float64 K = 10: 8 + 2 classes),
the whole vectors would end in a single-vector loop instead of the old pair with the
padded vector: measured 4% slower per pass, so those keep the old tile (0.99x, unchanged
code). The leftover gradient vectors two at a time: float32 d = 100, 4.64 -> 4.42 ms
per 200 000 rows in cache.

The arithmetic is the same sums in another order: the float64 pass agrees with the NumPy
reference to 1e-12 (tested); the float32 one is float32-accurate (tested against a bound).
"""

from __future__ import annotations

import functools
from typing import Any

from ._jit import njit
from ._simd import CACHE, LANES32, LANES64, numba

if numba is not None:
    from ._simd import (
        add,
        fma,
        hsum,
        lanes_of,
        loadas,
        loadas_mask,
        loadrep,
        loadrep_mask,
        piece_sums,
        prefetch_l2,
        splat,
        splatas,
        store,
        store_columns,
        store_mask,
        wide,
    )

_OPTIONS = dict(cache=CACHE, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})

#: rows per logits tile
TILE_ROWS = 8


def _jit(fn):
    if numba is None:
        return fn
    return njit(**_OPTIONS)(fn)


def lanes(itemsize: int) -> int:
    """Lanes per vector for an arithmetic of ``itemsize`` bytes (8: float64, 4: float32)."""
    return LANES64 if itemsize == 8 else LANES32


def padded_classes(K: int, itemsize: int) -> int:
    """Kp: K rounded up to a multiple of the vector's lanes."""
    L = lanes(itemsize)
    return -(-K // L) * L


@_jit
def class_tile(K):
    """The gradient's class tile (4 or 5) that pads K the least (4 on a tie)."""
    return 5 if -K % 5 < -K % 4 else 4


@_jit
def gradient_classes(K):
    """Kg: K rounded up to a multiple of the gradient's class tile (:func:`class_tile`)."""
    tile = class_tile(K)
    return -(-K // tile) * tile


@_jit
def prefetch_rows(src, i, rows):
    """Hint the CPU to bring rows i.. i + rows of C-ordered src into L2 (past the end: no-op)."""
    d = src.shape[1]
    first = i * d
    end = min(i + rows, src.shape[0]) * d
    step = 64 // src.itemsize
    for off in range(first, end, step):
        prefetch_l2(src, off)


@_jit
def logits(src, s0, m, Wp, Kf, Z, zero, ahead):
    """Z[r, :Kf] = src[s0 + r] @ Wp[:, :Kf] for r < m (no intercept); Kf a multiple of the
    lanes (Kp: all of Wp); see the module docstring."""
    wide()
    d = src.shape[1]
    Kp = Wp.shape[1]
    L = lanes_of(zero)  # a constant: offsets fold into the loads
    mt = m - m % TILE_ROWS
    step = 64 // src.itemsize
    pairs = Kf - Kf % (2 * L)
    for r in range(0, mt, TILE_ROWS):
        i = s0 + r
        for k0 in range(0, pairs, 2 * L):
            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = splat(zero)
            a40 = a41 = a50 = a51 = a60 = a61 = a70 = a71 = splat(zero)
            for jc in range(0, d, step):
                if ahead and k0 == 0:  # the tile's rows ``ahead`` on: one line each
                    p = (i + ahead) * d + jc
                    for q in range(TILE_ROWS):
                        prefetch_l2(src, p + q * d)
                for j in range(jc, min(jc + step, d)):
                    w = j * Kp + k0
                    w0, w1 = loadas(Wp, w, zero), loadas(Wp, w + L, zero)
                    x = splatas(src[i, j], zero)
                    a00, a01 = fma(x, w0, a00), fma(x, w1, a01)
                    x = splatas(src[i + 1, j], zero)
                    a10, a11 = fma(x, w0, a10), fma(x, w1, a11)
                    x = splatas(src[i + 2, j], zero)
                    a20, a21 = fma(x, w0, a20), fma(x, w1, a21)
                    x = splatas(src[i + 3, j], zero)
                    a30, a31 = fma(x, w0, a30), fma(x, w1, a31)
                    x = splatas(src[i + 4, j], zero)
                    a40, a41 = fma(x, w0, a40), fma(x, w1, a41)
                    x = splatas(src[i + 5, j], zero)
                    a50, a51 = fma(x, w0, a50), fma(x, w1, a51)
                    x = splatas(src[i + 6, j], zero)
                    a60, a61 = fma(x, w0, a60), fma(x, w1, a61)
                    x = splatas(src[i + 7, j], zero)
                    a70, a71 = fma(x, w0, a70), fma(x, w1, a71)
            z = r * Kp + k0
            store(Z, z + 0 * Kp, a00)
            store(Z, z + 0 * Kp + L, a01)
            store(Z, z + 1 * Kp, a10)
            store(Z, z + 1 * Kp + L, a11)
            store(Z, z + 2 * Kp, a20)
            store(Z, z + 2 * Kp + L, a21)
            store(Z, z + 3 * Kp, a30)
            store(Z, z + 3 * Kp + L, a31)
            store(Z, z + 4 * Kp, a40)
            store(Z, z + 4 * Kp + L, a41)
            store(Z, z + 5 * Kp, a50)
            store(Z, z + 5 * Kp + L, a51)
            store(Z, z + 6 * Kp, a60)
            store(Z, z + 6 * Kp + L, a61)
            store(Z, z + 7 * Kp, a70)
            store(Z, z + 7 * Kp + L, a71)
        if pairs < Kf:
            k0 = pairs
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = splat(zero)
            for jc in range(0, d, step):
                if ahead and pairs == 0:
                    p = (i + ahead) * d + jc
                    for q in range(TILE_ROWS):
                        prefetch_l2(src, p + q * d)
                for j in range(jc, min(jc + step, d)):
                    w0 = loadas(Wp, j * Kp + k0, zero)
                    a0 = fma(splatas(src[i + 0, j], zero), w0, a0)
                    a1 = fma(splatas(src[i + 1, j], zero), w0, a1)
                    a2 = fma(splatas(src[i + 2, j], zero), w0, a2)
                    a3 = fma(splatas(src[i + 3, j], zero), w0, a3)
                    a4 = fma(splatas(src[i + 4, j], zero), w0, a4)
                    a5 = fma(splatas(src[i + 5, j], zero), w0, a5)
                    a6 = fma(splatas(src[i + 6, j], zero), w0, a6)
                    a7 = fma(splatas(src[i + 7, j], zero), w0, a7)
            z = r * Kp + k0
            store(Z, z + 0 * Kp, a0)
            store(Z, z + 1 * Kp, a1)
            store(Z, z + 2 * Kp, a2)
            store(Z, z + 3 * Kp, a3)
            store(Z, z + 4 * Kp, a4)
            store(Z, z + 5 * Kp, a5)
            store(Z, z + 6 * Kp, a6)
            store(Z, z + 7 * Kp, a7)
    for r in range(mt, m):
        i = s0 + r
        for k0 in range(0, Kf, L):
            a0 = splat(zero)
            for j in range(d):
                a0 = fma(splatas(src[i, j], zero), loadas(Wp, j * Kp + k0, zero), a0)
            store(Z, r * Kp + k0, a0)


def piece_plan(K: int, itemsize: int) -> tuple[int, int, int]:
    """(Kf, g1, g2): how :func:`logits` and :func:`logits_pieces` split K classes.

    Classes below Kf (a multiple of the lanes L) in whole vectors, lanes over classes; the
    rK = K - Kf after them in one or two feature-interleaved pieces of p1 = L / g1 and
    p2 = L / g2 classes (p1 the largest power of 2 <= rK, p2 the next power of 2 >= rK - p1,
    g2 = 0 when rK = p1). g1 = 0: no pieces, Kf = Kp (the padded count): where K is a
    multiple of L, where p1 + p2 = L (the pieces cost as many FMAs as a vector of padded
    classes) and where K // L is odd: the whole vectors then end in a single-vector loop
    (8 FMAs to 9 loads) instead of the old tile's last pair with the padded vector, which
    measured slower in all (float64 K = 10: 27.2 ms per pass against 26.1).
    """
    L = lanes(itemsize)
    rK = K % L
    Kp = padded_classes(K, itemsize)
    if rK == 0:
        return Kp, 0, 0
    p1 = 1 << (rK.bit_length() - 1)
    rest = rK - p1
    p2 = 1 << (rest - 1).bit_length() if rest else 0
    if p1 + p2 >= L or (K // L) % 2:  # no FMA saved; or an odd count of whole vectors,
        return Kp, 0, 0  # whose last pair (with the padded one) the pieces would break up
    return K - rK, L // p1, L // p2 if p2 else 0


def piece_weights(W, Kf: int, g1: int, g2: int, dtype) -> Any:
    """The weights of :func:`logits_pieces`: (steps, (G / g1 + 1) L) in ``dtype``.

    W (d, K). G = g2 (g1 without a second piece) features per step; step s, vector t <
    G / g1, lane l: W[s G + t g1 + l % g1, Kf + l // g1]; vector G / g1 (second piece):
    W[s G + l % g2, Kf + L / g1 + l // g2]; zero past d and past K.
    """
    import numpy as np

    d, K = W.shape
    L = lanes(np.dtype(dtype).itemsize)
    if g1 == 0:
        return np.zeros((0, L), dtype)
    index, width = _piece_index(d, K, Kf, g1, g2, L)
    Wpad = np.zeros((d + 1, width), dtype)  # row d and the columns past K: the zeros
    Wpad[:d, :K] = W
    return Wpad.ravel()[index]


@functools.lru_cache(maxsize=64)
def _piece_index(d: int, K: int, Kf: int, g1: int, g2: int, L: int):
    """(flat indices into a zero-padded (d + 1, width) copy of W, width) for
    :func:`piece_weights`: computed once per shape (a pass over Dask partitions or a
    fit's passes build the same layout again and again)."""
    import numpy as np

    G = g2 if g2 else g1
    nA = G // g1
    steps = -(-d // G)
    width = max(K, Kf + 2 * L)
    index = np.empty((steps, nA + 1, L), np.intp)
    lane = np.arange(L)
    p1 = L // g1

    def flat(rows, cols):
        rows = np.where(rows < d, rows, d)  # past d: the zero row
        cols = np.where(cols < K, cols, width - 1)  # past K: a zero column (width > K)
        return rows * width + cols

    for t in range(nA):
        rows = np.arange(steps)[:, None] * G + t * g1 + lane % g1
        index[:, t] = flat(rows, np.broadcast_to(Kf + lane // g1, rows.shape))
    if g2:
        rows = np.arange(steps)[:, None] * G + lane % g2
        index[:, nA] = flat(rows, np.broadcast_to(Kf + p1 + lane // g2, rows.shape))
    else:
        index[:, nA] = d * width + width - 1  # no second piece: zeros
    flat_index = index.reshape(steps, -1)
    flat_index.flags.writeable = False
    return flat_index, width


@_jit
def logits_pieces(src, s0, m, Wq, Kf, K, ga, gb, Zr, Z, b, zero, ahead):
    """Z[k, r] = src[s0 + r] @ W[:, k] + b[k], Kf <= k < K, r < m, from :func:`piece_weights`.

    ga, gb: tuples of g1, g2 entries (:func:`piece_plan`; the lengths are compile-time
    constants). Per step of G features and row, G / g1 broadcasts of g1 features of x
    (lanes (class Kf + l // g1, feature l % g1)) times W's vectors and one of g2 features
    for the second piece: 8 rows x 2 accumulators, reduced per row by
    :func:`softreg._simd.piece_sums` and transposed by :func:`softreg._simd.store_columns`
    into the class-major float64 Z (Kp, B) with the intercept (b: >= Kf + P entries; Z's
    rows K .. Kf + P, P = L / g1 + L / g2, get the padding classes' zeros). The rows past
    the last tile one at a time, through Zr (B, Kp) row r as scratch. The last step of a d
    not a multiple of G loads x masked (never past the row). ahead > 0: L2 prefetch as
    :func:`logits`.
    """
    wide()
    d = src.shape[1]
    Kp = Zr.shape[1]
    B = Z.shape[1]
    g1 = len(ga)
    g2 = len(gb)
    G = g2 if g2 else g1
    nA = G // g1
    L = lanes_of(zero)
    nv = (nA + 1) * L
    rK = K - Kf
    dG = d - d % G
    step = max(64 // src.itemsize, G)  # a multiple of G: both powers of 2
    mt = m - m % TILE_ROWS
    for r in range(0, mt, TILE_ROWS):
        i = s0 + r
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = splat(zero)
        b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = splat(zero)
        for jc in range(0, d, step):
            if ahead:  # the tile's rows ``ahead`` on: one line each
                p = (i + ahead) * d + jc
                for q in range(TILE_ROWS):
                    prefetch_l2(src, p + q * d)
            for j in range(jc, min(jc + step, dG), G):
                o = (j // G) * nv
                x = i * d + j
                for t in range(nA):
                    w = loadas(Wq, o + t * L, zero)
                    xt = x + t * g1
                    a0 = fma(loadrep(src, xt, ga, zero), w, a0)
                    a1 = fma(loadrep(src, xt + d, ga, zero), w, a1)
                    a2 = fma(loadrep(src, xt + 2 * d, ga, zero), w, a2)
                    a3 = fma(loadrep(src, xt + 3 * d, ga, zero), w, a3)
                    a4 = fma(loadrep(src, xt + 4 * d, ga, zero), w, a4)
                    a5 = fma(loadrep(src, xt + 5 * d, ga, zero), w, a5)
                    a6 = fma(loadrep(src, xt + 6 * d, ga, zero), w, a6)
                    a7 = fma(loadrep(src, xt + 7 * d, ga, zero), w, a7)
                if g2:
                    w = loadas(Wq, o + nA * L, zero)
                    b0 = fma(loadrep(src, x, gb, zero), w, b0)
                    b1 = fma(loadrep(src, x + d, gb, zero), w, b1)
                    b2 = fma(loadrep(src, x + 2 * d, gb, zero), w, b2)
                    b3 = fma(loadrep(src, x + 3 * d, gb, zero), w, b3)
                    b4 = fma(loadrep(src, x + 4 * d, gb, zero), w, b4)
                    b5 = fma(loadrep(src, x + 5 * d, gb, zero), w, b5)
                    b6 = fma(loadrep(src, x + 6 * d, gb, zero), w, b6)
                    b7 = fma(loadrep(src, x + 7 * d, gb, zero), w, b7)
        if dG < d:  # the last features: masked loads, never past the row
            o = (dG // G) * nv
            x = i * d + dG
            for t in range(nA):
                w = loadas(Wq, o + t * L, zero)
                xt = x + t * g1
                c = d - dG - t * g1
                a0 = fma(loadrep_mask(src, xt, c, ga, zero), w, a0)
                a1 = fma(loadrep_mask(src, xt + d, c, ga, zero), w, a1)
                a2 = fma(loadrep_mask(src, xt + 2 * d, c, ga, zero), w, a2)
                a3 = fma(loadrep_mask(src, xt + 3 * d, c, ga, zero), w, a3)
                a4 = fma(loadrep_mask(src, xt + 4 * d, c, ga, zero), w, a4)
                a5 = fma(loadrep_mask(src, xt + 5 * d, c, ga, zero), w, a5)
                a6 = fma(loadrep_mask(src, xt + 6 * d, c, ga, zero), w, a6)
                a7 = fma(loadrep_mask(src, xt + 7 * d, c, ga, zero), w, a7)
            if g2:
                w = loadas(Wq, o + nA * L, zero)
                c = d - dG
                b0 = fma(loadrep_mask(src, x, c, gb, zero), w, b0)
                b1 = fma(loadrep_mask(src, x + d, c, gb, zero), w, b1)
                b2 = fma(loadrep_mask(src, x + 2 * d, c, gb, zero), w, b2)
                b3 = fma(loadrep_mask(src, x + 3 * d, c, gb, zero), w, b3)
                b4 = fma(loadrep_mask(src, x + 4 * d, c, gb, zero), w, b4)
                b5 = fma(loadrep_mask(src, x + 5 * d, c, gb, zero), w, b5)
                b6 = fma(loadrep_mask(src, x + 6 * d, c, gb, zero), w, b6)
                b7 = fma(loadrep_mask(src, x + 7 * d, c, gb, zero), w, b7)
        store_columns(Z, Kf * B + r, B, b, Kf, piece_sums(a0, ga, b0, gb),
                      piece_sums(a1, ga, b1, gb), piece_sums(a2, ga, b2, gb),
                      piece_sums(a3, ga, b3, gb), piece_sums(a4, ga, b4, gb),
                      piece_sums(a5, ga, b5, gb), piece_sums(a6, ga, b6, gb),
                      piece_sums(a7, ga, b7, gb), ga, gb)
    for r in range(mt, m):
        x = (s0 + r) * d
        a0 = b0 = splat(zero)
        for j in range(0, dG, G):
            o = (j // G) * nv
            for t in range(nA):
                a0 = fma(loadrep(src, x + j + t * g1, ga, zero), loadas(Wq, o + t * L, zero),
                         a0)
            if g2:
                b0 = fma(loadrep(src, x + j, gb, zero), loadas(Wq, o + nA * L, zero), b0)
        if dG < d:
            o = (dG // G) * nv
            for t in range(nA):
                a0 = fma(loadrep_mask(src, x + dG + t * g1, d - dG - t * g1, ga, zero),
                         loadas(Wq, o + t * L, zero), a0)
            if g2:
                b0 = fma(loadrep_mask(src, x + dG, d - dG, gb, zero),
                         loadas(Wq, o + nA * L, zero), b0)
        store_mask(Zr, r * Kp + Kf, piece_sums(a0, ga, b0, gb), rK)
        for k in range(Kf, K):
            Z[k, r] = Zr[r, k] + b[k]


@_jit
def accumulate(src, s0, m, R, acc, zero):
    """acc[c] += sum_{r < m} R[c, r] src[s0 + r] for c < Kg; see the module docstring."""
    wide()
    Kg, d = acc.shape
    L = lanes_of(zero)  # a constant: offsets fold into the loads
    full = d // L
    j4 = (full - full % 4) * L
    for c in range(0, Kg, 4):
        R0, R1, R2, R3 = R[c], R[c + 1], R[c + 2], R[c + 3]
        for j0 in range(0, j4, 4 * L):
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = splat(zero)
            a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = splat(zero)
            for r in range(m):
                x = (s0 + r) * d + j0
                x0, x1 = loadas(src, x, zero), loadas(src, x + L, zero)
                x2, x3 = loadas(src, x + 2 * L, zero), loadas(src, x + 3 * L, zero)
                g = splatas(R0[r], zero)
                a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                g = splatas(R1[r], zero)
                a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                g = splatas(R2[r], zero)
                a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                g = splatas(R3[r], zero)
                a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
            o = c * d + j0
            store(acc, o, add(loadas(acc, o, zero), a00))
            store(acc, o + L, add(loadas(acc, o + L, zero), a01))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a02))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a03))
            o = (c + 1) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a10))
            store(acc, o + L, add(loadas(acc, o + L, zero), a11))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a12))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a13))
            o = (c + 2) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a20))
            store(acc, o + L, add(loadas(acc, o + L, zero), a21))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a22))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a23))
            o = (c + 3) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a30))
            store(acc, o + L, add(loadas(acc, o + L, zero), a31))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a32))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a33))
        jp = j4
        while d - jp > L:  # two leftover vectors at once, the second maybe partial
            cnt = min(L, d - jp - L)
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = splat(zero)
            for r in range(m):
                x = (s0 + r) * d + jp
                x0 = loadas(src, x, zero)
                x1 = loadas_mask(src, x + L, cnt, zero)
                g = splatas(R0[r], zero)
                a0, b0 = fma(g, x0, a0), fma(g, x1, b0)
                g = splatas(R1[r], zero)
                a1, b1 = fma(g, x0, a1), fma(g, x1, b1)
                g = splatas(R2[r], zero)
                a2, b2 = fma(g, x0, a2), fma(g, x1, b2)
                g = splatas(R3[r], zero)
                a3, b3 = fma(g, x0, a3), fma(g, x1, b3)
            o = c * d + jp
            store(acc, o, add(loadas(acc, o, zero), a0))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b0), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a1))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b1), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a2))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b2), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a3))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b3), cnt)
            jp += 2 * L
        for j0 in range(jp, d, L):  # the last leftover vector; maybe partial
            cnt = min(L, d - j0)
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = splat(zero)
            for r in range(0, m - 1, 2):
                x = (s0 + r) * d + j0
                x0 = loadas_mask(src, x, cnt, zero)
                x1 = loadas_mask(src, x + d, cnt, zero)
                a0, b0 = fma(splatas(R0[r], zero), x0, a0), fma(splatas(R0[r + 1], zero), x1, b0)
                a1, b1 = fma(splatas(R1[r], zero), x0, a1), fma(splatas(R1[r + 1], zero), x1, b1)
                a2, b2 = fma(splatas(R2[r], zero), x0, a2), fma(splatas(R2[r + 1], zero), x1, b2)
                a3, b3 = fma(splatas(R3[r], zero), x0, a3), fma(splatas(R3[r + 1], zero), x1, b3)
            if m % 2:
                r = m - 1
                x0 = loadas_mask(src, (s0 + r) * d + j0, cnt, zero)
                a0, a1 = fma(splatas(R0[r], zero), x0, a0), fma(splatas(R1[r], zero), x0, a1)
                a2, a3 = fma(splatas(R2[r], zero), x0, a2), fma(splatas(R3[r], zero), x0, a3)
            o = c * d + j0
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a0), b0), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a1), b1), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a2), b2), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a3), b3), cnt)


@_jit
def accumulate5(src, s0, m, R, acc, zero):
    """As :func:`accumulate` with tiles of 5 classes (Kg a multiple of 5): 20 registers;
    leftover features three vectors at a time first (15 registers)."""
    wide()
    Kg, d = acc.shape
    L = lanes_of(zero)  # a constant: offsets fold into the loads
    full = d // L
    j4 = (full - full % 4) * L
    for c in range(0, Kg, 5):
        R0, R1, R2, R3, R4 = R[c], R[c + 1], R[c + 2], R[c + 3], R[c + 4]
        for j0 in range(0, j4, 4 * L):
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = a22 = a23 = splat(zero)
            a30 = a31 = a32 = a33 = a40 = a41 = a42 = a43 = splat(zero)
            for r in range(m):
                x = (s0 + r) * d + j0
                x0, x1 = loadas(src, x, zero), loadas(src, x + L, zero)
                x2, x3 = loadas(src, x + 2 * L, zero), loadas(src, x + 3 * L, zero)
                g = splatas(R0[r], zero)
                a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                g = splatas(R1[r], zero)
                a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                g = splatas(R2[r], zero)
                a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                g = splatas(R3[r], zero)
                a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                g = splatas(R4[r], zero)
                a40, a41 = fma(g, x0, a40), fma(g, x1, a41)
                a42, a43 = fma(g, x2, a42), fma(g, x3, a43)
            o = c * d + j0
            store(acc, o, add(loadas(acc, o, zero), a00))
            store(acc, o + L, add(loadas(acc, o + L, zero), a01))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a02))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a03))
            o = (c + 1) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a10))
            store(acc, o + L, add(loadas(acc, o + L, zero), a11))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a12))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a13))
            o = (c + 2) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a20))
            store(acc, o + L, add(loadas(acc, o + L, zero), a21))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a22))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a23))
            o = (c + 3) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a30))
            store(acc, o + L, add(loadas(acc, o + L, zero), a31))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a32))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a33))
            o = (c + 4) * d + j0
            store(acc, o, add(loadas(acc, o, zero), a40))
            store(acc, o + L, add(loadas(acc, o + L, zero), a41))
            store(acc, o + 2 * L, add(loadas(acc, o + 2 * L, zero), a42))
            store(acc, o + 3 * L, add(loadas(acc, o + 3 * L, zero), a43))
        jp = j4
        while d - jp > 2 * L:  # three leftover vectors at once, the third maybe partial
            cnt = min(L, d - jp - 2 * L)
            a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = splat(zero)
            e0 = e1 = e2 = e3 = e4 = splat(zero)
            for r in range(m):
                x = (s0 + r) * d + jp
                x0 = loadas(src, x, zero)
                x1 = loadas(src, x + L, zero)
                x2 = loadas_mask(src, x + 2 * L, cnt, zero)
                g = splatas(R0[r], zero)
                a0, b0, e0 = fma(g, x0, a0), fma(g, x1, b0), fma(g, x2, e0)
                g = splatas(R1[r], zero)
                a1, b1, e1 = fma(g, x0, a1), fma(g, x1, b1), fma(g, x2, e1)
                g = splatas(R2[r], zero)
                a2, b2, e2 = fma(g, x0, a2), fma(g, x1, b2), fma(g, x2, e2)
                g = splatas(R3[r], zero)
                a3, b3, e3 = fma(g, x0, a3), fma(g, x1, b3), fma(g, x2, e3)
                g = splatas(R4[r], zero)
                a4, b4, e4 = fma(g, x0, a4), fma(g, x1, b4), fma(g, x2, e4)
            o = c * d + jp
            for q, v, w, u in ((0, a0, b0, e0), (1, a1, b1, e1), (2, a2, b2, e2),
                               (3, a3, b3, e3), (4, a4, b4, e4)):
                oq = o + q * d
                store(acc, oq, add(loadas(acc, oq, zero), v))
                store(acc, oq + L, add(loadas(acc, oq + L, zero), w))
                store_mask(acc, oq + 2 * L, add(loadas_mask(acc, oq + 2 * L, cnt, zero), u),
                           cnt)
            jp += 3 * L
        while d - jp > L:  # two leftover vectors at once, the second maybe partial
            cnt = min(L, d - jp - L)
            a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = splat(zero)
            for r in range(m):
                x = (s0 + r) * d + jp
                x0 = loadas(src, x, zero)
                x1 = loadas_mask(src, x + L, cnt, zero)
                g = splatas(R0[r], zero)
                a0, b0 = fma(g, x0, a0), fma(g, x1, b0)
                g = splatas(R1[r], zero)
                a1, b1 = fma(g, x0, a1), fma(g, x1, b1)
                g = splatas(R2[r], zero)
                a2, b2 = fma(g, x0, a2), fma(g, x1, b2)
                g = splatas(R3[r], zero)
                a3, b3 = fma(g, x0, a3), fma(g, x1, b3)
                g = splatas(R4[r], zero)
                a4, b4 = fma(g, x0, a4), fma(g, x1, b4)
            o = c * d + jp
            store(acc, o, add(loadas(acc, o, zero), a0))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b0), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a1))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b1), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a2))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b2), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a3))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b3), cnt)
            o += d
            store(acc, o, add(loadas(acc, o, zero), a4))
            store_mask(acc, o + L, add(loadas_mask(acc, o + L, cnt, zero), b4), cnt)
            jp += 2 * L
        for j0 in range(jp, d, L):  # the last leftover vector; maybe partial
            cnt = min(L, d - j0)
            a0 = a1 = a2 = a3 = a4 = b0 = b1 = b2 = b3 = b4 = splat(zero)
            for r in range(0, m - 1, 2):
                x = (s0 + r) * d + j0
                x0 = loadas_mask(src, x, cnt, zero)
                x1 = loadas_mask(src, x + d, cnt, zero)
                a0, b0 = fma(splatas(R0[r], zero), x0, a0), fma(splatas(R0[r + 1], zero), x1, b0)
                a1, b1 = fma(splatas(R1[r], zero), x0, a1), fma(splatas(R1[r + 1], zero), x1, b1)
                a2, b2 = fma(splatas(R2[r], zero), x0, a2), fma(splatas(R2[r + 1], zero), x1, b2)
                a3, b3 = fma(splatas(R3[r], zero), x0, a3), fma(splatas(R3[r + 1], zero), x1, b3)
                a4, b4 = fma(splatas(R4[r], zero), x0, a4), fma(splatas(R4[r + 1], zero), x1, b4)
            if m % 2:
                r = m - 1
                x0 = loadas_mask(src, (s0 + r) * d + j0, cnt, zero)
                a0, a1 = fma(splatas(R0[r], zero), x0, a0), fma(splatas(R1[r], zero), x0, a1)
                a2, a3 = fma(splatas(R2[r], zero), x0, a2), fma(splatas(R3[r], zero), x0, a3)
                a4 = fma(splatas(R4[r], zero), x0, a4)
            o = c * d + j0
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a0), b0), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a1), b1), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a2), b2), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a3), b3), cnt)
            o += d
            store_mask(acc, o, add(add(loadas_mask(acc, o, cnt, zero), a4), b4), cnt)


@_jit
def logits_t(XT, start, m, Wt, b, Z, zero, ahead):
    """Z[k, r] = X[start + r] . Wt[k] + b[k], r < m, k < Kt, from F-ordered X in place.

    XT (d, n) = X.T, C-ordered; Wt (Kt, d) = W^T padded to Kt, a multiple of the class tile
    (5 when Kt % 5 == 0, else 4); b (Kt,); Z (Kt, B) class-major, in zero's dtype. Lanes
    over rows: column j of the block is a contiguous segment of XT's row j, so 4 vectors
    of it are loaded per feature and multiplied by W[j, k] broadcast, for 4 or 5 classes:
    16 or 20 accumulators, no horizontal sums, no padding lanes; the rows past the last
    4 vectors one vector at a time, the last one masked. ahead > 0: each segment
    ``ahead`` rows on is prefetched into L2, the columns shared out over the nt = Kt / tile
    class tiles (tile t prefetches columns t, t + nt, ..), so the prefetches spread over
    the whole logits sweep. All of them in the first tile, as before, asked for a block's
    worth of lines in a fifth of the time and stalled: float64 F order, n = 200 000, d =
    100, K = 10, one thread, best of 15 interleaved, the pass 30.0 -> 24.0 ms (0.79-0.80x;
    C order 24 ms alike), float32 mixed 15.5 -> 14.5 ms, float32 in float64 0.94-0.99x,
    K = 100 (n = 50 000) 1.01-1.03x (noise; a ``j % nt`` test in the loop instead of the
    counter made that case 1.15x).
    """
    wide()
    d, n = XT.shape
    Kt = Wt.shape[0]
    B = Z.shape[1]
    L = LANES64 if Z.itemsize == 8 else LANES32
    tile = 5 if Kt % 5 == 0 else 4
    nt = Kt // tile
    m4 = m - m % (4 * L)
    for k in range(0, Kt, tile):
        kt = k // tile
        for r0 in range(0, m4, 4 * L):
            if tile == 5:
                a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = splat(zero)
                a22 = a23 = a30 = a31 = a32 = a33 = a40 = a41 = a42 = a43 = splat(zero)
                jp = kt if ahead else d  # the next column this tile prefetches
                for j in range(d):
                    x = j * n + start + r0
                    if j == jp:  # this tile's share: the columns kt, kt + nt, ..
                        for off in range(0, 4 * L, 64 // XT.itemsize):
                            prefetch_l2(XT, x + ahead + off)
                        jp += nt
                    x0, x1 = loadas(XT, x, zero), loadas(XT, x + L, zero)
                    x2, x3 = loadas(XT, x + 2 * L, zero), loadas(XT, x + 3 * L, zero)
                    g = splatas(Wt[k, j], zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = splatas(Wt[k + 1, j], zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = splatas(Wt[k + 2, j], zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = splatas(Wt[k + 3, j], zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                    g = splatas(Wt[k + 4, j], zero)
                    a40, a41 = fma(g, x0, a40), fma(g, x1, a41)
                    a42, a43 = fma(g, x2, a42), fma(g, x3, a43)
                g = splatas(b[k], zero)
                z = (k) * B + r0
                store(Z, z, add(a00, g))
                store(Z, z + L, add(a01, g))
                store(Z, z + 2 * L, add(a02, g))
                store(Z, z + 3 * L, add(a03, g))
                g = splatas(b[k + 1], zero)
                z = (k + 1) * B + r0
                store(Z, z, add(a10, g))
                store(Z, z + L, add(a11, g))
                store(Z, z + 2 * L, add(a12, g))
                store(Z, z + 3 * L, add(a13, g))
                g = splatas(b[k + 2], zero)
                z = (k + 2) * B + r0
                store(Z, z, add(a20, g))
                store(Z, z + L, add(a21, g))
                store(Z, z + 2 * L, add(a22, g))
                store(Z, z + 3 * L, add(a23, g))
                g = splatas(b[k + 3], zero)
                z = (k + 3) * B + r0
                store(Z, z, add(a30, g))
                store(Z, z + L, add(a31, g))
                store(Z, z + 2 * L, add(a32, g))
                store(Z, z + 3 * L, add(a33, g))
                g = splatas(b[k + 4], zero)
                z = (k + 4) * B + r0
                store(Z, z, add(a40, g))
                store(Z, z + L, add(a41, g))
                store(Z, z + 2 * L, add(a42, g))
                store(Z, z + 3 * L, add(a43, g))
            else:
                a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = splat(zero)
                a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = splat(zero)
                jp = kt if ahead else d  # the next column this tile prefetches
                for j in range(d):
                    x = j * n + start + r0
                    if j == jp:  # this tile's share: the columns kt, kt + nt, ..
                        for off in range(0, 4 * L, 64 // XT.itemsize):
                            prefetch_l2(XT, x + ahead + off)
                        jp += nt
                    x0, x1 = loadas(XT, x, zero), loadas(XT, x + L, zero)
                    x2, x3 = loadas(XT, x + 2 * L, zero), loadas(XT, x + 3 * L, zero)
                    g = splatas(Wt[k, j], zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = splatas(Wt[k + 1, j], zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = splatas(Wt[k + 2, j], zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = splatas(Wt[k + 3, j], zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                g = splatas(b[k], zero)
                z = (k) * B + r0
                store(Z, z, add(a00, g))
                store(Z, z + L, add(a01, g))
                store(Z, z + 2 * L, add(a02, g))
                store(Z, z + 3 * L, add(a03, g))
                g = splatas(b[k + 1], zero)
                z = (k + 1) * B + r0
                store(Z, z, add(a10, g))
                store(Z, z + L, add(a11, g))
                store(Z, z + 2 * L, add(a12, g))
                store(Z, z + 3 * L, add(a13, g))
                g = splatas(b[k + 2], zero)
                z = (k + 2) * B + r0
                store(Z, z, add(a20, g))
                store(Z, z + L, add(a21, g))
                store(Z, z + 2 * L, add(a22, g))
                store(Z, z + 3 * L, add(a23, g))
                g = splatas(b[k + 3], zero)
                z = (k + 3) * B + r0
                store(Z, z, add(a30, g))
                store(Z, z + L, add(a31, g))
                store(Z, z + 2 * L, add(a32, g))
                store(Z, z + 3 * L, add(a33, g))
        for r0 in range(m4, m, L):  # the rows left, one vector at a time
            cnt = min(L, m - r0)
            for q in range(tile):
                a0 = splat(zero)
                for j in range(d):
                    a0 = fma(splatas(Wt[k + q, j], zero),
                             loadas_mask(XT, j * n + start + r0, cnt, zero), a0)
                store_mask(Z, (k + q) * B + r0, add(a0, splatas(b[k + q], zero)), cnt)


@_jit
def accumulate_t(XT, start, m, R, acc, zero):
    """acc[k, j] += sum_{r < m} R[k, r] X[start + r, j] from F-ordered X in place (XT = X.T).

    R (Kg, B) class-major residuals and acc (Kg, d), Kg a multiple of the class tile (5
    when Kg % 5 == 0, else 4), in zero's dtype. Lanes over rows: for 4 columns x 4 or 5
    classes, 16 or 20 vector dot products along the block's column segments (4 loads of
    x and 4 or 5 of R per 16 or 20 FMAs), each summed across its lanes once per block;
    whole vectors of rows with plain loads, the last rows with masked ones (masked loads
    all along, as before, cost ~1 ms per pass: float64 F order, n = 200 000, d = 100,
    K = 10, with the logits' prefetch change the pass 31.1 -> 23.1 ms, 0.74x; float32
    mixed 0.86x, float32 in float64 0.80x, K = 100 0.97x; one process, interleaved, best
    of 15, CPU time). The columns left over (d not a multiple of 4) one at a time.
    """
    wide()
    d, n = XT.shape
    Kg = acc.shape[0]
    B = R.shape[1]
    L = LANES64 if acc.itemsize == 8 else LANES32
    tile = 5 if Kg % 5 == 0 else 4
    d4 = d - d % 4
    mL = m - m % L
    for k in range(0, Kg, tile):
        for j in range(0, d4, 4):
            if tile == 5:
                a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = a20 = a21 = splat(zero)
                a22 = a23 = a30 = a31 = a32 = a33 = a40 = a41 = a42 = a43 = splat(zero)
                for v in range(0, mL, L):  # whole vectors
                    x = j * n + start + v
                    x0 = loadas(XT, x, zero)
                    x1 = loadas(XT, x + n, zero)
                    x2 = loadas(XT, x + 2 * n, zero)
                    x3 = loadas(XT, x + 3 * n, zero)
                    g = loadas(R, k * B + v, zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = loadas(R, (k + 1) * B + v, zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = loadas(R, (k + 2) * B + v, zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = loadas(R, (k + 3) * B + v, zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                    g = loadas(R, (k + 4) * B + v, zero)
                    a40, a41 = fma(g, x0, a40), fma(g, x1, a41)
                    a42, a43 = fma(g, x2, a42), fma(g, x3, a43)
                if mL < m:  # the last rows, masked
                    v = mL
                    cnt = m - mL
                    x = j * n + start + v
                    x0 = loadas_mask(XT, x, cnt, zero)
                    x1 = loadas_mask(XT, x + n, cnt, zero)
                    x2 = loadas_mask(XT, x + 2 * n, cnt, zero)
                    x3 = loadas_mask(XT, x + 3 * n, cnt, zero)
                    g = loadas_mask(R, k * B + v, cnt, zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = loadas_mask(R, (k + 1) * B + v, cnt, zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = loadas_mask(R, (k + 2) * B + v, cnt, zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = loadas_mask(R, (k + 3) * B + v, cnt, zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                    g = loadas_mask(R, (k + 4) * B + v, cnt, zero)
                    a40, a41 = fma(g, x0, a40), fma(g, x1, a41)
                    a42, a43 = fma(g, x2, a42), fma(g, x3, a43)
                acc[k, j] += hsum(a00)
                acc[k, j + 1] += hsum(a01)
                acc[k, j + 2] += hsum(a02)
                acc[k, j + 3] += hsum(a03)
                acc[k + 1, j] += hsum(a10)
                acc[k + 1, j + 1] += hsum(a11)
                acc[k + 1, j + 2] += hsum(a12)
                acc[k + 1, j + 3] += hsum(a13)
                acc[k + 2, j] += hsum(a20)
                acc[k + 2, j + 1] += hsum(a21)
                acc[k + 2, j + 2] += hsum(a22)
                acc[k + 2, j + 3] += hsum(a23)
                acc[k + 3, j] += hsum(a30)
                acc[k + 3, j + 1] += hsum(a31)
                acc[k + 3, j + 2] += hsum(a32)
                acc[k + 3, j + 3] += hsum(a33)
                acc[k + 4, j] += hsum(a40)
                acc[k + 4, j + 1] += hsum(a41)
                acc[k + 4, j + 2] += hsum(a42)
                acc[k + 4, j + 3] += hsum(a43)
            else:
                a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = splat(zero)
                a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = splat(zero)
                for v in range(0, mL, L):  # whole vectors
                    x = j * n + start + v
                    x0 = loadas(XT, x, zero)
                    x1 = loadas(XT, x + n, zero)
                    x2 = loadas(XT, x + 2 * n, zero)
                    x3 = loadas(XT, x + 3 * n, zero)
                    g = loadas(R, k * B + v, zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = loadas(R, (k + 1) * B + v, zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = loadas(R, (k + 2) * B + v, zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = loadas(R, (k + 3) * B + v, zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                if mL < m:  # the last rows, masked
                    v = mL
                    cnt = m - mL
                    x = j * n + start + v
                    x0 = loadas_mask(XT, x, cnt, zero)
                    x1 = loadas_mask(XT, x + n, cnt, zero)
                    x2 = loadas_mask(XT, x + 2 * n, cnt, zero)
                    x3 = loadas_mask(XT, x + 3 * n, cnt, zero)
                    g = loadas_mask(R, k * B + v, cnt, zero)
                    a00, a01 = fma(g, x0, a00), fma(g, x1, a01)
                    a02, a03 = fma(g, x2, a02), fma(g, x3, a03)
                    g = loadas_mask(R, (k + 1) * B + v, cnt, zero)
                    a10, a11 = fma(g, x0, a10), fma(g, x1, a11)
                    a12, a13 = fma(g, x2, a12), fma(g, x3, a13)
                    g = loadas_mask(R, (k + 2) * B + v, cnt, zero)
                    a20, a21 = fma(g, x0, a20), fma(g, x1, a21)
                    a22, a23 = fma(g, x2, a22), fma(g, x3, a23)
                    g = loadas_mask(R, (k + 3) * B + v, cnt, zero)
                    a30, a31 = fma(g, x0, a30), fma(g, x1, a31)
                    a32, a33 = fma(g, x2, a32), fma(g, x3, a33)
                acc[k, j] += hsum(a00)
                acc[k, j + 1] += hsum(a01)
                acc[k, j + 2] += hsum(a02)
                acc[k, j + 3] += hsum(a03)
                acc[k + 1, j] += hsum(a10)
                acc[k + 1, j + 1] += hsum(a11)
                acc[k + 1, j + 2] += hsum(a12)
                acc[k + 1, j + 3] += hsum(a13)
                acc[k + 2, j] += hsum(a20)
                acc[k + 2, j + 1] += hsum(a21)
                acc[k + 2, j + 2] += hsum(a22)
                acc[k + 2, j + 3] += hsum(a23)
                acc[k + 3, j] += hsum(a30)
                acc[k + 3, j + 1] += hsum(a31)
                acc[k + 3, j + 2] += hsum(a32)
                acc[k + 3, j + 3] += hsum(a33)
        for j in range(d4, d):
            for q in range(tile):
                a0 = splat(zero)
                for v in range(0, mL, L):  # whole vectors
                    a0 = fma(loadas(R, (k + q) * B + v, zero),
                             loadas(XT, j * n + start + v, zero), a0)
                if mL < m:  # the last rows, masked
                    v = mL
                    cnt = m - mL
                    a0 = fma(loadas_mask(R, (k + q) * B + v, cnt, zero),
                             loadas_mask(XT, j * n + start + v, cnt, zero), a0)
                acc[k + q, j] += hsum(a0)
