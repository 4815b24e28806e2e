"""``softreg fit DATA --target COL -o MODEL``: train a model and save it."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from . import _data
from ._base import CLIError, UsageError, emit_json, fit_progress, json_option, show_progress
from ._types import (
    column_list,
    factor_spec,
    non_negative_float,
    positive_float,
    positive_int,
    unit_float,
)


def add_parser(sub, parents) -> None:
    p = sub.add_parser("fit", parents=parents, help="train a model on a data file",
                       description="Train a softmax regression model on DATA (CSV, Parquet "
                       "or LibSVM, by extension) and save it to a model file.")
    p.add_argument("data", metavar="DATA",
                   help="training rows: CSV, TSV, Parquet or LibSVM file (format from the "
                   "extension, or --format); '-' reads standard input")
    p.add_argument("-t", "--target", metavar="COL",
                   help="label column (tables; LibSVM files carry their labels)")
    p.add_argument("-o", "--output", metavar="MODEL", required=True, help="model file to write")
    p.add_argument("--format", choices=tuple(_data.FORMATS), default=None,
                   help="format of DATA, overriding its extension (needed for '-')")
    g = p.add_argument_group("columns")
    g.add_argument("--features", type=column_list, metavar="A,B,...",
                   help="feature columns (default: every column but the target)")
    g.add_argument("--ignore", type=column_list, default=[], metavar="A,B,...",
                   help="columns that are not features (ids, dates, ...)")
    g.add_argument("--sample-weight", metavar="COL",
                   help="column of non-negative sample weights (tables)")
    g.add_argument("--max-features", type=positive_int, default=_data.DEFAULT_MAX_FEATURES,
                   metavar="N", help="largest LibSVM feature index accepted (default %(default)s)")
    m = p.add_argument_group("model")
    m.add_argument("--alpha", type=non_negative_float, default=None,
                   help="penalty strength (glmnet's lambda); with --l1-ratio 0 the L2 "
                   "penalty on the weights, the precision of a Gaussian prior "
                   "(default 1e-4; 0: maximum likelihood)")
    m.add_argument("--l1-ratio", type=unit_float, default=0.0, metavar="R",
                   help="share of the L1 part of the penalty, in [0, 1] (glmnet's alpha): "
                   "0 (default) is ridge, 1 the lasso, between them the elastic net; "
                   "R > 0 gives a sparse model")
    m.add_argument("--grouped", action="store_true",
                   help="grouped L1 penalty: a feature is kept or dropped for all classes at "
                   "once (glmnet's type.multinomial='grouped'); needs --l1-ratio > 0")
    m.add_argument("--penalty-factor", type=factor_spec, default=None,
                   metavar="F,F,...|NAME=F,...|FILE",
                   help="per-feature multipliers of the penalty (glmnet's penalty.factor, "
                   "used as given), 0 leaving a feature unpenalised: one number >= 0 per "
                   "feature in their order (comma-separated, or a text file of them), or "
                   "NAME=F pairs, e.g. 'age=0,income=0.5', the features not named keeping 1 "
                   "(LibSVM features are named by their number, from 1)")
    m.add_argument("--solver", choices=("auto", "lbfgs", "newton", "gd", "sgd", "prox_newton",
                                        "prox_grad"), default="auto",
                   help="optimiser: newton (Newton-CG), lbfgs, gd (gradient descent), sgd "
                   "(minibatch), prox_newton (proximal Newton) or prox_grad (accelerated "
                   "proximal gradient) for --l1-ratio > 0; auto (default) picks prox_newton "
                   "for --l1-ratio > 0 (prox_grad on --dask), newton for small problems, "
                   "else lbfgs")
    m.add_argument("--max-iter", type=positive_int, default=1000, metavar="N",
                   help="most iterations (sgd: epochs) before stopping (default %(default)s)")
    m.add_argument("--tol", type=non_negative_float, default=None,
                   help="stop when max |gradient| <= TOL (sgd: relative improvement; "
                   "default: the estimator's)")
    m.add_argument("--learning-rate", type=positive_float, default=None, metavar="RATE",
                   help="step of gd/sgd (default: automatic)")
    m.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                   help="rows per step of --solver sgd (default %(default)s; other solvers "
                   "use every row)")
    m.add_argument("--class-weight", choices=("balanced",), default=None,
                   help="'balanced': weight each class by n_samples / (n_classes * its count)")
    m.add_argument("--no-intercept", action="store_true", help="fit without intercepts")
    m.add_argument("--random-state", type=int, default=None, metavar="SEED",
                   help="seed of the row order of --solver sgd (default: a fresh one)")
    m.add_argument("--standardize", action="store_true",
                   help="fit on standardised features (scaled only for LibSVM) and store the "
                   "equivalent model for the raw features")
    c = p.add_argument_group("choosing alpha by cross-validation, and inference")
    c.add_argument("--cv", type=positive_int, default=None, metavar="K",
                   help="choose alpha by K-fold cross-validation over --alphas, then refit "
                   "on all rows")
    c.add_argument("--alphas", type=float_list, default=None, metavar="A,B,...",
                   help="the alphas --cv tries (default: 10 from 1e-6 to 1, log-spaced; with "
                   f"--l1-ratio > 0, {L1_CV_ALPHAS} from the data's alpha_max, the smallest "
                   "alpha whose model is all zero, down to 1e-4 of it, or 1e-2 when there "
                   "are more features than rows); they are fitted and reported from the "
                   "largest to the smallest")
    c.add_argument("--rule", choices=("best", "1se"), default=None,
                   help="which alpha --cv refits: best (default), the best mean score, or "
                   "1se, the largest alpha whose mean score is within one standard error "
                   "of the best (a simpler model; glmnet's lambda.1se)")
    c.add_argument("--scoring", default=None, metavar="NAME",
                   help="scikit-learn scorer name for --cv (default: accuracy), e.g. "
                   "neg_log_loss")
    c.add_argument("--infer", action="store_true",
                   help="compute standard errors, z and p-values of the contrasts against the "
                   "first class and store them in the model file (softreg inspect shows them): "
                   "maximum likelihood with --alpha 0, else the Laplace approximation at the "
                   "MAP estimate (a Bayesian reading of the penalty)")
    k = p.add_argument_group("out of core, on Dask (DATA may be a folder or glob of Parquet/CSV "
                             "files; needs softreg[dask])")
    k.add_argument("--dask", action="store_true",
                   help="start a local Dask cluster sized to this machine and train out of core")
    k.add_argument("--scheduler", metavar="ADDRESS",
                   help="train on the running Dask cluster at ADDRESS (e.g. tcp://host:8786)")
    json_option(p)
    p.set_defaults(run=run)


#: how many alphas --cv tries by default with --l1-ratio > 0 (a path from alpha_max down)
L1_CV_ALPHAS = 20


def float_list(text: str) -> list[float]:
    values = [non_negative_float(v) for v in column_list(text)]
    if not values:
        raise ValueError("empty list")
    return values


def build_model(args, callback):
    from ..estimator import SoftmaxRegression

    return SoftmaxRegression(
        alpha=DEFAULT_ALPHA if args.alpha is None else args.alpha, solver=args.solver,
        l1_ratio=args.l1_ratio, grouped=args.grouped,
        penalty_factor=getattr(args, "penalty_factor_array", None),
        max_iter=args.max_iter, tol=args.tol,
        learning_rate="auto" if args.learning_rate is None else args.learning_rate,
        batch_size=args.batch_size, class_weight=args.class_weight,
        fit_intercept=not args.no_intercept, random_state=args.random_state,
        callback=callback)


def check_penalty_flags(args) -> None:
    """Usage errors of --l1-ratio, --grouped and --rule (before any data is read)."""
    if args.grouped and args.l1_ratio == 0:
        raise UsageError("--grouped needs --l1-ratio > 0: with an L2 penalty alone there is "
                         "nothing to group")
    if args.rule is not None and args.cv is None:
        raise UsageError("--rule needs --cv K")
    if args.l1_ratio > 0 and args.solver not in ("auto", "prox_newton", "prox_grad"):
        raise UsageError(f"--solver {args.solver} cannot fit --l1-ratio > 0: use --solver "
                         "auto, prox_newton or prox_grad")
    if args.penalty_factor is not None:
        if args.solver not in ("auto", "prox_newton", "prox_grad"):
            raise UsageError(f"--solver {args.solver} cannot fit --penalty-factor: use "
                             "--solver auto, prox_newton or prox_grad")
        if args.infer:
            raise UsageError("--infer is refused with --penalty-factor: the Laplace "
                             "approximation assumes one alpha for every feature")
        if args.dask or args.scheduler:
            raise UsageError("--penalty-factor needs the data in memory (not --dask/"
                             "--scheduler): the features are known only once it is read")
    if args.l1_ratio > 0 and args.infer:
        raise UsageError("--infer is refused with --l1-ratio > 0: standard errors after "
                         "L1 selection are not what it computes (post-selection inference)")
    if args.solver == "prox_newton" and (args.dask or args.scheduler):
        raise UsageError("--solver prox_newton needs the data in memory; with --dask/"
                         "--scheduler use --solver auto (proximal gradient on full gradients)")


def standardizer(X) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of the columns of X; mean 0 for sparse X, scale 1 for constants."""
    import scipy.sparse as sp

    if sp.issparse(X):
        mean = np.zeros(X.shape[1])
        scale = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel())
    else:
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    return mean, scale


