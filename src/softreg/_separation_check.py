"""The separation warning at fit time (alpha = 0).

Without a penalty, (quasi-)separated classes have no finite maximum-likelihood estimate:
the solver pushes the coefficients along the separating direction until the gradient
falls below its tolerance and reports convergence on numbers that only reflect the
tolerance. :func:`warn_if_separated` says so, using the linear program of
:func:`softreg.inference._separation` (exact: Albert and Anderson's criterion), but runs
it only when the fit shows the signs, because the LP costs several times the fit:

- the solver did not converge (it may still be running off to infinity), or
- some observation is predicted with a class probability p_ik < ``HINT_P`` whose pull on
  the gradient, s_i p_ik max_j |x_ij| / sum(s), is below the solver's tolerance: the
  solver cannot see that row any more. This is where a separating direction leaves the
  rows it separates: along it every such row's p_ik falls towards 0 (their logits grow
  without bound, the coefficients' norm with them) until its pull drops below the
  tolerance, and that is when the solver stops.

A fit with finite, well-determined probabilities (statsmodels' ANES 1996 example: the
smallest is 4.5e-5, pulling at 4e-6 against a tolerance of 1e-7) skips the LP. Very large
problems (more than ``MAX_NNZ`` entries in the LP) skip it too; ``softreg.infer`` always
runs the full check.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning

from .inference import SeparationWarning, _feature_names, _separation

__all__ = ["FitSeparationWarning", "warn_if_separated"]

#: class probabilities below this are "at 0 or 1" (with a pull below the tolerance)
HINT_P = 1e-3
#: the fit-time LP is skipped above this many constraint-matrix entries
MAX_NNZ = 1_000_000
#: tolerance assumed when the estimator's is None (its default for float64 data)
DEFAULT_TOL = 1e-7


class FitSeparationWarning(SeparationWarning, ConvergenceWarning):
    """fit(alpha=0) on (quasi-)separated classes: no finite optimum exists.

    A :class:`~sklearn.exceptions.ConvergenceWarning` (the coefficients diverge) and a
    :class:`softreg.inference.SeparationWarning`.
    """


def shows_signs(P: np.ndarray, X, sw: np.ndarray, tol: float, converged: bool) -> bool:
    """True when the fit shows the signs of separation (see the module docstring).

    Parameters
    ----------
    P : ndarray of shape (n, K), fitted probabilities
    X : ndarray or sparse matrix of shape (n, d)
    sw : ndarray of shape (n,), normalised weights s / sum(s)
    tol : float, the solver's tolerance on max |gradient of J|
    converged : bool
    """
    if not converged:
        return True
    rows = np.flatnonzero(sw > 0)
    small = P[rows].min(axis=1)
    rows, small = rows[small < HINT_P], small[small < HINT_P]
    if rows.size == 0:
        return False
    Xr = X[rows]
    size = abs(Xr).max(axis=1)
    size = np.asarray(size.todense()).ravel() if sp.issparse(Xr) else np.asarray(size)
    pull = sw[rows] * small * np.maximum(size, 1.0)  # the intercept's column is 1
    return bool(np.any(pull <= tol))


def warn_if_separated(estimator, objective, result) -> None:
    """Warn with :class:`FitSeparationWarning` when an unpenalised fit has no finite optimum.

    Called by ``SoftmaxRegression`` after the solver (only with alpha = 0 and hard labels
    on in-memory data; anything else returns at once).
    """
    if float(estimator.alpha) != 0 or getattr(objective, "y", None) is None \
            or not hasattr(objective, "X") or not hasattr(objective, "sw"):
        return
    X = objective.X
    if not (isinstance(X, np.ndarray) or sp.issparse(X)):  # e.g. a Dask objective's data
        return
    codes, sw = np.asarray(objective.y), np.asarray(objective.sw)
    K = len(estimator.classes_)
    fit_intercept = bool(estimator.fit_intercept)
    n_rows = int(np.count_nonzero(sw > 0)) * (K - 1)
    q = X.shape[1] + fit_intercept
    if n_rows * 2 * q > MAX_NNZ:
        return
    Z = np.asarray(X @ np.asarray(estimator.coef_, dtype=np.float64).T) + estimator.intercept_
    if K == 2:
        Z = np.column_stack([np.zeros(len(Z)), Z[:, 0]])
    tol = DEFAULT_TOL if estimator.tol is None else max(float(estimator.tol), DEFAULT_TOL)
    converged = getattr(result, "stop_reason", "converged") == "converged"
    if not shows_signs(softmax(Z, axis=1), X, sw, tol, converged):
        return
    Xd = X.toarray() if sp.issparse(X) else X
    Xd = np.ascontiguousarray(Xd, dtype=np.float64)
    names = _feature_names(estimator, X.shape[1]) + (["intercept"] if fit_intercept else [])
    found = _separation(Xd, codes, sw, 0, K, fit_intercept, names)
    if found is None or found == "skipped":
        return
    kind, terms, n_separated = found
    warnings.warn(
        f"SoftmaxRegression(alpha=0): {kind} separation: a linear combination of {terms} "
        f"separates {n_separated} of {int(np.count_nonzero(sw > 0))} observations from at "
        "least one other class, so no finite maximum-likelihood estimate exists; the "
        "coefficients grow without bound as the tolerance tightens and the 'converged' fit "
        "only reflects the tolerance. Use alpha > 0 (a penalty, e.g. alpha=1e-4) or drop "
        "those terms.", FitSeparationWarning, stacklevel=5)
