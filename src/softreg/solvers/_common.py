"""What every solver returns and reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: why a solver stopped
CONVERGED = "converged"  # the optimality test passed: max |grad J| (or its L1 analogue) <= tol
MAX_ITER = "max_iter"  # ran out of iterations first
STALLED = "stalled"  # no step decreased the objective (at the limit of floating point)


@dataclass(frozen=True)
class IterationInfo:
    """What a solver tells its callback after each iteration."""

    iteration: int
    loss: float
    grad_norm: float  # max |gradient| (nan where the solver does not compute it)


@dataclass
class SolverResult:
    """The outcome of a solver: flat parameters and how the run went.

    params : ndarray of shape (n_params,), float64
    loss_curve : list of the objective after each iteration (length n_iter)
    """

    params: np.ndarray
    n_iter: int
    stop_reason: str
    loss: float
    grad_norm: float
    loss_curve: list[float] = field(default_factory=list)
    message: str = ""


Callback = Callable[[IterationInfo], None] | None


class DivergenceError(ArithmeticError, ValueError):
    """A fixed step made the objective or the parameters non-finite."""


def check_finite_step(loss: float, theta: np.ndarray, iteration: int, hint: str) -> None:
    """Raise DivergenceError when the objective or the parameters stopped being finite."""
    if not (np.isfinite(loss) and np.all(np.isfinite(theta))):
        raise DivergenceError(
            f"the optimisation diverged at iteration {iteration}: the objective became "
            f"{loss!r}; {hint}"
        )


def max_abs(g: np.ndarray) -> float:
    return float(np.max(np.abs(g), initial=0.0))


def backtracking_line_search(objective, theta: np.ndarray, loss: float, grad: np.ndarray,
                             direction: np.ndarray, slope: float, step: float = 1.0,
                             min_step: float = 1e-12) -> float | None:
    """Armijo backtracking: the first of step, step/2, ... with a sufficient decrease.

    ``slope`` is grad . direction (< 0). Near the optimum the objective changes by less
    than its rounding error, so a trial whose value equals the current one within a few
    ulps is accepted when it reduces the gradient norm instead (the gradient stays
    informative after the value no longer is). Returns None when no step works.
    """
    noise = 16 * np.finfo(float).eps * max(1.0, abs(loss))
    gnorm = float(np.linalg.norm(grad))
    t = step
    while t >= min_step * step:
        trial = theta + t * direction
        trial_loss = objective.loss(trial)
        if np.isfinite(trial_loss):
            if trial_loss <= loss + 1e-4 * t * slope and trial_loss < loss:
                return t
            if abs(trial_loss - loss) <= noise and \
                    np.linalg.norm(objective.loss_grad(trial)[1]) < gnorm:
                return t
        t *= 0.5
    return None