DEFAULT_ALPHA = 1e-4

#: feature scales are recorded in the model header up to this many features
MAX_RECORDED_SCALES = 10_000


def scale_info(scale: np.ndarray) -> dict:
    """The training features' scales, for ``softreg inspect`` (omitted when very wide)."""
    if scale.size > MAX_RECORDED_SCALES:
        return {}
    return {"feature_scale": [float(v) for v in scale]}


def fold_standardization(model, mean: np.ndarray, scale: np.ndarray) -> None:
    """Turn a model of (X - mean) / scale into the same model of X (in place)."""
    coef = model.coef_ / scale
    model.intercept_ = model.intercept_ - coef @ mean
    model.coef_ = coef


def run(args) -> int:
    import scipy.sparse as sp

    if args.features is not None and args.target in args.features:
        raise CLIError(f"the target {args.target!r} is also listed in --features")
    if args.cv is not None and args.alpha is not None:
        raise UsageError("--alpha and --cv exclude each other: --cv chooses alpha from --alphas")
    if args.cv is None and (args.alphas is not None or args.scoring is not None):
        raise UsageError("--alphas and --scoring need --cv K")
    if args.cv is not None and args.cv < 2:
        raise UsageError("--cv needs at least 2 folds")
    check_penalty_flags(args)
    if args.dask or args.scheduler:
        return run_dask(args)
    with _data.staged(args.data, args.format) as local:
        ds = _data.load(local, target=args.target, need_target=True, features=args.features,
                        ignore=tuple(args.ignore), progress=show_progress(args),
                        max_features=args.max_features, weight=args.sample_weight)
    unnamed = [i + 1 for i, c in enumerate(ds.ignored) if not c.strip()]
    if unnamed:
        print(f"note: {len(unnamed)} column(s) without a name (a written index?) are not "
              "features", file=sys.stderr)
    check_magnitudes(ds, args.data)
    if args.penalty_factor is not None:
        args.penalty_factor_array = penalty_factors(args.penalty_factor, ds, args.data)
    classes = np.unique(np.asarray(ds.y))
    if len(classes) < 2:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise CLIError(f"{args.data}: the labels hold a single class ({only!r}); "
                       "a classifier needs at least 2")
    X = ds.X
    mean: Any = None
    scale: Any = None
    if args.standardize:
        mean, scale = standardizer(X)
        X = X @ sp.diags(1 / scale) if sp.issparse(X) else (X - mean) / scale
    if ds.feature_names is not None:
        import pandas as pd

        X = pd.DataFrame(X, columns=ds.feature_names)
    extra = {"cli": {"data": "<stdin>" if args.data == _data.STDIO else
                     os.path.basename(args.data), "target": args.target,
                     "standardized": bool(args.standardize),
                     "n_samples": int(ds.n_samples)}}
    if args.cv is not None:
        model = cross_validate(args, X, ds, extra)
    else:
        callback, close = fit_progress(args, args.max_iter,
                                       1e-10 if args.tol is None else args.tol)
        model = build_model(args, callback)
        try:
            model.fit(X, ds.y, sample_weight=ds.sample_weight)
        finally:
            close()
        model.callback = None
    if args.infer:
        extra["inference"] = inference(model, X, ds, standardized=args.standardize)
    if args.standardize:
        fold_standardization(model, mean, scale)
    from ..model_file import save

    if args.standardize:
        extra["cli"] |= scale_info(scale)
        if args.infer and "feature_scale" in extra["cli"]:  # for predict --interval
            extra["cli"]["feature_mean"] = [float(v) for v in mean]
    # everything that is reported is computed before the model is written: a command that
    # fails never leaves a model file behind
    Xraw = ds.X if ds.feature_names is None else _frame(ds)
    accuracy = float(model.score(Xraw, ds.y, sample_weight=ds.sample_weight))
    solver = getattr(model, "solver_", None)
    summary = {
        "model": args.output, "data": args.data, "n_samples": int(ds.n_samples),
        "n_features": int(model.n_features_in_), "classes": model.classes_.tolist(),
        "solver": solver, "n_iter": int(model.n_iter_), "stop_reason": model.stop_reason_,
        "final_loss": float(model.loss_curve_[-1]) if model.loss_curve_ else None,
        "training_accuracy": accuracy,
        "penalty": penalty_info(model),
    }
    if summary["final_loss"] is not None and not np.isfinite(summary["final_loss"]):
        raise CLIError(f"{args.data}: the fit ended with a non-finite objective "
                       f"({summary['final_loss']}); no model was written")
    if args.infer:
        summary["inference"] = extra["inference"]["method"]
    if "cv" in extra:
        cv = extra["cv"]
        summary["cv"] = {"alpha": cv["alpha"], "n_folds": cv["n_folds"],
                         "scoring": cv["scoring"], "rule": cv["rule"],
                         "alpha_best": cv["alpha_best"], "alpha_1se": cv["alpha_1se"],
                         "best_mean_score": cv["mean_scores"][cv["best_index"]]}
    save(model, args.output, extra=extra)
    if args.json:
        emit_json(summary)
    else:
        if "cv" in summary:
            cv = summary["cv"]
            print(f"{cv['n_folds']}-fold cross-validation chose alpha={cv['alpha']:.3g} "
                  f"by the {cv['rule']} rule (best alpha {cv['alpha_best']:.3g}, mean "
                  f"{cv['scoring']} {cv['best_mean_score']:.4f}; 1se alpha "
                  f"{cv['alpha_1se']:.3g})")
        print(f"trained on {summary['n_samples']} rows x {summary['n_features']} features, "
              f"{len(model.classes_)} classes: {_short(model.classes_)}")
        final = "n/a" if summary["final_loss"] is None else f"{summary['final_loss']:.6g}"
        print(f"solver {solver}: {model.n_iter_} iterations, {model.stop_reason_}, "
              f"final objective {final}")
        print(f"training accuracy {accuracy:.4f}")
        print(penalty_line(summary["penalty"]))
        if args.infer:
            print(inference_line(extra["inference"]))
        print(f"saved {args.output}")
    return 0


