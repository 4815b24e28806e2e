"""Truncated Newton (Newton-CG) with an Armijo line search, using Hessian-vector products.

No Hessian is formed: each conjugate-gradient step costs one pass over X.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    Callback,
    IterationInfo,
    SolverResult,
    backtracking_line_search,
    max_abs,
)


def conjugate_gradient(hessp, rhs: np.ndarray, *, rtol: float, max_iter: int) -> np.ndarray:
    """Approximately solve H p = rhs for a positive semi-definite H given by ``hessp``.

    Stops when ||H p - rhs|| <= rtol * ||rhs||, or on (near-)zero or negative curvature,
    returning the last iterate (rhs itself when the first direction already fails).
    """
    p = np.zeros_like(rhs)
    r = rhs.copy()
    direction = r.copy()
    rr = float(r @ r)
    stop = (rtol ** 2) * rr
    for _ in range(max_iter):
        Hd = hessp(direction)
        curvature = float(direction @ Hd)
        if curvature <= 1e-14 * float(direction @ direction):
            return p if np.any(p) else rhs
        step = rr / curvature
        p += step * direction
        r -= step * Hd
        rr_new = float(r @ r)
        if rr_new <= stop:
            break
        direction = r + (rr_new / rr) * direction
        rr = rr_new
    return p


def newton_cg(objective, theta0: np.ndarray, *, tol=1e-6, max_iter=100, max_cg=None,
              callback: Callback = None) -> SolverResult:
    """Minimise ``objective`` by inexact Newton steps; stops when max |grad| <= tol.

    The Newton system is solved to relative accuracy min(0.5, sqrt(||g||)) (superlinear
    convergence near the optimum), then a backtracking line search from step 1 keeps
    every iteration a descent step.
    """
    theta = np.array(theta0, dtype=np.float64, copy=True)
    max_cg = max_cg or min(200, theta.size)
    curve: list[float] = []
    reason, message = MAX_ITER, ""
    loss, grad, hessp = objective.loss_grad_hessp(theta)
    it = 0
    for it in range(1, max_iter + 1):
        if max_abs(grad) <= tol:
            reason, it = CONVERGED, it - 1
            break
        gnorm2 = float(np.linalg.norm(grad))
        p = conjugate_gradient(hessp, -grad, rtol=min(0.5, np.sqrt(gnorm2)), max_iter=max_cg)
        slope = float(grad @ p)
        if slope >= 0:  # not a descent direction (numerical trouble): fall back to -grad
            p, slope = -grad, -gnorm2 ** 2
        t = backtracking_line_search(objective, theta, loss, grad, p, slope)
        if t is None:
            reason, message = STALLED, "the line search found no decrease along the Newton step"
            it -= 1
            break
        theta = theta + t * p
        loss, grad, hessp = objective.loss_grad_hessp(theta)
        curve.append(loss)
        if callback is not None:
            callback(IterationInfo(it, loss, max_abs(grad)))
    else:
        if max_abs(grad) <= tol:
            reason = CONVERGED
    return SolverResult(theta, it, reason, loss, max_abs(grad), curve, message)

