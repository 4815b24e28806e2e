"""The model file format's constants, limits and small shared helpers (no I/O).

:mod:`softreg.model_file` writes and reads files of this format; :mod:`._model_reader` and
:mod:`._model_header` check them.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct

import numpy as np

from . import _hyperparams, _model_extra

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

DTYPES: dict[str, np.dtype] = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4")}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
TENSORS = ("coef", "intercept", "loss_curve")
STOP_REASONS = ("converged", "max_iter", "stalled")
#: the solvers a fit can record in solver_ (every value of the solver parameter but "auto")
FITTED_SOLVERS = tuple(s for s in _hyperparams.SOLVERS if s != "auto")
INT_DTYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
FLOAT_DTYPES = {"<f8": np.float64, "float64": np.float64, "<f4": np.float32,
                 "float32": np.float32}
#: JSON types a saved hyper-parameter may have (lists: class_weight pairs only)
JSON_SCALARS = (type(None), bool, int, float, str)


class ModelFileError(ValueError):
    """A model file is missing, damaged, not a softreg model, or from a newer format."""


def fail(path, message: str) -> ModelFileError:
    return ModelFileError(f"{os.fspath(path)}: not a valid softreg model file: {message}")


def short(value, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def digest(meta: dict, tensors: dict, data) -> str:
    """SHA-256 over the metadata (less the digest), the array descriptions and bytes."""
    described = {k: v for k, v in meta.items() if k != "softreg.sha256"}
    h = hashlib.sha256(b"softreg-model-checksum\0")
    h.update(dumps({"meta": described, "tensors": tensors}).encode("ascii"))
    h.update(b"\0")
    h.update(data)
    return h.hexdigest()


def split_blob(blob: bytes) -> tuple[dict, dict, int]:
    """(metadata, tensor descriptions, data start) of safetensors bytes we just wrote."""
    (n,) = struct.unpack("<Q", blob[:8])
    top = json.loads(blob[8:8 + n])
    return top.pop("__metadata__"), top, 8 + n


def text_ok(s: str) -> bool:
    """A label or name that the file may hold: not too long, no NUL character."""
    return len(s) <= MAX_LABEL_CHARS and "\x00" not in s

