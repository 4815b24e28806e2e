"""Batch gradient descent, the seed's method: theta <- theta - eta * grad J(theta)."""

from __future__ import annotations

import numpy as np

from ._common import (
    CONVERGED, MAX_ITER, STALLED, Callback, IterationInfo, SolverResult,
    check_finite_step, max_abs,
)


def gradient_descent(objective, theta0: np.ndarray, *, learning_rate="auto", tol=1e-6,
                     max_iter=1000, callback: Callback = None) -> SolverResult:
    """Minimise ``objective`` by full-batch gradient descent.

    With a float ``learning_rate`` eta every iteration is exactly
    ``theta <- theta - eta * grad J(theta)`` (so W <- W - eta (grad mean-CE + alpha W) and
    b <- b - eta grad mean-CE). With ``"auto"`` the step starts at 1/L for the smoothness
    bound L and is chosen by Armijo backtracking each iteration (grown by 2 after an
    accepted step, halved until the objective decreases enough).

    Stops when max |grad| <= tol. A fixed step that makes the objective non-finite raises
    :class:`DivergenceError`.
    """
    theta = np.array(theta0, dtype=np.float64, copy=True)
    loss, grad = objective.loss_grad(theta)
    curve: list[float] = []
    fixed = not isinstance(learning_rate, str)
    step = float(learning_rate) if fixed else 1.0 / objective.smoothness_bound()
    reason, message = MAX_ITER, ""
    it = 0
    for it in range(1, max_iter + 1):
        if max_abs(grad) <= tol:
            reason, it = CONVERGED, it - 1
            break
        if fixed:
            theta = theta - step * grad
            loss, grad = objective.loss_grad(theta)
            check_finite_step(loss, theta, it, f"learning_rate={step:g} is too large for "
                              f"this data; the safe step here is about "
                              f"{1.0 / objective.smoothness_bound():.3g}, or use "
                              "learning_rate='auto'")
        else:
            g2 = float(np.dot(grad, grad))
            step *= 2.0
            while True:
                trial = theta - step * grad
                trial_loss = objective.loss(trial)
                if np.isfinite(trial_loss) and trial_loss <= loss - 0.5 * step * g2:
                    break
                step *= 0.5
                if step * np.sqrt(g2) <= 1e-14 * (1.0 + np.linalg.norm(theta)):
                    trial = None
                    break
            if trial is None:
                reason, message = STALLED, "no step along the gradient decreased the objective"
                it -= 1
                break
            theta = trial
            loss, grad = objective.loss_grad(theta)
        curve.append(loss)
        if callback is not None:
            callback(IterationInfo(it, loss, max_abs(grad)))
    else:
        if max_abs(grad) <= tol:
            reason = CONVERGED
    return SolverResult(theta, it, reason, loss, max_abs(grad), curve, message)
