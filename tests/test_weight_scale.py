"""Sample weights only scale the objective: extreme scales give the unit-weight fit (issue 15).

Weights of 1e307 on 50 rows sum to infinity; softreg once reported such a fit "converged"
at iteration 0 with zero coefficients. The fit is checked against scikit-learn's
LogisticRegression (J = mean CE + alpha/2 ||W||^2 is C = 1 / (n alpha) there).
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from softreg import SoftmaxRegression
from softreg._targets import check_weights

rng = np.random.default_rng(7)
X = rng.normal(size=(50, 3))
y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(50, 3)), axis=1)
ALPHA = 0.01


@pytest.fixture(scope="module")
def reference():
    ref = LogisticRegression(C=1 / (len(y) * ALPHA), tol=1e-12, max_iter=10_000).fit(X, y)
    return ref.predict_proba(X)


@pytest.mark.parametrize("scale", [1e307, 1e-320, 1.0])
def test_constant_weights_of_any_scale_give_the_unit_weight_fit(scale, reference):
    model = SoftmaxRegression(alpha=ALPHA).fit(X, y, sample_weight=np.full(len(y), scale))
    assert model.stop_reason_ == "converged" and model.n_iter_ > 0
    np.testing.assert_allclose(model.predict_proba(X), reference, atol=1e-6)


def test_scaling_uneven_weights_changes_nothing():
    w = rng.uniform(0.1, 2.0, size=len(y))
    a = SoftmaxRegression(alpha=ALPHA).fit(X, y, sample_weight=w)
    b = SoftmaxRegression(alpha=ALPHA).fit(X, y, sample_weight=w * 1e306)
    assert b.stop_reason_ == "converged"
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-9)
    # and the weighted fit is scikit-learn's
    ref = LogisticRegression(C=1 / (w.sum() * ALPHA), tol=1e-12, max_iter=10_000)
    ref.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(a.predict_proba(X), ref.predict_proba(X), atol=1e-6)


def test_check_weights_normalises_only_when_asked():
    w = np.full(4, 1e307)
    np.testing.assert_array_equal(check_weights(w, np.zeros((4, 1)), 4), w)
    np.testing.assert_array_equal(check_weights(w, np.zeros((4, 1)), 4, normalize=True),
                                  np.ones(4))
