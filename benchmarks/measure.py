"""Measuring one fit: a fresh child process, wall time, peak memory, the objective J.

- :func:`run_in_child` runs a module-level function in a fresh ``spawn``-ed process (with a
  time limit) and returns what it returned; an exception or a timeout comes back as
  :class:`ChildFailed`.
- :class:`PeakMemory` measures how far the resident set grows above its level at the start
  of a block: the kernel's high-water mark (``VmHWM``) is reset on entry by writing "5" to
  ``/proc/self/clear_refs``; where that is not allowed, a thread samples ``VmRSS`` instead.
- :func:`fit_child` is what runs in the child: load the data saved by the parent, fit one
  model, return its parameters, iterations, passes, warnings, time and peak memory.
- :func:`objective_value` is J of any (coef, intercept) on the float64 data, always through
  the same reference objective.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import threading
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

PAGE = 1024  # /proc/self/status reports kB
#: max |grad J| the reference solution is solved to
REFERENCE_TOL = 1e-11
#: rows of the untimed warm-up fit that precedes every measured fit
WARM_UP_ROWS = 2000


class ChildFailed(RuntimeError):
    """The child raised (message: its traceback) or ran past its time limit."""


# -- memory ------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """Current resident set size of this process in bytes (0 where unknown)."""
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb * PAGE
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        return 0


def _malloc_trim() -> None:
    """Hand freed heap memory back to the kernel (glibc), so that RSS starts low."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = _status_kb("VmHWM"), _status_kb("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024  # within 1 MB


class PeakMemory:
    """Context manager: ``.peak`` = max RSS inside the block minus RSS on entry (bytes).

    ``.method`` says how it was measured: "VmHWM" (exact: the kernel's high-water mark,
    reset on entry) or "sampled" (a thread reading RSS every ``interval`` seconds, which
    can miss short spikes).
    """

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.peak = 0
        self.method = ""

    def __enter__(self):
        gc.collect()
        _malloc_trim()
        self._exact = _reset_high_water_mark()
        self.before = rss_bytes()
        self.method = "VmHWM" if self._exact else "sampled"
        if not self._exact:
            self._max = self.before
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._max = max(self._max, rss_bytes())

    def __exit__(self, *exc):
        if self._exact:
            top = _status_kb("VmHWM") * PAGE
        else:
            self._stop.set()
            self._thread.join()
            top = max(self._max, rss_bytes())
        self.peak = max(0, top - self.before)
        return False


