"""SoftmaxRegressionCV against a brute-force GridSearchCV, and scikit-learn's checks."""

import json
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from softreg import SoftmaxRegression, SoftmaxRegressionCV
from softreg._objective import SoftmaxObjective
from softreg._params import coef_intercept
from softreg.penalties import Penalty
from softreg.solvers import NewtonState, newton

ALPHAS = np.logspace(-1, -5, 6)


def _data(seed=0, n=240, K=3):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=0,
                               n_classes=K, n_clusters_per_class=1, class_sep=0.6,
                               random_state=seed)
    return X, y


def _grid(cv, scoring, X, y, sample_weight=None, solver="auto", tol=1e-8):
    """Brute force: GridSearchCV over SoftmaxRegression with the same grid order."""
    est = SoftmaxRegression(tol=tol, solver=solver)
    scorer = get_scorer(scoring) if scoring is not None else None
    if sample_weight is None:
        search = GridSearchCV(est, {"alpha": list(ALPHAS)}, cv=cv, scoring=scorer)
        return search.fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        est.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        if scorer is not None:
            scorer = scorer.set_score_request(sample_weight=True)
        search = GridSearchCV(est, {"alpha": list(ALPHAS)}, cv=cv, scoring=scorer)
        return search.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("scoring, weighted, solver, tol", [
    ("neg_log_loss", False, "auto", 1e-8),
    ("neg_log_loss", True, "auto", 1e-8),
    (None, False, "auto", 1e-8),
    (None, True, "auto", 1e-8),
    ("neg_log_loss", True, "lbfgs", 1e-6),
])
def test_same_choice_and_scores_as_grid_search(scoring, weighted, solver, tol):
    X, y = _data(1)
    s = np.random.default_rng(0).uniform(0.2, 3, size=len(y)) if weighted else None
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    model = SoftmaxRegressionCV(alphas=ALPHAS, cv=cv, scoring=scoring, tol=tol,
                                solver=solver).fit(X, y, sample_weight=s)
    search = _grid(cv, scoring, X, y, s, solver=solver, tol=tol)
    np.testing.assert_array_equal(model.alphas_, ALPHAS)
    grid_scores = np.array([search.cv_results_[f"split{i}_test_score"] for i in range(4)])
    rtol = 100 * tol
    np.testing.assert_allclose(model.scores_, grid_scores, rtol=rtol, atol=rtol)
    assert model.alpha_ == search.best_params_["alpha"]
    np.testing.assert_allclose(model.mean_scores_, search.cv_results_["mean_test_score"],
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.std_scores_, search.cv_results_["std_test_score"],
                               rtol=1e-3, atol=rtol)
    # the refit is the grid's best estimator
    np.testing.assert_allclose(model.predict_proba(X), search.predict_proba(X),
                               atol=max(1e-5, 1e3 * tol))


def test_class_weight_same_as_grid_search():
    X, y = _data(6, n=180)
    y[:40] = 0  # unbalanced
    cv = KFold(3, shuffle=True, random_state=2)
    model = SoftmaxRegressionCV(alphas=ALPHAS, cv=cv, scoring="neg_log_loss",
                                class_weight="balanced").fit(X, y)
    search = GridSearchCV(SoftmaxRegression(class_weight="balanced"),
                          {"alpha": list(ALPHAS)}, cv=cv, scoring="neg_log_loss").fit(X, y)
    grid_scores = np.array([search.cv_results_[f"split{i}_test_score"] for i in range(3)])
    np.testing.assert_allclose(model.scores_, grid_scores, rtol=1e-6, atol=1e-6)
    assert model.alpha_ == search.best_params_["alpha"]


