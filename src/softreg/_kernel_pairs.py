"""Explicit-SIMD kernels of the float32 pairwise Hessian estimate (:mod:`softreg._hessian`).

The distinct entries of the softmax Hessian are G[(j, l), c] = sum_i a_ij a_il w_ic for
the feature pairs j <= l and the class pairs c = (k, m), k <= m < K - 1, with
w_ic = sw_i p_ik ([k = m] - p_im) (see :func:`softreg._hessian.softmax_hessian_pairs`).
They are accumulated here without forming the products a_ij a_il:

- :func:`class_pair_weights`: the weights W (rows, Cp), float32, the class pairs along a
  row (Cp: their count rounded up to whole vectors; the padding lanes stay 0);
- :func:`pair_products`: per feature j and block of rows, V[r] = a_rj W[r] (rows, Cp)
  once, then for a tile of 6 (or 2) features l >= j and 3 (or 1) vectors of class pairs
  the 18 (6, 6, 2) sums G[(j, l), c] += a_rl V[r, c] over the block's rows in float32
  registers, a_rl broadcast (one FMA per lane and product, no horizontal sums), each
  tile's sums then added to G in float64. 6 x 3 rather than 8 x 3: with 24 sums, their
  8 broadcasts and 3 loads LLVM ran out of the 32 registers and spilled in the inner
  loop (measured 33 ms against 23 ms for the whole product below);
- :func:`assemble`: H (qK, qK) float64 from G, both triangles, the last class's blocks
  from the zero row sums, written block by block (no index arrays);
- :func:`accumulate_rows`: the three in one call (the caller's entry).

G is flat float64: pair (j, l) at (offs[j] + l - j) * Cp, where each feature j has room
for its q - j pairs rounded up to a multiple of 2 (the tiles' padding feature is a zero
column of A, so its entries stay 0 and are never read). Its float64 sums keep the
estimate's error to the float32 products' and the blocks' sums (about 2e-7 of H's largest
entry on 6 250 x 101, K = 10, against 6e-7 for float32 sums over all the rows, whose error
grows with n).

Measured (1 thread, 6 250 x 101, K = 10, AVX-512 host): see
:data:`softreg._hessian.PAIR_BLOCK_ROWS` and :func:`softreg._hessian.softmax_hessian_pairs`.
"""

from __future__ import annotations

import numpy as np

from ._jit import njit
from ._simd import CACHE, LANES32, LANES64, numba

