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
from typing import Any

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
    ``method`` and pickled ``args``, all at once, on the client's pooled connections (in
    its event loop); returns address -> list of group sums.

    Raises on the first failure (after every call has ended): a worker that cannot be
    reached within ``timeout`` seconds, a lost connection, a worker without the handler,
    an error on the worker.
    """
    async def connect(address):
        return await client.rpc.connect(address, timeout=timeout)

    return await _exchange(connect, client.rpc.reuse, spec, calls, method, args)


async def _exchange(connect, release, spec: bytes, calls: dict, method: str,
                    args: bytes) -> dict:
    """:func:`call_workers` on comms from ``connect(address)``, handed back to
    ``release(address, comm)`` after each call."""
    import asyncio

    from distributed.core import send_recv

    async def call(address, groups):
        comm = await connect(address)
        try:
            return await send_recv(comm, op=HANDLER, spec=spec, groups=groups,
                                   method=method, args=args)
        finally:
            release(address, comm)

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


class Channel:
    """Connections to the workers of its own, driven by a private event loop in the thread
    that made it: a pass then needs no hand-off to the client's event loop thread and
    back (on a loaded machine each waits for a core; measured, one worker, 2 cores at
    load 4: an empty pass 1.07 -> 0.84 ms).

    :meth:`call` works only in that thread and while no event loop runs in it (as in
    Jupyter, or inside a coroutine): see :meth:`usable`; elsewhere the client's own loop
    (:func:`call_workers`) does the same. :meth:`close` (also when garbage collected or at
    exit) aborts the connections and closes the loop.
    """

    def __init__(self, connection_args: dict, timeout: float):
        import threading
        import weakref

        from tornado.ioloop import IOLoop

        self.thread = threading.get_ident()
        self.timeout = timeout
        self.connection_args = dict(connection_args)
        self.comms: dict[str, Any] = {}
        self.io_loop = IOLoop(make_current=False)
        self._finalizer = weakref.finalize(self, Channel._close, self.io_loop, self.comms)

    def usable(self) -> bool:
        """Whether :meth:`call` can run here: the thread that made it, no loop running."""
        import asyncio
        import threading

        if threading.get_ident() != self.thread or not self._finalizer.alive:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def call(self, spec: bytes, calls: dict, method: str, args: bytes) -> dict:
        """As :func:`call_workers`, on this channel's connections; a connection that saw an
        error is dropped (the next call connects again)."""
        loop = self.io_loop.asyncio_loop
        try:
            return loop.run_until_complete(
                _exchange(self._connect, self._release, spec, calls, method, args))
        except BaseException:
            self._abort()
            raise

    async def _connect(self, address):
        from distributed.comm import connect

        comm = self.comms.pop(address, None)
        if comm is None or comm.closed():
            comm = await connect(address, timeout=self.timeout, **self.connection_args)
        return comm

    def _release(self, address, comm) -> None:
        if not comm.closed():
            self.comms[address] = comm

    def _abort(self) -> None:
        for comm in self.comms.values():
            comm.abort()
        self.comms.clear()

    def close(self) -> None:
        self._finalizer()

    @staticmethod
    def _close(io_loop, comms) -> None:
        for comm in comms.values():
            comm.abort()
        comms.clear()
        io_loop.close()
