"""The machine's limit for one pass over X, and how far one evaluation of J is from it.

One objective+gradient evaluation must read X twice in principle (Z = X W, then X^T G),
but a fused kernel can read it once; its two matrix products cost 2 * (2 n d K) flops.
Its lower bound here is

    limit = max(time to stream X once from memory, 4 n d K / peak GEMM rate),

with the streaming time the fastest read-only NumPy pass over X found (best of several
runs, all threads) and the GEMM rate the best of a few large square products in X's dtype.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def best_time(func, repeats: int = 5) -> float:
    """Smallest wall time of ``func()`` over ``repeats`` calls (after one warm-up)."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def stream_time(X: np.ndarray, threads: int, repeats: int = 5) -> tuple[float, str]:
    """(seconds, how) of the fastest read-only pass over dense X (n, d) found.

    Candidates: ``X.sum(axis=0)``; the BLAS products ``ones @ X`` and ``X @ ones`` (gemv,
    threaded); per-thread sums over blocks of rows (C-order) or columns (F-order).
    """
    n, d = X.shape
    ones_n, ones_d = np.ones(n, X.dtype), np.ones(d, X.dtype)
    axis = 0 if X.flags.c_contiguous else 1
    size = X.shape[axis]
    bounds = np.linspace(0, size, threads * 4 + 1).astype(int)
    blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    pool = ThreadPoolExecutor(max(1, threads))

    def blocked():
        if axis == 0:
            return list(pool.map(lambda s: X[s].sum(axis=0), blocks))
        return list(pool.map(lambda s: X[:, s].sum(axis=1), blocks))

    candidates = {
        "X.sum(axis=0)": lambda: X.sum(axis=0),
        "ones @ X (gemv)": lambda: ones_n @ X,
        "X @ ones (gemv)": lambda: X @ ones_d,
        f"sum over row/column blocks, {threads} threads": blocked,
    }
    try:
        timed = {how: best_time(f, repeats) for how, f in candidates.items()}
    finally:
        pool.shutdown()
    how = min(timed, key=timed.get)
    return timed[how], how


def gemm_rate(dtype, size: int = 2048, repeats: int = 3) -> float:
    """Best GEMM rate in flop/s for square (size, size) products in ``dtype``."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size)).astype(dtype)
    B = rng.standard_normal((size, size)).astype(dtype)
    return 2.0 * size ** 3 / best_time(lambda: A @ B, repeats)


def blas_blocks_time(X, y, n_classes: int, repeats: int = 3, block_bytes: int = 1 << 18) -> float:
    """Best wall time of one evaluation (loss and W-gradient) built on BLAS GEMMs.

    The alternative to a hand kernel: per row block of about ``block_bytes`` (float64,
    cache-sized) Z = X_b W by one GEMM, the max-shifted softmax and the residual
    R = (P - Y) / n in NumPy, then G += X_b^T R by a second GEMM. float32 blocks are widened
    to float64 first, as the kernels' arithmetic is.
    """
    n, d = X.shape
    rows = max(64, block_bytes // (8 * d))
    rng = np.random.default_rng(1)
    W = 0.01 * rng.standard_normal((d, n_classes))
    b = np.zeros(n_classes)

    def evaluate():
        G = np.zeros((d, n_classes))
        loss = 0.0
        for lo in range(0, n, rows):
            Xb = np.asarray(X[lo:lo + rows], dtype=np.float64)
            Z = Xb @ W + b
            Z -= Z.max(axis=1, keepdims=True)
            np.exp(Z, out=Z)
            total = Z.sum(axis=1)
            idx = np.arange(len(Xb))
            yb = y[lo:lo + rows]
            loss -= float(np.sum(np.log(Z[idx, yb] / total)))
            Z /= total[:, None] * n
            Z[idx, yb] -= 1.0 / n
            G += Xb.T @ Z
        return loss / n, G

    return best_time(evaluate, repeats)


def evaluation_times(X, y, n_classes: int, alpha: float, repeats: int = 10,
                     precision: str = "float64") -> list[float]:
    """Wall times of ``repeats`` objective+gradient evaluations at distinct points.

    Uses softreg's datafit as ``fit`` builds it (default kernel; the penalty, a few
    flops on the parameters, is left out), alternating two parameter vectors so that
    its one-point cache never answers. ``precision``: the datafit's arithmetic ("mixed":
    float32 products, what L-BFGS uses on float32 X until near tol). ``alpha`` is unused
    (kept for the callers).
    """
    from softreg._objective import SoftmaxObjective
    objective = SoftmaxObjective(X, y=y, fit_intercept=True, n_classes=n_classes)
    objective.set_precision(precision)
    rng = np.random.default_rng(0)
    thetas = [0.01 * rng.standard_normal(objective.n_params) for _ in range(2)]
    for theta in thetas:  # warm-up (and any compilation)
        objective.loss_grad(theta)
    times = []
    for i in range(repeats):
        objective._cache = None
        start = time.perf_counter()
        objective.loss_grad(thetas[i % 2])
        times.append(time.perf_counter() - start)
    return times


def machine_limit_child(folder: str, n_classes: int, alpha: float, threads: int,
                        repeats: int = 10) -> dict:
    """Measure the limit and one evaluation on the data in ``folder`` (run in a child).

    Returns seconds: ``stream`` (+ ``stream_how``), ``flops_time`` at ``gemm_rate`` flop/s,
    ``limit`` = max of the two (the tighter bound), ``eval_best`` and ``eval_median`` of the
    evaluations (float64 arithmetic), ``eval_fit_best`` / ``eval_fit_median`` of the
    evaluation most of a default fit's passes make (float32 X: mixed precision, float32
    products; else the same as ``eval_best``), ``blas_blocks`` (:func:`blas_blocks_time`);
    and ``x_bytes``, ``bandwidth`` (bytes/s of the streaming pass).
    """
    from .measure import limit_threads, load_data
    limit_threads(threads)
    X, y = load_data(folder)
    n, d = X.shape
    stream, how = stream_time(X, threads)
    rate = gemm_rate(X.dtype)
    flops_time = 2 * (2.0 * n * d * n_classes) / rate
    evals = evaluation_times(X, y, n_classes, alpha, repeats)
    fit_evals = evaluation_times(X, y, n_classes, alpha, repeats, precision="mixed") \
        if X.dtype == np.float32 else evals
    blas = blas_blocks_time(X, y, n_classes)
    return {"blas_blocks": blas, "stream": stream, "stream_how": how, "gemm_rate": rate,
            "flops_time": flops_time,
            "limit": max(stream, flops_time), "eval_best": min(evals),
            "eval_median": statistics.median(evals), "eval_fit_best": min(fit_evals),
            "eval_fit_median": statistics.median(fit_evals), "x_bytes": X.nbytes,
            "bandwidth": X.nbytes / stream}
