"""L-BFGS through scipy.optimize (the L-BFGS-B code, unbounded), preconditioned.

The iterations run on whitened coordinates u = L^T theta (see :mod:`._precondition`),
which removes the ill-conditioning that correlated or badly scaled features cause;
convergence is still judged on the gradient of J in the original parameters.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    Callback,
    IterationInfo,
    SolverResult,
    max_abs,
    smooth_objective,
)
from ._precondition import feature_preconditioner
from .newton import newton


def lbfgs(datafit, penalty: Penalty | None, theta0: np.ndarray, *, tol=1e-6, max_iter=1000,
          memory=10, callback: Callback = None, precondition: bool = True) -> SolverResult:
    """Minimise J = datafit + penalty (smooth) with L-BFGS; stops when max |grad J| <= tol.

    Needs ``loss_grad`` (and ``feature_moments`` with ``precondition``: whitened
    coordinates, one extra pass over X). When L-BFGS stops early because J's value no
    longer changes (rounding), a few Newton steps finish the convergence to tol.
    """
    needs = ("loss_grad", "feature_moments") if precondition else ("loss_grad",)
    objective = smooth_objective(datafit, penalty, "lbfgs", *needs)
    pre = feature_preconditioner(datafit, objective.penalty) if precondition else None
    theta0 = np.asarray(theta0, dtype=np.float64)
    if pre is None:
        def to_theta(u):
            return u

        fun, u0 = objective.loss_grad, theta0
    else:
        to_theta = pre.to_params

        def fun(u):
            loss, grad = objective.loss_grad(pre.to_params(u))
            return loss, pre.grad_to_u(grad)

        u0 = pre.from_params(theta0)

    curve: list[float] = []

    def on_iteration(intermediate_result):
        # the accepted point was the last one evaluated: the objective's cache answers
        loss, grad = objective.loss_grad(to_theta(intermediate_result.x))
        curve.append(float(loss))
        gnorm = max_abs(grad)
        if callback is not None:
            callback(IterationInfo(len(curve), curve[-1], gnorm))
        if gnorm <= tol:
            raise StopIteration

    res = optimize.minimize(
        fun, u0, jac=True, method="L-BFGS-B", callback=on_iteration,
        options={"maxiter": max_iter, "gtol": 0.0, "ftol": 4 * np.finfo(float).eps,
                 "maxcor": memory, "maxls": 50, "maxfun": 10 * max_iter + 100},
    )
    theta = to_theta(res.x)
    loss, grad = objective.loss_grad(theta)  # cached: costs no pass
    gnorm = max_abs(grad)
    n_iter = len(curve)
    if gnorm <= tol:
        return SolverResult(theta, n_iter, CONVERGED, float(loss), gnorm, curve)
    if n_iter >= max_iter or res.status == 1:
        return SolverResult(theta, n_iter, MAX_ITER, float(loss), gnorm, curve, str(res.message))
    # L-BFGS's line search needs the objective's value to change, which stops it once the
    # value is flat to rounding error; Newton steps, steered by the gradient, finish the job.
    polish = newton(datafit, objective.penalty, theta, tol=tol,
                    max_iter=max(1, min(20, max_iter - n_iter)),
                    precondition=pre if pre is not None else False)
    return SolverResult(polish.params, n_iter + polish.n_iter, polish.stop_reason,
                        polish.loss, polish.grad_norm, curve + polish.loss_curve,
                        polish.message or str(res.message))
