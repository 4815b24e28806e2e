"""Pure solver functions: ``solver(datafit, penalty, theta0, ...) -> SolverResult``.

The datafit implements :class:`softreg._protocol.Datafit`; the penalty is a
:class:`softreg.penalties.Penalty` (None: none). What each solver calls of the datafit,
checked before it starts (a missing method is refused by name):

- ``lbfgs``: ``loss_grad``, ``feature_moments`` (preconditioned); with many classes on
  in-memory dense data also ``X``, ``y``/``Y``, ``sw`` (the class-block preconditioner)
- ``newton``: ``loss_grad`` and ``hessian`` (exact solve) or ``loss_grad_hessp`` and
  ``feature_moments`` (CG solve)
- ``gradient_descent``: ``loss_grad``, ``smoothness_bound``
- ``sgd``: ``minibatch``, ``loss_grad``, ``smoothness_bound``
- ``saga``: the in-memory data itself (``X``, ``y``/``Y``, ``sw``) and ``add_passes``;
  it takes any penalty without a grouped L1 part (proximal steps)
- ``prox_newton`` (L1, elastic net, grouped; any Penalty): in-memory data with column
  access (``X``, ``y``/``Y``, ``sw``, ``fit_intercept``, ``n_classes``, ``unpack``/``pack``)
- ``prox_grad`` (any Penalty; FISTA): ``loss_grad`` only (so Dask datafits too)

The others (the smooth solvers) accept only smooth penalties (no L1 part); saga takes
any penalty but a grouped one.
"""

from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    DivergenceError,
    IterationInfo,
    Penalised,
    SolverResult,
    at_precision_floor,
    check_finite_step,
)
from .gd import gradient_descent
from .lbfgs import lbfgs
from .newton import EXACT_MAX_PARAMS, NewtonState, newton, uses_exact_hessian
from .prox_grad import prox_grad
from .prox_newton import prox_newton
from .saga import saga
from .saga import suits as saga_suits
from .sgd import SGDState, initial_state, sgd, sgd_epoch, stream_epoch

__all__ = [
    "CONVERGED", "EXACT_MAX_PARAMS", "MAX_ITER", "STALLED", "DivergenceError",
    "IterationInfo", "NewtonState", "Penalised", "SGDState", "SolverResult",
    "at_precision_floor", "check_finite_step", "gradient_descent", "initial_state", "lbfgs",
    "newton", "prox_grad", "prox_newton", "saga", "saga_suits", "sgd", "sgd_epoch",
    "stream_epoch", "uses_exact_hessian",
]
