"""Reading data files for the command line: CSV, Parquet and LibSVM/svmlight.

The format follows the extension. Tables give named columns: features are chosen by name
(never by position), and a Parquet file's pandas index columns are never features.
Every value is checked: a NaN, an infinity, a missing or unparseable value is reported with
its column and row. LibSVM files give a sparse matrix and their first-column labels.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._base import CLIError, ProgressLine, UsageError

CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
LIBSVM_SUFFIXES = (".svm", ".libsvm", ".svmlight")
#: largest LibSVM feature index accepted by default (the model holds d x K numbers)
DEFAULT_MAX_FEATURES = 1_000_000
#: files larger than this show a progress line when progress is on
PROGRESS_BYTES = 5_000_000
#: CSV rows parsed per chunk (the progress line advances per chunk)
CSV_CHUNK_ROWS = 200_000
#: CSV files with more columns than this are parsed by the csv module, row by row (pandas
#: spends a fixed time per column, which dominates on wide files with few rows)
WIDE_CSV_COLUMNS = 256

_INT_RE = re.compile(r"^[+-]?\d+$")
_NAN_WORDS = {"nan", "-nan", "+nan"}
_MISSING_WORDS = {"", "na", "n/a", "null", "none", "nat", "<na>", "#n/a"}
_INF_WORDS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass
class Dataset:
    """X of shape (n_samples, n_features) (ndarray or CSR), labels y or None, names."""

    X: Any  # ndarray or scipy.sparse CSR
    y: np.ndarray | None
    feature_names: list[str] | None
    path: str
    kind: str  # "csv" | "parquet" | "libsvm"
    ignored: list[str] = field(default_factory=list)
    sample_weight: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]


def data_kind(path: str) -> str:
    name = path.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(LIBSVM_SUFFIXES):
        return "libsvm"
    raise UsageError(f"cannot tell the format of {path!r} from its extension: use "
                     f"{', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES + LIBSVM_SUFFIXES)}")


def load(path: str, *, target: str | None = None, need_target: bool = False,
         features: list[str] | None = None, ignore: tuple = (), progress: bool = False,
         max_features: int = DEFAULT_MAX_FEATURES, n_features: int | None = None,
         weight: str | None = None) -> Dataset:
    """Read a data file.

    Parameters
    ----------
    path : str
    target : str, optional
        Label column of a table (LibSVM files carry their labels on each line).
    need_target : bool
        Fail when the labels are missing.
    features : list of str, optional
        Feature columns by name; default every column but the target, ``ignore`` and
        pandas index columns.
    max_features : int
        Largest LibSVM feature index accepted.
    n_features : int, optional
        Width of a LibSVM matrix (the model's); a larger index is an error.
    weight : str, optional
        Column of non-negative sample weights (tables only).
    """
    kind = data_kind(path)
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a folder, not a data file")
    if kind == "libsvm":
        if target is not None:
            raise UsageError("LibSVM files carry the label first on each line: drop --target")
        if weight is not None:
            raise UsageError("LibSVM files have no weight column: drop --sample-weight")
        if features is not None or ignore:
            raise UsageError("LibSVM files have no column names: drop --features/--ignore")
        return _load_libsvm(path, max_features, n_features)
    if need_target and target is None:
        raise UsageError(f"--target COLUMN is needed to read the labels of {path}")
    if kind == "csv":
        columns, raw = _read_csv(path, progress)
    else:
        columns, raw = _read_parquet(path)
    _check_unique(columns, path)
    column_set = set(columns)  # sets and dicts only: a wide file costs linear time
    if target is not None and target not in column_set:
        if need_target:
            raise CLIError(f"{path}: no column named {target!r} for --target; the columns "
                           f"are {_names(columns)}")
        target = None
    if weight is not None and weight not in column_set:
        raise CLIError(f"{path}: no column named {weight!r} for --sample-weight")
    if weight is not None and weight == target:
        raise UsageError("--sample-weight and --target name the same column")
    drop = set(ignore) | ({target} if target else set()) | ({weight} if weight else set())
    missing = [c for c in ignore if c not in column_set]
    if missing:
        raise CLIError(f"{path}: --ignore names columns that do not exist: {_names(missing)}")
    if features is None:
        # a column without a name (how pandas writes an index to CSV) cannot be matched
        # by name later, so it is never a feature
        features = [c for c in columns if c not in drop and c.strip() != ""]
    else:
        absent = [c for c in features if c not in column_set]
        if absent:
            raise CLIError(f"{path}: the data lacks the feature columns {_names(absent)}")
    if not features:
        raise CLIError(f"{path}: no feature columns left (columns: {_names(columns)})")
    n_rows = _n_rows(raw, columns)
    if n_rows == 0:
        raise CLIError(f"{path}: the file has no data rows (only "
                       f"{'a header' if kind == 'csv' else 'a schema'})")
    X = _feature_matrix(raw, features, n_rows, path, kind)
    y = None if target is None else _labels(raw[target], target, path, kind)
    s = None
    if weight is not None:
        s = _numeric_column(raw[weight], weight, path, kind)
        if np.any(s < 0):
            i = int(np.flatnonzero(s < 0)[0])
            raise CLIError(f"{path}: column {weight!r}, row {i + 1}: a negative sample weight")
    used = set(features) | {target, weight}
    ignored = [c for c in columns if c not in used]
    return Dataset(X, y, list(features), path, kind, ignored, s)


def _names(names, limit: int = 12) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_unique(columns: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(columns):
        if c.strip() == "":
            continue
        if c in seen:
            raise CLIError(f"{path}: the column name {c!r} appears twice (columns "
                           f"{seen[c] + 1} and {i + 1}); names must be unique")
        seen[c] = i


def _n_rows(raw, columns) -> int:
    return len(raw[columns[0]]) if columns else 0


# -- CSV --------------------------------------------------------------------------------------
def _source(path: str):
    """``path`` itself for a regular file, else its bytes read once (a FIFO, a device).

    A pipe cannot be read twice (a second open blocks for a writer that never comes).
    """
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError as e:
        raise CLIError(f"{path}: cannot read the file: {e.strerror or e}") from None
    if regular:
        return path
    with open(path, "rb") as fh:
        return io.BytesIO(fh.read())


class _TextColumns(Mapping):
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


def _read_csv(path: str, progress: bool):
    """(column names, {name: ndarray of str}), every value kept as its text.

    The file is opened once (a FIFO works); a byte that is not UTF-8 is reported with its
    line.
    """
    import pandas as pd

    sep = "\t" if path.lower().endswith(".tsv") else ","
    source = _source(path)
    fh = open(path, "rb") if isinstance(source, str) else source
    with fh:
        first = fh.readline()
        if not first:
            raise CLIError(f"{path}: the file is empty")
        try:
            line = first.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CLIError(f"{path}: line 1 (the header): {_utf8_problem(first, e)}") from None
        try:
            header = next(csv.reader([line], delimiter=sep), [])
        except csv.Error as e:
            raise CLIError(f"{path}: cannot read the header line: {e}") from None
        _check_unique(header, path)
        start = fh.tell()
        size = fh.seek(0, io.SEEK_END)
        fh.seek(start)
        if len(header) > WIDE_CSV_COLUMNS:
            return header, _TextColumns(header, _read_wide_rows(fh, start, sep, header, path))
        bar = ProgressLine(f"load {Path(path).name}", total=size) \
            if progress and size >= PROGRESS_BYTES else None
        chunks = []
        try:
            # the header line fixes the width: a row with more fields is an error, a shorter
            # one has missing values (reported with their row)
            reader = pd.read_csv(fh, sep=sep, header=None, names=list(range(len(header))),
                                 dtype=str, keep_default_na=False, na_filter=False,
                                 chunksize=CSV_CHUNK_ROWS, encoding="utf-8")
            for chunk in reader:
                chunks.append(chunk)
                if bar:
                    bar.update(fh.tell(), f"{fh.tell() / 1e6:.1f} of {size / 1e6:.1f} MB")
        except pd.errors.EmptyDataError:
            chunks = []
        except UnicodeDecodeError:
            raise CLIError(f"{path}: {_find_non_utf8(fh, start)}") from None
        except (pd.errors.ParserError, ValueError) as e:
            # pandas counts lines from the first data line: count the header line too
            message = re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + 1}",
                             _first_line(e))
            raise CLIError(f"{path}: cannot parse the CSV file: {message}") from None
        finally:
            if bar:
                bar.close(size, f"{size / 1e6:.1f} MB")
    if not chunks:
        return header, _TextColumns(header, np.empty((0, len(header)), dtype=object))
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if frame.shape[1] != len(header):
        raise CLIError(f"{path}: the header line has {len(header)} names but the rows have "
                       f"{frame.shape[1]} fields")
    return header, _TextColumns(header, frame.to_numpy(dtype=object))


def _read_wide_rows(fh, start: int, sep: str, header: list[str], path: str) -> np.ndarray:
    """The data rows of a wide CSV file as a 2-D object array of shape (n, len(header))."""
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    rows: list[list[str]] = []
    try:
        for row in csv.reader(text, delimiter=sep):
            if not row:
                continue  # a blank line, as pandas skips them
            if len(row) != len(header):
                raise CLIError(f"{path}: data row {len(rows) + 1} has {len(row)} fields but "
                               f"the header line has {len(header)} names")
            rows.append(row)
    except UnicodeDecodeError:
        text.detach()
        raise CLIError(f"{path}: {_find_non_utf8(fh, start)}") from None
    except csv.Error as e:
        raise CLIError(f"{path}: cannot parse the CSV file: {e}") from None
    text.detach()
    block = np.empty((len(rows), len(header)), dtype=object)
    for i, row in enumerate(rows):
        block[i] = row
    return block


def _utf8_problem(raw: bytes, e: UnicodeDecodeError) -> str:
    return (f"byte 0x{raw[e.start]:02x} at character {e.start + 1} is not UTF-8 text "
            "(save the file as UTF-8)")


def _find_non_utf8(fh, start: int) -> str:
    """Where the first byte that is not UTF-8 text lies, from ``start`` of ``fh``."""
    fh.seek(start)
    for line_no, raw in enumerate(fh, start=2):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return f"line {line_no} (data row {line_no - 1}): {_utf8_problem(raw, e)}"
    return "the file is not UTF-8 text"


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# -- Parquet ----------------------------------------------------------------------------------
def _read_parquet(path: str):
    """(column names, {name: pyarrow ChunkedArray}) without pandas index columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = _source(path)
    if not isinstance(source, str):
        source = pa.BufferReader(source.getvalue())
    try:
        _check_unique(list(pq.read_schema(source).names), path)
        if not isinstance(source, str):
            source.seek(0)
        table = pq.read_table(source)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise CLIError(f"{path}: cannot read the Parquet file: {_first_line(e)}") from None
    names = list(table.column_names)
    meta = table.schema.pandas_metadata or {}
    index_cols = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    columns = [c for c in names if c not in index_cols]
    return columns, {c: table.column(c) for c in columns}


# -- values -----------------------------------------------------------------------------------
def _feature_matrix(raw, features: list[str], n_rows: int, path: str, kind: str) -> np.ndarray:
    """float64 matrix (n_rows, len(features)); the first bad value is reported."""
    if isinstance(raw, _TextColumns):
        import pandas as pd

        # one vectorised conversion of the whole block (no per-column cost)
        block = raw.block[:, [raw.index[c] for c in features]]
        X = np.asarray(pd.to_numeric(block.ravel(order="F"), errors="coerce"),
                       dtype=np.float64).reshape(block.shape, order="F")
        bad_columns = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad_columns.size:  # report it as the per-column path does
            name = features[int(bad_columns[0])]
            _numeric_column(raw[name], name, path, kind)
        return np.ascontiguousarray(X)
    X = np.empty((n_rows, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        X[:, j] = _numeric_column(raw[name], name, path, kind)
    return X


def _numeric_column(values, name: str, path: str, kind: str) -> np.ndarray:
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


def _labels(values, name: str, path: str, kind: str) -> np.ndarray:
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


# -- LibSVM -----------------------------------------------------------------------------------
def _load_libsvm(path: str, max_features: int, n_features: int | None) -> Dataset:
    import scipy.sparse as sp
    from sklearn.datasets import load_svmlight_file

    source = _source(path)  # a FIFO is read once
    limit = n_features if n_features is not None else max_features
    what = (f"the model's {n_features} features" if n_features is not None
            else f"--max-features={max_features}")
    if os.path.getsize(path) == 0 if isinstance(source, str) else not source.getbuffer().nbytes:
        raise CLIError(f"{path}: the file is empty")
    try:
        X, y = load_svmlight_file(source, zero_based=False, dtype=np.float64)
    except (ValueError, RuntimeError, OverflowError) as e:
        where = _find_bad_libsvm_index(source, limit, what)
        if where:
            raise CLIError(f"{path}: {where}") from None
        raise CLIError(f"{path}: cannot parse the LibSVM file (1-based feature indices "
                       f"expected): {_first_line(e)}") from None
    X = sp.csr_matrix(X)
    if X.shape[0] == 0:
        raise CLIError(f"{path}: the file has no data rows")
    width = X.shape[1]
    if width > limit:
        row = int(np.searchsorted(X.indptr, int(np.argmax(X.indices)), side="right"))
        raise CLIError(f"{path}: feature index {width} (line {row}) exceeds {what}")
    if not np.all(np.isfinite(X.data)):
        i = int(np.flatnonzero(~np.isfinite(X.data))[0])
        row = int(np.searchsorted(X.indptr, i, side="right"))
        raise CLIError(f"{path}: row {row}, feature {X.indices[i] + 1}: "
                       f"{'NaN' if np.isnan(X.data[i]) else 'an infinite value'}")
    if not np.all(np.isfinite(y)):
        row = int(np.flatnonzero(~np.isfinite(y))[0]) + 1
        raise CLIError(f"{path}: row {row}: the label is NaN or infinite")
    if n_features is not None and width < n_features:
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))
    labels = y.astype(np.int64) if np.all(y == np.round(y)) else y
    return Dataset(X, labels, None, path, "libsvm")


def _find_bad_libsvm_index(source, limit: int, what: str) -> str | None:
    """Describe the first feature index that is not an integer in [1, limit] (slow path).

    ``source`` is a path or a BytesIO of the file; ``what`` names the limit.
    """
    if isinstance(source, str):
        fh = open(source, encoding="utf-8", errors="replace")
    else:
        source.seek(0)
        fh = io.TextIOWrapper(source, encoding="utf-8", errors="replace")
    with fh:
        for line_no, line in enumerate(fh, start=1):
            for token in line.split("#", 1)[0].split()[1:]:
                key, sep, _ = token.partition(":")
                if not sep or key == "qid":
                    continue
                try:
                    index = int(key)
                except ValueError:
                    return f"line {line_no}: feature index {key!r} is not a whole number"
                if index < 1:
                    return f"line {line_no}: feature index {index} (indices start at 1)"
                if index > limit:
                    return f"line {line_no}: feature index {index} exceeds {what}"
    return None


# -- labels whatever the file format ----------------------------------------------------------
_BOOL_WORDS = {"true": True, "false": False}


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


# -- standard input, --format and --keep ------------------------------------------------------
#: the --format choices and the file name suffix that selects each
FORMATS = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "libsvm": ".libsvm"}
#: DATA or OUT written as this means standard input / standard output
STDIO = "-"


