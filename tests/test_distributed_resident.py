"""Passes over persisted partitions (softreg.distributed._resident and ._blocks).

Persisted data is summed by one call per worker (a group of partitions per worker thread)
instead of a task per partition; the reference for every number is the in-memory
SoftmaxObjective (itself checked against finite differences and scikit-learn). Robust on
a loaded machine: nothing waits against a clock; the test that kills a worker has a
cluster of its own and closes it without waiting for the replacement.
"""

import gc
import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.xdist_group("dask_cluster_resident")

import dask  # noqa: E402

from _dask import local_cluster, weighted_problem  # noqa: E402
from softreg import SoftmaxRegression  # noqa: E402
from softreg._objective import SoftmaxObjective  # noqa: E402
from softreg.distributed import DaskObjective, as_dask_data  # noqa: E402
from softreg.distributed import _blocks as blocks  # noqa: E402
from softreg.distributed._blocks import _cached_block, _Spec  # noqa: E402

RTOL = 1e-12


def cluster(n_workers=2, threads=2):
    return local_cluster(n_workers=n_workers, threads=threads)


@pytest.fixture(scope="module")
def client():
    """Two worker processes with two threads each (two groups per worker)."""
    with cluster() as c:
        yield c


def make_data(n=1000, d=6, K=3, seed=0):
    return weighted_problem(n=n, d=d, K=K, seed=seed)


def assert_same_pieces(dist, mem, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=mem.n_params) * 0.3
    v = rng.normal(size=mem.n_params)
    loss, grad = dist.loss_grad(theta)
    assert loss == pytest.approx(mem.loss(theta), rel=RTOL)
    np.testing.assert_allclose(grad, mem.loss_grad(theta)[1], rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(dist.hessp(theta, v), mem.hessp(theta, v), rtol=RTOL,
                               atol=1e-15)
    np.testing.assert_allclose(dist.hessian(theta), mem.hessian(theta), rtol=1e-11,
                               atol=1e-15)
    np.testing.assert_allclose(dist.feature_moments(dense=True),
                               mem.feature_moments(dense=True), rtol=RTOL, atol=1e-15)


def covers_every_partition_once(resident, n_parts):
    seen = sorted(i for _, idx in resident.groups for i in idx)
    return seen == list(range(n_parts))


# -- the direct path ------------------------------------------------------------------------------
@pytest.mark.parametrize("chunks", [250, (100, 0, 300, 50, 550)])  # with an empty partition
def test_persisted_arrays_are_summed_by_worker_calls_as_in_memory(client, chunks):
    X, codes, s = make_data()
    Xd, yd, sd = client.persist([da.from_array(X, chunks=(chunks, 6)),
                                 da.from_array(codes, chunks=chunks),
                                 da.from_array(s, chunks=chunks)])
    dist = DaskObjective(as_dask_data(Xd, yd, sd))
    resident = dist._resident
    assert resident is not None and resident.direct_plan is not None
    n_parts = Xd.numblocks[0]
    assert covers_every_partition_once(resident, n_parts)
    threads = client.nthreads()
    for where in resident.direct_plan:  # at most one group per worker thread
        assert len(resident.direct_plan[where]) <= threads[where]
    # groups are runs of their worker's partitions in order
    for _, idx in resident.groups:
        assert idx == sorted(idx)
    mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
    assert_same_pieces(dist, mem)
    assert resident.failures == 0 and resident._count == 0  # no pass ran as tasks
    assert dist.n_passes == 1 + 1 + 1 + 1


def test_pieces_on_different_workers_are_brought_together_once(client):
    """X on one worker, y and the weights on another: each partition's pieces are joined
    once under one key; every pass then runs straight on the workers (Dask's memory
    manager may drop copies of the pieces between passes: the joined key stays)."""
    X, codes, s = make_data(n=900, seed=16)
    w0, w1 = sorted(client.nthreads())
    Xd = client.persist(da.from_array(X, chunks=(300, 6)), workers=[w0])
    yd, sd = client.persist([da.from_array(codes, chunks=300), da.from_array(s, chunks=300)],
                            workers=[w1])
    dist = DaskObjective(as_dask_data(Xd, yd, sd))
    resident = dist._resident
    assert all(len(row) == 1 for row in resident.futures)  # one key per partition
    assert resident.direct_plan is not None
    mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
    for seed in range(3):
        assert_same_pieces(dist, mem, seed=seed)
    assert resident.failures == 0 and resident._count == 0


def test_tasks_path_gives_the_same_numbers(client):
    X, codes, s = make_data(seed=1)
    Xd, yd = client.persist([da.from_array(X, chunks=(300, 6)),
                             da.from_array(codes, chunks=300)])
    dist = DaskObjective(as_dask_data(Xd, yd))
    dist._resident.direct = False
    assert_same_pieces(dist, SoftmaxObjective(X, y=codes, n_classes=3))
    assert dist._resident._count == 4  # one tasks pass per evaluation


def test_soft_targets_and_class_weights(client):
    X, _, s = make_data(n=600, seed=2)
    Y = np.random.default_rng(3).dirichlet(np.ones(3), size=600)
    Xd, Yd, sd = client.persist([da.from_array(X, chunks=(150, 6)),
                                 da.from_array(Y, chunks=(150, 3)),
                                 da.from_array(s, chunks=150)])
    cw = {0: 2.0, 2: 0.5}
    dist = DaskObjective(as_dask_data(Xd, Yd, sd), class_weight=cw)
    assert dist._resident is not None
    Yw = Y * np.array([2.0, 1.0, 0.5])
    mem = SoftmaxObjective(X, Y=Yw / Yw.sum(axis=1, keepdims=True),
                           sample_weight=s * Yw.sum(axis=1), n_classes=3)
    assert_same_pieces(dist, mem)


def test_fits_on_persisted_data_equal_in_memory(client):
    """L-BFGS and the proximal gradient (elastic net) on persisted data reach the
    in-memory optimum."""
    X, codes, _ = make_data(n=900, seed=4)
    Xd, yd = client.persist([da.from_array(X, chunks=(200, 6)),
                             da.from_array(codes, chunks=200)])
    for params in (dict(alpha=1e-3, solver="lbfgs"),
                   dict(alpha=1e-2, l1_ratio=0.5, solver="prox_grad", tol=1e-10,
                        max_iter=5000)):
        ref = SoftmaxRegression(**params).fit(X, codes)
        model = SoftmaxRegression(**params).fit(Xd, yd)
        assert model.solver_ == ref.solver_
        np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-6,
                                   rtol=0)
        np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)


