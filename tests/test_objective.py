"""The datafit: value by hand, gradient and Hessian (products) by finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import special

from softreg._objective import SoftmaxObjective


def make_problem(soft=False, weights=False, sparse=False, intercept=True,
                 dtype=np.float64, seed=0, n=40, d=5, K=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if sparse:
        X[rng.random(size=X.shape) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    y = rng.integers(0, K, size=n)
    Y = rng.dirichlet(np.ones(K), size=n) if soft else None
    s = rng.uniform(0.1, 3.0, size=n) if weights else None
    obj = SoftmaxObjective(X, y=None if soft else y, Y=Y, sample_weight=s,
                           fit_intercept=intercept, n_classes=K)
    return obj, X, (np.eye(K)[y] if Y is None else Y), (np.ones(n) if s is None else s)


def reference_loss(theta, X, Y, s, intercept, K):
    """The datafit written directly from the formula with scipy's logsumexp."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=float)
    d = X.shape[1]
    W = theta[: d * K].reshape(d, K)
    b = theta[d * K:] if intercept else np.zeros(K)
    Z = X @ W + b
    ce = special.logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)
    return np.sum(s * ce) / np.sum(s)


CASES = [dict(soft=soft, weights=w, sparse=spm, intercept=i)
         for soft in (False, True) for w in (False, True) for spm in (False, True)
         for i in (True, False)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(k for k, v in c.items() if v)
                         or "plain")
