"""Reading a model file safely: only regular files, bounded header parsing, declared sizes
checked against the file's before the arrays are read, checksum, array decoding; the result
is :class:`ModelData` (plain data, no estimator)."""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from dataclasses import dataclass

import numpy as np

from . import _hyperparams, _model_extra
from . import _model_format as fmt
from ._model_header import check_header


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


def guarded(path, work):
    """Run ``work``; resource exhaustion becomes a fmt.ModelFileError."""
    try:
        return work()
    except MemoryError:
        raise fmt.ModelFileError(f"{os.fspath(path)}: not enough memory to load the model "
                             "file") from None
    except RecursionError:
        raise fmt.fail(path, "nested too deeply") from None


def read_file(path):
    name = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise fmt.ModelFileError(f"{name}: no such model file") from None
    except OSError as e:
        raise fmt.ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    _check_regular(name, st.st_mode)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open does not block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise fmt.ModelFileError(f"{name}: no such model file") from None
    except OSError as e:
        raise fmt.ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        _check_regular(name, st.st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return verified(fh, st.st_size, path)
    except OSError as e:
        raise fmt.ModelFileError(f"{name}: cannot read the model file: {e.strerror or e}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _check_regular(name: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise fmt.ModelFileError(f"{name}: is a folder, not a model file")
    if not stat.S_ISREG(mode):
        what = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise fmt.ModelFileError(f"{name}: is {what}, not a model file; model files are regular "
                             "files")


def verified(fh, size: int, path) -> ModelData:
    header, arrays, meta = _read_stream(fh, size, path)
    classes, params = check_header(header, arrays, path)
    header = dict(header)
    header["extra"] = _model_extra.checked_extra(header.get("extra", {}),
                                                 header["n_features"], path)
    return ModelData({**header, "format_version": meta["format_version"]}, classes, params,
                     arrays["coef"], arrays["intercept"], arrays["loss_curve"])


def _read_exactly(fh, n: int, path) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise fmt.fail(path, "the file changed while being read")
    return data


def _read_stream(fh, size: int, path) -> tuple[dict, dict[str, np.ndarray], dict]:
    """Read and verify a model file from the binary stream ``fh`` of ``size`` bytes."""
    if size < 8:
        raise fmt.fail(path, f"the file has only {size} bytes")
    (n,) = struct.unpack("<Q", _read_exactly(fh, 8, path))
    if n < 2 or n > fmt.MAX_HEADER_BYTES or n > size - 8:
        raise fmt.fail(path, f"the header length {n} does not fit the file of {size} "
                             "bytes (truncated, or not a model file)")
    text = _read_exactly(fh, n, path)
    top = _parse_outer(text, path)
    meta = top.pop("__metadata__")
    data_size = _check_layout(path, top)
    if size != 8 + n + data_size:
        raise fmt.fail(path, f"the file has {size} bytes but its header declares "
                             f"{8 + n + data_size} (8 + {n} of header + {data_size} of arrays): "
                             "truncated, padded, or not a model file")
    data = _read_exactly(fh, data_size, path)
    if fh.read(1):
        raise fmt.fail(path, "the file changed while being read")
    if meta.get("softreg.sha256") != fmt.digest(meta, top, data):
        raise fmt.fail(path, "checksum mismatch: the file is damaged or was altered")
    arrays = _decode_arrays(struct.pack("<Q", n) + text + data, path, top)
    try:
        header = _strict_json(meta.get("softreg.header", ""))
    except RecursionError:
        raise fmt.fail(path, "malformed model header: nested too deeply") from None
    except ValueError as e:
        raise fmt.fail(path, f"malformed model header: {e}") from None
    if not isinstance(header, dict):
        raise fmt.fail(path, "the model header is not a JSON object")
    return header, arrays, meta


def _parse_outer(text: bytes, path) -> dict:
    """The outer safetensors header as a dict, its __metadata__ checked."""
    if not text.startswith(b"{"):
        raise fmt.fail(path, "the header is not a JSON object (not a safetensors file)")
    check_json_size(text, path)
    try:
        top = _strict_json(text.decode("utf-8").rstrip(" "))
    except RecursionError:
        raise fmt.fail(path, "malformed header: nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise fmt.fail(path, f"malformed header: {e}") from None
    if not isinstance(top, dict) or not isinstance(top.get("__metadata__"), dict):
        raise fmt.fail(path, "the header has no __metadata__ object")
    meta = top["__metadata__"]
    if not all(isinstance(v, str) for v in meta.values()):
        raise fmt.fail(path, "__metadata__ values must be strings")
    if meta.get("format") != fmt.FORMAT_NAME:
        raise fmt.fail(path, f"format is {fmt.short(meta.get('format'))}, expected "
                             f"{fmt.FORMAT_NAME!r}")
    _check_version(path, meta.get("format_version"))
    if set(top) != {"__metadata__", *fmt.TENSORS}:
        found = sorted(k for k in top if k != "__metadata__")
        raise fmt.fail(path, f"expected the arrays {list(fmt.TENSORS)}, found "
                             f"{fmt.short(found[:10])}")
    return top


def check_json_size(text: bytes, path, slack: int = 0) -> None:
    """Bound what parsing ``text`` can allocate: its length, containers and items."""
    if len(text) + slack > fmt.MAX_HEADER_BYTES:
        raise fmt.fail(path, f"the header of {len(text) + slack} bytes is larger than the "
                             f"{fmt.MAX_HEADER_BYTES} accepted")
    containers = text.count(b"{") + text.count(b"[")
    if containers > fmt.MAX_JSON_CONTAINERS:
        raise fmt.fail(path, f"the header holds {containers} JSON objects and arrays, more than "
                             f"the {fmt.MAX_JSON_CONTAINERS} accepted")
    items = text.count(b",")
    if items > fmt.MAX_JSON_ITEMS:
        raise fmt.fail(path, f"the header holds {items} JSON items, more than the "
                             f"{fmt.MAX_JSON_ITEMS} accepted")


def _check_version(path, version) -> None:
    parts = version.split(".") if isinstance(version, str) else []
    if len(parts) != 2 or not all(p.isdigit() and p.isascii() and len(p) < 6 for p in parts):
        raise fmt.fail(path, f"format_version {fmt.short(version)} is not MAJOR.MINOR")
    major = int(parts[0])
    if major > fmt.FORMAT_VERSION[0]:
        raise fmt.ModelFileError(
            f"{os.fspath(path)}: the model file has format version {version}, newer than the "
            f"{fmt.FORMAT_VERSION[0]}.x this softreg reads: upgrade softreg to load it")
    if major < 1:
        raise fmt.fail(path, f"unknown format version {version}")


def _check_layout(path, tensors: dict) -> int:
    """Check every array description; the number of data bytes they declare together."""
    spans = []
    for name in fmt.TENSORS:
        desc = tensors[name]
        if not isinstance(desc, dict) or set(desc) != {"dtype", "shape", "data_offsets"}:
            raise fmt.fail(path, f"array {name!r} needs exactly dtype, shape and data_offsets")
        dtype = desc["dtype"]
        if not isinstance(dtype, str) or dtype not in fmt.DTYPES:
            raise fmt.fail(path, f"array {name!r} has dtype {fmt.short(dtype)}; expected F64 "
                                 "or F32")
        shape = desc["shape"]
        if not (isinstance(shape, list) and len(shape) <= 2
                and all(fmt.is_int(s) and 0 <= s <= fmt.MAX_DATA_BYTES for s in shape)):
            raise fmt.fail(path, f"array {name!r} has invalid shape {fmt.short(shape)}")
        off = desc["data_offsets"]
        if not (isinstance(off, list) and len(off) == 2
                and all(fmt.is_int(o) and 0 <= o <= fmt.MAX_DATA_BYTES for o in off)
                and off[0] <= off[1]):
            raise fmt.fail(path, f"array {name!r} has invalid data_offsets {fmt.short(off)}")
        nbytes = math.prod(shape) * fmt.DTYPES[dtype].itemsize
        if off[1] - off[0] != nbytes:
            raise fmt.fail(path, f"array {name!r} of shape {shape} and dtype {dtype} needs "
                                 f"{nbytes} bytes, but its data_offsets {off} span "
                                 f"{off[1] - off[0]}")
        spans.append((off[0], off[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise fmt.fail(path, f"array {name!r} starts at byte {begin} of the data, expected "
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
        raise fmt.fail(path, f"safetensors cannot read the arrays: {fmt.first_line(e)}") from None
    if set(raw) != set(fmt.TENSORS):
        raise fmt.fail(path, f"expected the arrays {list(fmt.TENSORS)}, found {sorted(raw)}")
    arrays = {}
    for name in fmt.TENSORS:
        a = raw[name]
        if a.dtype.newbyteorder("<") not in fmt.DTYPE_NAMES:
            raise fmt.fail(path, f"array {name!r} has dtype {a.dtype}; expected F64 or F32")
        if tensors is not None and list(a.shape) != tensors[name]["shape"]:
            raise fmt.fail(path, f"array {name!r} decoded with shape {a.shape}")
        arrays[name] = np.array(a, dtype=a.dtype.newbyteorder("="), copy=True)
    return arrays


def _strict_json(text: str):
    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                raise ValueError(f"duplicate key {fmt.short(k, 80)}")
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

