"""A fresh Dask LocalCluster for the tests that need real worker processes.

Not a test module: imported by ``test_distributed*.py``
(pytest puts ``tests/`` on ``sys.path``); import it after ``pytest.importorskip("distributed")``.
"""

from contextlib import contextmanager

import dask
import distributed
import numpy as np

#: each test worker's memory limit (the tests' data take a few MB)
WORKER_MEMORY = "3GB"


@contextmanager
def local_cluster(n_workers: int = 2, threads: int = 1):
    """A Client of a fresh LocalCluster of ``n_workers`` processes x ``threads`` threads."""
    # a task may fail with its worker twice before Dask gives up on it (the default is 3);
    # generous connection timeouts: starting a worker imports numpy on a busy machine.
    # Memory: a worker that compiles the fused kernels (a fresh checkout has no numba
    # cache) holds 450-500 MiB of compiled code and LLVM heap that it never gives back. Under
    # the old 600 MB limit that crossed Dask's pause threshold (80 %), and a paused worker
    # never runs another task: the test waited forever. Hence a limit far above what the
    # tests use, and no pausing (a worker past 95 % is still restarted, which fails the test
    # with an error instead of a wait).
    with dask.config.set({"distributed.scheduler.allowed-failures": 2,
                          "distributed.worker.daemon": False,
                          "distributed.worker.memory.pause": False,
                          "distributed.comm.timeouts.connect": "300s"}):
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads,
                                      processes=True, memory_limit=WORKER_MEMORY,
                                      dashboard_address=":0") as cluster:
            with distributed.Client(cluster) as client:
                yield client


def weighted_problem(*, n: int, d: int, K: int, seed: int):
    """X (n, d) standard normal, codes (n,) from a random linear model with Gumbel noise (all
    K classes likely), sample weights s (n,) in [0.2, 2]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    codes = np.argmax(X @ rng.normal(size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    s = rng.uniform(0.2, 2.0, size=n)
    return X, codes, s
