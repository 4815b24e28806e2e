"""What a datafit offers the solvers: the objective protocol, written once.

A *datafit* is the data term of J on fixed data (in memory or over Dask partitions);
the solvers combine it with a :class:`~softreg.penalties.Penalty`. Shapes:

- parameters ``theta`` of shape (n_params,) = concat(W.ravel(), b), W (d, K) row-major,
  b (K,) only with an intercept (``n_params = (d + fit_intercept) * K``)
- ``v`` of shape (n_params,): a direction for Hessian products

Every evaluation returns float64 and fresh arrays that the caller owns, except where a
method says otherwise (:meth:`Datafit.probabilities`). ``n_passes`` counts the passes
over X (one per evaluation, Hessian product, Hessian or moments); only the datafit
itself changes it.

A solver states what it needs with :func:`require` and refuses early, by name, an
objective that lacks it; it never quietly runs without a method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Datafit(Protocol):
    """The data term of J(W, b) and what the solvers may ask of it."""

    n_samples: int
    n_features: int
    n_classes: int
    fit_intercept: bool
    n_params: int
    dtype: np.dtype

    @property
    def n_passes(self) -> int:
        """Passes over X so far."""
        ...

    # -- parameter layout -----------------------------------------------------------------
    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(W (d, K), b (K,) or None): views into theta."""
        ...

    def pack(self, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """theta (n_params,) from W (d, K) and b (K,)."""
        ...

    def zeros(self) -> np.ndarray:
        """theta = 0, shape (n_params,)."""
        ...

    # -- evaluations ----------------------------------------------------------------------
    def loss(self, theta: np.ndarray) -> float:
        """The datafit's value."""
        ...

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(value, gradient (n_params,))."""
        ...

    def loss_grad_hessp(self, theta: np.ndarray
                        ) -> tuple[float, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """(value, gradient, v -> H(theta) v); each product is one pass."""
        ...

    def hessp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(theta) v, shape (n_params,)."""
        ...

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """The Hessian H(theta) of shape (n_params, n_params) (for few parameters)."""
        ...

    def probabilities(self, theta: np.ndarray):
        """P = softmax(X W + b) of shape (n, K).

        In memory: a float64 ndarray that may be the datafit's own buffer, valid until its
        next evaluation (copy it to keep it). Over Dask: a lazy dask array.
        """
        ...

    def feature_moments(self, dense: bool = True) -> np.ndarray:
        """C = sum_i sw_i a_i a_i^T, a_i = [x_i, 1] (1 only with an intercept).

        Shape (m, m) when ``dense``, else its diagonal (m,), m = d + fit_intercept; the
        weights sw are normalised to sum 1. For the feature preconditioner.
        """
        ...

    def smoothness_bound(self) -> float:
        """An upper bound L on the largest eigenvalue of the datafit's Hessian."""
        ...


#: the methods of the protocol (what :func:`missing_methods` checks by default)
METHODS = ("unpack", "pack", "zeros", "loss", "loss_grad", "loss_grad_hessp", "hessp",
           "hessian", "probabilities", "feature_moments", "smoothness_bound")


def missing_methods(datafit, methods=METHODS) -> list[str]:
    """The names in ``methods`` that ``datafit`` does not offer as callables."""
    return [m for m in methods if not callable(getattr(datafit, m, None))]


def require(datafit, solver: str, *methods: str) -> None:
    """Raise TypeError naming the methods of ``methods`` that ``datafit`` lacks.

    Parameters
    ----------
    datafit : object offered to ``solver``
    solver : str, the solver's name (for the message)
    *methods : str, what the solver calls
    """
    missing = missing_methods(datafit, methods)
    if missing:
        raise TypeError(f"solver {solver!r} needs the objective's {', '.join(missing)}, "
                        f"which {type(datafit).__name__} does not offer")
