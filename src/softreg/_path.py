"""Exact Newton along a regularisation path, for problems with few parameters.

When (d + 1) * K is small the Hessian of J fits in memory and Newton's method with the
exact Hessian converges in two or three iterations from a warm start. The Hessian

    H[(j, k), (l, m)] = sum_i sw_i x_ij x_il (p_ik [k = m] - p_ik p_im)  (+ alpha on W)

is built with two level-3 BLAS products per block of rows (see :class:`ExactHessian`),
and only when the last Newton step made slow progress: a handful of Hessians per fold
instead of a conjugate-gradient loop of Hessian-vector products per iteration.

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
from scipy.linalg import blas

from ._objective import SoftmaxObjective
from .solvers import CONVERGED, MAX_ITER, STALLED, SolverResult
from .solvers._common import backtracking_line_search, max_abs

#: the exact path is used up to this many parameters (d + 1) * K: beyond it a Hessian
#: costs n ((d+1)K)^2 / 2 and a Cholesky ((d+1)K)^3 / 3 flops, more than the ~2 n (d+1)K
#: of the dozens of gradients that L-BFGS or Newton-CG spend instead
MAX_PARAMS = 400
#: rebuild the Hessian after a step that shrank max |grad| by less than this factor
REFRESH_RATIO = 0.3
#: rows per block when the Hessian is accumulated (bounds the (rows, (d+1)K) buffers)
BLOCK_ELEMENTS = 2 ** 22


def exact_newton_fits(n_samples: int, n_features: int, n_classes: int, fit_intercept: bool,
                      sparse: bool) -> bool:
    """Whether Newton with the exact (d+1)K Hessian is the cheaper way on this problem."""
    return not sparse and (n_features + fit_intercept) * n_classes <= MAX_PARAMS


class ExactHessian:
    """Builds the Hessian of J on the rows of [X, 1] (float64 copy of shape (n, q))."""

    def __init__(self, X: np.ndarray, fit_intercept: bool):
        Xt = np.asarray(X, dtype=np.float64)
        if fit_intercept:
            Xt = np.column_stack([Xt, np.ones(len(Xt))])
        self.Xt = np.ascontiguousarray(Xt)
        self.q = Xt.shape[1]

    def subset(self, rows: np.ndarray) -> ExactHessian:
        """The same on the rows ``rows`` only (a fold's training set)."""
        new = object.__new__(ExactHessian)
        new.Xt, new.q = self.Xt[rows], self.q
        return new

    def hessian(self, P: np.ndarray, sw: np.ndarray, alpha: float, n_features: int
                ) -> np.ndarray:
        """Hessian of J of shape (qK, qK) in the layout theta[j * K + k] (alpha on W).

        H = sum_i sw_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T, accumulated over blocks of
        rows in the class-major layout (k * q + j) as blockdiag(A_k) - B with
        Xs = sqrt(sw) * X, Y = [Xs * p_1, ..., Xs * p_K] (n, qK),
        B = Y^T Y (one symmetric rank-k update) and [A_1 ... A_K] = Xs^T Y (one product);
        then permuted to the parameter layout.

        P : ndarray of shape (n, K), probabilities; sw : ndarray of shape (n,), weights
        normalised to sum 1.
        """
        n, K = P.shape
        q = self.q
        P = np.asarray(P, dtype=np.float64)
        root = np.sqrt(np.asarray(sw, dtype=np.float64))
        B = np.zeros((q * K, q * K))
        A = np.zeros((q, q * K))
        step = max(1, BLOCK_ELEMENTS // (q * K))
        for start in range(0, n, step):
            Xs = self.Xt[start:start + step] * root[start:start + step, None]
            Pb = P[start:start + step]
            Y = np.empty((len(Xs), q * K), order="F")
            for k in range(K):
                np.multiply(Xs, Pb[:, k:k + 1], out=Y[:, k * q:(k + 1) * q])
            B = blas.dsyrk(1.0, Y, beta=1.0, c=B, trans=1, lower=0, overwrite_c=1)
            A += Xs.T @ Y
        B = np.triu(B) + np.triu(B, 1).T
        H = -B
        for k in range(K):
            H[k * q:(k + 1) * q, k * q:(k + 1) * q] += A[:, k * q:(k + 1) * q]
        perm = (np.arange(K)[None, :] * q + np.arange(q)[:, None]).ravel()  # j*K+k -> k*q+j
        H = H[np.ix_(perm, perm)]
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


def newton_exact(objective: SoftmaxObjective, builder: ExactHessian, theta0: np.ndarray, *,
                 tol: float = 1e-8, max_iter: int = 100, state: PathState | None = None
                 ) -> SolverResult:
    """Minimise ``objective`` by Newton's method with the exact Hessian and a line search.

    Stops when max |grad J| <= tol, the criterion of every softreg solver. The Hessian of
    the data term is rebuilt only when the last step reduced max |grad| by less than a
    factor of 10 or needed a shorter step than 1 (a lazy Newton method; a Hessian from a
    nearby point still gives fast linear convergence, and the gradient is always exact).
    ``state`` carries that Hessian from one alpha of a path to the next.
    """
    q, K, d = builder.q, objective.n_classes, objective.n_features
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
                P = objective.probabilities(theta)
                state.H_data = builder.hessian(P, objective.sw, 0.0, d)
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
        t = backtracking_line_search(objective, theta, loss, grad, step, slope)
        if t is None or max_abs(t * step) <= 1e-15 * (1.0 + max_abs(theta)):
            if not refresh:  # a stale Hessian: rebuild it and try again
                refresh, factor = True, None
                continue
            reason, message = STALLED, "the line search found no decrease along the Newton step"
            it -= 1
            break
        theta = theta + t * step
        loss, grad = objective.loss_grad(theta)
        refresh = t < 1.0 or max_abs(grad) > REFRESH_RATIO * gmax
        curve.append(loss)
    else:
        if max_abs(grad) <= tol:
            reason = CONVERGED
    return SolverResult(theta, it, reason, loss, max_abs(grad), curve, message)
