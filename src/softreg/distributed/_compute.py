"""Running work over Dask partitions: BLAS limits, tree sums, errors that name the step."""

from __future__ import annotations

import os
from contextlib import contextmanager

#: how many partial results one reduction task adds
SPLIT_EVERY = 8

#: BLAS threads per Dask worker thread (a worker's threads are its share of the cores)
BLAS_THREADS = int(os.environ.get("SOFTREG_DASK_BLAS_THREADS", "1"))


_blas_limited = False


def _limit_blas() -> None:
    """Once per worker process: at most BLAS_THREADS BLAS threads per worker thread.

    Only inside a ``distributed`` worker; with the local schedulers the client wraps the
    whole computation in a limit instead.
    """
    global _blas_limited
    if _blas_limited:
        return
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=max(1, BLAS_THREADS))
    _blas_limited = True
    del worker



def _add(*parts):
    """Elementwise sum of partial results (floats, arrays, or tuples of them); None (an
    empty partition's part) adds nothing."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    first = parts[0]
    if isinstance(first, tuple):
        return tuple(_add(*items) for items in zip(*parts, strict=True))
    total = first
    for p in parts[1:]:
        total = total + p
    return total


def tree_sum(parts: list, split_every: int = SPLIT_EVERY):
    """A Delayed that adds the Delayed partial results ``parts`` in a tree of fan-in
    ``split_every`` (a fixed shape, so the sum is the same whichever worker computes it)."""
    from dask import delayed

    add = delayed(_add, pure=True)
    while len(parts) > 1:
        parts = [add(*parts[i:i + split_every]) if len(parts[i:i + split_every]) > 1
                 else parts[i] for i in range(0, len(parts), split_every)]
    return parts[0]



@contextmanager
def _naming_errors(what: str):
    """Re-raise a task's error with a note naming the step (``what``); a task that keeps
    killing its workers becomes a RuntimeError that says what to do."""
    try:
        yield
    except Exception as e:
        if type(e).__name__ == "KilledWorker":
            raise RuntimeError(
                f"softreg: a Dask task of the {what} keeps killing the workers that run it "
                f"({e}). A partition is probably too large for a worker's memory: use smaller "
                "partitions (e.g. a smaller blocksize) or give the workers more memory"
            ) from e
        e.add_note(f"softreg: raised while computing the {what} over Dask partitions")
        raise


def _compute(*collections, what: str):
    """dask.compute with the BLAS limited in-process (local schedulers) and errors that say
    which step failed."""
    import dask

    try:
        from distributed import default_client

        default_client()
        local = False
    except (ImportError, ValueError):
        local = True
    with _naming_errors(what):
        if local:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=max(1, BLAS_THREADS)):
                return dask.compute(*collections)
        return dask.compute(*collections)
