"""The proximal Newton solver's stopping rule in objective units (``obj_tol``) and its
coordinate descent along implicitly centred columns.

References independent of the solver: the entrywise decrease estimate written out with
plain NumPy (violations from a NumPy gradient, curvatures from the definition
sum_i s_i (x_ij - mu_jk)^2 P_ik (1 - P_ik) with the Newton-weighted means mu_jk), and a
tightly converged fit (tol=1e-12) as the optimum.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.regpath import regularization_path
from softreg.solvers import CONVERGED
from softreg.solvers.prox_newton import ColumnData, _decrease_estimate, _state, solve


def _data(seed=0, n=300, d=40, K=4):
    """Sparse, non-negative columns with very different frequencies (tf-idf-like): the
    case where a small gradient violation on a rare feature hides a large loss."""
    rng = np.random.default_rng(seed)
    freq = np.geomspace(0.6, 0.01, d)
    X = rng.random((n, d)) * (rng.random((n, d)) < freq)
    W = rng.normal(size=(d, K)) * 3
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return sp.csr_matrix(X), y


def _numpy_estimate(X, y, W, b, pen, K):
    X = X.toarray()
    n = X.shape[0]
    s = np.full(n, 1.0 / n)
    P = softmax(X @ W + b, axis=1)
    Res = s[:, None] * (P - np.eye(K)[y])
    G = X.T @ Res
    V = pen.optimality_violation(W, G)
    w = s[:, None] * P * (1 - P)  # (n, K) Newton weights
    mu = (X.T @ w) / w.sum(axis=0)  # (d, K)
    H = np.array([[np.sum(w[:, k] * (X[:, j] - mu[j, k]) ** 2) for k in range(K)]
                  for j in range(X.shape[1])])
    gb = Res.sum(axis=0)
    est = np.sum(np.where(V > 0, V ** 2 / (2 * np.where(H > 0, H, 1.0)), 0.0))
    return est + np.sum(gb ** 2 / (2 * w.sum(axis=0)))


def test_decrease_estimate_matches_numpy():
    X, y = _data(1)
    K = 4
    f = SoftmaxObjective(X, y=y, n_classes=K)
    cd = ColumnData(f)
    rng = np.random.default_rng(3)
    W = rng.normal(size=(40, K)) * (rng.random((40, K)) < 0.3)
    b = rng.normal(size=K)
    pen = Penalty(0.01, 1.0)
    st = _state(cd, pen, W, b)
    Res = cd.sw[:, None] * (st.P - cd.Y)
    cols = np.arange(40)
    got = _decrease_estimate(cd, pen, st, cols, cd.full_gradient(Res), Res.sum(axis=0))
    want = _numpy_estimate(X, y, W, b, pen, K)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_obj_tol_brings_the_objective_close(l1_ratio):
    X, y = _data(2)
    K = 4
    f = SoftmaxObjective(X, y=y, n_classes=K)
    cd = ColumnData(f)
    G0 = cd.gradient(cd.sw[:, None] * (softmax(np.zeros((300, K)) + cd.intercept_only(),
                                                axis=1) - cd.Y))
    pen = Penalty(0.02 * np.abs(G0).max() / l1_ratio, l1_ratio)
    W0, b0 = np.zeros((40, K)), np.zeros(K)
    best = solve(cd, pen, W0, b0, tol=1e-12)
    assert best.stop_reason == CONVERGED
    res = solve(cd, pen, W0, b0, tol=1e-3, obj_tol=1e-10)
    assert res.stop_reason == CONVERGED
    assert res.violation <= 1e-3
    st = _state(cd, pen, res.W, cd.to_centred(res.W, res.b))
    Res = cd.sw[:, None] * (st.P - cd.Y)
    est = _decrease_estimate(cd, pen, st, np.arange(40), cd.full_gradient(Res),
                             Res.sum(axis=0))
    assert est <= 1e-10 * abs(res.loss)
    # the estimate is the decrease of one diagonal Newton step: the gap is of its order
    assert 0.0 <= res.loss - best.loss <= 1e-8 * abs(best.loss)


def test_path_with_obj_tol_matches_tight_path():
    X, y = _data(4)
    tight = regularization_path(X, y, n_alphas=6, alpha_min_ratio=0.02, tol=1e-12)
    loose = regularization_path(X, y, n_alphas=6, alpha_min_ratio=0.02, tol=1e-4,
                                obj_tol=1e-10)
    assert tight.converged and loose.converged
    np.testing.assert_array_equal(loose.alphas, tight.alphas)
    assert np.all(loose.objective - tight.objective <= 1e-8 * np.abs(tight.objective))
    assert np.all(loose.objective >= tight.objective - 1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_equals_dense(fit_intercept, weighted):
    """Sparse X (implicit centring) and dense X (explicit centring) reach the same optimum."""
    X, y = _data(5)
    w = np.random.default_rng(6).uniform(0.2, 3.0, 300) if weighted else None
    kw = dict(n_alphas=4, alpha_min_ratio=0.05, tol=1e-11, sample_weight=w,
              fit_intercept=fit_intercept)
    ps = regularization_path(X, y, **kw)
    pd = regularization_path(X.toarray(), y, **kw)
    assert ps.converged and pd.converged
    np.testing.assert_allclose(ps.objective, pd.objective, rtol=1e-12, atol=1e-14)
    # coefficients of rarely seen features are loosely determined (curvature ~1e-6: a
    # violation of 1e-11 allows ~1e-5); the supports and the objective are what must agree
    np.testing.assert_allclose(ps.coefs, pd.coefs, atol=1e-4)
    np.testing.assert_array_equal(ps.n_active, pd.n_active)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_nearly_separable_classes_converge(sparse, l1_ratio):
    """Well separated blobs and a tiny alpha: a class's Newton weights P(1 - P) all but
    vanish, the intercept's curvature is nearly singular beyond its all-ones null
    direction; the solver must still converge to the optimum, not stall."""
    from sklearn.datasets import make_blobs

    from softreg.solvers import prox_grad
    from softreg.solvers.prox_newton import prox_newton

    X, y = make_blobs(random_state=0, n_samples=21)
    X = sp.csr_matrix(X) if sparse else X
    f = SoftmaxObjective(X, y=y, n_classes=3)
    pen = Penalty(0.001, l1_ratio)
    res = prox_newton(f, pen, f.zeros(), tol=1e-10)
    assert res.stop_reason == CONVERGED
    ref = prox_grad(f, pen, f.zeros(), tol=1e-10, max_iter=200_000)
    assert res.loss <= ref.loss + 1e-10 * abs(ref.loss)
