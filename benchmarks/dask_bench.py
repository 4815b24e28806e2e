"""softreg on Dask versus in memory: passes per second, overhead per pass, and an
out-of-core Parquet fit larger than a worker's memory limit, with its peak memory.

Run from the repository root:

    PYTHONPATH=src python -m benchmarks.dask_bench            # full run, prints Markdown
    PYTHONPATH=src python -m benchmarks.dask_bench --quick    # small sizes, a smoke run
    PYTHONPATH=src python -m benchmarks.dask_bench --write benchmarks/RESULTS_dask.md

Every number in one table comes from the same run on the same machine; ratios are taken
between runs made side by side here, never against numbers from elsewhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager

import numpy as np

from softreg import SoftmaxRegression
from softreg._objective import SoftmaxObjective
from softreg.distributed import DaskObjective, as_dask_data, fit_files


def make_problem(n, d, K, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, K)) / np.sqrt(d)
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def time_passes(objective, n_passes, n_params):
    """Seconds per loss+gradient pass (a different theta each time: no cache hits)."""
    rng = np.random.default_rng(1)
    objective.loss_grad(rng.normal(size=n_params) * 0.01)  # warm up
    start = time.perf_counter()
    for _ in range(n_passes):
        objective.loss_grad(rng.normal(size=n_params) * 0.01)
    return (time.perf_counter() - start) / n_passes


def time_worker_share(objective, X, y, chunk_rows, n_passes):
    """Seconds per pass of what a one-worker pass computes (its group of partitions: one
    kernel call per partition, the set-up shared), here in this process: no messages."""
    from softreg.distributed._blocks import _group_partial

    parts = [(X[i:i + chunk_rows], y[i:i + chunk_rows], None)
             for i in range(0, X.shape[0], chunk_rows)]
    rng = np.random.default_rng(2)
    spec = objective._spec_value
    _group_partial(spec, "loss_grad", (rng.normal(size=objective.n_params) * 0.01,), parts)
    start = time.perf_counter()
    for _ in range(n_passes):
        _group_partial(spec, "loss_grad", (rng.normal(size=objective.n_params) * 0.01,), parts)
    return (time.perf_counter() - start) / n_passes


def time_round_trip(client, objective, n_passes):
    """Seconds per call of an empty pass straight to each worker (the messages alone)."""
    from softreg.distributed import _direct
    from softreg.distributed._resident import CONNECT_TIMEOUT

    theta = np.zeros(objective.n_params)
    client.run(_direct.install)
    spec = _direct.dumps(objective._spec_value)
    calls = {w: _direct.dumps([]) for w in client.nthreads()}

    channel = objective._resident.channel if objective._resident is not None else None

    def call():  # as a pass makes it: on the objective's own connections where it can
        args = (spec, calls, "loss_grad", _direct.dumps((theta,)))
        if channel is not None and channel.usable():
            channel.call(*args)
        else:
            client.sync(_direct.call_workers, client, *args, CONNECT_TIMEOUT)

    call()
    start = time.perf_counter()
    for _ in range(n_passes):
        call()
    return (time.perf_counter() - start) / n_passes


# -- peak memory of worker processes ---------------------------------------------------------------
_peak = {"rss": 0, "running": False}


def _start_rss_sampler(interval=0.02):
    """In a worker: sample this process's RSS in a daemon thread, keeping the maximum."""
    import psutil

    if _peak["running"]:
        return
    _peak["running"] = True
    proc = psutil.Process()

    def loop():
        while _peak["running"]:
            _peak["rss"] = max(_peak["rss"], proc.memory_info().rss)
            time.sleep(interval)

    threading.Thread(target=loop, daemon=True).start()


def _peak_rss():
    import psutil

    return max(_peak["rss"], psutil.Process().memory_info().rss)


def _client_peak_rss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


@contextmanager
def single_threaded():
    """One BLAS thread and one numba thread in this process (as one worker thread has)."""
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(before)