def allocate_probe(nbytes: int) -> dict:
    """Allocate and touch ``nbytes`` inside :class:`PeakMemory`: checks the measurement."""
    with PeakMemory() as mem:
        a = np.ones(nbytes // 8)
        a[::512] += 1.0
        del a
    return {"peak": mem.peak, "method": mem.method}


# -- child processes ---------------------------------------------------------------------
def _child_main(conn, func, args, kwargs):
    try:
        result = ("ok", func(*args, **kwargs))
    except BaseException:  # noqa: B036 - report everything to the parent
        result = ("error", traceback.format_exc())
    conn.send(result)
    conn.close()


def run_in_child(func, *args, timeout: float | None = None, threads: int | None = None,
                 **kwargs):
    """Return ``func(*args, **kwargs)`` computed in a fresh spawned process.

    ``func`` must be importable (module level). ``threads``: the child starts with the
    thread-count variables of BLAS/OpenMP/numba set to it (see :func:`threads_env`).
    Raises :class:`ChildFailed` with the child's traceback if it raised, or if it ran
    longer than ``timeout`` seconds (then it is killed).
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, func, args, kwargs), daemon=True)
    with threads_env(threads) if threads else contextlib.nullcontext():
        proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            proc.kill()
            raise ChildFailed(f"timed out after {timeout:g} s")
        try:
            status, value = parent.recv()
        except EOFError:
            raise ChildFailed(f"child died (exit code {proc.join(5) or proc.exitcode})") \
                from None
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
        parent.close()
    if status != "ok":
        raise ChildFailed(value)
    return value


def limit_threads(threads: int | None) -> None:
    """Limit BLAS/OpenMP (threadpoolctl) and numba to ``threads`` in this process."""
    if not threads:
        return
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=threads)
    try:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


# -- data files --------------------------------------------------------------------------
def save_data(folder: Path, X, y) -> Path:
    """Save X (dense, any order, or CSR) and y under ``folder``; returns ``folder``.

    Dense X goes to one .npy file (its memory order is kept), so loading it allocates X
    once and nothing more.
    """
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "y.npy", y)
    if sp.issparse(X):
        X = X.tocsr()
        for part in ("data", "indices", "indptr"):
            np.save(folder / f"X_{part}.npy", getattr(X, part))
        np.save(folder / "X_shape.npy", np.array(X.shape))
    else:
        np.save(folder / "X.npy", X)
    return folder


def load_data(folder: Path):
    """(X, y) saved by :func:`save_data`."""
    folder = Path(folder)
    y = np.load(folder / "y.npy")
    if (folder / "X.npy").exists():
        return np.load(folder / "X.npy"), y
    parts = [np.load(folder / f"X_{p}.npy") for p in ("data", "indices", "indptr")]
    return sp.csr_matrix(tuple(parts), shape=tuple(np.load(folder / "X_shape.npy"))), y


def nbytes(X) -> int:
    """Bytes of X's arrays (data + indices + indptr for sparse)."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


# -- the fit -----------------------------------------------------------------------------
def make_model(library: str, solver: str, alpha: float, n: int, max_iter: int = 10_000):
    """An unfitted model: softreg at its defaults, or LogisticRegression(C=1/(alpha n)).

    softreg's J = mean CE + alpha/2 ||W||^2 is scikit-learn's multinomial objective with
    C = 1 / (alpha n) (K >= 3 classes). scikit-learn keeps its default tol; max_iter is
    raised so that it converges; random_state fixes saga's sample order.
    """
    if library == "softreg":
        from softreg import SoftmaxRegression
        return SoftmaxRegression(alpha=alpha) if solver == "default" else \
            SoftmaxRegression(alpha=alpha, solver=solver)
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=1.0 / (alpha * n), solver=solver, max_iter=max_iter,
                              random_state=0)


def _warm_up(X, y, library, solver, alpha, params, rows: int = WARM_UP_ROWS) -> None:
    """Fit the same model once on the first ``rows`` rows of X (same dtype and layout).

    Imports, first-call set-up and JIT compilation (cached or not) then happen here,
    before the measured fit, for every library alike.
    """
    m = min(rows, X.shape[0])
    if sp.issparse(X):
        Xw = X[:m]
    else:
        Xw = np.array(X[:m], order="F" if X.flags.f_contiguous and not X.flags.c_contiguous
                      else "C")
    model = make_model(library, solver, alpha, m)
    if params:
        model.set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xw, y[:m])


