"""Safe, versioned, checksummed model files: :func:`save` and :func:`load`.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file, written
and read through the ``safetensors`` package::

    8 bytes    N, the header length (unsigned little-endian)
    N bytes    JSON header: {"__metadata__": {str: str}, name: {"dtype", "shape",
               "data_offsets"}, ...}, padded with spaces
    rest       the arrays' bytes, little-endian, C order, back to back

Arrays: ``coef`` (K, d) or (1, d) for two classes, ``intercept`` (K,) or (1,) (float64 or
float32), ``loss_curve`` (n_iter,) float64. The ``__metadata__`` holds the format name and
version, the model header (JSON: estimator, hyper-parameters, classes with their type,
feature names, fit summary, library version) and a SHA-256 over the header and the arrays.

Loading never unpickles and never runs code, and never lets a file make it hang or allocate
much more than the file's own size:

1. only a regular file is opened (a FIFO or a device is refused before ``open``);
2. the header is read within fixed limits (bytes, JSON containers and items) and parsed as
   strict JSON (no duplicate keys, no NaN/Infinity);
3. the sizes the header declares must add up to the file's size *before* the arrays are
   read (a sparse 6 GB file holding a 4 KB model is refused without reading it);
4. the checksum is verified, the arrays are decoded by ``safetensors``;
5. every header field's type and every invariant (shapes, dtypes, class count and order,
   label and name lengths, finite values, known hyper-parameters) is checked, and the known
   parts of ``extra`` are validated (a malformed part is dropped with a warning):
   :func:`read_checked` stops here and returns plain data (without importing scikit-learn);
   :func:`load` then rebuilds a :class:`~softreg.SoftmaxRegression` from it.

Any problem, a ``MemoryError`` included, raises :class:`ModelFileError` naming it. Saving
refuses what loading refuses, and is atomic.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _hyperparams, _model_extra
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
#: most JSON objects and arrays ("{" and "[" in the header text) accepted
MAX_JSON_CONTAINERS = 1_000_000
#: most JSON items ("," in the header text) accepted: bounds the Python objects parsed
MAX_JSON_ITEMS = 4_000_000
#: longest class label and feature name accepted (characters)
MAX_LABEL_CHARS = _model_extra.MAX_NAME_CHARS
#: most classes accepted
MAX_CLASSES = 1_000_000
#: string labels load as a NumPy "<U" array only while its padding stays below this (bytes);
#: larger sets load as an object array (no padding of every label to the longest)
MAX_PADDED_LABEL_BYTES = 1 << 24

_DTYPES: dict[str, np.dtype] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
_TENSORS = ("coef", "intercept", "loss_curve")
_STOP_REASONS = ("converged", "max_iter", "stalled")
#: the solvers a fit can record in solver_ (every value of the solver parameter but "auto")
_FITTED_SOLVERS = tuple(s for s in _hyperparams.SOLVERS if s != "auto")
_INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
_FLOAT_DTYPES = {"<f8": np.float64, "float64": np.float64, "<f4": np.float32,
                 "float32": np.float32}
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

    Raises
    ------
    ValueError
        For a model that :func:`load` would refuse (non-finite values, labels or names that
        are too long or hold NUL characters, ...): nothing is written.
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
    try:  # load would accept what is written
        text = _dumps(header)
        _check_json_size(json.dumps(text).encode("ascii"), "<model being saved>", slack=1000)
        native = {k: a.astype(a.dtype.newbyteorder("=")) for k, a in arrays.items()}
        _check(header, native, "<model being saved>")
    except ModelFileError as e:
        raise ValueError(f"refusing to save a model that could not be loaded: "
                         f"{str(e).split(': not a valid softreg model file: ')[-1]}") from None
    data = _encode(header, arrays)
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def _encode(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of a model file holding ``header`` and ``arrays`` (written by safetensors)."""
    from safetensors.numpy import save as st_save

    arrays = {name: np.ascontiguousarray(arrays[name]) for name in _TENSORS}
    for name, a in arrays.items():
        if a.dtype.newbyteorder("<") not in _DTYPE_NAMES:
            arrays[name] = a.astype("<f8")
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION_STRING,
            "softreg.header": _dumps(header)}
    # the arrays' layout does not depend on the metadata: encode once to learn it
    draft = st_save(arrays, metadata=meta)
    _, tensors, data_start = _split(draft)
    meta["softreg.sha256"] = _digest(meta, tensors, memoryview(draft)[data_start:])
    blob = st_save(arrays, metadata=meta)
    _, tensors_again, _ = _split(blob)
    assert tensors_again == tensors, "safetensors laid the arrays out differently"
    return blob