def penalty_info(model) -> dict:
    """The penalty of a fitted model and how many features it keeps (nonzero columns)."""
    coef = np.asarray(model.coef_)
    return {"alpha": float(model.alpha), "l1_ratio": float(model.l1_ratio),
            "grouped": bool(model.grouped), "n_active_features": n_active(coef),
            "n_features": int(coef.shape[1])}


def n_active(coef) -> int:
    """Number of features with a nonzero coefficient for some class."""
    return int(np.count_nonzero(np.any(np.asarray(coef) != 0, axis=0)))


def penalty_line(p: dict) -> str:
    """One line naming the penalty and, for a sparse model, the features it kept."""
    kind = "L2" if p["l1_ratio"] == 0 else \
        ("grouped " if p["grouped"] else "") + \
        ("lasso" if p["l1_ratio"] == 1 else f"elastic net (l1_ratio={p['l1_ratio']:.3g})")
    return (f"penalty {kind}, alpha={p['alpha']:.3g}: {p['n_active_features']} of "
            f"{p['n_features']} features active")


#: largest |feature value| accepted: beyond it squares and sums of squares (the curvature the
#: solvers and --standardize use) overflow or lose every digit, so the fit cannot be trusted
MAX_ABS_FEATURE = 1e100


def check_magnitudes(ds, path: str) -> None:
    """Refuse features too large to fit on, naming the first such value's column and row."""
    import scipy.sparse as sp

    X = ds.X
    values = X.data if sp.issparse(X) else np.asarray(X).ravel()
    if values.size == 0 or float(np.max(np.abs(values))) <= MAX_ABS_FEATURE:
        return
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        i = int(np.flatnonzero(np.abs(X.data) > MAX_ABS_FEATURE)[0])
        row = int(np.searchsorted(X.indptr, i, side="right"))
        col, value = int(X.indices[i]), float(X.data[i])
        where = f"row {row}, feature {col + 1}"
    else:
        flat = int(np.flatnonzero(np.abs(values) > MAX_ABS_FEATURE)[0])
        row, col = divmod(flat, X.shape[1])
        value = float(values[flat])
        name = ds.feature_names[col] if ds.feature_names is not None else f"{col + 1}"
        where = f"column {name!r}, row {row + 1}"
    raise CLIError(f"{path}: {where}: the value {value:.6g} is too large to fit on "
                   f"(|values| up to {MAX_ABS_FEATURE:.0e} are accepted; their squares "
                   "overflow): rescale this feature, e.g. to other units")


