"""SoftmaxRegression on Dask: the same optimum as in memory, on a real two-process cluster.

The reference for every fit is the in-memory estimator (itself checked against scikit-learn
and finite differences); the objective pieces are compared to SoftmaxObjective and to
finite differences directly.

Robust on a loaded machine: the tests that kill workers get a cluster of their own and
close it afterwards, so no test waits (against a clock) for a killed worker to come back,
and the shared cluster never loses one. Nothing here has a fixed wait that load can exceed.
"""

import os
import signal

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

# one LocalCluster for the whole module: keep its tests on one xdist worker
pytestmark = pytest.mark.xdist_group("dask_cluster")

import dask  # noqa: E402

from _dask import local_cluster  # noqa: E402
from softreg import SoftmaxRegression  # noqa: E402
from softreg._objective import SoftmaxObjective  # noqa: E402
from softreg._protocol import Datafit, missing_methods  # noqa: E402
from softreg.distributed import DaskObjective, as_dask_data, fit_files  # noqa: E402
from softreg.distributed._resident import distributed_client  # noqa: E402

PROBA_TOL = 1e-6


def two_worker_cluster():
    """A Client of a fresh LocalCluster with two single-thread worker processes."""
    return local_cluster(n_workers=2, threads=1)


@pytest.fixture(scope="module")
def client():
    """The module's cluster, for every test that leaves its workers alive."""
    with two_worker_cluster() as c:
        yield c


@pytest.fixture
def own_client():
    """A cluster for one test that kills workers: it is closed, not waited on, afterwards."""
    with two_worker_cluster() as c:
        yield c


def test_the_test_workers_never_pause(client):
    """A paused worker runs no task and the test waits forever: the workers here hold the
    compiled kernels (450-500 MiB after a cold numba cache), which crossed the pause
    threshold of a 600 MB limit. The test clusters are made without pausing and with room."""
    settings = client.run(lambda dask_worker: (dask_worker.memory_manager.memory_pause_fraction,
                                               dask_worker.memory_manager.memory_limit))
    assert len(settings) == 2
    for pause, limit in settings.values():
        assert pause is False
        assert limit >= 2 * 1024 ** 3


def make_data(n=1200, d=5, K=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, K))
    codes = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, codes


def frame(X, y, npartitions):
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(label=y)
    ddf = dd.from_pandas(df, npartitions=npartitions, sort=False)
    return ddf.drop(columns="label"), ddf["label"], df.drop(columns="label")


def assert_same_model(dask_model, ref, X):
    P = dask_model.predict_proba(X)
    np.testing.assert_allclose(P, ref.predict_proba(X), atol=PROBA_TOL, rtol=0)
    np.testing.assert_array_equal(dask_model.classes_, ref.classes_)


# -- without a cluster (the module's cluster may exist already: test order decides) --------
def test_local_threaded_scheduler_without_a_cluster():
    # runs the same whether or not this module's cluster Client exists already (test order
    # decides): a local scheduler set in the config wins over a default Client
    X, codes = make_data(n=400, K=3)
    ref = SoftmaxRegression().fit(X, codes)
    with dask.config.set(scheduler="threads"):
        assert distributed_client() is None
        model = SoftmaxRegression().fit(da.from_array(X, chunks=150),
                                        da.from_array(codes, chunks=150))
    assert_same_model(model, ref, X)