if numba is not None:
    from ._simd import add, fma, load, loadw, splat, store, wide

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

    Each feature has room for its q - j pairs rounded up to a multiple of 2 (the narrow
    tiles' width); offs[q] is G's row count.
    """
    room = -(-np.arange(q, 0, -1) // 2) * 2
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
def accumulate_rows(A, m, P, sw, s0, W, V, G, offs, q, rows, group_bytes, H):
    """One entry for :func:`softreg._hessian.softmax_hessian_pairs` (one cache load).

    The weights of rows s0 .. s0 + m (:func:`class_pair_weights` into W), their products
    into G (:func:`pair_products`), and, where H is non-empty (the last rows), H from G
    (:func:`assemble`). Each separate dispatcher costs a process about 3 ms to load from
    numba's cache on its first call.
    """
    class_pair_weights(P, sw, s0, m, W)
    pair_products(A, m, W, V, G, offs, q, rows, group_bytes)
    if H.size:
        assemble(G, offs, q, P.shape[1], H)


@_jit
def pair_products(A, m, W, V, G, offs, q, rows, group_bytes):
    """G[(j, l), :] += sum_{r < m} A[r, j] A[r, l] W[r, :] for j <= l < q.

    A (>= m, qa) float32, the augmented rows a_r in its first q columns and zeros up to
    qa >= q + 1; W (>= m, Cp) float32; V (>= rows, Cp) float32 scratch; G flat
    (offs[q] * Cp,) float64. The features go by groups whose rows of G take at most
    ``group_bytes`` (so that they stay in L2), and for each group the rows by blocks of
    ``rows`` (A's and V's rows in L1); each tile sums one block in float32 registers and
    adds that to G in float64.
    """
    wide()
    Cp = W.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    c3 = Cp - Cp % (3 * L)
    S = np.empty(18 * L, np.float32)  # a tile's sums, on their way into G
    j0 = 0
    while j0 < q:
        j1 = j0 + 1
        while j1 < q and (offs[j1 + 1] - offs[j0]) * Cp * 8 <= group_bytes:
            j1 += 1
        for r0 in range(0, m, rows):
            mb = min(rows, m - r0)
            for j in range(j0, j1):
                for r in range(mb):  # V[r] = a_rj W[r]
                    a = splat(A[r0 + r, j])
                    for c0 in range(0, Cp, L):
                        w = (r0 + r) * Cp + c0
                        store(V, r * Cp + c0, fma(a, load(W, w), splat(zero)))
                room = offs[j + 1] - offs[j]
                l6 = j + room - room % 6
                for l0 in range(j, l6, 6):
                    g = (offs[j] + l0 - j) * Cp
                    for c0 in range(0, c3, 3 * L):
                        _tile6x3(A, r0, V, mb, l0, c0, G, g + c0, S)
                    for c0 in range(c3, Cp, L):
                        _tile6x1(A, r0, V, mb, l0, c0, G, g + c0, S)
                for l0 in range(l6, j + room, 2):
                    g = (offs[j] + l0 - j) * Cp
                    for c0 in range(0, c3, 3 * L):
                        _tile2x3(A, r0, V, mb, l0, c0, G, g + c0, S)
                    for c0 in range(c3, Cp, L):
                        _tile2x1(A, r0, V, mb, l0, c0, G, g + c0, S)
        j0 = j1


@_jit
def _flush(S, G, g, rows, width, Cp):
    """G[g + t Cp + c] += S[t width + c] (t < rows, c < width): a tile's sums into float64 G.

    ``width`` is a multiple of the float64 vector's lanes (a whole number of float32 ones).
    """
    wide()
    for t in range(rows):
        for c in range(0, width, LANES64):
            o = g + t * Cp + c
            store(G, o, add(load(G, o), loadw(S, t * width + c)))


@_jit
def _tile6x3(A, r0, V, m, l0, c0, G, g, S):
    """G rows (j, l0 + t), t < 6, lanes c0 .. c0 + 3L (at flat g + t Cp): 18 sums."""
    wide()
    Cp = V.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    a00 = a01 = a02 = a10 = a11 = a12 = a20 = a21 = a22 = a30 = a31 = a32 = splat(zero)
    a40 = a41 = a42 = a50 = a51 = a52 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0, v1, v2 = load(V, v), load(V, v + 1 * L), load(V, v + 2 * L)
        b = splat(A[r0 + r, l0 + 0])
        a00, a01, a02 = fma(b, v0, a00), fma(b, v1, a01), fma(b, v2, a02)
        b = splat(A[r0 + r, l0 + 1])
        a10, a11, a12 = fma(b, v0, a10), fma(b, v1, a11), fma(b, v2, a12)
        b = splat(A[r0 + r, l0 + 2])
        a20, a21, a22 = fma(b, v0, a20), fma(b, v1, a21), fma(b, v2, a22)
        b = splat(A[r0 + r, l0 + 3])
        a30, a31, a32 = fma(b, v0, a30), fma(b, v1, a31), fma(b, v2, a32)
        b = splat(A[r0 + r, l0 + 4])
        a40, a41, a42 = fma(b, v0, a40), fma(b, v1, a41), fma(b, v2, a42)
        b = splat(A[r0 + r, l0 + 5])
        a50, a51, a52 = fma(b, v0, a50), fma(b, v1, a51), fma(b, v2, a52)
    store(S, 0 * L, a00)
    store(S, 1 * L, a01)
    store(S, 2 * L, a02)
    store(S, 3 * L, a10)
    store(S, 4 * L, a11)
    store(S, 5 * L, a12)
    store(S, 6 * L, a20)
    store(S, 7 * L, a21)
    store(S, 8 * L, a22)
    store(S, 9 * L, a30)
    store(S, 10 * L, a31)
    store(S, 11 * L, a32)
    store(S, 12 * L, a40)
    store(S, 13 * L, a41)
    store(S, 14 * L, a42)
    store(S, 15 * L, a50)
    store(S, 16 * L, a51)
    store(S, 17 * L, a52)
    _flush(S, G, g, 6, 3 * L, Cp)


@_jit
def _tile2x3(A, r0, V, m, l0, c0, G, g, S):
    """G rows (j, l0 + t), t < 2, lanes c0 .. c0 + 3L (at flat g + t Cp): 6 sums."""
    wide()
    Cp = V.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    a00 = a01 = a02 = a10 = a11 = a12 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0, v1, v2 = load(V, v), load(V, v + 1 * L), load(V, v + 2 * L)
        b = splat(A[r0 + r, l0 + 0])
        a00, a01, a02 = fma(b, v0, a00), fma(b, v1, a01), fma(b, v2, a02)
        b = splat(A[r0 + r, l0 + 1])
        a10, a11, a12 = fma(b, v0, a10), fma(b, v1, a11), fma(b, v2, a12)
    store(S, 0 * L, a00)
    store(S, 1 * L, a01)
    store(S, 2 * L, a02)
    store(S, 3 * L, a10)
    store(S, 4 * L, a11)
    store(S, 5 * L, a12)
    _flush(S, G, g, 2, 3 * L, Cp)


@_jit
def _tile6x1(A, r0, V, m, l0, c0, G, g, S):
    """G rows (j, l0 + t), t < 6, lanes c0 .. c0 + 1L (at flat g + t Cp): 6 sums."""
    wide()
    Cp = V.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    a00 = a10 = a20 = a30 = a40 = a50 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0 = load(V, v)
        b = splat(A[r0 + r, l0 + 0])
        a00 = fma(b, v0, a00)
        b = splat(A[r0 + r, l0 + 1])
        a10 = fma(b, v0, a10)
        b = splat(A[r0 + r, l0 + 2])
        a20 = fma(b, v0, a20)
        b = splat(A[r0 + r, l0 + 3])
        a30 = fma(b, v0, a30)
        b = splat(A[r0 + r, l0 + 4])
        a40 = fma(b, v0, a40)
        b = splat(A[r0 + r, l0 + 5])
        a50 = fma(b, v0, a50)
    store(S, 0 * L, a00)
    store(S, 1 * L, a10)
    store(S, 2 * L, a20)
    store(S, 3 * L, a30)
    store(S, 4 * L, a40)
    store(S, 5 * L, a50)
    _flush(S, G, g, 6, 1 * L, Cp)


@_jit
def _tile2x1(A, r0, V, m, l0, c0, G, g, S):
    """G rows (j, l0 + t), t < 2, lanes c0 .. c0 + 1L (at flat g + t Cp): 2 sums."""
    wide()
    Cp = V.shape[1]
    L = LANES32
    zero = np.float32(0.0)
    a00 = a10 = splat(zero)
    for r in range(m):
        v = r * Cp + c0
        v0 = load(V, v)
        b = splat(A[r0 + r, l0 + 0])
        a00 = fma(b, v0, a00)
        b = splat(A[r0 + r, l0 + 1])
        a10 = fma(b, v0, a10)
    store(S, 0 * L, a00)
    store(S, 1 * L, a10)
    _flush(S, G, g, 2, 1 * L, Cp)


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
