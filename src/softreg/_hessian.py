"""The exact Hessian of the cross-entropy datafit, for problems with few parameters.

    H[(j, k), (l, m)] = sum_i sw_i a_ij a_il (p_ik [k = m] - p_ik p_im),  a_i = [x_i, 1]

(the 1 only with an intercept), in the parameter layout theta[j * K + k]. It is
accumulated over blocks of rows with two level-3 BLAS products per block: with
As = sqrt(sw) * A and Y (rows, qK) with column j * K + k = As[:, j] * p_k (the parameter
layout), H = D - B with B = Y^T Y (one symmetric rank-k update) and D the class-diagonal
part, D[(j, k), (l, k)] = (As^T Y)[l, j * K + k]. Forming it costs
n (qK)^2 / 2 flops, so it pays only while qK is small (see ``solvers.newton``).
The float32 estimate (a preconditioner's) is built from the distinct entries only
(:func:`softmax_hessian_pairs`, about a quarter of the products) except with 2 or 3
classes and more than 128 features (:func:`pairs_pay`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from ._kernel_pairs import accumulate_rows, numba, padded_pairs, pair_offsets

#: rows per block bound the (rows, qK) buffers to about this many entries
BLOCK_ELEMENTS = 2 ** 20


def softmax_hessian(X, P: np.ndarray, sw: np.ndarray, fit_intercept: bool,
                    dtype=np.float64) -> np.ndarray:
    """Hessian of sum_i sw_i CE_i with respect to theta, shape (qK, qK), q = d + intercept.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d) (read in row blocks, widened to float64)
    P : ndarray of shape (n, K), the probabilities at theta
    sw : ndarray of shape (n,), the (normalised) sample weights
    fit_intercept : bool
    dtype : float64, or float32 for an estimate (a preconditioner's): the products run in
        float32 (relative error about 1e-6 of H's scale) by :func:`softmax_hessian_pairs`;
        the result is float64 either way
    """
    dtype = np.dtype(dtype)
    if dtype == np.float32 and pairs_pay(X.shape[1] + fit_intercept, P.shape[1]):
        return softmax_hessian_pairs(X, P, sw, fit_intercept)
    n, K = P.shape
    d = X.shape[1]
    q = d + fit_intercept
    m = q * K
    root = np.sqrt(np.asarray(sw, dtype=np.float64))
    syrk = blas.ssyrk if dtype == np.float32 else blas.dsyrk
    # built directly in the parameter layout (column j * K + k of Y is a_j p_k), so that
    # it needs one (qK)^2 buffer in ``dtype`` and one in float64, and no permuted copy
    B = np.zeros((m, m), dtype, order="F")
    A = np.zeros((q, m))  # A[l, j * K + k] = sum_i sw_i a_il a_ij p_ik
    step = max(1, BLOCK_ELEMENTS // m)
    for start in range(0, n, step):
        Xb = X[start:start + step]
        Xb = Xb.toarray() if sp.issparse(Xb) else Xb
        rows = Xb.shape[0]
        As = np.empty((rows, q), dtype)
        As[:, :d] = Xb
        if fit_intercept:
            As[:, d] = 1.0
        As *= root[start:start + step, None]
        Pb = np.asarray(P[start:start + step], dtype=dtype)
        Y = np.empty((rows, q, K), dtype)
        np.multiply(As[:, :, None], Pb[:, None, :], out=Y)
        Y = Y.reshape(rows, m)
        B = syrk(1.0, Y.T, beta=1.0, c=B, trans=0, lower=0, overwrite_c=1)  # += Y^T Y
        A += As.T @ Y
    H = np.asarray(B, dtype=np.float64, order="F")  # B's upper triangle (a copy if float32)
    del B
    _fill_lower(H)
    np.negative(H, out=H)
    H = H.T  # C order, the same symmetric matrix
    blocks = H.reshape(q, K, q, K)
    A = A.reshape(q, q, K)
    for k in range(K):  # the diagonal part: H[(j, k), (l, k)] += sum_i sw_i a_ij a_il p_ik
        blocks[:, k, :, k] += A[:, :, k]
    return H


#: rows per block of :func:`softmax_hessian_pairs`'s tiles: their rows of A and V stay in
#: L1; each block's float32 sums go into G in float64 (measured on 6 250 x 101, K = 10,
#: the products alone, best of 9 interleaved: 64 rows 26.0 ms, 128 23.1, 192 28.4, 256 28.8)
PAIR_BLOCK_ROWS = 128
#: ... over the rows of at most this many rows at a time (A and W: about 4 MB at q = 101)
PAIR_SUPER_ROWS = 8192
#: ... and over groups of features whose rows of G (float64) take at most this many bytes,
#: so that they stay in L2 through the blocks (512 KB 23.1 ms, 1 MB 22.7 ms; one group:
#: 27 ms)
PAIR_GROUP_BYTES = 1 << 20


#: :func:`softmax_hessian_pairs` is used (float32) for K >= 4 whatever q, and for K = 2 or 3
#: up to q = PAIR_MAX_FEATURES[K]. It pads the K (K - 1) / 2 class pairs to whole vectors
#: (16 lanes for 1 or 3), so with few classes the SYRK build, which computes every class
#: pair, wins at large q (K = 2); for K = 3 the pairs stay faster (d = 700: 213 ms against
#: 247), but their float64 G (64 q^2 bytes, 7 (qK)^2) would outgrow the SYRK build's float32
#: buffer (4 (qK)^2) that :func:`softreg.solvers._precondition.subsample_size` budgets for;
#: up to q = 128 it takes at most 1 MB (K >= 4: G about 4 (qK)^2 at most). Measured (1 thread,
#: float32 X, ms, pairs / SYRK): 6 250 rows, d = 100: K = 2 9.9 / 11.9, K = 3 9.7 / 18.2,
#: K = 4 9.3 / 24.0, K = 7 16.5 / 40.9, K = 8 21.8 / 63.0, K = 10 26.3 / 77.8; d = 20,
#: K = 30 21.7 / 28.4; d = 200, K = 9 98 / 217; 3 000 rows: d = 200, K = 2 18.4 / 15.1;
#: d = 400, K = 2 72 / 48; d = 500, K = 4 123 / 172
PAIR_MAX_FEATURES = {2: 128, 3: 128}


#: without numba (the NumPy build, :func:`_softmax_hessian_pairs_numpy`): from this many
#: classes and up to this many feature pairs q (q + 1) / 2 (measured, 6 250 x 101, ms,
#: NumPy pairs / SYRK: K = 7 48 / 49, K = 8 50 / 55, K = 10 62 / 80; d = 200, K = 9: 409
#: against 340; d = 999, K = 2: 6.7 s against 0.84 s)
NUMPY_PAIR_MIN_CLASSES = 8
#: ... in blocks of this many rows (measured: 256 rows 57 ms, 128 rows 64 ms, 512 rows 60 ms)
NUMPY_PAIR_BLOCK_ROWS = 256
NUMPY_PAIR_MAX_FEATURE_PAIRS = 128 * 129 // 2


def pairs_pay(q: int, n_classes: int) -> bool:
    """Whether :func:`softmax_hessian_pairs` beats the SYRK build for q = d + intercept."""
    if numba is None:  # pragma: no cover - exercised only where numba is missing
        return n_classes >= NUMPY_PAIR_MIN_CLASSES and \
            q * (q + 1) // 2 <= NUMPY_PAIR_MAX_FEATURE_PAIRS
    return q <= PAIR_MAX_FEATURES.get(n_classes, q)


def softmax_hessian_pairs(X, P: np.ndarray, sw: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """:func:`softmax_hessian` from its distinct entries only, float32 products (an estimate).

    H's (q, q) block of the classes (k, m) is sum_i w_ik^m a_i a_i^T with
    w_ik^m = sw_i p_ik ([k = m] - p_im): symmetric in the features (j, l) and in the
    classes (k, m), and each row of class blocks sums to zero (the rows of diag p - p p^T
    do), so the blocks of the first K - 1 classes determine H. Their q (q + 1) / 2 *
    K (K - 1) / 2 distinct entries G[(j, l), (k, m)] = sum_i a_ij a_il w_ik^m are about a
    quarter of the multiplications of Y^T Y (which computes every entry of the (qK)^2
    upper triangle, each symmetric block twice, and the last class) and need no separate
    class-diagonal product. The last class's blocks are minus the sums of the others
    (float64 sums of float32 entries).

    With numba, :mod:`softreg._kernel_pairs` accumulates G in register tiles without
    forming the products a_ij a_il and writes H from it directly; measured (1 thread,
    6 250 x 101, K = 10, best of 7 in CPU time): 26-29 ms (products 23 ms, about 85% of
    this host's sgemm peak; H 3 ms) against 56-63 ms for the NumPy build
    (:func:`_softmax_hessian_pairs_numpy`: T (rows, q (q + 1) / 2) of the products, one
    GEMM per block of rows, H by fancy indexing), which is used without numba.

    Parameters and result: as :func:`softmax_hessian` (result float64, shape (qK, qK)).
    """
    if numba is None:  # pragma: no cover - exercised only where numba is missing
        return _softmax_hessian_pairs_numpy(X, P, sw, fit_intercept)
    n, K = P.shape
    d = X.shape[1]
    q = d + fit_intercept
    sw = np.ascontiguousarray(sw, dtype=np.float64)
    P = np.ascontiguousarray(P, dtype=np.float64)
    Cp = padded_pairs(K)
    offs = pair_offsets(q)
    G = np.zeros(int(offs[-1]) * Cp)  # float64 sums of each block's float32 sums
    step = min(n, PAIR_SUPER_ROWS)
    A = np.zeros((step, q + 1), np.float32)  # the augmented rows, zero padding
    W = np.zeros((step, Cp), np.float32)
    V = np.empty((PAIR_BLOCK_ROWS, Cp), np.float32)
    if fit_intercept:
        A[:, d] = 1.0
    H = np.empty((q * K, q * K))
    none = np.empty((0, 0))  # (H is written after the last rows only)
    for start in range(0, n, step):
        Xb = X[start:start + step]
        Xb = Xb.toarray() if sp.issparse(Xb) else Xb
        rows = Xb.shape[0]
        A[:rows, :d] = Xb
        last = start + step >= n
        accumulate_rows(A, rows, P, sw, start, W, V, G, offs, q, PAIR_BLOCK_ROWS,
                        PAIR_GROUP_BYTES, H if last else none)
    return H


def _softmax_hessian_pairs_numpy(X, P: np.ndarray, sw: np.ndarray,
                                 fit_intercept: bool) -> np.ndarray:
    """:func:`softmax_hessian_pairs` in NumPy: G += T^T W per block of rows.

    T (rows, q (q + 1) / 2): the products a_ij a_il (j <= l); W (rows, K (K - 1) / 2): the
    weights of the class pairs (k <= m < K - 1). Used without numba.
    """
    n, K = P.shape
    d = X.shape[1]
    q = d + fit_intercept
    k1 = K - 1
    sw = np.asarray(sw, dtype=np.float64)
    offsets = np.concatenate(([0], np.cumsum(np.arange(q, 0, -1))))  # row j's pairs (j, l >= j)
    n_pairs = int(offsets[-1])
    ck, cm = np.triu_indices(k1)
    same = np.flatnonzero(ck == cm)
    G = np.zeros((n_pairs, len(ck)), np.float32)
    step = NUMPY_PAIR_BLOCK_ROWS
    At = np.empty((q, step), np.float32)  # the block's augmented rows, transposed
    Tt = np.empty((n_pairs, step), np.float32)
    for start in range(0, n, step):
        Xb = X[start:start + step]
        Xb = Xb.toarray() if sp.issparse(Xb) else Xb
        rows = Xb.shape[0]
        A, T = At[:, :rows], Tt[:, :rows]
        A[:d] = Xb.T
        if fit_intercept:
            A[d] = 1.0
        for j in range(q):  # T[(j, l)] = a_j * a_l for l >= j
            np.multiply(A[j:], A[j], out=T[offsets[j]:offsets[j + 1]])
        Pb = np.asarray(P[start:start + step], dtype=np.float64)
        W = Pb[:, ck] * Pb[:, cm]
        np.negative(W, out=W)
        W[:, same] += Pb[:, :k1]  # the class-diagonal pairs: p_k - p_k^2
        W *= sw[start:start + step, None]
        G += T @ W.astype(np.float32)
    # the class blocks of each feature pair (j <= l), the last class's from the zero row
    # sums (in float64), then mirrored into H4[j, k, l, m]
    pair = np.zeros((k1, k1), np.intp)
    pair[ck, cm] = pair[cm, ck] = np.arange(len(ck))
    Gk = np.empty((n_pairs, K, K))
    Gk[:, :k1, :k1] = G[:, pair.ravel()].reshape(n_pairs, k1, k1)
    Gk[:, :k1, k1] = -Gk[:, :k1, :k1].sum(axis=2)
    Gk[:, k1, :k1] = Gk[:, :k1, k1]
    Gk[:, k1, k1] = -Gk[:, :k1, k1].sum(axis=1)
    del G, T, Tt  # the peak: Gk and H4, about 12 (qK)^2 bytes as with the SYRK build
    fj, fl = np.triu_indices(q)
    H4 = np.empty((q, K, q, K))
    H4[fj, :, fl, :] = Gk
    H4[fl, :, fj, :] = Gk
    return H4.reshape(q * K, q * K)


def _fill_lower(H: np.ndarray, block: int = 256) -> None:
    """Copy the upper triangle of square H onto its lower triangle, in place, by blocks."""
    m = H.shape[0]
    for c0 in range(0, m, block):
        c1 = min(m, c0 + block)
        H[c0:c1, :c0] = H[:c0, c0:c1].T
        diag = H[c0:c1, c0:c1]
        lower = np.tril_indices(c1 - c0, -1)
        diag[lower] = diag.T[lower]
