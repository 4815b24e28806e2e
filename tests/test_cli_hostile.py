"""Hostile and unlucky inputs to the real ``softreg`` console script (issue 15).

Each case runs the installed console script in a subprocess (on this source tree) and
checks the exit status, the one-line error and that no model file is left half-made.
"""

import io
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import softreg
from _cli import run_script, three_class_data
from softreg import model_file as mf


def cli(*args, expect=0, timeout=300):
    proc = run_script(*args, expect=expect, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    X, y = three_class_data(60)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=y)
    frame.to_csv(folder / "train.csv", index=False)
    cli("fit", folder / "train.csv", "--target", "label", "-o", folder / "m.softreg")
    return folder, frame


# -- 1: FIFOs -----------------------------------------------------------------------------------
def test_fifo_model_refused_and_fifo_data_read_once(data, tmp_path):
    folder, frame = data
    fifo = tmp_path / "m.softreg"
    os.mkfifo(fifo)
    out = cli("inspect", fifo, expect=1, timeout=120)
    assert "FIFO" in out.stderr and out.stderr.count("\n") == 1
    pipe = tmp_path / "rows.csv"
    os.mkfifo(pipe)
    text = frame.drop(columns="label").to_csv(index=False)

    def write():
        with open(pipe, "w") as fh:  # blocks until predict opens the pipe
            fh.write(text)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    out = cli("predict", folder / "m.softreg", pipe, timeout=120)
    writer.join(timeout=10)
    expected = softreg.load(folder / "m.softreg").predict(frame[["a", "b", "c"]])
    assert pd.read_csv(io.StringIO(out.stdout))["label"].tolist() == \
        expected.tolist()


# -- 2: a sparse file -------------------------------------------------------------------------
def test_inspect_refuses_a_sparse_6_gib_file_without_reading_it(data, tmp_path):
    folder, _ = data
    path = tmp_path / "big.softreg"
    shutil.copy(folder / "m.softreg", path)
    os.truncate(path, path.stat().st_size + (6 << 30))
    out = cli("inspect", path, expect=1, timeout=120)
    assert "declares" in out.stderr and out.stderr.count("\n") == 1


# -- 3: a wide header -------------------------------------------------------------------------
def test_wide_files_fit_and_predict_matching_columns_by_name(tmp_path):
    rng = np.random.default_rng(1)
    d = 3000
    X = rng.normal(size=(30, d)).round(3)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    names = [f"f{j}" for j in range(d)]
    frame = pd.DataFrame(X, columns=names).assign(y=y)
    frame.to_csv(tmp_path / "wide.csv", index=False)
    cli("fit", tmp_path / "wide.csv", "--target", "y", "--max-iter", "50",
        "-o", tmp_path / "w.softreg")
    shuffled = frame[names[::-1]].assign(extra=1.0)  # reordered, with an unused column
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    out = cli("predict", tmp_path / "w.softreg", tmp_path / "shuffled.csv", "--json")
    model = softreg.load(tmp_path / "w.softreg")
    assert json.loads(out.stdout)["labels"] == model.predict(frame[names]).tolist()


# -- 4: 1e308 in a feature --------------------------------------------------------------------
@pytest.mark.parametrize("flags", [[], ["--json"], ["--standardize"]])
def test_a_huge_feature_value_is_refused_before_fitting(data, tmp_path, flags):
    _, frame = data
    bad = frame.copy()
    bad.loc[5, "b"] = 1e308
    bad.to_csv(tmp_path / "huge.csv", index=False)
    out = cli("fit", tmp_path / "huge.csv", "--target", "label", "-o",
              tmp_path / "m.softreg", *flags, expect=1)
    assert "column 'b', row 6: the value 1e+308 is too large" in out.stderr
    assert not (tmp_path / "m.softreg").exists() and out.stdout == ""


