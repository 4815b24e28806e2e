"""A Dask worker's resident memory before and after softreg fits (the user guide's numbers).

Run: ``PYTHONPATH=src python -m benchmarks.dask_worker_memory [--cold]``

Starts one local worker process (one thread, ``memory_limit="4GB"``), persists a small
problem on it and prints the worker's resident set size (MiB): idle, with the data, after a
float64 fit and after a float32 fit. ``--cold`` points numba at an empty cache directory, so
the worker compiles softreg's kernels as on a fresh install. The difference to the idle
worker is what softreg's compiled kernels keep for the worker's lifetime; Dask pauses a
worker at 80 % of its memory limit (``docs/user_guide/dask.rst``).
"""

from __future__ import annotations

import argparse
import os
import tempfile


def _rss_mib() -> float:
    import psutil

    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def measure() -> list[tuple[str, float]]:
    """(stage, the worker's RSS in MiB) for each stage."""
    import dask.array as da
    import distributed
    import numpy as np

    from softreg import SoftmaxRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 10))
    y = rng.integers(0, 4, size=2000)
    rows = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  memory_limit="4GB", dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            def worker_rss(stage: str) -> None:
                (value,) = client.run(_rss_mib).values()
                rows.append((stage, value))

            worker_rss("idle worker")
            Xd, yd = client.persist([da.from_array(X, chunks=500),
                                     da.from_array(y, chunks=500)])
            worker_rss("with the data persisted")
            SoftmaxRegression().fit(Xd, yd)
            worker_rss("after a float64 fit")
            SoftmaxRegression().fit(Xd.astype(np.float32), yd)
            worker_rss("after a float32 fit")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true",
                        help="an empty numba cache: the worker compiles the kernels")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        if args.cold:
            os.environ["NUMBA_CACHE_DIR"] = cache  # the worker processes inherit it
        rows = measure()
    print(f"numba cache: {'empty (cold)' if args.cold else 'as installed'}")
    print("| stage | worker RSS (MiB) |\n|---|---:|")
    for stage, mib in rows:
        print(f"| {stage} | {mib:.0f} |")


if __name__ == "__main__":
    main()