# -- the objective --------------------------------------------------------------------------------
def test_objective_matches_in_memory_and_finite_differences(client):
    X, codes = make_data(n=300, d=4, K=3)
    s = np.random.default_rng(1).uniform(0.5, 2, size=300)
    mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
    data = as_dask_data(da.from_array(X, chunks=70), da.from_array(codes, chunks=70),
                        da.from_array(s, chunks=70))
    dist = DaskObjective(data)
    assert isinstance(dist, Datafit) and not missing_methods(dist)
    theta = np.random.default_rng(2).normal(size=mem.n_params)
    v = np.random.default_rng(3).normal(size=mem.n_params)
    loss, grad = dist.loss_grad(theta)
    ref_loss, ref_grad = mem.loss_grad(theta)
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.hessp(theta, v), mem.hessp(theta, v), rtol=1e-12,
                               atol=1e-14)
    assert dist.smoothness_bound() == pytest.approx(mem.smoothness_bound(), rel=1e-13)
    np.testing.assert_allclose(dist.hessian(theta), mem.hessian(theta), rtol=1e-11,
                               atol=1e-14)
    for dense in (True, False):
        np.testing.assert_allclose(dist.feature_moments(dense=dense),
                                   mem.feature_moments(dense=dense), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dist.probabilities(theta).compute(), mem.probabilities(theta),
                               rtol=1e-12)
    # central differences of the distributed loss
    eps = 1e-6
    for j in (0, 5, mem.n_params - 1):
        e = np.zeros_like(theta)
        e[j] = eps
        fd = (dist.loss(theta + e) - dist.loss(theta - e)) / (2 * eps)
        assert fd == pytest.approx(grad[j], abs=1e-7)
    assert dist.n_passes == 1 + 1 + 1 + 2 + 6  # (probabilities are lazy: not counted)


@pytest.mark.parametrize("kind", ["hard", "soft", "class_weight", "float32"])
def test_minibatch_gathers_the_rows_as_the_in_memory_minibatch(client, kind):
    """DaskObjective.minibatch(rows) = SoftmaxObjective.minibatch(rows) on the same data:
    the same rows (uneven partitions, one holding none of them), coded targets, class
    weights and scaling n / m, so the same value and gradient; the rows count as passes."""
    rng = np.random.default_rng(11)
    n, d, K = 500, 4, 3
    X, codes = make_data(n=n, d=d, K=K, seed=5)
    s = rng.uniform(0.2, 2.0, size=n)
    X = X.astype(np.float32) if kind == "float32" else X
    Y = rng.dirichlet(np.ones(K), size=n) if kind == "soft" else None
    cw = {0: 3.0, 1: 0.5, 2: 1.0} if kind == "class_weight" else None
    chunks = (100, 7, 250, 143)
    target = da.from_array(Y, chunks=(chunks, K)) if kind == "soft" else \
        da.from_array(codes, chunks=(chunks,))
    dist = DaskObjective(as_dask_data(da.from_array(X, chunks=(chunks, d)), target,
                                      da.from_array(s, chunks=(chunks,))), class_weight=cw)
    weights = s * np.array([cw[k] for k in codes]) if cw else s
    mem = SoftmaxObjective(X, y=None if kind == "soft" else codes, Y=Y, sample_weight=weights,
                           n_classes=K)
    rows = np.sort(rng.choice(np.r_[0:100, 107:n], size=60, replace=False))
    sub, want = dist.minibatch(rows), mem.minibatch(rows)
    assert sub.X.dtype == X.dtype and sub.n_samples == 60
    np.testing.assert_array_equal(sub.X, X[rows])
    theta = rng.normal(size=mem.n_params)
    loss, grad = sub.loss_grad(theta)
    want_loss, want_grad = want.loss_grad(theta)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-11, atol=1e-14)
    assert dist.n_passes == 1  # not persisted: the partitions were computed to take the rows
    dist.minibatch_passes(10, 250)  # 2500 rows: 5 passes of 500
    assert dist.n_passes == 6
    # persisted: the rows are taken where the partitions lie, and count as rows
    Xp, tp = client.persist([da.from_array(X, chunks=(chunks, d)), target])
    held = DaskObjective(as_dask_data(Xp, tp, client.persist(da.from_array(s, chunks=(chunks,)))),
                         class_weight=cw)
    assert held._resident is not None
    sub = held.minibatch(rows)
    assert sub.loss_grad(theta)[0] == pytest.approx(want_loss, rel=1e-12)
    held.minibatch_passes(10, 250)
    assert held.n_passes == (60 + 2500) // n
    with pytest.raises(ValueError, match="sorted distinct"):
        dist.minibatch(rows[::-1])


