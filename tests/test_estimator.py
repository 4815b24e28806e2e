"""SoftmaxRegression behaviour: the seed's update, targets, inputs, attributes, streams."""

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from softreg import DivergenceError, SoftmaxRegression
from softreg.estimator import GRADIENT_TOL


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_gd_fixed_steps_are_the_seed_formula(iris):
    """Three steps of W <- W - eta (mean (P - Y) x^T + alpha W), b <- b - eta mean (P - Y)."""
    X, y = iris
    eta, alpha, K = 0.3, 0.05, 3
    Y = np.eye(K)[y]
    W, b = np.zeros((X.shape[1], K)), np.zeros(K)
    for _ in range(3):
        Z = X @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        W, b = W - eta * (X.T @ (P - Y) / len(y) + alpha * W), b - eta * (P - Y).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(alpha=alpha, solver="gd", learning_rate=eta, max_iter=3).fit(X, y)
    np.testing.assert_allclose(model.coef_, (W - W.mean(axis=1, keepdims=True)).T, rtol=1e-12)
    np.testing.assert_allclose(model.intercept_, b - b.mean(), rtol=1e-12, atol=1e-15)
    assert model.n_iter_ == 3 and len(model.loss_curve_) == 3


def test_fixed_step_that_diverges_raises(iris):
    X, y = iris
    X = X * 1e3
    with pytest.raises(DivergenceError, match="learning_rate=1e\\+06 is too large"):
        SoftmaxRegression(solver="gd", learning_rate=1e6, max_iter=5000, alpha=1.0).fit(X, y)


def test_convergence_warning_gives_advice(iris):
    X, y = iris
    X = X * np.array([1e-3, 1.0, 1e3, 1.0])
    with pytest.warns(ConvergenceWarning, match="standardise them") as record:
        SoftmaxRegression(solver="gd", max_iter=5).fit(X, y)
    assert "max_iter" in str(record[0].message) and "solver='newton'" in str(record[0].message)


def test_one_hot_targets_equal_labels(iris):
    X, y = iris
    a = SoftmaxRegression(alpha=1e-2).fit(X, y)
    b = SoftmaxRegression(alpha=1e-2).fit(X, np.eye(3)[y])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("class_weight", [None, {0: 2.0, 1: 0.5, 2: 1.0}])
def test_soft_targets_equal_the_expanded_data(iris, class_weight):
    """A soft-target row equals K copies of the row with weights s_i * Y_ik."""
    X, _ = iris
    rng = np.random.default_rng(0)
    Y = rng.dirichlet(np.ones(3), size=len(X))
    s = rng.uniform(0.5, 2.0, size=len(X))
    soft = SoftmaxRegression(alpha=1e-2, class_weight=class_weight).fit(X, Y, sample_weight=s)
    X_big = np.repeat(X, 3, axis=0)
    y_big = np.tile(np.arange(3), len(X))
    s_big = (s[:, None] * Y).ravel()
    hard = SoftmaxRegression(alpha=1e-2, class_weight=class_weight)
    hard.fit(X_big, y_big, sample_weight=s_big)
    np.testing.assert_allclose(soft.coef_, hard.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(soft.predict_proba(X), hard.predict_proba(X), atol=1e-8)


def test_soft_targets_from_a_dataframe_name_the_classes(iris):
    X, y = iris
    Y = pd.DataFrame(np.eye(3)[y], columns=["setosa", "versicolor", "virginica"])
    model = SoftmaxRegression().fit(X, Y)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.score(X, Y) > 0.9


@pytest.mark.parametrize("labels", [["a", "b", "c"], [True, False, True], [-1, 7, 3]])
def test_any_label_type(iris, labels):
    X, y = iris
    lab = np.array(labels, dtype=object if isinstance(labels[0], str) else None)
    if len(set(labels)) == 2:
        yy = lab[(y > 0).astype(int)]
    else:
        yy = lab[y]
    model = SoftmaxRegression().fit(X, yy)
    assert set(model.predict(X).tolist()) <= set(labels)
    assert model.score(X, yy) > 0.9


def test_binary_follows_sklearn_conventions(iris):
    X, y = iris
    yb = np.where(y == 0, "no", "yes")
    model = SoftmaxRegression().fit(X, yb)
    assert model.coef_.shape == (1, 4) and model.intercept_.shape == (1,)
    z = model.decision_function(X)
    assert z.shape == (len(X),)
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), np.where(z > 0, "yes", "no"))


