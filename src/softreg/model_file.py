"""Safe, versioned, checksummed model files: :func:`save` and :func:`load`.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file (readable
by the ``safetensors`` package and its tools), written and read here by a few lines of
code so that softreg needs no extra dependency::

    8 bytes    N, the header length (unsigned little-endian)
    N bytes    JSON header: {"__metadata__": {str: str}, name: {"dtype", "shape",
               "data_offsets"}, ...}, padded with spaces
    rest       the arrays' bytes, little-endian, C order, back to back

Arrays: ``coef`` (K, d) or (1, d) for two classes, ``intercept`` (K,) or (1,) (float64 or
float32), ``loss_curve`` (n_iter,) float64. The ``__metadata__`` holds the format name and
version, the model header (JSON: estimator, hyper-parameters, classes with their type,
feature names, fit summary, library version) and a SHA-256 over the header and the arrays.

Loading never unpickles and never runs code: it reads the header within fixed size limits,
parses it as strict JSON (no duplicate keys, no NaN/Infinity), checks the checksum, then
every invariant (shapes, dtypes, class count and order, finite values, known
hyper-parameters) and rebuilds a :class:`~softreg.SoftmaxRegression` from plain data. Any
problem raises :class:`ModelFileError` naming it. Saving is atomic.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from typing import Any

import numpy as np

from ._atomic import atomic_write
from ._jsonable import plain

FORMAT_NAME = "softreg-model"
#: (major, minor): a reader accepts any minor of its own major; a new major is refused
FORMAT_VERSION = (1, 0)
FORMAT_VERSION_STRING = f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}"
#: largest header accepted (bytes); safetensors itself caps headers at 100 MB
MAX_HEADER_BYTES = 100_000_000
#: largest array data accepted (bytes)
MAX_DATA_BYTES = 1 << 36

_DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_TENSORS = ("coef", "intercept", "loss_curve")
_STOP_REASONS = ("converged", "max_iter", "stalled")
_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
#: JSON types a saved hyper-parameter may have (lists: class_weight pairs only)
_JSON_SCALARS = (type(None), bool, int, float, str)


class ModelFileError(ValueError):
    """A model file is missing, damaged, not a softreg model, or from a newer format."""


# -- saving -----------------------------------------------------------------------------------
def save(model, path: str | os.PathLike, *, extra: dict | None = None) -> None:
    """Save a fitted :class:`~softreg.SoftmaxRegression` to one safe file, atomically.

    Parameters
    ----------
    model : SoftmaxRegression
        A fitted model. The ``callback`` is not saved, nor a ``random_state`` that is a
        Generator (both load as None).
    path : path-like
        Destination; an existing file is replaced only once the new one is complete.
    extra : dict, optional
        JSON-serialisable notes stored in the header and returned by :func:`read_header`
        (the command line records its preprocessing here).
    """
    from .estimator import SoftmaxRegression

    if not isinstance(model, SoftmaxRegression):
        raise TypeError(f"save expects a fitted SoftmaxRegression, got {type(model).__name__}")
    if not hasattr(model, "coef_"):
        raise ValueError("save expects a fitted SoftmaxRegression; call fit first")
    header = _model_header(model, extra)
    coef = np.ascontiguousarray(model.coef_)
    dtype = coef.dtype if coef.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    arrays = {
        "coef": coef.astype(dtype.newbyteorder("<"), copy=False),
        "intercept": np.ascontiguousarray(model.intercept_).astype(dtype.newbyteorder("<")),
        "loss_curve": np.asarray(getattr(model, "loss_curve_", []), dtype="<f8"),
    }
    for name in ("coef", "intercept"):
        if not np.all(np.isfinite(arrays[name])):
            raise ValueError(f"the model's {name} has non-finite values; refusing to save it")
    data = _encode(header, arrays)
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def _encode(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    tensors, chunks, offset = {}, [], 0
    for name in _TENSORS:
        a = arrays[name]
        raw = a.tobytes(order="C")
        tensors[name] = {"dtype": _DTYPE_NAMES[a.dtype], "shape": list(a.shape),
                         "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION_STRING,
            "softreg.header": _dumps(header)}
    meta["softreg.sha256"] = _digest(meta, tensors, data)
    text = _dumps({"__metadata__": meta, **tensors}).encode("ascii")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def _digest(meta: dict, tensors: dict, data: bytes) -> str:
    """SHA-256 over the metadata (less the digest), the array descriptions and bytes."""
    described = {k: v for k, v in meta.items() if k != "softreg.sha256"}
    h = hashlib.sha256(b"softreg-model-checksum\0")
    h.update(_dumps({"meta": described, "tensors": tensors}).encode("ascii"))
    h.update(b"\0")
    h.update(data)
    return h.hexdigest()


def _model_header(model, extra: dict | None) -> dict:
    from ._version import __version__

    classes = np.asarray(model.classes_)
    kind, values = _classes_to_json(classes)
    names = getattr(model, "feature_names_in_", None)
    params = _params_to_json(model.get_params(deep=False), classes)
    header = {
        "estimator": "SoftmaxRegression",
        "library_version": __version__,
        "params": params,
        "classes": {"type": kind, "dtype": classes.dtype.str if kind != "str"
                    else ("object" if classes.dtype == object else "str"), "values": values},
        "feature_names": None if names is None else [str(n) for n in names],
        "n_features": int(model.n_features_in_),
        "fit": {"n_iter": int(getattr(model, "n_iter_", 0)),
                "stop_reason": str(getattr(model, "stop_reason_", "max_iter")),
                "n_passes": _opt_int(getattr(model, "n_passes_", None)),
                "solver": getattr(model, "solver_", None)},
        "extra": {} if extra is None else json.loads(_dumps(extra)),
    }
    if kind == "int":
        header["classes"]["dtype"] = classes.dtype.name
    return header


def _opt_int(v):
    return None if v is None else int(v)


def _classes_to_json(classes: np.ndarray) -> tuple[str, list]:
    if classes.dtype == bool:
        return "bool", [bool(c) for c in classes]
    if np.issubdtype(classes.dtype, np.integer):
        return "int", [int(c) for c in classes]
    if np.issubdtype(classes.dtype, np.floating):
        if not np.all(np.isfinite(classes)):
            raise ValueError("cannot save a model whose class labels are not finite")
        return "float", [float(c) for c in classes]
    if classes.dtype.kind == "U" or (classes.dtype == object
                                     and all(isinstance(c, str) for c in classes)):
        return "str", [str(c) for c in classes]
    raise ValueError("model files hold class labels that are all int, float, bool or all str; "
                     f"got {classes.dtype} labels {classes[:5].tolist()}")


def _params_to_json(params: dict, classes: np.ndarray) -> dict:
    out = {}
    for key, value in params.items():
        if key == "callback":
            continue
        if key == "random_state" and not (value is None or isinstance(value, int | np.integer)):
            value = None
        if key == "class_weight" and isinstance(value, dict):
            value = [[plain(k), float(w)] for k, w in value.items()]
        elif isinstance(value, np.generic):
            value = plain(value)
        out[key] = value
    return out


# -- loading ----------------------------------------------------------------------------------
def load(path: str | os.PathLike):
    """Load a model saved by :func:`save`, verifying it completely first.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    SoftmaxRegression
        Fitted, predicting exactly as the saved model did.

    Raises
    ------
    ModelFileError
        For a missing, empty, truncated, altered or foreign file, an invalid header, or a
        file from a newer major format version.
    """
    header, arrays, _ = _read(path)
    return _build(header, arrays, path)


def _load_bytes(data: bytes, name: str = "<bytes>"):
    """:func:`load` from bytes in memory (for tests and tools)."""
    import io

    header, arrays, _ = _read_stream(io.BytesIO(data), len(data), name)
    return _build(header, arrays, name)


def read_header(path: str | os.PathLike) -> dict:
    """The verified model header of a model file (a dict of plain JSON data).

    The file's format version is added under the key ``"format_version"``.
    """
    return load_with_header(path)[1]


def load_with_header(path: str | os.PathLike):
    """(model, header) from one verified read: :func:`load` and :func:`read_header`."""
    header, arrays, meta = _read(path)
    model = _build(header, arrays, path)
    return model, {**header, "format_version": meta["format_version"]}


def _fail(path, message: str) -> ModelFileError:
    return ModelFileError(f"{os.fspath(path)}: not a valid softreg model file: {message}")


def _read(path) -> tuple[dict, dict[str, np.ndarray], dict]:
    try:
        with open(path, "rb") as fh:
            return _read_stream(fh, os.fstat(fh.fileno()).st_size, path)
    except FileNotFoundError:
        raise ModelFileError(f"{os.fspath(path)}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{os.fspath(path)}: is a folder, not a model file") from None
    except OSError as e:
        raise ModelFileError(f"{os.fspath(path)}: cannot read the model file: "
                             f"{e.strerror or e}") from None


def _read_stream(fh, size: int, path) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read and verify a model file from the binary stream ``fh`` of ``size`` bytes."""
    if size < 8:
        raise _fail(path, f"the file has only {size} bytes")
    (n,) = struct.unpack("<Q", fh.read(8))
    if n < 2 or n > MAX_HEADER_BYTES or n > size - 8:
        raise _fail(path, f"the header length {n} does not fit the file of {size} "
                          "bytes (truncated, or not a model file)")
    text = fh.read(n)
    n_data = size - 8 - n
    if n_data > MAX_DATA_BYTES:
        raise _fail(path, f"the array data of {n_data} bytes is larger than {MAX_DATA_BYTES}")
    data = fh.read(n_data)
    if len(text) != n or len(data) != n_data:
        raise _fail(path, "the file changed while being read")
    if not text.startswith(b"{"):
        raise _fail(path, "the header is not a JSON object (not a safetensors file)")
    try:
        top = _strict_json(text.decode("utf-8").rstrip(" "))
    except RecursionError:
        raise _fail(path, "malformed header: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"malformed header: {e}") from None
    if not isinstance(top, dict) or not isinstance(top.get("__metadata__"), dict):
        raise _fail(path, "the header has no __metadata__ object")
    meta = top.pop("__metadata__")
    if not all(isinstance(v, str) for v in meta.values()):
        raise _fail(path, "__metadata__ values must be strings")
    if meta.get("format") != FORMAT_NAME:
        raise _fail(path, f"format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    _check_version(path, meta.get("format_version"))
    if set(top) != set(_TENSORS):
        raise _fail(path, f"expected the arrays {list(_TENSORS)}, found {sorted(top)}")
    arrays = {}
    expected_offset = 0
    for name in sorted(top, key=lambda k: _offsets(path, k, top[k])[0]):
        a, end = _array(path, name, top[name], data, expected_offset)
        arrays[name] = a
        expected_offset = end
    if expected_offset != len(data):
        raise _fail(path, f"{len(data) - expected_offset} bytes of data after the last array")
    if meta.get("softreg.sha256") != _digest(meta, top, data):
        raise _fail(path, "checksum mismatch: the file is damaged or was altered")
    try:
        header = _strict_json(meta.get("softreg.header", ""))
    except RecursionError:
        raise _fail(path, "malformed model header: nested too deeply") from None
    except ValueError as e:
        raise _fail(path, f"malformed model header: {e}") from None
    if not isinstance(header, dict):
        raise _fail(path, "the model header is not a JSON object")
    return header, arrays, meta


def _check_version(path, version) -> None:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 2 or not all(p.isdigit() and len(p) < 6 for p in parts):
        raise _fail(path, f"format_version {version!r} is not MAJOR.MINOR")
    major = int(parts[0])
    if major > FORMAT_VERSION[0]:
        raise ModelFileError(
            f"{os.fspath(path)}: the model file has format version {version}, newer than the "
            f"{FORMAT_VERSION[0]}.x this softreg reads: upgrade softreg to load it")
    if major < 1:
        raise _fail(path, f"unknown format version {version}")


def _offsets(path, name, desc) -> list[int]:
    if not isinstance(desc, dict) or set(desc) != {"dtype", "shape", "data_offsets"}:
        raise _fail(path, f"array {name!r} needs exactly dtype, shape and data_offsets")
    off = desc["data_offsets"]
    if not (isinstance(off, list) and len(off) == 2 and all(_is_int(o) and o >= 0 for o in off)
            and off[0] <= off[1]):
        raise _fail(path, f"array {name!r} has invalid data_offsets {off!r}")
    return off


def _array(path, name, desc, data: bytes, start: int) -> tuple[np.ndarray, int]:
    begin, end = _offsets(path, name, desc)
    dtype = _DTYPES.get(desc["dtype"])
    if dtype is None:
        raise _fail(path, f"array {name!r} has dtype {desc['dtype']!r}; expected F64 or F32")
    shape = desc["shape"]
    if not (isinstance(shape, list) and len(shape) <= 2
            and all(_is_int(s) and 0 <= s <= MAX_DATA_BYTES for s in shape)):
        raise _fail(path, f"array {name!r} has invalid shape {shape!r}")
    count = math.prod(shape)
    if begin != start or end > len(data) or end - begin != count * dtype.itemsize:
        raise _fail(path, f"array {name!r} of shape {shape} does not match its data_offsets "
                          f"[{begin}, {end}] in {len(data)} bytes of data")
    a = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape)
    return a.astype(dtype.newbyteorder("="), copy=True), end


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _strict_json(text: str):
    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                raise ValueError(f"duplicate key {k!r}")
            seen[k] = v
        return seen

    def bad_constant(c):
        raise ValueError(f"{c} is not allowed")

    def finite_float(s):
        v = float(s)
        if not math.isfinite(v):
            raise ValueError(f"number {s} is out of range")
        return v

    return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant,
                      parse_float=finite_float)