def test_weights_change_the_scores():
    X, y = _data(2)
    s = np.where(y == 0, 5.0, 0.5)
    cv = KFold(3, shuffle=True, random_state=1)
    plain = SoftmaxRegressionCV(alphas=ALPHAS, cv=cv, scoring="neg_log_loss").fit(X, y)
    weighted = SoftmaxRegressionCV(alphas=ALPHAS, cv=cv, scoring="neg_log_loss").fit(
        X, y, sample_weight=s)
    assert not np.allclose(plain.scores_, weighted.scores_)
    # integer weights are repeated rows in the fit (same folds by construction here:
    # every fold's training set repeats rows, so compare one fold's path fit directly)
    est = SoftmaxRegression(alpha=1e-3, tol=1e-10)
    a = est.fit(X, y, sample_weight=np.full(len(y), 2.0)).coef_
    b = SoftmaxRegression(alpha=1e-3, tol=1e-10).fit(X, y).coef_
    np.testing.assert_allclose(a, b, atol=1e-8)


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_newton_path_matches_the_estimator(K, fit_intercept):
    X, y = _data(3, n=200, K=K)
    s = np.random.default_rng(1).uniform(0.5, 2, size=len(y))
    obj = SoftmaxObjective(X, y=y, sample_weight=s, fit_intercept=fit_intercept, n_classes=K)
    theta, state = obj.zeros(), NewtonState()
    for alpha in [1.0, 1e-2, 1e-4]:
        res = newton(obj, Penalty(alpha=alpha), theta, tol=1e-10, inner="exact", state=state)
        theta = res.params
        assert res.stop_reason == "converged"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = SoftmaxRegression(alpha=alpha, fit_intercept=fit_intercept,
                                    tol=1e-8).fit(X, y, sample_weight=s)
        probe = SoftmaxRegression(alpha=alpha, fit_intercept=fit_intercept)
        probe.classes_, probe.n_features_in_ = ref.classes_, X.shape[1]
        probe.coef_, probe.intercept_ = coef_intercept(*obj.unpack(theta), X.dtype)
        np.testing.assert_allclose(probe.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_attributes_and_serialisation():
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegressionCV(alphas=4, cv=3).fit(X, y)
    assert model.scores_.shape == (3, 4)
    assert np.all(np.diff(model.alphas_) < 0)
    assert model.alpha_ == model.alphas_[model.best_index_]
    assert model.coef_.shape == (3, 4)
    assert model.score(X, y) > 0.9
    data = json.loads(json.dumps(model.to_dict()))
    assert data["alpha"] == model.alpha_ and data["scoring"] == "accuracy"
    assert np.array(data["scores"]).shape == (3, 4)


def test_ties_go_to_the_largest_alpha():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1] * 4)
    model = SoftmaxRegressionCV(alphas=[1e-3, 1e-2, 1e-1], cv=3).fit(X, y)
    assert np.all(model.mean_scores_ == 1.0)
    assert model.alpha_ == 1e-1


def test_bad_input_is_named():
    X, y = _data(5)
    with pytest.raises(ValueError, match="alphas must be"):
        SoftmaxRegressionCV(alphas=[-1.0]).fit(X, y)
    with pytest.raises(ValueError, match="soft targets"):
        SoftmaxRegressionCV().fit(X, np.eye(3)[y])


@parametrize_with_checks([SoftmaxRegressionCV(alphas=[1e-2, 1e-4], cv=3)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_parallel_and_sparse_paths_agree_with_the_exact_path():
    import scipy.sparse as sp

    X, y = _data(7, n=300)
    dense = SoftmaxRegressionCV(alphas=4, cv=3).fit(X, y)
    parallel = SoftmaxRegressionCV(alphas=4, cv=3, n_jobs=2).fit(X, y)
    sparse = SoftmaxRegressionCV(alphas=4, cv=3).fit(sp.csr_matrix(X), y)  # estimator path
    np.testing.assert_array_equal(parallel.scores_, dense.scores_)
    np.testing.assert_allclose(sparse.scores_, dense.scores_, atol=1e-6)
    assert sparse.alpha_ == dense.alpha_


@pytest.mark.parametrize("solver, expected", [("auto", "newton"), ("lbfgs", "lbfgs")])
def test_cv_refit_records_its_solver(solver, expected):
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegressionCV(alphas=3, cv=3, solver=solver).fit(X, y)
    assert model.solver_ == model.estimator_.solver_ == expected


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("scoring", ["accuracy", "neg_log_loss"])
def test_fast_score_is_the_scorers_number(K, weighted, scoring):
    from softreg.cv import _fast_score

    X, y = _data(3, n=300, K=K)
    labels = np.array(["a", "b", "c", "d"])[y]  # string labels: codes come from classes_
    rng = np.random.default_rng(1)
    s = rng.uniform(0.2, 3, size=100) if weighted else None
    # alpha 0 on separable-ish data: some probabilities clip at eps in log_loss
    for alpha in (1.0, 1e-3, 0.0):
        est = SoftmaxRegression(alpha=alpha, max_iter=50).fit(X[100:] * 20, labels[100:])
        want = get_scorer(scoring)(est, X[:100] * 20, labels[:100],
                                   **({} if s is None else {"sample_weight": s}))
        got = _fast_score(est, X[:100] * 20, labels[:100], scoring, s)
        assert got == pytest.approx(want, rel=1e-13, abs=1e-15)


def test_fast_score_leaves_unknown_labels_to_the_scorer():
    from softreg.cv import _fast_score

    X, y = _data(4, n=200, K=3)
    est = SoftmaxRegression().fit(X[y < 2], y[y < 2])
    assert _fast_score(est, X, y, "neg_log_loss", None) is None
    assert _fast_score(est, X[:0], y[:0], "accuracy", None) is None
