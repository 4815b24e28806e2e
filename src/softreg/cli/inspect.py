"""``softreg inspect MODEL [--json]``: what a model file holds."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np

from .. import model_file
from ._base import emit_json, format_table, json_option
from ._display import printable
from ._types import positive_int
from .fit import penalty_info, penalty_line


def add_parser(sub, parents) -> None:
    p = sub.add_parser("inspect", parents=parents, help="show what a model file holds",
                       description="Classes, features, hyper-parameters, how the fit went "
                       "and the largest coefficients of MODEL (the file is verified first).")
    p.add_argument("model", metavar="MODEL", help="model file written by 'softreg fit'")
    p.add_argument("--top", type=positive_int, default=10, metavar="N",
                   help="how many of the largest coefficients to list (default %(default)s)")
    json_option(p)
    p.set_defaults(run=run)


def largest_coefficients(data: model_file.ModelData, top: int, scale=None) -> list[dict]:
    """The ``top`` largest coefficients as (class, feature, coef[, coef_per_sd]).

    With the training features' standard deviations ``scale``, they are ranked by
    ``coef * scale`` (the change in the logit for one standard deviation of the feature),
    which compares features measured in different units; else by ``|coef|``.
    """
    coef = np.asarray(data.coef, dtype=np.float64)
    names = data.feature_names
    feats = [str(n) for n in names] if names is not None else \
        [f"x{j + 1}" for j in range(coef.shape[1])]
    classes = data.classes
    if len(classes) == 2:
        rows = [f"{classes[1]} vs {classes[0]}"]
    else:
        rows = [str(c) for c in classes]
    effect = coef if scale is None else coef * np.asarray(scale, dtype=np.float64)
    flat = np.argsort(-np.abs(effect), axis=None, kind="stable")[:top]
    out = []
    for i, j in zip(*np.unravel_index(flat, coef.shape), strict=True):
        row = {"class": rows[i], "feature": feats[j], "coef": float(coef[i, j])}
        if scale is not None:
            row["coef_per_sd"] = float(effect[i, j])
        out.append(row)
    return out


def describe(data: model_file.ModelData, path: str, top: int) -> dict:
    """What ``softreg inspect --json`` prints, from a verified model file's plain data."""
    header = data.header
    names = data.feature_names
    curve = data.loss_curve
    # penalty_info reads a fitted model's hyper-parameters and coef_: give it the saved ones
    fitted = SimpleNamespace(alpha=data.param("alpha"), l1_ratio=data.param("l1_ratio"),
                             grouped=data.param("grouped"), coef_=data.coef)
    return {
        "file": path, "bytes": os.path.getsize(path),
        "format_version": header["format_version"],
        "written_by": f"softreg {header.get('library_version')}",
        "classes": data.classes.tolist(), "class_type": header["classes"]["type"],
        "n_features": data.n_features,
        "feature_names": None if names is None else [str(n) for n in names],
        "params": header["params"],
        "fit": header["fit"] | {"final_loss": float(curve[-1]) if len(curve) else None},
        "intercept": np.asarray(data.intercept).tolist(),
        "penalty": penalty_info(fitted),
        "largest_coefficients": largest_coefficients(data, top, _scale(data)),
        "extra": header.get("extra", {}),
    }


def _scale(data: model_file.ModelData):
    # extra's known parts are validated by the reader (malformed ones are dropped)
    scale = data.header.get("extra", {}).get("cli", {}).get("feature_scale")
    if isinstance(scale, list) and len(scale) == data.n_features:
        return scale
    return None


def run(args) -> int:
    # the checked read verifies the file as load does, without building the estimator
    # (which imports scikit-learn and numba): inspect starts fast
    data = model_file.read_checked(args.model)
    info = describe(data, args.model, args.top)
    if args.json:
        emit_json(info)
        return 0
    names = info["feature_names"]
    # every text from the file is shown through printable(): no terminal escapes, no newlines
    shown = "(none: positional, from LibSVM data)" if names is None else \
        ", ".join(map(printable, names[:12])) + \
        (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    p = info["params"]
    fit = info["fit"]
    print(f"model file   {printable(args.model)} ({info['bytes']} bytes, format "
          f"{info['format_version']}, {printable(info['written_by'])})")
    print(f"classes      {len(info['classes'])} ({info['class_type']}): "
          f"{', '.join(map(printable, info['classes'][:12]))}"
          f"{' ...' if len(info['classes']) > 12 else ''}")
    print(f"features     {info['n_features']}: {shown}")
    print("params       " + ", ".join(printable(f"{k}={v}") for k, v in sorted(p.items())))
    loss = "" if fit["final_loss"] is None else f", final objective {fit['final_loss']:.6g}"
    solver = "" if fit.get("solver") is None else f"solver {printable(fit['solver'])}: "
    print(f"fit          {solver}{fit['n_iter']} iterations, {fit['stop_reason']}{loss}")
    print("penalty      " + penalty_line(info["penalty"]).removeprefix("penalty "))
    top = info["largest_coefficients"]
    per_sd = bool(top) and "coef_per_sd" in top[0]
    if info["extra"].get("cli", {}).get("standardized"):
        print("note         fitted on standardised features; coef is per raw unit of the "
              "feature" + (", coef_per_sd per standard deviation" if per_sd else ""))
    print()
    print(f"largest coefficients (of {data.coef.size})"
          + (", by |coef_per_sd|:" if per_sd else ":"))
    if per_sd:
        rows = [[printable(r["class"]), printable(r["feature"]), r["coef"], r["coef_per_sd"]]
                for r in top]
        print(format_table(rows, ["class", "feature", "coef", "coef_per_sd"]))
    else:
        rows = [[printable(r["class"]), printable(r["feature"]), r["coef"]] for r in top]
        print(format_table(rows, ["class", "feature", "coef"]))
    cv = info["extra"].get("cv")
    if isinstance(cv, dict) and "alphas" in cv:
        print()
        rule = cv.get("rule", "best")
        print(f"alpha chosen by {cv['n_folds']}-fold cross-validation "
              f"({printable(cv['scoring'])}, {rule} rule), alphas from the largest to the "
              "smallest (* best mean score, 1se: largest alpha within one standard error):")
        i1se = cv.get("index_1se")
        rows = [["*" if i == cv["best_index"] else ("1se" if i == i1se else ""),
                 f"{a:.3e}", m, sd]
                for i, (a, m, sd) in enumerate(zip(cv["alphas"], cv["mean_scores"],
                                                   cv["std_scores"], strict=True))]
        print(format_table(rows, ["", "alpha", "mean score", "std"]))
    if "inference" in info["extra"]:
        from .._inference_result import InferenceResult

        print()
        shown_inference = dict(info["extra"]["inference"])
        shown_inference["term_names"] = [printable(t) for t in shown_inference["term_names"]]
        shown_inference["notes"] = [printable(t) for t in shown_inference["notes"]]
        print(InferenceResult.from_dict(shown_inference).summary())
    return 0
