"""Passes over persisted partitions: one call per worker, one group per worker thread.

When every partition of X, y and the weights is already in the cluster's memory
(``client.persist``), a pass needs no task per partition: the partitions are grouped by
the worker that holds them, one group per worker thread, and each pass sends every
such worker its groups' keys and the parameters, once, straight from the client
(softreg's own message handler on the worker, :mod:`._direct`, on a pooled connection:
one message each way, no scheduler, no task state). A worker adds its groups' partial
sums with the fused kernels (one :func:`softreg._kernels.fused_passes` per group for
``loss_grad``), on the partitions it holds (nothing moves), and the client adds the few
results in a fixed order. Measured on one worker and 2 busy cores: a task per partition
plus a reduction tree cost about 70 ms of scheduling per pass, one task per worker
thread about 9 ms, the direct call through Dask's ``run`` handler about 3 ms, through
softreg's handler (and the event loop for a short group) about 1-2 ms.

Losing a worker costs what it costs any Dask computation: a pass that cannot reach a
worker (a connection is waited for at most ``CONNECT_TIMEOUT`` seconds, never the
cluster's long connect timeout) or finds a partition gone runs its groups again as
ordinary tasks, which the scheduler places by the data (a hint, not a requirement) and
whose lost partitions it recomputes from their lineage (``persist`` keeps it); the next
pass asks the scheduler where the partitions are now.

Data that is not persisted (files, lazily computed arrays) keeps one task per partition:
grouping would hold several partitions in a worker's memory at once.
"""

from __future__ import annotations

import uuid

from . import _direct
from ._blocks import _group_partial
from ._compute import _add, _naming_errors
from ._data import _resident_key

#: False: passes over persisted data run as tasks only (never straight on the workers)
DIRECT = True
#: seconds to wait for a connection to a worker before running a pass as tasks instead
CONNECT_TIMEOUT = 10.0
#: False: every direct pass goes through the client's event loop (no :class:`_direct.Channel`)
CHANNEL = True


