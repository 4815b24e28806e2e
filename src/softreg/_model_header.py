"""The checks of a model header against its arrays: field types, shapes, labels, names,
hyper-parameters (every invariant :func:`softreg.model_file.load` relies on)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _hyperparams
from . import _model_format as fmt


def check_header(header: dict, arrays: dict[str, np.ndarray], path) -> tuple[np.ndarray, dict]:
    """Check the type of every header field and every invariant; (classes, params) decoded."""

    def need(cond, message):
        if not cond:
            raise fmt.fail(path, message)

    need(isinstance(header, dict), "the model header is not a JSON object")
    need(header.get("estimator") == "SoftmaxRegression",
         f"estimator {fmt.short(header.get('estimator'))} is not SoftmaxRegression")
    version = header.get("library_version")
    need(version is None or (isinstance(version, str) and len(version) <= 100),
         "library_version must be a short string")
    classes = _classes_from_json(header.get("classes"), need)
    K = len(classes)
    d: Any = header.get("n_features")
    need(fmt.is_int(d) and d >= 1, f"n_features {fmt.short(d)} is not a positive integer")
    names = header.get("feature_names")
    if names is not None:
        need(isinstance(names, list) and len(names) == d
             and all(isinstance(n, str) for n in names),
             "feature_names must be null or a list of n_features strings")
        need(all(fmt.text_ok(n) for n in names),
             f"a feature name is longer than {fmt.MAX_LABEL_CHARS} characters or holds a NUL")
        need(len(set(names)) == d, "feature_names must be distinct")
    coef, intercept, curve = arrays["coef"], arrays["intercept"], arrays["loss_curve"]
    rows = 1 if K == 2 else K
    need(coef.shape == (rows, d), f"coef has shape {coef.shape}, expected {(rows, d)}")
    need(intercept.shape == (rows,), f"intercept has shape {intercept.shape}, expected {(rows,)}")
    need(coef.dtype == intercept.dtype, "coef and intercept differ in dtype")
    need(curve.ndim == 1 and curve.dtype == np.float64, "loss_curve must be 1-d float64")
    for key, a in (("coef", coef), ("intercept", intercept), ("loss_curve", curve)):
        need(bool(np.all(np.isfinite(a))), f"{key} holds NaN or infinite values")
    fit: Any = header.get("fit")
    need(isinstance(fit, dict), "the header has no fit section")
    need(fmt.is_int(fit.get("n_iter")) and fit["n_iter"] >= 0, "fit.n_iter is not a count")
    need(isinstance(fit.get("stop_reason"), str) and fit["stop_reason"] in fmt.STOP_REASONS,
         f"fit.stop_reason {fmt.short(fit.get('stop_reason'))} is not one of {fmt.STOP_REASONS}")
    need(fit.get("n_passes") is None or (fmt.is_int(fit["n_passes"]) and fit["n_passes"] >= 0),
         "fit.n_passes is not a count")
    need(fit.get("solver") is None or (isinstance(fit["solver"], str)
                                       and fit["solver"] in fmt.FITTED_SOLVERS),
         f"fit.solver {fmt.short(fit.get('solver'))} is not one of {fmt.FITTED_SOLVERS}")
    need(isinstance(header.get("extra", {}), dict), "extra must be an object")
    params = _params_from_json(header.get("params"), classes, need)
    try:
        _hyperparams.check(params)
    except ValueError as e:
        raise fmt.fail(path, f"invalid hyper-parameters: {fmt.first_line(e)}") from None
    return classes, params


def _classes_from_json(spec: Any, need) -> np.ndarray:
    need(isinstance(spec, dict) and set(spec) == {"type", "dtype", "values"},
         "classes must have type, dtype and values")
    kind, dtype, values = spec["type"], spec["dtype"], spec["values"]
    need(isinstance(kind, str) and isinstance(dtype, str),
         "classes.type and classes.dtype must be strings")
    need(isinstance(values, list) and len(values) >= 2,
         "a model needs at least 2 classes")
    need(len(values) <= fmt.MAX_CLASSES, f"more than {fmt.MAX_CLASSES} classes")
    checks = {"int": fmt.is_int, "bool": lambda v: isinstance(v, bool),
              "float": fmt.is_number, "str": lambda v: isinstance(v, str)}
    need(kind in checks, f"unknown class type {fmt.short(kind)}")
    need(all(checks[kind](v) for v in values), f"class labels are not all of type {kind}")
    if kind == "int":
        need(dtype in fmt.INT_DTYPES, f"class dtype {fmt.short(dtype)} is not an integer dtype")
        info = np.iinfo(dtype)
        need(all(info.min <= v <= info.max for v in values), f"class labels overflow {dtype}")
        classes = np.array(values, dtype=dtype)
    elif kind == "bool":
        need(dtype in ("|b1", "bool"), f"class dtype {fmt.short(dtype)} is not bool")
        classes = np.array(values, dtype=bool)
    elif kind == "float":
        need(dtype in fmt.FLOAT_DTYPES, f"class dtype {fmt.short(dtype)} is not a float dtype")
        wide = np.array(values, dtype=np.float64)
        with np.errstate(over="ignore"):
            classes = wide.astype(fmt.FLOAT_DTYPES[dtype])
        need(bool(np.all(np.isfinite(classes))) and np.array_equal(classes, wide),
             f"class labels are not finite values of {dtype}")
    else:
        need(dtype in ("str", "object"), f"class dtype {fmt.short(dtype)} is not str or object")
        need(all(fmt.text_ok(v) for v in values),
             f"a class label is longer than {fmt.MAX_LABEL_CHARS} characters or holds a NUL")
        padded = len(values) * max(len(v) for v in values) * 4
        if dtype == "object" or padded > fmt.MAX_PADDED_LABEL_BYTES:
            classes = np.empty(len(values), dtype=object)
            classes[:] = values
        else:
            classes = np.array(values, dtype=str)
    ordered = np.unique(classes)
    need(len(ordered) == len(classes) and np.array_equal(ordered, classes),
         "class labels must be distinct and sorted")
    return classes


def _params_from_json(params: Any, classes: np.ndarray, need) -> dict:
    need(isinstance(params, dict), "the header has no params object")
    known = set(_hyperparams.DEFAULTS) - {"callback"}
    unknown = sorted(set(params) - known)
    need(not unknown, f"unknown hyper-parameters {fmt.short(unknown[:10])} (written by a newer "
                      "softreg?)")
    out = {}
    for key, value in params.items():
        if key == "class_weight" and isinstance(value, list):
            need(all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], fmt.JSON_SCALARS)
                     and fmt.is_number(p[1]) for p in value),
                 "class_weight must be a list of [label, weight] pairs")
            need(all(math.isfinite(p[1]) and p[1] >= 0 for p in value),
                 "class weights must be finite and non-negative")
            value = {k: float(w) for k, w in value}
            need(len(value) == len(params[key]), "class_weight names a class twice")
        elif key == "penalty_factor" and isinstance(value, list):
            need(all(fmt.is_number(v) and math.isfinite(v) and v >= 0 for v in value),
                 "penalty_factor must be a list of finite numbers >= 0")
            value = np.asarray(value, dtype=np.float64)
        else:
            need(isinstance(value, fmt.JSON_SCALARS), f"hyper-parameter {key}={fmt.short(value)}")
        out[key] = value
    return out