def _split(blob: bytes) -> tuple[dict, dict, int]:
    """(metadata, tensor descriptions, data start) of safetensors bytes we just wrote."""
    (n,) = struct.unpack("<Q", blob[:8])
    top = json.loads(blob[8:8 + n])
    return top.pop("__metadata__"), top, 8 + n


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def _digest(meta: dict, tensors: dict, data) -> str:
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
        elif key == "penalty_factor" and value is not None:
            value = [float(v) for v in np.asarray(value, dtype=np.float64).ravel()]
        out[key] = value
    return out


# -- loading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelData:
    """What a verified model file holds, as plain data (no estimator is built).

    Attributes
    ----------
    header : dict
        The model header (plain JSON data), its ``extra`` holding only the parts that passed
        validation, with the file's format version under ``"format_version"``.
    classes : ndarray of shape (n_classes,)
        The class labels, sorted, with their saved dtype.
    params : dict
        The saved hyper-parameters, decoded (``class_weight`` a dict, ``penalty_factor`` an
        array); those the file omits are absent (they take their defaults).
    coef : ndarray of shape (n_classes, n_features), or (1, n_features) for two classes
    intercept : ndarray of shape (n_classes,), or (1,) for two classes
    loss_curve : ndarray of shape (n_iter,)
    """

    header: dict
    classes: np.ndarray
    params: dict
    coef: np.ndarray
    intercept: np.ndarray
    loss_curve: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.header["n_features"])

    @property
    def feature_names(self) -> list[str] | None:
        return self.header.get("feature_names")

    def param(self, key: str):
        """The hyper-parameter ``key``: its saved value, else its default."""
        return self.params.get(key, _hyperparams.DEFAULTS[key])


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
        For a missing, empty, truncated, altered or foreign file, a file that is not a
        regular file (a FIFO, a device), an invalid header, a file from a newer major format
        version, or not enough memory to load it.
    """
    return load_with_header(path)[0]


def read_checked(path: str | os.PathLike) -> ModelData:
    """Read and verify a model file exactly as :func:`load` does, without building the model.

    Every check of :func:`load` is made (sizes, checksum, header field types, invariants,
    hyper-parameters, the known parts of ``extra``), but neither the estimator nor
    scikit-learn is imported: tools that only show a model file start fast.

    Raises
    ------
    ModelFileError
        As :func:`load`.
    """
    return _guarded(path, lambda: _read(path))


def _load_bytes(data: bytes, name: str = "<bytes>"):
    """:func:`load` from bytes in memory (for tests and tools)."""
    import io

    return _estimator(_guarded(name, lambda: _verified(io.BytesIO(data), len(data), name)))


def read_header(path: str | os.PathLike) -> dict:
    """The verified model header of a model file (a dict of plain JSON data).

    The file's format version is added under the key ``"format_version"``.
    """
    return read_checked(path).header


def load_with_header(path: str | os.PathLike):
    """(model, header) from one verified read: :func:`load` and :func:`read_header`.

    The header's ``extra`` holds only the parts that passed validation.
    """
    data = read_checked(path)
    return _estimator(data), data.header


def _guarded(path, work):
    """Run ``work``; resource exhaustion becomes a ModelFileError."""
    try:
        return work()
    except MemoryError:
        raise ModelFileError(f"{os.fspath(path)}: not enough memory to load the model "
                             "file") from None
    except RecursionError:
        raise _fail(path, "nested too deeply") from None


def _fail(path, message: str) -> ModelFileError:
    return ModelFileError(f"{os.fspath(path)}: not a valid softreg model file: {message}")


def _read(path):
    name = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such model file") from None
    except OSError as e:
        raise ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    _check_regular(name, st.st_mode)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open does not block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ModelFileError(f"{name}: no such model file") from None
    except OSError as e:
        raise ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        _check_regular(name, st.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return _verified(fh, st.st_size, path)
    except OSError as e:
        raise ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _check_regular(name: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise ModelFileError(f"{name}: is a folder, not a model file")
    if not stat.S_ISREG(mode):
        what = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise ModelFileError(f"{name}: is {what}, not a model file; model files are regular "
                             "files")


def _verified(fh, size: int, path) -> ModelData:
    header, arrays, meta = _read_stream(fh, size, path)
    classes, params = _check(header, arrays, path)
    header = dict(header)
    header["extra"] = _model_extra.checked_extra(header.get("extra", {}),
                                                 header["n_features"], path)
    return ModelData({**header, "format_version": meta["format_version"]}, classes, params,
                     arrays["coef"], arrays["intercept"], arrays["loss_curve"])


def _read_exactly(fh, n: int, path) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _fail(path, "the file changed while being read")
    return data


def _read_stream(fh, size: int, path) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read and verify a model file from the binary stream ``fh`` of ``size`` bytes."""
    if size < 8:
        raise _fail(path, f"the file has only {size} bytes")
    (n,) = struct.unpack("<Q", _read_exactly(fh, 8, path))
    if n < 2 or n > MAX_HEADER_BYTES or n > size - 8:
        raise _fail(path, f"the header length {n} does not fit the file of {size} "
                          "bytes (truncated, or not a model file)")
    text = _read_exactly(fh, n, path)
    top = _parse_outer(text, path)
    meta = top.pop("__metadata__")
    data_size = _check_layout(path, top)
    if size != 8 + n + data_size:
        raise _fail(path, f"the file has {size} bytes but its header declares "
                          f"{8 + n + data_size} (8 + {n} of header + {data_size} of arrays): "
                          "truncated, padded, or not a model file")
    data = _read_exactly(fh, data_size, path)
    if fh.read(1):
        raise _fail(path, "the file changed while being read")
    if meta.get("softreg.sha256") != _digest(meta, top, data):
        raise _fail(path, "checksum mismatch: the file is damaged or was altered")
    arrays = _decode_arrays(struct.pack("<Q", n) + text + data, path, top)
    try:
        header = _strict_json(meta.get("softreg.header", ""))
    except RecursionError:
        raise _fail(path, "malformed model header: nested too deeply") from None
    except ValueError as e:
        raise _fail(path, f"malformed model header: {e}") from None
    if not isinstance(header, dict):
        raise _fail(path, "the model header is not a JSON object")
    return header, arrays, meta


