"""The fused kernels against the NumPy reference objective, and the preconditioner.

Every quantity the solvers use (loss, gradient, probabilities, Hessian-vector products)
must be the same on both paths, for every input the fast path accepts.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from softreg import SoftmaxRegression
from softreg._kernel_tiles import exp_shifted_sum
from softreg._kernels import _class_tile, _residuals, available, supports
from softreg._objective import SoftmaxObjective, resolve_kernel
from softreg.penalties import Penalty
from softreg.solvers import Penalised
from softreg.solvers._precondition import FeaturePreconditioner, feature_preconditioner
from softreg.solvers.newton import conjugate_gradient

pytestmark = pytest.mark.skipif(not available(), reason="numba is not installed")


def _problem(n=3001, d=17, K=5, seed=0, dtype=np.float64, sparse=False, soft=False,
             weights=False, order="C"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    if sparse:
        X[rng.random(X.shape) < 0.8] = 0
        X = sp.csr_matrix(X, dtype=dtype)
    else:
        X = np.asarray(X, dtype=dtype, order=order)
    kw = {}
    if soft:
        Y = rng.dirichlet(np.ones(K), size=n)
        kw["Y"] = Y
    else:
        kw["y"] = rng.integers(0, K, n)
        kw["n_classes"] = K
    if weights:
        s = rng.exponential(size=n)
        s[rng.random(n) < 0.1] = 0
        kw["sample_weight"] = s
    return X, kw


def _pair(X, kw, **extra):
    fast = SoftmaxObjective(X, kernel="fast", **kw, **extra)
    ref = SoftmaxObjective(X, kernel="reference", **kw, **extra)
    return fast, ref


CASES = [
    dict(),
    dict(order="F"),
    dict(order="F", dtype=np.float32, soft=True, weights=True),
    dict(order="F", n=300),  # a chunk of fewer rows than one block
    dict(dtype=np.float32),
    dict(soft=True),
    dict(weights=True),
    dict(soft=True, weights=True),
    dict(n=7, d=3, K=2),  # fewer rows than a register block: only the tail loop runs
    dict(K=7),  # class tiles of 4, one padding class
    dict(K=13, d=9, order="F", soft=True),  # tiles of 5; a leftover class in the F gradient
    dict(n=9001, K=10, order="F"),  # two threads' chunks, each ending in a partial block
    dict(n=9001, K=2, dtype=np.float32, weights=True),  # two chunks, two padding classes
    # the explicit-SIMD tiles' tails: d not a multiple of the vector, K of the lanes or tile
    dict(d=1, K=2, weights=True),
    dict(d=1, K=3, order="F"),
    dict(d=7, K=3, soft=True, weights=True),
    dict(d=7, K=13, dtype=np.float32, order="F"),
    dict(d=101, K=13, weights=True),
    dict(d=101, K=2, dtype=np.float32, soft=True),
    dict(d=101, K=13, order="F", weights=True),
    dict(n=300, d=33, K=100),  # gradient tiles of 5 classes, a partial row tile
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}" for k in c) or "dense")
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loss_gradient_probabilities_and_hessp_match_reference(case, fit_intercept):
    X, kw = _problem(**case)
    fast, ref = _pair(X, kw, fit_intercept=fit_intercept)
    rng = np.random.default_rng(1)
    theta = rng.normal(size=fast.n_params)
    rtol = 1e-12  # both compute in float64 (float32 data is widened block by block)
    lf, gf = fast.loss_grad(theta)
    lr, gr = ref.loss_grad(theta)
    assert lf == pytest.approx(lr, rel=rtol)
    np.testing.assert_allclose(gf, gr, rtol=rtol, atol=rtol * np.abs(gr).max())
    np.testing.assert_allclose(fast.probabilities(theta), ref.probabilities(theta),
                               rtol=rtol, atol=1e-15)
    v = rng.normal(size=fast.n_params)
    hf = fast.loss_grad_hessp(theta)[2](v)
    hr = ref.loss_grad_hessp(theta)[2](v)
    np.testing.assert_allclose(hf, hr, rtol=rtol, atol=rtol * np.abs(hr).max())


def test_vectorised_exp_matches_numpy():
    rng = np.random.default_rng(4)
    x = np.concatenate([-np.abs(rng.normal(scale=s, size=4000)) for s in (1e-3, 1, 30, 300)])
    x = np.concatenate([x, [0.0, -0.0, -1e-300, -708.0, -707.9, -709.0, -1e4]])
    want = np.exp(np.maximum(x, -708.0))  # below -708 it returns exp(-708), not 0
    got, total = np.empty_like(x), np.zeros_like(x)
    exp_shifted_sum(x, np.zeros_like(x), got, total, x.size)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(total, got)
    part, total = np.full_like(x, -1.0), np.full_like(x, 0.5)  # only the first m entries
    exp_shifted_sum(x, np.zeros_like(x), part, total, 10)
    assert np.all(part[10:] == -1.0) and np.all(total[10:] == 0.5)


def _softmax_rows(Zb):
    e = np.exp(Zb - Zb.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize(("K", "m", "B"), [(2, 1, 128), (3, 7, 128), (10, 128, 128),
                                           (10, 77, 128), (13, 255, 256), (100, 33, 64)])
def test_softmax_step_of_one_block_matches_numpy(K, m, B, soft):
    """_residuals alone: loss, R = sw (p - y), the intercept's row sums, P, on one block
    (odd sizes, weights with zeros, labels in the first and last class, soft targets);
    R's padding rows and the lanes past m are left alone."""
    rng = np.random.default_rng(K + m)
    n, i0 = m + 50, 20
    Z = np.full((K + 3, B), 7.0)
    Z[:K, :m] = rng.normal(scale=5, size=(K, m))
    Z[:K, 0] += 900.0  # huge logits: the shift by the row's max keeps them finite
    codes = rng.integers(0, K, n).astype(np.intp)
    codes[i0] = 0
    codes[i0 + m - 1] = K - 1
    Y = rng.dirichlet(np.ones(K), size=n) if soft else np.zeros((0, K))
    sw = rng.exponential(size=n) / n
    sw[rng.random(n) < 0.2] = 0.0
    P = np.full((n, K), -1.0)
    R = np.full((K + 3, B), -2.0)
    gb0 = rng.normal(size=K)
    gb = gb0.copy()
    aux, bits = np.zeros((4, B)), np.zeros(B, np.int64)
    loss = _residuals(Z, m, K, i0, codes, Y, soft, sw, P, True, False, R, aux, bits, gb)

    Zb = Z[:K, :m].T
    p = _softmax_rows(Zb)
    T = Y[i0:i0 + m] if soft else np.eye(K)[codes[i0:i0 + m]]
    w = sw[i0:i0 + m]
    lse = Zb.max(axis=1) + np.log(np.exp(Zb - Zb.max(axis=1, keepdims=True)).sum(axis=1))
    want_loss = np.dot(w, lse - (T * Zb).sum(axis=1))
    want_R = (w[:, None] * (p - T)).T
    assert loss == pytest.approx(want_loss, rel=1e-13)
    np.testing.assert_allclose(R[:K, :m], want_R, rtol=1e-13, atol=1e-16 * np.abs(w).max())
    np.testing.assert_allclose(gb, gb0 + want_R.sum(axis=1), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(P[i0:i0 + m], p, rtol=1e-13, atol=1e-300)
    assert np.all(R[K:] == -2.0) and np.all(R[:, m:] == -2.0)
    assert np.all(P[:i0] == -1.0) and np.all(P[i0 + m:] == -1.0)

    # the Hessian's residual at the probabilities P just written, for a direction's logits
    V = np.full((K + 3, B), 3.0)
    V[:K, :m] = rng.normal(size=(K, m))
    R[:] = -2.0
    gb = gb0.copy()
    assert _residuals(V, m, K, i0, codes, Y, soft, sw, P, False, True, R, aux, bits,
                      gb) == 0.0
    Vb = V[:K, :m].T
    want_H = (w[:, None] * p * (Vb - (p * Vb).sum(axis=1, keepdims=True))).T
    np.testing.assert_allclose(R[:K, :m], want_H, rtol=1e-12,
                               atol=1e-15 * np.abs(want_H).max())
    np.testing.assert_allclose(gb, gb0 + want_H.sum(axis=1), rtol=1e-12, atol=1e-15)
    assert np.all(R[K:] == -2.0) and np.all(R[:, m:] == -2.0)


@pytest.mark.parametrize(("K", "tile"), [(2, 4), (3, 4), (4, 4), (5, 5), (9, 5), (10, 5),
                                         (12, 4), (20, 4), (24, 4), (99, 4), (100, 4)])
def test_class_tile_pads_least(K, tile):
    assert _class_tile(K) == tile


def test_gradient_and_hessp_match_finite_differences():
    X, kw = _problem(n=4000, d=6, K=4, weights=True)
    obj = SoftmaxObjective(X, kernel="fast", **kw)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=obj.n_params)
    v = rng.normal(size=obj.n_params)
    eps = 1e-6
    fd = (obj.loss(theta + eps * v) - obj.loss(theta - eps * v)) / (2 * eps)
    assert obj.loss_grad(theta)[1] @ v == pytest.approx(fd, rel=1e-7)
    g_plus, g_minus = obj.loss_grad(theta + eps * v)[1], obj.loss_grad(theta - eps * v)[1]
    Hv = obj.loss_grad_hessp(theta)[2](v)
    np.testing.assert_allclose(Hv, (g_plus - g_minus) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_float32_reference_path_widens_block_by_block_to_the_same_numbers():
    X, kw = _problem(n=3001, d=17, dtype=np.float32, order="F")
    whole = SoftmaxObjective(X, kernel="reference", **kw)
    blocked = SoftmaxObjective(X, kernel="reference", **kw)
    blocked._row_blocks = lambda: SoftmaxObjective._row_blocks(blocked, block_entries=500)
    assert len(blocked._row_blocks()) > 50
    theta = np.random.default_rng(9).normal(size=whole.n_params)
    (lw, gw), (lb, gb) = whole.loss_grad(theta), blocked.loss_grad(theta)
    assert lb == pytest.approx(lw, rel=1e-13)
    np.testing.assert_allclose(gb, gw, rtol=1e-11, atol=1e-14)


def test_huge_logits_do_not_overflow():
    X, kw = _problem(n=2000, d=4, K=3)
    fast, ref = _pair(X, kw)
    theta = np.full(fast.n_params, 400.0)  # logits of several thousand
    theta[::3] = -900.0
    lf, gf = fast.loss_grad(theta)
    lr, gr = ref.loss_grad(theta)
    assert np.isfinite(lf) and np.all(np.isfinite(gf))
    assert lf == pytest.approx(lr, rel=1e-12)
    np.testing.assert_allclose(gf, gr, rtol=1e-10, atol=1e-10)


def test_other_threads_get_the_serial_kernel_with_the_same_result():
    X, kw = _problem(n=20000, d=8, K=3)
    obj = SoftmaxObjective(X, kernel="fast", **kw)
    theta = np.random.default_rng(3).normal(size=obj.n_params)
    main = obj.loss_grad(theta)
    got = {}

    def work(i):
        other = SoftmaxObjective(X, kernel="fast", **kw)
        got[i] = other.loss_grad(theta)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for loss, grad in got.values():
        assert loss == pytest.approx(main[0], rel=1e-13)
        np.testing.assert_allclose(grad, main[1], rtol=1e-11, atol=1e-14)


def test_kernel_choice():
    X, _ = _problem(n=5000, d=10)
    assert supports(X) and resolve_kernel("auto", X) == "fast"
    assert resolve_kernel("auto", X[:10]) == "reference"  # tiny: not worth a kernel
    F = np.asfortranarray(X)
    assert supports(F) and resolve_kernel("auto", F) == "fast"
    strided = X[:, ::2]  # neither C- nor F-contiguous: the NumPy path reads it as it is
    assert not supports(strided) and resolve_kernel("auto", strided) == "reference"
    with pytest.raises(ValueError, match="contiguous"):
        resolve_kernel("fast", strided)
    assert not supports(sp.csr_matrix(X)) and resolve_kernel("auto", sp.csr_matrix(X)) == \
        "reference"
    with pytest.raises(ValueError, match="kernel must be one of"):
        resolve_kernel("gpu", X)


@pytest.mark.parametrize("layout", ["C", "F", "csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fits_agree_across_layouts_and_with_sklearn(layout, dtype):
    """Every layout (fast or reference path) reaches scikit-learn's optimum, no copy of X."""
    rng = np.random.default_rng(4)
    n, d, K = 6000, 30, 4
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 0.3  # correlated features
    y = np.argmax(X[:, :K] + rng.gumbel(size=(n, K)), axis=1)
    alpha = 1e-3
    ref = LogisticRegression(C=1 / (alpha * n), tol=1e-12, max_iter=10_000).fit(X, y)
    Xl = {"C": np.ascontiguousarray(X, dtype), "F": np.asfortranarray(X, dtype),
          "csr": sp.csr_matrix(X, dtype=dtype), "csc": sp.csc_matrix(X, dtype=dtype)}[layout]
    tol = 1e-9 if dtype == np.float64 else 1e-6
    model = SoftmaxRegression(alpha=alpha, tol=tol).fit(Xl, y)
    assert model.coef_.dtype == dtype
    atol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(model.predict_proba(X.astype(dtype)), ref.predict_proba(X),
                               atol=atol)


def test_preconditioner_round_trips_and_whitens():
    X, kw = _problem(n=5000, d=12, K=4)
    obj = Penalised(SoftmaxObjective(X, kernel="fast", **kw), Penalty(alpha=1e-3))
    pre = feature_preconditioner(obj.datafit, obj.penalty)
    assert not pre.diagonal
    rng = np.random.default_rng(5)
    theta = rng.normal(size=obj.n_params)
    np.testing.assert_allclose(pre.to_params(pre.from_params(theta)), theta, rtol=1e-10)
    # chain rule: d/du J(L^-T u) . w equals the directional derivative along L^-T w
    w = rng.normal(size=obj.n_params)
    g = obj.loss_grad(theta)[1]
    assert pre.grad_to_u(g) @ w == pytest.approx(g @ pre.to_params(w), rel=1e-10)
    # at theta = 0, on the centred (class-sum free) directions where the data acts, the
    # whitened Hessian is close to the identity: its condition number is far below the
    # raw Hessian's (the features' scales differ by up to 30x)
    zero = obj.zeros()
    _, _, hessp = obj.loss_grad_hessp(zero)
    K = obj.datafit.n_classes
    m = obj.n_params // K
    centred = np.linalg.svd(np.eye(K) - 1 / K)[0][:, : K - 1]  # (K, K-1), orthonormal
    B = np.kron(np.eye(m), centred)  # (m K, m (K-1))
    H = np.column_stack([hessp(e) for e in B.T])
    Hu = np.column_stack([pre.grad_to_u(hessp(pre.to_params(e))) for e in B.T])
    ev, evu = np.linalg.eigvalsh(B.T @ H), np.linalg.eigvalsh(B.T @ Hu)
    assert evu.max() / evu.min() < 2
    assert ev.max() / ev.min() > 50


def test_diagonal_preconditioner_for_sparse_wide_data():
    X, kw = _problem(n=3000, d=20, K=3, sparse=True)
    moments = SoftmaxObjective(X, **kw).feature_moments(dense=False)
    dense = SoftmaxObjective(X, **kw).feature_moments(dense=True)
    np.testing.assert_allclose(moments, np.diag(dense), rtol=1e-12)
    # reading X in many small blocks sums to the same moments
    small = SoftmaxObjective(X, **kw).feature_moments(dense=True, block_entries=200)
    np.testing.assert_allclose(small, dense, rtol=1e-12, atol=1e-15)
    Xd = X.toarray()
    np.testing.assert_allclose(dense[:20, :20], Xd.T @ Xd / 3000, rtol=1e-12)
    np.testing.assert_allclose(dense[:20, 20], Xd.mean(axis=0), rtol=1e-12, atol=1e-15)
    pre = FeaturePreconditioner(moments, 3, 0.0, True)
    theta = np.random.default_rng(6).normal(size=21 * 3)
    np.testing.assert_allclose(pre.inverse(pre.from_params(pre.from_params(theta))), theta,
                               rtol=1e-10)


def test_preconditioned_cg_solves_faster():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(40, 40))
    D = np.diag(np.logspace(0, 5, 40))
    H = A @ A.T / 40 + D
    b = rng.normal(size=40)
    count = {"plain": 0, "jacobi": 0}

    def hessp(kind):
        def f(v):
            count[kind] += 1
            return H @ v
        return f

    x1 = conjugate_gradient(hessp("plain"), b, rtol=1e-10, max_iter=500)
    x2 = conjugate_gradient(hessp("jacobi"), b, rtol=1e-10, max_iter=500,
                            precondition=lambda v: v / np.diag(H))
    np.testing.assert_allclose(H @ x2, b, rtol=1e-8, atol=1e-8 * np.abs(b).max())
    np.testing.assert_allclose(x1, x2, rtol=1e-6, atol=1e-10)
    assert count["jacobi"] < count["plain"]


def test_fit_reads_x_in_place():
    """No copy of C- or F-contiguous X: fit's objective holds the caller's array."""
    rng = np.random.default_rng(8)
    for X in (rng.normal(size=(3000, 20)), np.asfortranarray(rng.normal(size=(3000, 20))),
              rng.normal(size=(3000, 20)).astype(np.float32)):
        y = rng.integers(0, 3, 3000)
        model = SoftmaxRegression()
        seen = []
        original = model._solve

        def spy(objective, X_for_advice, _orig=original, _seen=seen):
            _seen.append(objective.X)
            return _orig(objective, X_for_advice)

        model._solve = spy
        model.fit(X, y)
        assert np.shares_memory(seen[0], X)


# -- mixed precision (float32 products): a separate mode with its own, tested error bound ---

MIXED_CASES = [
    dict(dtype=np.float32),
    dict(dtype=np.float32, order="F", soft=True, weights=True),
    dict(dtype=np.float32, n=9001, K=10),  # tiles of 5, two chunks
    dict(dtype=np.float32, K=7, order="F"),  # a leftover class in the F gradient
    dict(dtype=np.float32, n=7, d=3, K=2),  # fewer rows than a tile
    dict(),  # float64 X: staged into float32 panels
    dict(order="F", weights=True),
    dict(dtype=np.float32, d=1, K=2, weights=True),
    dict(dtype=np.float32, d=7, K=3, soft=True),
    dict(dtype=np.float32, d=101, K=13, weights=True),
    dict(dtype=np.float32, d=101, K=13, order="F"),
    dict(dtype=np.float32, n=9001, d=33, K=100),
    dict(d=101, K=3, weights=True),  # float64 X, staged into float32 panels
]


def _mixed_bound(X, sw, theta, d, K):
    """Error bound of the mixed pass: float32 rounding (2^-24) of the products and of R.

    Per row the logits' error is at most about sqrt(d) * 2^-24 * sum_j |x_j w_j|; that and
    R's own rounding move the gradient by at most sum_i sw_i |x_ij| times it. Returned:
    (loss bound, gradient bound); a factor 10 over the estimate, far below what a wrong
    product (an error of order |grad|) gives.
    """
    X64 = np.asarray(X, np.float64)
    W = theta[: d * K].reshape(d, K)
    zscale = (np.abs(X64) @ np.abs(W)).max(axis=1) + 1.0  # (n,)
    eps = 2.0 ** -24 * np.sqrt(d) * 10
    loss_bound = eps * np.dot(sw, zscale)
    grad_bound = eps * np.max((np.abs(X64).T * sw) @ zscale) + eps
    return loss_bound, grad_bound


@pytest.mark.parametrize("case", MIXED_CASES, ids=lambda c: ",".join(f"{k}" for k in c) or "f64")
def test_mixed_precision_pass_is_within_its_float32_bound(case):
    from softreg._kernels import fused_pass
    X, kw = _problem(**case)
    fast, ref = _pair(X, kw)
    K = fast.n_classes
    d = fast.n_features
    theta = np.random.default_rng(11).normal(scale=0.3, size=fast.n_params)
    W, b = fast.unpack(theta)
    lr, gr = ref.loss_grad(theta)
    lm, gWm, gbm = fused_pass(X, W, b, codes=fast.y, Y=fast.Y, sw=fast.sw, mixed=True)
    loss_bound, grad_bound = _mixed_bound(X, fast.sw, theta, d, K)
    gm = fast._pack_parts(gWm, gbm)
    err = np.max(np.abs(gm - gr))
    assert abs(lm - lr) <= loss_bound
    assert err <= grad_bound
    # and it is float32's error, not float64's: the modes really differ (except tiny X)
    if X.shape[0] > 100:
        assert err > 1e-13 * np.max(np.abs(gr))


def test_mixed_precision_leaves_hessian_products_and_probabilities_in_float64():
    from softreg._kernels import fused_pass
    X, kw = _problem(dtype=np.float32)
    fast, ref = _pair(X, kw)
    theta = np.random.default_rng(12).normal(size=fast.n_params)
    W, b = fast.unpack(theta)
    P = np.empty((X.shape[0], fast.n_classes))
    # want_P runs in float64 whatever ``mixed`` says
    loss, _, _ = fused_pass(X, W, b, codes=fast.y, sw=fast.sw, P=P, want_P=True, mixed=True)
    assert loss == pytest.approx(ref.loss(theta), rel=1e-12)
    v = np.random.default_rng(13).normal(size=fast.n_params)
    V, c = fast.unpack(v)
    _, hV, hc = fused_pass(X, V, c, sw=fast.sw, P=P, hessian=True, mixed=True)
    hr = ref.hessp(theta, v)
    np.testing.assert_allclose(fast._pack_parts(hV, hc), hr, rtol=1e-12,
                               atol=1e-12 * np.abs(hr).max())
