"""Standard errors, z statistics, p-values and confidence intervals for a fitted model.

What is estimated
-----------------
Softmax regression with K classes has K columns of parameters, W (d, K) and b (K,), but
only K - 1 of them are identified by the data: adding one vector to every column of
[W; b] changes no probability. Inference is therefore reported for the *contrasts* against
a reference class r (the first class by default), as statsmodels' ``MNLogit`` does::

    beta_k = [b_k - b_r ; W[:, k] - W[:, r]]      for every class k != r,

a table with one row per term (the intercept first, then the features) and one column per
non-reference class.

Unpenalised fits (alpha = 0): maximum likelihood
    The log-likelihood sum_i s_i log p_{i, y_i} depends on the parameters only through the
    contrasts, so fixing the reference column to zero makes the problem identifiable. The
    covariance is the inverse of the observed information: the Hessian of
    sum_i s_i CE_i = sum(s) * J with respect to beta. This is exactly statsmodels' MNLogit.

Penalised fits (alpha > 0): the Laplace approximation at the MAP
    alpha is the precision of a Gaussian prior on W (never on b), so with frequency weights
    the negative log posterior is

        F(W, b) = sum_i s_i CE_i + sum(s) * alpha / 2 * ||W||_F^2 = sum(s) * J(W, b),

    minimised by the fitted model (the MAP estimate), and the Laplace approximation takes
    the posterior of theta = (W, b) to be Gaussian with precision H = Hessian of F at the
    MAP. The penalty makes the W part identifiable in the K-column form (it is *not* the
    same model as penalising the contrasts: the prior is on all K columns), but F is exactly
    flat along u = (0, 1_K), a common shift of the intercepts, because the prior on b is
    flat. So H u = 0 and the Gaussian is improper along u. The contrasts C theta satisfy
    C u = 0, so their distribution does not depend on that direction: writing
    theta = phi + t u with phi in any hyperplane transversal to u, F does not depend on t,
    and C theta = C phi. We take the hyperplane b_r = 0 (drop that coordinate), where the
    Hessian H_g is invertible, and report Cov(beta) = C H_g^{-1} C^T. This equals
    C H^+ C^T with the pseudo-inverse of the full K-column Hessian (tested).

    The limit alpha -> 0: let U be the (d + 1)-dimensional space of shifts
    (v 1_K^T, c 1_K) of the columns, on which the likelihood is flat. The penalty's Hessian
    sum(s) alpha I_W maps U into U (its W part stays a common shift) and, being symmetric,
    maps the orthogonal complement U^perp into itself, so H = blockdiag(H|_U, A + sum(s)
    alpha I|_{U^perp}) with A the likelihood Hessian on U^perp. C vanishes on U, hence
    Cov(beta) = C (A + sum(s) alpha I)^{-1} C^T restricted to U^perp, which tends to the
    maximum-likelihood covariance C A^{-1} C^T as alpha -> 0 (tested).

Sample weights are frequency weights: a weight of 3 is three identical observations (this
is what makes sum(s) the number of observations in the covariance). Class weights of the
model, if any, are folded into the sample weights in the same way as in the fit.

The Hessian is formed exactly (two level-3 BLAS products over the rows, see
:mod:`softreg._hessian`), so the parameter count (d + 1) K should stay in the low thousands.

Before the covariance is formed, the estimate is polished by exact Newton steps on F
(:func:`softreg.solvers.newton` on the free coordinates; the fitted model's tolerance
is on the gradient of J = F / sum(s), which can leave
visible digits in the parameters), so the reported parameters are the optimum of the same
objective the model was fitted with.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ._inference_result import InferenceError, InferenceResult, SeparationWarning
from ._jsonable import plain as _plain

if TYPE_CHECKING:
    from . import solvers

__all__ = ["InferenceError", "InferenceResult", "SeparationWarning", "infer"]

#: relative eigenvalue below which the (scaled) Hessian counts as singular
SINGULAR_RTOL = 1e-10
#: the separation LP is skipped above this many constraint-matrix entries
SEPARATION_MAX_NNZ = 20_000_000


# --------------------------------------------------------------------------------------------
# the computation
# --------------------------------------------------------------------------------------------
def infer(model, X, y, sample_weight=None, reference=None) -> InferenceResult:
    """Contrasts, standard errors and p-values of a fitted :class:`SoftmaxRegression`.

    Parameters
    ----------
    model : fitted SoftmaxRegression (its alpha, fit_intercept and class_weight are used),
        or SoftmaxRegressionCV (its refitted ``estimator_``, with ``alpha_``)
    X : {array-like, sparse matrix} of shape (n_samples, n_features), the data it was fitted on
    y : array-like of shape (n_samples,), class labels
    sample_weight : array-like of shape (n_samples,), default=None
        Frequency weights (a weight of 3 counts as three identical rows).
    reference : label, default=None
        The reference class (the first of ``model.classes_`` when None).

    Returns
    -------
    InferenceResult
        ``params``, ``bse``, ``tvalues``, ``pvalues`` as DataFrames of shape
        (n_terms, n_classes - 1), ``conf_int()``, ``cov_params()``, ``summary()``.

    Raises
    ------
    InferenceError
        With alpha = 0 when the classes are completely or quasi-completely separated (no
        finite maximum-likelihood estimate exists), or when the Hessian is singular (the
        message names the collinear terms).

    Warns
    -----
    SeparationWarning
        With alpha > 0 on separated classes: the estimate is finite only through the prior.
    """
    # computing imports scikit-learn and the solvers; reading a saved result does not
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.validation import check_is_fitted, validate_data

    from . import solvers
    from ._objective import SoftmaxObjective
    from ._params import full_params
    from ._targets import (
        apply_class_weights,
        check_weights,
        class_weights,
        encode_labels,
        is_soft_target,
    )
    from .penalties import Penalty

    check_is_fitted(model, "classes_")
    outer = model
    if hasattr(model, "alphas_"):  # SoftmaxRegressionCV: its refitted estimator
        check_is_fitted(model, "estimator_")
        model = model.estimator_
    if not (hasattr(model, "coef_") and hasattr(model, "alpha") and hasattr(model, "solver")):
        raise TypeError("infer needs a fitted softreg.SoftmaxRegression or "
                        f"SoftmaxRegressionCV, got {type(model)!r}")
    if getattr(model, "l1_ratio", 0) > 0:
        raise ValueError(
            f"infer does not apply to a model with an L1 penalty (l1_ratio={model.l1_ratio}): "
            "its standard errors and p-values would ignore that the features were selected "
            "on the same data (post-selection inference is not what infer computes); refit "
            "the selected features with l1_ratio=0 on fresh data for valid inference")
    if getattr(model, "penalty_factor", None) is not None:
        raise ValueError("infer supports a uniform L2 penalty only: the model has a "
                         "penalty_factor; refit with penalty_factor=None")
    X = validate_data(outer, X, reset=False, accept_sparse=("csr", "csc"),
                      dtype=(np.float64, np.float32))
    X = X.toarray() if sp.issparse(X) else X
    X = np.ascontiguousarray(X, dtype=np.float64)
    if is_soft_target(y):
        raise ValueError("infer needs class labels y of shape (n_samples,); soft targets "
                         "have no likelihood-based standard errors here")
    classes, codes = encode_labels(y, np.asarray(model.classes_))
    if len(codes) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(codes)} labels")
    s = check_weights(sample_weight, X, X.shape[0])
    freq = s
    if model.class_weight is not None:
        mass = np.bincount(codes, weights=s, minlength=len(classes))
        s, _ = apply_class_weights(class_weights(model.class_weight, classes, mass), s,
                                   codes=codes)
    K, d = len(classes), X.shape[1]
    ref = _reference_index(classes, reference)
    alpha, fit_intercept = float(model.alpha), bool(model.fit_intercept)
    names = _feature_names(outer, d)
    q = d + fit_intercept  # rows of the parameter table [W; b]

    objective = solvers.Penalised(
        SoftmaxObjective(X, y=codes, sample_weight=s, fit_intercept=fit_intercept,
                         n_classes=K), Penalty(alpha=alpha))
    N = objective.datafit.weight_sum
    row_names = names + (["intercept"] if fit_intercept else [])

    # free coordinates of theta = [W; b].ravel() (row j, class k at j*K + k)
    free = np.ones((q, K), dtype=bool)
    if alpha == 0:
        free[:, ref] = False  # contrast parameterisation
    elif fit_intercept:
        free[d, ref] = False  # gauge b_ref = 0 along the flat intercept direction
    free = free.ravel()

    notes: list[str] = []
    separation = _separation(X, codes, s, ref, K, fit_intercept, row_names)
    if separation == "skipped":
        notes.append("the separation check (a linear program) was skipped: too large")
        separation = None
    if separation is not None:
        kind, terms, n_perfect = separation
        what = (f"{kind} separation: a linear combination of {terms} separates "
                f"{n_perfect} of {int(np.sum(s > 0))} observations from at least one other class")
        if alpha == 0:
            raise InferenceError(f"{what}, so no finite maximum-likelihood estimate exists. "
                                 "Refit with alpha > 0 (a proper prior) or drop those "
                                 "terms.")
        notes.append(f"{what}; the estimate along that direction comes from the prior")
        warnings.warn(f"{what}; the MAP estimate is finite only because of the prior "
                      f"(alpha={alpha:g}) and its Laplace approximation is prior-dominated "
                      "along that direction", SeparationWarning, stacklevel=2)

    W, b = full_params(model)
    theta = np.vstack([W, b[None, :]]) if fit_intercept else W.copy()
    if alpha == 0:
        theta = theta - theta[:, [ref]]
    elif fit_intercept:
        theta[d] -= theta[d, ref]
    theta = theta.ravel()
    start = theta.copy()

    theta = solvers.newton(objective.datafit, objective.penalty, theta, tol=0.0, max_iter=50,
                           inner="exact", free=free).params
    _, grad, H = _hessian(objective, theta, free, N)
    _check_singular(H, free, row_names, K)
    if not np.all(np.isfinite(H)):
        raise InferenceError("the Hessian is not finite at the estimate")
    if np.max(np.abs(grad), initial=0.0) > 1e-6 * N:
        warnings.warn(f"the estimate did not converge (max |gradient of J| = "
                      f"{np.max(np.abs(grad)) / N:.3g}): the standard errors are unreliable",
                      ConvergenceWarning, stacklevel=2)
        notes.append("the estimate did not converge; standard errors are unreliable")
    # contrast map C: beta[j, k] = theta[j, k] - theta[j, ref] for k != ref
    others = [k for k in range(K) if k != ref]
    C = np.zeros((len(others) * q, q * K))
    for c, k in enumerate(others):
        for j in range(q):
            C[c * q + j, j * K + k] = 1.0
            C[c * q + j, j * K + ref] -= 1.0
    Cf = C[:, free]
    cov_free = _inverse(H)
    cov = Cf @ cov_free @ Cf.T
    cov = (cov + cov.T) / 2
    beta = (C @ theta).reshape(len(others), q).T
    shift = float(np.max(np.abs(C @ (theta - start)), initial=0.0))

    # rows: intercept first, then the features
    order = ([d] if fit_intercept else []) + list(range(d))
    perm = np.concatenate([c * q + np.asarray(order, dtype=int) for c in range(len(others))])
    loglike = -N * objective.datafit.loss(theta)
    return InferenceResult(
        coef=np.ascontiguousarray(beta[order]), cov=cov[np.ix_(perm, perm)],
        term_names=[row_names[j] for j in order], classes=[_plain(c) for c in classes],
        reference=_plain(classes[ref]), alpha=alpha, method="mle" if alpha == 0 else "laplace",
        n_samples=int(X.shape[0]), n_obs=N, loglike=float(loglike),
        grad_norm=float(np.max(np.abs(grad), initial=0.0)), param_shift=shift, notes=notes,
        class_mass=np.bincount(codes, weights=s, minlength=K).tolist(), _data=(X, freq))


def _reference_index(classes: np.ndarray, reference) -> int:
    if reference is None:
        return 0
    hits = np.flatnonzero(classes == reference)
    if hits.size != 1:
        raise ValueError(f"reference={reference!r} is not one of the classes "
                         f"{classes.tolist()}")
    return int(hits[0])


def _feature_names(model, d: int) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{j + 1}" for j in range(d)]


def _hessian(objective: solvers.Penalised, theta: np.ndarray, free: np.ndarray, N: float):
    """(F, grad F, Hessian of F) in the free coordinates, F = N * J.

    The Hessian is the datafit's exact one (:mod:`softreg._hessian`; tested equal to its
    Hessian-vector products) plus the penalty's.
    """
    loss, grad = objective.loss_grad(theta)
    H = objective.add_ridge(objective.datafit.hessian(theta))
    idx = np.flatnonzero(free)
    return N * loss, N * grad[idx], N * H[np.ix_(idx, idx)]


def _check_singular(H: np.ndarray, free: np.ndarray, row_names: list[str], K: int) -> None:
    """Raise InferenceError naming the terms of a (near) null direction of H."""
    diag = np.diag(H).copy()
    idx = np.flatnonzero(free)
    rows = idx // K
    zero = np.flatnonzero(diag <= 0)
    if zero.size:
        terms = sorted({row_names[r] for r in rows[zero]}, key=row_names.index)
        raise InferenceError(f"the Hessian is singular: {terms} have no curvature "
                             "(the column is zero on every weighted row); drop them")
    D = 1 / np.sqrt(diag)
    R = H * D[:, None] * D[None, :]
    vals, vecs = np.linalg.eigh(R)
    if vals[0] > SINGULAR_RTOL * vals[-1]:
        return
    v = np.abs(vecs[:, 0] * D)
    per_term = np.zeros(len(row_names))
    np.maximum.at(per_term, rows, v)
    terms = [row_names[r] for r in np.flatnonzero(per_term > 1e-3 * per_term.max())]
    raise InferenceError(
        f"the Hessian is singular (reciprocal condition {vals[0] / vals[-1]:.2g}): the terms "
        f"{terms} are collinear on the weighted data (a linear combination of them is "
        "constant), so their coefficients are not identified. Drop one of them, or use "
        "alpha > 0 (a prior).")


def _inverse(H: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite H, via a diagonally scaled Cholesky."""
    D = 1 / np.sqrt(np.diag(H))
    R = H * D[:, None] * D[None, :]
    from scipy import linalg

    inv = linalg.cho_solve(linalg.cho_factor(R), np.eye(len(R)))
    return inv * D[:, None] * D[None, :]


