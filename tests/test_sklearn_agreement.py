"""Agreement with scikit-learn's LogisticRegression, solved tightly, on bundled real data.

Mapping: J = sum s CE / sum s + alpha/2 ||W||^2 equals scikit-learn's objective divided by
sum(s) when alpha = 1 / (C * sum(s)) (K >= 3, multinomial). For two classes scikit-learn fits
one vector w = W[:, 1] - W[:, 0]; at our optimum W[:, 0] = -W[:, 1], so the penalty is
alpha/4 ||w||^2 and the optimum matches C = 2 / (alpha * sum(s)). Here s already includes
class weights, as in scikit-learn.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression

DATASETS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}
C = 0.5


def load(name):
    X, y = DATASETS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def weights_for(y, kind):
    if kind == "none":
        return None, None
    if kind == "sample":
        return np.random.default_rng(0).uniform(0.2, 3.0, size=len(y)), None
    return np.random.default_rng(1).uniform(0.5, 2.0, size=len(y)), "balanced"


def sklearn_reference(X, y, s, class_weight):
    ref = LogisticRegression(C=C, solver="newton-cg", tol=1e-14, max_iter=10_000,
                             class_weight=class_weight)
    return ref.fit(X, y, sample_weight=s)


def alpha_for(y, s, class_weight):
    total = np.ones(len(y)) if s is None else s.copy()
    if class_weight is not None:  # "balanced", computed by hand from the weighted totals
        total = total * _balanced(y, total)
    factor = 2.0 if len(np.unique(y)) == 2 else 1.0
    return factor / (C * total.sum())


def _balanced(y, s):
    classes, codes = np.unique(y, return_inverse=True)
    mass = np.bincount(codes, weights=s)
    return (mass.sum() / (len(classes) * mass))[codes]


@pytest.mark.parametrize("weights", ["none", "sample", "class"])
@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("solver", ["auto", "newton", "lbfgs"])
def test_matches_sklearn_tightly(name, weights, solver):
    X, y = load(name)
    s, cw = weights_for(y, weights)
    ref = sklearn_reference(X, y, s, cw)
    model = SoftmaxRegression(alpha=alpha_for(y, s, cw), solver=solver, class_weight=cw,
                              tol=1e-10)
    model.fit(X, y, sample_weight=s)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-5, atol=1e-5 * scale)
    assert model.stop_reason_ == "converged"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(DATASETS))
@pytest.mark.parametrize("solver", ["auto", "newton", "lbfgs"])
def test_default_tol_reaches_the_promised_suboptimality(name, solver, dtype):
    """Default tol: J within 1e-7 (float32 data: 1e-5) of scikit-learn's tight optimum."""
    X, y = load(name)
    s, cw = weights_for(y, "sample")
    alpha = alpha_for(y, s, cw)
    ref = sklearn_reference(X, y, s, cw)
    model = SoftmaxRegression(alpha=alpha, solver=solver).fit(X.astype(dtype), y,
                                                              sample_weight=s)
    J_model, J_ref = _J(model, X, y, s, alpha), _J(ref, X, y, s, alpha)
    assert (J_model - J_ref) / J_ref <= (1e-7 if dtype == np.float64 else 1e-5)


def _J(model, X, y, s, alpha):
    """softreg's objective at a fitted model's (K-column) parameters, in float64."""
    from softreg._objective import SoftmaxObjective
    from softreg.penalties import Penalty
    from softreg.solvers import Penalised

    codes = np.searchsorted(np.unique(y), y)
    K = len(np.unique(y))
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if K == 2:  # one vector w = W1 - W0 in scikit-learn's shape: the centred W is (-w/2, w/2)
        W, b = np.column_stack([-coef[0] / 2, coef[0] / 2]), np.array([-1, 1]) * intercept / 2
    else:
        W, b = coef.T, intercept
    obj = Penalised(SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=K,
                                     kernel="reference"), Penalty(alpha=alpha))
    return obj.loss(obj.pack(W, b))


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_gd_reaches_the_same_optimum(name):
    """gd converges linearly; with a tight tol it reaches the optimum to 1e-6."""
    X, y = load(name)
    ref = sklearn_reference(X, y, None, None)
    model = SoftmaxRegression(alpha=alpha_for(y, None, None), solver="gd", tol=1e-9,
                              max_iter=50_000).fit(X, y)
    assert model.stop_reason_ == "converged"
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_sgd_gets_close_to_the_optimum(name):
    """SGD's objective gap after T steps decays like 1/sqrt(T) (1/T once the alpha term
    dominates), so it ends in a noise ball rather than at the optimum: after 300 epochs of
    16-row batches the gap is below 2e-3 (the start, all zeros, is ~1 away), the labels
    agree and the probabilities are within 0.1."""
    X, y = load(name)
    alpha = alpha_for(y, None, None)
    exact = SoftmaxRegression(alpha=alpha, solver="newton").fit(X, y)
    model = SoftmaxRegression(alpha=alpha, solver="sgd", batch_size=16, max_iter=300,
                              tol=1e-7, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # it may use all 300 epochs
        model.fit(X, y)
    gap = model.loss_curve_[-1] - exact.loss_curve_[-1]
    assert 0 <= gap < 2e-3
    assert np.abs(model.predict_proba(X) - exact.predict_proba(X)).max() < 0.1
    assert (model.predict(X) == exact.predict(X)).mean() > 0.97
