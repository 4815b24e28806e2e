"""A feature-side preconditioner: L-BFGS on whitened coordinates.

Near W = 0 the Hessian of J is (1/K) C (x) (I - 11^T / K) + R, where C is the
weighted second-moment matrix of the features (with a column of ones for the
intercept) and R the penalty's ridge part (ridge * pf_j on feature j, zero on the
intercept). Correlated or badly scaled features make C ill-conditioned, and first-order
solvers then need many passes. With M = (1/K) C + R = L L^T and the change of variables
theta = L^-T u,
the Hessian in u is close to the identity on the data-relevant directions, so L-BFGS
starts well scaled. Each change of variables costs a triangular solve of size d + 1
per class (nothing next to a pass over X).

Shapes: theta (n_params,) = [W (d, K) row-major, b (K,)]; viewed here as a (d + 1, K)
matrix Theta (or (d, K) without intercept) so that theta = L^-T u is one solve with
K right-hand sides.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack

from .._protocol import require
from ..penalties import Penalty

#: above this many features, the preconditioner is diagonal (C's diagonal only)
DENSE_MAX_FEATURES = 2000
#: ... and above this many per class: forming C costs n d^2 flops, a pass 4 n d K, so
#: C stays under about ten passes' worth of work
DENSE_MAX_FEATURES_PER_CLASS = 40


class FeaturePreconditioner:
    """theta <-> u = L^T Theta, with M = (1/K) C + R = L L^T (or its diagonal).

    Parameters
    ----------
    moments : ndarray of shape (m, m) (dense) or (m,) (diagonal), m = d + intercept:
        C = sum_i sw_i a_i a_i^T for the (augmented) rows a_i = [x_i, 1]
    n_classes : int, K
    ridge : float or ndarray of shape (d,), the ridge part of the penalty per feature
    fit_intercept : bool (the last row of C belongs to the intercept)
    """

    def __init__(self, moments: np.ndarray, n_classes: int, ridge, fit_intercept: bool):
        self.K = int(n_classes)
        M = np.array(moments, dtype=np.float64) / self.K
        m = M.shape[0]
        penalty = np.zeros(m)
        penalty[: m - fit_intercept] = ridge
        self.diagonal = M.ndim == 1
        diag = M if self.diagonal else np.diag(M)
        # a floor relative to each column's own size keeps M positive definite for constant,
        # duplicated or all-zero columns without swamping tiny features (or the intercept
        # beside huge ones)
        floor = 1e-10 * np.where(diag > 0, diag, float(np.mean(diag)) or 1.0)
        if self.diagonal:
            self.sqrt_diag = np.sqrt(np.maximum(M + penalty, floor))
            return
        M[np.diag_indices(m)] += penalty + floor
        self.L = L = linalg.cholesky(M, lower=True, check_finite=False)
        #: L^-1 (m, m), applied by matrix products (cheaper than repeated solves)
        self.L_inv = linalg.solve_triangular(L, np.eye(m), lower=True, check_finite=False)

    def _matrix(self, v: np.ndarray) -> np.ndarray:
        return v.reshape(-1, self.K)

    def to_params(self, u: np.ndarray) -> np.ndarray:
        """theta = L^-T u (flat, shape (n_params,))."""
        U = self._matrix(u)
        if self.diagonal:
            return (U / self.sqrt_diag[:, None]).ravel()
        return (self.L_inv.T @ U).ravel()

    def from_params(self, theta: np.ndarray) -> np.ndarray:
        """u = L^T theta (flat)."""
        T = self._matrix(theta)
        if self.diagonal:
            return (T * self.sqrt_diag[:, None]).ravel()
        return (self.L.T @ T).ravel()

    def inverse(self, v: np.ndarray) -> np.ndarray:
        """M^-1 v = L^-T L^-1 v (flat), for preconditioned conjugate gradients."""
        return self.to_params(self.grad_to_u(v))

    def grad_to_u(self, grad: np.ndarray) -> np.ndarray:
        """The gradient in u: d/du J(L^-T u) = L^-1 grad (flat)."""
        G = self._matrix(grad)
        if self.diagonal:
            return (G / self.sqrt_diag[:, None]).ravel()
        return (self.L_inv @ G).ravel()


def feature_moments(datafit) -> np.ndarray:
    """The moments the preconditioner of ``datafit`` is built from (one pass over X).

    Dense (m, m) or diagonal (m,) by size; independent of the penalty, so a path over
    penalties computes them once. A datafit without ``feature_moments`` is refused by
    name (TypeError).
    """
    require(datafit, "preconditioner", "feature_moments")
    m = datafit.n_features + datafit.fit_intercept
    dense = m <= min(DENSE_MAX_FEATURES, DENSE_MAX_FEATURES_PER_CLASS * datafit.n_classes)
    return datafit.feature_moments(dense=dense)


def feature_preconditioner(datafit, penalty: Penalty | None = None,
                           moments: np.ndarray | None = None) -> FeaturePreconditioner:
    """The preconditioner for ``datafit`` plus ``penalty``'s ridge part.

    ``moments``: :func:`feature_moments` of ``datafit`` when already computed; else
    computed here (one pass over X).
    """
    if moments is None:
        moments = feature_moments(datafit)
    ridge = 0.0 if penalty is None else penalty.ridge_weights(datafit.n_features)
    return FeaturePreconditioner(moments, datafit.n_classes, ridge, datafit.fit_intercept)


#: the subsample-Hessian preconditioner is used up to this many parameters (d + 1) K:
#: its (qK)^2 Hessian and factors stay below ~35 MB and factor in a few tens of ms
HESSIAN_MAX_PARAMS = 2000
#: ... on a subsample of n / SUBSAMPLE_DIVISOR rows, but at least SUBSAMPLE_MIN_ROWS_PER_PARAM
#: (and at most SUBSAMPLE_MAX_ROWS_PER_PARAM) rows per parameter, so that the subsample's
#: Hessian is a fair estimate of the full one and costs a few passes at most
SUBSAMPLE_DIVISOR = 32
SUBSAMPLE_MIN_ROWS_PER_PARAM = 6
SUBSAMPLE_MAX_ROWS_PER_PARAM = 16
#: ... and only where its buffers take at most this fraction of X's bytes
HESSIAN_MEMORY_FRACTION = 0.5
#: ... and only where that subsample is at most this fraction of the rows (else it saves
#: fewer passes than it costs)
SUBSAMPLE_MAX_FRACTION = 1 / 8


#: float32 factorisation (:class:`HessianPreconditioner`, ``factor_dtype``): every pivot
#: L_jj^2 must keep at least this fraction of M_jj, else M is factored in float64 (float32
#: rounding, about 6e-8 M_jj per pivot times a small multiple of sqrt(n_params), is then at
#: most ~1e-4 of the pivot: harmless for a preconditioner)
FLOAT32_PIVOT_MIN = 1e-4


class HessianPreconditioner:
    """theta <-> u = L^T theta for a Hessian estimate H = L L^T (flat, any layout).

    Parameters
    ----------
    H : ndarray of shape (n_params, n_params), symmetric positive semi-definite: the
        penalised Hessian of J at some point (here: on a subsample, at its optimum)
    n_classes : int, K
    overwrite : bool, whether H (float64, C order) may be overwritten (by the factor)
    factor_dtype : float64, or float32 to factor M in float32 first (float32 data, see
        below); L is float64 either way

    The datafit is flat along the classes' common shifts U = {(v 1_K^T, c 1_K)} (the
    penalty alone acts there), so H may be singular on U. M = H + mean(diag H) P_U (P_U the
    projector onto U, as in the exact Newton solve) is positive definite and maps U and its
    complement into themselves; iterates started centred across classes stay so.

    ``factor_dtype`` float32 (the fits of float32 X, whose H is a float32-product estimate
    anyway): M is factored by LAPACK's spotrf, about half dpotrf's time (n_params = 1010,
    one thread: 4.0 against 8.0 ms, plus 0.9 ms for the two conversions), and L widened to
    float64, so the change of variables (dtrsv, dtrmv) stays float64 and exactly
    consistent. Cholesky's rounding is relative to sqrt(M_jj M_ll) (blind to the features'
    scales); where it could matter, a pivot L_jj^2 below :data:`FLOAT32_PIVOT_MIN` M_jj
    (column j nearly in the span of the ones before it: M ill-conditioned beyond its
    diagonal scaling) or a failed factorisation, M is factored in float64 as without it.
    """

    def __init__(self, H: np.ndarray, n_classes: int, overwrite: bool = False,
                 factor_dtype=np.float64):
        K = int(n_classes)
        m = H.shape[0]
        q = m // K
        # M (float64, C order; H itself with ``overwrite``): the Cholesky factor is written
        # over it, so the preconditioner holds one (qK)^2 array
        M = H if overwrite and H.dtype == np.float64 and H.flags.c_contiguous else \
            np.array(H, dtype=np.float64, order="C")
        scale = max(float(np.mean(np.diag(M))), 1e-12)
        for j in range(q):  # + scale * P_U: P_U is block diagonal, K x K blocks of 1/K
            M[j * K:(j + 1) * K, j * K:(j + 1) * K] += scale / K
        diag = M.diagonal().copy()
        F = M.T  # F order, the same symmetric matrix: LAPACK factors it in place
        if np.dtype(factor_dtype) == np.float32 and self._factor_float32(F, diag, scale):
            return
        # a relative jitter: first tiny; larger when rounding (a float32 estimate of H) or
        # collinear columns without a penalty left M numerically indefinite
        for jitter in (1e-10, 1e-6, 1e-3, 1e-1):
            np.fill_diagonal(F, diag + jitter * scale)
            try:
                self.L = linalg.cholesky(F, lower=True, overwrite_a=True, check_finite=False)
                break
            except linalg.LinAlgError:  # part of L overwrote the lower triangle: restore it
                lower = np.tril_indices(m, -1)
                F[lower] = F.T[lower]
        else:
            raise linalg.LinAlgError("the Hessian estimate is not positive semi-definite")

    def _factor_float32(self, F: np.ndarray, diag: np.ndarray, scale: float) -> bool:
        """L from spotrf of F (M, F order, diagonal ``diag``) widened into F; False (F
        untouched) where spotrf fails or a pivot is below FLOAT32_PIVOT_MIN of M's."""
        shifted = diag + 1e-10 * scale  # the float64 loop's first jitter (below float32's
        np.fill_diagonal(F, shifted)    # rounding of M: it keeps the two alike)
        L32, info = lapack.spotrf(np.asarray(F, dtype=np.float32, order="F"), lower=1,
                                  overwrite_a=1, clean=1)
        if info != 0:
            return False
        pivots = np.square(np.diagonal(L32), dtype=np.float64)
        if not np.all(pivots >= FLOAT32_PIVOT_MIN * shifted):
            return False
        np.copyto(F, L32)
        self.L = F
        return True

    # triangular solves (n_params^2 flops each, twice per iteration): forming L^-1 would
    # cost n_params^3, some 40 ms at n_params = 1010. BLAS's dtrsv / dtrmv directly
    # (measured at n_params = 1010: 0.19 ms each against 0.24 ms through solve_triangular
    # and 0.33 ms for L.T @ theta, which also reads the zero triangle)
    def to_params(self, u: np.ndarray) -> np.ndarray:
        """theta = L^-T u."""
        return blas.dtrsv(self.L, np.asarray(u, dtype=np.float64), lower=1, trans=1)

    def from_params(self, theta: np.ndarray) -> np.ndarray:
        """u = L^T theta."""
        return blas.dtrmv(self.L, np.asarray(theta, dtype=np.float64), lower=1, trans=1)

    def grad_to_u(self, grad: np.ndarray) -> np.ndarray:
        """The gradient in u: L^-1 grad."""
        return blas.dtrsv(self.L, np.asarray(grad, dtype=np.float64), lower=1)

    def inverse(self, v: np.ndarray) -> np.ndarray:
        """M^-1 v, for preconditioned conjugate gradients."""
        return self.to_params(self.grad_to_u(v))


