"""``fit --dask`` helpers: a quiet cluster, and errors that name the file and row.

A failing task on a Dask cluster makes every layer log it (worker, scheduler, client), so
the one useful line arrives after pages of logs and tracebacks, naming a partition index
rather than a file. The command line therefore silences the cluster's logging below
ERROR, and when the fit fails it looks through the files itself (one at a time, in chunks)
for the first value that cannot be trained on, and reports its file, row and column.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
from collections.abc import Iterator

import numpy as np

#: loggers of dask and distributed that report task failures
_LOGGERS = ("distributed", "dask", "tornado", "asyncio", "bokeh")
#: rows read at a time when looking for a bad value
_CHUNK_ROWS = 100_000


@contextlib.contextmanager
def quiet_cluster() -> Iterator[None]:
    """Silence Dask's logging below CRITICAL, here and in worker processes started meanwhile.

    Worker processes configure their logging from the environment when they import
    ``distributed``, so the levels are also set there; everything is restored afterwards.
    """
    # dask's config maps DASK_LOGGING__NAME to the level of logger NAME (its children follow)
    env = {"DASK_LOGGING__DISTRIBUTED": "critical", "DASK_LOGGING__TORNADO": "critical"}
    saved_env = {k: os.environ.get(k) for k in env}
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    saved = [(lg, lg.level) for lg in loggers]
    os.environ.update(env)
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL)
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def data_files(paths: str) -> list[str]:
    """The files ``softreg.distributed.read_table`` reads for ``paths`` (local paths)."""
    if os.path.isdir(paths):
        return sorted(p for p in glob.glob(os.path.join(paths, "*"))
                      if p.lower().endswith((".parquet", ".pq", ".csv")))
    if "://" in paths:
        return []
    return sorted(glob.glob(paths))


def find_bad_value(paths: str, target: str, features: list[str] | None,
                   weight: str | None) -> str | None:
    """'FILE: column C, row R: what' for the first value the fit cannot use, else None.

    Rows are counted from 1 within each file (data rows, the header not counted).
    """
    for path in data_files(paths):
        for start, frame in _chunks(path):
            where = _bad_in_frame(frame, target, features, weight)
            if where is not None:
                column, row, what = where
                return f"{path}: column {column!r}, row {start + row + 1}: {what}"
    return None


def _chunks(path: str):
    """(first row number, DataFrame) pieces of one file."""
    import pandas as pd

    if path.lower().endswith(".csv"):
        start = 0
        with pd.read_csv(path, chunksize=_CHUNK_ROWS) as reader:
            for frame in reader:
                yield start, frame
                start += len(frame)
        return
    import pyarrow.parquet as pq

    start = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_CHUNK_ROWS):
        frame = batch.to_pandas()
        yield start, frame
        start += len(frame)


def _bad_in_frame(frame, target: str, features, weight):
    """(column, row index, description) of the first unusable value of ``frame``, or None."""
    import pandas as pd

    if target in frame.columns:
        missing = np.flatnonzero(pd.isna(frame[target]).to_numpy())
        if missing.size:
            return target, int(missing[0]), "a missing (NaN) label; a missing label is not a class"
    columns = features if features is not None else \
        [c for c in frame.columns if c not in (target, weight)]
    checked = [c for c in columns if c in frame.columns] + \
        ([weight] if weight and weight in frame.columns else [])
    best = None
    for c in checked:
        values = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values) | ((values < 0) if c == weight else False))
        if bad.size and (best is None or bad[0] < best[1]):
            raw = frame[c].iloc[int(bad[0])]
            what = ("a missing value" if pd.isna(raw) else
                    "NaN" if isinstance(raw, float) and np.isnan(raw) else
                    "a negative sample weight" if c == weight and np.isfinite(values[bad[0]])
                    else f"a value that is not a finite number ({raw!r})")
            best = (c, int(bad[0]), what)
    return best
