"""Minibatch stochastic gradient descent on the true softmax loss.

Each epoch visits the rows in a fresh random order in minibatches. The step decays as
eta_k = min(eta0 / sqrt(1 + t / t0), 1 / (mu * (k + 1))) with k the steps and t the
samples seen so far and t0 the size of the first data set seen (one epoch): 1/sqrt decay
in general, and the 1/(mu k) rate of strongly convex problems once it is smaller (mu: the
smallest ridge weight of the penalty, alpha for the plain L2 penalty). The
model reported after an epoch is the average of that epoch's iterates (Polyak-Ruppert),
which removes most of the gradient noise; the raw iterate carries on. :func:`sgd` reports
"converged" only when the gradient test passed. :func:`stream_epoch` (``partial_fit``)
averages over the whole stream instead of one epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._protocol import require
from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    Callback,
    SolverResult,
    check_finite_step,
    max_abs,
    record_iteration,
    smooth_objective,
)

#: the stream average weighs step k like k^AVERAGE_POWER (polynomial-decay averaging):
#: later, better iterates count more, the early ones are forgotten (on a 100k-row stream
#: powers 0, 1, 2, 3 ended 2.8%, 1.9%, 1.7%, 1.6% above the optimum with the step 1/L)
AVERAGE_POWER = 2.0


@dataclass
class SGDState:
    """What carries over between epochs and between ``partial_fit`` calls.

    ``iterate`` and ``average`` (shape (n_params,)) are the raw SGD iterate and its
    running average over the whole stream (None before the first :func:`stream_epoch`).
    """

    eta0: float
    t0: int
    samples_seen: int = 0
    steps: int = 0
    iterate: np.ndarray | None = None
    average: np.ndarray | None = None

    def step_size(self, mu: float) -> float:
        eta = self.eta0 / np.sqrt(1.0 + self.samples_seen / self.t0)
        return min(eta, 1.0 / (mu * (self.steps + 1))) if mu > 0 else eta


def _objective(datafit, penalty):
    return smooth_objective(datafit, penalty, "sgd", "minibatch", "loss_grad",
                            "smoothness_bound")


def curvature(datafit, penalty: Penalty | None, iters: int = 20, seed: int = 0) -> float:
    """An estimate of J's largest curvature: 0.5 lambda_max(C) + the largest ridge weight.

    C = sum_i sw_i a_i a_i^T (a_i = [x_i, 1]); 0.5 lambda_max(C) bounds the datafit's
    Hessian at any point (the softmax Hessian of one row's logits has norm <= 1/2) and is
    far tighter than ``smoothness_bound`` (0.5 trace C) when the features are spread over
    many directions. At theta = 0 the datafit's Hessian is (I/K - 11^T/K^2) kron C, whose
    top eigenvalue is lambda_max(C) / K: ``iters`` power iterations with ``hessp``
    (one pass each) find it.
    """
    require(datafit, "sgd", "hessp", "zeros")
    theta = datafit.zeros()
    v = np.random.default_rng(seed).standard_normal(theta.size)
    top = 0.0
    for _ in range(iters):
        Hv = datafit.hessp(theta, v)
        top = float(np.linalg.norm(Hv))
        if not top > 0:
            break
        v = Hv / top
    objective = _objective(datafit, penalty)
    ridge = objective.ridge_diag
    return 0.5 * datafit.n_classes * top + (0.0 if ridge is None or ridge.size == 0
                                            else float(ridge.max()))


def initial_state(datafit, penalty: Penalty | None, learning_rate, *,
                  horizon: int | None = None, factor: float = 1.0,
                  curvature_from: str = "bound") -> SGDState:
    """eta0 = learning_rate, or factor/L for "auto".

    L is the smoothness bound of J (``curvature_from="bound"``), or the tighter
    :func:`curvature` estimate (``"power"``: 20 passes over the datafit's rows).

    The step halves after 3 * horizon samples: horizon is the data set's size for a fit
    (one epoch), or an estimate of a stream's useful length for partial_fit.
    """
    if not isinstance(learning_rate, str):
        eta0 = float(learning_rate)
    elif curvature_from == "power":
        eta0 = factor / curvature(datafit, penalty)
    else:
        eta0 = factor / _objective(datafit, penalty).smoothness_bound()
    return SGDState(eta0=eta0, t0=max(1, horizon or datafit.n_samples))


def sgd_epoch(datafit, penalty: Penalty | None, theta: np.ndarray, state: SGDState, *,
              batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One shuffled pass over the rows; returns (last iterate, average of the epoch's).

    Needs the datafit's ``minibatch`` (whose rows count towards its passes).
    """
    objective = _objective(datafit, penalty)
    mu = objective.strong_convexity
    n = datafit.n_samples
    order = rng.permutation(n)
    theta = np.array(theta, dtype=np.float64, copy=True)
    average = theta.copy()
    n_steps = 0
    for start in range(0, n, batch_size):
        rows = np.sort(order[start:start + batch_size])
        _, grad = datafit.minibatch(rows).loss_grad(theta)
        theta -= state.step_size(mu) * objective.add_ridge_grad(theta, grad)
        state.samples_seen += len(rows)
        state.steps += 1
        n_steps += 1
        average += (theta - average) / n_steps if n_steps > 1 else theta - average
    return theta, average


def stream_epoch(datafit, penalty: Penalty | None, theta: np.ndarray, state: SGDState, *,
                 batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """One shuffled pass over a chunk of a stream; returns the stream's averaged model.

    The raw iterate carries over in ``state`` between chunks (``theta`` only starts it),
    and so does the average over every step of the stream so far, step k weighted like
    k^AVERAGE_POWER (Polyak-Ruppert averaging with polynomial decay): the average removes
    the gradient noise that the raw iterate keeps at any step size, so one pass over a
    long stream comes close to the optimum of the whole data.
    """
    objective = _objective(datafit, penalty)
    mu = objective.strong_convexity
    if state.iterate is None or state.iterate.shape != np.shape(theta):
        state.iterate = np.array(theta, dtype=np.float64, copy=True)
        state.average = state.iterate.copy()
    iterate, average = state.iterate, state.average
    assert average is not None
    order = rng.permutation(datafit.n_samples)
    for start in range(0, datafit.n_samples, batch_size):
        rows = np.sort(order[start:start + batch_size])
        _, grad = datafit.minibatch(rows).loss_grad(iterate)
        iterate -= state.step_size(mu) * objective.add_ridge_grad(iterate, grad)
        state.samples_seen += len(rows)
        state.steps += 1
        # weights k^p: the newest one's share of the sum over 1..k is about (p+1)/(k+p)
        average += (iterate - average) * ((AVERAGE_POWER + 1.0) / (state.steps + AVERAGE_POWER))
    return average.copy()


def sgd(datafit, penalty: Penalty | None, theta0: np.ndarray, *, learning_rate="auto",
        batch_size=32, tol=1e-6, max_iter=1000, random_state=None,
        state: SGDState | None = None, callback: Callback = None
        ) -> tuple[SolverResult, SGDState]:
    """Run epochs of minibatch SGD until the gradient test passes.

    Converged only when max |grad J| <= tol at the epoch's averaged model (one full pass
    per epoch checks it), never because the objective stopped moving: plain SGD ends in
    a noise ball whose size the step sets, so it may never converge (on finite data
    :func:`softreg.solvers.saga` removes the noise and does).
    """
    objective = _objective(datafit, penalty)
    rng = np.random.default_rng(random_state)
    state = state or initial_state(datafit, penalty, learning_rate)
    theta = np.array(theta0, dtype=np.float64, copy=True)
    model = theta
    curve: list[float] = []
    reason, epoch = MAX_ITER, 0
    for epoch in range(1, max_iter + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked next
            theta, model = sgd_epoch(datafit, penalty, theta, state, batch_size=batch_size,
                                     rng=rng)
            loss, grad = objective.loss_grad(model)
        check_finite_step(loss, model, epoch, f"the step eta0={state.eta0:g} is too large; "
                          "use a smaller learning_rate or learning_rate='auto'")
        gnorm = max_abs(grad)
        record_iteration(curve, callback, epoch, loss, gnorm)
        if gnorm <= tol:
            reason = CONVERGED
            break
    loss, grad = objective.loss_grad(model)
    return SolverResult(model, epoch, reason, loss, max_abs(grad), curve), state
