"""SoftmaxRegression: scikit-learn glue over the datafit, the penalty and the solvers.

It validates input, builds the datafit for its data (in memory through
:func:`softreg._params.build_datafit`, or over Dask partitions through
:mod:`softreg.distributed`), hands it with its :class:`~softreg.penalties.Penalty` to a
solver and sets attributes. The math lives in ``_objective``, ``penalties`` and
``solvers``.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _assert_all_finite, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from . import solvers
from ._hyperparams import SOLVERS
from ._params import build_datafit, coef_intercept, full_params, model_penalty
from ._separation_check import warn_if_separated
from ._targets import is_soft_target
from .penalties import _as_penalty_factor

#: default tolerances: max |grad J| (float64 and float32 data), for every solver
GRADIENT_TOL = 1e-7
GRADIENT_TOL_FLOAT32 = 1e-6

#: partial_fit's step decays on the scale of this many minibatches (or the first chunk)
STREAM_HORIZON_BATCHES = 100
#: partial_fit's automatic first step is this over the curvature estimate L of the first
#: chunk (0.5 lambda_max of its second moments, :func:`solvers.sgd.curvature`): the
#: averaged model tolerates (and needs) long steps. One pass over 100k-row streams (two
#: kinds of data) ended 0.9% / 0.25% above the optimum's J with 1/L, 0.28% / 0.07% with
#: 2/L, 0.22% / 0.07% with 4/L; the looser bound 1/(0.5 trace) ended 2.4% / 1.7% above.
STREAM_STEP_FACTOR = 2.0



class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial (softmax) logistic regression with an L2, L1, elastic-net or grouped penalty.

    Minimises J(W, b) = sum_i s_i CE_i / sum_i s_i + alpha * (l1_ratio * Omega(W)
    + (1 - l1_ratio) / 2 * sum_j pf_j ||W_j||^2) with CE_i = logsumexp(z_i) - y_i . z_i,
    z_i = x_i W + b, Omega(W) = sum_jk pf_j |W_jk| (or sum_j pf_j ||W_j,:||_2 with
    ``grouped=True``) and pf the ``penalty_factor``; the intercept is not penalised. With
    l1_ratio = 0 (the default) this is the L2 model (alpha / 2) ||W||_F^2.
    For K >= 3 classes ``alpha = 1 / (C * sum(s))`` gives the optimum of scikit-learn's
    ``LogisticRegression(C=C)``; for two classes (where scikit-learn fits one weight
    vector) the same holds with ``C = 2 / (alpha * sum(s))``.

    Parameters
    ----------
    alpha : float, default=1e-4
        Penalty strength (glmnet's ``lambda``; with l1_ratio=0 the precision of the
        Gaussian prior on W). 0 means no penalty.
    l1_ratio : float in [0, 1], default=0.0
        Share of the L1 part (glmnet's ``alpha``; scikit-learn's ``l1_ratio`` at
        ``C = 1 / (alpha * sum(s))``). With l1_ratio > 0 the fit is sparse and W is not
        centred across classes (the penalty identifies the K-column parameterisation;
        centring would change its value): ``coef_`` is the minimiser itself.
    grouped : bool, default=False
        Omega sums the row norms ||W_j,:||_2: a feature is in or out for all classes at
        once (glmnet's ``type.multinomial="grouped"``). Needs l1_ratio > 0.
    penalty_factor : array-like of shape (n_features,) or None, default=None
        Per-feature multiplier of the penalty (glmnet's ``penalty.factor``, used as given,
        not rescaled); 0 leaves a feature unpenalised. None: all ones.
    fit_intercept : bool, default=True
    solver : {"auto", "lbfgs", "newton", "gd", "sgd", "saga", "prox_newton", "prox_grad"}, \
default="auto"
        "auto" picks "prox_newton" when l1_ratio > 0, grouped or penalty_factor is given
        (proximal Newton with coordinate descent on working sets, stopping on the
        optimality conditions; "saga" fits these too, except grouped; on Dask collections
        "auto" picks "prox_grad", accelerated proximal gradient on full gradients, with the
        same stopping rule), else "newton" when
        (n_features + 1) * n_classes <= 400 (``solvers.EXACT_MAX_PARAMS``), else "saga" for
        sparse X when alpha > 0 and kappa / n = L_max / (alpha n) <= 8 (L_max: the largest
        row's smoothness; there SAGA needs a few dozen epochs where L-BFGS needs hundreds
        of passes, :func:`softreg.solvers.saga_suits`), else "lbfgs". The choice is
        recorded in ``solver_``. "saga": proximal SAGA (:func:`softreg.solvers.saga`), a
        variance-reduced stochastic method with lazy updates on sparse rows, one row per
        step. "sgd" on a finite data set runs the same variance-reduced steps with
        ``learning_rate`` as its step, so it converges to tol instead of wandering in a
        noise ball; ``partial_fit`` streams minibatch SGD with averaging.
    learning_rate : float or "auto", default="auto"
        Step of "gd" (fixed step when a float, backtracking line search when "auto"), of
        "sgd" (the SAGA step 2 / (3 L_max) when "auto") and the initial step of
        ``partial_fit`` (2/L when "auto", L the first chunk's curvature). Ignored otherwise.
    batch_size : int, default=64
        Minibatch size of ``partial_fit``.
    max_iter : int, default=1000
        Iterations (epochs for "sgd" and "saga").
    tol : float or None, default=None
        Stop when max |gradient of J| <= tol (every solver: "converged" means that this
        test passed); None means 1e-7 for float64 data (1e-6 for float32), tight enough
        that the objective is within about 1e-7 (relative) of its minimum; pass a smaller
        tol for parameters accurate to more digits.
    n_iter_no_change : int, default=5
        Kept for compatibility; no solver uses it any more (all stop on the gradient test).
    class_weight : dict, "balanced" or None, default=None
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` instead of zeros.
    random_state : int, Generator or None, default=None
        Seeds the order of the rows of "sgd", "saga" and ``partial_fit``.
    verbose : int, default=0
        Print the objective per iteration to stderr when > 0.
    callback : callable or None, default=None
        Called as ``callback(info)`` after every iteration with a
        :class:`softreg.solvers.IterationInfo` (iteration, loss, grad_norm).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept_ : ndarray of shape (n_classes,), or (1,) for two classes
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,), when X had string column names
    n_iter_ : int
    loss_curve_ : list of float, the objective J after each iteration
    stop_reason_ : {"converged", "max_iter", "stalled"}
    solver_ : str, the solver that ran ("auto" resolved; "sgd" after partial_fit)
    n_passes_ : int, passes over X of the last fit
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "grouped": ["boolean"],
        "penalty_factor": ["array-like", None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVERS))],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [callable, None],
    }

    def __init__(self, alpha=1e-4, *, l1_ratio=0.0, grouped=False, penalty_factor=None,
                 fit_intercept=True, solver="auto", learning_rate="auto",
                 batch_size=64, max_iter=1000, tol=None, n_iter_no_change=5,
                 class_weight=None, warm_start=False, random_state=None, verbose=0,
                 callback=None):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.grouped = grouped
        self.penalty_factor = penalty_factor
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # -- fitting ------------------------------------------------------------------------------
    def _validate_X(self, X, reset: bool, ensure_all_finite: bool = True):
        return validate_data(self, X, reset=reset, accept_sparse=("csr", "csc"),
                             dtype=(np.float64, np.float32), ensure_all_finite=ensure_all_finite)

    def _validate_X_for_fit(self, X, reset: bool):
        # the finiteness test shares its one read of X with the sum-of-squares test
        X = self._validate_X(X, reset, ensure_all_finite=False)
        check_squares_finite(X, estimator_name=type(self).__name__)
        return X

    def _initial_params(self, datafit) -> np.ndarray:
        if self.warm_start and hasattr(self, "coef_"):
            W, b = full_params(self)
            if W.shape == (datafit.n_features, datafit.n_classes):
                return datafit.pack(W, b if self.fit_intercept else None)
        return datafit.zeros()

    def _callback(self):
        user = self.callback
        if not self.verbose and user is None:
            return None

        def report(info):
            if self.verbose:
                print(f"[softreg] iter {info.iteration:5d}  loss {info.loss:.10g}  "
                      f"|grad| {info.grad_norm:.3g}", file=sys.stderr)
            if user is not None:
                user(info)

        return report

    def _penalised(self) -> bool:
        """True when the fit needs the proximal solver (L1 part, grouped, penalty factors)."""
        return self.l1_ratio > 0 or self.grouped or self.penalty_factor is not None or \
            self.solver in ("prox_newton", "prox_grad")

    def _check_penalty(self, n_features: int) -> None:
        """Clear errors for impossible penalty settings, before any work."""
        if self.grouped and self.l1_ratio == 0:
            raise ValueError("grouped=True needs l1_ratio > 0: with l1_ratio=0 there is no "
                             "L1 part to group (the ridge penalty treats all entries alike)")
        _as_penalty_factor(self.penalty_factor, n_features)

    def _choose_solver(self, n_params: int, datafit=None, *,
                       full_gradients_only: bool = False) -> str:
        """The solver that ``solver`` stands for on a problem with n_params parameters
        (``datafit``: the in-memory one, where "auto" may pick saga for sparse X;
        ``full_gradients_only``: data without column access, such as Dask collections)."""
        if self._penalised():
            if self.solver == "saga" and not self.grouped:
                return "saga"
            if self.solver not in ("auto", "prox_newton", "prox_grad"):
                raise ValueError(
                    f"solver={self.solver!r} cannot fit l1_ratio > 0, grouped or "
                    "penalty_factor: use solver='auto', 'prox_newton' or 'prox_grad' "
                    "('saga' without grouped)")
            if full_gradients_only:
                if self.solver == "prox_newton":
                    raise ValueError("solver='prox_newton' needs in-memory data (it reads "
                                     "X by columns); on Dask collections use 'auto' or "
                                     "'prox_grad'")
                return "prox_grad"
            return "prox_grad" if self.solver == "prox_grad" else "prox_newton"
        if self.solver != "auto":
            return self.solver
        if n_params <= solvers.EXACT_MAX_PARAMS:
            return "newton"
        if sp.issparse(getattr(datafit, "X", None)) and \
                solvers.saga_suits(datafit, model_penalty(self)):
            return "saga"
        return "lbfgs"

    def _tol(self, solver: str, dtype=np.float64) -> float:
        if self.tol is not None:
            return float(self.tol)
        return GRADIENT_TOL_FLOAT32 if np.dtype(dtype) == np.float32 else GRADIENT_TOL

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) of labels, or (n_samples, n_classes) of class
            probabilities (soft targets; rows non-negative and summing to 1)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if _is_dask(X, y, sample_weight):
            return self._fit_dask(X, y, sample_weight)
        X = self._validate_X_for_fit(X, reset=True)
        if self._penalised():
            self._check_penalty(X.shape[1])
        datafit, self.classes_ = build_datafit(X, y, sample_weight,
                                               fit_intercept=self.fit_intercept,
                                               class_weight=self.class_weight)
        return self._solve(datafit, X)

    def _fit_dask(self, X, y, sample_weight):
        """fit on Dask input: the same optimum, the datafit over the partitions."""
        from .distributed import DaskObjective, as_dask_data

        data = as_dask_data(X, y, sample_weight)
        datafit = DaskObjective(data, fit_intercept=self.fit_intercept,
                                class_weight=self.class_weight)
        self.classes_ = datafit.classes
        self.n_features_in_ = datafit.n_features
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self._penalised():
            self._check_penalty(datafit.n_features)
        if self._choose_solver(datafit.n_params, full_gradients_only=True) in ("sgd", "saga"):
            raise ValueError(f"solver={self.solver!r} does not run on Dask input (it visits "
                             "single rows at random); use 'lbfgs', 'newton' or 'gd', or "
                             "stream the partitions through partial_fit")
        # two rows whose column variances are the data's: the advice needs only the spread
        std = datafit.feature_std
        return self._solve(datafit, np.vstack([std, -std]).astype(datafit.dtype))

    def _solve(self, datafit, X_for_advice):
        """Run the chosen solver on ``datafit`` and set the fitted attributes.

        ``X_for_advice`` is only used to judge the feature scales in a ConvergenceWarning.
        """
        # The fused kernels use every core themselves; what BLAS work the solver does
        # around them is small, and BLAS threads waiting for work beside the kernel's
        # threads slow both down severalfold, so BLAS runs single-threaded meanwhile.
        fast = getattr(datafit, "kernel", None) == "fast"
        solver = self._choose_solver(datafit.n_params, datafit,
                                     full_gradients_only=not hasattr(datafit, "X"))
        with blas_single_threaded() if fast else nullcontext():
            result = self._run_solver(datafit, solver)
        self.coef_, self.intercept_ = coef_intercept(*datafit.unpack(result.params),
                                                     datafit.dtype,
                                                     centre_W=not self.l1_ratio > 0)
        self.solver_ = solver
        self.n_iter_ = result.n_iter
        self.loss_curve_ = list(result.loss_curve)
        self.stop_reason_ = result.stop_reason
        self.n_passes_ = datafit.n_passes
        self._warn_if_not_converged(result, solver, X_for_advice)
        warn_if_separated(self, datafit, result)  # alpha = 0: no finite optimum?
        return self

    def _run_solver(self, datafit, solver: str):
        """The SolverResult of ``solver`` on ``datafit`` with this estimator's penalty."""
        theta0 = self._initial_params(datafit)
        penalty = model_penalty(self)
        common = dict(tol=self._tol(solver, datafit.dtype), max_iter=self.max_iter,
                      callback=self._callback())
        if solver == "prox_newton":
            return solvers.prox_newton(datafit, penalty, theta0, **common)
        if solver == "prox_grad":
            return solvers.prox_grad(datafit, penalty, theta0, **common)
        if solver == "lbfgs":
            return solvers.lbfgs(datafit, penalty, theta0, **common)
        if solver == "newton":
            # at the default tol, small problems get one more (nearly free) Newton step
            polish = self.tol is None and datafit.n_params <= solvers.EXACT_MAX_PARAMS
            return solvers.newton(datafit, penalty, theta0, polish=polish, **common)
        if solver == "gd":
            return solvers.gradient_descent(datafit, penalty, theta0,
                                            learning_rate=self.learning_rate, **common)
        # "saga", and "sgd" (the same variance-reduced steps with learning_rate's step)
        step = None if solver == "saga" or isinstance(self.learning_rate, str) \
            else float(self.learning_rate)
        self._sgd_state = None  # a later partial_fit starts its own step schedule
        return solvers.saga(datafit, penalty, theta0, random_state=self.random_state,
                            step_size=step, **common)

    @available_if(lambda self: not self._penalised())
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of minibatch SGD on (X, y), continuing the stream so far.

        The model set after each call is the average of the SGD iterates over the whole
        stream (polynomial-decay Polyak-Ruppert averaging,
        :func:`softreg.solvers.stream_epoch`); the raw iterate carries on underneath, so
        one pass over a long stream comes within about 1% of the optimum's objective.

        Only with the plain L2 penalty: with l1_ratio > 0, grouped or a penalty_factor
        the method is absent (``hasattr(model, "partial_fit")`` is False).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        classes : array-like of shape (n_classes,), default=None
            All classes of the stream; needed on the first call unless this batch shows
            them all. Ignored afterwards unless it disagrees with ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if _is_dask(X, y, sample_weight):
            return self._partial_fit_dask(X, y, classes, sample_weight)
        first = not hasattr(self, "coef_")  # after fit, partial_fit continues from its model
        if first:
            self._validate_params()
            if self.class_weight == "balanced":
                raise ValueError("class_weight='balanced' needs the whole data set; "
                                 "partial_fit accepts a dict of class weights instead")
        X = self._validate_X_for_fit(X, reset=first)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes={classes.tolist()} differs from the classes of "
                                 f"the first partial_fit call {self.classes_.tolist()}")
        known = classes if first else self.classes_
        datafit, self.classes_ = build_datafit(X, y, sample_weight,
                                               fit_intercept=self.fit_intercept,
                                               class_weight=self.class_weight, classes=known)
        theta = datafit.zeros() if first else datafit.pack(*full_params(self))
        penalty = model_penalty(self)
        if first or getattr(self, "_sgd_state", None) is None:
            # a stream's length is unknown: decay over at least 100 minibatches
            horizon = max(datafit.n_samples, STREAM_HORIZON_BATCHES * self.batch_size)
            self._sgd_state = solvers.initial_state(datafit, penalty, self.learning_rate,
                                                    horizon=horizon,
                                                    # after a fit: small steps from its model
                                                    factor=STREAM_STEP_FACTOR if first else 1.0,
                                                    curvature_from="power" if first
                                                    else "bound")
            self._sgd_rng = np.random.default_rng(self.random_state)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked next
            theta = solvers.stream_epoch(datafit, penalty, theta, self._sgd_state,
                                         batch_size=self.batch_size, rng=self._sgd_rng)
            loss = solvers.Penalised(datafit, penalty).loss(theta)
        solvers.check_finite_step(loss, theta, 1, "use a smaller learning_rate")
        self.coef_, self.intercept_ = coef_intercept(*datafit.unpack(theta), X.dtype)
        self.solver_ = "sgd"
        self.n_iter_ = 1 if first else self.n_iter_ + 1
        self.loss_curve_ = ([] if first else list(self.loss_curve_)) + [loss]
        self.stop_reason_ = solvers.MAX_ITER
        return self

    def _partial_fit_dask(self, X, y, classes, sample_weight):
        """partial_fit on Dask input: one SGD epoch over each partition in turn.

        Only one partition is in memory at a time. Without ``classes`` on the first call,
        one scan of y discovers them.
        """
        from .distributed import as_dask_data, in_memory_partitions, scan_labels

        data = as_dask_data(X, y, sample_weight)
        if classes is None and not hasattr(self, "classes_") and not data.soft:
            classes = scan_labels(data)
        for Xi, yi, si in in_memory_partitions(data):
            self.partial_fit(Xi, yi, classes=classes, sample_weight=si)
        return self

    def _warn_if_not_converged(self, result, solver: str, X) -> None:
        if solvers.at_precision_floor(result, X.dtype):
            return
        what = (f"reached max_iter={self.max_iter}" if result.stop_reason == solvers.MAX_ITER
                else "stalled (no step decreased the objective)")
        advice = [f"increase max_iter (now {self.max_iter})"] \
            if result.stop_reason == solvers.MAX_ITER else \
            ["raise tol: the objective cannot decrease further in floating point"]
        if solver in ("gd", "sgd"):
            advice.append("use solver='newton' or 'lbfgs', which need far fewer iterations")
        scale = _feature_scale_spread(X)
        if scale > 1e3:
            advice.insert(0, f"the feature scales differ by a factor of {scale:.2g}: "
                             "standardise them (sklearn.preprocessing.StandardScaler)")
        if self.alpha == 0:
            advice.append("with alpha=0 separable classes have no finite optimum: set alpha > 0")
        tol = self._tol(solver, getattr(X, "dtype", None) or np.float64)
        warnings.warn(
            f"SoftmaxRegression(solver={solver!r}) {what} before converging: "
            f"max |gradient| = {result.grad_norm:.3g} > tol = {tol:g}. "
            f"Try: {'; '.join(advice)}.", ConvergenceWarning, stacklevel=3)

    # -- prediction -------------------------------------------------------------------------------
    def decision_function(self, X):
        """Logits: shape (n_samples, n_classes), or (n_samples,) for two classes."""
        if _is_dask(X):
            return _predict_dask(self, X, "decision_function")
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        Z = np.asarray(X @ self.coef_.T) + self.intercept_
        return Z[:, 0] if len(self.classes_) == 2 else Z

    def _shifted_logits(self, X) -> np.ndarray:
        """Logits of shape (n, K), each row shifted by a constant, finite or -inf.

        Rows whose logits overflow (|X| near the float limit) are computed from X scaled
        by its largest entry; the row's softmax is then the limit as the scale grows.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        coef, intercept = self.coef_, self.intercept_
        Z = np.asarray(X @ coef.T) + intercept
        if len(self.classes_) == 2:
            Z = np.column_stack([np.zeros_like(Z[:, 0]), Z[:, 0]])
        with np.errstate(over="ignore", invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(Z).all(axis=1))
        if bad.size:
            Xb = X[bad]
            scale = np.asarray(abs(Xb).max(axis=1).todense()).ravel() if sp.issparse(Xb) \
                else np.abs(Xb).max(axis=1)
            Xb = (sp.diags(1 / scale) @ Xb) if sp.issparse(Xb) else Xb / scale[:, None]
            Zb = np.asarray(Xb @ coef.T) + intercept / scale[:, None]
            if len(self.classes_) == 2:
                Zb = np.column_stack([np.zeros_like(Zb[:, 0]), Zb[:, 0]])
            Zb -= Zb.max(axis=1, keepdims=True)
            with np.errstate(over="ignore"):
                Z[bad] = Zb * scale[:, None]
        return Z

    def predict_proba(self, X):
        """Class probabilities of shape (n_samples, n_classes); rows sum to 1."""
        if _is_dask(X):
            return _predict_dask(self, X, "predict_proba")
        return softmax(self._shifted_logits(X), axis=1)

    def predict_log_proba(self, X):
        """Log class probabilities of shape (n_samples, n_classes)."""
        if _is_dask(X):
            return _predict_dask(self, X, "predict_log_proba")
        return log_softmax(self._shifted_logits(X), axis=1)

    def predict(self, X):
        """Most probable class of each row, shape (n_samples,)."""
        if _is_dask(X):
            return _predict_dask(self, X, "predict")
        check_is_fitted(self)
        return self.classes_[np.argmax(self._shifted_logits(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; soft targets are scored against their most probable class."""
        if is_soft_target(y):
            y = self.classes_[np.argmax(np.asarray(y), axis=1)]
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _is_dask(*objs) -> bool:
    """True when any of objs is a Dask collection (dask is never imported for this)."""
    dask = sys.modules.get("dask")
    return dask is not None and any(dask.is_dask_collection(o) for o in objs)