def subsample_size(datafit) -> int | None:
    """Rows of the subsample for :class:`HessianPreconditioner`, or None where it does not pay.

    It needs a datafit with ``minibatch``, ``minibatch_passes`` and ``hessian`` on dense
    X (in memory, or a Dask datafit's partitions, which gather the rows), at most
    :data:`HESSIAN_MAX_PARAMS` parameters, buffers of at most
    :data:`HESSIAN_MEMORY_FRACTION` of X's bytes, and enough rows that the subsample is a
    small fraction of them.
    """
    if not all(callable(getattr(datafit, name, None))
               for name in ("minibatch", "minibatch_passes", "hessian")):
        return None
    p = datafit.n_params
    n = datafit.n_samples
    X = getattr(datafit, "X", None)
    # dense X only (in memory, or a Dask datafit's partitions: ``dense_nbytes``), and the
    # Hessian's buffers while it is built (the float64 (qK)^2 result, factored in place
    # later, beside SYRK's float32 (qK)^2 one or the pairs' float64 G of about 4 (qK)^2 bytes
    # at most, see softreg._hessian.PAIR_MAX_FEATURES) within half of X's bytes: no fit
    # should need more memory beside X than half a copy of it
    nbytes = X.nbytes if isinstance(X, np.ndarray) else getattr(datafit, "dense_nbytes", None)
    if p > HESSIAN_MAX_PARAMS or nbytes is None or \
            12 * p * p > HESSIAN_MEMORY_FRACTION * nbytes:
        return None
    rows = min(max(n // SUBSAMPLE_DIVISOR, SUBSAMPLE_MIN_ROWS_PER_PARAM * p),
               SUBSAMPLE_MAX_ROWS_PER_PARAM * p)
    return rows if rows <= SUBSAMPLE_MAX_FRACTION * n else None


def subsample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``size`` sorted distinct row indices in range(n), drawn at random (seeded).

    The same rows whatever X's memory order, so a fit does not depend on it: on C- and
    F-ordered copies of the same data the fits follow the same iterates up to rounding
    (dense64: 12 passes each, the iterates' losses equal to ~1e-14). Rows used to be drawn
    in runs of 16 consecutive rows for F-ordered X, to gather them faster (n = 200 000,
    d = 100, 6 250 rows: 1.2 ms against 3.8 ms for single rows from F order, 0.6 ms from
    C order); that gave F order another subsample, and with it another preconditioner and
    path: 13 passes against C order's 12 on the benchmark's dense64 (over seeds 0-7 single
    rows and runs needed 12.5 passes on average alike: luck either way).
    """
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))