def _format_suffixes(fmt: str) -> tuple[str, ...]:
    return {"csv": (".csv",), "tsv": (".tsv",), "parquet": PARQUET_SUFFIXES,
            "libsvm": LIBSVM_SUFFIXES}[fmt]


@contextmanager
def staged(path: str, fmt: str | None = None, *, keep: bool = False):
    """A path :func:`load` can read for DATA given as ``path`` (``-``: standard input).

    Standard input is copied to a temporary file (it may be read more than once, e.g.
    for ``--keep``), and so is a FIFO when ``keep``; a file whose extension does not name
    ``fmt`` is read through a temporary link named for it. Errors raised inside the
    ``with`` block name ``path`` ("<stdin>" for standard input), never the temporary file.

    Parameters
    ----------
    path : str
        The DATA argument.
    fmt : {"csv", "tsv", "parquet", "libsvm"}, optional
        The --format option: overrides the extension; required for standard input.
    keep : bool
        The file will be read twice (predict --keep).
    """
    stdin = path == STDIO
    if stdin and fmt is None:
        raise UsageError("reading DATA from standard input ('-') needs --format "
                         f"{'|'.join(FORMATS)}")
    fifo = not stdin and keep and _is_fifo(path)
    if not stdin and not fifo and (fmt is None or path.lower().endswith(_format_suffixes(fmt))):
        yield path
        return
    if not stdin and not os.path.lexists(path):
        raise CLIError(f"{path}: no such file")
    if fmt is None:  # a FIFO read twice: copy it, in the format its name says
        fmt = "tsv" if data_kind(path) == "csv" and path.lower().endswith(".tsv") \
            else data_kind(path)
    shown = "<stdin>" if stdin else path
    with tempfile.TemporaryDirectory(prefix="softreg-") as tmp:
        local = os.path.join(tmp, "data" + FORMATS[fmt])
        if stdin or fifo:
            with open(local, "wb") as out, \
                    (open(path, "rb") if fifo else _stdin_bytes()) as src:
                shutil.copyfileobj(src, out, 1 << 20)
        else:
            os.symlink(os.path.abspath(path), local)
        try:
            yield local
        except CLIError as e:
            raise CLIError(str(e).replace(local, shown), e.code) from None


def _is_fifo(path: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


@contextmanager
def _stdin_bytes():
    yield sys.stdin.buffer


def kept_columns(path: str, names: list[str]):
    """The columns ``names`` of the table at ``path`` as text (a pandas DataFrame).

    Values are passed through as written (ids keep their leading zeros); for --keep.
    """
    import pandas as pd

    kind = data_kind(path)
    if kind == "libsvm":
        raise UsageError("--keep needs a table (CSV, TSV or Parquet): LibSVM files have no "
                         "named columns")
    if kind == "parquet":
        import pyarrow.parquet as pq

        have = list(pq.read_schema(path).names)
    else:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            have = next(csv.reader(fh, delimiter=_sep(path)), [])
    absent = [c for c in names if c not in have]
    if absent:
        raise CLIError(f"{path}: --keep names columns that do not exist: {_names(absent)} "
                       f"(the columns are {_names(have)})")
    if kind == "parquet":
        return pq.read_table(path, columns=names).to_pandas()
    return pd.read_csv(path, sep=_sep(path), usecols=names, dtype=str, keep_default_na=False,
                       na_filter=False, encoding="utf-8-sig")[names]


def _sep(path: str) -> str:
    return "\t" if path.lower().endswith(".tsv") else ","
