"""The SAGA solver: closed-form lazy steps, optimum against independent references."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression
from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import CONVERGED, DivergenceError, Penalised, newton, saga
from softreg.solvers import _saga_kernels as kern
from softreg.solvers._saga_kernels import lazy_entry
from softreg.solvers.saga import INTERCEPT_SCALE, INTERCEPT_SCALE_DENSE, default_intercept_scale


def replay(v, a, m, eta, lam, rho):
    """m steps of v <- rho * soft(v - eta a, eta lam), one at a time."""
    for _ in range(m):
        u = v - eta * a
        v = rho * np.sign(u) * max(abs(u) - eta * lam, 0.0)
    return v


@pytest.mark.parametrize("rho", [1.0, 0.999, 0.9])
@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_lazy_entry_equals_step_by_step_replay(rho, lam):
    rng = np.random.default_rng(int(rho * 1000) + int(lam * 10))
    for _ in range(300):
        v = rng.choice([0.0, rng.normal(scale=3)])
        a = rng.normal(scale=2)
        m = int(rng.integers(0, 60))
        eta = rng.uniform(0.01, 0.5)
        got = lazy_entry(v, a, m, eta, lam, rho, np.log(rho))
        assert got == pytest.approx(replay(v, a, m, eta, lam, rho), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("rho", [1.0, 0.999, 0.9])
@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_catch_up_of_a_feature_equals_step_by_step_replay(rho, lam):
    """_catch_up_l1 (the branch-free cases, lazy_entry for the rest) on a feature's K
    entries, with rho^m and rho + ... + rho^m from geometric_tables: every case (zero
    fixed point, staying on a branch, settling at zero, pushed through zero) against
    one step at a time."""
    rng = np.random.default_rng(int(rho * 1000) + int(lam * 10))
    eta, K, n = 0.05, 64, 80
    pw, gs = kern.geometric_tables(n, rho, np.log(rho))
    np.testing.assert_allclose(pw, rho ** np.arange(n + 1), rtol=1e-13)
    np.testing.assert_allclose(gs, np.r_[0.0, np.cumsum(rho ** np.arange(1, n + 1))],
                               rtol=1e-13)
    slow = np.empty(K)
    for _ in range(40):
        W = rng.choice([0.0, 1.0], size=(2, K)) * rng.normal(scale=3, size=(2, K))
        A = rng.normal(scale=2 * lam, size=(2, K))
        m = int(rng.integers(1, n + 1))
        want = [replay(v, a, m, eta, lam, rho) for v, a in zip(W[1], A[1], strict=True)]
        kern._catch_up_l1(W, A, 1, m, eta, lam, rho, np.log(rho), pw[m], gs[m], slow)
        np.testing.assert_allclose(W[1], want, rtol=1e-9, atol=1e-12)
        assert np.all((W[1] == 0.0) == (np.asarray(want) == 0.0))  # exact zeros


def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("l1", [0.0, 0.02])
@pytest.mark.parametrize("one_rho", [False, True])
def test_dense_epoch_takes_the_same_steps_as_the_csr_epoch(soft, l1, one_rho):
    """The dense kernel (no index arrays, no loss) against the lazy CSR kernel on the same
    rows with every entry stored: one epoch of steps, the same W, b and memories (one rho
    for all features: the CSR kernel's powers come from its tables)."""
    rng = np.random.default_rng(4)
    n, d, K = 40, 6, 4
    X = rng.normal(size=(n, d)) + 0.1  # no zero entry: CSR stores all of them
    codes = rng.integers(0, K, size=n).astype(np.int64)
    Y = rng.dirichlet(np.ones(K), size=n) if soft else np.zeros((0, K))
    sw = rng.uniform(0.5, 2, size=n)
    sw /= sw.sum()
    eta, eta_b = 0.05, 0.01
    lam = np.full(d, l1)
    rho = 1 / (1 + eta * rng.uniform(0, 0.3, size=d))
    if one_rho:
        rho[:] = rho[0]
    order = rng.permutation(n).astype(np.int64)
    W0 = rng.normal(size=(d, K)) * 0.1
    mem0 = rng.normal(size=(n, K)) * 0.01
    A0, Ab0 = X.T @ mem0, mem0.sum(axis=0)
    ends = []
    for dense in (True, False):
        W, b, A, Ab, mem = W0.copy(), np.full(K, 0.2), A0.copy(), Ab0.copy(), mem0.copy()
        if dense:
            kern.saga_epoch_dense(order, X, W, b, A, Ab, mem, codes, Y, soft, sw, eta, lam,
                                  rho, eta_b)
        else:
            C = sp.csr_matrix(X)
            assert C.nnz == n * d
            kern.saga_epoch_csr(order, C.indptr, C.indices, C.data, W, b, A, Ab, mem,
                                np.zeros(d, dtype=np.int64), codes, Y, soft, sw, eta, lam,
                                rho, np.log(rho), eta_b)
        ends.append((W, b, A, Ab, mem))
    assert not np.allclose(ends[0][0], W0)  # the steps moved W
    for got, want in zip(*ends, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def test_epochs_kernel_replays_single_epochs_and_stops_at_the_threshold():
    """saga_epochs_dense = saga_epoch_dense over numba's shuffles of the rows (seeded at the
    call), epoch after epoch, ending at the first epoch whose memory violation is <= the
    threshold (or after max_epochs); it returns that count and violation."""
    numba = pytest.importorskip("numba")

    @numba.njit
    def numba_orders(seed, n, m):  # the generator's stream as the kernel draws it
        np.random.seed(seed)
        order = np.arange(n)
        out = np.empty((m, n), dtype=np.int64)
        for e in range(m):
            np.random.shuffle(order)
            out[e] = order
        return out

    rng = np.random.default_rng(6)
    n, d, K, m = 50, 7, 3, 4
    X = rng.normal(size=(n, d))
    codes = rng.integers(0, K, size=n).astype(np.int64)
    sw = np.full(n, 1.0 / n)
    eta, eta_b = 0.05, 0.05
    ridge_w = np.full(d, 0.1)
    rho = 1 / (1 + eta * ridge_w)
    Y = np.zeros((0, 0))

    def start():
        return np.zeros((d, K)), np.zeros(K), np.zeros((d, K)), np.zeros(K), np.zeros((n, K))

    orders = numba_orders(12345, n, m)
    assert len({tuple(o) for o in orders}) == m  # a fresh order each epoch
    W, b, A, Ab, mem = start()
    replay, violations = [], []
    for order in orders:
        kern.saga_epoch_dense(order, X, W, b, A, Ab, mem, codes, Y, False, sw, eta,
                              np.zeros(d), rho, eta_b)
        replay.append((W.copy(), b.copy(), A.copy(), Ab.copy(), mem.copy()))
        violations.append(kern.smooth_violation(W, A, ridge_w, Ab, True))
    assert violations[2] < violations[1] < violations[0]  # the stops below differ
    for threshold in (0.0, violations[1], violations[2]):
        W, b, A, Ab, mem = start()
        ran, estimate = kern.saga_epochs_dense(12345, m, threshold, X, W, b, A, Ab, mem,
                                               codes, Y, False, sw, eta, rho, eta_b, ridge_w,
                                               True)
        want = next((e + 1 for e, v in enumerate(violations) if v <= threshold), m)
        assert ran == want
        assert estimate == pytest.approx(violations[want - 1], rel=1e-12)
        for got, expected in zip((W, b, A, Ab, mem), replay[want - 1], strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_smooth_violation_equals_the_penalty_objects_value_exactly():
    """The numba loop returns what Penalty.optimality_violation gives (bit for bit: the check
    schedule compares it with tol), also on a strided view of W as the ridge kernel has."""
    rng = np.random.default_rng(5)
    d, K = 37, 6
    WA = rng.normal(size=(d, 2 * K + 1))
    W, A, Ab = WA[:, :K], rng.normal(size=(d, K)), rng.normal(size=K) * 3
    penalty = Penalty(alpha=0.3, penalty_factor=rng.uniform(0, 2, size=d))
    ridge_w = penalty.ridge_weights(d)
    want = float(np.max(penalty.optimality_violation(W, A + penalty.smooth_gradient(W))))
    assert kern.smooth_violation(W, A, ridge_w, Ab, False) == want
    assert kern.smooth_violation(W, A, ridge_w, Ab, True) == max(want, np.max(np.abs(Ab)))


def test_saga_reaches_sklearns_optimum_on_wine():
    """SAGA at tol=1e-10 matches LogisticRegression(C) with alpha = 1 / (C sum s) to 1e-8."""
    X, y = wine()
    C = 0.5
    ref = LogisticRegression(C=C, solver="newton-cg", tol=1e-14, max_iter=10_000).fit(X, y)
    model = SoftmaxRegression(alpha=1 / (C * len(y)), solver="saga", tol=1e-10,
                              max_iter=5000, random_state=0).fit(X, y)
    assert model.stop_reason_ == "converged" and model.solver_ == "saga"
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-8)


def test_dense_intercept_is_not_damped_and_converges_faster_for_it():
    """Dense X reads the intercept's column as 1 (sparse X: INTERCEPT_SCALE); the damped
    intercept was the slowest direction on standardised wine (both reach the same optimum)."""
    X, y = wine()
    datafit = SoftmaxObjective(X, y=y, n_classes=3)
    assert default_intercept_scale(X) == INTERCEPT_SCALE_DENSE == 1.0
    assert default_intercept_scale(sp.csr_matrix(X)) == INTERCEPT_SCALE < 1.0
    penalty = Penalty(alpha=1 / (0.5 * len(y)))
    undamped = saga(datafit, penalty, tol=1e-10, max_iter=20_000, random_state=0)
    damped = saga(datafit, penalty, tol=1e-10, max_iter=20_000, random_state=0,
                  intercept_scale=INTERCEPT_SCALE)
    assert undamped.stop_reason == damped.stop_reason == CONVERGED
    assert undamped.n_iter * 3 < damped.n_iter  # measured: 464 against 4447 epochs
    np.testing.assert_allclose(undamped.params, damped.params, atol=1e-8)


def text_problem(n=400, d=300, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.03, random_state=seed, format="csr")
    X.data = rng.uniform(0.1, 1.0, size=X.nnz)
    y = np.argmax(X @ rng.normal(size=(d, K)) * 3 + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def exact_optimum(datafit, penalty):
    return newton(datafit, penalty, datafit.zeros(), tol=1e-12, max_iter=200).params


@pytest.mark.parametrize("case", ["plain", "weights", "soft", "no_intercept", "float32"])
def test_saga_optimum_matches_newton_on_sparse_and_dense(case):
    """Sparse (lazy) and dense SAGA land on Newton's optimum of the same objective, with
    sample weights, soft targets, no intercept and float32 X read as float32."""
    X, y = text_problem()
    n, K = X.shape[0], 4
    rng = np.random.default_rng(1)
    kw = dict(n_classes=K)
    penalty = Penalty(alpha=1e-2)
    if case == "weights":
        kw["sample_weight"] = rng.uniform(0.1, 3.0, size=n)
    if case == "no_intercept":
        kw["fit_intercept"] = False
    if case == "float32":
        X = X.astype(np.float32)
    if case == "soft":
        Y = rng.dirichlet(np.ones(K), size=n)
        kw.pop("n_classes")
        targets = dict(Y=Y)
    else:
        targets = dict(y=y)
    exact = exact_optimum(SoftmaxObjective(X, **targets, **kw), penalty)
    for data in (X, X.toarray()):
        objective = SoftmaxObjective(data, **targets, **kw)
        result = saga(objective, penalty, None, tol=1e-10, max_iter=3000, random_state=0)
        assert result.stop_reason == CONVERGED
        # the objective's own gradient (checked against finite differences in
        # test_objective) confirms the optimality SAGA claims
        J = Penalised(SoftmaxObjective(data, **targets, **kw), penalty)
        _, grad = J.loss_grad(result.params)
        assert np.max(np.abs(grad)) <= 1e-9
        np.testing.assert_allclose(result.params, exact, atol=1e-7)


def test_saga_gradient_test_matches_finite_differences():
    """The loss SAGA reports at its end is J there; its violation is the gradient's
    max-norm, which finite differences of J confirm."""
    X, y = text_problem(n=120, d=40)
    objective = Penalised(SoftmaxObjective(X, y=y, n_classes=4), Penalty(alpha=1e-2))
    result = saga(objective.datafit, objective.penalty, None, tol=1e-3, max_iter=2,
                  random_state=0)
    theta = result.params
    h = 1e-6
    fd = np.array([(objective.loss(theta + h * e) - objective.loss(theta - h * e)) / (2 * h)
                   for e in np.eye(theta.size)])
    assert result.loss == pytest.approx(objective.loss(theta), rel=1e-12)
    assert result.grad_norm == pytest.approx(np.max(np.abs(fd)), rel=1e-5)


@pytest.mark.parametrize("factors", [False, True])
def test_saga_l1_prox_reaches_the_lasso_optimality_condition(factors):
    """With an L1 part (elastic net), the lazy proximal steps reach the subgradient
    optimality condition, judged from the objective's own gradient; sparse and dense
    agree and the solution has exact zeros. (Penalty factors: a rho per feature, whose
    powers the CSR kernel computes by exp instead of its tables.)"""
    X, y = text_problem(seed=3)
    pf = np.random.default_rng(3).uniform(0.2, 2.0, size=X.shape[1]) if factors else None
    penalty = Penalty(alpha=0.02, l1_ratio=0.7, penalty_factor=pf)
    sols = []
    for data in (X, X.toarray()):
        objective = SoftmaxObjective(data, y=y, n_classes=4)
        result = saga(objective, penalty, None, tol=1e-9, max_iter=5000, random_state=0)
        assert result.stop_reason == CONVERGED
        _, grad = objective.loss_grad(result.params)
        W, _ = objective.unpack(result.params)
        gW, gb = objective.unpack(grad)
        violation = penalty.optimality_violation(W, gW + penalty.smooth_gradient(W))
        assert violation.max() <= 1e-9 and np.abs(gb).max() <= 1e-9
        assert np.count_nonzero(W == 0) > W.size // 4
        sols.append(result.params)
    np.testing.assert_allclose(sols[0], sols[1], atol=1e-7)


def test_saga_refuses_grouped_penalties_and_datafits_without_data():
    X, y = text_problem(n=50)
    datafit = SoftmaxObjective(X, y=y, n_classes=4)
    with pytest.raises(TypeError, match="saga.* needs"):
        saga(Penalised(datafit, Penalty()), None)
    with pytest.raises(ValueError, match="grouped"):
        saga(SoftmaxObjective(X, y=y, n_classes=4), Penalty(alpha=1.0, l1_ratio=1.0,
                                                            grouped=True))


def test_saga_never_claims_convergence_it_did_not_reach():
    X, y = text_problem()
    penalty = Penalty(alpha=1e-3)
    objective = SoftmaxObjective(X, y=y, n_classes=4)
    result = saga(objective, penalty, None, tol=1e-12, max_iter=2, random_state=0)
    assert result.stop_reason == "max_iter" and result.grad_norm > 1e-12
    # a far too long step: either an overflow (DivergenceError) or no convergence
    big = SoftmaxObjective(X * 1e3, y=y, n_classes=4)
    start = big.loss(big.zeros())
    try:
        result = saga(big, penalty, None, max_iter=20, step_size=1e3, random_state=0)
    except DivergenceError as exc:
        assert "too large" in str(exc)
    else:
        assert result.stop_reason == "max_iter" and result.loss > start


def test_auto_picks_saga_for_sparse_data_and_records_it():
    """'auto': saga on sparse X where kappa / n is small, L-BFGS where it is large (weak
    or no penalty) and on dense X, Newton for few parameters; recorded in solver_."""
    X, y = text_problem(n=2000, d=400)
    model = SoftmaxRegression(alpha=1e-2, random_state=0).fit(X, y)
    assert model.solver_ == "saga" and model.stop_reason_ == "converged"
    dense = SoftmaxRegression(alpha=1e-2).fit(X.toarray(), y)
    assert dense.solver_ == "lbfgs"
    # both stop at max |grad J| <= 1e-7: probabilities agree to ~1e-6
    np.testing.assert_allclose(model.predict_proba(X), dense.predict_proba(X), atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations: not converged
        for alpha in (0.0, 1e-6):  # kappa / n = infinity, ~1e3
            weak = SoftmaxRegression(alpha=alpha, max_iter=3).fit(X, y)
            assert weak.solver_ == "lbfgs"
    small = SoftmaxRegression(alpha=1e-2).fit(X[:, :20], y)
    assert small.solver_ == "newton"