def in_memory_vs_dask(n, d, K, chunk_rows, n_passes, worker_counts, rounds=3):
    """Per-pass times in memory (single-threaded) and on LocalClusters of 1 and 2
    single-threaded workers, each with passes as a task per partition (``RESIDENT=False``,
    the code before) and as one call per worker thread (the default for persisted data)."""
    import dask.array as da
    from distributed import Client, LocalCluster

    from softreg.distributed import _objective

    X, y = make_problem(n, d, K)
    rows = []
    mem = SoftmaxObjective(X, y=y, n_classes=K)
    with single_threaded():  # one core, like one single-threaded worker
        start = time.perf_counter()
        ref = SoftmaxRegression(alpha=1e-4, solver="lbfgs").fit(X, y)
        fit_mem = time.perf_counter() - start
    rows.append(dict(setup="in memory (1 thread)", partitions=1, t_pass=float("nan"),
                     t_mem=float("nan"), fit_s=fit_mem, fit_passes=ref.n_passes_, max_dp=0.0))
    for workers in worker_counts:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", memory_limit="2GB") as cluster, \
                Client(cluster) as client:
            Xd = client.persist(da.from_array(X, chunks=(chunk_rows, d)))
            yd = client.persist(da.from_array(y, chunks=chunk_rows))
            client.wait_for_workers(workers)
            objectives = {}
            for resident in (False, True):
                _objective.RESIDENT = resident
                try:
                    objectives[resident] = DaskObjective(as_dask_data(Xd, yd))
                finally:
                    _objective.RESIDENT = True
            if workers == 1:  # the columns of one persisted dask DataFrame
                import dask.dataframe as dd
                import pandas as pd

                features = [f"x{j}" for j in range(d)]
                frame = client.persist(dd.from_pandas(
                    pd.DataFrame(X, columns=features).assign(label=y),
                    npartitions=Xd.numblocks[0], sort=False))
                objectives["frame"] = DaskObjective(as_dask_data(frame[features],
                                                                 frame["label"]))
            # alternate in-memory and Dask rounds so that all see the same machine load
            times = {"mem": [], False: [], True: [], "frame": [], "parts": [], "trip": []}
            for _ in range(rounds):
                with single_threaded():
                    times["mem"].append(time_passes(mem, n_passes, mem.n_params))
                    if workers == 1:
                        times["parts"].append(time_worker_share(
                            objectives[True], X, y, chunk_rows, n_passes))
                for resident, obj in objectives.items():
                    times[resident].append(time_passes(obj, n_passes, obj.n_params))
                if workers == 1:
                    times["trip"].append(time_round_trip(client, objectives[True], n_passes))
            fits = {}
            for resident in (False, True):
                _objective.RESIDENT = resident
                try:
                    start = time.perf_counter()
                    model = SoftmaxRegression(alpha=1e-4, solver="lbfgs").fit(Xd, yd)
                    fits[resident] = (time.perf_counter() - start, model)
                finally:
                    _objective.RESIDENT = True
            for resident in (False, True):
                fit_s, model = fits[resident]
                dp = float(np.abs(model.predict_proba(X) - ref.predict_proba(X)).max())
                how = "one call per worker thread" if resident else \
                    "a task per partition (before)"
                ratios = [m / t for m, t in zip(times["mem"], times[resident], strict=True)]
                rows.append(dict(setup=f"Dask, {workers} worker process(es) x 1 thread, {how}",
                                 partitions=Xd.numblocks[0],
                                 t_pass=float(np.median(times[resident])),
                                 t_mem=float(np.median(times["mem"])),
                                 ratio=float(np.median(ratios)), fit_s=fit_s,
                                 fit_passes=model.n_passes_, max_dp=dp,
                                 t_parts=float(np.median(times["parts"] or [np.nan])),
                                 t_trip=float(np.median(times["trip"] or [np.nan]))))
            if "frame" in objectives:
                ratios = [m / t for m, t in zip(times["mem"], times["frame"], strict=True)]
                rows.append(dict(setup=f"Dask, {workers} worker process(es) x 1 thread, "
                                 "columns of a persisted DataFrame",
                                 partitions=Xd.numblocks[0],
                                 t_pass=float(np.median(times["frame"])),
                                 t_mem=float(np.median(times["mem"])),
                                 ratio=float(np.median(ratios)), fit_s=float("nan"),
                                 fit_passes=0, max_dp=float("nan"), t_parts=float("nan"),
                                 t_trip=float("nan")))
    return rows


