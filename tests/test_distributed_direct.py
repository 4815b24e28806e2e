"""One pass straight to the workers (softreg.distributed._direct) and a group's loss and
gradient by one kernel call (``_blocks._group_partial``, ``_kernels.fused_passes``).

The reference for every number is the in-memory SoftmaxObjective on its NumPy path
(``kernel="reference"``: no fused kernel involved). Robust on a loaded machine: nothing
waits against a clock; the event-loop path is forced by a threshold no pass can reach.
"""

import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from _dask import local_cluster, weighted_problem  # noqa: E402
from softreg import _kernels  # noqa: E402
from softreg._objective import SoftmaxObjective  # noqa: E402
from softreg.distributed import DaskObjective, _blocks, _direct, as_dask_data  # noqa: E402
from softreg.distributed._blocks import _group_partial, _Spec  # noqa: E402

pytestmark = pytest.mark.xdist_group("dask_cluster_direct")

RTOL = 1e-12

needs_kernels = pytest.mark.skipif(not _kernels.available(), reason="numba not installed")


def make_data(n=900, d=5, K=4, seed=0):
    return weighted_problem(n=n, d=d, K=K, seed=seed)


def reference(X, *, y=None, Y=None, s=None, K=4, fit_intercept=True):
    return SoftmaxObjective(np.ascontiguousarray(X, dtype=np.float64), y=y, Y=Y,
                            sample_weight=s, n_classes=K, fit_intercept=fit_intercept,
                            kernel="reference")


# -- fused_passes: the sum over row blocks ------------------------------------------------------
@needs_kernels
@pytest.mark.parametrize("layout", ["C", "F", "float32", "mixed orders"])
@pytest.mark.parametrize("soft", [False, True])
def test_fused_passes_sum_row_blocks_as_one_pass(layout, soft):
    X, codes, s = make_data(seed=1)
    rng = np.random.default_rng(2)
    Y = rng.dirichlet(np.ones(4), size=len(X)) if soft else None
    if layout == "float32":
        X = X.astype(np.float32)
    bounds = [0, 128, 129, 500, 900]  # uneven blocks, one of a single row
    parts = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        Xp = X[lo:hi]
        if layout == "F" or (layout == "mixed orders" and i % 2):
            Xp = np.asfortranarray(Xp)
        parts.append((np.ascontiguousarray(Xp) if Xp.flags.c_contiguous else Xp,
                      None if soft else codes[lo:hi], None if Y is None else Y[lo:hi],
                      s[lo:hi] / s.sum()))
    W = rng.normal(size=(5, 4))
    b = rng.normal(size=4)
    loss, gW, gb = _kernels.fused_passes(parts, W, b)
    ref = reference(X, y=None if soft else codes, Y=Y, s=s)
    ref_loss, ref_grad = ref.loss_grad(ref.pack(W, b))
    assert loss == pytest.approx(ref_loss, rel=RTOL)
    np.testing.assert_allclose(np.concatenate([gW.ravel(), gb]), ref_grad, rtol=RTOL,
                               atol=1e-15)


# -- a group's loss_grad by one kernel call -----------------------------------------------------
def spec_for(s_total, *, K=4, soft=False, cw=None, fit_intercept=True, dtype=np.float64):
    return _Spec(K, soft, None if soft else np.arange(K), cw, float(s_total), fit_intercept,
                 np.dtype(dtype), None)


