"""A fresh Dask LocalCluster for the tests that need real worker processes.

Not a test module: imported by ``test_distributed.py`` and ``test_distributed_resident.py``
(pytest puts ``tests/`` on ``sys.path``); import it after ``pytest.importorskip("distributed")``.
"""

from contextlib import contextmanager

import dask
import distributed


@contextmanager
def local_cluster(n_workers: int = 2, threads: int = 1):
    """A Client of a fresh LocalCluster of ``n_workers`` processes x ``threads`` threads."""
    # a task may fail with its worker twice before Dask gives up on it (the default is 3);
    # generous connection timeouts: starting a worker imports numpy on a busy machine
    with dask.config.set({"distributed.scheduler.allowed-failures": 2,
                          "distributed.worker.daemon": False,
                          "distributed.comm.timeouts.connect": "300s"}):
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads,
                                      processes=True, memory_limit="600MB",
                                      dashboard_address=":0") as cluster:
            with distributed.Client(cluster) as client:
                yield client