def write_parquet(folder, n_files, rows_per_file, d, K, seed=0):
    """A Parquet data set written one file at a time (never whole in memory)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, K)) / np.sqrt(d)
    cols = [f"x{j}" for j in range(d)]
    for i in range(n_files):
        X = rng.normal(size=(rows_per_file, d))
        y = np.argmax(X @ W + rng.gumbel(size=(rows_per_file, K)), axis=1)
        pd.DataFrame(X, columns=cols).assign(label=y).to_parquet(
            os.path.join(folder, f"part{i:04d}.parquet"), index=False)
    return n_files * rows_per_file * (d * 8 + 8)


def out_of_core(n_files, rows_per_file, d, K, memory_limit, max_iter, workers=2):
    """Fit from Parquet several times larger than one worker's memory limit."""
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as folder:
        data_bytes = write_parquet(folder, n_files, rows_per_file, d, K)
        disk_bytes = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", memory_limit=memory_limit) as cluster, \
                Client(cluster) as client:
            client.run(_start_rss_sampler)
            baseline = max(client.run(_peak_rss).values())
            iterations = []
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # max_iter bounds the run on purpose
                estimator = SoftmaxRegression(
                    alpha=1e-4, solver="lbfgs", max_iter=max_iter,
                    callback=lambda info: iterations.append(info.loss))
                model = fit_files(folder, target="label", scheduler=client,
                                  estimator=estimator)
            fit_s = time.perf_counter() - start
            peaks = client.run(_peak_rss)
            restarts = len(client.scheduler_info()["workers"])
        return dict(data_bytes=data_bytes, disk_bytes=disk_bytes, memory_limit=memory_limit,
                    rows_per_file=rows_per_file,
                    rows=n_files * rows_per_file, files=n_files, fit_s=fit_s,
                    n_passes=model.n_passes_, n_iter=model.n_iter_,
                    worker_peak=max(peaks.values()), worker_baseline=baseline,
                    client_peak=_client_peak_rss(), workers_alive=restarts,
                    final_loss=iterations[-1] if iterations else float("nan"))


def mib(b):
    return f"{b / 2**20:.0f} MiB"