# -- fits equal the in-memory fit -----------------------------------------------------------------
def badly_scaled(n=1500, d=6, K=3, seed=4):
    """Features spanning 1e-2 .. 1e2 in scale (the issue's example of a slow Dask fit)."""
    X, codes = make_data(n=n, d=d, K=K, seed=seed)
    return X * np.logspace(-2, 2, d), codes


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
@pytest.mark.parametrize("where", ["sync", "cluster"])
def test_badly_scaled_dask_fit_reaches_the_in_memory_optimum_in_as_many_passes(
        client, solver, where):
    """The Dask datafit offers the whole protocol (feature moments and a gathered row
    subsample included), so the solvers run as in memory: L-BFGS from the subsample's
    optimum and Hessian, exact-Hessian Newton; the same passes up to rounding."""
    X, codes = badly_scaled()
    ref = SoftmaxRegression(alpha=1e-4, solver=solver).fit(X, codes)
    assert ref.stop_reason_ == "converged"
    Xd, yd = da.from_array(X, chunks=(300, 6)), da.from_array(codes, chunks=300)
    if where == "sync":
        with dask.config.set(scheduler="synchronous"):
            model = SoftmaxRegression(alpha=1e-4, solver=solver).fit(Xd, yd)
    else:
        model = SoftmaxRegression(alpha=1e-4, solver=solver).fit(Xd, yd)
    assert model.stop_reason_ == "converged" and model.solver_ == solver
    assert_same_model(model, ref, X)
    # (before the Dask datafit gathered a subsample, its L-BFGS ran on the feature moments:
    # 2.3x the passes on a 100 000-row problem)
    assert model.n_passes_ <= ref.n_passes_ + 2, (model.n_passes_, ref.n_passes_)


@pytest.mark.parametrize("chunks, solver", [  # 1, 5 and 100 partitions
    (1200, "newton"), (250, "newton"), (250, "lbfgs"), (12, "lbfgs")])
def test_array_fit_equals_in_memory(client, chunks, solver):
    X, codes = make_data()
    ref = SoftmaxRegression(alpha=1e-3, solver=solver).fit(X, codes)
    # data kept on the workers (persist keeps its lineage: a lost piece is recomputed)
    Xd, yd = client.persist([da.from_array(X, chunks=(chunks, 5)),
                             da.from_array(codes, chunks=chunks)])
    model = SoftmaxRegression(alpha=1e-3, solver=solver).fit(Xd, yd)
    assert_same_model(model, ref, X)
    assert model.n_features_in_ == 5
    assert model.n_passes_ > 0


@pytest.mark.parametrize("npartitions, alpha", [(1, 1e-3), (6, 1e-3), (100, 1e-1)])
def test_dataframe_fit_with_string_labels_equals_in_memory(client, npartitions, alpha):
    X, codes = make_data(K=3)
    labels = np.array(["cat", "dog", "emu"])[codes]
    Xd, yd, Xpd = frame(X, labels, npartitions)
    Xd, yd = client.persist([Xd, yd])
    ref = SoftmaxRegression(alpha=alpha).fit(Xpd, labels)
    model = SoftmaxRegression(alpha=alpha).fit(Xd, yd)
    assert_same_model(model, ref, Xpd)
    np.testing.assert_array_equal(model.feature_names_in_, Xpd.columns)
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "emu"])


def test_binary_gd_with_sample_and_class_weights(client):
    X, codes = make_data(n=600, K=2)
    s = np.random.default_rng(4).uniform(0, 3, size=600)
    params = dict(alpha=1e-2, solver="gd", class_weight="balanced", max_iter=5000, tol=1e-8)
    ref = SoftmaxRegression(**params).fit(X, codes + 10, sample_weight=s)
    model = SoftmaxRegression(**params).fit(
        da.from_array(X, chunks=100), da.from_array(codes + 10, chunks=100),
        sample_weight=da.from_array(s, chunks=100))
    assert_same_model(model, ref, X)
    assert model.coef_.shape == (1, 5)


def test_soft_targets_and_class_weight_dict(client):
    X, codes = make_data(n=500, K=3)
    Y = np.random.default_rng(5).dirichlet(np.ones(3), size=500)
    params = dict(alpha=1e-2, class_weight={0: 2.0, 2: 0.5})
    ref = SoftmaxRegression(**params).fit(X, Y)
    model = SoftmaxRegression(**params).fit(da.from_array(X, chunks=120),
                                            da.from_array(Y, chunks=(120, 3)))
    assert_same_model(model, ref, X)


