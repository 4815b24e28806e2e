"""benchmarks.wide_csv: the wide-header benchmark runs and reads its files correctly."""

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
wide = importlib.import_module("benchmarks.wide_csv")


def test_the_benchmark_file_reads_back_as_written(tmp_path):
    names = wide.write_file(tmp_path / "w.csv", 300, rows=4)
    from softreg.cli import _data

    ds = _data.load(str(tmp_path / "w.csv"), target="label", need_target=True)
    ref = pd.read_csv(tmp_path / "w.csv")
    np.testing.assert_array_equal(ds.X, ref[names].to_numpy())
    assert ds.y.tolist() == [0, 1, 0, 1]
    row = wide.measure(300, tmp_path, repeats=1, end_to_end=False)
    assert row["d"] == 300 and row["fit_s"] > 0 and row["cli_s"] is None
    text = wide.table([row])
    assert text.count("\n") == 2 and "| 300 |" in text
