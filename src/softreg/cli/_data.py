"""Loading data files for the command line: CSV, Parquet and LibSVM/svmlight.

The format follows the extension (or --format; ``-`` is standard input, staged to a
temporary file). The readers are in :mod:`._readers`, the value checks in :mod:`._values`.
Tables give named columns: features are chosen by name (never by position), and a Parquet
file's pandas index columns are never features. Every value is checked: a NaN, an infinity,
a missing or unparseable value is reported with its column and row. LibSVM files give a
sparse matrix and their first-column labels.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _readers, _values
from ._base import CLIError, UsageError
from ._readers import WIDE_CSV_COLUMNS  # noqa: F401  (quoted by the wide-CSV benchmark)

CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
LIBSVM_SUFFIXES = (".svm", ".libsvm", ".svmlight")
#: largest LibSVM feature index accepted by default (the model holds d x K numbers)
DEFAULT_MAX_FEATURES = 1_000_000


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
        X, labels = _readers.load_libsvm(path, max_features, n_features)
        return Dataset(X, labels, None, path, "libsvm")
    if need_target and target is None:
        raise UsageError(f"--target COLUMN is needed to read the labels of {path}")
    if kind == "csv":
        columns, raw = _readers.read_csv(path, progress)
    else:
        columns, raw = _readers.read_parquet(path)
    _readers.check_unique(columns, path)
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
    X = _values.feature_matrix(raw, features, n_rows, path, kind)
    y = None if target is None else _values.column_labels(raw[target], target, path, kind)
    s = None
    if weight is not None:
        s = _values.numeric_column(raw[weight], weight, path, kind)
        if np.any(s < 0):
            i = int(np.flatnonzero(s < 0)[0])
            raise CLIError(f"{path}: column {weight!r}, row {i + 1}: a negative sample weight")
    used = set(features) | {target, weight}
    ignored = [c for c in columns if c not in used]
    return Dataset(X, y, list(features), path, kind, ignored, s)


def _names(names, limit: int = 12) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _n_rows(raw, columns) -> int:
    return len(raw[columns[0]]) if columns else 0


# -- labels whatever the file format ----------------------------------------------------------


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
