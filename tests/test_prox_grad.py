"""The accelerated proximal gradient solver (``solvers.prox_grad``): the same optimum as
``prox_newton`` in memory, optimality conditions checked independently, and the penalised
fit on Dask collections (which only offer full gradients)."""

import numpy as np
import pytest

import softreg
from softreg._params import build_datafit
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, prox_grad, prox_newton


def problem(K=3, n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d)
    W = np.zeros((d, K))
    W[:3] = 2 * rng.normal(size=(3, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


PENALTIES = [
    Penalty(0.05, 1.0), Penalty(0.05, 0.5), Penalty(0.08, 1.0, grouped=True),
    Penalty(0.01, 1.0), Penalty(0.03, 1.0, penalty_factor=np.array([0, 1, 1, 2, 2, 2.0])),
    Penalty(0.1, 0.0),
]


def kkt(datafit, penalty, theta):
    """Largest violation of the optimality conditions, computed here from the gradient."""
    d, K = datafit.n_features, datafit.n_classes
    _, g = datafit.loss_grad(theta)
    W, G = theta[: d * K].reshape(d, K), g[: d * K].reshape(d, K)
    pf = np.ones(d) if penalty.penalty_factor is None else penalty.penalty_factor
    G = G + penalty.alpha * (1 - penalty.l1_ratio) * pf[:, None] * W
    lam = penalty.alpha * penalty.l1_ratio * pf
    if penalty.grouped:
        norms = np.linalg.norm(W, axis=1)
        v = np.where(norms > 0,
                     np.linalg.norm(G + lam[:, None] * W / np.where(norms > 0, norms, 1)[:, None],
                                    axis=1),
                     np.maximum(np.linalg.norm(G, axis=1) - lam, 0))
    else:
        v = np.where(W != 0, np.abs(G + lam[:, None] * np.sign(W)),
                     np.maximum(np.abs(G) - lam[:, None], 0))
    return max(float(v.max()), float(np.abs(g[d * K:]).max()))


@pytest.mark.parametrize("penalty", PENALTIES, ids=lambda p: repr(p)[:60])
def test_reaches_the_prox_newton_optimum(penalty):
    X, y = problem()
    datafit, _ = build_datafit(X, y, None, fit_intercept=True)
    theta0 = datafit.zeros()
    r = prox_grad(datafit, penalty, theta0, tol=1e-9, max_iter=5000)
    ref = prox_newton(datafit, penalty, theta0, tol=1e-10, max_iter=500)
    assert r.stop_reason == CONVERGED and ref.stop_reason == CONVERGED
    assert kkt(datafit, penalty, r.params) <= 1.01e-9
    assert r.grad_norm == pytest.approx(kkt(datafit, penalty, r.params), rel=1e-6, abs=1e-15)
    n_W = X.shape[1] * 3
    np.testing.assert_allclose(r.params[:n_W], ref.params[:n_W], atol=1e-6)
    assert (r.params[:n_W] == 0).tolist() == (ref.params[:n_W] == 0).tolist()  # same support
    assert r.loss <= ref.loss + 1e-12
    assert np.all(np.diff(r.loss_curve) <= 1e-12)  # never goes up


def test_stops_at_max_iter_honestly():
    X, y = problem()
    datafit, _ = build_datafit(X, y, None, fit_intercept=True)
    r = prox_grad(datafit, Penalty(0.01, 1.0), datafit.zeros(), tol=1e-12, max_iter=3)
    assert r.stop_reason == "max_iter" and r.n_iter == 3 and len(r.loss_curve) == 3
    assert r.grad_norm > 1e-12


def test_estimator_solver_prox_grad_in_memory():
    X, y = problem(seed=2)
    a = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0, solver="prox_grad",
                                  tol=1e-9).fit(X, y)
    b = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0, tol=1e-10).fit(X, y)
    assert a.solver_ == "prox_grad" and b.solver_ == "prox_newton"
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("params", [{"alpha": 0.05, "l1_ratio": 1.0},
                                    {"alpha": 0.08, "l1_ratio": 0.7, "grouped": True}])
def test_penalised_fit_on_dask_reaches_the_in_memory_optimum(params):
    da = pytest.importorskip("dask.array")
    import dask

    X, y = problem(seed=4)
    s = np.random.default_rng(5).uniform(0.5, 2.0, size=len(y))
    ref = softreg.SoftmaxRegression(tol=1e-10, **params).fit(X, y, sample_weight=s)
    with dask.config.set(scheduler="synchronous"):
        model = softreg.SoftmaxRegression(tol=1e-9, **params).fit(
            da.from_array(X, chunks=(70, -1)), da.from_array(y, chunks=70),
            sample_weight=da.from_array(s, chunks=70))
    assert model.solver_ == "prox_grad" and model.stop_reason_ == CONVERGED
    assert ref.solver_ == "prox_newton"
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)
    assert (model.coef_ == 0).tolist() == (ref.coef_ == 0).tolist()
    assert 0 < np.count_nonzero(ref.coef_) < ref.coef_.size


def test_prox_newton_on_dask_is_refused_by_name():
    da = pytest.importorskip("dask.array")
    X, y = problem()
    with pytest.raises(ValueError, match="solver='prox_newton' needs in-memory data"):
        softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0, solver="prox_newton").fit(
            da.from_array(X, chunks=(100, -1)), da.from_array(y, chunks=100))
