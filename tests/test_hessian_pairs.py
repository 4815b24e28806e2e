"""The float32 pairwise Hessian estimate against a plain NumPy Hessian (float64)."""

import numpy as np
import pytest
import scipy.sparse as sp

from softreg._hessian import (
    NUMPY_PAIR_BLOCK_ROWS,
    PAIR_BLOCK_ROWS,
    _softmax_hessian_pairs_numpy,
    pairs_pay,
    softmax_hessian,
    softmax_hessian_pairs,
)


def reference_hessian(X, P, sw, fit_intercept):
    """sum_i sw_i (diag p_i - p_i p_i^T) (x) a_i a_i^T in the layout theta[j * K + k]."""
    X = np.asarray(X, dtype=np.float64)
    A = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    S = np.einsum("ik,km->ikm", P, np.eye(P.shape[1])) - np.einsum("ik,im->ikm", P, P)
    H = np.einsum("i,ij,il,ikm->jklm", sw, A, A, S, optimize=True)
    q, K = A.shape[1], P.shape[1]
    return H.reshape(q * K, q * K)


def problem(n, d, K, seed, weights, soft):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 3.0, d)
    Z = rng.standard_normal((n, K)) * 2.0
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    if soft:  # probabilities near a soft target's optimum: some near 0 and 1
        P = 0.5 * P + 0.5 * rng.dirichlet(np.full(K, 0.3), size=n)
    sw = rng.uniform(0.1, 2.0, n) if weights else np.ones(n)
    return X, P, sw / sw.sum()


@pytest.mark.parametrize("K", [2, 3, 10])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weights,soft", [(False, False), (True, False), (True, True)])
def test_pairs_match_numpy(K, fit_intercept, weights, soft):
    # more rows than one block, and a partial last block
    X, P, sw = problem(PAIR_BLOCK_ROWS * 2 + 37, 7, K, K + 10 * fit_intercept, weights, soft)
    ref = reference_hessian(X, P, sw, fit_intercept)
    H = softmax_hessian_pairs(X.astype(np.float32), P, sw, fit_intercept)
    assert H.dtype == np.float64 and H.shape == ref.shape
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(H, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    # softmax_hessian(dtype=float32) on float64 X: the pairs where they pay, else SYRK
    H32 = softmax_hessian(X, P, sw, fit_intercept, np.float32)
    if pairs_pay(X.shape[1] + fit_intercept, K):
        np.testing.assert_array_equal(H32, H)
    else:  # SYRK forms D - B in float32: its class-diagonal blocks lose a few more digits
        np.testing.assert_allclose(H32, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    # and the exact float64 build
    np.testing.assert_allclose(softmax_hessian(X, P, sw, fit_intercept), ref,
                               rtol=0, atol=1e-12 * np.abs(ref).max())


def test_pairs_sparse_and_flat_direction():
    X, P, sw = problem(300, 5, 4, 3, True, False)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    ref = reference_hessian(Xs.toarray(), P, sw, True)
    H = softmax_hessian_pairs(Xs, P, sw, True)
    np.testing.assert_allclose(H, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    # flat along the classes' common shift: H (v (x) 1_K) = 0 for every feature vector v
    v = np.kron(np.random.default_rng(0).standard_normal(6), np.ones(4))
    assert np.abs(H @ v).max() <= 1e-5 * np.abs(H).max() * np.abs(v).max()


def test_pairs_pay_except_with_few_classes_and_many_features():
    assert pairs_pay(101, 10) and pairs_pay(128, 2) and pairs_pay(128, 3) and pairs_pay(500, 4)
    assert not pairs_pay(129, 2) and not pairs_pay(129, 3) and not pairs_pay(1000, 2)


# (d, K): one vector of class pairs (K = 2, 3, 6), two (K = 8), three (K = 10), four
# (K = 12: 3 + 1), 28 (K = 30); q - j over every residue mod 8 (the feature tiles' tails)
@pytest.mark.parametrize("d,K", [(1, 2), (2, 3), (5, 6), (13, 8), (30, 10), (9, 12),
                                 (20, 30), (130, 2), (130, 3), (130, 4)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairs_tiles_match_numpy(d, K, fit_intercept, dtype):
    # soft targets and uneven weights; rows not a multiple of the block
    X, P, sw = problem(PAIR_BLOCK_ROWS + 45, d, K, d + K, True, True)
    X = X.astype(dtype)
    ref = reference_hessian(X, P, sw, fit_intercept)
    H = softmax_hessian_pairs(X, P, sw, fit_intercept)
    assert H.dtype == np.float64 and H.shape == ref.shape
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(H, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    H32 = softmax_hessian(X, P, sw, fit_intercept, np.float32)
    if pairs_pay(d + fit_intercept, K):
        np.testing.assert_array_equal(H32, H)
    else:  # SYRK forms D - B in float32
        np.testing.assert_allclose(H32, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(softmax_hessian(X, P, sw, fit_intercept), ref,
                               rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("K", [2, 10])
def test_numpy_pairs_build_matches_numpy(K):
    # the build used without numba: more rows than its block, a partial last block
    X, P, sw = problem(NUMPY_PAIR_BLOCK_ROWS + 37, 7, K, 5, True, True)
    ref = reference_hessian(X, P, sw, True)
    H = _softmax_hessian_pairs_numpy(X.astype(np.float32), P, sw, True)
    np.testing.assert_array_equal(H, H.T)
    np.testing.assert_allclose(H, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


def test_pairs_many_rows_stay_float32_accurate():
    # 50 blocks of rows: the sums must not drift with n (each block's float32 sums go into
    # G in float64; float32 sums over all rows were 1e-5 off at 6 250 rows)
    X, P, sw = problem(50 * PAIR_BLOCK_ROWS + 3, 20, 10, 11, True, False)
    ref = reference_hessian(X, P, sw, True)
    H = softmax_hessian_pairs(X.astype(np.float32), P, sw, True)
    np.testing.assert_allclose(H, ref, rtol=0, atol=5e-7 * np.abs(ref).max())


def test_pairs_fewer_rows_than_a_block_and_unit_weights_scale():
    X, P, sw = problem(5, 3, 9, 7, True, True)
    ref = reference_hessian(X, P, sw, True)
    np.testing.assert_allclose(softmax_hessian_pairs(X, P, sw, True), ref,
                               rtol=0, atol=2e-6 * np.abs(ref).max())
    # linear in the weights: doubling them doubles H (up to float32 rounding)
    np.testing.assert_allclose(softmax_hessian_pairs(X, P, 2 * sw, True), 2 * ref,
                               rtol=0, atol=4e-6 * np.abs(ref).max())