def _build(header: dict, arrays: dict[str, np.ndarray], path):
    """Check every invariant of (header, arrays) and return the fitted model."""
    from .estimator import SoftmaxRegression

    def need(cond, message):
        if not cond:
            raise _fail(path, message)

    need(header.get("estimator") == "SoftmaxRegression",
         f"estimator {header.get('estimator')!r} is not SoftmaxRegression")
    classes = _classes_from_json(header.get("classes"), need)
    K = len(classes)
    d = header.get("n_features")
    need(_is_int(d) and d >= 1, f"n_features {d!r} is not a positive integer")
    names = header.get("feature_names")
    if names is not None:
        need(isinstance(names, list) and len(names) == d
             and all(isinstance(n, str) for n in names) and len(set(names)) == d,
             "feature_names must be null or a list of n_features distinct strings")
    coef, intercept, curve = arrays["coef"], arrays["intercept"], arrays["loss_curve"]
    rows = 1 if K == 2 else K
    need(coef.shape == (rows, d), f"coef has shape {coef.shape}, expected {(rows, d)}")
    need(intercept.shape == (rows,), f"intercept has shape {intercept.shape}, expected {(rows,)}")
    need(coef.dtype == intercept.dtype, "coef and intercept differ in dtype")
    need(curve.ndim == 1 and curve.dtype == np.float64, "loss_curve must be 1-d float64")
    for key, a in (("coef", coef), ("intercept", intercept), ("loss_curve", curve)):
        need(bool(np.all(np.isfinite(a))), f"{key} holds NaN or infinite values")
    fit = header.get("fit")
    need(isinstance(fit, dict), "the header has no fit section")
    need(_is_int(fit.get("n_iter")) and fit["n_iter"] >= 0, "fit.n_iter is not a count")
    need(fit.get("stop_reason") in _STOP_REASONS, f"fit.stop_reason {fit.get('stop_reason')!r}")
    need(fit.get("n_passes") is None or _is_int(fit.get("n_passes")), "fit.n_passes")
    need(fit.get("solver") in (None, "lbfgs", "newton", "gd", "sgd"),
         f"fit.solver {fit.get('solver')!r}")
    need(isinstance(header.get("extra", {}), dict), "extra must be an object")
    params = _params_from_json(header.get("params"), classes, need)
    model = SoftmaxRegression(**params)
    try:
        model._validate_params()
    except ValueError as e:
        raise _fail(path, f"invalid hyper-parameters: {e}") from None
    model.classes_ = classes
    model.coef_ = coef
    model.intercept_ = intercept
    model.n_features_in_ = d
    if names is not None:
        model.feature_names_in_ = np.array(names, dtype=object)
    model.n_iter_ = fit["n_iter"]
    model.loss_curve_ = [float(v) for v in curve]
    model.stop_reason_ = fit["stop_reason"]
    if fit.get("n_passes") is not None:
        model.n_passes_ = fit["n_passes"]
    if fit.get("solver") is not None:
        model.solver_ = fit["solver"]
    return model