def report(rows, ooc, args) -> str:
    load = os.getloadavg()
    out = ["# softreg on Dask: benchmark results", "",
           f"Machine: {platform.machine()}, {os.cpu_count()} cores (load average at the end "
           f"{load[0]:.1f}: the cores are shared, so absolute times are noisy; the ratios "
           "come from runs made side by side), Python "
           f"{platform.python_version()}.", "",
           f"Command: `PYTHONPATH=src python -m benchmarks.dask_bench "
           f"{' '.join(sys.argv[1:])}`".rstrip() + "", "",
           f"## Passes over the data: n={args.n}, d={args.d}, K={args.K}, float64 "
           f"({mib(args.n * args.d * 8)}), partitions of {args.chunk_rows} rows, data "
           "persisted on the workers", "",
           "| setup | partitions | s per pass (in memory, same moments) | passes/s | "
           "overhead per pass | Dask speed vs in memory | L-BFGS fit s (passes) | "
           "max abs diff of P vs in memory |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if np.isnan(r["t_pass"]):
            out.append(f"| {r['setup']} | 1 | see below | | | | {r['fit_s']:.2f} "
                       f"({r['fit_passes']}) | 0 |")
            continue
        over = r["t_pass"] - r["t_mem"]
        fit = "" if np.isnan(r["fit_s"]) else f"{r['fit_s']:.2f} ({r['fit_passes']})"
        dp = "" if np.isnan(r["max_dp"]) else f"{r['max_dp']:.1e}"
        out.append(f"| {r['setup']} | {r['partitions']} | {r['t_pass']:.4f} "
                   f"({r['t_mem']:.4f}) | {1 / r['t_pass']:.1f} | {over * 1e3:+.1f} ms | "
                   f"{r['ratio']:.2f}x | {fit} | {dp} |")
    one = [r for r in rows if r["setup"].startswith("Dask, 1 worker")
           and "DataFrame" not in r["setup"]]
    if len(one) == 2:
        before, after = one
        verdict = "PASS" if after["ratio"] >= 0.8 else "FAIL"
        out += ["", f"**Target (issue 12): one worker, persisted data, passes per second at "
                f"least 0.8x in memory: {verdict}** ({before['ratio']:.2f}x with a task per "
                f"partition -> {after['ratio']:.2f}x with one call per worker thread)."]
    if len(one) == 2 and not np.isnan(one[1]["t_parts"]):
        before, after = one
        ms = 1e3
        out += ["", "### Where a one-worker pass goes (medians, ms per pass)", "",
                "| piece | ms |", "|---|---|",
                f"| in memory: one kernel call over all rows | {after['t_mem'] * ms:.1f} |",
                f"| the worker's share computed here: the partitions' kernels one after "
                f"another (set-up shared), targets from the cache | "
                f"{after['t_parts'] * ms:.1f} |",
                f"| an empty pass straight to the worker (messages only) | "
                f"{after['t_trip'] * ms:.1f} |",
                f"| one call per worker thread: the whole pass | {after['t_pass'] * ms:.1f} |",
                f"| a task per partition + tree reduction (before): the whole pass | "
                f"{before['t_pass'] * ms:.1f} |"]
    out += ["", "In memory and every worker run single-threaded (one BLAS and one numba "
            "thread: one worker thread is one core). Each Dask row's times are medians of "
            f"{args.rounds} rounds of {args.passes} loss+gradient passes that alternate "
            "in-memory and Dask passes, so all see the same load; its speed is the median "
            "of the per-round ratios. The overhead per pass is the Dask pass "
            "time minus the in-memory pass time: "
            "for a task per partition, graph construction on the client, "
            "scheduling of one task per partition plus the tree reduction, and moving the "
            "parameters and the partial sums; for one call per worker thread, one message "
            "each way between the client and each worker (softreg's handler on the worker, "
            "a connection of the objective's own on the client), and the partitions' "
            "kernels called one after another.", ""]
    if ooc:
        first = ooc[0]
        out += ["## Out of core: Parquet data sets larger than a worker's memory limit", "",
                f"{args.d} float64 features + an int label, files of {first['rows_per_file']} "
                f"rows ({mib(first['data_bytes'] / first['files'])} in memory each, one "
                "partition per file); 2 worker processes x 1 thread, each with memory limit "
                f"{first['memory_limit']}; `fit_files(folder, target='label', "
                f"estimator=SoftmaxRegression(solver='lbfgs', max_iter={args.max_iter}))`: "
                "every pass re-reads the files on the workers. "
                "Peak RSS sampled every 20 ms in each worker process.", "",
                "| files | data in memory (on disk) | data / one worker's limit | fit s | passes "
                "| s per pass | peak RSS per worker (idle) | peak RSS client+scheduler |",
                "|---|---|---|---|---|---|---|---|"]
        for o in ooc:
            out.append(
                f"| {o['files']} | {mib(o['data_bytes'])} ({mib(o['disk_bytes'])}) | "
                f"{o['data_bytes'] / _parse_bytes(o['memory_limit']):.1f}x | {o['fit_s']:.1f} | "
                f"{o['n_passes']} | {o['fit_s'] / max(o['n_passes'], 1):.2f} | "
                f"{mib(o['worker_peak'])} ({mib(o['worker_baseline'])}) | "
                f"{mib(o['client_peak'])} |")
        out += ["", "The workers' peak memory is the same for both data sizes: it is set by "
                "the partition size, not the data size.", ""]
    return "\n".join(out)


def _parse_bytes(s):
    from dask.utils import parse_bytes

    return parse_bytes(s)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--no-out-of-core", action="store_true")
    parser.add_argument("--write", metavar="PATH", help="also write the Markdown here")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of passes per setup (default 5)")
    parser.add_argument("--workers", default="1,2",
                        help="worker counts to compare, comma-separated (default 1,2)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.d, args.K, args.chunk_rows, args.passes = 20_000, 20, 5, 5_000, 5
        files, rows_per_file, limit, args.max_iter = (3, 6), 20_000, "1GB", 3
    else:
        args.n, args.d, args.K, args.chunk_rows, args.passes = 400_000, 50, 5, 50_000, 8
        files, rows_per_file, limit, args.max_iter = (24, 240), 25_000, "800MB", 5
    ooc = []
    if not args.no_out_of_core:  # first, each in a fresh process: its peak RSS is its own
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        for n_files in files:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
                ooc.append(ex.submit(out_of_core, n_files, rows_per_file, args.d, args.K,
                                     limit, args.max_iter).result())
    counts = tuple(int(w) for w in args.workers.split(","))
    rows = in_memory_vs_dask(args.n, args.d, args.K, args.chunk_rows, args.passes, counts,
                             rounds=args.rounds)
    text = report(rows, ooc, args)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
