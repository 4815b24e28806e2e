"""L-BFGS through scipy.optimize (the L-BFGS-B code, unbounded)."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ._common import CONVERGED, MAX_ITER, STALLED, Callback, IterationInfo, SolverResult, max_abs


def lbfgs(objective, theta0: np.ndarray, *, tol=1e-6, max_iter=1000, memory=10,
          callback: Callback = None) -> SolverResult:
    """Minimise ``objective`` with L-BFGS; stops when max |grad| <= tol.

    Also stops when the objective's relative decrease falls to a few ulps (reported as
    "stalled" unless the gradient test holds too).
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
    if gnorm <= tol:
        reason = CONVERGED
    elif res.status == 1:
        reason = MAX_ITER
    else:
        reason = STALLED
    return SolverResult(res.x, int(res.nit), reason, float(loss), gnorm, curve,
                        str(res.message))
