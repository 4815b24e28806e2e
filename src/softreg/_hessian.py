"""The exact Hessian of the cross-entropy datafit, for problems with few parameters.

    H[(j, k), (l, m)] = sum_i sw_i a_ij a_il (p_ik [k = m] - p_ik p_im),  a_i = [x_i, 1]

(the 1 only with an intercept), in the parameter layout theta[j * K + k]. It is
accumulated over blocks of rows with two level-3 BLAS products per block: with
As = sqrt(sw) * A and Y (rows, qK) with column j * K + k = As[:, j] * p_k (the parameter
layout), H = D - B with B = Y^T Y (one symmetric rank-k update) and D the class-diagonal
part, D[(j, k), (l, k)] = (As^T Y)[l, j * K + k]. Forming it costs
n (qK)^2 / 2 flops, so it pays only while qK is small (see ``solvers.newton``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

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
    dtype : float64, or float32 for an estimate (a preconditioner's) at half the cost:
        the products run in float32 (relative error about 1e-6 of H's scale); the result
        is float64 either way
    """
    n, K = P.shape
    d = X.shape[1]
    q = d + fit_intercept
    m = q * K
    root = np.sqrt(np.asarray(sw, dtype=np.float64))
    dtype = np.dtype(dtype)
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


def _fill_lower(H: np.ndarray, block: int = 256) -> None:
    """Copy the upper triangle of square H onto its lower triangle, in place, by blocks."""
    m = H.shape[0]
    for c0 in range(0, m, block):
        c1 = min(m, c0 + block)
        H[c0:c1, :c0] = H[:c0, c0:c1].T
        diag = H[c0:c1, c0:c1]
        lower = np.tril_indices(c1 - c0, -1)
        diag[lower] = diag.T[lower]
