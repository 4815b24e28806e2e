"""SoftmaxRegression / SoftmaxRegressionCV with l1_ratio, grouped and penalty_factor."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils.estimator_checks import parametrize_with_checks

from softreg import SoftmaxRegression, SoftmaxRegressionCV, infer
from softreg.regpath import regularization_path


def _data(seed=0, n=160, d=12, K=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, K)) * (rng.random((d, 1)) < 0.4) * 2
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, np.array(["a", "b", "c"])[y]


@pytest.mark.parametrize("l1_ratio,grouped", [(1.0, False), (0.5, False), (0.8, True)])
def test_fit_equals_the_path_point_and_is_not_centred(l1_ratio, grouped):
    X, y = _data()
    path = regularization_path(X, y, l1_ratio=l1_ratio, grouped=grouped, n_alphas=5,
                               alpha_min_ratio=0.05, tol=1e-10)
    alpha = path.alphas[3]
    model = SoftmaxRegression(alpha, l1_ratio=l1_ratio, grouped=grouped, tol=1e-10).fit(X, y)
    assert model.solver_ == "prox_newton" and model.stop_reason_ == "converged"
    np.testing.assert_allclose(model.coef_, path.coefs[3], atol=1e-7)
    np.testing.assert_allclose(model.predict_proba(X), softmax_of(X, path, 3), atol=1e-8)
    assert np.count_nonzero(model.coef_ == 0) > 0
    if not grouped:  # the L1 fit is not centred: its zeros would be destroyed
        assert np.max(np.abs(model.coef_.sum(axis=0))) > 1e-3


def softmax_of(X, path, t):
    Z = X @ path.coefs[t].T + path.intercepts[t]
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


def test_ridge_keeps_its_solver_and_penalty_factor_of_ones_changes_nothing():
    X, y = _data(1)
    ridge = SoftmaxRegression(0.01, tol=1e-10).fit(X, y)
    assert ridge.solver_ == "newton"
    pf = SoftmaxRegression(0.01, penalty_factor=np.ones(12), tol=1e-10).fit(X, y)
    assert pf.solver_ == "prox_newton"
    np.testing.assert_allclose(pf.coef_, ridge.coef_, atol=1e-7)
    np.testing.assert_allclose(pf.intercept_, ridge.intercept_, atol=1e-7)


def test_sparse_float32_and_two_classes():
    X, y = _data(2)
    y2 = np.where(y == "a", "a", "z")
    X32 = sp.csr_matrix(X.astype(np.float32))
    model = SoftmaxRegression(0.02, l1_ratio=1.0).fit(X32, y2)
    assert model.coef_.shape == (1, 12) and model.coef_.dtype == np.float32
    assert model.stop_reason_ == "converged"
    assert model.score(X32, y2) > 0.6


@pytest.mark.parametrize("kwargs,match", [
    (dict(l1_ratio=1.5), "l1_ratio"),
    (dict(l1_ratio=-0.1), "l1_ratio"),
    (dict(grouped=True), "grouped=True needs l1_ratio > 0"),
    (dict(l1_ratio=1.0, penalty_factor=np.ones(5)), "penalty_factor has 5 entries"),
    (dict(l1_ratio=1.0, penalty_factor=-np.ones(12)), "non-negative"),
    (dict(l1_ratio=1.0, penalty_factor=np.r_[np.nan, np.ones(11)]), "NaN"),
    (dict(l1_ratio=1.0, solver="lbfgs"), "solver='lbfgs' cannot fit"),
])
def test_bad_input(kwargs, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(0.01, **kwargs).fit(X, y)


def test_partial_fit_and_infer_refuse_l1():
    X, y = _data()
    model = SoftmaxRegression(0.01, l1_ratio=1.0)
    assert not hasattr(model, "partial_fit")  # minibatch SGD has no L1 part
    assert hasattr(SoftmaxRegression(0.01), "partial_fit")
    model.fit(X, y)
    with pytest.raises(ValueError, match="post-selection inference"):
        infer(model, X, y)


def test_cv_best_and_one_standard_error_rule():
    X, y = _data(3, n=150)
    best = SoftmaxRegressionCV(alphas=6, l1_ratio=1.0, cv=3, scoring="neg_log_loss",
                               tol=1e-7).fit(X, y)
    one_se = SoftmaxRegressionCV(alphas=6, l1_ratio=1.0, cv=3, scoring="neg_log_loss",
                                 tol=1e-7, rule="1se").fit(X, y)
    np.testing.assert_allclose(one_se.scores_, best.scores_)
    a_max = regularization_path(X, y, n_alphas=1).alpha_max
    assert best.alphas_[0] == pytest.approx(a_max)
    assert best.alphas_[-1] == pytest.approx(1e-4 * a_max)
    assert best.alpha_ == best.alpha_best_ == best.alphas_[np.argmax(best.mean_scores_)]
    # the 1se rule by hand
    i = np.argmax(best.mean_scores_)
    se = best.scores_[:, i].std(ddof=1) / np.sqrt(3)
    ok = np.flatnonzero(best.mean_scores_ >= best.mean_scores_[i] - se)
    assert one_se.alpha_1se_ == best.alphas_[ok[0]] == one_se.alpha_
    assert one_se.alpha_ >= one_se.alpha_best_
    assert one_se.estimator_.l1_ratio == 1.0
    assert one_se.estimator_.alpha == one_se.alpha_


def test_model_file_round_trip_keeps_the_penalty(tmp_path):
    from softreg import load, save

    X, y = _data(4)
    pf = np.r_[0.0, np.ones(11)]
    model = SoftmaxRegression(0.02, l1_ratio=0.7, grouped=True, penalty_factor=pf).fit(X, y)
    save(model, tmp_path / "m.softreg")
    back = load(tmp_path / "m.softreg")
    assert back.l1_ratio == 0.7 and back.grouped is True
    np.testing.assert_array_equal(back.penalty_factor, pf)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


# (the checks' features are N(100, 1): the dense columns are centred inside the solver, so
# the intercept does not slow coordinate descent down and tol=1e-12 is reached)
@parametrize_with_checks([SoftmaxRegression(alpha=1e-3, l1_ratio=0.5, tol=1e-12),
                          SoftmaxRegression(alpha=1e-3, l1_ratio=1.0, grouped=True, tol=1e-12)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_cv_refuses_bad_penalty_settings_and_grouped_cv_runs():
    X, y = _data(5, n=90)
    with pytest.raises(ValueError, match="grouped=True needs l1_ratio > 0"):
        SoftmaxRegressionCV(alphas=3, grouped=True, cv=3).fit(X, y)
    with pytest.raises(ValueError, match="penalty_factor has 2 entries"):
        SoftmaxRegressionCV(alphas=3, l1_ratio=1.0, penalty_factor=[1.0, 1.0], cv=3).fit(X, y)
    cv = SoftmaxRegressionCV(alphas=4, l1_ratio=1.0, grouped=True, cv=3, tol=1e-7).fit(X, y)
    rows = np.any(cv.coef_ != 0, axis=0)
    assert np.all(np.all(cv.coef_[:, rows] != 0, axis=0))  # all classes in or out together
    assert cv.estimator_.solver_ == "prox_newton"