def test_dataframe_weights_column_and_soft_target_columns(client):
    X, codes = make_data(n=400, K=3)
    rng = np.random.default_rng(6)
    s = rng.uniform(0, 2, size=400)
    Y = pd.DataFrame(rng.dirichlet(np.ones(3), size=400), columns=["lo", "mid", "hi"])
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    ddf = dd.from_pandas(df.assign(w=s, label=codes).join(Y), npartitions=3, sort=False)
    features = list(df.columns)
    ref = SoftmaxRegression(class_weight={1: 3.0}).fit(df, codes, sample_weight=s)
    model = SoftmaxRegression(class_weight={1: 3.0}).fit(ddf[features], ddf["label"],
                                                          sample_weight=ddf["w"])
    assert_same_model(model, ref, df)
    ref = SoftmaxRegression().fit(df, Y)
    model = SoftmaxRegression().fit(ddf[features], ddf[["lo", "mid", "hi"]])
    np.testing.assert_array_equal(model.classes_, ["lo", "mid", "hi"])
    assert_same_model(model, ref, df)


def test_in_memory_labels_with_dask_array_X(client):
    X, codes = make_data(n=400, K=3)
    ref = SoftmaxRegression().fit(X, codes)
    model = SoftmaxRegression().fit(da.from_array(X, chunks=90), codes)
    assert_same_model(model, ref, X)


# -- faults ----------------------------------------------------------------------------------------
def test_worker_killed_mid_fit_gives_same_result(own_client):
    client = own_client
    X, codes = make_data(n=2000, K=3)
    Xd = client.persist(da.from_array(X, chunks=100))
    yd = client.persist(da.from_array(codes, chunks=100))
    reference = SoftmaxRegression(alpha=1e-3, solver="lbfgs").fit(Xd, yd)
    pids = sorted(client.run(os.getpid).values())
    killed = []

    def kill_on_third(info):
        if info.iteration == 3 and not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    model = SoftmaxRegression(alpha=1e-3, solver="lbfgs", callback=kill_on_third).fit(Xd, yd)
    assert killed
    # not bitwise: recomputed pieces may sit at other memory alignments, which changes
    # the last bits of numpy's sums; the optimum is the same to the solver's tolerance
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X),
                               atol=PROBA_TOL, rtol=0)
    assert model.stop_reason_ == "converged"
    # the killed process is gone (its nanny may still be starting the replacement: the
    # cluster is closed without waiting for it)
    assert pids[0] not in client.run(os.getpid).values()


def test_nan_partition_names_the_partition(client):
    X, codes = make_data(n=500, K=3)
    X[333, 2] = np.nan
    with pytest.raises(ValueError, match=r"partition 3 of X contains NaN or infinity"):
        SoftmaxRegression().fit(da.from_array(X, chunks=100), da.from_array(codes, chunks=100))