def _classes_from_json(spec: Any, need) -> np.ndarray:
    need(isinstance(spec, dict) and set(spec) == {"type", "dtype", "values"},
         "classes must have type, dtype and values")
    kind, dtype, values = spec["type"], spec["dtype"], spec["values"]
    need(isinstance(values, list) and len(values) >= 2,
         "a model needs at least 2 classes")
    checks = {"int": _is_int, "bool": lambda v: isinstance(v, bool),
              "float": lambda v: isinstance(v, float | int) and not isinstance(v, bool),
              "str": lambda v: isinstance(v, str)}
    need(kind in checks, f"unknown class type {kind!r}")
    need(all(checks[kind](v) for v in values), f"class labels are not all of type {kind}")
    if kind == "int":
        need(dtype in _INT_DTYPES, f"class dtype {dtype!r} is not an integer dtype")
        info = np.iinfo(dtype)
        need(all(info.min <= v <= info.max for v in values), f"class labels overflow {dtype}")
        classes = np.array(values, dtype=dtype)
    elif kind == "bool":
        classes = np.array(values, dtype=bool)
    elif kind == "float":
        need(dtype in ("<f8", "<f4", "float64", "float32"), f"class dtype {dtype!r}")
        classes = np.array(values, dtype=np.float64).astype(dtype)
    else:
        need(dtype in ("str", "object"), f"class dtype {dtype!r}")
        classes = np.array(values, dtype=object if dtype == "object" else str)
    need(len(np.unique(classes)) == len(classes) and
         np.array_equal(np.unique(classes), classes),
         "class labels must be distinct and sorted")
    return classes


def _params_from_json(params: Any, classes: np.ndarray, need) -> dict:
    from .estimator import SoftmaxRegression

    need(isinstance(params, dict), "the header has no params object")
    known = set(SoftmaxRegression().get_params()) - {"callback"}
    unknown = sorted(set(params) - known)
    need(not unknown, f"unknown hyper-parameters {unknown} (written by a newer softreg?)")
    out = {}
    for key, value in params.items():
        if key == "class_weight" and isinstance(value, list):
            need(all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], _JSON_SCALARS)
                     and isinstance(p[1], float | int) and not isinstance(p[1], bool)
                     for p in value), "class_weight must be a list of [label, weight] pairs")
            value = {k: float(w) for k, w in value}
        else:
            need(isinstance(value, _JSON_SCALARS), f"hyper-parameter {key}={value!r}")
        out[key] = value
    return out
