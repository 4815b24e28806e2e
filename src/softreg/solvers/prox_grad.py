"""Accelerated proximal gradient (FISTA) with backtracking and adaptive restart.

Minimises J(W, b) = datafit(W, b) + penalty(W) for any :class:`softreg.penalties.Penalty`
using only full gradients (``datafit.loss_grad``): it runs unchanged on an out-of-core
datafit such as ``softreg.distributed.DaskObjective``, where the proximal Newton solver
(which needs the columns of X) cannot.

Each iteration (Beck and Teboulle's FISTA):

1. from the extrapolated point y with smooth part f (datafit plus ridge) and gradient g,
   the proximal step x+ = prox_{t h}(y - t g) of the non-smooth part h (soft-thresholding,
   or group soft-thresholding; the intercept is not penalised), with t halved until the
   sufficient-decrease condition f(x+) <= f(y) + g.(x+ - y) + ||x+ - y||^2 / (2t) holds
   (each trial is one pass: ``loss_grad`` at x+ also gives the gradient for the stopping
   test), and t grown by 25% after every accepted step (a locally adapted step). Near
   the optimum f(x+) - f(y) is lost in rounding; the condition is then checked in the
   form (g(x+) - g(y)).(x+ - y) <= ||x+ - y||^2 / (2t), which implies it for a convex f
   and involves no difference of nearly equal values (as TFOCS does);
2. the momentum y = x+ + (s_k - 1) / s_{k+1} (x+ - x), reset to s = 1, y = x+ whenever the
   momentum points uphill, (y - x+).(x+ - x) > 0 (O'Donoghue and Candes' adaptive
   restart: linear convergence on the strongly convex pieces); a step from an
   extrapolated point that raised J is discarded and redone from x without momentum, so
   J never increases.

Stopping is judged on the optimality conditions, as ``prox_newton``: the largest
:meth:`Penalty.optimality_violation` over W and the largest |dJ/db_k|, both at the
current iterate x, at most ``tol``. ``stop_reason`` is "converged" only then, "max_iter"
when the iterations ran out, "stalled" when no step size gave a decrease.
"""

from __future__ import annotations

import numpy as np

from .._protocol import require as _require
from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    Callback,
    IterationInfo,
    Penalised,
    SolverResult,
    check_finite_step,
)

#: factor by which the step grows after an accepted step
GROW = 1.25
#: smallest step tried before the run is declared stalled
MIN_STEP = 1e-20


def _sufficient(f_new: float, fy: float, g_new: np.ndarray, gy: np.ndarray, diff: np.ndarray,
                step: float) -> bool:
    """The backtracking test f(x+) <= f(y) + g(y).d + ||d||^2 / (2 step), d = x+ - y."""
    dd = float(np.dot(diff, diff))
    if dd == 0.0:
        return True
    # convexity: f(x+) - f(y) - g(y).d <= (g(x+) - g(y)).d, exact up to rounding of the
    # gradients rather than of f's values
    if float(np.dot(g_new - gy, diff)) <= dd / (2 * step):
        return True
    # the test on values, trusted only where the change of f is well above rounding
    change = fy - f_new
    return abs(change) > 1e-9 * max(1.0, abs(fy)) and \
        f_new <= fy + float(np.dot(gy, diff)) + dd / (2 * step)