# -- dask DataFrames ------------------------------------------------------------------------------
def frame_data(n=800, seed=11):
    X, codes, s = make_data(n=n, seed=seed)
    features = [f"x{j}" for j in range(X.shape[1])]
    df = pd.DataFrame(X, columns=features).assign(
        label=np.array(["cat", "dog", "emu"])[codes], w=s)
    return df, features, X, codes, s


def test_columns_of_one_persisted_frame_are_read_in_place(client):
    """X, y and weights selected from one persisted frame: its own partitions, no join."""
    df, features, X, codes, s = frame_data()
    ddf = client.persist(dd.from_pandas(df, npartitions=5, sort=False))
    for Xd in (ddf[features], ddf.drop(columns=["label", "w"])):
        data = as_dask_data(Xd, ddf["label"], ddf["w"])
        assert data.layout == (tuple(features), ("label",), "w")
        dist = DaskObjective(data)
        assert dist._resident is not None and dist._resident.direct_plan is not None
        np.testing.assert_array_equal(dist.classes, ["cat", "dog", "emu"])
        assert_same_pieces(dist, SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3))
        assert dist._resident._count == 0
    ref = SoftmaxRegression(alpha=1e-3).fit(df[features], df["label"], sample_weight=s)
    model = SoftmaxRegression(alpha=1e-3).fit(ddf[features], ddf["label"],
                                              sample_weight=ddf["w"])
    np.testing.assert_allclose(model.predict_proba(df[features]),
                               ref.predict_proba(df[features]), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(model.feature_names_in_, features)


def test_soft_target_columns_of_a_persisted_frame(client):
    X, _, _ = make_data(n=500, seed=12)
    Y = np.random.default_rng(13).dirichlet(np.ones(3), size=500)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(6)]).join(
        pd.DataFrame(Y, columns=["lo", "mid", "hi"]))
    ddf = client.persist(dd.from_pandas(df, npartitions=4, sort=False))
    dist = DaskObjective(as_dask_data(ddf[[f"x{j}" for j in range(6)]],
                                      ddf[["lo", "mid", "hi"]]))
    assert dist._resident is not None and dist.data.layout[1] == ("lo", "mid", "hi")
    assert_same_pieces(dist, SoftmaxObjective(X, Y=Y, n_classes=3))


def test_frames_persisted_one_by_one_with_the_same_divisions(client):
    df, features, X, codes, s = frame_data(seed=14)
    ddf = dd.from_pandas(df, npartitions=4)  # sorted index: known divisions
    Xd, yd, sd = client.persist([ddf[features], ddf["label"], ddf["w"]])
    data = as_dask_data(Xd, yd, sd)
    assert data.layout is None and len(data.X) == 4
    dist = DaskObjective(data)
    assert dist._resident is not None
    assert_same_pieces(dist, SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3))


def test_frames_not_in_memory_are_joined(client):
    df, features, X, codes, s = frame_data(seed=15)
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    data = as_dask_data(ddf[features], ddf["label"], ddf["w"])
    assert data.layout == (tuple(features), ("__softreg_y0",), "__softreg_sample_weight")
    dist = DaskObjective(data)
    assert dist._resident is None
    mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
    theta = np.random.default_rng(0).normal(size=mem.n_params)
    np.testing.assert_allclose(dist.loss_grad(theta)[1], mem.loss_grad(theta)[1], rtol=RTOL,
                               atol=1e-15)


