"""L-BFGS through scipy.optimize (the L-BFGS-B code, unbounded), preconditioned.

The iterations run on whitened coordinates u = L^T theta (see :mod:`._precondition`),
which removes the ill-conditioning that correlated or badly scaled features cause;
convergence is still judged on the gradient of J in the original parameters.

Two preconditioners (``precondition``):

- "moments": M = C / K + ridge from the features' second moments C (the Hessian's shape at
  W = 0), one pass over X;
- "hessian": the penalised Hessian at the optimum of a random subsample of the rows
  (:func:`._precondition.subsample_size` rows, about n / 32), fitted first with the
  "moments" preconditioner to a loose tolerance; a cold start (theta0 = 0) then starts at
  that optimum. It captures the coupling between classes and rows that C misses. Measured
  on the benchmark's dense64 problem (n = 200 000, d = 100, K = 10, alpha = 1e-4, tol =
  1e-7): 13 passes (12 iterations) on X plus 10 on the 6 250-row subsample and its
  Hessian, against 32 passes (28 iterations) with "moments"; in CPU time 0.77 s against
  1.4 s. A Kronecker factorisation C (x) mean_i(diag p_i - p_i p_i^T) instead saved no
  iteration.

- "blocks" (many classes, where the (d + 1) K square Hessian is too big): the Hessian's
  per-class diagonal blocks, pooled (class means, one covariance) and restricted to the
  classes' centred subspace, at the point one moments-Newton step from a cold start
  reaches (:mod:`._class_blocks`). Measured on the benchmark's classes100 (n = 50 000,
  d = 100, K = 100, alpha = 1e-4, tol = 1e-7): 15 passes (11 iterations) against 35
  (29) with "moments"; K = 30 and 50 (same n, d): 16 / 15 passes against 37.

True picks "hessian" where :func:`._precondition.subsample_size` allows it (dense data in
memory or on Dask, whose datafit gathers the subsample's rows into memory; (d + 1) K <=
2000, n at least 8 times the subsample), else "blocks" where
:func:`._class_blocks.class_blocks_suit` allows it (dense in-memory X, K >= 10), else
"moments".

float32 X: the passes run in mixed precision (float32 products, float64 softmax and sums;
about 26 ms a pass against 41 ms in float64 on dense32) until max |grad J| <= 10 tol, then
:func:`_finish_float64` takes value-free L-BFGS steps on float64 gradients from the mixed
phase's curvature pairs. Measured on dense32 (tol 1e-6): 10 passes, 9 mixed and 1 float64
(0.44 s against dense64's 0.70 s); before, the switch re-evaluated the last point in
float64 and restarted L-BFGS-B without its memory: 12 passes, 9 mixed and 3 float64
(0.55 s). Restarts after the switch are also costly with "moments" (L-BFGS-B's first step
has length 1 / |grad|): K = 100 float32 (n = 50 000, d = 100): 28 passes against 32.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..penalties import Penalty
from ._class_blocks import ClassBlockPreconditioner, class_block_start, class_blocks_suit
from ._common import (
    CONVERGED,
    MAX_ITER,
    Callback,
    IterationInfo,
    Penalised,
    SolverResult,
    max_abs,
    record_iteration,
    smooth_objective,
)
from ._precondition import (
    FeaturePreconditioner,
    HessianPreconditioner,
    feature_preconditioner,
    subsample_rows,
    subsample_size,
)
from .newton import newton

PRECONDITIONERS = (True, False, "moments", "hessian", "blocks")
#: the subsample is fitted to max |grad J| <= max(tol, SUBSAMPLE_TOL): its optimum is only
#: a statistical estimate of the full one anyway
SUBSAMPLE_TOL = 1e-4
#: float32 data: mixed-precision passes (float32 products; gradient error measured 1e-8 to
#: 2e-8 in max |grad| on the benchmark's dense32) until max |grad J| <= MIXED_SWITCH * tol
#: (near tol, float32 rounding in the values stalls the line search); then float64 passes:
#: quasi-Newton steps that need no values (:func:`_finish_float64`) to tol, within
#: FINISH_MAX_STEPS passes; after those, or where a step cannot be kept, L-BFGS-B on float64
#: values goes on. On 16 random float32 fits (n 25k-58k, d 40-116, K 3-11, badly scaled
#: features; 21 to 179 passes each): 1387 passes in all, against 1413 with a cap of 1000
#: and 1367 before the finish, differences within those fits' trajectory noise (a change
#: in the subsample's fit moves one fit by up to 30%); dense32 saves 2 of 12 passes,
#: dense32F 2 of 13, K = 100 float32 (moments preconditioner) 4 of 32
MIXED_SWITCH = 10.0
FINISH_MAX_STEPS = 10
#: ... each step tries at most this many step lengths (1, then secant roots)
FINISH_MAX_TRIALS = 3
#: ... and keeps one where the decrease of J it makes, estimated from the slopes at both
#: ends, is at least this fraction of the first-order prediction (< 1/2)
FINISH_DECREASE = 0.1


def lbfgs(datafit, penalty: Penalty | None, theta0: np.ndarray, *, tol=1e-6, max_iter=1000,
          memory=10, callback: Callback = None, precondition: bool | str = True,
          mixed_precision: bool = True, mixed_to_tol: bool = False) -> SolverResult:
    """Minimise J = datafit + penalty (smooth) with L-BFGS; stops when max |grad J| <= tol.

    Needs ``loss_grad`` (and ``feature_moments`` with ``precondition``: whitened
    coordinates, one extra pass over X; "hessian" also ``minibatch`` and ``hessian``).
    ``precondition``: True (the best of those that apply), "moments", "hessian",
    "blocks" or False (see the module docstring; "blocks" needs in-memory dense X).
    ``mixed_precision``: where the datafit offers it
    (float32 X on the fused kernel), the iterations run on float32 products until
    max |grad J| <= MIXED_SWITCH * tol, then on float64 ones, so the stopping test is
    always float64's; those last steps go on from the mixed ones' curvature pairs without
    comparing values (:func:`_finish_float64`). When L-BFGS stops early because J's value
    no longer changes (rounding), a few Newton steps finish the convergence to tol.
    ``mixed_to_tol``: the mixed iterations go on to max |grad J| <= tol themselves and the
    point they reach is kept (its gradient checked by one float64 pass, which also keeps
    the probabilities there where the datafit offers ``probabilities``): for loose
    tolerances (a subsample's), far above the mixed gradients' error.
    """
    if precondition not in PRECONDITIONERS:
        raise ValueError(f"precondition must be one of {PRECONDITIONERS}; got {precondition!r}")
    needs: tuple[str, ...] = ("loss_grad", "feature_moments") if precondition else ("loss_grad",)
    if precondition == "hessian":
        needs += ("minibatch", "minibatch_passes", "hessian")
    objective = smooth_objective(datafit, penalty, "lbfgs", *needs)
    theta0 = np.asarray(theta0, dtype=np.float64)
    pre: HessianPreconditioner | FeaturePreconditioner | ClassBlockPreconditioner | None = None
    if precondition == "hessian" or (precondition is True and subsample_size(datafit)):
        pre, theta0 = _subsample_hessian(datafit, objective.penalty, theta0, tol, max_iter)
    elif precondition == "blocks" or (precondition is True and class_blocks_suit(datafit)):
        pre, theta0 = class_block_start(objective, theta0)
    elif precondition:
        pre = feature_preconditioner(datafit, objective.penalty)
    if pre is None:
        def to_theta(u):
            return u

        grad_to_u, u = to_theta, theta0
    else:
        to_theta, grad_to_u, u = pre.to_params, pre.grad_to_u, pre.from_params(theta0)
    # L-BFGS-B's first step has length 1. Where the preconditioner is a Hessian (J's Hessian
    # in u close to I) the step that fits is -grad_u, so a run in those coordinates works on
    # v = (u - origin) / scale with scale = |grad_u(origin)|: its first step is then -grad_u
    # and needs no backtracking (later steps are scale-free)
    frame = {"origin": u, "scale": 1.0, "fresh": True}

    def to_theta_v(v):
        return to_theta(frame["origin"] + frame["scale"] * v)

    # the last evaluation (v, loss, grad, grad in u): the accepted point is the last one
    # evaluated, so the callback reuses it (the two triangular solves are ~0.4 ms each at
    # n_params = 1010)
    last: list = [None, 0.0, None, None]

    def fun(v):
        loss, grad = objective.loss_grad(to_theta_v(v))
        g_u = grad_to_u(grad)
        last[:] = [np.array(v, copy=True), loss, grad, g_u]
        if mixed[0] and frame["fresh"]:  # a run's starting point: the first curvature pair's
            history.append((to_u(v), g_u))
            frame["fresh"] = False
        return loss, frame["scale"] * g_u

    curve: list[float] = []
    mixed = [bool(mixed_precision) and getattr(datafit, "can_mix_precision", False)]
    if mixed[0]:
        datafit.set_precision("mixed")
    # mixed precision: the accepted iterates (u, gradient in u), for the float64 finish
    history: list[tuple[np.ndarray, np.ndarray]] = []
    mixed_done = [False]  # ``mixed_to_tol``: the mixed iterations reached tol

    def on_iteration(intermediate_result):
        x = intermediate_result.x
        u_k = to_u(x)
        if last[0] is not None and np.array_equal(last[0], x):
            loss, grad, g_u = last[1:]
        else:  # the objective's cache answers
            loss, grad = objective.loss_grad(to_theta(u_k))
            g_u = None
        curve.append(float(loss))
        gnorm = max_abs(grad)
        if callback is not None:
            callback(IterationInfo(len(curve), curve[-1], gnorm))
        if mixed[0]:
            # float32 products: near tol their rounding in the values stalls the line
            # search; from MIXED_SWITCH * tol on, steps that need no values finish in
            # float64 (see :func:`_finish_float64`)
            history.append((u_k, grad_to_u(grad) if g_u is None else g_u))
            del history[:-memory - 1]  # the finish uses the last ``memory`` pairs only
            if gnorm <= (1.0 if mixed_to_tol else MIXED_SWITCH) * tol:
                mixed_done[0] = mixed_to_tol
                raise StopIteration
            return
        if gnorm <= tol:
            raise StopIteration

    def to_u(v):
        return frame["origin"] + frame["scale"] * v

    def evaluate_u(u_k):
        return objective.loss_grad(to_theta(u_k))

    converged = False
    try:
        while True:
            frame["origin"], frame["scale"], frame["fresh"] = u, 1.0, True
            if isinstance(pre, (HessianPreconditioner, ClassBlockPreconditioner)):
                g_u = grad_to_u(objective.loss_grad(to_theta(u))[1])  # scipy's first call
                frame["scale"] = float(np.linalg.norm(g_u)) or 1.0
            res = optimize.minimize(
                fun, np.zeros_like(u), jac=True, method="L-BFGS-B", callback=on_iteration,
                options={"maxiter": max_iter - len(curve), "gtol": 0.0,
                         "ftol": 4 * np.finfo(float).eps, "maxcor": memory, "maxls": 50,
                         "maxfun": 10 * max_iter + 100},
            )
            u = to_u(res.x)
            if not mixed[0]:
                break
            # the switch, or a stop before it (float32 rounding in the values stalled the
            # line search, or max_iter): on in float64 from there, unless the budget is spent
            datafit.set_precision("float64")
            mixed[0] = False
            if len(curve) >= max_iter or mixed_done[0]:
                break
            if history and np.array_equal(history[-1][0], u):
                u, converged = _finish_float64(
                    evaluate_u, grad_to_u, history, tol, memory,
                    min(FINISH_MAX_STEPS, max_iter - len(curve)), curve, callback)
                if converged or len(curve) >= max_iter:
                    break
    finally:
        if getattr(datafit, "can_mix_precision", False):
            datafit.set_precision("float64")
    theta = to_theta(u)
    if mixed_done[0] and callable(getattr(datafit, "probabilities", None)):
        # the float64 check of a mixed point also keeps P: a Hessian there (the subsample's
        # preconditioner, :func:`_subsample_hessian`) then needs no pass of its own
        datafit.probabilities(theta)
    loss, grad = objective.loss_grad(theta)  # float64: cached (one pass after mixed_to_tol)
    gnorm = max_abs(grad)
    n_iter = len(curve)
    if gnorm <= tol:
        return SolverResult(theta, n_iter, CONVERGED, float(loss), gnorm, curve)
    if n_iter >= max_iter or res.status == 1:
        return SolverResult(theta, n_iter, MAX_ITER, float(loss), gnorm, curve, str(res.message))
    # L-BFGS's line search needs the objective's value to change, which stops it once the
    # value is flat to rounding error; Newton steps, steered by the gradient, finish the job.
    polish = newton(datafit, objective.penalty, theta, tol=tol,
                    max_iter=max(1, min(20, max_iter - n_iter)),
                    precondition=pre if pre is not None else False)
    return SolverResult(polish.params, n_iter + polish.n_iter, polish.stop_reason,
                        polish.loss, polish.grad_norm, curve + polish.loss_curve,
                        polish.message or str(res.message))


def _subsample_hessian(datafit, penalty: Penalty, theta0: np.ndarray, tol: float,
                       max_iter: int) -> tuple[HessianPreconditioner, np.ndarray]:
    """(preconditioner, starting point) from a fit on a random subsample of the rows.

    The subsample (:func:`._precondition.subsample_size` rows, at least 4 (d + 1) K; seeded,
    so fits are reproducible) is fitted from theta0 with the "moments" preconditioner to
    max(tol, SUBSAMPLE_TOL) (float32 X: in mixed precision to that tolerance, checked by one
    float64 pass; dense32's subsample: 18 mixed and 2 float64 passes, 22 ms, against 14
    mixed and 5 float64, 25-27 ms, with the float64 finish); its penalised Hessian there
    (float32 products: an estimate anyway; from its distinct entries,
    :func:`softreg._hessian.softmax_hessian_pairs`, where that pays: dense64's
    6 250 x 101, K = 10: 26-29 ms against 78 for SYRK) builds the preconditioner (float32
    X: factored in float32 where that is safe, 6.5-7 ms against 10-10.5, see
    :class:`._precondition.HessianPreconditioner`). The
    start is the subsample's optimum when theta0 is zero (a cold start), else theta0 (a
    warm start is presumably closer). Every row the subsample's passes read is counted in
    the datafit's passes (``minibatch`` counts them).
    """
    n = datafit.n_samples
    size = subsample_size(datafit) or min(n, 4 * datafit.n_params)
    rows = subsample_rows(n, size)
    sub = datafit.minibatch(rows)
    fit = lbfgs(sub, penalty, theta0, tol=max(tol, SUBSAMPLE_TOL), max_iter=max_iter,
                precondition="moments", mixed_to_tol=True)
    H = Penalised(sub, penalty).add_ridge(sub.hessian(fit.params, dtype=np.float32))
    datafit.minibatch_passes(sub.n_passes, size)  # (minibatch() counted the copy)
    start = fit.params if not np.any(theta0) else theta0
    factor = np.float32 if getattr(datafit, "dtype", None) == np.float32 else np.float64
    return HessianPreconditioner(H, datafit.n_classes, overwrite=True,
                                 factor_dtype=factor), start


def _finish_float64(evaluate, grad_to_u, history, tol: float, memory: int, max_steps: int,
                    curve: list[float], callback: Callback) -> tuple[np.ndarray, bool]:
    """From the last mixed-precision iterate on to max |grad J| <= tol, float64 gradients.

    Near the optimum the float32 rounding of J's values (about 1e-10 here) is as large as
    the decrease a step makes, so a line search on them stalls; the gradients stay
    accurate (their error, measured: 1e-8 to 2e-8 on the benchmark's dense32, far below
    the slopes that matter). These steps need no values: steps along the L-BFGS direction
    d (two-loop recursion over the last ``memory`` pairs of ``history``, the accepted
    iterates u with their gradients in u, mixed ones included), judged by their float64
    gradients alone. A trial u + t d (t = 1 first) is kept where J's change along it,
    estimated from the slopes phi'(0) = g.d and phi'(t) at both ends (trapezoid rule:
    exact for a quadratic), is a decrease of at least FINISH_DECREASE of the first-order
    prediction t g.d; else t shrinks to the root of the secant through the two slopes (the
    minimiser along d of the quadratic they fit) and is tried again. After
    FINISH_MAX_TRIALS trials of one step, or ``max_steps`` passes, the caller goes on with
    L-BFGS-B on float64 values.

    Parameters
    ----------
    evaluate : callable u -> (J, grad J in theta), float64
    grad_to_u : callable, grad J in theta -> grad in u
    history : list of (u, grad in u), each of shape (n_params,); the last is the start
    max_steps : int, passes over X at most (one per trial)
    curve, callback : the solver's loss curve and callback (one entry per kept step)

    Returns
    -------
    (u, converged) : the last kept point (its float64 gradient <= tol when converged)
    """
    recent = history[-memory - 1:]
    pairs = [(u1 - u0, g1 - g0) for (u0, g0), (u1, g1) in
             zip(recent[:-1], recent[1:], strict=True)]
    pairs = [(s, y) for s, y in pairs if s @ y > 0]
    u, g = history[-1]
    passes = 0
    while passes < max_steps:
        d = -_lbfgs_direction(g, pairs)
        slope = float(g @ d)
        if not slope < 0:
            break
        t, kept = 1.0, False
        for _ in range(min(FINISH_MAX_TRIALS, max_steps - passes)):
            loss, grad = evaluate(u + t * d)
            passes += 1
            gnorm = max_abs(grad)
            if gnorm <= tol:
                record_iteration(curve, callback, len(curve) + 1, float(loss), gnorm)
                return u + t * d, True
            g_new = grad_to_u(grad)
            slope_t = float(g_new @ d)
            if (slope + slope_t) / 2 <= FINISH_DECREASE * slope:
                kept = True
                break
            if not slope_t > 0:  # (only where FINISH_DECREASE >= 1/2)
                break
            t *= max(slope / (slope - slope_t), 0.1)  # the secant's root, in (0, t)
        if not kept:
            break
        record_iteration(curve, callback, len(curve) + 1, float(loss), gnorm)
        s, y = t * d, g_new - g
        if s @ y > 0:
            pairs = (pairs + [(s, y)])[-memory:]
        u, g = u + s, g_new
    return u, False


def _lbfgs_direction(g: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """H g for L-BFGS's inverse-Hessian estimate H from the pairs (s, y), oldest first.

    The two-loop recursion (Nocedal & Wright, Algorithm 7.4) with H0 = (s.y / y.y) I from
    the newest pair (I without pairs).
    """
    q = np.array(g, dtype=np.float64)
    coefs = []
    for s, y in reversed(pairs):
        rho = 1.0 / float(y @ s)
        a = rho * float(s @ q)
        q -= a * y
        coefs.append((rho, a))
    if pairs:
        s, y = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y), (rho, a) in zip(pairs, reversed(coefs), strict=True):
        q += (a - rho * float(y @ q)) * s
    return q
