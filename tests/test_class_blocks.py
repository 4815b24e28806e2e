"""The per-class block preconditioner (solvers/_class_blocks.py) and L-BFGS on it.

References written here in plain NumPy/SciPy, independent of softreg's objective and
solvers: the full Hessian of J from its formula, the pseudo-inverse of the centred block
matrix by ``np.linalg.pinv``, J's optimum by SciPy's trust-region Newton.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import optimize, special

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, Penalised, lbfgs
from softreg.solvers._class_blocks import (
    ClassBlockPreconditioner,
    class_block_start,
    class_blocks,
    class_blocks_suit,
    pooled_class_blocks,
    zero_point,
)

N, D, K = 400, 5, 12
ALPHA = 1e-3


def _data(seed=0, scale=None, n=N):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)) + 0.5
    W = rng.normal(size=(D, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    if scale is not None:  # badly scaled columns, the same labels
        X *= scale
    s = rng.uniform(0.5, 2.0, size=n)
    return X, y, s


def _numpy_hessian(X, P, s, fit_intercept):
    """sum_i w_i (diag p_i - p_i p_i^T) (x) a_i a_i^T in the (feature, class) layout."""
    A = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    w = s / s.sum()
    m = A.shape[1]
    H = np.zeros((m * K, m * K))
    for a, p, wi in zip(A, P, w, strict=True):
        H += wi * np.kron(np.outer(a, a), np.diag(p) - np.outer(p, p))
    return H


def _numpy_probabilities(X, theta, fit_intercept):
    W = theta[: D * K].reshape(D, K)
    Z = X @ W + (theta[D * K:] if fit_intercept else 0.0)
    return np.exp(Z - special.logsumexp(Z, axis=1, keepdims=True))


def _random_blocks(rng, m, rank=None):
    G = rng.normal(size=(K, m, rank or m + 2))
    return G @ G.transpose(0, 2, 1)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_transform_is_the_centred_pseudo_inverse(fit_intercept):
    """T T^T = pinv(P_c B P_c) (P_c: centring across classes), T^T is grad_to_u, and
    from_params inverts to_params on centred parameters."""
    rng = np.random.default_rng(1)
    m = D + fit_intercept
    B = _random_blocks(rng, m)
    ridge = 0.3
    pre = ClassBlockPreconditioner(B, ridge, fit_intercept)
    B_full = np.zeros((m * K, m * K))  # index j * K + k: feature j, class k
    for k in range(K):
        Bk = B[k] + np.diag(np.r_[np.full(D, ridge), np.zeros(int(fit_intercept))])
        B_full[k::K, k::K] = Bk
    P_c = np.kron(np.eye(m), np.eye(K) - 1.0 / K)
    M_plus = np.linalg.pinv(P_c @ B_full @ P_c, rcond=1e-12, hermitian=True)
    eye = np.eye(m * K)
    T = np.column_stack([pre.to_params(e) for e in eye])
    T_t = np.column_stack([pre.grad_to_u(e) for e in eye])
    np.testing.assert_allclose(T @ T.T, M_plus, atol=1e-8 * np.abs(M_plus).max())
    np.testing.assert_allclose(T_t, T.T, atol=1e-12 * np.abs(T).max())
    theta = P_c @ rng.normal(size=m * K)
    np.testing.assert_allclose(pre.to_params(pre.from_params(theta)), theta, atol=1e-10)
    # to_params lands on centred parameters; centre removes exactly the common shift
    assert np.abs(T.reshape(m, K, -1).sum(axis=1)).max() < 1e-10
    v = rng.normal(size=m * K)
    np.testing.assert_allclose(pre.centre(v), P_c @ v, atol=1e-12)
    # inverse: M^+ on the centred part, positive definite overall
    Minv = np.column_stack([pre.inverse(e) for e in eye])
    np.testing.assert_allclose(P_c @ Minv @ P_c, M_plus, atol=1e-8 * np.abs(M_plus).max())
    assert np.linalg.eigvalsh(0.5 * (Minv + Minv.T)).min() > 0


def test_singular_blocks_stay_factorable():
    """A class no row is uncertain about (a zero block) and rank-deficient blocks (one
    row) without a penalty: the floor keeps every factor finite."""
    rng = np.random.default_rng(2)
    B = _random_blocks(rng, D + 1, rank=1)
    B[3] = 0.0
    pre = ClassBlockPreconditioner(B, 0.0, True)
    u = pre.grad_to_u(rng.normal(size=(D + 1) * K))
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(pre.to_params(u)))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_blocks_are_the_hessian_diagonal_blocks(fit_intercept):
    X, y, s = _data()
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(D + fit_intercept) * K) * 0.5
    P = _numpy_probabilities(X, theta, fit_intercept)
    H = _numpy_hessian(X, P, s, fit_intercept)
    A = np.hstack([X, np.ones((N, 1))]) if fit_intercept else X
    blocks = class_blocks(A, P, s / s.sum())
    for k in range(K):
        np.testing.assert_allclose(blocks[k], H[k::K, k::K], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("soft", [False, True])
def test_pooled_blocks_keep_the_exact_moments(fit_intercept, soft):
    """The pooled blocks match the exact ones in the intercept row (w_k, X^T w_k) and in
    their sum over classes; the data term they return is J's data term (float32)."""
    X, y, s = _data(seed=4)
    rng = np.random.default_rng(5)
    if soft:
        Y = rng.dirichlet(np.ones(K), size=N)
        datafit = SoftmaxObjective(X, Y=Y, sample_weight=s, fit_intercept=fit_intercept)
    else:
        Y = np.eye(K)[y]
        datafit = SoftmaxObjective(X, y=y, sample_weight=s, fit_intercept=fit_intercept,
                                   n_classes=K)
    theta = rng.normal(size=(D + fit_intercept) * K) * 0.5
    P = _numpy_probabilities(X, theta, fit_intercept)
    A = np.hstack([X, np.ones((N, 1))]) if fit_intercept else X
    exact = class_blocks(A, P, s / s.sum())
    pooled, loss = pooled_class_blocks(datafit, theta, chunk_rows=37)
    scale = np.abs(exact).max()
    np.testing.assert_allclose(pooled.sum(axis=0), exact.sum(axis=0), atol=2e-6 * scale)
    if fit_intercept:
        np.testing.assert_allclose(pooled[:, :, D], exact[:, :, D], atol=2e-6 * scale)
        np.testing.assert_allclose(pooled[:, D, :], exact[:, D, :], atol=2e-6 * scale)
    for k in range(K):  # each block symmetric positive semi-definite
        np.testing.assert_allclose(pooled[k], pooled[k].T, atol=1e-12 * scale)
        assert np.linalg.eigvalsh(pooled[k]).min() > -1e-6 * scale
    Z = A @ theta.reshape(-1, K)
    ref = np.dot(s / s.sum(), special.logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))
    assert loss == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_zero_point_is_the_moments_and_gradient_at_zero(fit_intercept):
    X, y, s = _data(seed=6)
    datafit = SoftmaxObjective(X, y=y, sample_weight=s, fit_intercept=fit_intercept,
                               n_classes=K, kernel="reference")
    C, grad, loss = zero_point(datafit, chunk_rows=50)
    A = np.hstack([X, np.ones((N, 1))]) if fit_intercept else X
    w = s / s.sum()
    np.testing.assert_allclose(C, A.T @ (A * w[:, None]), rtol=1e-6, atol=1e-7)
    G = (1.0 / K - np.eye(K)[y]) * w[:, None]  # the residual at p = 1/K
    np.testing.assert_allclose(grad, (A.T @ G).ravel(), rtol=1e-12, atol=1e-15)
    assert loss == pytest.approx(np.log(K))