def test_value_gradient_and_hessian_product(case):
    obj, X, Y, s = make_problem(**case)
    rng = np.random.default_rng(1)
    theta = rng.normal(scale=0.5, size=obj.n_params)
    K = obj.n_classes
    loss, grad = obj.loss_grad(theta)
    np.testing.assert_allclose(loss, reference_loss(theta, X, Y, s, obj.fit_intercept, K),
                               rtol=1e-12)
    # central finite differences of the value give the gradient
    h = 1e-6
    fd = np.array([(obj.loss(theta + h * e) - obj.loss(theta - h * e)) / (2 * h)
                   for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    # finite differences of the gradient give the Hessian-vector product
    v = rng.normal(size=obj.n_params)
    hv = obj.hessp(theta, v)
    fd_hv = (obj.loss_grad(theta + h * v)[1] - obj.loss_grad(theta - h * v)[1]) / (2 * h)
    np.testing.assert_allclose(hv, fd_hv, rtol=1e-5, atol=1e-7)
    # the exact Hessian: its columns are the Hessian-vector products of the unit vectors
    H = obj.hessian(theta)
    H_cols = np.column_stack([obj.hessp(theta, e) for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(H, H_cols, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(H @ v, hv, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kernel", ["reference", "fast"])
def test_float32_data_is_read_as_is_and_computed_in_float64(kernel):
    """float32 X is kept (no float64 copy), and the arithmetic is float64: the objective
    equals the float64 one on the same (float32-rounded) numbers to rounding error."""
    obj64, X, Y, s = make_problem(weights=True)
    X32 = X.astype(np.float32)
    obj32 = SoftmaxObjective(X32, y=Y.argmax(1), sample_weight=s,
                             n_classes=obj64.n_classes, kernel=kernel)
    widened = SoftmaxObjective(X32.astype(np.float64), y=Y.argmax(1), sample_weight=s,
                               n_classes=obj64.n_classes)
    assert obj32.X is X32
    theta = np.random.default_rng(2).normal(size=obj64.n_params)
    assert obj32.logits(theta).dtype == np.float64
    l64, g64 = widened.loss_grad(theta)
    l32, g32 = obj32.loss_grad(theta)
    np.testing.assert_allclose(l32, l64, rtol=1e-13)
    np.testing.assert_allclose(g32, g64, rtol=1e-11, atol=1e-14)
    # and the data's rounding to float32 moves the objective by about float32's epsilon
    assert obj32.loss(theta) == pytest.approx(obj64.loss(theta), rel=1e-5)


def test_minibatch_gradient_is_unbiased():
    """Averaging the minibatch gradients over a partition of the rows gives the full one."""
    obj, *_ = make_problem(weights=True, n=40)
    theta = np.random.default_rng(3).normal(size=obj.n_params)
    parts = np.array_split(np.arange(40), 4)
    mean = np.mean([obj.minibatch(rows).loss_grad(theta)[1] for rows in parts], axis=0)
    np.testing.assert_allclose(mean, obj.loss_grad(theta)[1], rtol=1e-12)


def test_smoothness_bound_bounds_the_hessian():
    obj, *_ = make_problem(weights=True)
    theta = np.random.default_rng(4).normal(size=obj.n_params)
    H = np.column_stack([obj.hessp(theta, e) for e in np.eye(obj.n_params)])
    assert np.linalg.eigvalsh((H + H.T) / 2).max() <= obj.smoothness_bound() * (1 + 1e-12)


def test_pass_counter_counts_each_read_of_X_once():
    obj, *_ = make_problem(n=40)
    theta = np.random.default_rng(5).normal(size=obj.n_params)
    assert obj.n_passes == 0
    obj.loss_grad(theta)
    obj.loss(theta)  # cached: no pass
    assert obj.n_passes == 1
    obj.hessp(theta, theta)  # P was not kept on this path or is: at most one more evaluation
    passes = obj.n_passes
    obj.feature_moments()
    assert obj.n_passes == passes + 1
    for rows in np.array_split(np.arange(40), 4):  # 40 rows through minibatches: one pass
        obj.minibatch(rows)
    assert obj.n_passes == passes + 2


def test_probabilities_are_a_read_only_view_that_the_caller_copies():
    obj, X, *_ = make_problem()
    theta = np.random.default_rng(6).normal(size=obj.n_params)
    P = obj.probabilities(theta)
    assert not P.flags.writeable
    Z = X @ theta[: obj.n_features * obj.n_classes].reshape(obj.n_features, -1)
    np.testing.assert_allclose(P, special.softmax(Z + theta[obj.n_features * obj.n_classes:],
                                                  axis=1), rtol=1e-12)
    with pytest.raises(ValueError, match="read-only"):
        P[0, 0] = 1.0


def test_mixed_precision_is_a_switch_of_float32_fast_objectives_only():
    """"mixed": float32 products on float32 X (fast kernel); "float64" gives back the exact
    numbers (the switch drops the cached evaluation); a no-op elsewhere."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 12)).astype(np.float32)
    y = rng.integers(0, 4, 3000)
    theta = rng.normal(scale=0.3, size=13 * 4)
    obj = SoftmaxObjective(X, y=y, n_classes=4, kernel="fast")
    ref = SoftmaxObjective(X, y=y, n_classes=4, kernel="reference")
    assert obj.can_mix_precision and obj.precision == "float64"
    exact = obj.loss_grad(theta)
    obj.set_precision("mixed")
    assert obj.precision == "mixed"
    loss, grad = obj.loss_grad(theta)
    passes = obj.n_passes
    assert obj.n_passes == passes  # (the switch itself reads nothing)
    assert loss != exact[0] and loss == pytest.approx(exact[0], rel=1e-6)
    np.testing.assert_allclose(grad, exact[1], atol=1e-5)
    # probabilities and Hessian products stay float64 under "mixed"
    np.testing.assert_allclose(obj.probabilities(theta), ref.probabilities(theta), rtol=1e-12)
    v = rng.normal(size=theta.size)
    np.testing.assert_allclose(obj.hessp(theta, v), ref.hessp(theta, v), rtol=1e-11,
                               atol=1e-13)
    obj.set_precision("float64")
    back = obj.loss_grad(theta)
    assert back[0] == pytest.approx(ref.loss(theta), rel=1e-12)
    np.testing.assert_allclose(back[1], ref.loss_grad(theta)[1], rtol=1e-11, atol=1e-13)
    with pytest.raises(ValueError, match="precision must be"):
        obj.set_precision("float16")
    for other in (SoftmaxObjective(X.astype(np.float64), y=y, n_classes=4, kernel="fast"),
                  SoftmaxObjective(X, y=y, n_classes=4, kernel="reference")):
        assert not other.can_mix_precision
        before = other.loss_grad(theta)
        other.set_precision("mixed")
        after = other.loss_grad(theta)
        assert after[0] == before[0]
        np.testing.assert_array_equal(after[1], before[1])


def test_float32_hessian_estimate_is_close_to_the_hessian():
    obj, *_ = make_problem(weights=True, n=300, d=6, K=3)
    theta = np.random.default_rng(8).normal(size=obj.n_params)
    H = obj.hessian(theta)
    H32 = obj.hessian(theta, dtype=np.float32)
    assert H32.dtype == np.float64
    np.testing.assert_allclose(H32, H, rtol=0, atol=1e-5 * np.abs(H).max())
    assert np.max(np.abs(H32 - H)) > 0  # computed in float32 indeed
    np.testing.assert_allclose(H32, H32.T, rtol=0, atol=1e-5 * np.abs(H).max())


def test_minibatch_passes_count_rows_of_a_subsample():
    obj, *_ = make_problem(n=40)
    obj.minibatch(np.arange(10))  # one read of 10 rows
    obj.minibatch_passes(7, 10)  # a fit on them: 7 passes over the 10 rows
    assert obj.n_passes == 2  # 80 rows = two passes over the 40
