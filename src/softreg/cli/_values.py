"""Turning the columns a data file gives into numbers and labels, naming the first bad value.

Tables arrive as columns of text (CSV/TSV: :class:`TextColumns`) or of Arrow values
(Parquet). Features become float64 (a missing value, NaN, infinity or text is reported with
its column and row); labels keep a type every format agrees on (:func:`text_labels`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ._base import CLIError

_INT_RE = re.compile(r"^[+-]?\d+$")
_NAN_WORDS = {"nan", "-nan", "+nan"}
_MISSING_WORDS = {"", "na", "n/a", "null", "none", "nat", "<na>", "#n/a"}
_INF_WORDS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_BOOL_WORDS = {"true": True, "false": False}


class TextColumns(Mapping):
    """{column name: column of str values} over one 2-D object array of shape (n, p)."""

    def __init__(self, names: list[str], block: np.ndarray):
        self.names, self.block = names, block
        self.index = {c: i for i, c in enumerate(names)}

    def __getitem__(self, name):
        return self.block[:, self.index[name]]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def feature_matrix(raw, features: list[str], n_rows: int, path: str, kind: str) -> np.ndarray:
    """float64 matrix (n_rows, len(features)); the first bad value is reported."""
    if isinstance(raw, TextColumns):
        import pandas as pd

        # one vectorised conversion of the whole block (no per-column cost)
        block = raw.block[:, [raw.index[c] for c in features]]
        X = np.asarray(pd.to_numeric(block.ravel(order="F"), errors="coerce"),
                       dtype=np.float64).reshape(block.shape, order="F")
        bad_columns = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad_columns.size:  # report it as the per-column path does
            name = features[int(bad_columns[0])]
            numeric_column(raw[name], name, path, kind)
        return np.ascontiguousarray(X)
    X = np.empty((n_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = numeric_column(raw[name], name, path, kind)
    return X


def numeric_column(values, name: str, path: str, kind: str) -> np.ndarray:
    """float64 values of a feature column, or a CLIError naming the first bad value."""
    if kind == "parquet":
        return _numeric_arrow(values, name, path)
    import pandas as pd

    text = np.asarray(values, dtype=object)
    out = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        raw = str(text[i]).strip()
        word = raw.lower()
        if word in _MISSING_WORDS:
            what = "a missing value" + (f" ({raw!r})" if raw else "")
        elif word in _NAN_WORDS:
            what = f"NaN ({raw!r})"
        elif word in _INF_WORDS or np.isinf(out[i]):
            what = f"an infinite value ({raw!r})"
        else:
            what = f"an unparseable value {raw!r} (not a number)"
        raise CLIError(f"{path}: column {name!r}, row {i + 1} (line {i + 2}): {what}; "
                       f"{bad.size} bad value(s) in this column")
    return out


def _numeric_arrow(col, name: str, path: str) -> np.ndarray:
    import pyarrow as pa

    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_decimal(t)):
        sample = next((v for v in col.to_pylist() if v is not None), None)
        raise CLIError(f"{path}: column {name!r} is not numeric (type {t}, e.g. {sample!r}); "
                       "features must be numbers: encode it first, or --ignore it")
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise CLIError(f"{path}: column {name!r}, row {i + 1}: a missing value (null); "
                       f"{col.null_count} missing in this column")
    out = col.to_numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        what = "NaN" if np.isnan(out[i]) else "an infinite value"
        raise CLIError(f"{path}: column {name!r}, row {i + 1}: {what}; "
                       f"{bad.size} bad value(s) in this column")
    return out


def column_labels(values, name: str, path: str, kind: str) -> np.ndarray:
    """Class labels: ints where every label is an integer, else strings (or bools)."""
    if kind == "parquet":
        import pyarrow as pa

        t = values.type
        if values.null_count:
            i = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
            raise CLIError(f"{path}: target column {name!r}, row {i + 1}: a missing label")
        if pa.types.is_dictionary(t):
            values = values.cast(t.value_type)
            t = t.value_type
        arr = np.asarray(values.to_numpy(zero_copy_only=False))
        if pa.types.is_floating(t):
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise CLIError(f"{path}: target column {name!r}, row {bad[0] + 1}: "
                               f"{'NaN' if np.isnan(arr[bad[0]]) else 'an infinite value'}")
            if np.all(arr == np.round(arr)):
                return arr.astype(np.int64)
            return arr
        if pa.types.is_integer(t) or pa.types.is_boolean(t):
            return arr
        return np.array([str(v) for v in arr], dtype=object)
    text = np.array([str(v).strip() for v in values], dtype=object)
    empty = np.flatnonzero(text == "")
    if empty.size:
        i = int(empty[0])
        raise CLIError(f"{path}: target column {name!r}, row {i + 1} (line {i + 2}): "
                       "a missing label")
    nan = np.flatnonzero([v.lower() in _NAN_WORDS for v in text])
    if nan.size:
        i = int(nan[0])
        raise CLIError(f"{path}: target column {name!r}, row {i + 1} (line {i + 2}): "
                       f"{text[i]!r} is a missing label, not a class")
    return text_labels(text)


def match_labels(y: np.ndarray, classes: np.ndarray, path: str) -> np.ndarray:
    """y converted to the type of the model's classes; unknown labels are an error."""
    if classes.dtype.kind in "OUS":
        y = np.array([str(v) for v in y], dtype=object)
    elif classes.dtype == bool and y.dtype != bool:
        words = {"true": True, "false": False, "1": True, "0": False}
        bad = [v for v in y.tolist() if str(v).lower() not in words]
        if bad:
            raise CLIError(f"{path}: the model's classes are True/False; got label {bad[0]!r}")
        y = np.array([words[str(v).lower()] for v in y.tolist()], dtype=bool)
    elif y.dtype == object:
        try:
            y = np.array([int(v) if classes.dtype.kind in "iu" else float(v) for v in y])
        except ValueError:
            raise CLIError(f"{path}: the labels are text but the model's classes are "
                           f"numbers {classes[:5].tolist()}") from None
    known = set(classes.tolist())
    unknown = sorted({v for v in y.tolist() if v not in known}, key=str)
    if unknown:
        raise CLIError(f"{path}: labels the model does not know: {unknown[:5]}"
                       f"{' ...' if len(unknown) > 5 else ''} (its classes: "
                       f"{classes[:10].tolist()})")
    return y


def text_labels(text: np.ndarray) -> np.ndarray:
    """Labels read as text (CSV/TSV) typed as a Parquet or LibSVM file would give them.

    Whole numbers ("6", "6.0", "1e3") become int64, other finite numbers float64,
    True/False (any case) bool, and anything else stays text; so the same data gives the
    same classes from any file format.

    Parameters
    ----------
    text : ndarray of str of shape (n_samples,)
        Stripped, non-empty labels.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if len(text) == 0:
        return text
    if all(_INT_RE.match(v) for v in text):
        return np.array([int(v) for v in text], dtype=np.int64)
    words = {v.lower() for v in text}
    if words <= set(_BOOL_WORDS):
        return np.array([_BOOL_WORDS[v.lower()] for v in text], dtype=bool)
    try:
        values = np.array([float(v) for v in text], dtype=np.float64)
    except ValueError:
        return text
    if not np.all(np.isfinite(values)):
        return text
    if np.all(values == np.round(values)) and np.all(np.abs(values) < 2.0**63):
        return values.astype(np.int64)
    return values

