"""SGD: finite data converges to tol (variance-reduced steps), "converged" is honest,
and partial_fit's averaged stream comes within 1% of the batch optimum."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression
from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, DivergenceError, Penalised, sgd


def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_sgd_on_wine_matches_sklearns_optimum_within_1e3():
    """solver='sgd' reaches tol (so 'converged' is earned) and its probabilities are
    within 1e-3 of LogisticRegression(C)'s optimum, alpha = 1 / (C n)."""
    X, y = wine()
    C = 0.5
    ref = LogisticRegression(C=C, solver="newton-cg", tol=1e-14, max_iter=10_000).fit(X, y)
    # wine's kappa = L_max / alpha (~4e3) exceeds n = 178: a few thousand cheap epochs
    model = SoftmaxRegression(alpha=1 / (C * len(y)), solver="sgd", max_iter=10_000,
                              random_state=0).fit(X, y)
    assert model.stop_reason_ == "converged" and model.solver_ == "sgd"
    assert np.abs(model.predict_proba(X) - ref.predict_proba(X)).max() < 1e-3


def test_sgd_with_a_huge_step_never_says_converged():
    """learning_rate=100 used to report 'converged' while the loss rose 6.4 -> 16.2."""
    X, y = wine()
    model = SoftmaxRegression(alpha=1e-2, solver="sgd", learning_rate=100, max_iter=20,
                              random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
    except DivergenceError:
        return
    assert model.stop_reason_ != "converged"


@pytest.mark.parametrize("step", ["auto", 5.0])
def test_minibatch_sgd_reports_converged_only_when_the_gradient_test_passes(step):
    X, y = wine()
    datafit = SoftmaxObjective(X, y=y, n_classes=3)
    penalty = Penalty(alpha=1e-2)
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            result, _ = sgd(datafit, penalty, datafit.zeros(), learning_rate=step,
                            batch_size=16, tol=1e-4, max_iter=40, random_state=0)
        except DivergenceError:
            return
    _, grad = Penalised(datafit, penalty).loss_grad(result.params)
    assert result.grad_norm == pytest.approx(np.max(np.abs(grad)), rel=1e-10)
    assert (result.stop_reason == CONVERGED) == (result.grad_norm <= 1e-4)


def test_partial_fit_one_pass_over_a_100k_stream_is_within_1pct_of_the_batch_loss():
    """Averaged SGD (polynomial-decay Polyak-Ruppert over the whole stream): one pass
    over 100,000 rows in chunks of 500 ends within 1% of the batch optimum's J."""
    rng = np.random.default_rng(3)
    n, d, K = 100_000, 20, 5
    centres = rng.normal(size=(K, d))
    y = rng.integers(0, K, size=n)
    X = centres[y] * 0.6 + rng.normal(size=(n, d))
    alpha = 1e-4
    batch = SoftmaxRegression(alpha=alpha).fit(X, y)
    J = Penalised(SoftmaxObjective(X, y=y, n_classes=K), Penalty(alpha=alpha))
    stream = SoftmaxRegression(alpha=alpha, random_state=0)
    for lo in range(0, n, 500):
        stream.partial_fit(X[lo:lo + 500], y[lo:lo + 500], classes=np.arange(K))
    W = stream.coef_.T
    J_batch = J.loss(J.pack(batch.coef_.T, batch.intercept_))
    J_stream = J.loss(J.pack(W, stream.intercept_))
    assert 0 <= (J_stream - J_batch) / J_batch < 0.01
    assert stream.solver_ == "sgd"


def test_partial_fit_continues_the_stream_average_between_calls():
    X, y = wine()
    model = SoftmaxRegression(alpha=1e-2, random_state=0)
    model.partial_fit(X[:90], y[:90], classes=[0, 1, 2])
    state = sys.modules[type(model).__module__]  # the estimator module, for its constant
    first = model._sgd_state.steps
    model.partial_fit(X[90:], y[90:])
    assert model._sgd_state.steps > first  # one stream: the step schedule carried on
    assert state.STREAM_STEP_FACTOR > 1
