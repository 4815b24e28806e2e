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