def prox_grad(datafit, penalty: Penalty | None, theta0: np.ndarray, *, tol: float = 1e-6,
              max_iter: int = 1000, callback: Callback = None) -> SolverResult:
    """Minimise J = datafit + penalty by FISTA with backtracking and adaptive restart.

    Parameters
    ----------
    datafit : Datafit
        Needs ``loss_grad`` (and uses ``smoothness_bound`` for the first step when it has
        one), ``n_features``, ``n_classes``, ``n_params`` and the flat layout W (d, K)
        row-major then b (K,).
    penalty : Penalty or None
        Any penalty; its ridge part is treated as smooth, its L1 part by its prox.
    theta0 : ndarray of shape (n_params,)
    tol : float
        Largest optimality violation accepted (W: distance of -grad from the
        subdifferential; b: |gradient|).
    max_iter : int
        Iterations at most (each is one or more passes over the data).
    callback : callable(IterationInfo) or None
        Called after each iteration with J and the optimality violation.

    Returns
    -------
    SolverResult
        ``grad_norm`` is the optimality violation at ``params``.
    """
    _require(datafit, "prox_grad", "loss_grad")
    penalty = Penalty() if penalty is None else penalty
    d, K = int(datafit.n_features), int(datafit.n_classes)
    n_W = d * K
    smooth = Penalised(datafit, penalty)
    # the non-smooth part alone: alpha * l1_ratio * Omega(W)
    h = Penalty(alpha=penalty.l1, l1_ratio=1.0 if penalty.l1 else 0.0,
                grouped=penalty.grouped and penalty.l1 > 0,
                penalty_factor=penalty.penalty_factor)

    def h_value(theta):
        return h.value(theta[:n_W].reshape(d, K)) if penalty.l1 else 0.0

    def prox(theta, t):
        out = theta.copy()
        if penalty.l1:
            out[:n_W] = h.prox(theta[:n_W].reshape(d, K), t).ravel()
        return out

    def violation(theta, grad):
        W, G = theta[:n_W].reshape(d, K), grad[:n_W].reshape(d, K)
        v = float(np.max(h.optimality_violation(W, G), initial=0.0)) if penalty.l1 else \
            float(np.max(np.abs(G), initial=0.0))
        return max(v, float(np.max(np.abs(grad[n_W:]), initial=0.0)))

    x = np.array(theta0, dtype=np.float64, copy=True)
    fx, gx = smooth.loss_grad(x)
    Fx = fx + h_value(x)
    check_finite_step(Fx, x, 0, "the starting point has a non-finite objective")
    bound = getattr(smooth, "smoothness_bound", None)
    try:
        step = 1.0 / float(bound()) if bound is not None else 1.0
    except (AttributeError, TypeError, NotImplementedError):
        step = 1.0
    y, fy, gy = x, fx, gx
    s = 1.0
    curve: list[float] = []
    reason, message = MAX_ITER, ""
    viol = violation(x, gx)
    it = 0
    for it in range(1, max_iter + 1):
        if viol <= tol:
            reason, it = CONVERGED, it - 1
            break
        while True:
            x_new = prox(y - step * gy, step)
            diff = x_new - y
            with np.errstate(over="ignore", invalid="ignore"):
                f_new, g_new = smooth.loss_grad(x_new)
            if np.isfinite(f_new) and _sufficient(f_new, fy, g_new, gy, diff, step):
                break
            step *= 0.5
            if step < MIN_STEP:
                break
        if step < MIN_STEP:
            reason, message = STALLED, "no step size decreased the objective"
            it -= 1
            break
        F_new = f_new + h_value(x_new)
        if F_new > Fx and s > 1.0:
            # the momentum overshot: restart from x with a plain proximal step (monotone)
            s, y, fy, gy = 1.0, x, fx, gx
            curve.append(Fx)
            if callback is not None:
                callback(IterationInfo(it, Fx, viol))
            continue
        s_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * s * s))
        momentum = x_new - x
        beta = (s - 1.0) / s_next
        if beta == 0.0 or float(np.dot(y - x_new, momentum)) > 0:
            s, y, fy, gy = (1.0 if beta else s_next), x_new, f_new, g_new  # no momentum
        else:
            s = s_next
            y = x_new + beta * momentum
            fy, gy = smooth.loss_grad(y)
        x, fx, gx, Fx = x_new, f_new, g_new, F_new
        check_finite_step(Fx, x, it, "the objective became non-finite")
        viol = violation(x, gx)
        step *= GROW
        curve.append(Fx)
        if callback is not None:
            callback(IterationInfo(it, Fx, viol))
    else:
        if viol <= tol:
            reason = CONVERGED
    return SolverResult(x, it, reason, Fx, viol, curve, message)
