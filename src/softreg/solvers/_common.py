"""What every solver shares: its result, the penalised objective, the line search.

A solver is a function ``solver(datafit, penalty, theta0, ...) -> SolverResult``: the
datafit implements :class:`softreg._protocol.Datafit`, the penalty is a
:class:`softreg.penalties.Penalty` (None: no penalty). The smooth solvers minimise
J = datafit + penalty through :class:`Penalised` and refuse a penalty with an L1 part
(:func:`smooth_objective`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .._protocol import require
from ..penalties import Penalty

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


def record_iteration(curve: list[float], callback: Callback, iteration: int, loss: float,
                     grad_norm: float) -> None:
    """After an iteration: append ``loss`` to ``curve``, then tell ``callback`` (if any)."""
    curve.append(loss)
    if callback is not None:
        callback(IterationInfo(iteration, loss, grad_norm))


def finish(theta: np.ndarray, n_iter: int, reason: str, loss: float, grad: np.ndarray,
           curve: list[float], message: str, tol: float) -> SolverResult:
    """The result of a loop that stops on max |grad| <= tol.

    A run that used all its iterations (``reason`` still :data:`MAX_ITER`) but whose last
    step reached max |grad| <= tol counts as converged.
    """
    gmax = max_abs(grad)
    if reason == MAX_ITER and gmax <= tol:
        reason = CONVERGED
    return SolverResult(theta, n_iter, reason, loss, gmax, curve, message)


def at_precision_floor(result: SolverResult, dtype=np.float64) -> bool:
    """The one rule for "converged though stalled".

    A run that stalled (no step decreased J in floating point) with max |grad J| <=
    sqrt(eps) of the data's dtype is as converged as the arithmetic allows.
    """
    return result.stop_reason == CONVERGED or (
        result.stop_reason == STALLED
        and result.grad_norm <= float(np.sqrt(np.finfo(np.dtype(dtype)).eps)))


class Penalised:
    """J = datafit + the penalty's smooth (ridge) part, in the datafit's layout.

    Offers what the smooth solvers and the line search call: ``loss``, ``loss_grad``,
    ``loss_grad_hessp``, :meth:`add_ridge` for a Hessian, and the datafit's layout
    (``n_params``, ``pack``, ``unpack``, ``zeros``; the rest through ``datafit``). The
    ridge part adds ridge * pf_j W_jk to the gradient and
    ridge * pf_j on the diagonal of the Hessian (never on the intercept).

    Parameters
    ----------
    datafit : Datafit
    penalty : Penalty (smooth; its L1 part is ignored here)
    """

    def __init__(self, datafit, penalty: Penalty):
        self.datafit = datafit
        self.penalty = penalty
        d, K = datafit.n_features, datafit.n_classes
        self.n_W = d * K
        #: ridge coefficient per entry of W, flat (d*K,), or None without a ridge part
        rw = penalty.ridge_weights(d) if penalty.ridge else None
        self.ridge_diag = None if rw is None else np.repeat(rw, K)

    @property
    def n_params(self) -> int:
        return self.datafit.n_params

    def pack(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        return self.datafit.pack(W, b)

    def unpack(self, theta: np.ndarray):
        return self.datafit.unpack(theta)

    def zeros(self) -> np.ndarray:
        return self.datafit.zeros()

    def _value(self, theta: np.ndarray) -> float:
        w = theta[: self.n_W]
        return 0.5 * float(np.dot(self.ridge_diag * w, w))

    def loss(self, theta: np.ndarray) -> float:
        loss = self.datafit.loss(theta)
        return loss if self.ridge_diag is None else loss + self._value(theta)

    def add_ridge_grad(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """grad (n_params,) plus the ridge part's gradient at theta (in place)."""
        if self.ridge_diag is not None:
            grad[: self.n_W] += self.ridge_diag * theta[: self.n_W]
        return grad

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = self.datafit.loss_grad(theta)
        if self.ridge_diag is None:
            return loss, grad
        return loss + self._value(theta), self.add_ridge_grad(theta, grad)

    def loss_grad_hessp(self, theta: np.ndarray):
        loss, grad, hessp = self.datafit.loss_grad_hessp(theta)
        if self.ridge_diag is None:
            return loss, grad, hessp
        self.add_ridge_grad(theta, grad)
        ridge = self.ridge_diag

        def penalised_hessp(v: np.ndarray) -> np.ndarray:
            Hv = hessp(v)
            Hv[: self.n_W] += ridge * v[: self.n_W]
            return Hv

        return loss + self._value(theta), grad, penalised_hessp

    @property
    def strong_convexity(self) -> float:
        """The smallest ridge weight (0 without a ridge part or with a zero factor)."""
        ridge = self.ridge_diag
        return 0.0 if ridge is None or ridge.size == 0 else float(ridge.min())

    def smoothness_bound(self) -> float:
        """L of J: the datafit's bound plus the largest ridge weight."""
        ridge = self.ridge_diag
        top = 0.0 if ridge is None or ridge.size == 0 else float(ridge.max())
        return self.datafit.smoothness_bound() + top

    def add_ridge(self, H: np.ndarray) -> np.ndarray:
        """H (n_params, n_params) with the ridge part added to its diagonal (in place)."""
        if self.ridge_diag is not None:
            idx = np.arange(self.n_W)
            H[idx, idx] += self.ridge_diag
        return H


def smooth_objective(datafit, penalty: Penalty | None, solver: str, *methods: str
                     ) -> Penalised:
    """The :class:`Penalised` objective for a smooth solver, after checking its inputs.

    Raises ValueError for a penalty with an L1 part and TypeError (naming them) for
    methods in ``methods`` that the datafit lacks.
    """
    penalty = Penalty() if penalty is None else penalty
    if not penalty.is_smooth:
        raise ValueError(f"solver {solver!r} handles smooth penalties only (l1_ratio=0); "
                         f"this penalty has an L1 part (alpha={penalty.alpha:g}, "
                         f"l1_ratio={penalty.l1_ratio:g}): use a proximal solver")
    require(datafit, solver, *methods)
    return Penalised(datafit, penalty)


def backtracking_line_search(objective, theta: np.ndarray, loss: float, grad: np.ndarray,
                             direction: np.ndarray, slope: float, step: float = 1.0,
                             min_step: float = 1e-12) -> float | None:
    """Armijo backtracking: the first of step, step/2, ... with a sufficient decrease.

    ``objective`` offers ``loss`` and ``loss_grad`` (a :class:`Penalised`).
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
