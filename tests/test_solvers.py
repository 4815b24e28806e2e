"""Each solver on a small datafit directly (not through the estimator).

The reference optimum comes from SciPy's trust-region Newton on J written here in plain
NumPy (scipy.special.logsumexp), independent of softreg's objective, kernels and solvers.
"""

import importlib

import numpy as np
import pytest
from scipy import optimize, special

from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.solvers import (
    CONVERGED,
    STALLED,
    NewtonState,
    Penalised,
    SolverResult,
    at_precision_floor,
    gradient_descent,
    lbfgs,
    newton,
    sgd,
)
from softreg.solvers._common import MAX_ITER, backtracking_line_search
from softreg.solvers.lean_lbfgs import lean_lbfgs

lbfgs_module = importlib.import_module("softreg.solvers.lbfgs")

N, D, K = 120, 4, 3
ALPHA = 0.05
PF = np.array([1.0, 0.5, 2.0, 0.0])  # a penalty factor with an unpenalised feature


def _data(seed=0, scale=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    if scale is not None:
        X *= scale
    W = rng.normal(size=(D, K))
    y = np.argmax(X @ W + rng.gumbel(size=(N, K)), axis=1)
    s = rng.uniform(0.5, 2.0, size=N)
    return X, y, s


def _numpy_J(X, y, s, alpha, pf):
    """J(theta) and its gradient from the formulas, theta = [W (D, K) row-major, b (K,)]."""
    Y = np.eye(K)[y]
    w = s / s.sum()
    ridge = np.repeat(alpha * pf, K)

    def J(theta):
        W, b = theta[: D * K].reshape(D, K), theta[D * K:]
        Z = X @ W + b
        lse = special.logsumexp(Z, axis=1)
        G = (np.exp(Z - lse[:, None]) - Y) * w[:, None]
        value = np.dot(w, lse - np.sum(Y * Z, axis=1)) + 0.5 * np.dot(ridge * theta[:D * K],
                                                                      theta[:D * K])
        grad = np.concatenate([(X.T @ G).ravel() + ridge * theta[:D * K], G.sum(axis=0)])
        return value, grad

    return J


@pytest.fixture(scope="module")
def problem():
    X, y, s = _data()
    J = _numpy_J(X, y, s, ALPHA, PF)
    res = optimize.minimize(J, np.zeros((D + 1) * K), jac=True, method="BFGS",
                            options={"gtol": 1e-12, "maxiter": 10_000})
    theta = res.x - np.repeat(res.x.reshape(D + 1, K).mean(axis=1), K)  # centred
    return X, y, s, theta, J


def _datafit(X, y, s):
    return SoftmaxObjective(X, y=y, sample_weight=s, n_classes=K)


def _probs(theta, X):
    W, b = theta[: D * K].reshape(D, K), theta[D * K:]
    return special.softmax(X @ W + b, axis=1)


PENALTY = Penalty(alpha=ALPHA, penalty_factor=PF)
RUNS = {
    "lbfgs": lambda f, t0: lbfgs(f, PENALTY, t0, tol=1e-10),
    "lbfgs-plain": lambda f, t0: lbfgs(f, PENALTY, t0, tol=1e-10, precondition=False),
    "newton-exact": lambda f, t0: newton(f, PENALTY, t0, tol=1e-10, inner="exact"),
    "newton-cg": lambda f, t0: newton(f, PENALTY, t0, tol=1e-10, inner="cg"),
    "lean-lbfgs": lambda f, t0: lean_lbfgs(f, PENALTY, t0, tol=1e-10),
    "lean-lbfgs-plain": lambda f, t0: lean_lbfgs(f, PENALTY, t0, tol=1e-10,
                                                 precondition=False),
    "lean-lbfgs-memory-2": lambda f, t0: lean_lbfgs(f, PENALTY, t0, tol=1e-10, memory=2),
    "gd": lambda f, t0: gradient_descent(f, PENALTY, t0, tol=1e-9, max_iter=50_000),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_each_smooth_solver_reaches_the_reference_optimum(problem, name):
    X, y, s, theta_ref, J = problem
    datafit = _datafit(X, y, s)
    res = RUNS[name](datafit, datafit.zeros())
    assert isinstance(res, SolverResult)
    assert res.stop_reason == CONVERGED, (res.stop_reason, res.grad_norm)
    assert res.grad_norm <= 1e-9
    # the solver's J is the independent J, and its gradient vanishes there
    value, grad = J(res.params)
    assert res.loss == pytest.approx(value, rel=1e-12)
    assert np.max(np.abs(grad)) <= 1e-8
    np.testing.assert_allclose(_probs(res.params, X), _probs(theta_ref, X), atol=1e-7)
    assert datafit.n_passes >= res.n_iter


def test_sgd_gets_close_to_the_optimum(problem):
    X, y, s, theta_ref, J = problem
    datafit = _datafit(X, y, s)
    res, state = sgd(datafit, PENALTY, datafit.zeros(), batch_size=8, tol=1e-7,
                     max_iter=300, random_state=0)
    assert state.samples_seen == res.n_iter * N
    assert datafit.n_passes >= res.n_iter  # minibatch rows count as passes
    assert J(res.params)[0] - J(theta_ref)[0] < 1e-3
    np.testing.assert_allclose(_probs(res.params, X), _probs(theta_ref, X), atol=0.05)


def test_newton_state_carries_the_hessian_along_a_path(problem):
    X, y, s, *_ = problem
    datafit = _datafit(X, y, s)
    state, theta = NewtonState(), datafit.zeros()
    for alpha in (1.0, 0.1, 0.01):
        res = newton(datafit, Penalty(alpha=alpha), theta, tol=1e-10, inner="exact",
                     state=state)
        assert res.stop_reason == CONVERGED and state.H_data is not None
        ref = lbfgs(_datafit(X, y, s), Penalty(alpha=alpha), theta, tol=1e-10)
        np.testing.assert_allclose(_probs(res.params, X), _probs(ref.params, X), atol=1e-8)
        theta = res.params


def test_newton_with_fixed_coordinates_keeps_them(problem):
    """free: optimise some coordinates only (inference's contrast parameterisation)."""
    X, y, s, *_ = problem
    datafit = _datafit(X, y, s)
    free = np.ones(datafit.n_params, dtype=bool)
    free[-K] = False  # the first class's intercept stays at its start value
    start = np.zeros(datafit.n_params)
    start[-K] = 0.7
    res = newton(datafit, Penalty(alpha=ALPHA), start, tol=1e-10, inner="exact", free=free)
    assert res.params[-K] == 0.7 and res.stop_reason == CONVERGED
    # the intercepts are only identified up to a common shift: the same probabilities
    ref = newton(datafit, Penalty(alpha=ALPHA), np.zeros(datafit.n_params), tol=1e-10)
    np.testing.assert_allclose(_probs(res.params, X), _probs(ref.params, X), atol=1e-8)
    with pytest.raises(ValueError, match="exact"):
        newton(datafit, None, start, inner="cg", free=free)


def test_exact_and_cg_newton_agree_on_badly_scaled_data():
    X, y, s = _data(seed=3, scale=np.logspace(-2, 2, D))
    runs = [newton(_datafit(X, y, s), Penalty(alpha=1e-3), np.zeros((D + 1) * K), tol=1e-9,
                   inner=inner) for inner in ("exact", "cg")]
    assert all(r.stop_reason == CONVERGED for r in runs)
    np.testing.assert_allclose(_probs(runs[0].params, X), _probs(runs[1].params, X),
                               atol=1e-7)


@pytest.mark.parametrize("inner", ["exact", "cg"])
@pytest.mark.parametrize("scale", [1e15, 1e-12])
def test_newton_is_scale_free_on_huge_and_tiny_features(inner, scale):
    """Features of size 1e15 (nanosecond timestamps are 1e18): the solution is of size 1e-15,
    every Newton step is tiny in absolute terms and must still be taken, and the intercept's
    O(1) curvature must not drown in the features'. The same problem in the units of the
    unscaled one (alpha * scale**2) has the same probabilities; so for tiny features."""
    X, y, s = _data(seed=4)
    ref = newton(_datafit(X, y, s), Penalty(alpha=1e-3), np.zeros((D + 1) * K), tol=1e-10,
                 inner=inner)
    # the gradient in W scales with the features: a tiny feature needs a tiny tol
    big = newton(_datafit(X * scale, y, s), Penalty(alpha=1e-3 * scale**2),
                 np.zeros((D + 1) * K), inner=inner, tol=1e-8 * min(1.0, scale))
    assert big.n_iter >= 3  # before: "stalled" with no step taken, probabilities uniform
    np.testing.assert_allclose(_probs(big.params, X * scale), _probs(ref.params, X), atol=1e-6)


@pytest.mark.parametrize("run", [
    lambda f: lbfgs(f, Penalty(alpha=0.1, l1_ratio=0.5), f.zeros()),
    lambda f: newton(f, Penalty(alpha=0.1, l1_ratio=1.0), f.zeros()),
    lambda f: gradient_descent(f, Penalty(alpha=0.1, l1_ratio=0.2), f.zeros()),
    lambda f: sgd(f, Penalty(alpha=0.1, l1_ratio=0.2), f.zeros()),
])
def test_smooth_solvers_refuse_an_l1_part_by_name(problem, run):
    X, y, s, *_ = problem
    with pytest.raises(ValueError, match=r"solver '\w+' handles smooth penalties only"):
        run(_datafit(X, y, s))


class _NoMoments:
    """A datafit that offers values and gradients only."""

    def __init__(self, inner):
        self.inner = inner
        self.n_features, self.n_classes = inner.n_features, inner.n_classes
        self.fit_intercept, self.n_params = inner.fit_intercept, inner.n_params

    def loss(self, theta):
        return self.inner.loss(theta)

    def loss_grad(self, theta):
        return self.inner.loss_grad(theta)


def test_a_missing_method_is_refused_by_name_not_skipped(problem):
    X, y, s, *_ = problem
    partial = _NoMoments(_datafit(X, y, s))
    with pytest.raises(TypeError, match="'lbfgs' needs the objective's feature_moments"):
        lbfgs(partial, PENALTY, np.zeros(partial.n_params))
    with pytest.raises(TypeError, match="'newton' needs the objective's .*hessian"):
        newton(partial, PENALTY, np.zeros(partial.n_params), inner="exact")
    with pytest.raises(TypeError, match="'sgd' needs the objective's minibatch"):
        sgd(partial, PENALTY, np.zeros(partial.n_params))
    # asked for without the preconditioner, L-BFGS needs only values and gradients
    res = lbfgs(partial, PENALTY, np.zeros(partial.n_params), tol=1e-8, precondition=False)
    assert res.stop_reason == CONVERGED


def test_penalised_adds_the_ridge_part_with_penalty_factors(problem):
    X, y, s, _, J = problem
    obj = Penalised(_datafit(X, y, s), PENALTY)
    theta = np.random.default_rng(1).normal(size=obj.n_params)
    value, grad = obj.loss_grad(theta)
    ref_value, ref_grad = J(theta)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)
    W, _ = obj.unpack(theta)
    assert value - obj.datafit.loss(theta) == pytest.approx(PENALTY.value(W), rel=1e-12)
    v = np.random.default_rng(2).normal(size=obj.n_params)
    h = 1e-6
    fd = (obj.loss_grad(theta + h * v)[1] - obj.loss_grad(theta - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(obj.loss_grad_hessp(theta)[2](v), fd, rtol=1e-5, atol=1e-8)
    H = obj.add_ridge(obj.datafit.hessian(theta))
    np.testing.assert_allclose(H @ v, fd, rtol=1e-5, atol=1e-8)
    # the smoothness bound bounds the penalised Hessian
    assert np.linalg.eigvalsh(H).max() <= obj.smoothness_bound() * (1 + 1e-12)
    assert obj.strong_convexity == 0.0  # the unpenalised feature


def test_line_search_refuses_an_ascent_direction(problem):
    X, y, s, *_ = problem
    obj = Penalised(_datafit(X, y, s), PENALTY)
    theta = obj.zeros()
    loss, grad = obj.loss_grad(theta)
    assert backtracking_line_search(obj, theta, loss, grad, grad, float(grad @ grad)) is None
    t = backtracking_line_search(obj, theta, loss, grad, -grad, -float(grad @ grad))
    assert t is not None and obj.loss(theta - t * grad) < loss


@pytest.mark.parametrize("reason, grad_norm, dtype, ok", [
    (CONVERGED, 1.0, np.float64, True),
    (STALLED, 1e-9, np.float64, True),
    (STALLED, 1e-6, np.float64, False),
    (STALLED, 1e-6, np.float32, True),
    ("max_iter", 1e-12, np.float64, False),
])
def test_one_rule_for_converged_though_stalled(reason, grad_norm, dtype, ok):
    result = SolverResult(np.zeros(1), 3, reason, 0.0, grad_norm)
    assert at_precision_floor(result, dtype) is ok


@pytest.mark.parametrize("kernel", ["reference", "fast"])
def test_lean_lbfgs_warm_start_and_max_iter(problem, kernel):
    X, y, s, theta_ref, J = problem
    datafit = SoftmaxObjective(X, y=y, sample_weight=s, n_classes=K, kernel=kernel)
    res = lean_lbfgs(datafit, PENALTY, datafit.zeros(), tol=1e-10)
    assert res.stop_reason == CONVERGED and res.grad_norm <= 1e-10
    np.testing.assert_allclose(_probs(res.params, X), _probs(theta_ref, X), atol=1e-7)
    # from the optimum: nothing to do
    again = lean_lbfgs(datafit, PENALTY, res.params, tol=1e-10)
    assert again.n_iter == 0 and again.stop_reason == CONVERGED
    short = lean_lbfgs(datafit, PENALTY, datafit.zeros(), tol=1e-10, max_iter=3)
    assert short.stop_reason == MAX_ITER and short.n_iter == 3 and short.grad_norm > 1e-10


# -- the subsample-Hessian preconditioner and mixed precision ------------------------------

def _bigger(n=20_000, d=5, K=3, dtype=np.float64, seed=3):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.2, 3.0, size=d)).astype(dtype)
    W = rng.normal(size=(d, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def test_subsample_size_rule():
    from softreg.solvers._precondition import subsample_size
    X, y = _bigger()
    datafit = SoftmaxObjective(X, y=y, n_classes=3)  # 18 parameters
    # n / 32 = 625 rows, within [6, 16] rows per parameter (108, 288): 288
    assert subsample_size(datafit) == 288
    # n / 32 = 62 < 6 per parameter: 108 rows, still under n / 8 = 250
    assert subsample_size(SoftmaxObjective(X[:2000], y=y[:2000], n_classes=3)) == 108
    assert subsample_size(SoftmaxObjective(X[:500], y=y[:500], n_classes=3)) is None  # > n/8
    wide = np.zeros((100, 700))
    assert subsample_size(SoftmaxObjective(wide, y=np.arange(100) % 3, n_classes=3)) is None

    class NoMinibatch:  # a datafit without minibatch/hessian (Dask's) never gets one
        n_params, n_samples = 18, 10**6
    assert subsample_size(NoMinibatch()) is None


def test_hessian_preconditioner_whitens_the_hessian_it_was_built_from():
    from softreg.solvers._precondition import HessianPreconditioner
    X, y = _bigger(n=3000)
    penalised = Penalised(SoftmaxObjective(X, y=y, n_classes=3), Penalty(alpha=1e-3))
    theta = np.random.default_rng(1).normal(scale=0.3, size=penalised.n_params)
    H = penalised.add_ridge(penalised.datafit.hessian(theta))
    pre = HessianPreconditioner(H, 3)
    rng = np.random.default_rng(2)
    v = rng.normal(size=penalised.n_params)
    np.testing.assert_allclose(pre.to_params(pre.from_params(v)), v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(pre.inverse(pre.L @ pre.from_params(v)), v, rtol=1e-8,
                               atol=1e-11)  # M^-1 (L L^T v)
    # chain rule: d/du J(L^-T u) . w = grad . L^-T w
    g = penalised.loss_grad(theta)[1]
    w = rng.normal(size=v.size)
    assert pre.grad_to_u(g) @ w == pytest.approx(g @ pre.to_params(w), rel=1e-10)
    # on the directions the data acts on (centred across classes) M = H, so M^-1 H = I there
    q = penalised.n_params // 3
    centred = np.kron(np.eye(q), np.linalg.svd(np.eye(3) - 1 / 3)[0][:, :2])
    for e in centred.T:
        np.testing.assert_allclose(pre.inverse(H @ e), e, atol=1e-7)
    # ... and M is positive definite although H is singular (the intercepts' common shift)
    shift = np.zeros(penalised.n_params)
    shift[-3:] = 1.0
    assert np.max(np.abs(H @ shift)) < 1e-12
    assert np.all(np.isfinite(pre.inverse(shift)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lbfgs_with_the_subsample_hessian_reaches_the_optimum_in_fewer_passes(dtype):
    X, y = _bigger(dtype=dtype)
    penalty = Penalty(alpha=1e-4)
    tol = 1e-7 if dtype == np.float64 else 1e-6
    moments = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    hessian = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    a = lbfgs(moments, penalty, moments.zeros(), tol=tol, precondition="moments")
    b = lbfgs(hessian, penalty, hessian.zeros(), tol=tol)  # auto: the Hessian here
    assert a.stop_reason == b.stop_reason == CONVERGED
    # the result's gradient is float64's (also for float32 X, after mixed passes)
    ref = Penalised(SoftmaxObjective(X, y=y, n_classes=3, kernel="reference"), penalty)
    assert np.max(np.abs(ref.loss_grad(b.params)[1])) <= tol * (1 + 1e-6)
    assert b.loss == pytest.approx(ref.loss(b.params), rel=1e-12)
    np.testing.assert_allclose(b.params, a.params, atol=50 * tol / 1e-4 * 1e-2)
    assert hessian._minibatch_rows > 0  # the subsample's passes are counted
    assert hessian.n_passes < moments.n_passes
    assert hessian.precision == "float64"  # restored


def test_lbfgs_mixed_precision_switches_to_float64_before_it_stops():
    X, y = _bigger(dtype=np.float32)
    datafit = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    seen = []
    original = datafit._evaluate

    def spy(theta, want_P=False):
        seen.append(datafit.precision)
        return original(theta, want_P)

    datafit._evaluate = spy
    res = lbfgs(datafit, Penalty(alpha=1e-4), datafit.zeros(), tol=1e-6,
                precondition="moments")
    assert res.stop_reason == CONVERGED
    assert "mixed" in seen and seen[-1] == "float64"
    assert seen.index("float64") > seen.index("mixed")  # mixed first, float64 at the end
    plain = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    ref = lbfgs(plain, Penalty(alpha=1e-4), plain.zeros(), tol=1e-6, precondition="moments",
                mixed_precision=False)
    assert res.loss == pytest.approx(ref.loss, rel=1e-9)


def _plain_optimum(X, y, alpha, n_classes):
    """J (unit weights, intercept) in plain float64 NumPy, and its optimum by SciPy's L-BFGS-B."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    Y = np.eye(n_classes)[y]

    def J(theta):
        W, b = theta[:d * n_classes].reshape(d, n_classes), theta[d * n_classes:]
        Z = X @ W + b
        lse = special.logsumexp(Z, axis=1)
        G = (np.exp(Z - lse[:, None]) - Y) / n
        value = np.mean(lse - np.sum(Y * Z, axis=1)) + 0.5 * alpha * np.sum(W * W)
        return value, np.concatenate([(X.T @ G + alpha * W).ravel(), G.sum(axis=0)])

    res = optimize.minimize(J, np.zeros((d + 1) * n_classes), jac=True, method="L-BFGS-B",
                            options={"gtol": 1e-11, "ftol": 0.0, "maxiter": 10_000})
    return J, res.x


def _spy_precisions(datafit):
    """Record (precision, theta) of every evaluation of ``datafit``."""
    seen = []
    original = datafit._evaluate

    def spy(theta, want_P=False):
        seen.append((datafit.precision, np.array(theta)))
        return original(theta, want_P)

    datafit._evaluate = spy
    return seen


@pytest.fixture(scope="module")
def float32_problem():
    X, y = _bigger(dtype=np.float32)
    J, theta = _plain_optimum(X, y, 1e-4, 3)
    return X, y, J, theta


def test_lbfgs_mixed_to_tol_keeps_the_mixed_point_after_one_float64_check(float32_problem):
    """A loose tolerance (a subsample's): mixed passes to tol, then one float64 pass at the
    point they reached (its gradient is the result's), no float64 finishing steps."""
    X, y, J, _ = float32_problem
    datafit = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    seen = _spy_precisions(datafit)
    res = lbfgs(datafit, Penalty(alpha=1e-4), datafit.zeros(), tol=1e-4,
                precondition="moments", mixed_to_tol=True)
    assert res.stop_reason == CONVERGED
    precisions = [p for p, _ in seen]
    k = precisions.index("float64")
    assert set(precisions[:k]) == {"mixed"} and set(precisions[k:]) == {"float64"}
    for _, theta in seen[k - 1:]:  # float64 only at the last mixed point
        np.testing.assert_array_equal(theta, seen[-1][1])
    assert np.max(np.abs(J(res.params)[1])) <= 1e-4 * (1 + 1e-6)
    assert datafit.precision == "float64"
    # that one float64 pass also kept P there: the Hessian (the subsample preconditioner's)
    # costs only its own pass, and equals the one a fresh datafit computes
    passes = datafit.n_passes
    H = datafit.hessian(res.params)
    assert datafit.n_passes == passes + 1
    fresh = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    np.testing.assert_array_equal(H, fresh.hessian(res.params))
    assert fresh.n_passes == 2


@pytest.mark.parametrize("switch", [None, 1e3])
def test_lbfgs_float32_finishes_on_float64_gradients_without_a_second_look(
        float32_problem, monkeypatch, switch):
    """After the mixed passes, value-free steps on float64 gradients reach tol; no point is
    evaluated twice (the old switch re-evaluated the last mixed one in float64)."""
    if switch is not None:  # a long finish: from max |grad| <= 1e-3 on
        monkeypatch.setattr(lbfgs_module, "MIXED_SWITCH", switch)
    X, y, J, theta_star = float32_problem
    datafit = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    seen = _spy_precisions(datafit)
    res = lbfgs(datafit, Penalty(alpha=1e-4), datafit.zeros(), tol=1e-6)
    assert res.stop_reason == CONVERGED
    precisions = [p for p, _ in seen]
    first64 = precisions.index("float64")
    assert first64 > 0 and set(precisions[:first64]) == {"mixed"}
    assert set(precisions[first64:]) == {"float64"}
    mixed_points = [t for p, t in seen if p == "mixed"]
    for _, t in seen[first64:]:
        assert not any(np.array_equal(t, m) for m in mixed_points)
    if switch is not None:
        assert len(precisions) - first64 >= 2  # several finishing steps
    value, grad = J(res.params)
    assert np.max(np.abs(grad)) <= 1e-6 * (1 + 1e-6)
    assert -1e-14 * value <= value - J(theta_star)[0] <= 1e-9  # a few ulps below J*: rounding
    assert res.loss == pytest.approx(value, rel=1e-12)


def test_lbfgs_float32_finish_hands_over_to_the_line_search(float32_problem, monkeypatch):
    """A finishing step whose slopes do not promise a decrease is not kept: L-BFGS-B on
    float64 values takes over from the last kept point and still reaches tol."""
    monkeypatch.setattr(lbfgs_module, "MIXED_SWITCH", 1e3)
    monkeypatch.setattr(lbfgs_module, "FINISH_DECREASE", 2.0)  # no step can pass
    X, y, J, theta_star = float32_problem
    datafit = SoftmaxObjective(X, y=y, n_classes=3, kernel="fast")
    seen = _spy_precisions(datafit)
    res = lbfgs(datafit, Penalty(alpha=1e-4), datafit.zeros(), tol=1e-6)
    assert res.stop_reason == CONVERGED
    precisions = [p for p, _ in seen]
    # the rejected trials along one direction (shorter and shorter), the last kept (mixed)
    # point again, then the line search's points
    first64 = precisions.index("float64")
    start = seen[first64 - 1][1]
    again = next(i for i in range(first64, len(seen)) if np.array_equal(seen[i][1], start))
    assert 1 <= again - first64 <= lbfgs_module.FINISH_MAX_TRIALS
    steps = [seen[i][1] - start for i in range(first64, again)]
    for step in steps[1:]:
        ratio = np.linalg.norm(step) / np.linalg.norm(steps[0])
        assert 0 < ratio < 1
        np.testing.assert_allclose(step, ratio * steps[0], rtol=1e-9, atol=1e-15)
    value, grad = J(res.params)
    assert np.max(np.abs(grad)) <= 1e-6 * (1 + 1e-6)
    assert -1e-14 * value <= value - J(theta_star)[0] <= 1e-9  # a few ulps below J*: rounding


def test_float64_finish_shortens_an_overlong_step_to_the_minimum_along_it():
    """On a quadratic J = u.A.u / 2 with curvature pairs that understate A fourfold, the unit
    L-BFGS step overshoots (J's slope along it turns positive); the secant through the two
    slopes then lands on the exact minimiser along the direction (slope zero there)."""
    from softreg.solvers.lbfgs import _finish_float64, _lbfgs_direction
    rng = np.random.default_rng(4)
    n = 5
    B = rng.normal(size=(n, n))
    A = B @ B.T + n * np.eye(n)

    def evaluate(u):
        return 0.5 * u @ A @ u, A @ u

    u0 = rng.normal(size=n)
    u1 = u0 + 0.1 * rng.normal(size=n)
    history = [(u0, A @ u1 - A @ (u1 - u0) / 4), (u1, A @ u1)]  # the pair's y = A s / 4
    g = A @ u1
    d = -_lbfgs_direction(g, [(u1 - u0, (A @ (u1 - u0)) / 4)])
    slope, slope_1 = g @ d, (A @ (u1 + d)) @ d
    # the unit step overshoots: J rises again along d there, too much to keep the step
    assert (slope + slope_1) / 2 > lbfgs_module.FINISH_DECREASE * slope
    curve, seen = [], []

    def spy(u):
        seen.append(u)
        return evaluate(u)

    u, converged = _finish_float64(spy, lambda v: v, history, 1e-300, 10, 2, curve, None)
    assert not converged and len(seen) == 2 and len(curve) == 1
    np.testing.assert_allclose(seen[0], u1 + d, rtol=1e-12)
    t_star = -(g @ d) / (d @ A @ d)  # the exact minimiser along d
    np.testing.assert_allclose(u, u1 + t_star * d, rtol=1e-10)
    assert abs((A @ u) @ d) <= 1e-10 * abs(g @ d)
    assert curve[0] == pytest.approx(evaluate(u)[0], rel=1e-12) and curve[0] < evaluate(u1)[0]


def test_lbfgs_direction_is_the_bfgs_inverse_update():
    """The two-loop recursion against the dense BFGS update of H, from H0 = (s.y/y.y) I."""
    from softreg.solvers.lbfgs import _lbfgs_direction
    rng = np.random.default_rng(0)
    n = 6
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)
    pairs = [(s, A @ s) for s in rng.normal(size=(4, n))]
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(n)
    for s, y in pairs:  # Nocedal & Wright (6.17): H+ = V^T H V + rho s s^T, V = I - rho y s^T
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    g = rng.normal(size=n)
    np.testing.assert_allclose(_lbfgs_direction(g, pairs), H @ g, rtol=1e-10)
    np.testing.assert_allclose(_lbfgs_direction(y, pairs), s, rtol=1e-10)  # secant equation
    np.testing.assert_array_equal(_lbfgs_direction(g, []), g)


def test_lbfgs_refuses_an_unknown_preconditioner(problem):
    X, y, s, *_ = problem
    with pytest.raises(ValueError, match="precondition must be one of"):
        lbfgs(_datafit(X, y, s), PENALTY, np.zeros((D + 1) * K), precondition="diagonal")


def test_subsample_rows_are_distinct_sorted_and_seeded():
    from softreg.solvers._precondition import subsample_rows
    rows = subsample_rows(10_000, 300)
    assert rows.size == 300 and np.all(np.diff(rows) > 0)
    assert rows.min() >= 0 and rows.max() < 10_000
    assert np.array_equal(rows, subsample_rows(10_000, 300))  # seeded
    assert not np.array_equal(rows, subsample_rows(10_000, 300, seed=1))


def test_lbfgs_with_the_subsample_hessian_does_not_depend_on_the_memory_order():
    # C- and F-ordered copies of the same X (big enough for the fused kernels and the
    # subsample): the same subsample rows, so the same path up to rounding. With a
    # subsample of its own for F order (as before), the first iterates' losses differ at
    # about 1e-3 and the iteration counts may too.
    rng = np.random.default_rng(3)
    n, d, k = 8_000, 7, 4
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, k)) + rng.gumbel(size=(n, k)), axis=1)
    penalty = Penalty(1e-3)
    fits = []
    for A in (X, np.asfortranarray(X)):
        datafit = SoftmaxObjective(A, y=y, n_classes=k)
        assert lbfgs_module.subsample_size(datafit) is not None  # the subsample is used
        fits.append(lbfgs(datafit, penalty, np.zeros((d + 1) * k), tol=1e-8,
                          precondition="hessian"))
    c, f = fits
    assert c.stop_reason == f.stop_reason == CONVERGED
    assert c.n_iter == f.n_iter
    np.testing.assert_allclose(f.loss_curve, c.loss_curve, rtol=1e-12)
    np.testing.assert_allclose(f.params, c.params, rtol=0, atol=1e-9)