def test_float32_in_float32_out(iris):
    X, y = iris
    m32 = SoftmaxRegression(alpha=1e-2).fit(X.astype(np.float32), y)
    m64 = SoftmaxRegression(alpha=1e-2).fit(X, y)
    assert m32.coef_.dtype == np.float32 and m32.intercept_.dtype == np.float32
    P32 = m32.predict_proba(X.astype(np.float32))
    assert P32.dtype == np.float32
    np.testing.assert_allclose(P32, m64.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(iris, fmt):
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    dense = SoftmaxRegression(alpha=1e-2).fit(X, y)
    sparse = SoftmaxRegression(alpha=1e-2).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("frame", ["pandas", "polars"])
def test_frames_keep_feature_names(iris, frame):
    X, y = iris
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    df = pd.DataFrame(X, columns=names) if frame == "pandas" else pl.DataFrame(X, schema=names)
    model = SoftmaxRegression().fit(df, y)
    assert list(model.feature_names_in_) == names
    plain = SoftmaxRegression().fit(X, y)
    np.testing.assert_allclose(model.predict_proba(df), plain.predict_proba(X), atol=1e-12)


def test_attributes_and_stop_reason(iris):
    X, y = iris
    model = SoftmaxRegression().fit(X, y)
    assert model.stop_reason_ == "converged"
    assert model.n_iter_ == len(model.loss_curve_) >= 1
    assert np.all(np.diff(model.loss_curve_) <= 1e-15)  # monotone
    assert model.n_features_in_ == 4 and list(model.classes_) == [0, 1, 2]
    np.testing.assert_allclose(model.intercept_.sum(), 0, atol=1e-12)  # centred


def test_warm_start_starts_where_it_stopped(iris):
    X, y = iris
    model = SoftmaxRegression(warm_start=True).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1
    np.testing.assert_allclose(model.coef_, first, rtol=1e-8, atol=1e-10)


def test_callback_sees_every_iteration(iris):
    X, y = iris
    seen = []
    model = SoftmaxRegression(solver="newton", callback=seen.append).fit(X, y)
    assert [i.iteration for i in seen] == list(range(1, model.n_iter_ + 1))
    assert seen[-1].grad_norm <= GRADIENT_TOL


def test_partial_fit_streams_to_a_good_model(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    model = SoftmaxRegression(alpha=1e-3, batch_size=8, random_state=0)
    for _ in range(30):
        for chunk in np.array_split(order, 5):
            model.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    full = SoftmaxRegression(alpha=1e-3).fit(X, y)
    assert model.score(X, y) >= full.score(X, y) - 0.03
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(X[:5], y[:5], classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        model.partial_fit(X[:5], np.full(5, 9))


def test_partial_fit_after_fit_continues_from_the_fit(iris):
    X, y = iris
    model = SoftmaxRegression(alpha=1e-2, solver="newton").fit(X, y)
    before = model.predict_proba(X)
    model.partial_fit(X, y)
    assert model.n_iter_ >= 2
    assert np.abs(model.predict_proba(X) - before).max() < 0.05  # a few small steps away


def test_huge_inputs_give_finite_probabilities(iris):
    X, y = iris
    model = SoftmaxRegression().fit(X, y)
    rng = np.random.default_rng(0)
    big = rng.choice([-1.0, 1.0], size=(20, 4)) * 10.0 ** rng.uniform(0, 300, size=(20, 4))
    big[0] = [1e300, -1e300, 1e300, -1e300]
    for Xb in (big, sp.csr_matrix(big)):
        P = model.predict_proba(Xb)
        assert np.all(np.isfinite(P))
        np.testing.assert_allclose(P.sum(axis=1), 1.0)
        np.testing.assert_array_equal(model.predict(Xb), model.classes_[P.argmax(axis=1)])
        assert not np.any(np.isnan(model.predict_log_proba(Xb)))


@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
def test_a_feature_in_nanoseconds_fits_the_same_model(iris, solver):
    """One feature of size 1e18 (a timestamp in ns) beside O(1) ones: the same maximum-
    likelihood probabilities as in the feature's natural units. Before, one flat-direction
    lift and one preconditioner floor for all parameters drowned the O(1) ones (0.02 off)."""
    X, y = iris
    X = X[50:]  # versicolor vs virginica: not separable, the MLE exists
    y = y[50:]
    ref = SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y)
    wide = X.copy()
    wide[:, 0] *= 1.7e18
    with warnings.catch_warnings():
        # the absolute default tol on the gradient is out of reach at this scale: "stalled"
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(alpha=0, solver=solver).fit(wide, y)
    np.testing.assert_allclose(model.predict_proba(wide), ref.predict_proba(X), atol=1e-8)


# -- bad input --------------------------------------------------------------------------------
BAD = [
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), y, None),
     "Input X contains NaN"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X), y, None),
     "Input X contains infinity"),
    (lambda X, y: (X[:0], y[:0], None), "0 sample"),
    (lambda X, y: (X, np.zeros_like(y), None), "only one class"),
    (lambda X, y: (X[:-1], y, None), "inconsistent numbers of samples"),
    (lambda X, y: (X, -np.eye(3)[y], None), "soft targets must be non-negative"),
    (lambda X, y: (X, 0.5 * np.eye(3)[y], None), "rows must sum to 1; row 0 sums to 0.5"),
    (lambda X, y: (X, y, -np.ones(len(y))), "Negative values in data passed to `sample_weight`"),
    (lambda X, y: (X, y, np.zeros(len(y))), "at least one non-zero number"),
    (lambda X, y: (X, y, np.where(y == 0, 1.0, 0.0)), "at least 2 classes with positive"),
    (lambda X, y: (X, y.astype(float) + np.where(np.arange(len(y)) == 3, np.nan, 0), None),
     "Input y contains NaN"),
    (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 9, 1e200, X), y, None),
     "X holds values too large to fit on"),
]