def _parse_outer(text: bytes, path) -> dict:
    """The outer safetensors header as a dict, its __metadata__ checked."""
    if not text.startswith(b"{"):
        raise _fail(path, "the header is not a JSON object (not a safetensors file)")
    _check_json_size(text, path)
    try:
        top = _strict_json(text.decode("utf-8").rstrip(" "))
    except RecursionError:
        raise _fail(path, "malformed header: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"malformed header: {e}") from None
    if not isinstance(top, dict) or not isinstance(top.get("__metadata__"), dict):
        raise _fail(path, "the header has no __metadata__ object")
    meta = top["__metadata__"]
    if not all(isinstance(v, str) for v in meta.values()):
        raise _fail(path, "__metadata__ values must be strings")
    if meta.get("format") != FORMAT_NAME:
        raise _fail(path, f"format is {_short(meta.get('format'))}, expected {FORMAT_NAME!r}")
    _check_version(path, meta.get("format_version"))
    if set(top) != {"__metadata__", *_TENSORS}:
        found = sorted(k for k in top if k != "__metadata__")
        raise _fail(path, f"expected the arrays {list(_TENSORS)}, found "
                          f"{_short(found[:10])}")
    return top


def _check_json_size(text: bytes, path, slack: int = 0) -> None:
    """Bound what parsing ``text`` can allocate: its length, containers and items."""
    if len(text) + slack > MAX_HEADER_BYTES:
        raise _fail(path, f"the header of {len(text) + slack} bytes is larger than the "
                          f"{MAX_HEADER_BYTES} accepted")
    containers = text.count(b"{") + text.count(b"[")
    if containers > MAX_JSON_CONTAINERS:
        raise _fail(path, f"the header holds {containers} JSON objects and arrays, more than "
                          f"the {MAX_JSON_CONTAINERS} accepted")
    items = text.count(b",")
    if items > MAX_JSON_ITEMS:
        raise _fail(path, f"the header holds {items} JSON items, more than the "
                          f"{MAX_JSON_ITEMS} accepted")


def _short(value, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _check_version(path, version) -> None:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 2 or not all(p.isdigit() and p.isascii() and len(p) < 6 for p in parts):
        raise _fail(path, f"format_version {_short(version)} is not MAJOR.MINOR")
    major = int(parts[0])
    if major > FORMAT_VERSION[0]:
        raise ModelFileError(
            f"{os.fspath(path)}: the model file has format version {version}, newer than the "
            f"{FORMAT_VERSION[0]}.x this softreg reads: upgrade softreg to load it")
    if major < 1:
        raise _fail(path, f"unknown format version {version}")


def _check_layout(path, tensors: dict) -> int:
    """Check every array description; the number of data bytes they declare together."""
    spans = []
    for name in _TENSORS:
        desc = tensors[name]
        if not isinstance(desc, dict) or set(desc) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"array {name!r} needs exactly dtype, shape and data_offsets")
        dtype = desc["dtype"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _fail(path, f"array {name!r} has dtype {_short(dtype)}; expected F64 or F32")
        shape = desc["shape"]
        if not (isinstance(shape, list) and len(shape) <= 2
                and all(_is_int(s) and 0 <= s <= MAX_DATA_BYTES for s in shape)):
            raise _fail(path, f"array {name!r} has invalid shape {_short(shape)}")
        off = desc["data_offsets"]
        if not (isinstance(off, list) and len(off) == 2
                and all(_is_int(o) and 0 <= o <= MAX_DATA_BYTES for o in off)
                and off[0] <= off[1]):
            raise _fail(path, f"array {name!r} has invalid data_offsets {_short(off)}")
        nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
        if off[1] - off[0] != nbytes:
            raise _fail(path, f"array {name!r} of shape {shape} and dtype {dtype} needs "
                              f"{nbytes} bytes, but its data_offsets {off} span "
                              f"{off[1] - off[0]}")
        spans.append((off[0], off[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise _fail(path, f"array {name!r} starts at byte {begin} of the data, expected "
                              f"{end} (the arrays must follow each other)")
        end = stop
    return end


def _decode_arrays(blob: bytes, path="<bytes>", tensors: dict | None = None
                   ) -> dict[str, np.ndarray]:
    """The arrays of a whole model file's bytes, decoded by safetensors (native byte order)."""
    from safetensors.numpy import load as st_load

    try:
        raw = st_load(blob)
    except MemoryError:
        raise
    except Exception as e:  # safetensors' own error type
        raise _fail(path, f"safetensors cannot read the arrays: {_first_line(e)}") from None
    if set(raw) != set(_TENSORS):
        raise _fail(path, f"expected the arrays {list(_TENSORS)}, found {sorted(raw)}")
    arrays = {}
    for name in _TENSORS:
        a = raw[name]
        if a.dtype.newbyteorder("<") not in _DTYPE_NAMES:
            raise _fail(path, f"array {name!r} has dtype {a.dtype}; expected F64 or F32")
        if tensors is not None and list(a.shape) != tensors[name]["shape"]:
            raise _fail(path, f"array {name!r} decoded with shape {a.shape}")
        arrays[name] = np.array(a, dtype=a.dtype.newbyteorder("="), copy=True)
    return arrays


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _strict_json(text: str):
    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                raise ValueError(f"duplicate key {_short(k, 80)}")
            seen[k] = v
        return seen

    def bad_constant(c):
        raise ValueError(f"{c} is not allowed")

    def finite_float(s):
        v = float(s)
        if not math.isfinite(v):
            raise ValueError(f"number {s[:40]} is out of range")
        return v

    def bounded_int(s):
        if len(s) > 400:
            raise ValueError(f"an integer of {len(s)} digits")
        return int(s)

    return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant,
                      parse_float=finite_float, parse_int=bounded_int)


def _check(header: dict, arrays: dict[str, np.ndarray], path) -> tuple[np.ndarray, dict]:
    """Check the type of every header field and every invariant; (classes, params) decoded."""

    def need(cond, message):
        if not cond:
            raise _fail(path, message)

    need(isinstance(header, dict), "the model header is not a JSON object")
    need(header.get("estimator") == "SoftmaxRegression",
         f"estimator {_short(header.get('estimator'))} is not SoftmaxRegression")
    version = header.get("library_version")
    need(version is None or (isinstance(version, str) and len(version) <= 100),
         "library_version must be a short string")
    classes = _classes_from_json(header.get("classes"), need)
    K = len(classes)
    d: Any = header.get("n_features")
    need(_is_int(d) and d >= 1, f"n_features {_short(d)} is not a positive integer")
    names = header.get("feature_names")
    if names is not None:
        need(isinstance(names, list) and len(names) == d
             and all(isinstance(n, str) for n in names),
             "feature_names must be null or a list of n_features strings")
        need(all(_text_ok(n) for n in names),
             f"a feature name is longer than {MAX_LABEL_CHARS} characters or holds a NUL")
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
    need(_is_int(fit.get("n_iter")) and fit["n_iter"] >= 0, "fit.n_iter is not a count")
    need(isinstance(fit.get("stop_reason"), str) and fit["stop_reason"] in _STOP_REASONS,
         f"fit.stop_reason {_short(fit.get('stop_reason'))} is not one of {_STOP_REASONS}")
    need(fit.get("n_passes") is None or (_is_int(fit["n_passes"]) and fit["n_passes"] >= 0),
         "fit.n_passes is not a count")
    need(fit.get("solver") is None or (isinstance(fit["solver"], str)
                                       and fit["solver"] in _FITTED_SOLVERS),
         f"fit.solver {_short(fit.get('solver'))} is not one of {_FITTED_SOLVERS}")
    need(isinstance(header.get("extra", {}), dict), "extra must be an object")
    params = _params_from_json(header.get("params"), classes, need)
    try:
        _hyperparams.check(params)
    except ValueError as e:
        raise _fail(path, f"invalid hyper-parameters: {_first_line(e)}") from None
    return classes, params


def _estimator(data: ModelData):
    """The fitted :class:`~softreg.SoftmaxRegression` of a verified model file."""
    from .estimator import SoftmaxRegression

    model = SoftmaxRegression(**data.params)
    fit = data.header["fit"]
    names = data.header.get("feature_names")
    model.classes_ = data.classes
    model.coef_ = data.coef
    model.intercept_ = data.intercept
    model.n_features_in_ = data.n_features
    if names is not None:
        model.feature_names_in_ = np.array(names, dtype=object)
    model.n_iter_ = fit["n_iter"]
    model.loss_curve_ = [float(v) for v in data.loss_curve]
    model.stop_reason_ = fit["stop_reason"]
    if fit.get("n_passes") is not None:
        model.n_passes_ = fit["n_passes"]
    if fit.get("solver") is not None:
        model.solver_ = fit["solver"]
    return model


def _text_ok(s: str) -> bool:
    """A label or name that the file may hold: not too long, no NUL character."""
    return len(s) <= MAX_LABEL_CHARS and "\x00" not in s


def _classes_from_json(spec: Any, need) -> np.ndarray:
    need(isinstance(spec, dict) and set(spec) == {"type", "dtype", "values"},
         "classes must have type, dtype and values")
    kind, dtype, values = spec["type"], spec["dtype"], spec["values"]
    need(isinstance(kind, str) and isinstance(dtype, str),
         "classes.type and classes.dtype must be strings")
    need(isinstance(values, list) and len(values) >= 2,
         "a model needs at least 2 classes")
    need(len(values) <= MAX_CLASSES, f"more than {MAX_CLASSES} classes")
    checks = {"int": _is_int, "bool": lambda v: isinstance(v, bool),
              "float": _is_number, "str": lambda v: isinstance(v, str)}
    need(kind in checks, f"unknown class type {_short(kind)}")
    need(all(checks[kind](v) for v in values), f"class labels are not all of type {kind}")
    if kind == "int":
        need(dtype in _INT_DTYPES, f"class dtype {_short(dtype)} is not an integer dtype")
        info = np.iinfo(dtype)
        need(all(info.min <= v <= info.max for v in values), f"class labels overflow {dtype}")
        classes = np.array(values, dtype=dtype)
    elif kind == "bool":
        need(dtype in ("|b1", "bool"), f"class dtype {_short(dtype)} is not bool")
        classes = np.array(values, dtype=bool)
    elif kind == "float":
        need(dtype in _FLOAT_DTYPES, f"class dtype {_short(dtype)} is not a float dtype")
        wide = np.array(values, dtype=np.float64)
        with np.errstate(over="ignore"):
            classes = wide.astype(_FLOAT_DTYPES[dtype])
        need(bool(np.all(np.isfinite(classes))) and np.array_equal(classes, wide),
             f"class labels are not finite values of {dtype}")
    else:
        need(dtype in ("str", "object"), f"class dtype {_short(dtype)} is not str or object")
        need(all(_text_ok(v) for v in values),
             f"a class label is longer than {MAX_LABEL_CHARS} characters or holds a NUL")
        padded = len(values) * max(len(v) for v in values) * 4
        if dtype == "object" or padded > MAX_PADDED_LABEL_BYTES:
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
    need(not unknown, f"unknown hyper-parameters {_short(unknown[:10])} (written by a newer "
                      "softreg?)")
    out = {}
    for key, value in params.items():
        if key == "class_weight" and isinstance(value, list):
            need(all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], _JSON_SCALARS)
                     and _is_number(p[1]) for p in value),
                 "class_weight must be a list of [label, weight] pairs")
            need(all(math.isfinite(p[1]) and p[1] >= 0 for p in value),
                 "class weights must be finite and non-negative")
            value = {k: float(w) for k, w in value}
            need(len(value) == len(params[key]), "class_weight names a class twice")
        elif key == "penalty_factor" and isinstance(value, list):
            need(all(_is_number(v) and math.isfinite(v) and v >= 0 for v in value),
                 "penalty_factor must be a list of finite numbers >= 0")
            value = np.asarray(value, dtype=np.float64)
        else:
            need(isinstance(value, _JSON_SCALARS), f"hyper-parameter {key}={_short(value)}")
        out[key] = value
    return out
