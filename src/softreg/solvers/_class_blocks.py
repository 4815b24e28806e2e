"""A per-class block preconditioner on the classes' centred subspace (many classes).

The softmax datafit's Hessian is H = sum_i s_i (diag p_i - p_i p_i^T) (x) a_i a_i^T
(a_i = [x_i, 1] with an intercept). Its per-class diagonal blocks

    B_k = sum_i s_i p_ik (1 - p_ik) a_i a_i^T + ridge part,    k = 1..K,

cost K m^2 flops per row (m = d + intercept) instead of (K m)^2, and each involves only
the rows where class k is uncertain (p_ik (1 - p_ik) not negligible): with many classes,
a few per row. The block-diagonal B = diag(B_1..B_K) alone is a poor preconditioner: H
is flat along the classes' common shifts U = {(v, v, ..., v)} (the penalty alone acts
there) where B is not, so B^-1 H has eigenvalues near alpha / |B| on U and steps taken
with B^-1 leave the centred subspace. Here the preconditioner is B restricted to the
centred subspace U^perp, whose pseudo-inverse is

    M^+ = B^-1 - B^-1 E S^-1 E^T B^-1,    S = E^T B^-1 E = sum_k B_k^-1,

(E: R^m -> R^(mK), v -> (v, ..., v); E^T sums over the classes). With B_k = L_k L_k^T,
M^+ = T T^T for T = L^-T Pi, Pi the orthogonal projector off range(L^-1 E). L-BFGS runs
on u with theta = T u (:meth:`to_params`), its gradient T^T grad (:meth:`grad_to_u`);
every theta it visits is centred across classes, which for an L2 penalty (or none) loses
nothing: the optimum is centred (the intercepts' common shift is free; W's costs penalty).

Shapes: theta (n_params,) = [W (d, K) row-major, b (K,)], viewed as a (m, K) matrix whose
column k holds class k's parameters, as in :mod:`._precondition`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from .._special import softmax_and_logsumexp

#: rows per block when reading X for the blocks' moments (a block's logits stay in cache)
CHUNK_ROWS = 2048


def class_blocks(A: np.ndarray, P: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """The datafit's exact per-class Hessian blocks B_k = sum_i w_ik a_i a_i^T,
    w = sw p (1 - p) (K products with A: a reference for small problems and tests).

    Parameters
    ----------
    A : ndarray of shape (n, m), the (augmented) rows a_i
    P : ndarray of shape (n, K), probabilities
    sw : ndarray of shape (n,), normalised sample weights

    Returns
    -------
    ndarray of shape (K, m, m), float64
    """
    Wt = sw[:, None] * P * (1.0 - P)
    return np.einsum("ik,ia,ib->kab", Wt, A, A, optimize=True)


def pooled_class_blocks(datafit, theta: np.ndarray, chunk_rows: int = CHUNK_ROWS
                        ) -> tuple[np.ndarray, float]:
    """Blocks B_k ~ w_k [Sigma + mu_k mu_k^T, mu_k; mu_k^T, 1] at theta, and the data term.

    With w = sw p (1 - p) (p = softmax(X W + b) at theta), w_k = sum_i w_ik, the weighted
    class means mu_k = sum_i w_ik x_i / w_k and one pooled covariance
    Sigma = sum_ik w_ik (x_i - mu_k)(x_i - mu_k)^T / sum_k w_k, these blocks have the
    exact blocks' first moments (and intercept entries) exactly, and their sum's
    second moments; only how each class's spread differs from the pooled one is lost.
    Cost: the products X W, X^T w and X^T diag(r) X (r = sum_k w_k) and the softmax in
    float32 (an estimate for a preconditioner; sums over the blocks of rows in float64),
    read in blocks of ``chunk_rows`` rows (no (n, K) array): measured 60-70 ms at
    n = 50 000, d = 100, K = 100, about one pass of the fused kernel.

    Parameters
    ----------
    datafit : in-memory datafit with dense ``X`` (n, d), ``y`` (n,) codes or ``Y`` (n, K)
        soft targets, ``sw`` (n,) normalised weights, ``n_classes``, ``fit_intercept``
    theta : ndarray of shape ((d + fit_intercept) * K,), [W (d, K) row-major, b (K,)]

    Returns
    -------
    blocks : ndarray of shape (K, m, m), m = d + fit_intercept, float64
    loss : float, the data term at theta (float32 logits: about 1e-6 relative; for the
        first step's decrease test)
    """
    X, sw = datafit.X, datafit.sw
    n, d = X.shape
    K = int(datafit.n_classes)
    W = theta[: d * K].reshape(d, K).astype(np.float32)
    b = (theta[d * K:] if datafit.fit_intercept else np.zeros(K)).astype(np.float32)
    sw32 = sw.astype(np.float32)
    S1 = np.zeros((d, K))  # X^T w
    G = np.zeros((d, d))  # X^T diag(r) X (upper triangle)
    w = np.zeros(K)
    loss = 0.0
    for lo in range(0, n, chunk_rows):
        rows = slice(lo, lo + chunk_rows)
        Xc = np.asarray(X[rows], dtype=np.float32)
        Z = Xc @ W
        Z += b
        if datafit.Y is not None:
            yz = np.einsum("ik,ik->i", datafit.Y[rows], Z, dtype=np.float64)
        else:
            yz = Z[np.arange(Z.shape[0]), datafit.y[rows]]
        P, lse = softmax_and_logsumexp(Z)
        loss += float(np.dot(sw[rows], lse - yz))
        Wt = 1.0 - P
        Wt *= P
        Wt *= sw32[rows, None]
        S1 += Xc.T @ Wt
        w += Wt.sum(axis=0, dtype=np.float64)
        Xr = Xc * np.sqrt(Wt.sum(axis=1))[:, None]
        G += linalg.blas.ssyrk(1.0, Xr.T)  # Xr^T Xr, upper triangle (Xr.T: F order, no copy)
    G = np.triu(G) + np.triu(G, 1).T
    safe = np.where(w > 0, w, 1.0)
    mu = S1 / safe  # (d, K)
    Sigma = (G - mu @ S1.T) / max(float(w.sum()), 1e-300)
    m = d + datafit.fit_intercept
    out = np.empty((K, m, m))
    out[:, :d, :d] = Sigma
    out[:, :d, :d] *= w[:, None, None]
    for k in range(K):  # + w_k mu_k mu_k^T (no (K, d, d) temporary)
        out[k, :d, :d] += np.outer(S1[:, k], mu[:, k])
    if datafit.fit_intercept:
        out[:, :d, d] = S1.T
        out[:, d, :d] = S1.T
        out[:, d, d] = w
    return out, loss


class ClassBlockPreconditioner:
    """theta = T u with T T^T = M^+ (see the module docstring), M from per-class blocks.

    Parameters
    ----------
    blocks : ndarray of shape (K, m, m), the blocks B_k of the datafit's Hessian
    ridge : float or ndarray of shape (d,), the penalty's ridge part per feature
    fit_intercept : bool (the last of the m rows belongs to the intercept)
    overwrite : bool, whether ``blocks`` (float64, C order) may be overwritten (by the
        factors' inverses, which the preconditioner then holds)
    """

    def __init__(self, blocks: np.ndarray, ridge, fit_intercept: bool,
                 overwrite: bool = False):
        B = blocks if overwrite and blocks.dtype == np.float64 and \
            blocks.flags.c_contiguous else np.array(blocks, dtype=np.float64)
        self.K, m, _ = B.shape
        self.m = m
        penalty = np.zeros(m)
        penalty[: m - fit_intercept] = ridge
        diag = np.einsum("kii->ki", B)  # a view: writes go into B
        scale = max(float(np.mean(diag)), 1e-12)
        # a floor relative to the blocks' mean size keeps each B_k positive definite (a
        # class no row is uncertain about, constant or collinear columns)
        diag += penalty + 1e-10 * scale
        for k in range(self.K):  # B_k -> L_k^-1 in place (lower triangular)
            L = linalg.cholesky(B[k], lower=True, overwrite_a=True, check_finite=False)
            B[k], info = linalg.lapack.dtrtri(L, lower=1)
            if info:
                raise linalg.LinAlgError(f"class {k}'s block is singular")
        #: L_k^-1 of each block's Cholesky factor, shape (K, m, m)
        self.L_inv = B
        self.L_inv_T = B.transpose(0, 2, 1)
        #: the Schur complement S = sum_k B_k^-1 (m, m), factored
        S = np.einsum("kji,kjl->il", B, B, optimize=True)
        self._S = linalg.cho_factor(S, lower=True, check_finite=False)
        self._shift_scale = scale  # M's curvature on the common shifts, for :meth:`inverse`

    def _matrix(self, v: np.ndarray) -> np.ndarray:
        return v.reshape(self.m, self.K)

    @staticmethod
    def _apply(mats: np.ndarray, V: np.ndarray) -> np.ndarray:
        """Column k of V times mats[k]: (K, m, m), (m, K) -> (K, m) (class-major)."""
        return np.matmul(mats, V.T[:, :, None])[:, :, 0]

    def centre(self, theta: np.ndarray) -> np.ndarray:
        """theta minus its common shift across classes (flat): J's value can only drop."""
        T = self._matrix(theta)
        return (T - T.mean(axis=1, keepdims=True)).ravel()

    def to_params(self, u: np.ndarray) -> np.ndarray:
        """theta = L^-T Pi u (flat, centred)."""
        Uc = self._matrix(u).T  # (K, m)
        Z = self._apply(self.L_inv_T, Uc.T)  # L_k^-T u_k
        mu = linalg.cho_solve(self._S, Z.sum(axis=0), check_finite=False)
        # theta_k = L_k^-T (u_k - L_k^-1 mu)
        V = Uc - self.L_inv @ mu
        return self._apply(self.L_inv_T, V.T).T.ravel()

    def grad_to_u(self, grad: np.ndarray) -> np.ndarray:
        """The gradient in u: Pi L^-1 grad (flat)."""
        Y = self._apply(self.L_inv, self._matrix(grad))  # (K, m): L_k^-1 g_k
        mu = linalg.cho_solve(self._S, self._apply(self.L_inv_T, Y.T).sum(axis=0),
                              check_finite=False)
        return (Y - self.L_inv @ mu).T.ravel()

    def from_params(self, theta: np.ndarray) -> np.ndarray:
        """u = L^T theta for centred theta (then :meth:`to_params` gives theta back)."""
        T = self._matrix(self.centre(theta))
        U = np.empty_like(T)
        for k in range(self.K):  # L_k^T theta_k solves (L_k^-1)^T u_k = theta_k
            U[:, k] = linalg.solve_triangular(self.L_inv[k], T[:, k], trans="T", lower=True,
                                              check_finite=False)
        return U.ravel()

    def inverse(self, v: np.ndarray) -> np.ndarray:
        """M^+ v on the centred part of v plus (its common shift) / scale: a positive
        definite map, for preconditioned conjugate gradients."""
        V = self._matrix(v)
        shift = V.mean(axis=1, keepdims=True)
        centred = self.to_params(self.grad_to_u(v))
        return centred + (np.repeat(shift, self.K, 1) / self._shift_scale).ravel()


#: the class-block preconditioner is L-BFGS's default from this many classes on (where the
#: subsample Hessian does not apply): measured on n = 50 000, d = 100 (benchmark classes100)
BLOCKS_MIN_CLASSES = 10
#: ... while its K (d + 1)^2 factors take at most this fraction of X's bytes
BLOCKS_MEMORY_FRACTION = 0.5
#: Armijo constant and step halvings of the first step (see :func:`class_block_start`)
ARMIJO = 1e-4
MAX_HALVINGS = 8


def _dense_data(datafit) -> bool:
    """In-memory dense X with ``y``/``Y``/``sw`` (not sparse, not a Dask datafit)."""
    X = getattr(datafit, "X", None)
    return isinstance(X, np.ndarray) and X.ndim == 2 and \
        all(hasattr(datafit, name) for name in ("y", "Y", "sw"))


def class_blocks_suit(datafit) -> bool:
    """Whether :func:`class_block_start` applies and is the default: in-memory dense X
    with ``y``/``Y``/``sw`` (so not a Dask datafit), at least :data:`BLOCKS_MIN_CLASSES`
    classes, the blocks within :data:`BLOCKS_MEMORY_FRACTION` of X's bytes."""
    if not _dense_data(datafit):
        return False
    X = datafit.X
    m = datafit.n_features + datafit.fit_intercept
    K = datafit.n_classes
    return K >= BLOCKS_MIN_CLASSES and 8 * K * m * m <= BLOCKS_MEMORY_FRACTION * X.nbytes


def zero_point(datafit, chunk_rows: int = 4 * CHUNK_ROWS
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """The feature moments and the data term's gradient and value at theta = 0, from one
    read of X (hard labels ``y``): there p = 1/K, so the gradient needs only the
    weighted class sums of the rows, not the products with W of a pass.

    Returns
    -------
    C : ndarray of shape (m, m), sum_i sw_i a_i a_i^T (float32 products), m = d + intercept
    grad : ndarray of shape (n_params,), the data term's gradient at 0 (float64)
    loss : float, its value there, log(K) sum_i sw_i
    """
    X, sw, y = datafit.X, datafit.sw, datafit.y
    n, d = X.shape
    K = int(datafit.n_classes)
    C = np.zeros((d, d))
    for lo in range(0, n, chunk_rows):
        rows = slice(lo, lo + chunk_rows)
        Xs = np.asarray(X[rows], dtype=np.float32) * np.sqrt(sw[rows], dtype=np.float32)[:, None]
        C += linalg.blas.ssyrk(1.0, Xs.T)  # upper triangle
    C = np.triu(C) + np.triu(C, 1).T
    onehot = sp.csr_matrix((sw, (y, np.arange(n))), shape=(K, n))  # sw_i at (y_i, i)
    class_sums = np.asarray(onehot @ X, dtype=np.float64)  # (K, d): sum_i sw_i y_ik x_i
    mean = np.asarray(X.T @ sw, dtype=np.float64)  # (d,)
    total = float(sw.sum())
    gW = mean[:, None] / K - class_sums.T
    gb = total / K - np.asarray(onehot.sum(axis=1), dtype=np.float64).ravel()
    if datafit.fit_intercept:
        C = np.block([[C, mean[:, None]], [mean[None, :], np.array([[total]])]])
        grad = np.concatenate([gW.ravel(), gb])
    else:
        grad = gW.ravel()
    return C, grad, float(np.log(K)) * total


def class_block_start(objective, theta0: np.ndarray
                      ) -> tuple[ClassBlockPreconditioner, np.ndarray]:
    """(preconditioner, starting point) for L-BFGS on many classes.

    ``objective``: a :class:`._common.Penalised` (smooth penalty) on an in-memory datafit
    (see :func:`class_blocks_suit`). A cold start (theta0 = 0, where the probabilities are
    uniform and every block is the same) first takes one step
    theta1 = theta0 - M^-1 grad J(theta0) with the features' moments preconditioner M of
    :mod:`._precondition` (J's Newton step at W = 0, halved until J decreases enough), then
    builds the blocks at theta1 (:func:`pooled_class_blocks`, whose data term serves the
    decrease test). A warm start builds them at theta0. The start is centred across
    classes (:meth:`ClassBlockPreconditioner.centre`). Costs: the moments (one pass), the
    gradient at theta0 (one pass), the blocks (one pass each try), all counted.
    Measured on classes100 (n = 50 000, d = 100, K = 100, alpha = 1e-4, tol = 1e-7):
    ~17 passes against 35 with the moments preconditioner alone.
    """
    from ._precondition import FeaturePreconditioner, feature_preconditioner

    datafit, penalty = objective.datafit, objective.penalty
    if not _dense_data(datafit):
        raise TypeError("the class-block preconditioner needs in-memory dense X (the "
                        f"datafit's X, y/Y and sw); {type(datafit).__name__} lacks them")
    ridge = penalty.ridge_weights(datafit.n_features) if penalty is not None else 0.0
    theta = np.asarray(theta0, dtype=np.float64)
    if not np.any(theta):
        if datafit.Y is None:  # hard labels: the moments and J's gradient at 0, one read
            C, g0, f0 = zero_point(datafit)
            datafit.add_passes(1)
            moments = FeaturePreconditioner(C, datafit.n_classes, ridge, datafit.fit_intercept)
        else:
            moments = feature_preconditioner(datafit, penalty)
            f0, g0 = objective.loss_grad(theta)
        step = -moments.inverse(g0)
        slope = float(np.dot(g0, step))
        t = 1.0
        for _ in range(MAX_HALVINGS):
            trial = theta + t * step
            blocks, data_loss = pooled_class_blocks(datafit, trial)
            datafit.add_passes(1)
            f1 = data_loss + objective._value(trial) if objective.ridge_diag is not None \
                else data_loss
            if f1 <= f0 + ARMIJO * t * slope:
                theta = trial
                break
            t *= 0.5
        else:
            blocks, _ = pooled_class_blocks(datafit, theta)
            datafit.add_passes(1)
    else:
        blocks, _ = pooled_class_blocks(datafit, theta)
        datafit.add_passes(1)
    pre = ClassBlockPreconditioner(blocks, ridge, datafit.fit_intercept, overwrite=True)
    return pre, pre.centre(theta)
