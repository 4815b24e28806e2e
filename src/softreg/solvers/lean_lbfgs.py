"""L-BFGS in a few NumPy lines, for many small warm-started fits (a CV path).

The same method as :func:`softreg.solvers.lbfgs` (limited-memory BFGS on the whitened
coordinates u = L^T theta of :mod:`._precondition`, stopping at max |grad J| <= tol in
the original parameters), without scipy's L-BFGS-B driver: on a problem of a few
thousand rows a pass over X takes a fraction of a millisecond and the driver's per-
iteration overhead (its Fortran state machine, wrappers, callbacks) cost more than the
pass. Here an iteration is the two-loop recursion on at most ``memory`` pairs (about
4 m n_params flops) and an Armijo backtracking line search from the unit step
(:func:`._common.backtracking_line_search`), which L-BFGS nearly always accepts.

Pairs with too little curvature (s.y <= 1e-10 |y|^2 ... never negative on a convex J,
but rounding) are skipped. When no step along the L-BFGS direction decreases J, the
memory is dropped and the steepest descent direction tried; when that fails too (J flat
to rounding near the optimum), Newton steps finish as in :func:`softreg.solvers.lbfgs`.
"""

from __future__ import annotations

import numpy as np

from .._jit import njit, numba
from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    SolverResult,
    backtracking_line_search,
    max_abs,
    smooth_objective,
)
from ._precondition import FeaturePreconditioner, feature_preconditioner
from .newton import newton


def _two_loop(g: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray, first: int,
              count: int) -> np.ndarray:
    """-H g for the L-BFGS inverse Hessian H of the stored pairs.

    S, Y : ndarray of shape (memory, n) ring buffers of the pairs (s, y); rho (memory,)
    = 1 / s.y; the pairs are rows first, first + 1, ... (mod memory), ``count`` of them,
    oldest first. Plain loops: numba compiles them (a few microseconds on a few hundred
    parameters, where NumPy's per-call overhead would cost more than the arithmetic).
    """
    m, n = S.shape
    q = g.copy()
    a = np.zeros(m)
    for r in range(count - 1, -1, -1):
        i = (first + r) % m
        dot = 0.0
        for j in range(n):
            dot += S[i, j] * q[j]
        a[i] = rho[i] * dot
        for j in range(n):
            q[j] -= a[i] * Y[i, j]
    if count > 0:
        i = (first + count - 1) % m
        sy = 0.0
        yy = 0.0
        for j in range(n):
            sy += S[i, j] * Y[i, j]
            yy += Y[i, j] * Y[i, j]
        for j in range(n):
            q[j] *= sy / yy
    for r in range(count):
        i = (first + r) % m
        dot = 0.0
        for j in range(n):
            dot += Y[i, j] * q[j]
        beta = a[i] - rho[i] * dot
        for j in range(n):
            q[j] += beta * S[i, j]
    return -q


if numba is not None:
    _two_loop = njit(cache=True, nogil=True)(_two_loop)


def lean_lbfgs(datafit, penalty: Penalty | None, theta0: np.ndarray, *, tol=1e-6,
               max_iter=1000, memory=10,
               precondition: bool | FeaturePreconditioner = True) -> SolverResult:
    """Minimise J = datafit + penalty (smooth) by L-BFGS; stops when max |grad J| <= tol.

    Parameters
    ----------
    datafit : Datafit with ``loss_grad`` (and ``feature_moments`` when preconditioned)
    penalty : Penalty or None, smooth (no L1 part)
    theta0 : ndarray of shape (n_params,), the starting point (a warm start)
    tol : float, the bound on max |grad J|
    max_iter : int, L-BFGS iterations
    memory : int, the number of (s, y) pairs kept
    precondition : bool or a FeaturePreconditioner built for this datafit and penalty

    Returns
    -------
    SolverResult (``n_iter`` counts L-BFGS iterations, plus Newton ones if it needed them)
    """
    needs = ("loss_grad", "feature_moments") if precondition is True else ("loss_grad",)
    objective = smooth_objective(datafit, penalty, "lbfgs", *needs)
    pre = feature_preconditioner(datafit, objective.penalty) if precondition is True \
        else (precondition or None)
    theta = np.array(theta0, dtype=np.float64, copy=True)
    loss, grad = objective.loss_grad(theta)
    g_u = grad if pre is None else pre.grad_to_u(grad)
    n_params = theta.size
    S = np.zeros((memory, n_params))
    Y = np.zeros((memory, n_params))
    rho = np.zeros(memory)
    first = count = 0
    curve: list[float] = []
    it = 0
    stalled = False
    while max_abs(grad) > tol:
        if it >= max_iter:
            return SolverResult(theta, it, MAX_ITER, float(loss), max_abs(grad), curve,
                                f"reached max_iter={max_iter}")
        p_u = _two_loop(g_u, S, Y, rho, first, count)
        # the first step (no curvature known yet) is scaled to length 1 in u
        step = 1.0 if count else min(1.0, 1.0 / max(float(np.linalg.norm(g_u)), 1e-300))
        p = p_u if pre is None else pre.to_params(p_u)
        slope = float(g_u @ p_u)  # = grad . p: the change of variables is linear
        t = backtracking_line_search(objective, theta, loss, grad, p, slope, step=step) \
            if slope < 0 else None
        if t is None:
            if not count:
                stalled = True
                break
            first = count = 0  # forget the curvature pairs, try steepest descent
            continue
        theta = theta + t * p
        loss, grad = objective.loss_grad(theta)  # the line search's last trial: cached
        new_g_u = grad if pre is None else pre.grad_to_u(grad)
        s, y = t * p_u, new_g_u - g_u
        sy, yy = float(s @ y), float(y @ y)
        if sy > 1e-10 * yy:
            i = (first + count) % memory
            S[i], Y[i], rho[i] = s, y, 1.0 / sy
            if count < memory:
                count += 1
            else:
                first = (first + 1) % memory
        g_u = new_g_u
        it += 1
        curve.append(float(loss))
    gnorm = max_abs(grad)
    if not stalled:
        return SolverResult(theta, it, CONVERGED, float(loss), gnorm, curve)
    # J is flat to rounding along every direction tried: Newton steps, steered by the
    # gradient, finish the job (as lbfgs does after scipy stops)
    polish = newton(datafit, objective.penalty, theta, tol=tol,
                    max_iter=max(1, min(20, max_iter - it)),
                    precondition=pre if pre is not None else False)
    return SolverResult(polish.params, it + polish.n_iter, polish.stop_reason, polish.loss,
                        polish.grad_norm, curve + polish.loss_curve, polish.message)
