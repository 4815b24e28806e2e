"""Pure solver functions: objective and starting point in, :class:`SolverResult` out.

A solver needs from the objective: ``loss``, ``loss_grad`` (all), ``loss_grad_hessp``
(newton), ``smoothness_bound`` (gd/sgd with an automatic step), ``minibatch`` (sgd); saga reads
the in-memory data (``X``, ``y``/``Y``, ``sw``) itself.
"""

from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    DivergenceError,
    IterationInfo,
    SolverResult,
    check_finite_step,
)
from .gd import gradient_descent
from .lbfgs import lbfgs
from .newton import newton_cg
from .saga import saga
from .sgd import SGDState, initial_state, sgd, sgd_epoch, stream_epoch

__all__ = [
    "CONVERGED", "MAX_ITER", "STALLED", "DivergenceError", "IterationInfo", "SGDState",
    "SolverResult", "check_finite_step", "gradient_descent", "initial_state", "lbfgs",
    "newton_cg", "saga", "sgd", "sgd_epoch", "stream_epoch",
]