def penalty_factors(spec: dict[str, float] | list[float], ds, path: str) -> np.ndarray:
    """The (n_features,) penalty_factor array of ``--penalty-factor``: a list holds one factor
    per feature; named features (LibSVM: numbered from 1) take theirs, the others 1."""
    n_features = ds.X.shape[1]
    if isinstance(spec, list):
        if len(spec) != n_features:
            raise UsageError(f"--penalty-factor has {len(spec)} values but {path} has "
                             f"{n_features} features: give one per feature")
        return np.asarray(spec, dtype=np.float64)
    if ds.feature_names is not None:
        index = {name: j for j, name in enumerate(ds.feature_names)}
    else:
        index = {str(j + 1): j for j in range(n_features)}
    unknown = [name for name in spec if name not in index]
    if unknown:
        kind = "feature" if ds.feature_names is not None else "feature number (1.." \
            f"{n_features})"
        raise CLIError(f"{path}: --penalty-factor names {unknown[0]!r}, which is not a "
                       f"{kind} of the data")
    pf = np.ones(n_features)
    for name, value in spec.items():
        pf[index[name]] = value
    return pf


def inference_line(result: dict) -> str:
    """Which statistics --infer computed: maximum likelihood, or Laplace at the MAP."""
    if result["method"] == "mle":
        what = "maximum likelihood (alpha = 0), covariance from the observed information"
    else:
        what = (f"Laplace approximation at the MAP estimate (alpha = {result['alpha']:.3g}), "
                "not maximum likelihood (use --alpha 0 for that)")
    return f"inference: {what}; 'softreg inspect' shows the table"