def _predict_dask(estimator, X, method):
    """Lazy dask-array predictions (see softreg.distributed.predict_dask)."""
    from .distributed import predict_dask
    return predict_dask(estimator, X, method)


def check_squares_finite(X, *, estimator_name: str | None = None) -> None:
    """Refuse X holding NaN or infinity, and float64 X whose squares overflow.

    Curvature (the preconditioner's moments, the Hessian, SAGA's step) is a sum of squares,
    and nothing fitted on it could be trusted. One BLAS dot over the values (no copy of X)
    answers both questions when all is well: a finite sum of squares means finite values.
    Otherwise scikit-learn's own test names NaN or infinity (its message, with
    ``estimator_name``; skipped under ``sklearn.set_config(assume_finite=True)``), and
    then float64 values whose squares overflow are refused here; float32 values always
    square finitely in the float64 arithmetic of the solvers.
    """
    values = X.data if sp.issparse(X) else X
    if values.dtype not in (np.float64, np.float32) or values.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if values.ndim == 1 or values.flags.c_contiguous or values.flags.f_contiguous:
            flat = values.ravel(order="K")  # a view: one BLAS dot
            total = np.dot(flat, flat)
        else:  # strided X: no copy
            total = np.einsum("ij,ij->", values, values)
        if np.isfinite(total):
            return
    _assert_all_finite(values, input_name="X", estimator_name=estimator_name)
    if values.dtype != np.float64:
        return
    with np.errstate(invalid="ignore"):
        biggest = float(np.max(np.abs(values)))
    where = ""
    if not sp.issparse(X):
        with np.errstate(invalid="ignore"):
            j = int(np.argmax(np.max(np.abs(X), axis=0)))
        where = f" (in column {j})"
    raise ValueError(f"X holds values too large to fit on: the largest |value| is "
                     f"{biggest:.3g}{where} and the sum of squares of X overflows float64 "
                     "(the solvers' curvature is built from it); rescale the features, e.g. "
                     "with sklearn.preprocessing.StandardScaler")


_blas_controller: list = []  # [(len(sys.modules) when built, ThreadpoolController)]


def blas_single_threaded():
    """A context manager limiting BLAS to one thread (threadpoolctl's ``limit``).

    The controller (threadpoolctl's scan of the loaded libraries, about 1 ms, 10 ms the
    first time) is kept and rebuilt only when modules were imported since it was built,
    as a newly imported extension may have brought its own BLAS.
    """
    n_modules = len(sys.modules)
    if not _blas_controller or _blas_controller[0][0] != n_modules:
        _blas_controller[:] = [(n_modules, ThreadpoolController())]
    return _blas_controller[0][1].limit(limits=1, user_api="blas")


def _feature_scale_spread(X) -> float:
    """max/min standard deviation over non-constant columns of X (1 when undefined)."""
    if sp.issparse(X):
        mean = np.asarray(X.mean(axis=0)).ravel()
        var = np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean ** 2
    else:
        var = np.var(X, axis=0, dtype=np.float64)
    std = np.sqrt(np.clip(var, 0, None))
    std = std[std > 1e-12]
    return float(std.max() / std.min()) if std.size else 1.0
