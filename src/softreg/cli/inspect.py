"""``softreg inspect MODEL [--json]``: what a model file holds."""

from __future__ import annotations

import os

import numpy as np

from ._base import emit_json, format_table, json_option
from ._display import printable
from ._model import load_model
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


def largest_coefficients(model, top: int, scale=None) -> list[dict]:
    """The ``top`` largest coefficients as (class, feature, coef[, coef_per_sd]).

    With the training features' standard deviations ``scale``, they are ranked by
    ``coef * scale`` (the change in the logit for one standard deviation of the feature),
    which compares features measured in different units; else by ``|coef|``.
    """
    coef = np.asarray(model.coef_, dtype=np.float64)
    names = getattr(model, "feature_names_in_", None)
    feats = [str(n) for n in names] if names is not None else \
        [f"x{j + 1}" for j in range(coef.shape[1])]
    if len(model.classes_) == 2:
        rows = [f"{model.classes_[1]} vs {model.classes_[0]}"]
    else:
        rows = [str(c) for c in model.classes_]
    effect = coef if scale is None else coef * np.asarray(scale, dtype=np.float64)
    flat = np.argsort(-np.abs(effect), axis=None, kind="stable")[:top]
    out = []
    for i, j in zip(*np.unravel_index(flat, coef.shape), strict=True):
        row = {"class": rows[i], "feature": feats[j], "coef": float(coef[i, j])}
        if scale is not None:
            row["coef_per_sd"] = float(effect[i, j])
        out.append(row)
    return out


def describe(model, header: dict, path: str, top: int) -> dict:
    names = getattr(model, "feature_names_in_", None)
    return {
        "file": path, "bytes": os.path.getsize(path),
        "format_version": header["format_version"],
        "written_by": f"softreg {header.get('library_version')}",
        "classes": model.classes_.tolist(), "class_type": header["classes"]["type"],
        "n_features": int(model.n_features_in_),
        "feature_names": None if names is None else [str(n) for n in names],
        "params": header["params"],
        "fit": header["fit"] | {"final_loss": model.loss_curve_[-1] if model.loss_curve_
                                else None},
        "intercept": np.asarray(model.intercept_).tolist(),
        "penalty": penalty_info(model),
        "largest_coefficients": largest_coefficients(model, top, _scale(model, header)),
        "extra": header.get("extra", {}),
    }


def _scale(model, header: dict):
    # extra's known parts are validated by the loader (malformed ones are dropped)
    scale = header.get("extra", {}).get("cli", {}).get("feature_scale")
    if isinstance(scale, list) and len(scale) == model.n_features_in_:
        return scale
    return None


def run(args) -> int:
    model, header = load_model(args.model)
    info = describe(model, header, args.model, args.top)
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
    print(f"largest coefficients (of {np.size(model.coef_)})"
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
        from ..inference import InferenceResult

        print()
        shown_inference = dict(info["extra"]["inference"])
        shown_inference["term_names"] = [printable(t) for t in shown_inference["term_names"]]
        shown_inference["notes"] = [printable(t) for t in shown_inference["notes"]]
        print(InferenceResult.from_dict(shown_inference).summary())
    return 0
