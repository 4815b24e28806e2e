"""SoftmaxRegressionCV: choose alpha by cross-validation along a warm-started path.

On every fold the whole grid of alphas is fitted from the largest alpha (the most
regularised, quickest fit) to the smallest, each fit starting from the previous solution,
which is close: a few Newton (or L-BFGS) iterations per alpha instead of a fit from zero.
Each fitted model is scored on the held-out rows with a scikit-learn scorer (sample
weights, when given, are used in both the fit and the score). The alpha with the best
mean score is refitted on all data.

Scores are stored in ``scores_`` of shape (n_folds, n_alphas) with alphas in ``alphas_``
order (decreasing); ties go to the first alpha in that order (the most regularised), which
is what ``GridSearchCV(param_grid={"alpha": alphas_})`` also chooses.

alpha versus scikit-learn's C: J = mean CE + alpha/2 ||W||^2 is scikit-learn's objective
with C = 1 / (alpha * sum of training weights), so a fixed alpha is a different C on folds
of different sizes and on the refit. The refit keeps ``alpha_`` (as a GridSearchCV over
``SoftmaxRegression(alpha)`` does); LogisticRegressionCV keeps ``C_``, which on all data is
a smaller alpha = alpha_ * n_train / n.

Path solver: with ``solver="auto"`` on dense data with (d+1)K <= 400 parameters
(``PATH_EXACT_MAX_PARAMS``) the path is fitted by Newton's method with the exact
Hessian (:func:`softreg.solvers.newton`), carried from one alpha to the next, a few
iterations per alpha; with more parameters (or ``solver="lbfgs"``) on dense data by
:func:`softreg.solvers.lean_lbfgs.lean_lbfgs` (the estimator's preconditioned L-BFGS
without scipy's per-iteration overhead). Both run on one float64 datafit per fold, on
the fused kernel. Otherwise (sparse X, l1_ratio / grouped / penalty_factor, other
solvers) ``SoftmaxRegression(solver=...)`` is fitted with warm starts. All stop at
max |grad J| <= tol, the stopping rule of every softreg fit.

Scoring: ``None`` / "accuracy" / "neg_log_loss" are computed from the held-out logits
(:func:`_fast_score`, the scorers' numbers without their input validation); any other
scoring calls the scikit-learn scorer.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _assert_all_finite, check_is_fitted, validate_data

from . import _kernels, solvers
from ._params import build_datafit, coef_intercept, model_penalty
from ._targets import check_weights, encode_labels, is_soft_target
from .estimator import SOLVERS, SoftmaxRegression, check_squares_finite
from .solvers._precondition import feature_moments, feature_preconditioner
from .solvers.lean_lbfgs import lean_lbfgs

__all__ = ["SoftmaxRegressionCV"]


def _path_on_fold(base, alphas, X, y, s, train, test, scorer, path: str | None,
                  fast: str | None = None):
    """Fit ``base`` along ``alphas`` (warm starts) on ``train``; scores and iterations.

    ``path``: "exact", Newton's method with the exact Hessian, carried from one alpha to
    the next (:class:`softreg.solvers.NewtonState`); "lbfgs", :func:`lean_lbfgs` on one
    datafit for the fold; None, the estimator's own ``fit``.
    ``fast``: "accuracy" or "neg_log_loss" to score from the logits directly
    (:func:`_fast_score`), None to call ``scorer``.

    Returns
    -------
    scores : ndarray of shape (n_alphas,)
    n_iter : ndarray of shape (n_alphas,)
    n_unconverged : int, path fits that stopped before max |grad J| <= tol
    """
    est = clone(base).set_params(warm_start=True)
    Xtr, ytr, Xte, yte = X[train], y[train], X[test], y[test]
    str_ = None if s is None else s[train]
    ste = None if s is None else s[test]
    score_kw = {} if ste is None else {"sample_weight": ste}
    scores = np.empty(len(alphas))
    n_iter = np.empty(len(alphas), dtype=int)
    n_unconverged = 0
    if path is not None:
        # the path runs in float64 (float32 rounding would stop Newton short of tol)
        Xtr = np.ascontiguousarray(Xtr, dtype=np.float64)
        # the fused kernel at any size: a path makes hundreds of passes, each about 3x
        # faster than the NumPy path's even on a few thousand entries
        datafit, est.classes_ = build_datafit(
            Xtr, ytr, str_, fit_intercept=est.fit_intercept, class_weight=est.class_weight,
            kernel="fast" if _kernels.supports(Xtr) else "auto")
        est.n_features_in_ = Xtr.shape[1]
        theta, state, moments, previous = datafit.zeros(), solvers.NewtonState(), None, None
    for i, alpha in enumerate(alphas):
        est.set_params(alpha=alpha)
        if path is not None:
            if path == "exact":
                res = solvers.newton(datafit, model_penalty(est), theta, tol=est.tol,
                                     max_iter=est.max_iter, state=state, inner="exact")
            else:
                penalty = model_penalty(est)
                if moments is None:  # the same for every alpha: one pass per fold
                    moments = feature_moments(datafit)
                start = _extrapolated_start(datafit, penalty, alphas, i, theta, previous)
                previous = theta
                res = lean_lbfgs(datafit, penalty, start, tol=est.tol, max_iter=est.max_iter,
                                 memory=LBFGS_MEMORY,
                                 precondition=feature_preconditioner(datafit, penalty,
                                                                     moments))
            theta = res.params
            est.coef_, est.intercept_ = coef_intercept(*datafit.unpack(theta), Xtr.dtype)
            est.n_iter_, est.solver_ = res.n_iter, "newton" if path == "exact" else "lbfgs"
            n_unconverged += not solvers.at_precision_floor(res)
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                est.fit(Xtr, ytr, **({} if str_ is None else {"sample_weight": str_}))
            n_unconverged += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        score = None if fast is None else _fast_score(est, Xte, yte, fast, ste)
        scores[i] = scorer(est, Xte, yte, **score_kw) if score is None else score
        n_iter[i] = est.n_iter_
    return scores, n_iter, n_unconverged


#: the exact-Newton path up to this many parameters (d+1)K (the estimator's own
#: threshold, ``solvers.EXACT_MAX_PARAMS``, is for a cold fit)
PATH_EXACT_MAX_PARAMS = solvers.EXACT_MAX_PARAMS

#: L-BFGS pairs kept on the path (measured on digits: 20 pairs 6% fewer iterations than
#: 10; the two-loop recursion is cheap next to a pass at this size)
LBFGS_MEMORY = 20


def _extrapolated_start(datafit, penalty, alphas, i: int, theta, previous):
    """The start of path fit i: theta linearly extrapolated in log(alpha), or theta.

    The solutions at alphas[i-2], alphas[i-1] (``previous``, ``theta``) continue along a
    smooth curve in log(alpha); the point on its secant at log(alphas[i]) is usually
    much closer to the next solution than theta is (about half the L-BFGS iterations on
    digits). It is kept only if J there is below J at theta (two passes; the objective's
    cache then answers the solver's first evaluation at the guess).
    """
    if previous is None or not np.all(np.asarray(alphas[i - 2:i + 1]) > 0):
        return theta
    step = np.log(alphas[i - 1] / alphas[i]) / np.log(alphas[i - 2] / alphas[i - 1])
    guess = theta + min(float(step), 2.0) * (theta - previous)
    objective = solvers.Penalised(datafit, penalty)
    at_theta = objective.loss(theta)
    return guess if objective.loss(guess) < at_theta else theta


#: scorings computed from the held-out logits without the scorer's validation
FAST_SCORINGS = ("accuracy", "neg_log_loss")


def _fast_score(est, Xte, yte, scoring: str, weights) -> float | None:
    """The held-out ``scoring`` of ``est`` computed from its logits, or None to use the scorer.

    The numbers of scikit-learn's scorers (``accuracy_score`` of ``predict``; ``log_loss``
    of ``predict_proba`` with probabilities clipped to [eps, 1 - eps], negated), without
    their validation of what the path already validated. None (the scorer decides, and
    raises where it should) when a held-out label is not among the fold's classes or a
    logit is not finite.

    Parameters
    ----------
    est : fitted SoftmaxRegression (``coef_`` (K or 1, d), ``intercept_``, ``classes_``)
    Xte : ndarray or sparse matrix of shape (m, d), validated
    yte : ndarray of shape (m,), labels
    scoring : "accuracy" or "neg_log_loss"
    weights : ndarray of shape (m,) or None
    """
    classes = est.classes_
    if len(yte) == 0:
        return None
    codes = np.clip(np.searchsorted(classes, yte), 0, len(classes) - 1)
    if np.any(classes[codes] != yte):
        return None
    Z = np.asarray(Xte @ est.coef_.T) + est.intercept_
    if len(classes) == 2:
        Z = np.column_stack([np.zeros_like(Z[:, 0]), Z[:, 0]])
    if not np.isfinite(Z).all():
        return None
    if scoring == "accuracy":
        return float(np.average(np.argmax(Z, axis=1) == codes, weights=weights))
    P = softmax(Z, axis=1)
    eps = np.finfo(P.dtype).eps
    p_true = np.clip(P[np.arange(len(codes)), codes], eps, 1 - eps)
    return float(-np.average(-np.log(p_true), weights=weights))


class SoftmaxRegressionCV(ClassifierMixin, BaseEstimator):
    """Softmax regression with alpha chosen by cross-validation on a warm-started path.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=10
        With l1_ratio > 0 an int n stands for n values from the data's alpha_max (the
        smallest alpha with an all-zero W) geometrically down to 1e-2 alpha_max
        (n_samples < n_features) or 1e-4 alpha_max (glmnet's default); otherwise:
        The grid of L2 penalties (see :class:`SoftmaxRegression`); an int n stands for
        ``np.logspace(0, -6, n)``. Fitted in decreasing order.
    cv : int, cross-validation generator or iterable, default=5
        As in scikit-learn (an int gives ``StratifiedKFold(cv)``).
    scoring : str, callable or None, default=None
        A scikit-learn scorer; None uses the estimator's ``score`` (accuracy). Called with
        ``sample_weight`` of the held-out rows when weights are given.
    solver : {"auto", "newton", "lbfgs", "gd", "saga"}, default="auto"
        The solver of the path fits. "auto" uses Newton's method with the exact Hessian
        on dense data with few parameters ((d+1)K <= 400), and
        ``SoftmaxRegression(solver="auto")`` otherwise. The refit always uses
        ``SoftmaxRegression(solver=solver)``.
    l1_ratio, grouped, penalty_factor :
        The penalty, as in :class:`SoftmaxRegression`, for every fit.
    rule : {"best", "1se"}, default="best"
        Which alpha is refitted: "best", the best mean score; "1se", the largest alpha
        whose mean score is within one standard error of the best (glmnet's
        ``lambda.1se``; SE = std over folds with ddof=1 / sqrt(n_folds)).
    fit_intercept, tol, max_iter, class_weight :
        As in :class:`SoftmaxRegression`, for every fit of the path and the refit
        (``tol`` bounds max |gradient of J| in both).
    n_jobs : int or None, default=None
        Folds fitted in parallel (joblib).
    refit : bool, default=True
        Refit with ``alpha_`` on all data (needed for predict).
    verbose : int, default=0

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas,), decreasing
    scores_ : ndarray of shape (n_folds, n_alphas), the held-out score per fold and alpha
    mean_scores_, std_scores_ : ndarray of shape (n_alphas,)
    n_iter_path_ : ndarray of shape (n_folds, n_alphas), solver iterations of each path fit
    best_index_ : int, the first index of the best mean score
    alpha_best_ : float, ``alphas_[best_index_]``
    alpha_1se_ : float, the largest alpha with mean score >= best mean - its SE
    alpha_ : float, the refitted alpha: ``alpha_best_`` or ``alpha_1se_`` by ``rule``
    estimator_ : SoftmaxRegression refitted with ``alpha_`` on all data (if ``refit``)
    classes_, coef_, intercept_, n_iter_, solver_, n_features_in_, feature_names_in_ :
        Those of ``estimator_``.
    """

    _parameter_constraints: dict = {
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "grouped": ["boolean"],
        "penalty_factor": ["array-like", None],
        "rule": [StrOptions({"best", "1se"})],
        "cv": ["cv_object"],
        "scoring": [callable, str, None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVERS) - {"sgd"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_jobs": [Integral, None],
        "refit": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, alphas=10, *, cv=5, scoring=None, fit_intercept=True, solver="auto",
                 tol=1e-8, max_iter=1000, class_weight=None, l1_ratio=0.0, grouped=False,
                 penalty_factor=None, rule="best", n_jobs=None, refit=True, verbose=0):
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.grouped = grouped
        self.penalty_factor = penalty_factor
        self.rule = rule
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.refit = refit
        self.verbose = verbose

    def _base_estimator(self, alpha) -> SoftmaxRegression:
        return SoftmaxRegression(alpha=alpha, fit_intercept=self.fit_intercept,
                                 solver=self.solver, tol=self.tol, max_iter=self.max_iter,
                                 class_weight=self.class_weight, verbose=self.verbose,
                                 l1_ratio=self.l1_ratio, grouped=self.grouped,
                                 penalty_factor=self.penalty_factor)

    def _alpha_grid(self, X=None, y=None, s=None) -> np.ndarray:
        if isinstance(self.alphas, Integral) and self.l1_ratio > 0:
            from .regpath import default_alphas, regularization_path
            a_max = regularization_path(X, y, l1_ratio=self.l1_ratio, grouped=self.grouped,
                                        n_alphas=1, sample_weight=s,
                                        penalty_factor=self.penalty_factor,
                                        fit_intercept=self.fit_intercept).alpha_max
            ratio = 1e-2 if X.shape[0] < X.shape[1] else 1e-4
            return default_alphas(a_max if a_max > 0 else 1.0, int(self.alphas), ratio)
        if isinstance(self.alphas, Integral):
            return np.logspace(0, -6, int(self.alphas))
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError(f"alphas must be a non-empty list of finite values >= 0, got "
                             f"{self.alphas!r}")
        return np.unique(alphas)[::-1]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Score every alpha on every fold, pick ``alpha_`` and refit on all data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), class labels
        sample_weight : array-like of shape (n_samples,), default=None
            Used in every fit and every held-out score.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv`` splitter.

        Returns
        -------
        self
        """
        X = validate_data(self, X, accept_sparse=("csr", "csc"),
                          dtype=(np.float64, np.float32), order="C", ensure_all_finite=False)
        check_squares_finite(X, estimator_name=type(self).__name__)  # and finiteness
        if y is None:
            raise ValueError("SoftmaxRegressionCV requires y to be passed, but the target y "
                             "is None")
        y = np.asarray(y)
        if is_soft_target(y):
            raise ValueError("SoftmaxRegressionCV needs class labels y of shape (n_samples,)"
                             "; soft targets are not supported for cross-validation")
        if y.dtype.kind == "f":
            _assert_all_finite(y, input_name="y")
        classes, _ = encode_labels(y)
        y = y.reshape(-1) if y.ndim == 2 else y
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} labels")
        if len(classes) < 2:
            raise ValueError("SoftmaxRegressionCV needs samples of at least 2 classes in y; "
                             f"got only one class: {classes[0]!r}")
        s = None if sample_weight is None else check_weights(sample_weight, X, X.shape[0])
        base = self._base_estimator(1.0)
        if base._penalised():
            base._check_penalty(X.shape[1])  # bad penalty settings fail before any work
        alphas = self._alpha_grid(X, y, s)
        base = self._base_estimator(alphas[0])
        scorer = check_scoring(base, scoring=self.scoring)
        splitter = check_cv(self.cv, y, classifier=True)
        folds = list(splitter.split(X, y, groups))
        path = None
        if self.solver in ("auto", "lbfgs") and not base._penalised() and not sp.issparse(X):
            small = (X.shape[1] + self.fit_intercept) * len(classes) <= PATH_EXACT_MAX_PARAMS
            path = "exact" if small and self.solver == "auto" else "lbfgs"
        scoring = "accuracy" if self.scoring is None else self.scoring
        fast = scoring if isinstance(scoring, str) and scoring in FAST_SCORINGS else None
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_path_on_fold)(base, alphas, X, y, s, train, test, scorer, path, fast)
            for train, test in folds)
        n_unconverged = sum(r[2] for r in results)
        if n_unconverged:
            warnings.warn(f"{n_unconverged} of {len(folds) * len(alphas)} fits of the path "
                          f"stopped before max |gradient| <= tol={self.tol:g}; increase "
                          f"max_iter (now {self.max_iter}) or use larger alphas",
                          ConvergenceWarning, stacklevel=2)
        self.alphas_ = alphas
        self.scores_ = np.array([r[0] for r in results])
        self.n_iter_path_ = np.array([r[1] for r in results])
        self.mean_scores_ = self.scores_.mean(axis=0)
        self.std_scores_ = self.scores_.std(axis=0)
        if not np.any(np.isfinite(self.mean_scores_)):
            raise ValueError("every alpha scored NaN on some fold; check the scoring")
        self.best_index_ = int(np.nanargmax(self.mean_scores_))
        self.alpha_best_ = float(alphas[self.best_index_])
        n_folds = self.scores_.shape[0]
        se = (self.scores_[:, self.best_index_].std(ddof=1) / np.sqrt(n_folds)
              if n_folds > 1 else 0.0)
        within = self.mean_scores_ >= self.mean_scores_[self.best_index_] - se
        self.index_1se_ = int(np.flatnonzero(within)[0])  # alphas_ is decreasing
        self.alpha_1se_ = float(alphas[self.index_1se_])
        self.alpha_ = self.alpha_1se_ if self.rule == "1se" else self.alpha_best_
        self.classes_ = classes
        if self.refit:
            fit_kw = {} if s is None else {"sample_weight": s}
            # a cold start, as GridSearchCV's refit: the solution must not depend on the
            # folds (a warm start from their mean would move it within tol)
            self.estimator_ = self._base_estimator(self.alpha_).fit(X, y, **fit_kw)
            if hasattr(self, "feature_names_in_"):  # X was validated to an array above
                self.estimator_.feature_names_in_ = self.feature_names_in_
            for name in ("coef_", "intercept_", "n_iter_", "stop_reason_", "solver_"):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    # -- prediction (through the refitted estimator) ------------------------------------------
    def _inner(self, X):
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, accept_sparse=("csr", "csc"),
                          dtype=(np.float64, np.float32), order="C")
        return self.estimator_, X

    def decision_function(self, X):
        """Logits: shape (n_samples, n_classes), or (n_samples,) for two classes."""
        est, X = self._inner(X)
        return est.decision_function(X)

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes)."""
        est, X = self._inner(X)
        return est.predict_proba(X)

    def predict_log_proba(self, X):
        """Log class probabilities of shape (n_samples, n_classes)."""
        est, X = self._inner(X)
        return est.predict_log_proba(X)

    def predict(self, X):
        """Most probable class of each row, shape (n_samples,)."""
        est, X = self._inner(X)
        return est.predict(X)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict`` on (X, y)."""
        return super().score(X, y, sample_weight=sample_weight)

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The path's results as plain lists and floats (``json.dumps`` works on it).

        Keys: alphas, scores (n_folds x n_alphas), mean_scores, std_scores, n_iter_path,
        best_index, alpha, rule, alpha_best, alpha_1se, index_1se, l1_ratio, grouped,
        scoring (its repr), n_folds.
        """
        check_is_fitted(self, "scores_")
        return {
            "format": "softreg.cv/1",
            "alphas": self.alphas_.tolist(),
            "scores": self.scores_.tolist(),
            "mean_scores": self.mean_scores_.tolist(),
            "std_scores": self.std_scores_.tolist(),
            "n_iter_path": self.n_iter_path_.tolist(),
            "best_index": int(self.best_index_),
            "alpha": float(self.alpha_),
            "rule": self.rule,
            "alpha_best": float(self.alpha_best_),
            "alpha_1se": float(self.alpha_1se_),
            "index_1se": int(self.index_1se_),
            "l1_ratio": float(self.l1_ratio),
            "grouped": bool(self.grouped),
            "scoring": "accuracy" if self.scoring is None else str(self.scoring),
            "n_folds": int(self.scores_.shape[0]),
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