@pytest.mark.parametrize("fmt", ["dense", "csr", "strided"])
def test_values_whose_squares_overflow_are_refused_everywhere(iris, fmt):
    X, y = iris
    X = X.copy()
    X[5, 2] = -3e160
    X = sp.csr_matrix(X) if fmt == "csr" else X
    if fmt == "strided":  # every other column of a wider array: checked without a copy
        wide = np.zeros((X.shape[0], 2 * X.shape[1]))
        wide[:, ::2] = X
        X = wide[:, ::2]
    from softreg import SoftmaxRegressionCV

    for fit in (lambda: SoftmaxRegression().fit(X, y),
                lambda: SoftmaxRegression().partial_fit(X, y, classes=np.unique(y)),
                lambda: SoftmaxRegressionCV(alphas=[1e-3], cv=2).fit(X, y)):
        with pytest.raises(ValueError, match=r"largest \|value\| is 3e\+160"):
            fit()
    # float32 data is never refused: its values square finitely in the solvers' float64
    X32 = np.asarray(iris[0], dtype=np.float32) * np.float32(1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 iterations: not converged
        model = SoftmaxRegression(alpha=0.1, max_iter=3).fit(X32, y)
    assert np.all(np.isfinite(model.coef_))


@pytest.mark.parametrize("make,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_named(iris, make, message):
    X, y, s = make(*iris)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        SoftmaxRegression().fit(X, y, sample_weight=s)


def test_bad_parameters_and_predict_shapes(iris):
    X, y = iris
    with pytest.raises(ValueError, match="'solver' parameter"):
        SoftmaxRegression(solver="magic").fit(X, y)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        SoftmaxRegression(alpha=-1).fit(X, y)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        SoftmaxRegression().set_params(nope=1)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is "
                                         "expecting 4 features"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="class_weight names class 'z'"):
        SoftmaxRegression(class_weight={"z": 1.0}).fit(X, y)


# -- solver_: what ran, recorded ------------------------------------------------------------
@pytest.mark.parametrize("solver", ["lbfgs", "newton", "gd", "sgd"])
def test_solver_records_the_solver_that_ran(iris, solver):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(solver=solver, max_iter=50).fit(X, y)
    assert model.solver_ == solver


def test_auto_resolves_by_the_exact_hessian_threshold_with_the_intercept():
    from softreg.solvers import EXACT_MAX_PARAMS

    rng = np.random.default_rng(0)
    K = 4
    d_small = EXACT_MAX_PARAMS // K - 1  # (d + 1) K == EXACT_MAX_PARAMS: Newton
    y = rng.integers(0, K, 300)
    small = SoftmaxRegression(alpha=1e-2).fit(rng.normal(size=(300, d_small)), y)
    assert small.solver_ == "newton"
    # the same d without an intercept is still newton; one feature more with it is not
    large = SoftmaxRegression(alpha=1e-2).fit(rng.normal(size=(300, d_small + 1)), y)
    assert large.solver_ == "lbfgs"
    no_b = SoftmaxRegression(alpha=1e-2, fit_intercept=False).fit(
        rng.normal(size=(300, d_small + 1)), y)
    assert no_b.solver_ == "newton"


def test_partial_fit_records_sgd_even_after_a_fit(iris):
    X, y = iris
    model = SoftmaxRegression().partial_fit(X, y, classes=[0, 1, 2])
    assert model.solver_ == "sgd"
    model = SoftmaxRegression(solver="lbfgs").fit(X, y)
    assert model.solver_ == "lbfgs"
    model.partial_fit(X, y)
    assert model.solver_ == "sgd"


def test_solver_survives_a_model_file(iris, tmp_path):
    from softreg import load, save

    X, y = iris
    model = SoftmaxRegression(solver="gd", max_iter=3000).fit(X, y)
    save(model, tmp_path / "m.softreg")
    assert load(tmp_path / "m.softreg").solver_ == "gd"
