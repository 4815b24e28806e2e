"""Minibatch stochastic gradient descent on the true softmax loss.

Each epoch visits the rows in a fresh random order in minibatches. The step decays as
eta_k = min(eta0 / sqrt(1 + t / t0), 1 / (alpha * (k + 1))) with k the steps and t the
samples seen so far and t0 the size of the first data set seen (one epoch): 1/sqrt decay
in general, and the 1/(alpha k) rate of strongly convex problems once it is smaller. The
model reported after an epoch is the average of that epoch's iterates (Polyak-Ruppert),
which removes most of the gradient noise; the raw iterate carries on. :func:`sgd` reports
"converged" only when the gradient test passed. :func:`stream_epoch` (``partial_fit``)
averages over the whole stream instead of one epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._common import (
    CONVERGED,
    MAX_ITER,
    Callback,
    IterationInfo,
    SolverResult,
    check_finite_step,
    max_abs,
)

#: the stream average weighs step k like k^AVERAGE_POWER (polynomial-decay averaging):
#: later, better iterates count more, the early ones are forgotten
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

    def step_size(self, alpha: float) -> float:
        eta = self.eta0 / np.sqrt(1.0 + self.samples_seen / self.t0)
        return min(eta, 1.0 / (alpha * (self.steps + 1))) if alpha > 0 else eta


def initial_state(objective, learning_rate, *, horizon: int | None = None,
                  factor: float = 1.0) -> SGDState:
    """eta0 = learning_rate, or factor/L (L: the smoothness bound) for "auto".

    The step halves after 3 * horizon samples: horizon is the data set's size for a fit
    (one epoch), or an estimate of a stream's useful length for partial_fit.
    """
    eta0 = factor / objective.smoothness_bound() if isinstance(learning_rate, str) \
        else float(learning_rate)
    return SGDState(eta0=eta0, t0=max(1, horizon or objective.n_samples))


def sgd_epoch(objective, theta: np.ndarray, state: SGDState, *, batch_size: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One shuffled pass over the rows; returns (last iterate, average of the epoch's)."""
    n = objective.n_samples
    order = rng.permutation(n)
    theta = np.array(theta, dtype=np.float64, copy=True)
    average = theta.copy()
    n_steps = 0
    for start in range(0, n, batch_size):
        rows = np.sort(order[start:start + batch_size])
        batch = objective.minibatch(rows)
        _, grad = batch.loss_grad(theta)
        theta -= state.step_size(objective.alpha) * grad
        state.samples_seen += len(rows)
        state.steps += 1
        n_steps += 1
        average += (theta - average) / n_steps if n_steps > 1 else theta - average
    objective.n_passes += 1
    return theta, average


def stream_epoch(objective, theta: np.ndarray, state: SGDState, *, batch_size: int,
                 rng: np.random.Generator) -> np.ndarray:
    """One shuffled pass over a chunk of a stream; returns the stream's averaged model.

    The raw iterate carries over in ``state`` between chunks (``theta`` only starts it),
    and so does the average over every step of the stream so far, each step weighted
    like k^AVERAGE_POWER (Polyak-Ruppert with polynomial decay): the average removes the
    gradient noise that the raw iterate keeps at any step size, so one pass over a long
    stream comes close to the optimum of the whole data.
    """
    if state.iterate is None or state.iterate.shape != np.shape(theta):
        state.iterate = np.array(theta, dtype=np.float64, copy=True)
        state.average = state.iterate.copy()
    n = objective.n_samples
    order = rng.permutation(n)
    iterate, average = state.iterate, state.average
    power = AVERAGE_POWER
    for start in range(0, n, batch_size):
        rows = np.sort(order[start:start + batch_size])
        _, grad = objective.minibatch(rows).loss_grad(iterate)
        iterate -= state.step_size(objective.alpha) * grad
        state.samples_seen += len(rows)
        state.steps += 1
        # weights k^p: the new one's share of the sum over 1..k is about (p+1)/(k+p)
        average += (iterate - average) * ((power + 1.0) / (state.steps + power))
    objective.n_passes += 1
    return average.copy()


def sgd(objective, theta0: np.ndarray, *, learning_rate="auto", batch_size=32, tol=1e-6,
        max_iter=1000, random_state=None, state: SGDState | None = None,
        callback: Callback = None) -> tuple[SolverResult, SGDState]:
    """Run epochs of minibatch SGD until the gradient test passes.

    Converged only when max |grad J| <= tol at the epoch's averaged model (one full pass
    per epoch checks it), never because the objective stopped moving: plain SGD ends in
    a noise ball whose size the step sets, so with a fixed step it may never converge
    (for finite data :func:`softreg.solvers.saga` removes the noise and does).
    """
    rng = np.random.default_rng(random_state)
    state = state or initial_state(objective, learning_rate)
    theta = np.array(theta0, dtype=np.float64, copy=True)
    model = theta
    curve: list[float] = []
    reason, epoch, gnorm = MAX_ITER, 0, float("inf")
    for epoch in range(1, max_iter + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked next
            theta, model = sgd_epoch(objective, theta, state, batch_size=batch_size, rng=rng)
            loss, grad = objective.loss_grad(model)
        check_finite_step(loss, model, epoch, f"the step eta0={state.eta0:g} is too large; "
                          "use a smaller learning_rate or learning_rate='auto'")
        gnorm = max_abs(grad)
        curve.append(loss)
        if callback is not None:
            callback(IterationInfo(epoch, loss, gnorm))
        if gnorm <= tol:
            reason = CONVERGED
            break
    loss, grad = objective.loss_grad(model)
    return SolverResult(model, epoch, reason, loss, max_abs(grad), curve), state