@needs_kernels
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_group_loss_grad_equals_in_memory_with_empty_and_zero_weight_partitions(
        fit_intercept):
    X, codes, s = make_data(seed=3)
    s[300:400] = 0.0  # one partition of zero weight
    bounds = [0, 300, 300, 400, 650, 900]  # with an empty partition
    parts = [(X[lo:hi], codes[lo:hi], s[lo:hi])
             for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    spec = spec_for(s.sum(), fit_intercept=fit_intercept)
    ref = reference(X, y=codes, s=s, fit_intercept=fit_intercept)
    theta = np.random.default_rng(4).normal(size=ref.n_params)
    (loss, grad), _ = _group_partial(spec, "loss_grad", (theta,), parts)
    ref_loss, ref_grad = ref.loss_grad(theta)
    assert loss == pytest.approx(ref_loss, rel=RTOL)
    np.testing.assert_allclose(grad, ref_grad, rtol=RTOL, atol=1e-15)
    # the same numbers as the objective per partition (the path before)
    before = _blocks.FAST_GROUPS
    _blocks.FAST_GROUPS = False
    try:
        (loss0, grad0), _ = _group_partial(spec, "loss_grad", (theta,), parts)
    finally:
        _blocks.FAST_GROUPS = before
    assert loss == pytest.approx(loss0, rel=RTOL)
    np.testing.assert_allclose(grad, grad0, rtol=RTOL, atol=1e-15)


@needs_kernels
def test_group_loss_grad_with_soft_targets_class_weights_and_float32():
    X, _, s = make_data(n=600, seed=5)
    Y = np.random.default_rng(6).dirichlet(np.ones(4), size=600)
    cw = np.array([2.0, 1.0, 0.5, 1.5])
    Yw = Y * cw
    sw = s * Yw.sum(axis=1)
    X32 = X.astype(np.float32)
    parts = [(X32[i:i + 200], Y[i:i + 200], s[i:i + 200]) for i in range(0, 600, 200)]
    spec = spec_for(sw.sum(), soft=True, cw=cw, dtype=np.float32)
    ref = reference(X32, Y=Yw / Yw.sum(axis=1, keepdims=True), s=sw)
    theta = np.random.default_rng(7).normal(size=ref.n_params)
    for _ in range(2):  # the second pass takes the targets from the worker-side cache
        (loss, grad), _ = _group_partial(spec, "loss_grad", (theta,), parts)
        assert loss == pytest.approx(ref.loss(theta), rel=RTOL)
        np.testing.assert_allclose(grad, ref.loss_grad(theta)[1], rtol=RTOL, atol=1e-15)


def test_group_of_empty_partitions_adds_nothing():
    X, codes, s = make_data(n=10, seed=8)
    parts = [(X[:0], codes[:0], s[:0])]
    theta = np.zeros((5 + 1) * 4)
    assert _group_partial(spec_for(1.0), "loss_grad", (theta,), parts)[0] is None


# -- on a cluster ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    """Two worker processes with one thread each (one group per worker)."""
    with local_cluster(n_workers=2, threads=1) as c:
        yield c


def persisted(client, seed=0, n=900, chunks=150):
    X, codes, s = make_data(n=n, seed=seed)
    Xd, yd, sd = client.persist([da.from_array(X, chunks=(chunks, 5)),
                                 da.from_array(codes, chunks=chunks),
                                 da.from_array(s, chunks=chunks)])
    dist = DaskObjective(as_dask_data(Xd, yd, sd))
    assert dist._resident is not None and dist._resident.direct_plan is not None
    return dist, reference(X, y=codes, s=s)


def assert_same(dist, ref, theta):
    loss, grad = dist.loss_grad(theta)
    assert loss == pytest.approx(ref.loss(theta), rel=RTOL)
    np.testing.assert_allclose(grad, ref.loss_grad(theta)[1], rtol=RTOL, atol=1e-15)


def test_passes_from_this_thread_use_the_channel_and_other_threads_the_client_loop(client):
    dist, ref = persisted(client, seed=10)
    resident = dist._resident
    thetas = np.random.default_rng(11).normal(size=(3, ref.n_params))
    assert_same(dist, ref, thetas[0])
    channel = resident.channel
    assert channel is not None and channel.usable()
    assert sorted(channel.comms) == sorted(resident.direct_plan)  # one connection per worker
    errors = []

    def elsewhere():
        try:
            assert not channel.usable()
            assert_same(dist, ref, thetas[1])
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert not errors, errors
    assert resident.channel is channel and resident.failures == 0 and resident._count == 0
    channel.close()  # closed: later passes take the client's loop
    assert not channel.usable() and not channel.comms
    assert_same(dist, ref, thetas[2])
    assert resident.failures == 0 and resident._count == 0


def _record_loop_runs(dask_worker=None, on=True):
    """On a worker: record on which thread each group runs; every loss_grad group of one
    counts as short (so it runs on the event loop from its second pass on)."""
    original = _direct._timed_group
    if not on:
        _direct.INLINE_SECONDS = original.inline_seconds
        _direct._timed_group = original.original
        return None
    runs = []

    def timed_group(*args):
        runs.append(threading.current_thread() is threading.main_thread())
        return original(*args)

    timed_group.original = original
    timed_group.runs = runs
    timed_group.inline_seconds = _direct.INLINE_SECONDS
    _direct._timed_group = timed_group
    _direct.INLINE_SECONDS = float("inf")
    return None


def _loop_runs(dask_worker=None):
    return list(_direct._timed_group.runs)


def test_a_short_single_group_runs_on_the_worker_event_loop(client):
    dist, ref = persisted(client, seed=12)
    client.run(_record_loop_runs)
    try:
        for theta in np.random.default_rng(13).normal(size=(3, ref.n_params)):
            assert_same(dist, ref, theta)
        runs = client.run(_loop_runs)
    finally:
        client.run(_record_loop_runs, on=False)
    for where in dist._resident.direct_plan:
        # first pass in the thread pool (no time known yet), then on the loop (the main
        # thread of the worker process)
        assert runs[where] == [False, True, True]
    assert dist._resident._count == 0


def _drop_handler(dask_worker=None):
    dask_worker.handlers.pop(_direct.HANDLER, None)


def test_a_worker_without_the_handler_runs_one_pass_as_tasks_then_gets_it_again(client):
    dist, ref = persisted(client, seed=14)
    resident = dist._resident
    thetas = np.random.default_rng(15).normal(size=(3, ref.n_params))
    assert_same(dist, ref, thetas[0])
    client.run(_drop_handler)  # as a worker restarted at the same address would be
    assert_same(dist, ref, thetas[1])
    assert resident.failures == 1 and resident._count == 1
    assert resident.direct_plan is not None  # planned again: the handler installed again
    assert_same(dist, ref, thetas[2])
    assert resident.failures == 1 and resident._count == 1  # straight to the workers again
