"""One pass straight to the workers: a message handler of softreg's own on each worker.

A pass sends each worker that holds data one message and gets one reply (no scheduler, no
task state), on the client's pooled connections:

    {op: "softreg_pass", spec: bytes, groups: bytes, method: str, args: bytes}
    -> {status: "OK", result: bytes}   or   {status: "error", text: str}

``spec`` (:class:`._blocks._Spec`) and ``groups`` (per group, a list of (X key, y key or
None, s key or None)) are pickled once per plan on the client; a worker unpickles each
blob once and keeps it in a small cache keyed by the bytes. ``args`` (the parameters) and
the result (the groups' sums, in group order) are plain pickles. The handler is installed
on each worker when the client plans (:func:`install`, through ``Client.run``); a worker
without it (restarted since) answers nothing, and the client then runs the pass as tasks
and plans again.

Measured, one worker, 2 busy cores: an empty pass through Dask's ``run`` handler (the
function and arguments in Dask's serialisation, a signature check, a log call per call,
the result wrapped for Dask's serialisers) 0.7-0.9 ms; through this handler with raw
pickles 0.4-0.6 ms.

On the worker each group runs in its thread pool (one group per worker thread), except a
worker's only group of a ``loss_grad`` pass whose last such pass took less than
``INLINE_SECONDS``: it runs on the worker's event loop itself, which saves the two
hand-offs between threads (on a loaded machine each one waits for a core), and keeps
longer passes off the loop so that the worker stays responsive.
"""

from __future__ import annotations

import contextvars
import pickle
import time

from ._blocks import _group_partial

#: the op name of the handler on the workers
HANDLER = "softreg_pass"
#: a worker's only group of a loss_grad pass runs on its event loop when its last such
#: pass took less than this many seconds
INLINE_SECONDS = 0.05

# -- on the workers --------------------------------------------------------------------------------
#: per worker process: (method, the group's keys) -> seconds its last pass took
_SECONDS: dict[tuple, float] = {}
#: per worker process: pickled spec or groups -> the object (a few plans' worth)
_BLOBS: dict[bytes, object] = {}
_MAX_ENTRIES = 64


def _unpickled(blob: bytes):
    obj = _BLOBS.get(blob)
    if obj is None:
        obj = pickle.loads(blob)
        if len(_BLOBS) >= _MAX_ENTRIES:
            _BLOBS.clear()
        _BLOBS[blob] = obj
    return obj


def _timed_group(spec, method: str, args: tuple, group: list, key: tuple):
    """:func:`._blocks._group_partial`'s sum, its seconds remembered under ``key``."""
    start = time.perf_counter()
    total, _ = _group_partial(spec, method, args, group)
    if len(_SECONDS) >= 4 * _MAX_ENTRIES:
        _SECONDS.clear()
    _SECONDS[key] = time.perf_counter() - start
    return total


async def run_groups(dask_worker, spec, method: str, args: tuple, groups: list) -> list:
    """The sums of ``groups`` on this worker, in group order (see the module docstring).

    Raises KeyError when a partition is no longer on this worker.
    """
    import asyncio

    data = dask_worker.data
    parts = [[tuple(None if k is None else data[k] for k in row) for row in group]
             for group in groups]
    keys = [(method, tuple(tuple(row) for row in group)) for group in groups]
    if len(parts) == 1 and method == "loss_grad" and \
            _SECONDS.get(keys[0], INLINE_SECONDS) < INLINE_SECONDS:
        # the fused kernels run single-threaded here (this may be the main thread)
        return [_timed_group(spec, method, args, parts[0], keys[0])]
    loop = asyncio.get_running_loop()
    executor = getattr(dask_worker, "executors", {}).get("default")
    # the worker's context goes along (get_worker() in the threads: BLAS limits)
    return await asyncio.gather(*(
        loop.run_in_executor(executor, contextvars.copy_context().run, _timed_group, spec,
                             method, args, group, key)
        for group, key in zip(parts, keys, strict=True)))


def install(dask_worker=None) -> None:
    """Add the pass handler to this worker (through ``Client.run``; idempotent)."""

    async def softreg_pass(spec=None, groups=None, method=None, args=None):
        try:
            sums = await run_groups(dask_worker, _unpickled(spec), method, pickle.loads(args),
                                    _unpickled(groups))
        except Exception as e:  # the client runs the pass as tasks (with Dask's report)
            return {"status": "error", "text": f"{type(e).__name__}: {e}"}
        return {"status": "OK", "result": pickle.dumps(sums, protocol=5)}

    dask_worker.handlers[HANDLER] = softreg_pass


# -- on the client ---------------------------------------------------------------------------------
def dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=5)


async def call_workers(client, spec: bytes, calls: dict, method: str, args: bytes,
                       timeout: float) -> dict:
    """Send each worker ``calls[address]`` (its pickled groups) with the pickled ``spec``,
    ``method`` and pickled ``args``, all at once; returns address -> list of group sums.

    Raises on the first failure (after every call has ended): a worker that cannot be
    reached within ``timeout`` seconds, a lost connection, a worker without the handler,
    an error on the worker.
    """
    import asyncio

    from distributed.core import send_recv

    async def call(address, groups):
        comm = await client.rpc.connect(address, timeout=timeout)
        try:
            return await send_recv(comm, op=HANDLER, spec=spec, groups=groups,
                                   method=method, args=args)
        finally:
            client.rpc.reuse(address, comm)

    addresses = sorted(calls)
    responses = await asyncio.gather(*(call(a, calls[a]) for a in addresses),
                                     return_exceptions=True)
    out = {}
    for address, response in zip(addresses, responses, strict=True):
        if isinstance(response, BaseException):
            raise response
        if not isinstance(response, dict) or response.get("status") != "OK":
            why = response.get("text") if isinstance(response, dict) else \
                "no answer (the worker lacks softreg's handler)"
            raise RuntimeError(f"softreg: a pass failed on worker {address}: {why}")
        out[address] = pickle.loads(response["result"])
    return out
