"""What every solver returns and reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: why a solver stopped
CONVERGED = "converged"  # gradient max-norm <= tol (sgd: objective stopped improving by > tol)
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