def _frame(ds):
    import pandas as pd

    return pd.DataFrame(ds.X, columns=ds.feature_names)


def _short(classes, limit: int = 10) -> str:
    shown = ", ".join(str(c) for c in classes[:limit])
    return shown + (", ..." if len(classes) > limit else "")


def cross_validate(args, X, ds, extra: dict):
    """Choose alpha by ``SoftmaxRegressionCV``; returns its refitted model, records the path."""
    from ..cv import SoftmaxRegressionCV

    default = L1_CV_ALPHAS if args.l1_ratio > 0 else 10
    search = SoftmaxRegressionCV(
        alphas=default if args.alphas is None else args.alphas, cv=args.cv,
        scoring=args.scoring, fit_intercept=not args.no_intercept, solver=args.solver,
        max_iter=args.max_iter, class_weight=args.class_weight, l1_ratio=args.l1_ratio,
        grouped=args.grouped, rule=args.rule or "best",
        penalty_factor=getattr(args, "penalty_factor_array", None),
        **({} if args.tol is None else {"tol": args.tol}))
    try:
        search.fit(X, ds.y, sample_weight=ds.sample_weight)
    except ValueError as exc:
        if "scor" in str(exc).lower():
            raise UsageError(f"--scoring {args.scoring!r}: {exc}") from exc
        raise
    extra["cv"] = search.to_dict()
    if args.l1_ratio > 0:
        extra["cv"] |= coefficient_path(args, search, X, ds)
    return search.estimator_


