"""softreg.infer against statsmodels' MNLogit, finite differences and hand-made cases."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from softreg import SoftmaxRegression, SoftmaxRegressionCV
from softreg._objective import SoftmaxObjective
from softreg._params import full_params
from softreg.inference import InferenceError, InferenceResult, SeparationWarning, infer
from softreg.penalties import Penalty
from softreg.solvers import Penalised


def _generated(seed, n, d, K):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    W = rng.normal(size=(d, K)) * 0.7
    Z = X @ W + rng.normal(size=K)
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = (P.cumsum(1) < rng.uniform(size=(n, 1))).sum(1)
    return X, y


def _statsmodels(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MNLogit(np.asarray(y), sm.add_constant(np.asarray(X), has_constant="add")
                         ).fit(method="newton", disp=0, maxiter=200, tol=1e-14)
    return np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues), res


def _anes96():
    data = sm.datasets.anes96.load_pandas().data
    X = data[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, data["PID"].astype(int).to_numpy()


def _spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog.astype(int).to_numpy()


DATA = {
    "gen-K3": lambda: _generated(0, 400, 3, 3),
    "gen-K5": lambda: _generated(1, 600, 4, 5),
    "gen-binary": lambda: _generated(2, 300, 2, 2),
    "anes96": _anes96,
    "spector-binary": _spector,
}


@pytest.mark.parametrize("name", list(DATA))
def test_unpenalised_equals_statsmodels_mnlogit(name):
    X, y = DATA[name]()
    model = SoftmaxRegression(alpha=0, tol=1e-6).fit(X, y)
    result = infer(model, X, y)
    params, bse, pvalues, ref = _statsmodels(X, y)
    np.testing.assert_allclose(result.params.to_numpy(), params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result.bse.to_numpy(), bse, rtol=1e-4)
    np.testing.assert_allclose(result.pvalues.to_numpy(), pvalues, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(result.loglike, ref.llf, rtol=1e-10)
    np.testing.assert_allclose(result.cov_params().to_numpy(), ref.cov_params(), rtol=1e-4,
                               atol=1e-10)
    ci = result.conf_int(0.1)
    np.testing.assert_allclose(ci.to_numpy().reshape(-1, params.shape[0], 2),
                               np.asarray(ref.conf_int(0.1)), rtol=1e-4, atol=1e-8)
    assert result.method == "mle"
    # layout: intercept first, then the features by name; one column per other class
    names = list(X.columns) if hasattr(X, "columns") else [f"x{j + 1}" for j in
                                                           range(X.shape[1])]
    assert list(result.params.index) == ["intercept"] + names
    assert list(result.params.columns) == list(np.unique(y)[1:])


def test_reference_class_is_selectable():
    X, y = _generated(3, 300, 2, 3)
    model = SoftmaxRegression(alpha=0).fit(X, y)
    result = infer(model, X, y, reference=2)
    params, bse, _, _ = _statsmodels(X, (y + 1) % 3)  # class 2 becomes the first label
    assert list(result.params.columns) == [0, 1]
    np.testing.assert_allclose(result.params.to_numpy(), params, rtol=1e-6)
    np.testing.assert_allclose(result.bse.to_numpy(), bse, rtol=1e-4)
    with pytest.raises(ValueError, match="reference=7 is not one of the classes"):
        infer(model, X, y, reference=7)


def test_frequency_weights_equal_repeated_rows():
    X, y = _generated(4, 150, 2, 3)
    s = np.random.default_rng(0).integers(1, 4, size=len(y))
    model = SoftmaxRegression(alpha=0).fit(X, y, sample_weight=s)
    result = infer(model, X, y, sample_weight=s)
    params, bse, _, _ = _statsmodels(np.repeat(X, s, axis=0), np.repeat(y, s))
    np.testing.assert_allclose(result.params.to_numpy(), params, rtol=1e-6)
    np.testing.assert_allclose(result.bse.to_numpy(), bse, rtol=1e-4)
    assert result.n_obs == s.sum()


def _fd_laplace_cov(model, X, y, ref=0):
    """C pinv(H) C^T with H the finite-difference Hessian of sum(s) J in K-column form."""
    K, d = len(model.classes_), X.shape[1]
    obj = Penalised(SoftmaxObjective(X, y=y, n_classes=K), Penalty(alpha=model.alpha))
    W, b = full_params(model)
    theta = obj.pack(W, b)
    h = 1e-5
    H = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        H[:, i] = (obj.loss_grad(theta + e)[1] - obj.loss_grad(theta - e)[1]) / (2 * h)
    H = len(y) * (H + H.T) / 2
    # contrasts, intercept row first: beta[k][j] = theta[j, k] - theta[j, ref]
    rows = [d] + list(range(d))
    C = []
    for k in range(K):
        if k == ref:
            continue
        for j in rows:
            c = np.zeros(theta.size)
            c[j * K + k] += 1
            c[j * K + ref] -= 1
            C.append(c)
    C = np.array(C)
    return C @ np.linalg.pinv(H, rcond=1e-10, hermitian=True) @ C.T


@pytest.mark.parametrize("alpha", [1e-3, 0.1])
def test_laplace_covariance_equals_pseudo_inverse_of_k_column_hessian(alpha):
    X, y = _generated(5, 200, 3, 4)
    model = SoftmaxRegression(alpha=alpha, tol=1e-12).fit(X, y)
    result = infer(model, X, y)
    np.testing.assert_allclose(result.cov, _fd_laplace_cov(model, X, y), rtol=1e-5,
                               atol=1e-9)
    assert result.method == "laplace"
    assert "Laplace approximation" in result.summary()
    # the MAP contrasts are the model's own (K-column) parameters mapped to contrasts
    W, b = full_params(model)
    np.testing.assert_allclose(result.params.to_numpy()[1:], (W - W[:, [0]])[:, 1:],
                               atol=1e-8)
    np.testing.assert_allclose(result.params.to_numpy()[0], (b - b[0])[1:], atol=1e-8)


def test_laplace_with_other_reference_and_sparse_input():
    import scipy.sparse as sp

    X, y = _generated(11, 150, 2, 3)
    model = SoftmaxRegression(alpha=1e-2, tol=1e-12).fit(X, y)
    result = infer(model, sp.csr_matrix(X), y, reference=2)
    np.testing.assert_allclose(result.cov, _fd_laplace_cov(model, X, y, ref=2), rtol=1e-5,
                               atol=1e-9)
    assert list(result.params.columns) == [0, 1]


def test_alpha_to_zero_tends_to_maximum_likelihood():
    X, y = _generated(6, 300, 3, 3)
    mle = infer(SoftmaxRegression(alpha=0).fit(X, y), X, y)
    errors = []
    for alpha in [1e-2, 1e-4, 1e-6, 1e-8]:
        lap = infer(SoftmaxRegression(alpha=alpha, tol=1e-12).fit(X, y), X, y)
        errors.append(np.max(np.abs(lap.bse_array / mle.bse_array - 1)))
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-5
    np.testing.assert_allclose(lap.coef, mle.coef, rtol=1e-5, atol=1e-6)


def test_complete_separation_is_an_error_without_prior():
    X = np.array([[-3.0], [-2.0], [-1.0], [1.0], [2.0], [3.0], [4.0]])
    y = np.array([0, 0, 0, 1, 1, 2, 2])
    X2 = np.column_stack([X, np.random.default_rng(0).normal(size=7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SoftmaxRegression(alpha=0, max_iter=50).fit(X2, y)
    with pytest.raises(InferenceError, match="complete separation.*no finite maximum"):
        infer(model, X2, y)


def test_quasi_complete_separation_names_the_terms():
    rng = np.random.default_rng(1)
    x1 = rng.normal(size=60)
    x2 = rng.normal(size=60)
    y = (x1 + rng.normal(size=60) > 0).astype(int)
    y[x2 > 1.0] = 2  # class 2 exactly when x2 > 1 ...
    x2[np.flatnonzero(y != 2)[:3]] = 1.0  # ... with ties at the boundary: quasi-complete
    X = pd.DataFrame({"x1": x1, "x2": x2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SoftmaxRegression(alpha=0, max_iter=50).fit(X, y)
    with pytest.raises(InferenceError, match=r"quasi-complete separation: a linear "
                       r"combination of \['intercept', 'x2'\]"):
        infer(model, X, y)
    penalised = SoftmaxRegression(alpha=1e-2).fit(X, y)
    with pytest.warns(SeparationWarning, match="quasi-complete separation"):
        result = infer(penalised, X, y)
    assert np.all(np.isfinite(result.bse.to_numpy()))
    assert "separation" in result.summary()


def test_collinear_features_are_named():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    X["d"] = X["a"] - 2 * X["c"]
    y = rng.integers(0, 3, size=200)
    model = SoftmaxRegression(alpha=0, max_iter=200).fit(X, y)
    with pytest.raises(InferenceError, match=r"singular.*\['a', 'c', 'd'\] are collinear"):
        infer(model, X, y)
    X["d"] = 5.0  # a constant column is collinear with the intercept
    model = SoftmaxRegression(alpha=0, max_iter=200).fit(X, y)
    with pytest.raises(InferenceError, match=r"\['d', 'intercept'\] are collinear"):
        infer(model, X, y)
    # a prior on W identifies them: finite answers
    result = infer(SoftmaxRegression(alpha=1e-3).fit(X, y), X, y)
    assert np.all(np.isfinite(result.bse.to_numpy()))


def test_logits_in_the_thousands_stay_finite():
    """Far-out rows (logit contrasts of several thousands) overflow statsmodels, not us."""
    X, y = _generated(7, 300, 1, 3)
    model = SoftmaxRegression(alpha=0).fit(X, y)
    direction = full_params(model)[0][0]
    far_x = np.array([[4000.0], [-4000.0]])
    far_y = np.array([np.argmax(direction), np.argmin(direction)])  # on the right side
    Xf, yf = np.vstack([X, far_x]), np.concatenate([y, far_y])
    fitted = SoftmaxRegression(alpha=0).fit(Xf, yf)
    result = infer(fitted, Xf, yf)
    assert np.all(np.isfinite(result.bse.to_numpy()))
    # the far rows are predicted with probability 1 - exp(-thousands): they add nothing
    params, bse, _, _ = _statsmodels(X, y)
    np.testing.assert_allclose(result.params.to_numpy(), params, rtol=1e-6)
    np.testing.assert_allclose(result.bse.to_numpy(), bse, rtol=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # statsmodels 0.14/0.15 exponentiates raw logits: exp(4000) overflows to NaN
            failed = not np.all(np.isfinite(_statsmodels(Xf, yf)[1]))
        except Exception:
            failed = True
    assert failed


def test_result_serialises_to_json():
    X, y = _generated(8, 200, 2, 3)
    labels = np.array(["a", "b", "c"])[y]
    result = infer(SoftmaxRegression(alpha=1e-3).fit(X, labels), X, labels)
    text = json.dumps(result.to_dict())
    back = InferenceResult.from_dict(json.loads(text))
    pd.testing.assert_frame_equal(back.params, result.params)
    pd.testing.assert_frame_equal(back.pvalues, result.pvalues)
    assert back.summary() == result.summary()
    assert list(result.params.columns) == ["b", "c"]


def test_cross_validated_model_uses_its_refit():
    X, y = _generated(10, 200, 2, 3)
    X = pd.DataFrame(X, columns=["u", "v"])
    cv_model = SoftmaxRegressionCV(alphas=[1e-2, 1e-3], cv=3).fit(X, y)
    direct = infer(SoftmaxRegression(alpha=cv_model.alpha_).fit(X, y), X, y)
    result = infer(cv_model, X, y)
    assert list(result.params.index) == ["intercept", "u", "v"]
    np.testing.assert_allclose(result.bse.to_numpy(), direct.bse.to_numpy(), rtol=1e-6)
    assert result.alpha == cv_model.alpha_


def test_bad_input_is_named():
    X, y = _generated(9, 100, 2, 3)
    model = SoftmaxRegression(alpha=0).fit(X, y)
    with pytest.raises(ValueError, match="soft targets"):
        infer(model, X, np.eye(3)[y])
    with pytest.raises(ValueError, match="not in classes"):
        infer(model, X, y + 5)
    with pytest.raises(TypeError, match="SoftmaxRegression"):
        from sklearn.linear_model import LogisticRegression
        infer(LogisticRegression().fit(X, y), X, y)


def test_separation_check_can_be_skipped_on_large_problems(monkeypatch):
    import softreg.inference as inference

    monkeypatch.setattr(inference, "SEPARATION_MAX_NNZ", 0)
    X, y = _generated(12, 100, 2, 3)
    result = infer(SoftmaxRegression(alpha=0).fit(X, y), X, y)
    assert "separation check" in result.summary()
