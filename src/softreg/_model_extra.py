"""Validation of the ``extra`` notes of a model file (what the command line records).

``extra`` is free JSON, but three parts have a meaning that ``softreg inspect`` and
``softreg evaluate`` rely on: ``cli`` (preprocessing), ``cv`` (the cross-validation path) and
``inference`` (standard errors). A part that is malformed is dropped with a warning, so a
file that :func:`softreg.load` accepts never makes a command crash.
"""

from __future__ import annotations

import math
import os
import warnings

#: longest name (feature, term, label) accepted in a model file (characters)
MAX_NAME_CHARS = 10_000

_INFERENCE_KEYS = {"format", "coef", "cov", "term_names", "classes", "reference", "alpha",
                   "method", "n_samples", "n_obs", "loglike", "grad_norm", "param_shift",
                   "notes"}


class _Bad(Exception):
    """A part of ``extra`` is malformed (the message says how)."""


def checked_extra(extra: dict, n_features: int, path) -> dict:
    """``extra`` less its malformed known parts, each dropped with a UserWarning.

    Parameters
    ----------
    extra : dict
        The header's ``extra`` (plain JSON data).
    n_features : int
        The model's number of features (checked against ``extra``).
    path : path-like
        Named in the warnings.
    """
    out = dict(extra)
    for part, check in (("cli", _check_cli), ("cv", _check_cv),
                        ("inference", _check_inference)):
        if part not in out:
            continue
        try:
            check(out[part], int(n_features))
        except _Bad as e:
            del out[part]
            warnings.warn(f"{os.fspath(path)}: ignoring the malformed extra.{part} of the "
                          f"model file: {e}", UserWarning, stacklevel=4)
    return out


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise _Bad(message)


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _text(v) -> bool:
    return isinstance(v, str) and len(v) <= MAX_NAME_CHARS


def _label(v) -> bool:
    return _text(v) if isinstance(v, str) else isinstance(v, bool | int | float)


def _numbers(v, length: int | None = None) -> bool:
    return (isinstance(v, list) and all(_number(x) for x in v)
            and (length is None or len(v) == length))


def _matrix(v, rows: int, cols: int) -> bool:
    return isinstance(v, list) and len(v) == rows and all(_numbers(r, cols) for r in v)


def _check_cli(cli, d: int) -> None:
    _need(isinstance(cli, dict), f"expected an object, got {type(cli).__name__}")
    for key in ("data", "dask"):
        _need(key not in cli or _text(cli[key]), f"{key} must be a string")
    _need(cli.get("target") is None or _text(cli["target"]), "target must be a string")
    _need(isinstance(cli.get("standardized", False), bool), "standardized must be true/false")
    _need("n_samples" not in cli or _count(cli["n_samples"]), "n_samples must be a count")
    if "feature_scale" in cli:
        scale = cli["feature_scale"]
        _need(_numbers(scale, d) and all(s > 0 for s in scale),
              f"feature_scale must be {d} positive numbers")


def _check_cv(cv, d: int) -> None:
    _need(isinstance(cv, dict), f"expected an object, got {type(cv).__name__}")
    alphas = cv.get("alphas")
    _need(_numbers(alphas) and len(alphas) >= 1, "alphas must be a non-empty list of numbers")
    n = len(alphas)
    for key in ("mean_scores", "std_scores"):
        _need(_numbers(cv.get(key), n), f"{key} must be {n} numbers, like alphas")
    best = cv.get("best_index")
    _need(_count(best) and best < n, f"best_index must be a position in the {n} alphas")
    folds = cv.get("n_folds")
    _need(_count(folds) and folds >= 1, "n_folds must be a positive count")
    _need(_text(cv.get("scoring")), "scoring must be a string")
    for key in ("alpha", "alpha_best", "alpha_1se", "l1_ratio"):
        _need(key not in cv or _number(cv[key]), f"{key} must be a number")
    _need("rule" not in cv or cv["rule"] in ("best", "1se"), "rule must be best or 1se")
    _need("index_1se" not in cv or (_count(cv["index_1se"]) and cv["index_1se"] < n),
          f"index_1se must be a position in the {n} alphas")
    _need(isinstance(cv.get("grouped", False), bool), "grouped must be true/false")
    if "scores" in cv:
        _need(_matrix(cv["scores"], folds, n), f"scores must be {folds} x {n} numbers")
    if "path_coefs" in cv:
        coefs = cv["path_coefs"]
        _need(isinstance(coefs, list) and len(coefs) == n
              and all(isinstance(c, list) for c in coefs) and len({len(c) for c in coefs}) == 1
              and all(_matrix(c, len(coefs[0]), d) for c in coefs),
              f"path_coefs must be {n} matrices of n_classes x {d} numbers, one per alpha")
    if "n_iter_path" in cv:
        path = cv["n_iter_path"]
        _need(isinstance(path, list) and len(path) == folds
              and all(isinstance(r, list) and len(r) == n and all(_count(v) for v in r)
                      for r in path), f"n_iter_path must be {folds} x {n} counts")


def _check_inference(inf, d: int) -> None:
    _need(isinstance(inf, dict), f"expected an object, got {type(inf).__name__}")
    _need(set(inf) - {"class_mass"} == _INFERENCE_KEYS,
          f"expected the keys {sorted(_INFERENCE_KEYS)} (and class_mass, since version 0.2)")
    _need(inf["format"] == "softreg.inference/1", "format is not softreg.inference/1")
    names = inf["term_names"]
    _need(isinstance(names, list) and all(_text(n) for n in names),
          f"term_names must be strings of at most {MAX_NAME_CHARS} characters")
    _need(len(names) in (d, d + 1), f"term_names must name the {d} features (and intercept)")
    classes = inf["classes"]
    _need(isinstance(classes, list) and len(classes) >= 2 and all(_label(c) for c in classes),
          "classes must be at least 2 labels")
    _need(inf["reference"] in classes, "reference is not one of the classes")
    q, m = len(names), len(classes) - 1
    _need(_matrix(inf["coef"], q, m), f"coef must be {q} x {m} numbers")
    _need(_matrix(inf["cov"], q * m, q * m), f"cov must be {q * m} x {q * m} numbers")
    _need(inf["method"] in ("mle", "laplace"), "method must be mle or laplace")
    _need(_number(inf["alpha"]) and inf["alpha"] >= 0, "alpha must be a non-negative number")
    _need(_count(inf["n_samples"]), "n_samples must be a count")
    for key in ("n_obs", "loglike", "grad_norm", "param_shift"):
        _need(_number(inf[key]), f"{key} must be a number")
    _need(isinstance(inf["notes"], list) and all(_text(n) for n in inf["notes"]),
          "notes must be strings")
    mass = inf.get("class_mass")
    _need(mass is None or (isinstance(mass, list) and len(mass) == m + 1
                           and all(_number(v) and v >= 0 for v in mass)),
          f"class_mass must be {m + 1} non-negative numbers")