def fit_child(folder: str, library: str, solver: str, alpha: float,
              threads: int | None = None, params: dict | None = None) -> dict:
    """Load the data in ``folder``, fit one model, return what was measured.

    An untimed warm-up fit on the first rows comes first (see :func:`_warm_up`).

    Returns a dict: ``seconds`` (wall time of ``fit``), ``peak`` (bytes the process grew
    during fit), ``memory_method``, ``coef`` (K, d) and ``intercept`` (K,) as float64,
    ``n_iter``, ``n_passes`` (softreg only, else None), ``warnings`` (messages),
    ``x_bytes`` (bytes of X).
    """
    limit_threads(threads)
    X, y = load_data(Path(folder))
    _warm_up(X, y, library, solver, alpha, params)
    model = make_model(library, solver, alpha, X.shape[0])
    if params:
        model.set_params(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with PeakMemory() as mem:
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
    n_iter = np.max(np.atleast_1d(model.n_iter_))
    return {
        "seconds": seconds, "peak": mem.peak, "memory_method": mem.method,
        "coef": np.asarray(model.coef_, dtype=np.float64),
        "intercept": np.asarray(model.intercept_, dtype=np.float64),
        "n_iter": int(n_iter), "n_passes": getattr(model, "n_passes_", None),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "x_bytes": nbytes(X),
    }


# -- the objective -----------------------------------------------------------------------
def reference_objective(X, codes, alpha: float, n_classes: int):
    """softreg's J = datafit + L2 penalty on X (as float64), plain-NumPy kernel.

    Offers loss, loss_grad, loss_grad_hessp and pack (softreg.solvers.Penalised).
    """
    from softreg._objective import SoftmaxObjective
    from softreg.penalties import Penalty
    from softreg.solvers import Penalised
    X = X.astype(np.float64, copy=False)
    datafit = SoftmaxObjective(X, y=codes, fit_intercept=True, n_classes=n_classes,
                               kernel="reference")
    return Penalised(datafit, Penalty(alpha=alpha))


def objective_value(objective, coef, intercept) -> float:
    """J at coef (K, d) and intercept (K,) (shapes of ``coef_``/``intercept_``)."""
    theta = objective.pack(np.asarray(coef, np.float64).T, np.asarray(intercept, np.float64))
    return float(objective.loss(theta))


def gradient_max_norm(objective, coef, intercept) -> float:
    """max |grad J| at coef (K, d), intercept (K,)."""
    theta = objective.pack(np.asarray(coef, np.float64).T, np.asarray(intercept, np.float64))
    return float(np.max(np.abs(objective.loss_grad(theta)[1])))


def reference_solution(objective, start=None, tol: float = REFERENCE_TOL,
                       max_iter: int = 2000) -> dict:
    """A tight minimiser of ``objective``: SciPy's L-BFGS-B, then Newton steps, in float64.

    Independent of softreg's solvers and fast kernels (pass the
    :func:`reference_objective`). L-BFGS-B starts from ``start`` = (coef (K, d),
    intercept (K,)), the best fit found (zeros if None), and runs until max |grad J| <=
    ``tol``, ``max_iter`` iterations, or J no longer decreases in floating point (its
    line search needs J to; near the optimum J's changes fall below float64's resolution
    first). Newton-CG steps then take the gradient further down: they only need gradients
    and Hessian products, and a step is kept while it shrinks max |grad J|.
    Returns ``coef``, ``intercept``, ``grad`` (max |grad J| reached), ``message``.
    """
    from scipy.optimize import minimize

    theta0 = objective.zeros() if start is None else objective.pack(
        np.asarray(start[0], np.float64).T, np.asarray(start[1], np.float64))

    def fun(theta):
        return objective.loss_grad(theta)

    result = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                      options={"gtol": tol, "ftol": 0.0, "maxiter": max_iter, "maxcor": 20,
                               "maxls": 50})
    theta, newton_steps = _newton_polish(objective, result.x, tol)
    W, b = objective.unpack(theta)
    coef, intercept = np.array(W.T), np.array(b)
    return {"coef": coef, "intercept": intercept,
            "grad": gradient_max_norm(objective, coef, intercept),
            "message": f"L-BFGS-B: {str(result.message).lower().rstrip('.')} after "
                       f"{result.nit} iterations, then {newton_steps} Newton step(s)"}


def _newton_polish(objective, theta, tol: float, steps: int = 4, cg_iter: int = 250):
    """(theta, steps taken): Newton-CG steps from theta while they shrink max |grad J|."""
    from scipy.sparse.linalg import LinearOperator, cg

    def at(point):
        _, grad, hessp = objective.loss_grad_hessp(point)
        return grad, hessp, float(np.max(np.abs(grad)))

    grad, hessp, size = at(theta)
    taken = 0
    while taken < steps and size > tol:
        H = LinearOperator((theta.size, theta.size), matvec=hessp, dtype=np.float64)
        step, _ = cg(H, -grad, rtol=1e-4, maxiter=cg_iter)
        new = at(theta + step)
        if not new[2] < size:
            break
        theta, (grad, hessp, size) = theta + step, new
        taken += 1
    return theta, taken


@contextlib.contextmanager
def threads_env(threads: int):
    """Within the block, set the thread-count variables a child process inherits (BLAS
    and numba read them when they load); restored afterwards, so that this process's own,
    already loaded libraries never see them changed (numba refuses that)."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "NUMBA_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(threads) for name in names})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
