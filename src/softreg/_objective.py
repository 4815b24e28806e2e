"""The softmax-regression objective J on fixed data: value, gradient, Hessian products.

Shapes, written once:

- ``X``: ndarray or scipy.sparse matrix of shape (n_samples, n_features) = (n, d)
- targets: int codes ``y`` of shape (n,) in ``range(K)``, or a soft-target matrix
  ``Y`` of shape (n, K) whose rows are probabilities
- ``sample_weight`` ``s``: shape (n,), non-negative, not all zero
- parameters ``W`` (d, K) and ``b`` (K,), flattened for the solvers into
  ``theta = concat(W.ravel(), b)`` of shape (d*K + K,) (without ``b`` when there is no
  intercept)

    J(W, b) = sum_i s_i CE_i / sum_i s_i + (alpha / 2) ||W||_F^2,
    CE_i = logsumexp(Z_i) - Y_i . Z_i,   Z = X W + b.

The objective works in X's dtype (float32 stays float32 for the big products) and
returns the value as a Python float and gradients as float64 vectors for the solvers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ._special import softmax_and_logsumexp


class SoftmaxObjective:
    """J(W, b) on fixed data; the one place in the library that touches X.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    y : ndarray of shape (n,) with int codes in range(n_classes), or None
    Y : ndarray of shape (n, n_classes) of soft targets, or None (exactly one of y, Y)
    sample_weight : ndarray of shape (n,) or None (all ones)
    alpha : float, L2 penalty on W (never on b)
    fit_intercept : bool
    n_classes : int, K (needed with ``y``)
    weight_sum : float or None
        Divide the weights by this instead of their own sum (a minibatch uses the full data
        set's, so that its gradient is an unbiased estimate of the full one).
    """

    def __init__(self, X, *, y=None, Y=None, sample_weight=None, alpha=0.0,
                 fit_intercept=True, n_classes=None, weight_sum=None):
        if (y is None) == (Y is None):
            raise TypeError("pass exactly one of y (int codes) or Y (soft targets)")
        self.X = X
        self.dtype = np.dtype(X.dtype)
        n, d = X.shape
        self.n_samples, self.n_features = n, d
        if Y is not None:
            self.Y = np.asarray(Y, dtype=self.dtype)
            self.y = None
            self.n_classes = self.Y.shape[1]
        else:
            self.y = np.asarray(y, dtype=np.intp)
            self.Y = None
            self.n_classes = int(n_classes)
        s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.weight_sum = float(s.sum()) if weight_sum is None else float(weight_sum)
        #: normalised weights s / sum(s), shape (n,), in X's dtype
        self.sw = (s / self.weight_sum).astype(self.dtype)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.n_params = (d + self.fit_intercept) * self.n_classes
        #: passes over X so far (one per loss/gradient or Hessian product)
        self.n_passes = 0
        self._cache = None  # (theta, loss, G, P) of the last forward pass

    # -- parameter layout -------------------------------------------------------------
    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split theta (n_params,) into W (d, K) and b (K,) (None without intercept)."""
        d, K = self.n_features, self.n_classes
        W = theta[: d * K].reshape(d, K)
        b = theta[d * K:] if self.fit_intercept else None
        return W, b

    def pack(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Flatten W (d, K) and b (K,) into theta (n_params,), float64."""
        parts = [np.asarray(W, dtype=np.float64).ravel()]
        if self.fit_intercept:
            parts.append(np.zeros(self.n_classes) if b is None else np.asarray(b, np.float64))
        return np.concatenate(parts)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_params)

    # -- pieces ---------------------------------------------------------------------------
    def logits(self, theta: np.ndarray) -> np.ndarray:
        """Z = X W + b of shape (n, K), in X's dtype."""
        W, b = self.unpack(theta)
        Z = self.X @ W.astype(self.dtype, copy=False)
        Z = np.asarray(Z)
        if b is not None:
            Z += b.astype(self.dtype, copy=False)
        return Z

    def _pack_grad(self, G: np.ndarray, W: np.ndarray) -> np.ndarray:
        """[X^T G + alpha W, G.sum(0)] as a flat float64 vector; G of shape (n, K)."""
        gW = np.asarray(self.X.T @ G, dtype=np.float64)
        if self.alpha:
            gW += self.alpha * W
        parts = [gW.ravel()]
        if self.fit_intercept:
            parts.append(G.sum(axis=0, dtype=np.float64))
        return np.concatenate(parts)

    def _forward(self, theta):
        """Loss J and the weighted residual G = s * (P - Y) / sum(s), plus P.

        The last result is cached, so a line search's accepted trial point costs no
        second pass when the solver then asks for its gradient.
        """
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1:]
        W, _ = self.unpack(theta)
        Z = self.logits(theta)
        sw = self.sw
        if self.Y is not None:
            yz = np.einsum("ik,ik->i", self.Y, Z)
        else:
            yz = Z[np.arange(self.n_samples), self.y]
        P, lse = softmax_and_logsumexp(Z)  # Z is overwritten by P
        data_loss = float(np.dot(sw.astype(np.float64), (lse - yz).astype(np.float64)))
        loss = data_loss + 0.5 * self.alpha * float(np.dot(W.ravel(), W.ravel()))
        G = P.copy()
        if self.Y is not None:
            G -= self.Y
        else:
            G[np.arange(self.n_samples), self.y] -= 1
        G *= sw[:, None]
        self.n_passes += 1
        self._cache = (np.array(theta, copy=True), loss, G, P)
        return loss, G, P

    # -- public entry points ------------------------------------------------------------------
    def loss(self, theta: np.ndarray) -> float:
        """J(theta)."""
        return self._forward(theta)[0]

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(J(theta), grad J(theta)) with the gradient of shape (n_params,)."""
        loss, G, _ = self._forward(theta)
        W, _ = self.unpack(theta)
        return loss, self._pack_grad(G, W)

    def loss_grad_hessp(self, theta: np.ndarray
                        ) -> tuple[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """J, grad J and a function v -> H(theta) v that reuses P (one pass per product)."""
        loss, G, P = self._forward(theta)
        W, _ = self.unpack(theta)
        grad = self._pack_grad(G, W)
        sw = self.sw[:, None]

        def hessp(v: np.ndarray) -> np.ndarray:
            R = self.logits(v)  # X V + c, a directional change of the logits
            PR = P * R
            D = PR - P * PR.sum(axis=1, keepdims=True)
            D *= sw
            V, _ = self.unpack(v)
            self.n_passes += 1
            return self._pack_grad(D, V)

        return loss, grad, hessp

    def minibatch(self, rows: np.ndarray) -> SoftmaxObjective:
        """The objective's unbiased estimate from the rows ``rows`` (shape (m,)).

        Its data term is (n / m) * sum over the rows of sw_i CE_i, whose expectation over
        uniformly drawn rows is the full data term, however uneven the weights.
        """
        s = self.sw[rows].astype(np.float64) * (self.n_samples / len(rows))
        return SoftmaxObjective(
            self.X[rows],
            y=None if self.y is None else self.y[rows],
            Y=None if self.Y is None else self.Y[rows],
            sample_weight=s, alpha=self.alpha, fit_intercept=self.fit_intercept,
            n_classes=self.n_classes, weight_sum=1.0,
        )

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(theta) v, shape (n_params,)."""
        return self.loss_grad_hessp(theta)[2](v)

    def smoothness_bound(self) -> float:
        """An upper bound L on the largest eigenvalue of the Hessian (for step sizes).

        The softmax Hessian with respect to one row of logits has norm <= 1/2 and the
        Hessian is a weighted sum of such terms, so
        L <= 0.5 * sum_i sw_i (||x_i||^2 + [intercept]) + alpha  (sw: normalised weights).
        """
        X = self.X
        if sp.issparse(X):
            row_sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        else:
            row_sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
        mean_sq = float(np.dot(self.sw.astype(np.float64), row_sq))
        return 0.5 * (mean_sq + self.fit_intercept) + self.alpha
