"""The subsample-Hessian preconditioner's float32 factorisation (float32 data).

References are independent of softreg's factor: NumPy's float64 Cholesky of M built here
from H, and an optimum of J written in plain NumPy and minimised by SciPy's L-BFGS-B.
"""

import numpy as np
import pytest
from scipy import optimize, special

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, Penalised, lbfgs
from softreg.solvers import _precondition as pc
from softreg.solvers._precondition import FLOAT32_PIVOT_MIN, HessianPreconditioner


def _data(kind, n=20_000, d=8, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "scaled":  # feature scales 1e-3 .. 1e3
        X *= np.logspace(-3, 3, d)
    elif kind == "collinear":  # two nearly dependent groups of columns
        X[:, 1] = X[:, 0] + 1e-3 * rng.normal(size=n)
        X[:, 2] = X[:, 3] - X[:, 4] + 1e-3 * rng.normal(size=n)
    W = rng.normal(size=(d, K)) / np.abs(X).mean(axis=0)[:, None]
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X.astype(np.float32), y


def _M(H, K):
    """M = H + s P_U + 1e-10 s I, s = mean(diag H) (P_U: K x K blocks of 1/K), float64."""
    q = H.shape[0] // K
    scale = np.mean(np.diag(H))
    M = H + scale * np.kron(np.eye(q), np.full((K, K), 1.0 / K))
    return M + 1e-10 * scale * np.eye(H.shape[0])


def _backward_error(L, M):
    """max |L L^T - M| / sqrt(M_jj M_ll): Cholesky's error, blind to the diagonal scaling."""
    return np.max(np.abs(L @ L.T - M) / np.sqrt(np.outer(np.diag(M), np.diag(M))))


def _hessian(kind, alpha):
    X, y = _data(kind, n=3000)
    penalised = Penalised(SoftmaxObjective(X, y=y, n_classes=4), Penalty(alpha=alpha))
    theta = np.random.default_rng(1).normal(scale=0.3, size=penalised.n_params)
    return penalised.add_ridge(penalised.datafit.hessian(theta, dtype=np.float32))


def _is_float32(L):
    return np.array_equal(L, L.astype(np.float32).astype(np.float64))


def test_float32_factor_is_a_float64_lower_factor_of_M():
    H = _hessian("plain", 1e-4)
    M = _M(H, 4)
    pre = HessianPreconditioner(H.copy(), 4, factor_dtype=np.float32)
    L = pre.L
    assert L.dtype == np.float64 and np.all(np.isfinite(L))
    assert np.all(np.triu(L, 1) == 0)
    assert _is_float32(L)  # the float32 route was taken (its entries are float32's)
    # L L^T = M to float32 rounding, relative to sqrt(M_jj M_ll) (Cholesky's backward error)
    assert 1e-9 < _backward_error(L, M) < 1e-5
    # as a preconditioner: L^-1 M L^-T = I to ~1e-4 (float64's factor: ~1e-12)
    Li = np.linalg.inv(L)
    eig = np.linalg.eigvalsh(Li @ M @ Li.T)
    assert eig.min() > 1 - 1e-3 and eig.max() < 1 + 1e-3
    ref = np.linalg.cholesky(M)
    np.testing.assert_allclose(L, ref, atol=1e-4 * np.abs(ref).max())
    assert not np.array_equal(L, HessianPreconditioner(H.copy(), 4).L)
    # the change of variables stays exactly consistent (float64 solves with the same L)
    v = np.random.default_rng(2).normal(size=H.shape[0])
    np.testing.assert_allclose(pre.to_params(pre.from_params(v)), v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pre.grad_to_u(L @ v), v, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind, alpha", [("scaled", 1e-7), ("collinear", 1e-7)])
def test_float32_factor_falls_back_to_float64_on_small_pivots(kind, alpha):
    """Where some pivot keeps less than FLOAT32_PIVOT_MIN of M_jj (float32 rounding would
    be a large part of it), M is factored in float64: the result is float64's factor."""
    H = _hessian(kind, alpha)
    M = _M(H, 4)
    ref = np.linalg.cholesky(M)
    assert np.min(np.diag(ref) ** 2 / np.diag(M)) < FLOAT32_PIVOT_MIN  # the premise
    L = HessianPreconditioner(H.copy(), 4, factor_dtype=np.float32).L
    assert not _is_float32(L)
    np.testing.assert_array_equal(L, HessianPreconditioner(H.copy(), 4).L)
    assert _backward_error(L, M) < 1e-13


def test_float32_factor_refuses_a_matrix_singular_in_float32():
    """spotrf fails (M positive definite only beyond float32's precision): False, and F
    keeps M (the float64 loop then factors it)."""
    pre = HessianPreconditioner.__new__(HessianPreconditioner)
    c = 1 - 1e-9  # rounds to 1 in float32: a zero pivot there
    F = np.asfortranarray([[1.0, c], [c, 1.0]])
    before = F.copy()
    assert not pre._factor_float32(F, np.ones(2), 1.0)
    np.testing.assert_array_equal(np.tril(F, -1), np.tril(before, -1))
    assert not hasattr(pre, "L")


def _plain_optimum(X, y, alpha, K):
    """J (unit weights, intercept) in plain float64 NumPy and its optimum by SciPy's
    trust-region Newton on the exact Hessian (indifferent to the conditioning)."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    Y = np.eye(K)[y]
    A = np.hstack([X, np.ones((n, 1))])  # the parameters as Theta (d + 1, K)
    ridge = np.kron(np.r_[np.full(d, alpha), 0.0], np.ones(K))

    def probs(theta):
        Z = A @ theta.reshape(d + 1, K)
        return Z, np.exp(Z - special.logsumexp(Z, axis=1)[:, None])

    def J(theta):
        Z, P = probs(theta)
        value = np.mean(special.logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1))
        grad = (A.T @ (P - Y) / n).ravel() + ridge * theta
        return value + 0.5 * np.sum(ridge * theta * theta), grad

    def hess(theta):
        P = probs(theta)[1]
        inner = np.einsum("ik,km->ikm", P, np.eye(K)) - np.einsum("ik,im->ikm", P, P)
        H = np.einsum("ij,il,ikm->jklm", A, A, inner) / n
        return H.reshape((d + 1) * K, (d + 1) * K) + np.diag(ridge)

    res = optimize.minimize(J, np.zeros((d + 1) * K), jac=True, hess=hess,
                            method="trust-exact", options={"gtol": 1e-12})
    return J, res.x


@pytest.mark.parametrize("kind, alpha, float32_route", [
    ("plain", 1e-4, True), ("collinear", 1e-4, True), ("scaled", 1e-4, False)])
def test_float32_fits_reach_the_optimum_as_with_the_float64_factor(kind, alpha, float32_route,
                                                                   monkeypatch):
    """Default L-BFGS on float32 X (the subsample Hessian): the float32 factor (or its
    fallback) converges to tol at the plain optimum, in no more passes than float64's."""
    X, y = _data(kind, n=10_000)
    J, theta_ref = _plain_optimum(X, y, alpha, 4)
    assert np.max(np.abs(J(theta_ref)[1])) < 1e-11
    routes = []
    factor32 = HessianPreconditioner._factor_float32

    def spy(self, F, diag, scale):
        routes.append(factor32(self, F, diag, scale))
        return routes[-1]

    results = {}
    for name in ("float32", "float64"):
        if name == "float64":  # the float64 factor always
            monkeypatch.setattr(pc.HessianPreconditioner, "_factor_float32",
                                lambda self, F, diag, scale: False)
        else:
            monkeypatch.setattr(pc.HessianPreconditioner, "_factor_float32", spy)
        datafit = SoftmaxObjective(X, y=y, n_classes=4, kernel="fast")
        res = lbfgs(datafit, Penalty(alpha=alpha), datafit.zeros(), tol=1e-6)
        results[name] = (res, datafit.n_passes)
    assert routes == [float32_route]
    res, passes = results["float32"]
    assert res.stop_reason == CONVERGED
    value, grad = J(res.params)
    assert np.max(np.abs(grad)) <= 1e-6 * (1 + 1e-6)  # float64 gradient, plain NumPy
    # J(theta_ref) is J* to within its own rounding (|grad| < 1e-11 there), so a fit may
    # land a few ulps below it: 1e-14 relative is that rounding, not a tolerance on the fit
    assert -1e-14 * value <= value - J(theta_ref)[0] <= 1e-9 * value
    assert passes <= results["float64"][1] + 2
