"""Wide CSV headers: reading and matching columns must cost time linear in the file.

Run: ``PYTHONPATH=src python -m benchmarks.wide_csv [--repeats 3] [--quick] [--output PATH]``
Writes ``benchmarks/RESULTS_wide.md`` (not with ``--quick`` unless ``--output``) and prints
the same table.

A CSV file of ``ROWS`` rows and d columns (d = 10^3, 10^4, 10^5) is read the way the
command line reads it:

- ``fit``: every column but the label is a feature (``cli._data.load(path, target=...)``);
- ``predict``: the model's features are matched by name, given in reverse order, so every
  column is looked up (``cli._data.load(path, features=[...])``);
- ``softreg predict`` end to end (a subprocess: start-up, loading a model of d features,
  reading, predicting), for the largest d.

Reported: the median over ``--repeats`` of the wall time, and the time per column. Flat
microseconds per column from 10^3 to 10^5 mean linear cost (a list lookup per column made
this quadratic: hours for 10^6 columns). The machine is shared and noisy: compare the
per-column numbers within one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from softreg.cli import _data

ROWS = 20
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS_wide.md"


def write_file(path: Path, d: int, rows: int = ROWS, seed: int = 0) -> list[str]:
    """A CSV file of ``rows`` x (d features + label); returns the feature names."""
    rng = np.random.default_rng(seed)
    names = [f"feature_{j}" for j in range(d)]
    X = rng.normal(size=(rows, d)).round(4)
    with open(path, "w") as fh:
        fh.write(",".join(names) + ",label\n")
        for i in range(rows):
            fh.write(",".join(map(str, X[i])) + f",{i % 2}\n")
    return names


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(d: int, folder: Path, repeats: int, end_to_end: bool) -> dict:
    path = folder / f"wide_{d}.csv"
    names = write_file(path, d)
    reverse = names[::-1]
    fit_s = _median_time(lambda: _data.load(str(path), target="label", need_target=True),
                         repeats)
    predict_s = _median_time(lambda: _data.load(str(path), features=reverse), repeats)
    row = {"d": d, "mb": path.stat().st_size / 1e6, "fit_s": fit_s, "predict_s": predict_s,
           "cli_s": None}
    if end_to_end:
        import pandas as pd

        import softreg

        ds = _data.load(str(path), target="label", need_target=True)
        model = softreg.SoftmaxRegression(max_iter=5).fit(
            pd.DataFrame(ds.X, columns=names), ds.y)
        softreg.save(model, folder / "wide.softreg")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
        command = [sys.executable, "-m", "softreg", "predict", str(folder / "wide.softreg"),
                   str(path), "-o", str(folder / "out.csv")]
        row["cli_s"] = _median_time(
            lambda: subprocess.run(command, env=env, check=True, capture_output=True),
            repeats)
    return row


def table(rows: list[dict]) -> str:
    lines = ["| columns d | file (MB) | fit: read (s) | fit: µs/column | predict: match by "
             "name (s) | predict: µs/column | `softreg predict` end to end (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cli = "" if r["cli_s"] is None else f"{r['cli_s']:.2f}"
        lines.append(f"| {r['d']:,} | {r['mb']:.2f} | {r['fit_s']:.3f} | "
                     f"{r['fit_s'] / r['d'] * 1e6:.1f} | {r['predict_s']:.3f} | "
                     f"{r['predict_s'] / r['d'] * 1e6:.1f} | {cli} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wide_csv",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="d up to 10^4 (seconds)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [1_000, 3_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = []
    with tempfile.TemporaryDirectory(prefix="softreg-wide-") as work:
        for d in sizes:
            rows.append(measure(d, Path(work), args.repeats, end_to_end=d == sizes[-1]))
            print(f"d={d}: fit read {rows[-1]['fit_s']:.3f} s, predict match "
                  f"{rows[-1]['predict_s']:.3f} s", flush=True)
    text = "\n".join([
        "# Wide CSV headers: time per column", "",
        f"Command: `python -m benchmarks.wide_csv{' --quick' if args.quick else ''} "
        f"--repeats {args.repeats}`; {ROWS} rows; median of {args.repeats}.",
        f"Date: {started}; machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load} at the start (shared machine); Python {platform.python_version()}.", "",
        table(rows), "",
        "Flat µs/column from the smallest to the largest d: reading and matching columns "
        "cost time linear in the file (sets and dictionaries, one vectorised conversion, "
        "the csv module row by row for files wider than "
        f"{_data.WIDE_CSV_COLUMNS} columns).", ""])
    print()
    print(text)
    output = args.output if args.output is not None else (None if args.quick
                                                           else DEFAULT_OUTPUT)
    if output is not None:
        output.write_text(text)
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
