"""Reading the data file formats: CSV/TSV (as text, wide files row-wise), Parquet (Arrow
columns, pandas index columns left out) and LibSVM/svmlight (CSR). A FIFO is read once; a
byte that is not UTF-8 or a bad index is reported with its line."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from pathlib import Path

import numpy as np

from ._base import CLIError, ProgressLine
from ._values import TextColumns

#: files larger than this show a progress line when progress is on
PROGRESS_BYTES = 5_000_000
#: CSV rows parsed per chunk (the progress line advances per chunk)
CSV_CHUNK_ROWS = 200_000
#: CSV files with more columns than this are parsed by the csv module, row by row (pandas
#: spends a fixed time per column, which dominates on wide files with few rows)
WIDE_CSV_COLUMNS = 256


def check_unique(columns: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(columns):
        if c.strip() == "":
            continue
        if c in seen:
            raise CLIError(f"{path}: the column name {c!r} appears twice (columns "
                           f"{seen[c] + 1} and {i + 1}); names must be unique")
        seen[c] = i


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


def read_csv(path: str, progress: bool):
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
        check_unique(header, path)
        start = fh.tell()
        size = fh.seek(0, io.SEEK_END)
        fh.seek(start)
        if len(header) > WIDE_CSV_COLUMNS:
            return header, TextColumns(header, _read_wide_rows(fh, start, sep, header, path))
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
        return header, TextColumns(header, np.empty((0, len(header)), dtype=object))
    frame = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    if frame.shape[1] != len(header):
        raise CLIError(f"{path}: the header line has {len(header)} names but the rows have "
                       f"{frame.shape[1]} fields")
    return header, TextColumns(header, frame.to_numpy(dtype=object))


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


def read_parquet(path: str):
    """(column names, {name: pyarrow ChunkedArray}) without pandas index columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = _source(path)
    if not isinstance(source, str):
        source = pa.BufferReader(source.getvalue())
    try:
        check_unique(list(pq.read_schema(source).names), path)
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


def load_libsvm(path: str, max_features: int, n_features: int | None):
    """(X, labels) of a LibSVM/svmlight file: CSR of shape (n_samples, n_features), labels
    int64 where whole numbers, else float64; a FIFO is read once."""
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
    return X, labels


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

