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
from ._precondition import feature_preconditioner


def conjugate_gradient(hessp, rhs: np.ndarray, *, rtol: float, max_iter: int,
                       precondition=None) -> np.ndarray:
    """Approximately solve H p = rhs for a positive semi-definite H given by ``hessp``.

    ``precondition``: a function v -> M^-1 v for a positive definite M close to H
    (preconditioned CG), or None. Stops when ||H p - rhs|| <= rtol * ||rhs||, or on
    (near-)zero or negative curvature, returning the last iterate (the preconditioned
    rhs when the first direction already fails).
    """
    def solve_m(v):
        return v.copy() if precondition is None else precondition(v)

    p = np.zeros_like(rhs)
    r = rhs.copy()
    z = solve_m(r)
    direction = z.copy()
    rz = float(r @ z)
    stop = (rtol ** 2) * float(r @ r)
    for _ in range(max_iter):
        Hd = hessp(direction)
        curvature = float(direction @ Hd)
        if curvature <= 1e-14 * float(direction @ direction):
            return p if np.any(p) else solve_m(rhs)
        step = rz / curvature
        p += step * direction
        r -= step * Hd
        if float(r @ r) <= stop:
            break
        z = solve_m(r)
        rz_new = float(r @ z)
        direction = z + (rz_new / rz) * direction
        rz = rz_new
    return p


def newton_cg(objective, theta0: np.ndarray, *, tol=1e-6, max_iter=100, max_cg=None,
              callback: Callback = None, precondition=True, polish=False) -> SolverResult:
    """Minimise ``objective`` by inexact Newton steps; stops when max |grad| <= tol.

    The Newton system is solved by conjugate gradients to relative accuracy
    min(0.5, sqrt(||g||)) (superlinear convergence near the optimum), preconditioned by
    the feature preconditioner (``precondition``: True to build it, False for none, or a
    ready :class:`FeaturePreconditioner`); then a backtracking line search from step 1
    keeps every iteration a descent step.

    With ``polish``, once max |grad| <= tol, one more Newton step is taken (kept only if it
    lowers the loss and the gradient): near the optimum Newton's error roughly squares, so
    for the price of one iteration the parameters gain several digits beyond ``tol``. It is
    not counted in ``n_iter`` nor in the loss curve.
    """
    if precondition is True:
        precondition = feature_preconditioner(objective)
    solve_m = precondition.inverse if precondition else None
    theta = np.array(theta0, dtype=np.float64, copy=True)
    max_cg = max_cg or min(200, theta.size)
    curve: list[float] = []
    reason, message = MAX_ITER, ""
    loss, grad, hessp = objective.loss_grad_hessp(theta)
    it = 0
    for it in range(1, max_iter + 1):
        if max_abs(grad) <= tol:
            reason, it = CONVERGED, it - 1
            if polish:
                theta, loss, grad = _polish(objective, theta, loss, grad, hessp, solve_m,
                                            max_cg)
            break
        gnorm2 = float(np.linalg.norm(grad))
        p = conjugate_gradient(hessp, -grad, rtol=min(0.5, np.sqrt(gnorm2)), max_iter=max_cg,
                               precondition=solve_m)
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


def _polish(objective, theta, loss, grad, hessp, solve_m, max_cg):
    """(theta, loss, grad) after one more Newton step from a converged point, if it helps."""
    gnorm = float(np.linalg.norm(grad))
    if gnorm == 0.0:
        return theta, loss, grad
    p = conjugate_gradient(hessp, -grad, rtol=min(0.5, np.sqrt(gnorm)), max_iter=max_cg,
                           precondition=solve_m)
    slope = float(grad @ p)
    if not slope < 0:
        return theta, loss, grad
    t = backtracking_line_search(objective, theta, loss, grad, p, slope)
    if t is None:
        return theta, loss, grad
    new = theta + t * p
    new_loss, new_grad = objective.loss_grad(new)
    if new_loss <= loss and max_abs(new_grad) <= max_abs(grad):
        return new, new_loss, new_grad
    return theta, loss, grad