def _separation(X, codes, s, ref, K, fit_intercept, row_names):
    """Detect complete or quasi-complete separation by linear programming.

    A finite maximum-likelihood estimate exists iff no direction beta != 0 (contrasts, with
    the reference column 0) gives every observation a logit margin
    x_i (beta_{y_i} - beta_k) >= 0 over every other class k with at least one margin > 0
    (Albert and Anderson, 1984). We maximise the sum of margins over |beta| <= 1: a positive
    optimum means quasi-complete separation; complete when also the smallest margin can be
    made positive. Returns None, "skipped" (too large), or (kind, terms, n_separated).
    The terms are a minimal separating set (terms dropped one at a time while the
    separation persists) when there are at most 40 terms and 50,000 constraints.
    """
    from scipy import optimize

    keep = s > 0
    n_rows, q_all = int(keep.sum()) * (K - 1), X.shape[1] + fit_intercept
    if n_rows * 2 * q_all > SEPARATION_MAX_NNZ:
        return "skipped"
    Xt = X[keep]
    if fit_intercept:
        Xt = np.column_stack([Xt, np.ones(len(Xt))])
    scale = np.abs(Xt).max(axis=0)
    scale[scale == 0] = 1.0
    Xt = Xt / scale
    y = codes[keep]
    n, q = Xt.shape
    others = [k for k in range(K) if k != ref]
    block = {k: c for c, k in enumerate(others)}
    rows, cols, vals = [], [], []
    r = 0
    row_of = []
    for k in range(K):
        # margins of class y over class k for rows with y != k
        mask = np.flatnonzero(y != k)
        m = mask.size
        ids = r + np.arange(m)
        for cls in np.unique(y[mask]):
            sel = np.flatnonzero(y[mask] == cls)
            if cls != ref:
                rr = np.repeat(ids[sel], q)
                rows.append(rr)
                cols.append(np.tile(block[cls] * q + np.arange(q), sel.size))
                vals.append(Xt[mask[sel]].ravel())
        if k != ref:
            rows.append(np.repeat(ids, q))
            cols.append(np.tile(block[k] * q + np.arange(q), m))
            vals.append(-Xt[mask].ravel())
        row_of.append(mask)
        r += m
    nvar = q * len(others)
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(r, nvar))
    tol = 1e-7 * max(1, math.sqrt(n))

    def max_margin_sum(dropped):
        """max sum of margins with the terms in ``dropped`` fixed at 0 (beta or None)."""
        bounds = [(0, 0) if j in dropped else (-1, 1) for _ in others for j in range(q)]
        res = optimize.linprog(-np.asarray(A.sum(axis=0)).ravel(), A_ub=-A,
                               b_ub=np.zeros(r), bounds=bounds, method="highs")
        return res.x if res.status == 0 and -res.fun > tol else None

    beta = max_margin_sum(set())
    if beta is None:
        return None
    # name a minimal set of terms: drop each term that the separation does not need
    dropped: set[int] = set()
    if q <= 40 and r <= 50_000:
        for j in list(range(q)):
            trial = max_margin_sum(dropped | {j})
            if trial is not None:
                dropped.add(j)
                beta = trial
    # complete separation: maximise t with every margin >= t
    c2 = np.zeros(nvar + 1)
    c2[-1] = -1
    A2 = sp.hstack([-A, np.ones((r, 1))]).tocsr()
    res2 = optimize.linprog(c2, A_ub=A2, b_ub=np.zeros(r),
                            bounds=[(-1, 1)] * nvar + [(None, 1)], method="highs")
    complete = res2.status == 0 and -res2.fun > 1e-7
    margins = A @ beta
    weight = np.abs(beta.reshape(len(others), q)).max(axis=0)
    terms = [row_names[j] for j in np.flatnonzero(weight > 1e-6 * weight.max())]
    terms = (["intercept"] if "intercept" in terms else []) + \
        [t for t in terms if t != "intercept"]
    # observations on the strict side of the separating direction
    separated = np.zeros(n, dtype=bool)
    start = 0
    for mask in row_of:
        separated[mask[margins[start:start + mask.size] > 1e-9]] = True
        start += mask.size
    n_perfect = n if complete else int(separated.sum())
    return ("complete" if complete else "quasi-complete"), terms, n_perfect
