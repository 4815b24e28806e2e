"""The proximal Newton solver for L1 / elastic-net / grouped penalties.

References independent of the solver: the optimality (KKT) conditions written out by hand
with a plain NumPy gradient; scikit-learn's saga (same optimum at C = 1 / (alpha sum(s)));
softreg's smooth Newton-CG for the ridge-only case; and invariances (dense = sparse,
float32 = float64, integer weights = repeated rows, one-hot soft targets = labels).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, MAX_ITER, newton
from softreg.solvers.prox_newton import prox_newton


def _data(seed=0, n=200, d=10, K=3, sparse=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if sparse:
        X *= rng.random((n, d)) < 0.4
    W = rng.normal(size=(d, K)) * (rng.random((d, 1)) < 0.5) * 2
    y = np.argmax(X @ W + 0.5 + rng.gumbel(size=(n, K)), axis=1)
    return (sp.csr_matrix(X) if sparse else X), y


def _fit(X, y, penalty, *, K=3, tol=1e-10, sample_weight=None, Y=None, fit_intercept=True,
         max_iter=200):
    f = SoftmaxObjective(X, y=None if Y is not None else y, Y=Y, sample_weight=sample_weight,
                         n_classes=K, fit_intercept=fit_intercept)
    res = prox_newton(f, penalty, f.zeros(), tol=tol, max_iter=max_iter)
    W, b = f.unpack(res.params)
    return res, W, (np.zeros(K) if b is None else b)


def kkt_violation(X, y, W, b, penalty, sample_weight=None):
    """Largest violation of the optimality conditions, from a plain NumPy gradient."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    n, K = X.shape[0], W.shape[1]
    s = np.ones(n) if sample_weight is None else sample_weight
    Y = np.eye(K)[y]
    P = softmax(X @ W + b, axis=1)
    R = s[:, None] * (P - Y) / s.sum()
    pf = np.ones(X.shape[1]) if penalty.penalty_factor is None else penalty.penalty_factor
    lam, rid = penalty.alpha * penalty.l1_ratio * pf, penalty.alpha * (1 - penalty.l1_ratio) * pf
    G = X.T @ R + rid[:, None] * W
    worst = np.abs(R.sum(axis=0)).max()
    for j in range(W.shape[0]):
        if penalty.grouped:
            nrm = np.linalg.norm(W[j])
            v = (np.linalg.norm(G[j] + lam[j] * W[j] / nrm) if nrm > 0
                 else max(np.linalg.norm(G[j]) - lam[j], 0.0))
            worst = max(worst, v)
            continue
        for k in range(K):
            v = (abs(G[j, k] + lam[j] * np.sign(W[j, k])) if W[j, k] != 0
                 else max(abs(G[j, k]) - lam[j], 0.0))
            worst = max(worst, v)
    return worst


CASES = [(1.0, False), (0.5, False), (1.0, True), (0.4, True)]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("l1_ratio,grouped", CASES)
def test_kkt_conditions_hold(l1_ratio, grouped, sparse):
    X, y = _data(1, sparse=sparse)
    pf = np.r_[0.0, np.linspace(0.5, 2.0, 9)]
    pen = Penalty(0.06, l1_ratio, grouped, pf)
    res, W, b = _fit(X, y, pen, tol=1e-9)
    assert res.stop_reason == CONVERGED
    assert res.grad_norm <= 1e-9
    assert kkt_violation(X, y, W, b, pen) <= 1e-8
    assert 0 < np.count_nonzero(np.any(W != 0, axis=1)) < 10  # a sparse, non-trivial fit


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_same_optimum_as_saga(l1_ratio):
    X, y = _data(2, n=150, d=6)
    alpha = 0.02
    res, W, b = _fit(X, y, Penalty(alpha, l1_ratio), tol=1e-11)
    model = LogisticRegression(C=1 / (alpha * X.shape[0]), l1_ratio=l1_ratio, solver="saga",
                               tol=1e-12, max_iter=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, y)
    f = SoftmaxObjective(X, y=y, n_classes=3)
    pen = Penalty(alpha, l1_ratio)
    j_saga = f.loss(f.pack(model.coef_.T, model.intercept_)) + pen.value(model.coef_.T)
    assert res.loss <= j_saga + 1e-12
    assert res.loss == pytest.approx(j_saga, abs=1e-9)
    np.testing.assert_allclose(W, model.coef_.T, atol=1e-4)
    np.testing.assert_allclose(f.probabilities(res.params),
                               model.predict_proba(X), atol=1e-5)


