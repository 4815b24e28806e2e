"""The separation warning of fit(alpha=0), and that its LP runs only on the signs."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

import softreg._separation_check as check
from softreg import FitSeparationWarning, SoftmaxRegression
from softreg.inference import SeparationWarning


@pytest.fixture
def lp_calls(monkeypatch):
    """Count the runs of the separation LP made by the fit-time check."""
    calls = []
    original = check._separation

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(check, "_separation", spy)
    return calls


def _quiet_fit(model, X, y, **kw):
    """Fit with every warning except FitSeparationWarning recorded, that one raised."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.simplefilter("error", FitSeparationWarning)
        model.fit(X, y, **kw)
    return [w.category for w in seen]


def test_iris_warns_and_names_separation(lp_calls):
    X, y = load_iris(return_X_y=True)
    with pytest.warns(FitSeparationWarning, match=r"quasi-complete separation.*alpha > 0"):
        SoftmaxRegression(alpha=0).fit(X, y)
    assert len(lp_calls) == 1
    # the same data with a prior: no check, no warning
    assert _quiet_fit(SoftmaxRegression(alpha=1e-3), X, y) == []
    assert len(lp_calls) == 1


def test_hand_made_separable_sets_warn():
    X = np.array([[-3.0], [-2.0], [-1.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(FitSeparationWarning, match=r"complete separation: a linear "
                      r"combination of \['x1'\] separates 6 of 6"):
        SoftmaxRegression(alpha=0).fit(X, y)
    # quasi-complete, three classes, named features, sparse input
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=60), rng.normal(size=60)
    y3 = (x1 + rng.normal(size=60) > 0).astype(int)
    y3[x2 > 1.0] = 2
    x2[np.flatnonzero(y3 != 2)[:3]] = 1.0  # ties at the boundary
    frame = pd.DataFrame({"x1": x1, "x2": x2})
    with pytest.warns(FitSeparationWarning, match=r"quasi-complete.*\['intercept', 'x2'\]"):
        SoftmaxRegression(alpha=0).fit(frame, y3)
    with pytest.warns(FitSeparationWarning, match="quasi-complete"):
        SoftmaxRegression(alpha=0).fit(sp.csr_matrix(frame.to_numpy()), y3)


def test_the_warning_is_a_convergence_and_a_separation_warning():
    assert issubclass(FitSeparationWarning, ConvergenceWarning)
    assert issubclass(FitSeparationWarning, SeparationWarning)


def test_anes_gives_no_warning_and_skips_the_lp(lp_calls):
    data = sm.datasets.anes96.load_pandas().data
    X = data[["logpopul", "selfLR", "age", "educ", "income"]]
    y = data["PID"].astype(int).to_numpy()
    assert _quiet_fit(SoftmaxRegression(alpha=0), X, y) == []
    assert lp_calls == []


def test_overlapping_classes_skip_the_lp(lp_calls):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    y = rng.integers(0, 3, size=500)
    assert _quiet_fit(SoftmaxRegression(alpha=0), X, y) == []
    assert lp_calls == []
    # a fit stopped early may be running off: the LP runs, and clears it
    assert _quiet_fit(SoftmaxRegression(alpha=0, solver="gd", max_iter=2), X, y) == \
        [ConvergenceWarning]
    assert len(lp_calls) == 1


def test_soft_targets_and_weights():
    X = np.array([[-3.0], [-2.0], [-1.0], [1.0], [2.0], [3.0]])
    Y = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] * 3)  # soft targets: no LP (no labels)
    assert _quiet_fit(SoftmaxRegression(alpha=0), X, Y) == []
    # zero-weight rows do not count: the overlap is in a row with weight 0
    Xo = np.vstack([X, [[2.5]]])
    yo = np.array([0, 0, 0, 1, 1, 1, 0])
    with pytest.warns(FitSeparationWarning, match="separates 6 of 6"):
        SoftmaxRegression(alpha=0).fit(Xo, yo, sample_weight=[1, 1, 1, 1, 1, 1, 0])


def test_shows_signs():
    P = np.array([[0.5, 0.5], [0.3, 0.7]])
    X = np.ones((2, 1))
    sw = np.array([0.5, 0.5])
    assert not check.shows_signs(P, X, sw, 1e-7, converged=True)
    assert check.shows_signs(P, X, sw, 1e-7, converged=False)
    tiny = np.array([[1 - 1e-9, 1e-9], [0.3, 0.7]])  # a row the solver no longer sees
    assert check.shows_signs(tiny, X, sw, 1e-7, converged=True)
    # a small probability on a large feature value still pulls on the gradient
    big = np.array([[1 - 1e-7, 1e-7], [0.3, 0.7]])  # pull 5e-8 * |x|
    assert not check.shows_signs(big, np.array([[1e3], [1.0]]), sw, 1e-7, converged=True)
    assert check.shows_signs(big, np.array([[1.0], [1.0]]), sw, 1e-7, converged=True)
    # zero-weight rows are ignored
    assert not check.shows_signs(tiny, X, np.array([0.0, 1.0]), 1e-7, converged=True)