#: the coefficient path is stored in the model file (for the report's plot) up to this many
#: numbers (n_alphas x n_classes x n_features)
MAX_PATH_NUMBERS = 200_000


def coefficient_path(args, search, X, ds) -> dict:
    """The path on all rows at the cross-validated alphas, for ``evaluate --report``'s plot
    (``{"path_coefs": ...}``, in the coefficients of the raw features), or ``{}`` when large.
    """
    from ..regpath import regularization_path

    K = len(search.classes_)
    if search.alphas_.size * K * X.shape[1] > MAX_PATH_NUMBERS or not np.all(search.alphas_ > 0):
        return {}
    if hasattr(X, "columns"):  # a DataFrame of named features
        X = X.to_numpy()
    path = regularization_path(X, ds.y, l1_ratio=args.l1_ratio, grouped=args.grouped,
                               alphas=search.alphas_, sample_weight=ds.sample_weight,
                               fit_intercept=not args.no_intercept,
                               penalty_factor=getattr(args, "penalty_factor_array", None))
    coefs = path.coefs
    if args.standardize:  # the model is stored for the raw features: so is its path
        _, scale = standardizer(ds.X)
        coefs = coefs / scale
    return {"path_coefs": np.asarray(coefs, dtype=np.float64).tolist()}


def inference(model, X, ds, *, standardized: bool) -> dict:
    """``softreg.infer`` on the training data, as a JSON-ready dict for the model file."""
    from ..inference import infer

    result = infer(model, X, ds.y, sample_weight=ds.sample_weight).to_dict()
    if standardized:
        result["notes"] = list(result.get("notes", [])) + [
            "computed on standardised features: contrasts are per standard deviation"]
    return result


def run_dask(args) -> int:
    """``fit --dask`` / ``--scheduler``: train out of core with ``softreg.distributed``."""
    clash = [flag for flag, on in (("--standardize", args.standardize), ("--cv", args.cv),
                                   ("--infer", args.infer), ("--ignore", args.ignore),
                                   ("--solver sgd", args.solver == "sgd")) if on]
    if clash:
        raise UsageError(f"{', '.join(clash)} cannot be combined with --dask/--scheduler")
    if args.target is None:
        raise UsageError("--dask/--scheduler need --target COL")
    try:
        from ..distributed import fit_files
    except ImportError as exc:
        raise CLIError(f"--dask needs the dask extra: pip install 'softreg[dask]' ({exc})") \
            from exc
    from ._dask import find_bad_value, quiet_cluster

    callback, close = fit_progress(args, args.max_iter,
                                   1e-10 if args.tol is None else args.tol)
    try:
        with quiet_cluster():
            model = fit_files(args.data, target=args.target,
                              estimator=build_model(args, callback), features=args.features,
                              sample_weight=args.sample_weight, scheduler=args.scheduler)
    except (ValueError, TypeError, RuntimeError) as exc:
        # the cluster names a partition: look for the file, row and column ourselves
        where = find_bad_value(args.data, args.target, args.features, args.sample_weight)
        if where is not None:
            raise CLIError(where) from exc
        raise
    finally:
        close()
    model.callback = None
    from ..model_file import save

    save(model, args.output, extra={"cli": {"data": os.path.basename(args.data.rstrip("/")),
                                            "target": args.target, "standardized": False,
                                            "dask": args.scheduler or "local"}})
    solver = getattr(model, "solver_", None)
    summary = {
        "model": args.output, "data": args.data, "n_features": int(model.n_features_in_),
        "classes": model.classes_.tolist(), "solver": solver, "n_iter": int(model.n_iter_),
        "stop_reason": model.stop_reason_, "n_passes": int(model.n_passes_),
        "final_loss": float(model.loss_curve_[-1]) if model.loss_curve_ else None,
    }
    if args.json:
        emit_json(summary)
    else:
        print(f"trained out of core on {args.data} ({summary['n_features']} features, "
              f"{len(model.classes_)} classes: {_short(model.classes_)})")
        print(f"solver {solver}: {model.n_iter_} iterations, {model.stop_reason_}, "
              f"{model.n_passes_} passes over the data")
        print(f"saved {args.output}")
    return 0
