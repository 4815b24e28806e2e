"""Exact Newton along a regularisation path, for problems with few parameters.

When (d + 1) * K is small the Hessian of J fits in memory and Newton's method with the
exact Hessian converges in two or three iterations from a warm start. The Hessian

    H[(j, k), (l, m)] = sum_i sw_i x_ij x_il (p_ik [k = m] - p_ik p_im)  (+ alpha on W)

is built from the second moments Q_i = upper triangle of x_i x_i^T, computed once per
data set (they do not depend on the parameters): H = Q^T C with C_i = sw_i (diag(p_i) -
p_i p_i^T) over the K (K + 1) / 2 class pairs: one (n, q(q+1)/2) x (n, K(K+1)/2) product
per iteration instead of a conjugate-gradient loop of Hessian-vector products.

The flat directions: J does not change along U = {(v 1_K^T, c 1_K)} without a penalty,
and along the intercept shift (0, 1_K) with one. H maps U and its orthogonal complement
into themselves, and the gradient lies in the complement whenever W and b are centred
across classes, so the Newton step solves (H + s P_U) p = -g, with P_U the projector
onto U and s a positive scale: the same step as H^+ g, and never singular for that reason.
Iterates are centred and stay centred.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ._objective import SoftmaxObjective
from .solvers import CONVERGED, MAX_ITER, STALLED, SolverResult
from .solvers._common import max_abs

#: the exact path is used when q (q + 1) / 2 * n float64 values fit in this many bytes
MOMENT_BYTES = 256 * 2 ** 20
#: ... and the Hessian has at most this many rows
MAX_PARAMS = 1200


def exact_newton_fits(n_samples: int, n_features: int, n_classes: int, fit_intercept: bool,
                      sparse: bool) -> bool:
    """Whether :class:`SecondMoments` and a dense (d+1)K Hessian are affordable here."""
    q = n_features + fit_intercept
    return (not sparse and q * (q + 1) // 2 * n_samples * 8 <= MOMENT_BYTES
            and q * n_classes <= MAX_PARAMS)


class SecondMoments:
    """Q of shape (n, q(q+1)/2): products x_ij x_il (j <= l) of the rows of [X, 1]."""

    def __init__(self, X: np.ndarray, fit_intercept: bool):
        Xt = np.asarray(X, dtype=np.float64)
        if fit_intercept:
            Xt = np.column_stack([Xt, np.ones(len(Xt))])
        self.q = Xt.shape[1]
        self.rows, self.cols = np.triu_indices(self.q)
        self.Q = Xt[:, self.rows] * Xt[:, self.cols]

    def subset(self, rows: np.ndarray) -> SecondMoments:
        """The moments of the rows ``rows`` only (a fold's training set)."""
        new = object.__new__(SecondMoments)
        new.q, new.rows, new.cols = self.q, self.rows, self.cols
        new.Q = self.Q[rows]
        return new

    def hessian(self, P: np.ndarray, sw: np.ndarray, alpha: float, n_features: int
                ) -> np.ndarray:
        """Hessian of J of shape (qK, qK) in the layout theta[j * K + k] (alpha on W).

        P : ndarray of shape (n, K), probabilities; sw : ndarray of shape (n,), weights
        normalised to sum 1.
        """
        n, K = P.shape
        q = self.q
        kk, mm = np.triu_indices(K)
        P = np.asarray(P, dtype=np.float64)
        C = -(P[:, kk] * P[:, mm])
        diag = kk == mm
        C[:, diag] += P
        C *= np.asarray(sw, dtype=np.float64)[:, None]
        M = self.Q.T @ C  # (q(q+1)/2, K(K+1)/2)
        H4 = np.zeros((q, K, q, K))
        for c, (k, m) in enumerate(zip(kk, mm, strict=True)):
            S = np.zeros((q, q))
            S[self.rows, self.cols] = M[:, c]
            S[self.cols, self.rows] = M[:, c]
            H4[:, k, :, m] = S
            H4[:, m, :, k] = S
        H = H4.reshape(q * K, q * K)
        if alpha:
            idx = np.arange(n_features * K)
            H[idx, idx] += alpha
        return H


def centre(theta: np.ndarray, q: int, K: int) -> np.ndarray:
    """Subtract from every row of [W; b] (q, K) its mean across classes."""
    T = theta.reshape(q, K)
    return (T - T.mean(axis=1, keepdims=True)).ravel()


class PathState:
    """What carries over between the alphas of a path: the last data Hessian."""

    def __init__(self):
        self.H_data = None  # Hessian of the data term (no penalty), shape (qK, qK)


def newton_exact(objective: SoftmaxObjective, moments: SecondMoments, theta0: np.ndarray, *,
                 tol: float = 1e-8, max_iter: int = 100, state: PathState | None = None
                 ) -> SolverResult:
    """Minimise ``objective`` by Newton's method with the exact Hessian and a line search.

    Stops when max |grad J| <= tol, the criterion of every softreg solver. The Hessian of
    the data term is rebuilt only when the last step reduced max |grad| by less than a
    factor of 10 or needed a shorter step than 1 (a lazy Newton method; a Hessian from a
    nearby point still gives fast linear convergence, and the gradient is always exact).
    ``state`` carries that Hessian from one alpha of a path to the next.
    """
    q, K, d = moments.q, objective.n_classes, objective.n_features
    state = state or PathState()
    theta = centre(np.asarray(theta0, dtype=np.float64), q, K)
    U = np.kron(np.eye(q), np.ones((K, K)) / K)  # projector onto the flat directions
    on_W = np.arange(d * K)
    curve: list[float] = []
    reason, message = MAX_ITER, ""
    loss, grad = objective.loss_grad(theta)
    refresh, factor = state.H_data is None, None
    it = 0
    for it in range(1, max_iter + 1):
        gmax = max_abs(grad)
        if gmax <= tol:
            reason, it = CONVERGED, it - 1
            break
        if refresh or factor is None:
            if refresh:
                _, _, P = objective._forward(theta)  # cached by loss_grad: no extra pass
                state.H_data = moments.hessian(P, objective.sw, 0.0, d)
            A = state.H_data.copy()
            A[on_W, on_W] += objective.alpha
            A += max(float(np.mean(np.diag(A))), 1e-12) * U
            try:
                factor = (linalg.cho_factor(A), None)
            except linalg.LinAlgError:  # singular (collinear columns without a penalty)
                factor = (None, A)
        cho, singular = factor
        step = -linalg.cho_solve(cho, grad) if singular is None \
            else -linalg.lstsq(singular, grad, cond=1e-12)[0]
        slope = float(grad @ step)
        if not slope < 0:
            step, slope = -grad, -float(grad @ grad)
        t, noise = 1.0, 16 * np.finfo(np.float64).eps * max(1.0, abs(loss))
        while True:
            trial = theta + t * step
            trial_loss = objective.loss(trial)
            if np.isfinite(trial_loss) and trial_loss <= loss + 1e-4 * t * slope:
                break
            if abs(trial_loss - loss) <= noise and \
                    max_abs(objective.loss_grad(trial)[1]) < gmax:
                break  # at the rounding floor of J: accept a step that shrinks the gradient
            t *= 0.5
            if t < 1e-12:
                break
        if t < 1e-12 or max_abs(t * step) <= 1e-15 * (1.0 + max_abs(theta)):
            if not refresh:  # a stale Hessian: rebuild it and try again
                refresh, factor = True, None
                continue
            reason, message = STALLED, "the line search found no decrease along the Newton step"
            it -= 1
            break
        theta = trial
        loss, grad = objective.loss_grad(theta)
        refresh = t < 1.0 or max_abs(grad) > 0.1 * gmax
        curve.append(loss)
    else:
        if max_abs(grad) <= tol:
            reason = CONVERGED
    return SolverResult(theta, it, reason, loss, max_abs(grad), curve, message)
