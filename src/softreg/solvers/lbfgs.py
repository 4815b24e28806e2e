"""L-BFGS through scipy.optimize (the L-BFGS-B code, unbounded)."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._common import CONVERGED, MAX_ITER, Callback, IterationInfo, SolverResult, max_abs
from .newton import newton_cg


def lbfgs(objective, theta0: np.ndarray, *, tol=1e-6, max_iter=1000, memory=10,
          callback: Callback = None) -> SolverResult:
    """Minimise ``objective`` with L-BFGS; stops when max |grad| <= tol.

    When L-BFGS stops early because the objective's value no longer changes (rounding),
    a few Newton-CG steps finish the convergence to tol.
    """
    curve: list[float] = []

    def on_iteration(intermediate_result):
        curve.append(float(intermediate_result.fun))
        if callback is not None:
            callback(IterationInfo(len(curve), curve[-1], float("nan")))

    res = optimize.minimize(
        objective.loss_grad, np.asarray(theta0, dtype=np.float64), jac=True,
        method="L-BFGS-B", callback=on_iteration,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 4 * np.finfo(float).eps,
                 "maxcor": memory, "maxls": 50},
    )
    loss, grad = objective.loss_grad(res.x)  # cached: costs no pass
    gnorm = max_abs(grad)
    n_iter = int(res.nit)
    if gnorm <= tol:
        return SolverResult(res.x, n_iter, CONVERGED, float(loss), gnorm, curve)
    if res.status == 1:
        return SolverResult(res.x, n_iter, MAX_ITER, float(loss), gnorm, curve, str(res.message))
    # L-BFGS's line search needs the objective's value to change, which stops it once the
    # value is flat to rounding error; Newton steps, steered by the gradient, finish the job.
    polish = newton_cg(objective, res.x, tol=tol, max_iter=max(1, min(20, max_iter - n_iter)))
    return SolverResult(polish.params, n_iter + polish.n_iter, polish.stop_reason,
                        polish.loss, polish.grad_norm, curve + polish.loss_curve,
                        polish.message or str(res.message))
