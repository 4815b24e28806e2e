"""Explicit-SIMD kernels of the float32 pairwise Hessian estimate (:mod:`softreg._hessian`).

The distinct entries of the softmax Hessian are G[(j, l), c] = sum_i a_ij a_il w_ic for
the feature pairs j <= l and the class pairs c = (k, m), k <= m < K - 1, with
w_ic = sw_i p_ik ([k = m] - p_im) (see :func:`softreg._hessian.softmax_hessian_pairs`).
They are accumulated here over blocks of rows without forming the products a_ij a_il:

- :func:`class_pair_weights`: the block's weights W (rows, Cp), float32, the class pairs
  along a row (Cp: their count rounded up to whole vectors; the padding lanes stay 0);
- :func:`pair_products`: per feature j, V[r] = a_rj W[r] (rows, Cp) once, then for a tile
  of 8 (or 4) features l >= j and 3 (or 1) vectors of class pairs the 24 (12, 8, 4)
  accumulators G[(j, l), c] += a_rl V[r, c] over the block's rows, a_rl broadcast:
  one FMA per lane and product, no horizontal sums, the block (A, V) in L1;
- :func:`assemble`: H (qK, qK) float64 from G, both triangles, the last class's blocks
  from the zero row sums (in float64), written block by block (no index arrays).

G is flat float32: pair (j, l) at (offs[j] + l - j) * Cp, where each feature j has room
for its q - j pairs rounded up to a multiple of 4 (the tiles' padding features are zero
columns of A, so their entries stay 0 and are never read). The accumulators round in
float32 as the GEMM they replace did (the estimate is a preconditioner's).

Measured (1 thread, 6 250 x 101, K = 10, AVX-512 host): see
:data:`softreg._hessian.PAIR_BLOCK_ROWS` and :func:`softreg._hessian.softmax_hessian_pairs`.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from ._simd import CACHE, LANES32, numba

if numba is not None:
    from ._simd import add, fma, load, splat, store, wide

_OPTIONS = dict(cache=CACHE, nogil=True, fastmath={"reassoc", "contract", "arcp", "nsz"})


def _jit(fn):
    if numba is None:
        return fn
    return njit(**_OPTIONS)(fn)


def padded_pairs(n_classes: int) -> int:
    """Cp: the K (K - 1) / 2 class pairs (k <= m < K - 1) rounded up to whole float32 vectors."""
    c = n_classes * (n_classes - 1) // 2
    return max(1, -(-c // LANES32)) * LANES32


def pair_offsets(q: int) -> np.ndarray:
    """offs (q + 1,): feature j's pairs (j, l >= j) start at row offs[j] of G (rows of Cp).

    Each feature has room for its q - j pairs rounded up to a multiple of 4 (the tiles'
    width); offs[q] is G's row count.
    """
    room = -(-np.arange(q, 0, -1) // 4) * 4
    return np.concatenate(([0], np.cumsum(room))).astype(np.int64)


@_jit
def class_pair_weights(P, sw, s0, m, W):
    """W[r, c] = sw_i p_ik ([k = m'] - p_im') for i = s0 + r, c = (k, m') in row-major order.

    P (n, K) float64, sw (n,) float64; W (rows, Cp) float32 (lanes past the pairs untouched:
    0 from the caller). Products in float64, rounded once.
    """
    K = P.shape[1]
    k1 = K - 1
    for r in range(m):
        i = s0 + r
        s = sw[i]
        c = 0
        for k in range(k1):
            pk = P[i, k]
            spk = s * pk
            W[r, c] = spk - spk * pk
            c += 1
            for mm in range(k + 1, k1):
                W[r, c] = -spk * P[i, mm]
                c += 1


@_jit
def pair_products(A, m, W, V, G, offs, q):
    """G[(j, l), :] += sum_{r < m} A[r, j] A[r, l] W[r, :] for j <= l < q (float32).

    A (rows, qa) float32, the block's augmented rows a_r in its first q columns and zeros
    up to qa >= q + 3; W (rows, Cp), V (rows, Cp) scratch; G flat (offs[q] * Cp,).
    """
    wide()
    Cp = W.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    c3 = Cp - Cp % (3 * L)
    for j in range(q):
        for r in range(m):  # V[r] = a_rj W[r]
            a = splat(A[r, j])
            for c0 in range(0, Cp, L):
                store(V, r * Cp + c0, fma(a, load(W, r * Cp + c0), splat(zero)))
        room = offs[j + 1] - offs[j]
        l8 = j + room - room % 8
        for l0 in range(j, l8, 8):
            g = (offs[j] + l0 - j) * Cp
            for c0 in range(0, c3, 3 * L):
                _tile8x3(A, V, m, l0, c0, G, g + c0)
            for c0 in range(c3, Cp, L):
                _tile8x1(A, V, m, l0, c0, G, g + c0)
        if room % 8:
            g = (offs[j] + l8 - j) * Cp
            for c0 in range(0, c3, 3 * L):
                _tile4x3(A, V, m, l8, c0, G, g + c0)
            for c0 in range(c3, Cp, L):
                _tile4x1(A, V, m, l8, c0, G, g + c0)


@_jit
def _tile8x3(A, V, m, l0, c0, G, g):
    """G rows (j, l0 + t), t < 8, lanes c0 .. c0 + 3L (at flat g + t Cp): 24 accumulators."""
    wide()
    Cp = V.shape[1]
    zero = np.float32(0.0)
    L = LANES32
    a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = a30 = a31 = a32 = splat(zero)
    a40 = a41 = a42 = a50 = a51 = a52 = a60 = a61 = a62 = a70 = a71 = a72 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0, v1, v2 = load(V, v), load(V, v + L), load(V, v + 2 * L)
        x = splat(A[r, l0])
        a00, a01, a02 = fma(x, v0, a00), fma(x, v1, a01), fma(x, v2, a02)
        x = splat(A[r, l0 + 1])
        a10, a11, a12 = fma(x, v0, a10), fma(x, v1, a11), fma(x, v2, a12)
        x = splat(A[r, l0 + 2])
        a20, a21, a22 = fma(x, v0, a20), fma(x, v1, a21), fma(x, v2, a22)
        x = splat(A[r, l0 + 3])
        a30, a31, a32 = fma(x, v0, a30), fma(x, v1, a31), fma(x, v2, a32)
        x = splat(A[r, l0 + 4])
        a40, a41, a42 = fma(x, v0, a40), fma(x, v1, a41), fma(x, v2, a42)
        x = splat(A[r, l0 + 5])
        a50, a51, a52 = fma(x, v0, a50), fma(x, v1, a51), fma(x, v2, a52)
        x = splat(A[r, l0 + 6])
        a60, a61, a62 = fma(x, v0, a60), fma(x, v1, a61), fma(x, v2, a62)
        x = splat(A[r, l0 + 7])
        a70, a71, a72 = fma(x, v0, a70), fma(x, v1, a71), fma(x, v2, a72)
    store(G, g, add(load(G, g), a00))
    store(G, g + L, add(load(G, g + L), a01))
    store(G, g + 2 * L, add(load(G, g + 2 * L), a02))
    o = g + Cp
    store(G, o, add(load(G, o), a10))
    store(G, o + L, add(load(G, o + L), a11))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a12))
    o += Cp
    store(G, o, add(load(G, o), a20))
    store(G, o + L, add(load(G, o + L), a21))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a22))
    o += Cp
    store(G, o, add(load(G, o), a30))
    store(G, o + L, add(load(G, o + L), a31))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a32))
    o += Cp
    store(G, o, add(load(G, o), a40))
    store(G, o + L, add(load(G, o + L), a41))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a42))
    o += Cp
    store(G, o, add(load(G, o), a50))
    store(G, o + L, add(load(G, o + L), a51))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a52))
    o += Cp
    store(G, o, add(load(G, o), a60))
    store(G, o + L, add(load(G, o + L), a61))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a62))
    o += Cp
    store(G, o, add(load(G, o), a70))
    store(G, o + L, add(load(G, o + L), a71))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a72))


@_jit
def _tile4x3(A, V, m, l0, c0, G, g):
    """As :func:`_tile8x3` for 4 features: 12 accumulators."""
    wide()
    Cp = V.shape[1]
    zero = np.float32(0.0)
    L = LANES32
    a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = a30 = a31 = a32 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0, v1, v2 = load(V, v), load(V, v + L), load(V, v + 2 * L)
        x = splat(A[r, l0])
        a00, a01, a02 = fma(x, v0, a00), fma(x, v1, a01), fma(x, v2, a02)
        x = splat(A[r, l0 + 1])
        a10, a11, a12 = fma(x, v0, a10), fma(x, v1, a11), fma(x, v2, a12)
        x = splat(A[r, l0 + 2])
        a20, a21, a22 = fma(x, v0, a20), fma(x, v1, a21), fma(x, v2, a22)
        x = splat(A[r, l0 + 3])
        a30, a31, a32 = fma(x, v0, a30), fma(x, v1, a31), fma(x, v2, a32)
    store(G, g, add(load(G, g), a00))
    store(G, g + L, add(load(G, g + L), a01))
    store(G, g + 2 * L, add(load(G, g + 2 * L), a02))
    o = g + Cp
    store(G, o, add(load(G, o), a10))
    store(G, o + L, add(load(G, o + L), a11))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a12))
    o += Cp
    store(G, o, add(load(G, o), a20))
    store(G, o + L, add(load(G, o + L), a21))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a22))
    o += Cp
    store(G, o, add(load(G, o), a30))
    store(G, o + L, add(load(G, o + L), a31))
    store(G, o + 2 * L, add(load(G, o + 2 * L), a32))


@_jit
def _tile8x1(A, V, m, l0, c0, G, g):
    """As :func:`_tile8x3` for one vector of class pairs: 8 accumulators, two rows at once."""
    wide()
    Cp = V.shape[1]
    zero = np.float32(0.0)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = splat(zero)
    for r in range(m):
        v = load(V, r * Cp + c0)
        a0 = fma(splat(A[r, l0]), v, a0)
        a1 = fma(splat(A[r, l0 + 1]), v, a1)
        a2 = fma(splat(A[r, l0 + 2]), v, a2)
        a3 = fma(splat(A[r, l0 + 3]), v, a3)
        a4 = fma(splat(A[r, l0 + 4]), v, a4)
        a5 = fma(splat(A[r, l0 + 5]), v, a5)
        a6 = fma(splat(A[r, l0 + 6]), v, a6)
        a7 = fma(splat(A[r, l0 + 7]), v, a7)
    store(G, g, add(load(G, g), a0))
    store(G, g + Cp, add(load(G, g + Cp), a1))
    store(G, g + 2 * Cp, add(load(G, g + 2 * Cp), a2))
    store(G, g + 3 * Cp, add(load(G, g + 3 * Cp), a3))
    o = g + 4 * Cp
    store(G, o, add(load(G, o), a4))
    store(G, o + Cp, add(load(G, o + Cp), a5))
    store(G, o + 2 * Cp, add(load(G, o + 2 * Cp), a6))
    store(G, o + 3 * Cp, add(load(G, o + 3 * Cp), a7))


@_jit
def _tile4x1(A, V, m, l0, c0, G, g):
    """As :func:`_tile8x1` for 4 features: 4 accumulators."""
    wide()
    Cp = V.shape[1]
    zero = np.float32(0.0)
    a0 = a1 = a2 = a3 = splat(zero)
    for r in range(m):
        v = load(V, r * Cp + c0)
        a0 = fma(splat(A[r, l0]), v, a0)
        a1 = fma(splat(A[r, l0 + 1]), v, a1)
        a2 = fma(splat(A[r, l0 + 2]), v, a2)
        a3 = fma(splat(A[r, l0 + 3]), v, a3)
    store(G, g, add(load(G, g), a0))
    store(G, g + Cp, add(load(G, g + Cp), a1))
    store(G, g + 2 * Cp, add(load(G, g + 2 * Cp), a2))
    store(G, g + 3 * Cp, add(load(G, g + 3 * Cp), a3))


@_jit
def assemble(G, offs, q, K, H):
    """H[(j, k), (l, m)] (both triangles) from G's class pairs (k <= m < K - 1), float64.

    The last class's row and column of each (j, l) block are minus the sums of the others
    (the rows of diag p - p p^T sum to zero); blocks (j, l) and (l, j) are equal (each is
    symmetric in the classes). H (qK, qK) float64, C order.
    """
    k1 = K - 1
    Cp = G.shape[0] // max(offs[q], 1)
    B = np.empty((K, K))
    for j in range(q):
        for l in range(j, q):
            g = (offs[j] + l - j) * Cp
            c = 0
            for k in range(k1):
                for mm in range(k, k1):
                    v = np.float64(G[g + c])
                    B[k, mm] = v
                    B[mm, k] = v
                    c += 1
            last = 0.0
            for k in range(k1):
                s = 0.0
                for mm in range(k1):
                    s += B[k, mm]
                B[k, k1] = -s
                B[k1, k] = -s
                last += s
            B[k1, k1] = last
            for k in range(K):
                for mm in range(K):
                    H[j * K + k, l * K + mm] = B[k, mm]
            if l != j:
                for k in range(K):
                    for mm in range(K):
                        H[l * K + k, j * K + mm] = B[k, mm]
