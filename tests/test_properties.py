"""Invariances that must hold for any data (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from softreg import SoftmaxRegression

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)


@st.composite
def problems(draw, max_classes=4):
    n = draw(st.integers(8, 30))
    d = draw(st.integers(1, 4))
    K = draw(st.integers(2, max_classes))
    X = draw(arrays(np.float64, (n, d), elements=st.floats(-3, 3)))
    y = np.arange(n) % K  # every class present
    y = draw(st.permutations(y.tolist()))
    return X, np.asarray(y)


def fit(X, y, s=None, **kw):
    return SoftmaxRegression(alpha=0.1, **kw).fit(X, y, sample_weight=s)


@SETTINGS
@given(problems(), st.data())
def test_integer_weights_equal_repetition(problem, data):
    X, y = problem
    counts = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=len(y),
                                           max_size=len(y))))
    counts[np.unique(y, return_index=True)[1]] = 1  # keep every class
    weighted = fit(X, y, counts.astype(float))
    repeated = fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               atol=1e-8)


@SETTINGS
@given(problems(), st.floats(1e-3, 1e3), st.randoms(use_true_random=False))
def test_scaling_weights_and_permuting_rows_changes_nothing(problem, c, rnd):
    X, y = problem
    s = np.linspace(0.5, 2.0, len(y))
    base = fit(X, y, s)
    order = np.array(rnd.sample(range(len(y)), len(y)))
    other = fit(X[order], y[order], c * s[order])
    np.testing.assert_allclose(other.predict_proba(X), base.predict_proba(X), atol=1e-8)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_renaming_classes_permutes_the_model(problem, rnd):
    X, y = problem
    K = int(y.max()) + 1
    perm = np.array(rnd.sample(range(K), K))
    base = fit(X, y)
    renamed = fit(X, perm[y])  # class k is now called perm[k]
    np.testing.assert_allclose(renamed.predict_proba(X)[:, perm], base.predict_proba(X),
                               atol=1e-8)


@SETTINGS
@given(problems(), arrays(np.float64, (6, 4),
                          elements=st.floats(-1e300, 1e300, allow_subnormal=False)))
def test_probabilities_finite_for_extreme_inputs(problem, X_new):
    X, y = problem
    model = fit(X, y)
    X_new = X_new[:, : X.shape[1]]
    P = model.predict_proba(X_new)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert not np.any(np.isnan(model.predict_log_proba(X_new)))
