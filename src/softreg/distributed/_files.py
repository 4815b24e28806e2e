"""Out-of-core training from Parquet or CSV files on a Dask cluster."""

from __future__ import annotations

import contextlib
import os


def read_table(paths, *, blocksize="64MB"):
    """A lazy dask DataFrame over Parquet or CSV files.

    Parameters
    ----------
    paths : str or list of str
        A folder (all its ``*.parquet``/``*.pq`` or ``*.csv`` files), a glob pattern, one
        file, or a list of files; local paths or any fsspec URL (``s3://...``) the workers
        can read.
    blocksize : str or int
        Target partition size for CSV (Parquet keeps its files' row groups).
    """
    import glob as globlib

    import dask.dataframe as dd

    if isinstance(paths, str | os.PathLike):
        paths = os.fspath(paths)
        if os.path.isdir(paths):
            found = sorted(p for p in globlib.glob(os.path.join(paths, "*"))
                           if p.lower().endswith((".parquet", ".pq", ".csv")))
            if not found:
                raise FileNotFoundError(f"no .parquet, .pq or .csv files in folder {paths!r}")
            paths = found
        elif "://" not in paths:
            found = sorted(globlib.glob(paths))
            if not found:
                raise FileNotFoundError(f"no files match {paths!r}")
            paths = found
        else:
            paths = [paths]
    paths = [os.fspath(p) for p in paths]
    kinds = {"csv" if p.lower().endswith(".csv") else "parquet" for p in paths}
    if len(kinds) > 1:
        raise ValueError("mixing CSV and Parquet files in one data set is not supported")
    if kinds == {"csv"}:
        return dd.read_csv(paths, blocksize=blocksize)
    return dd.read_parquet(paths)


def fit_files(paths, target, *, estimator, features=None, sample_weight: str | None = None,
              scheduler=None, n_workers: int | None = None, memory_limit="auto",
              blocksize="64MB"):
    """Fit ``estimator`` out of core on Parquet/CSV files, on a Dask cluster.

    No process ever holds the whole data set: every pass re-reads the files partition by
    partition on the workers.

    Parameters
    ----------
    paths : str or list of str
        Folder, glob, file or list of files (see :func:`read_table`).
    target : str
        The label column (or, for soft targets, pass several names as a list).
    estimator : an unfitted estimator whose ``fit`` takes Dask input, e.g.
        ``softreg.SoftmaxRegression(alpha=1e-3)``
    features : list of str or None
        Feature columns; default: every column but the target and weight columns.
    sample_weight : str or None
        Name of a sample-weight column.
    scheduler : None, str or distributed.Client
        None: start a ``LocalCluster`` sized to this machine (one single-threaded worker
        process per core) and close it afterwards; an address such as
        ``"tcp://10.0.0.5:8786"``: use that running cluster; a Client: use it;
        ``"threads"`` or ``"sync"``: Dask's in-process schedulers (no cluster).
    n_workers, memory_limit : for the LocalCluster started when ``scheduler`` is None
    blocksize : CSV partition size

    Returns
    -------
    estimator, fitted (its arrays are in memory; nothing refers to the cluster)
    """
    df = read_table(paths, blocksize=blocksize)
    targets = [target] if isinstance(target, str) else list(target)
    missing = [c for c in targets + ([sample_weight] if sample_weight else [])
               if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data; it has {list(df.columns)}")
    if features is None:
        features = [c for c in df.columns if c not in targets and c != sample_weight]
    y = df[targets[0]] if len(targets) == 1 else df[targets]
    s = df[sample_weight] if sample_weight else None
    with dask_scheduler(scheduler, n_workers=n_workers, memory_limit=memory_limit):
        estimator.fit(df[features], y, sample_weight=s)
    return estimator


@contextlib.contextmanager
def dask_scheduler(scheduler=None, *, n_workers: int | None = None, memory_limit="auto"):
    """Run the body on ``scheduler`` (see :func:`fit_files`): a LocalCluster for None."""
    import dask

    with contextlib.ExitStack() as stack:
        if scheduler in ("threads", "sync", "synchronous", "processes"):
            stack.enter_context(dask.config.set(scheduler=scheduler))
        elif scheduler is None:
            from distributed import Client, LocalCluster

            cluster = stack.enter_context(LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1,
                processes=True, memory_limit=memory_limit, dashboard_address=":0"))
            stack.enter_context(Client(cluster))
        elif isinstance(scheduler, str):
            from distributed import Client

            stack.enter_context(Client(scheduler))
        else:
            stack.enter_context(scheduler.as_current())
        yield