def distributed_client():
    """The distributed Client that ``dask.compute`` would use now, or None.

    None under a local scheduler (``dask.config.set(scheduler=...)``) even where a Client
    exists, and where distributed is not installed.
    """
    try:
        from dask.base import get_scheduler
        from distributed import Client
    except ImportError:
        return None
    client = getattr(get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


def _triple(X, y, s):
    return X, y, s


def _together(client, futures: list[tuple], who) -> list[tuple]:
    """Rows of futures in which each partition with more than one piece (X and y, maybe
    s) becomes one future of the triple, made on a worker holding its X (X is not copied;
    y and s are fetched there once if they lie elsewhere). Pieces kept under their own
    keys on different workers would be fetched for every pass, or copied once and
    dropped again by Dask's memory manager; an earlier task (the scan) may have left
    copies that make them look co-located for a while."""
    from distributed import wait

    token = uuid.uuid4().hex
    out = list(futures)
    made = {}
    for i, row in enumerate(futures):
        if sum(f is not None for f in row) > 1:
            made[i] = client.submit(_triple, *row, key=f"softreg-partition-{token}-{i}",
                                    workers=sorted(who.get(row[0].key) or ()) or None,
                                    allow_other_workers=True)
    if made:
        wait(list(made.values()))
        for i, future in made.items():
            out[i] = (future,)  # one key holding (X, y, s)
    return out


class ResidentPasses:
    """Passes over persisted partitions, grouped by the worker thread that holds them.

    A pass is one call to each worker that holds data (no scheduler, no task state, no
    result to gather afterwards) that computes each group in its worker's thread pool on
    the partitions the worker holds. Should that fail (a worker lost, a partition
    moved), the same groups run as ordinary tasks, which Dask reschedules and whose lost
    inputs it recomputes, and the next pass asks where the partitions are now; after
    ``MAX_DIRECT_FAILURES`` such failures an objective runs its passes as tasks only.

    Parameters
    ----------
    client : distributed.Client
    futures : list of (X, y or None, s or None) futures, one per partition

    Use :meth:`create`, which returns None when some partition is not in memory.
    """

    MAX_DIRECT_FAILURES = 3

    def __init__(self, client, futures: list[tuple]):
        self.client = client
        self.futures = futures
        self.token = uuid.uuid4().hex
        self._count = 0
        self._previous: list = []  # last pass's task futures (released after the next submit)
        self.failures = 0
        self.direct = DIRECT
        self.groups: list[tuple[str, list[int]]] = []
        self.direct_plan: dict | None = None
        self._blobs: dict[str, bytes] = {}  # worker -> its groups, pickled
        self._spec_blob: tuple | None = None  # (spec, pickled)
        #: connections of its own in the thread of the first pass (None: not yet, or off)
        self.channel: _direct.Channel | None = None
        self.plan()
        #: plan again after the next tasks pass (the data has moved, or pieces of a
        #: partition were on different workers: the tasks bring them together)
        self._stale = self.direct_plan is None

    @classmethod
    def create(cls, client, parts: list[tuple]) -> ResidentPasses | None:
        """Passes over ``parts`` [(X, y, s) Delayed], or None unless all are in memory."""
        from distributed import Future

        keys = []
        for triple in parts:
            row = []
            for p in triple:
                key = None if p is None else _resident_key(p)
                if p is not None and key is None:
                    return None
                row.append(key)
            keys.append(row)
        futures: list[tuple] = [tuple(None if k is None else Future(k, client) for k in row)
                                for row in keys]
        flat = [f for row in futures for f in row if f is not None]
        who = client.who_has(flat)
        if not flat or any(not who.get(f.key) for f in flat):
            return None
        return cls(client, _together(client, futures, who))

    def plan(self) -> None:
        """Group the partitions by a worker holding their X (y and s too where one does),
        and each worker's share into one contiguous run of partitions per worker thread,
        balanced by bytes. The direct plan exists when every partition has a worker that
        holds all of its pieces."""
        client = self.client
        flat = [f for row in self.futures for f in row if f is not None]
        who = client.who_has(flat)
        xs = [row[0] for row in self.futures]
        nbytes = client.nbytes([f.key for f in xs], summary=False)
        threads = client.nthreads()
        load: dict[str, int] = {}
        mine: dict[str, list[int]] = {}
        complete = True
        for i, row in enumerate(self.futures):
            holders = [set(who.get(f.key) or ()) for f in row if f is not None]
            common = set.intersection(*holders) if holders else set()
            if not common:
                complete = False
                common = holders[0] or set(threads)  # anywhere: Dask moves what is missing
            where = min(sorted(common), key=lambda w: load.get(w, 0))
            load[where] = load.get(where, 0) + nbytes.get(row[0].key, 1)
            mine.setdefault(where, []).append(i)
        groups = []
        for where in sorted(mine):
            idx = mine[where]
            n_groups = max(1, min(int(threads.get(where, 1)), len(idx)))
            sizes = [nbytes.get(xs[i].key, 1) for i in idx]
            total = sum(sizes)
            runs: list[list[int]] = []
            run: list[int] = []
            acc = 0
            for i, size in zip(idx, sizes, strict=True):
                run.append(i)
                acc += size
                if len(runs) < n_groups - 1 and acc * n_groups >= total * (len(runs) + 1):
                    runs.append(run)
                    run = []
            if run:
                runs.append(run)
            groups += [(where, r) for r in runs]
        # one list in partition order: the sum's order depends only on the grouping
        self.groups = sorted(groups, key=lambda g: g[1][0])
        self.direct_plan = None
        self._blobs = {}
        if complete:
            plan: dict[str, list] = {}
            for where, idx in self.groups:
                plan.setdefault(where, []).append(
                    [tuple(None if f is None else f.key for f in self.futures[i]) for i in idx])
            try:  # softreg's pass handler on these workers
                client.run(_direct.install, workers=sorted(plan))
            except Exception:  # a worker gone already: tasks, then plan again
                self._stale = True
                return
            self.direct_plan = plan
            self._blobs = {w: _direct.dumps(groups) for w, groups in plan.items()}

    def _direct(self, spec, method: str, args: tuple) -> list:
        """Each group's sum, in group order, straight from the workers that hold them."""
        if self._spec_blob is None or self._spec_blob[0] is not spec:
            self._spec_blob = (spec, _direct.dumps(spec))
        call = (self._spec_blob[1], self._blobs, method, _direct.dumps(args))
        if self.channel is None and CHANNEL:
            self.channel = _direct.Channel(self.client.connection_args, CONNECT_TIMEOUT)
        if self.channel is not None and self.channel.usable():
            out = self.channel.call(*call)
        else:
            out = self.client.sync(_direct.call_workers, self.client, *call, CONNECT_TIMEOUT)
        sums = {w: iter(v) for w, v in out.items()}
        return [next(sums[where]) for where, _ in self.groups]

    def _tasks(self, spec, method: str, args: tuple) -> list:
        """Each group's sum, in group order, as one task per group."""
        self._count += 1
        client = self.client
        tasks = [client.submit(_group_partial, spec, method, args,
                               [self.futures[i] for i in idx],
                               key=f"softreg-{method}-{self.token}-{self._count}-{g}",
                               workers=[where], allow_other_workers=True)
                 for g, (where, idx) in enumerate(self.groups)]
        self._previous = tasks  # released after the next pass's submit, not before it
        results = client.gather(tasks)
        if any(ran is not None and ran != where
               for (_, ran), (where, _) in zip(results, self.groups, strict=True)):
            self._stale = True  # a worker was lost or data moved
        return [total for total, _ in results]

    def run(self, spec, method: str, args: tuple, what: str):
        """The sum over all partitions of S_p / S * method(*args): one round trip."""
        with _naming_errors(what):
            if self.direct and self.direct_plan is not None:
                try:
                    return _add(*self._direct(spec, method, args))
                except Exception:
                    # a worker lost, a partition moved (or a genuine error, which the
                    # tasks raise again with Dask's own report)
                    self.failures += 1
                    self.direct = self.failures < self.MAX_DIRECT_FAILURES
                    self._stale = True
            total = _add(*self._tasks(spec, method, args))
            if self._stale and self.direct:
                # ask where the partitions are now (the tasks brought back what was lost)
                self._stale = False
                self.plan()
            return total