def test_suits_dense_in_memory_data_only():
    X, y, s = _data()
    assert class_blocks_suit(SoftmaxObjective(X, y=y, n_classes=K))
    assert not class_blocks_suit(SoftmaxObjective(sp.csr_matrix(X), y=y, n_classes=K))
    few = np.argmax(X[:, :3], axis=1)
    assert not class_blocks_suit(SoftmaxObjective(X, y=few, n_classes=3))

    class NoData:  # a Dask-like datafit: no X
        n_features, n_classes, fit_intercept = D, K, True

    assert not class_blocks_suit(NoData())
    sparse = SoftmaxObjective(sp.csr_matrix(X), y=y, n_classes=K)
    with pytest.raises(TypeError, match="in-memory dense X"):
        lbfgs(sparse, Penalty(alpha=ALPHA), sparse.zeros(), precondition="blocks")


def _reference_optimum(X, Y, s, alpha, fit_intercept):
    """J's optimum by SciPy's trust-region Newton on J written from the formulas."""
    w = s / s.sum()
    A = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    m = A.shape[1]
    ridge = np.zeros((m, K))
    ridge[:D] = alpha

    def J(theta):
        T = theta.reshape(m, K)
        Z = A @ T
        lse = special.logsumexp(Z, axis=1)
        G = (np.exp(Z - lse[:, None]) - Y) * w[:, None]
        value = np.dot(w, lse - np.sum(Y * Z, axis=1)) + 0.5 * np.sum(ridge * T * T)
        return value, (A.T @ G + ridge * T).ravel()

    def hessp(theta, v):
        T, V = theta.reshape(m, K), v.reshape(m, K)
        P = np.exp(A @ T - special.logsumexp(A @ T, axis=1, keepdims=True))
        R = A @ V
        D_ = (P * R - P * np.sum(P * R, axis=1, keepdims=True)) * w[:, None]
        return (A.T @ D_ + ridge * V).ravel()

    res = optimize.minimize(J, np.zeros(m * K), jac=True, hessp=hessp, method="trust-ncg",
                            options={"gtol": 1e-11, "maxiter": 200})
    theta = res.x.reshape(m, K)
    theta = theta - theta.mean(axis=1, keepdims=True)  # the centred optimum
    return theta.ravel(), J(theta.ravel())[0]