def _explode(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 2:
        raise OSError("cannot read part 2 of the data")
    return block


def test_partition_that_raises_gives_its_error(client):
    X, codes = make_data(n=500, K=3)
    Xd = da.from_array(X, chunks=100).map_blocks(_explode, dtype=float)
    with pytest.raises(OSError, match="cannot read part 2") as excinfo:
        SoftmaxRegression().fit(Xd, da.from_array(codes, chunks=100))
    assert any("softreg" in note for note in getattr(excinfo.value, "__notes__", []))


def _kill_own_worker(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return block


def test_partition_that_kills_workers_ends_with_clear_error(own_client):
    X, codes = make_data(n=300, K=3)
    Xd = da.from_array(X, chunks=100).map_blocks(_kill_own_worker, dtype=float)
    # the fit runs on own_client (the newest Client is the default); the scheduler holds the
    # task while the nannies restart killed workers, however long that takes under load
    with pytest.raises(RuntimeError, match="keeps killing the workers"):
        SoftmaxRegression().fit(Xd, da.from_array(codes, chunks=100))


def test_frames_partitioned_differently_are_aligned(client):
    X, codes = make_data(n=500, K=3)
    Xd, _, Xpd = frame(X, codes, 3)
    _, yd, _ = frame(X, codes, 2)
    ref = SoftmaxRegression(alpha=0.1).fit(Xpd, codes)
    assert_same_model(SoftmaxRegression(alpha=0.1).fit(Xd, yd), ref, Xpd)


def test_misaligned_partitions_are_refused(client):
    X, codes = make_data(n=500, K=3)
    _, yd, _ = frame(X, codes, 4)
    with pytest.raises(ValueError, match="y has 4 partitions but X has 5"):
        SoftmaxRegression().fit(da.from_array(X, chunks=100), yd)


def test_sgd_solver_is_refused_on_dask(client):
    X, codes = make_data(n=200, K=3)
    with pytest.raises(ValueError, match="solver='sgd' does not run on Dask"):
        SoftmaxRegression(solver="sgd").fit(da.from_array(X, chunks=100),
                                            da.from_array(codes, chunks=100))


# -- predictions and streaming ---------------------------------------------------------------------
def test_predictions_are_lazy_and_match(client):
    X, codes = make_data(n=600, K=3)
    labels = np.array(["a", "b", "c"])[codes]
    model = SoftmaxRegression().fit(X, labels)
    Xd = da.from_array(X, chunks=150)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array), method
        expected = getattr(model, method)(X)
        assert lazy.shape == expected.shape
        got = lazy.compute()
        if method == "predict":
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    Xf, _, Xpd = frame(X, labels, 4)
    fitted_on_frame = SoftmaxRegression().fit(Xpd, labels)
    lazy = fitted_on_frame.predict_proba(Xf)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), fitted_on_frame.predict_proba(Xpd), atol=1e-12)


def test_partial_fit_streaming_reaches_full_fit_accuracy(client):
    X, codes = make_data(n=12000, d=8, K=4, seed=7)
    X_train, X_test, y_train, y_test = X[:10000], X[10000:], codes[:10000], codes[10000:]
    full = SoftmaxRegression(alpha=1e-4).fit(X_train, y_train)
    Xd = da.from_array(X_train, chunks=1000)
    yd = da.from_array(y_train, chunks=1000)
    stream = SoftmaxRegression(alpha=1e-4, random_state=0)
    for _ in range(3):
        stream.partial_fit(Xd, yd)
    np.testing.assert_array_equal(stream.classes_, [0, 1, 2, 3])
    assert stream.score(X_test, y_test) >= full.score(X_test, y_test) - 0.02


# -- files -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_fit_files_on_a_folder(client, tmp_path, fmt):
    pytest.importorskip("pyarrow")
    X, codes = make_data(n=900, K=3)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).assign(
        species=np.array(["a", "b", "c"])[codes])
    for i in range(3):
        part = df.iloc[i * 300:(i + 1) * 300]
        if fmt == "parquet":
            part.to_parquet(tmp_path / f"part{i}.parquet")
        else:
            part.to_csv(tmp_path / f"part{i}.csv", index=False)
    ref = SoftmaxRegression(alpha=1e-3).fit(df.drop(columns="species"), df["species"])
    model = fit_files(tmp_path, target="species", scheduler=client,
                      estimator=SoftmaxRegression(alpha=1e-3))
    assert_same_model(model, ref, df.drop(columns="species"))


def test_persisted_partitions_reuse_their_targets_per_objective(client):
    """Two objectives on the same persisted partitions (different class weights): every
    pass, first or later (targets from the worker's cache), equals the in-memory one."""
    X, codes = make_data(n=300, d=4, K=3)
    Xd = client.persist(da.from_array(X, chunks=100))
    yd = client.persist(da.from_array(codes, chunks=100))
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    s_cw = np.array([cw[c] for c in codes])
    for class_weight, s in ((None, None), (cw, s_cw), (None, None)):
        mem = SoftmaxObjective(X, y=codes, sample_weight=s, n_classes=3)
        dist = DaskObjective(as_dask_data(Xd, yd), class_weight=class_weight)
        for seed in range(3):  # later passes hit the cache
            theta = np.random.default_rng(seed).normal(size=mem.n_params)
            loss, grad = dist.loss_grad(theta)
            assert loss == pytest.approx(mem.loss(theta), rel=1e-13)
            np.testing.assert_allclose(grad, mem.loss_grad(theta)[1], rtol=1e-12, atol=1e-14)