def test_data_not_in_memory_keeps_a_task_per_partition(client):
    X, codes, _ = make_data(n=300, seed=5)
    lazy = DaskObjective(as_dask_data(da.from_array(X, chunks=100),
                                      da.from_array(codes, chunks=100)))
    assert lazy._resident is None
    # y lazy, X persisted: not every piece is in memory
    half = DaskObjective(as_dask_data(client.persist(da.from_array(X, chunks=100)),
                                      da.from_array(codes, chunks=100)))
    assert half._resident is None
    mem = SoftmaxObjective(X, y=codes, n_classes=3)
    theta = np.random.default_rng(0).normal(size=mem.n_params)
    for dist in (lazy, half):
        np.testing.assert_allclose(dist.loss_grad(theta)[1], mem.loss_grad(theta)[1],
                                   rtol=RTOL, atol=1e-15)


def test_local_scheduler_is_respected(client):
    """A dask.config scheduler set around a pass wins over the cluster's direct path."""
    X, codes, _ = make_data(n=300, seed=6)
    dist = DaskObjective(as_dask_data(*client.persist([da.from_array(X, chunks=(100, 6)),
                                                       da.from_array(codes, chunks=100)])))
    assert dist._resident is not None
    mem = SoftmaxObjective(X, y=codes, n_classes=3)
    theta = np.random.default_rng(1).normal(size=mem.n_params)
    from softreg.distributed._resident import distributed_client

    assert distributed_client() is client
    with dask.config.set(scheduler="synchronous"):
        assert distributed_client() is None
    np.testing.assert_allclose(dist.loss_grad(theta)[1], mem.loss_grad(theta)[1],
                               rtol=RTOL, atol=1e-15)


# -- faults ----------------------------------------------------------------------------------------
def test_worker_killed_between_passes_falls_back_to_tasks_once():
    with cluster(n_workers=2, threads=1) as c:
        X, codes, s = make_data(n=1200, seed=7)
        Xd, yd, sd = c.persist([da.from_array(X, chunks=(100, 6)),
                                da.from_array(codes, chunks=100),
                                da.from_array(s, chunks=100)])
        dist = DaskObjective(as_dask_data(Xd, yd, sd))
        resident = dist._resident
        assert len(resident.direct_plan) == 2  # data on both workers
        mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
        thetas = np.random.default_rng(8).normal(size=(3, mem.n_params))
        np.testing.assert_allclose(dist.loss_grad(thetas[0])[1], mem.loss_grad(thetas[0])[1],
                                   rtol=RTOL, atol=1e-15)
        victim = sorted(resident.direct_plan)[0]
        pid = c.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        for theta in thetas[1:]:  # the first pass after the kill runs as tasks
            loss, grad = dist.loss_grad(theta)
            assert loss == pytest.approx(mem.loss(theta), rel=RTOL)
            np.testing.assert_allclose(grad, mem.loss_grad(theta)[1], rtol=1e-11, atol=1e-15)
        assert resident.failures == 1 and resident._count == 1
        assert victim not in resident.direct_plan
        assert covers_every_partition_once(resident, 12)


# -- the worker-side cache of targets --------------------------------------------------------------
def spec(weight_sum, n_classes=3):
    return _Spec(n_classes, False, np.arange(n_classes), None, float(weight_sum), True,
                 np.dtype(np.float64), None)


def test_target_cache_is_bounded_per_partition_and_dies_with_it():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(50, 4))
    y = rng.integers(0, 3, size=50)
    before = len(blocks._TARGETS)
    mem = SoftmaxObjective(X, y=y, n_classes=3)
    theta = rng.normal(size=mem.n_params)
    for total in (50, 100, 200, 400, 800, 1600):  # six specs: at most MAX_SPECS kept
        objective, share = _cached_block(X, y, None, spec(total))
        assert share == pytest.approx(50 / total)
        np.testing.assert_allclose(objective.loss_grad(theta)[1], mem.loss_grad(theta)[1],
                                   rtol=RTOL)
    entries = blocks._TARGETS[id(X)][1]
    assert len(entries) == blocks.MAX_SPECS
    y2 = y.copy()  # new labels object for the same X: replaces, never adds
    _cached_block(X, y2, None, spec(50))
    assert len(blocks._TARGETS[id(X)][1]) == blocks.MAX_SPECS
    assert blocks._TARGETS[id(X)][1][0][1] is y2
    del X, entries, mem, objective  # the objectives hold X
    gc.collect()
    assert len(blocks._TARGETS) == before


def test_cached_targets_follow_the_labels_object():
    """Different labels for the same X are never served from the cache."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(40, 3))
    y1, y2 = rng.integers(0, 3, size=40), rng.integers(0, 3, size=40)
    theta = rng.normal(size=12)
    for y in (y1, y2, y1):
        objective, _ = _cached_block(X, y, None, spec(40))
        ref = SoftmaxObjective(X, y=y, n_classes=3)
        assert objective.loss(theta) == pytest.approx(ref.loss(theta), rel=RTOL)
