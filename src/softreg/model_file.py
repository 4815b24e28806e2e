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

import json
import os

import numpy as np

from . import _model_format as fmt
from . import _model_reader as reader
from ._atomic import atomic_write
from ._jsonable import plain
from ._model_format import (  # noqa: F401  (the format's public constants, re-exported)
    FORMAT_NAME,
    FORMAT_VERSION,
    FORMAT_VERSION_STRING,
    MAX_CLASSES,
    MAX_HEADER_BYTES,
    MAX_LABEL_CHARS,
    ModelFileError,
)
from ._model_header import check_header
from ._model_reader import ModelData


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
        text = fmt.dumps(header)
        reader.check_json_size(json.dumps(text).encode("ascii"), "<model being saved>", slack=1000)
        native = {k: a.astype(a.dtype.newbyteorder("=")) for k, a in arrays.items()}
        check_header(header, native, "<model being saved>")
    except ModelFileError as e:
        raise ValueError(f"refusing to save a model that could not be loaded: "
                         f"{str(e).split(': not a valid softreg model file: ')[-1]}") from None
    data = _encode(header, arrays)
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def _encode(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of a model file holding ``header`` and ``arrays`` (written by safetensors)."""
    from safetensors.numpy import save as st_save

    arrays = {name: np.ascontiguousarray(arrays[name]) for name in fmt.TENSORS}
    for name, a in arrays.items():
        if a.dtype.newbyteorder("<") not in fmt.DTYPE_NAMES:
            arrays[name] = a.astype("<f8")
    meta = {"format": fmt.FORMAT_NAME, "format_version": fmt.FORMAT_VERSION_STRING,
            "softreg.header": fmt.dumps(header)}
    # the arrays' layout does not depend on the metadata: encode once to learn it
    draft = st_save(arrays, metadata=meta)
    _, tensors, data_start = fmt.split_blob(draft)
    meta["softreg.sha256"] = fmt.digest(meta, tensors, memoryview(draft)[data_start:])
    blob = st_save(arrays, metadata=meta)
    _, tensors_again, _ = fmt.split_blob(blob)
    assert tensors_again == tensors, "safetensors laid the arrays out differently"
    return blob


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
        "extra": {} if extra is None else json.loads(fmt.dumps(extra)),
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
    return reader.guarded(path, lambda: reader.read_file(path))


def _load_bytes(data: bytes, name: str = "<bytes>"):
    """:func:`load` from bytes in memory (for tests and tools)."""
    import io

    stream = io.BytesIO(data)
    return _estimator(reader.guarded(name, lambda: reader.verified(stream, len(data), name)))


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


