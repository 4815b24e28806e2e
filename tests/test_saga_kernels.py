"""SAGA's fast ridge kernel, its intercept step and gap estimate, against plain references."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.exceptions import ConvergenceWarning

from softreg import SoftmaxRegression
from softreg.solvers._saga_kernels import row_sq_norms, saga_epoch_csr_ridge
from softreg.solvers.saga import _gap_estimate, _intercept_newton_step


def sparse_rows(n=60, d=25, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.2, random_state=seed, format="csr")
    X.data = rng.uniform(-1.0, 1.0, size=X.nnz)
    y = rng.integers(0, K, size=n)
    y[:K] = np.arange(K)
    return X, y


def plain_saga_epoch(X, order, W, b, A, Ab, mem, Y, sw, eta, rho, eta_b):
    """The SAGA epoch of the module docstring, every feature stepped at every step (dense)."""
    X = X.toarray()
    n = X.shape[0]
    for i in order:
        r = sw[i] * (softmax(X[i] @ W + b) - Y[i])
        delta = r - mem[i]
        W[...] = rho * (W - eta * (n * np.outer(X[i], delta) + A))
        A += np.outer(X[i], delta)
        b -= eta_b * (n * delta + Ab)
        Ab += delta
        mem[i] = r
    return W, b


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("ridge", [0.0, 0.05, 1.0])  # 1.0: the scale is reset mid-epoch
def test_ridge_kernel_equals_plain_saga_steps(soft, ridge):
    X, y = sparse_rows(seed=int(ridge * 10) + soft)
    n, d = X.shape
    K = 4
    rng = np.random.default_rng(1)
    Y = rng.dirichlet(np.ones(K), size=n) if soft else np.eye(K)[y]
    sw = rng.uniform(0.5, 1.5, size=n)
    sw /= sw.sum()
    eta, eta_b = 0.5, 0.05
    rho = 1.0 / (1.0 + eta * ridge)
    W0 = rng.normal(scale=0.3, size=(d, K))
    b0 = rng.normal(scale=0.3, size=K)
    mem0 = sw[:, None] * rng.normal(scale=0.1, size=(n, K))
    A0 = X.T @ mem0
    Ab0 = mem0.sum(axis=0)
    W, b, A, Ab, mem = W0.copy(), b0.copy(), A0.copy(), Ab0.copy(), mem0.copy()
    WA = np.zeros((d, 2 * K + 1))
    WA[:, :K], WA[:, K:2 * K] = W0, A0
    b_k, Ab_k, mem_k = b0.copy(), Ab0.copy(), mem0.copy()
    for _ in range(3):
        order = rng.permutation(n)
        plain_saga_epoch(X, order, W, b, A, Ab, mem, Y, sw, eta, rho, eta_b)
        saga_epoch_csr_ridge(order, X.indptr, X.indices, X.data, WA, b_k, Ab_k, mem_k,
                             np.zeros(0, dtype=np.int64) if soft else y,
                             Y if soft else np.zeros((0, 0)), soft, sw, eta, rho, eta_b)
        np.testing.assert_allclose(WA[:, :K], W, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(WA[:, K:2 * K], A, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(WA[:, 2 * K], 0.0)
        np.testing.assert_allclose(b_k, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(mem_k, mem, rtol=1e-10, atol=1e-13)


def test_row_sq_norms_match_scipy():
    X, _ = sparse_rows(n=40, d=30)
    X = X.astype(np.float32)
    expected = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    np.testing.assert_allclose(row_sq_norms(X.indptr, X.data), expected, rtol=1e-6)


def test_intercept_newton_step_solves_a_quadratic_in_the_intercept():
    """H (K, K) singular along ones: the step makes H step = -g for g summing to 0."""
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=50)
    H = sum(np.diag(q) - np.outer(q, q) for q in p) / 50
    g = rng.normal(size=5)
    g -= g.mean()
    step = _intercept_newton_step(H, g)
    np.testing.assert_allclose(H @ step, -g, atol=1e-12)
    assert abs(step.sum()) < 1e-12


def penalised_objective(X, y, K, alpha):
    """(J, grad) of the mean cross-entropy + alpha/2 ||W||^2 in theta = [W.ravel(), b] (NumPy)."""
    n, d = X.shape
    Y = np.eye(K)[y]

    def fun(theta):
        W, b = theta[:d * K].reshape(d, K), theta[d * K:]
        Z = X @ W + b
        J = -(Y * log_softmax(Z, axis=1)).sum() / n + 0.5 * alpha * (W ** 2).sum()
        R = (softmax(Z, axis=1) - Y) / n
        return J, np.concatenate([(X.T @ R + alpha * W).ravel(), R.sum(axis=0)])
    return fun


def text_data(n=1500, d=1200, K=5, seed=3):
    """Zipf-like tf-idf rows (L2-normalised), labels from a planted softmax model."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, d + 1) ** 1.1
    rows = np.repeat(np.arange(n), rng.integers(10, 40, size=n))
    cols = rng.choice(d, size=rows.size, p=p / p.sum())
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    X.data = 1.0 + np.log(X.data)
    X = sp.csr_matrix(X.multiply(1.0 / np.sqrt(X.multiply(X).sum(axis=1))))
    y = np.argmax(X @ rng.normal(scale=8.0, size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_default_sparse_fit_is_within_tol_of_the_minimum_in_J(C):
    """The default fit (saga at these sizes, with its intercept steps and gap test) ends with
    (J - J*)/J* <= 1e-7 at a weak penalty too; J* from SciPy's L-BFGS-B on a NumPy objective."""
    X, y = text_data()
    n, d = X.shape
    K = 5
    alpha = 1.0 / (C * n)
    model = SoftmaxRegression(alpha=alpha, random_state=0).fit(X, y)
    assert model.solver_ == "saga" and model.stop_reason_ == "converged"
    fun = penalised_objective(X, y, K, alpha)
    theta = np.concatenate([model.coef_.T.ravel(), model.intercept_])
    ref = minimize(fun, theta, jac=True, method="L-BFGS-B",
                   options=dict(maxiter=20_000, ftol=1e-16, gtol=1e-12))
    J_star = min(ref.fun, fun(theta)[0])
    assert np.abs(ref.jac).max() < 1e-8  # the reference is tight
    assert (fun(theta)[0] - J_star) / J_star <= 1e-7


def test_gap_estimate_tracks_the_true_gap_on_sparse_data():
    """The diagonal Newton model of J - J* (gradient, Hessian diagonal and intercept Hessian
    computed here in NumPy) is within a factor 3 of the true gap along a SAGA run."""
    X, y = text_data(n=800, d=600)
    n, d = X.shape
    K = 5
    alpha = 1.0 / (10.0 * n)
    fun = penalised_objective(X, y, K, alpha)
    ref = minimize(fun, np.zeros((d + 1) * K), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=20_000, ftol=1e-16, gtol=1e-12))
    Y = np.eye(K)[y]
    for epochs in (3, 6, 12):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SoftmaxRegression(alpha=alpha, solver="saga", max_iter=epochs,
                                      random_state=0).fit(X, y)
        W, b = model.coef_.T, model.intercept_
        theta = np.concatenate([W.ravel(), b])
        J, grad = fun(theta)
        P = softmax(X @ W + b, axis=1)
        h = (X.multiply(X)).T @ (P * (1 - P)) / n + alpha
        Hb = (np.diag(P.sum(axis=0)) - P.T @ P) / n
        gb = (P - Y).sum(axis=0) / n
        estimate = _gap_estimate(grad[:d * K].reshape(d, K), np.asarray(h), gb, Hb)
        true_gap = J - ref.fun
        assert true_gap > 0 and 1 / 3 <= estimate / true_gap <= 3, (epochs, estimate, true_gap)
