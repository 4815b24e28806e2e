"""Batch gradient descent, the seed's method: theta <- theta - eta * grad J(theta)."""

from __future__ import annotations

import numpy as np

from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    Callback,
    SolverResult,
    backtracking_line_search,
    check_finite_step,
    finish,
    max_abs,
    record_iteration,
    smooth_objective,
)


def gradient_descent(datafit, penalty: Penalty | None, theta0: np.ndarray, *,
                     learning_rate="auto", tol=1e-6, max_iter=1000,
                     callback: Callback = None) -> SolverResult:
    """Minimise J = datafit + penalty (smooth) by full-batch gradient descent.

    With a float ``learning_rate`` eta every iteration is exactly
    ``theta <- theta - eta * grad J(theta)`` (so W <- W - eta (grad mean-CE + alpha W) and
    b <- b - eta grad mean-CE). With ``"auto"`` the step starts at 1/L for the smoothness
    bound L; each iteration then tries the Barzilai-Borwein step (s.s / s.r for the last
    change s of theta and r of the gradient) and halves it until the objective decreases
    enough (Armijo backtracking).

    Stops when max |grad| <= tol. A fixed step that makes the objective non-finite raises
    :class:`DivergenceError`. Needs ``loss_grad`` (and ``smoothness_bound``).
    """
    objective = smooth_objective(datafit, penalty, "gd", "loss_grad", "smoothness_bound")
    theta = np.array(theta0, dtype=np.float64, copy=True)
    loss, grad = objective.loss_grad(theta)
    curve: list[float] = []
    fixed = not isinstance(learning_rate, str)
    step = float(learning_rate) if fixed else 1.0 / objective.smoothness_bound()
    reason, message = MAX_ITER, ""
    prev_theta = prev_grad = None
    it = 0
    for it in range(1, max_iter + 1):
        if max_abs(grad) <= tol:
            reason, it = CONVERGED, it - 1
            break
        if fixed:
            theta = theta - step * grad
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked next
                loss, grad = objective.loss_grad(theta)
            check_finite_step(loss, theta, it, f"learning_rate={step:g} is too large for "
                              f"this data; the safe step here is about "
                              f"{1.0 / objective.smoothness_bound():.3g}, or use "
                              "learning_rate='auto'")
        else:
            g2 = float(np.dot(grad, grad))
            if prev_theta is not None:
                s_, r_ = theta - prev_theta, grad - prev_grad
                sr = float(np.dot(s_, r_))
                step = float(np.dot(s_, s_)) / sr if sr > 0 else 2.0 * step
            prev_theta, prev_grad = theta, grad
            t = backtracking_line_search(objective, theta, loss, grad, -grad, -g2, step=step)
            if t is None:
                reason, message = STALLED, "no step along the gradient decreased the objective"
                it -= 1
                break
            step = t
            theta = theta - t * grad
            loss, grad = objective.loss_grad(theta)
        record_iteration(curve, callback, it, loss, max_abs(grad))
    return finish(theta, it, reason, loss, grad, curve, message, tol)