@pytest.mark.parametrize("case", ["plain", "no_intercept", "soft", "float32", "scaled",
                                  "warm"])
def test_lbfgs_on_blocks_reaches_the_optimum(case):
    fit_intercept = case != "no_intercept"
    X, y, s = _data(seed=7, scale=np.array([1.0, 1e-2, 30.0, 1.0, 1e2])
                    if case == "scaled" else None)
    Y = np.eye(K)[y]
    if case == "soft":
        Y = 0.7 * Y + 0.3 * np.random.default_rng(8).dirichlet(np.ones(K), size=N)
    Xf = X.astype(np.float32) if case == "float32" else X
    kwargs = dict(Y=Y) if case == "soft" else dict(y=y, n_classes=K)
    datafit = SoftmaxObjective(Xf, sample_weight=s, fit_intercept=fit_intercept, **kwargs)
    ref, J_ref = _reference_optimum(np.asarray(Xf, dtype=np.float64), Y, s, ALPHA,
                                    fit_intercept)
    theta0 = datafit.zeros()
    if case == "warm":  # a warm start off the centred subspace
        theta0 = ref + np.random.default_rng(9).normal(size=ref.size) * 0.1 + 0.3
    tol = 1e-9
    res = lbfgs(datafit, Penalty(alpha=ALPHA), theta0, tol=tol, precondition="blocks")
    assert res.stop_reason == CONVERGED and res.grad_norm <= tol
    theta = res.params.reshape(-1, K)
    np.testing.assert_allclose(theta - theta.mean(axis=1, keepdims=True),
                               ref.reshape(-1, K), atol=1e-6 * max(1.0, np.abs(ref).max()))
    assert res.loss == pytest.approx(J_ref, rel=1e-12)


def test_default_uses_blocks_for_many_classes_and_saves_iterations():
    """precondition=True takes the block start where it suits (K >= the threshold, the
    subsample Hessian not applicable) and needs fewer iterations than the moments one."""
    X, y, s = _data(seed=10, n=2000)
    datafit = SoftmaxObjective(X, y=y, n_classes=K)
    assert class_blocks_suit(datafit)
    default = lbfgs(datafit, Penalty(alpha=1e-4), datafit.zeros(), tol=1e-8)
    moments = lbfgs(SoftmaxObjective(X, y=y, n_classes=K), Penalty(alpha=1e-4),
                    datafit.zeros(), tol=1e-8, precondition="moments")
    assert default.stop_reason == CONVERGED and moments.stop_reason == CONVERGED
    assert default.loss == pytest.approx(moments.loss, rel=1e-12)
    assert default.n_iter < moments.n_iter


def test_start_takes_a_decreasing_first_step():
    X, y, s = _data(seed=11)
    datafit = SoftmaxObjective(X, y=y, sample_weight=s, n_classes=K)
    objective = Penalised(datafit, Penalty(alpha=ALPHA))
    passes = datafit.n_passes
    pre, start = class_block_start(objective, datafit.zeros())
    assert objective.loss(start) < objective.loss(datafit.zeros())
    assert np.abs(start.reshape(-1, K).sum(axis=1)).max() < 1e-12
    assert datafit.n_passes - passes >= 2  # the read at 0 and the blocks, counted