# -- 7, 12: inspect/evaluate on odd but loadable files; terminal escapes ------------------------
def test_inspect_and_evaluate_survive_malformed_extra_and_escape_text(data, tmp_path):
    folder, frame = data
    labels = np.array(["\x1b[2Jred", "green\nFAKE LINE", "blue"])[frame["label"]]
    X = frame[["a", "b", "c"]].rename(columns={"a": "a\x1b]0;title\x07"})
    model = softreg.SoftmaxRegression().fit(X, labels)
    for extra in ({"cli": "x"}, {"cv": {"alphas": [1.0]}},
                  {"inference": {"coef": "x"}}):
        path = tmp_path / "odd.softreg"
        softreg.save(model, path, extra=extra)
        out = cli("inspect", path)
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout
        assert "\\x1b[2Jred" in out.stdout and "green\\nFAKE LINE" in out.stdout
        assert not any(line.startswith("FAKE LINE") for line in out.stdout.splitlines())
        assert "ignoring the malformed extra." in out.stderr
    test = X.assign(label=labels)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = cli("evaluate", tmp_path / "odd.softreg", tmp_path / "test.csv", "--target", "label")
    assert "\x1b" not in out.stdout and "accuracy" in out.stdout


# -- 9, 10, 14: empty inputs, non-UTF-8 rows, LibSVM limits, nan labels ------------------------
def test_empty_inputs_are_reported_not_crashed_on(data, tmp_path):
    folder, frame = data
    frame.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    out = cli("fit", tmp_path / "empty.csv", "--target", "label", "-o", tmp_path / "m.softreg",
              expect=1)
    assert "no data rows" in out.stderr
    frame.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    out = cli("predict", folder / "m.softreg", tmp_path / "empty.parquet", expect=1)
    assert "no data rows" in out.stderr
    (tmp_path / "empty.svm").write_bytes(b"")
    out = cli("fit", tmp_path / "empty.svm", "-o", tmp_path / "m.softreg", expect=1)
    assert "empty" in out.stderr
    (tmp_path / "blank.svm").write_bytes(b"\n\n")
    out = cli("fit", tmp_path / "blank.svm", "-o", tmp_path / "m.softreg", expect=1)
    assert "no data rows" in out.stderr
    assert not (tmp_path / "m.softreg").exists()


def test_bad_bytes_libsvm_limits_and_nan_labels_are_named(data, tmp_path):
    folder, frame = data
    text = frame.to_csv(index=False).encode()
    lines = text.split(b"\n")
    lines[4] = lines[4].replace(b",", b",\xff", 1)  # data row 4
    (tmp_path / "latin.csv").write_bytes(b"\n".join(lines))
    out = cli("fit", tmp_path / "latin.csv", "--target", "label", "-o", tmp_path / "m.softreg",
              expect=1)
    assert "line 5 (data row 4): byte 0xff" in out.stderr, out.stderr
    (tmp_path / "big.svm").write_text("1 1:0.5 1000000000000:1\n")
    out = cli("predict", folder / "m.softreg", tmp_path / "big.svm", expect=1)
    assert "exceeds the model's 3 features" in out.stderr and "--max-features" not in out.stderr
    nan = frame.astype({"label": str})
    nan.loc[3, "label"] = "nan"
    nan.to_csv(tmp_path / "nan.csv", index=False)
    out = cli("fit", tmp_path / "nan.csv", "--target", "label", "-o", tmp_path / "m.softreg",
              expect=1)
    assert "row 4 (line 5): 'nan' is a missing label, not a class" in out.stderr
    assert not (tmp_path / "m.softreg").exists()


# -- 8: Dask errors ---------------------------------------------------------------------------
def test_dask_errors_name_the_file_and_row_without_pages_of_logs(tmp_path):
    pytest.importorskip("distributed")
    rng = np.random.default_rng(4)
    for kind, folder in (("feature", tmp_path / "f"), ("label", tmp_path / "l")):
        folder.mkdir()
        for i in range(3):
            frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"]).assign(
                y=rng.integers(0, 2, 40).astype(float))
            if i == 1:
                frame.loc[6, "b" if kind == "feature" else "y"] = np.nan
            frame.to_parquet(folder / f"part{i}.parquet")
        out = cli("fit", folder, "--target", "y", "--dask", "-o", tmp_path / "m.softreg",
                  expect=1)
        column = "'b'" if kind == "feature" else "'y'"
        assert f"part1.parquet: column {column}, row 7" in out.stderr, out.stderr
        assert len(out.stderr.splitlines()) <= 3 and "distributed." not in out.stderr, out.stderr
        assert not (tmp_path / "m.softreg").exists()


def test_checked_in_model_still_inspects():
    out = cli("inspect", Path(__file__).parent / "data" / "model_v1_0.softreg", "--json")
    info = json.loads(out.stdout)
    assert info["classes"] == ["cat", "dog", "emu"] and info["format_version"] == "1.0"
    assert mf.FORMAT_VERSION_STRING == "1.0"
