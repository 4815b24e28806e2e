"""Newton's method with one line search; the Newton system solved exactly or by CG.

Each iteration solves H p = -g for the Hessian H of J = datafit + penalty (smooth) and
takes a backtracking (Armijo) step along p. The inner solve is chosen by size:

- **exact** (``inner="exact"``, or "auto" with n_params <= :data:`EXACT_MAX_PARAMS` and a
  :class:`NewtonState` to reuse the Hessian in): the Hessian is formed (about n (qK)^2
  flops, some 50 passes' worth at (d+1)K = 200) and factored; it is rebuilt only when the
  last step made slow progress (a lazy Newton method, which converges in a few steps from
  the warm starts of a regularisation path, where the state carries the Hessian from one
  fit to the next). A cold fit rebuilds it several times, which costs more than CG's
  passes, so "auto" solves a cold fit by CG;
- **cg**: truncated Newton, conjugate gradients on Hessian-vector products (one pass
  each), preconditioned by the feature preconditioner, to relative accuracy
  min(0.5, sqrt(||g||)).

The flat directions of the exact solve: J does not change along U = {(v 1_K^T, c 1_K)}
without a penalty, and along the intercept shift (0, 1_K) with one. H maps U and its
orthogonal complement into themselves, and the gradient lies in the complement whenever
W and b are centred across classes, so the exact step solves (H + s P_U) p = -g (P_U the
projector onto U, s > 0): the step H^+ g, never singular for that reason. Its iterates
are centred. With ``free`` (a mask of the coordinates to optimise; the others stay
fixed, as for a contrast parameterisation) the solve is restricted to those instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..penalties import Penalty
from ._common import (
    CONVERGED,
    MAX_ITER,
    STALLED,
    Callback,
    Penalised,
    SolverResult,
    backtracking_line_search,
    finish,
    max_abs,
    record_iteration,
    smooth_objective,
)
from ._precondition import feature_preconditioner

#: the one threshold of "small enough for the exact Hessian": up to this many parameters
#: (d + 1) K a Hessian reused along a path costs less than the Hessian-vector products of
#: conjugate gradients; the estimator's "auto" picks Newton up to it, L-BFGS above
EXACT_MAX_PARAMS = 400
#: exact solve: rebuild the Hessian after a step that shrank max |grad| by less than this
REFRESH_RATIO = 0.3
INNER = ("auto", "exact", "cg")


@dataclass
class NewtonState:
    """What carries over between exact-Newton fits (a path): the last datafit Hessian."""

    H_data: np.ndarray | None = None


def uses_exact_hessian(datafit, inner: str = "auto", state: NewtonState | None = None) -> bool:
    """Whether :func:`newton` solves exactly on ``datafit`` with ``inner`` and ``state``."""
    if inner not in INNER:
        raise ValueError(f"inner must be one of {INNER}; got {inner!r}")
    if inner != "auto":
        return inner == "exact"
    return state is not None and datafit.n_params <= EXACT_MAX_PARAMS and \
        callable(getattr(datafit, "hessian", None))


def conjugate_gradient(hessp, rhs: np.ndarray, *, rtol: float, max_iter: int,
                       precondition=None) -> np.ndarray:
    """Approximately solve H p = rhs for a positive semi-definite H given by ``hessp``.

    ``precondition``: a function v -> M^-1 v for a positive definite M close to H
    (preconditioned CG), or None. Stops when ||H p - rhs|| <= rtol * ||rhs||, or on
    (near-)zero or negative curvature, returning the last iterate (the preconditioned
    rhs when the first direction already fails).
    """
    def solve_m(v):
        return v.copy() if precondition is None else precondition(v)

    p = np.zeros_like(rhs)
    r = rhs.copy()
    z = solve_m(r)
    direction = z.copy()
    rz = float(r @ z)
    stop = (rtol ** 2) * float(r @ r)
    for _ in range(max_iter):
        Hd = hessp(direction)
        curvature = float(direction @ Hd)
        if curvature <= 1e-14 * float(direction @ direction):
            return p if np.any(p) else solve_m(rhs)
        step = rz / curvature
        p += step * direction
        r -= step * Hd
        if float(r @ r) <= stop:
            break
        z = solve_m(r)
        rz_new = float(r @ z)
        direction = z + (rz_new / rz) * direction
        rz = rz_new
    return p


class _CGInner:
    """Newton directions by preconditioned CG on Hessian-vector products."""

    def __init__(self, objective: Penalised, precondition, max_cg: int | None):
        self.objective = objective
        if precondition is True:
            precondition = feature_preconditioner(objective.datafit, objective.penalty)
        self.solve_m = precondition.inverse if precondition else None
        self.max_cg = max_cg
        self.hessp = None

    def start(self, theta):
        return theta

    def evaluate(self, theta):
        loss, grad, self.hessp = self.objective.loss_grad_hessp(theta)
        return loss, grad

    def direction(self, theta, grad):
        max_cg = self.max_cg or min(200, theta.size)
        return conjugate_gradient(self.hessp, -grad, rtol=min(0.5, np.sqrt(np.linalg.norm(grad))),
                                  max_iter=max_cg, precondition=self.solve_m)

    def retry(self) -> bool:
        return False

    def accepted(self, t, gmax_before, grad) -> None:
        pass


class _ExactInner:
    """Newton directions from the exact Hessian, rebuilt lazily."""

    def __init__(self, objective: Penalised, free, state: NewtonState | None):
        self.objective = objective
        datafit = objective.datafit
        q, K = datafit.n_features + datafit.fit_intercept, datafit.n_classes
        self.q, self.K = q, K
        self.free = None if free is None else np.flatnonzero(free)
        self.state = state if state is not None else NewtonState()
        self.refresh = self.state.H_data is None or self.state.H_data.shape[0] != q * K
        self.factor = None

    def start(self, theta):
        """The starting point: centred across classes unless some coordinates are fixed."""
        if self.free is not None:
            return theta
        T = theta.reshape(self.q, self.K)
        return (T - T.mean(axis=1, keepdims=True)).ravel()

    def evaluate(self, theta):
        self.theta = theta
        return self.objective.loss_grad(theta)

    def _factor(self):
        A = self.objective.add_ridge(self.state.H_data.copy())
        if self.free is None:
            # lift the flat directions (a common shift of a row of [W; b] across classes), each
            # row by its own curvature: one scale for all would bury the O(1) rows of the
            # intercept under huge features' curvature, or tiny features' under its
            row_scale = np.diag(A).reshape(self.q, self.K).mean(axis=1)
            row_scale = np.where(row_scale > 0, row_scale, 1.0)  # a zero row: any lift
            A += np.kron(np.diag(row_scale), np.ones((self.K, self.K)) / self.K)
        else:
            A = A[np.ix_(self.free, self.free)]
        try:
            return linalg.cho_factor(A), None
        except linalg.LinAlgError:  # singular (collinear columns without a penalty)
            return None, A

    def direction(self, theta, grad):
        if self.refresh:
            self.state.H_data = self.objective.datafit.hessian(theta)
            self.factor = None
        if self.factor is None:
            self.factor = self._factor()
        cho, singular = self.factor
        g = grad if self.free is None else grad[self.free]
        p = -linalg.cho_solve(cho, g) if singular is None \
            else -linalg.lstsq(singular, g, cond=1e-12)[0]
        if self.free is None:
            return p
        full = np.zeros_like(grad)
        full[self.free] = p
        return full

    def retry(self) -> bool:
        """After a failed step: rebuild a stale Hessian and try again (True), or give up."""
        if self.refresh:
            return False
        self.refresh = True
        return True

    def accepted(self, t, gmax_before, grad) -> None:
        self.refresh = t < 1.0 or max_abs(grad) > REFRESH_RATIO * gmax_before


def newton(datafit, penalty: Penalty | None, theta0: np.ndarray, *, tol=1e-6, max_iter=100,
           callback: Callback = None, inner: str = "auto", max_cg: int | None = None,
           precondition=True, free: np.ndarray | None = None,
           state: NewtonState | None = None, polish: bool = False) -> SolverResult:
    """Minimise J = datafit + penalty (smooth) by Newton steps; stops at max |grad J| <= tol.

    Parameters
    ----------
    datafit : Datafit; needs ``loss_grad`` and ``hessian`` (exact) or ``loss_grad_hessp``
        (and ``feature_moments`` when preconditioned) (cg)
    penalty : Penalty or None
    theta0 : ndarray of shape (n_params,)
    inner : {"auto", "exact", "cg"}
        The solve of the Newton system; "auto": exact up to :data:`EXACT_MAX_PARAMS`
        parameters when a ``state`` carries the Hessian between fits, else CG.
    max_cg : int or None, CG iterations per Newton step (default min(200, n_params))
    precondition : bool or FeaturePreconditioner, for CG
    free : bool ndarray of shape (n_params,) or None
        Exact solve only: optimise these coordinates, keep the others at theta0's values.
    state : NewtonState or None, exact solve only: the Hessian carried between fits
    polish : bool
        Once max |grad| <= tol, take one more Newton step, kept only if it lowers both the
        loss and the gradient: near the optimum Newton's error roughly squares, so for the
        price of one iteration the parameters gain several digits beyond ``tol``. It is not
        counted in ``n_iter`` nor in the loss curve.

    Returns
    -------
    SolverResult; "stalled" when no step along the Newton direction (nor, for the exact
    solve, along one from a fresh Hessian) decreases J.
    """
    exact = uses_exact_hessian(datafit, inner, state)
    if free is not None and not exact:
        raise ValueError("newton: free coordinates need the exact inner solve")
    needs = ("loss_grad", "hessian") if exact else \
        ("loss_grad_hessp",) + (("feature_moments",) if precondition is True else ())
    objective = smooth_objective(datafit, penalty, "newton", *needs)
    solve = _ExactInner(objective, free, state) if exact else \
        _CGInner(objective, precondition, max_cg)
    theta = solve.start(np.array(theta0, dtype=np.float64, copy=True))
    curve: list[float] = []
    reason, message = MAX_ITER, ""
    loss, grad = solve.evaluate(theta)
    it = 0
    for it in range(1, max_iter + 1):
        gmax = max_abs(grad)
        if gmax <= tol:
            reason, it = CONVERGED, it - 1
            if polish:
                theta, loss, grad = _polish(objective, solve, theta, loss, grad)
            break
        while True:
            p = solve.direction(theta, grad)
            slope = float(grad @ p)
            if not slope < 0:  # not a descent direction (numerical trouble): -grad instead
                p, slope = -grad, -float(grad @ grad)
            t = backtracking_line_search(objective, theta, loss, grad, p, slope)
            # a step counts while it changes theta in floating point (scale-free: on features
            # of size 1e15 the whole solution is of size 1e-15)
            ok = t is not None and bool(np.any(theta + t * p != theta))
            if ok or not solve.retry():
                break
        if not ok:
            reason, message = STALLED, "the line search found no decrease along the Newton step"
            it -= 1
            break
        theta = theta + t * p
        loss, grad = solve.evaluate(theta)
        solve.accepted(t, gmax, grad)
        record_iteration(curve, callback, it, loss, max_abs(grad))
    return finish(theta, it, reason, loss, grad, curve, message, tol)


def _polish(objective, solve, theta, loss, grad):
    """(theta, loss, grad) after one more Newton step from a converged point, if it helps."""
    if not np.any(grad):
        return theta, loss, grad
    p = solve.direction(theta, grad)
    slope = float(grad @ p)
    if not slope < 0:
        return theta, loss, grad
    t = backtracking_line_search(objective, theta, loss, grad, p, slope)
    if t is None:
        return theta, loss, grad
    new = theta + t * p
    new_loss, new_grad = objective.loss_grad(new)
    if new_loss <= loss and max_abs(new_grad) <= max_abs(grad):
        return new, new_loss, new_grad
    return theta, loss, grad