def test_ridge_only_equals_smooth_newton():
    X, y = _data(3)
    res, W, b = _fit(X, y, Penalty(0.05, 0.0), tol=1e-10)
    f = SoftmaxObjective(X, y=y, n_classes=3)
    ref = newton(f, Penalty(0.05), f.zeros(), tol=1e-11)
    assert res.loss == pytest.approx(ref.loss, abs=1e-12)
    np.testing.assert_allclose(f.probabilities(res.params), f.probabilities(ref.params),
                               atol=1e-8)


@pytest.mark.parametrize("l1_ratio,grouped", CASES)
def test_dense_sparse_and_float32_agree(l1_ratio, grouped):
    X, y = _data(4)
    pen = Penalty(0.02, l1_ratio, grouped)
    _, W64, b64 = _fit(X, y, pen)
    _, Wsp, bsp = _fit(sp.csr_matrix(X), y, pen)
    X32 = X.astype(np.float32)
    _, W32, b32 = _fit(X32, y, pen)
    _, W32s, _ = _fit(sp.csr_matrix(X32), y, pen)
    np.testing.assert_allclose(Wsp, W64, atol=1e-8)
    # float32 data is a slightly different problem: compare against its float64 copy
    _, Wref, _ = _fit(X32.astype(np.float64), y, pen)
    np.testing.assert_allclose(W32, Wref, atol=1e-8)
    np.testing.assert_allclose(W32s, Wref, atol=1e-8)
    f = SoftmaxObjective(X32, y=y, n_classes=3)
    assert f.X.dtype == np.float32


def test_integer_weights_equal_repeated_rows():
    X, y = _data(5, n=80)
    w = np.random.default_rng(0).integers(0, 4, size=80).astype(float)
    pen = Penalty(0.02, 0.8)
    _, W, b = _fit(X, y, pen, sample_weight=w)
    rows = np.repeat(np.arange(80), w.astype(int))
    _, Wr, br = _fit(X[rows], y[rows], pen)
    np.testing.assert_allclose(W, Wr, atol=1e-8)
    assert kkt_violation(X, y, W, b, pen, w) <= 1e-8


def test_one_hot_soft_targets_equal_labels_and_soft_targets_fit():
    X, y = _data(6)
    pen = Penalty(0.02, 1.0)
    _, W, _ = _fit(X, y, pen)
    _, Ws, _ = _fit(X, None, pen, Y=np.eye(3)[y])
    np.testing.assert_allclose(Ws, W, atol=1e-10)
    Y = 0.8 * np.eye(3)[y] + 0.2 / 3
    res, Wsoft, bsoft = _fit(X, None, pen, Y=Y)
    assert res.stop_reason == CONVERGED
    P = softmax(X @ Wsoft + bsoft, axis=1)
    G = X.T @ (P - Y) / X.shape[0]
    assert np.all(np.abs(G[np.all(Wsoft == 0, axis=1)]) <= 0.02 + 1e-9)


def test_without_intercept():
    X, y = _data(7)
    pen = Penalty(0.01, 1.0)
    res, W, _ = _fit(X, y, pen, fit_intercept=False)
    assert res.stop_reason == CONVERGED
    f = SoftmaxObjective(X, y=y, n_classes=3, fit_intercept=False)
    assert res.params.shape == (f.n_params,)
    assert kkt_violation(X, y, W, np.zeros(3), pen) - 0 <= 1e-8 + np.abs(
        (softmax(X @ W, axis=1) - np.eye(3)[y]).mean(0)).max()


def test_stop_reason_is_honest():
    X, y = _data(8)
    res, _, _ = _fit(X, y, Penalty(0.005, 1.0), max_iter=1)
    assert res.stop_reason == MAX_ITER
    assert res.grad_norm > 1e-10
    assert "did not reach" in res.message


def test_large_alpha_gives_zero():
    X, y = _data(9)
    res, W, _ = _fit(X, y, Penalty(10.0, 1.0))
    assert res.stop_reason == CONVERGED and not np.any(W)
