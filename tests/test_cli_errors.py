"""Bad input to the command line: one line on stderr, exit 2 (usage) or 1, no file left.

These call ``softreg.cli.main`` in-process (the subprocess path is in test_cli.py).
"""

import json

import numpy as np
import pandas as pd
import pytest

import softreg
from softreg.cli import main
from softreg.cli._base import ProgressLine, show_progress


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys, code, *argv, match=None):
    got, out, err = run(capsys, *argv)
    assert got == code, (got, out, err)
    assert err.count("\n") == 1 and err.startswith("softreg"), err
    assert "Traceback" not in err
    if match is not None:
        assert match in err, err
    return err


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["y"] = np.where(frame["a"] + rng.normal(size=60) > 0, "up", "down")
    frame.to_csv(tmp_path / "ok.csv", index=False)
    return tmp_path, frame


def write_csv(path, text):
    path.write_text(text)
    return path


def test_usage_errors_exit_2(capsys, data):
    tmp, _ = data
    fails(capsys, 2, match="required")
    fails(capsys, 2, "frobnicate", match="invalid choice")
    fails(capsys, 2, "fit", tmp / "ok.csv", "-t", "y", match="-o/--output")
    fails(capsys, 2, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m", "--alpha", "nan",
          match="finite")
    fails(capsys, 2, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m", "--max-iter", "0",
          match="--max-iter")
    fails(capsys, 2, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m", "--solver", "adam",
          match="invalid choice")
    fails(capsys, 2, "fit", tmp / "data.xlsx", "-t", "y", "-o", tmp / "m", match="extension")
    fails(capsys, 2, "fit", tmp / "ok.csv", "-o", tmp / "m", match="--target")
    fails(capsys, 2, "export", tmp / "m", tmp / "m.txt", match=".onnx")
    assert sorted(p.name for p in tmp.iterdir()) == ["ok.csv"]
    assert run(capsys, "--version")[0] == 0
    code, out, _ = run(capsys, "fit", "--help")
    assert code == 0 and "--target" in out


def test_missing_duplicated_target_and_single_class(capsys, data):
    tmp, frame = data
    model = tmp / "m.softreg"
    fails(capsys, 1, "fit", tmp / "missing.csv", "-t", "y", "-o", model, match="no such file")
    fails(capsys, 1, "fit", tmp / "ok.csv", "-t", "label", "-o", model,
          match="no column named 'label'")
    write_csv(tmp / "dup.csv", "a,y,b,y\n1,up,2,down\n3,down,4,up\n")
    fails(capsys, 1, "fit", tmp / "dup.csv", "-t", "y", "-o", model,
          match="'y' appears twice (columns 2 and 4)")
    one = frame.assign(y="up")
    one.to_csv(tmp / "one.csv", index=False)
    fails(capsys, 1, "fit", tmp / "one.csv", "-t", "y", "-o", model, match="single class")
    write_csv(tmp / "empty.csv", "")
    fails(capsys, 1, "fit", tmp / "empty.csv", "-t", "y", "-o", model, match="empty")
    write_csv(tmp / "nolabel.csv", "a,y\n1,up\n2,\n")
    fails(capsys, 1, "fit", tmp / "nolabel.csv", "-t", "y", "-o", model,
          match="row 2 (line 3): a missing label")
    assert not model.exists()


@pytest.mark.parametrize("value, what", [
    ("nan", "NaN ('nan')"), ("inf", "an infinite value ('inf')"),
    ("-Infinity", "an infinite value"), ("", "a missing value"), ("NA", "a missing value"),
    ("1.2.3", "an unparseable value '1.2.3'"), ("1e999", "an infinite value"),
])
def test_bad_values_name_column_row_and_kind(capsys, tmp_path, value, what):
    write_csv(tmp_path / "d.csv", f"a,b,y\n1,2,u\n3,4,v\n5,{value},u\n7,8,v\n")
    err = fails(capsys, 1, "fit", tmp_path / "d.csv", "-t", "y", "-o", tmp_path / "m.softreg")
    assert "column 'b', row 3 (line 4)" in err and what in err
    assert not (tmp_path / "m.softreg").exists()


def test_parquet_null_nan_and_text_features(capsys, tmp_path):
    base = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": ["u", "v", "u", "v"]})
    base.assign(b=[1.0, None, 2.0, 3.0]).to_parquet(tmp_path / "null.parquet")
    fails(capsys, 1, "fit", tmp_path / "null.parquet", "-t", "y", "-o", tmp_path / "m",
          match="column 'b', row 2: a missing value (null)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "b": [1.0, float("nan"), 2.0],
                             "y": ["u", "v", "u"]}), tmp_path / "nan.parquet")
    fails(capsys, 1, "fit", tmp_path / "nan.parquet", "-t", "y", "-o", tmp_path / "m",
          match="column 'b', row 2: NaN")
    base.assign(b=["x", "y", "z", "w"]).to_parquet(tmp_path / "text.parquet")
    fails(capsys, 1, "fit", tmp_path / "text.parquet", "-t", "y", "-o", tmp_path / "m",
          match="column 'b' is not numeric")
    # --ignore drops it
    assert run(capsys, "fit", tmp_path / "text.parquet", "-t", "y", "--ignore", "b",
               "-o", tmp_path / "m.softreg")[0] == 0
    assert list(softreg.load(tmp_path / "m.softreg").feature_names_in_) == ["a"]


def test_predict_columns_missing_extra_reordered(capsys, data):
    tmp, frame = data
    assert run(capsys, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m.softreg")[0] == 0
    model = softreg.load(tmp / "m.softreg")
    frame[["b", "a"]].to_csv(tmp / "missing.csv", index=False)
    fails(capsys, 1, "predict", tmp / "m.softreg", tmp / "missing.csv", "-o", tmp / "out.csv",
          match="lacks the feature columns 'c'")
    assert not (tmp / "out.csv").exists()
    shuffled = frame[["c", "y", "a", "b"]].assign(extra=1.0)
    shuffled.to_csv(tmp / "shuffled.csv", index=False)
    code, out, err = run(capsys, "predict", tmp / "m.softreg", tmp / "shuffled.csv", "--json",
                         "--proba")
    assert code == 0 and "ignoring columns not used by the model: 'y', 'extra'" in err
    doc = json.loads(out)
    assert doc["labels"] == model.predict(frame[["a", "b", "c"]]).tolist()
    np.testing.assert_allclose(doc["probabilities"], model.predict_proba(frame[["a", "b", "c"]]))
    # a named model cannot read positional-only data the other way round
    from sklearn.datasets import dump_svmlight_file

    dump_svmlight_file(frame[["a", "b", "c"]].to_numpy(), (frame["y"] == "up").astype(int),
                       str(tmp / "d.svm"), zero_based=False)
    assert run(capsys, "fit", tmp / "d.svm", "-o", tmp / "pos.softreg")[0] == 0
    fails(capsys, 1, "predict", tmp / "pos.softreg", tmp / "ok.csv",
          match="without feature names")
    fails(capsys, 1, "evaluate", tmp / "m.softreg", tmp / "ok.csv", "-t", "nope",
          match="no column named 'nope'")
    frame.assign(y="sideways").to_csv(tmp / "unknown.csv", index=False)
    fails(capsys, 1, "evaluate", tmp / "m.softreg", tmp / "unknown.csv", "-t", "y",
          "--report", tmp / "rep", match="labels the model does not know: ['sideways']")
    assert not (tmp / "rep").exists()


def test_libsvm_huge_index_and_too_wide_for_model(capsys, tmp_path):
    (tmp_path / "huge.svm").write_text("1 1:0.5 3:1\n2 2:1 1000000000000:1\n1 1:1\n")
    fails(capsys, 1, "fit", tmp_path / "huge.svm", "-o", tmp_path / "m.softreg",
          match="line 2: feature index 1000000000000 exceeds --max-features=1000000")
    (tmp_path / "big.svm").write_text("1 1:0.5 3:1\n2 2:1 2000000:1\n1 1:1\n")
    fails(capsys, 1, "fit", tmp_path / "big.svm", "-o", tmp_path / "m.softreg",
          match="feature index 2000000 (line 2) exceeds --max-features=1000000")
    (tmp_path / "ok.svm").write_text("1 1:0.5 3:1\n2 2:1 3:-1\n1 1:1\n2 2:2\n")
    assert run(capsys, "fit", tmp_path / "ok.svm", "-o", tmp_path / "m.softreg")[0] == 0
    (tmp_path / "wide.svm").write_text("1 1:0.5 7:1\n")
    fails(capsys, 1, "predict", tmp_path / "m.softreg", tmp_path / "wide.svm",
          match="feature index 7 (line 1) exceeds the model's 3 features")
    (tmp_path / "narrow.svm").write_text("1 1:0.5\n2 2:1\n")
    code, out, _ = run(capsys, "predict", tmp_path / "m.softreg", tmp_path / "narrow.svm")
    assert code == 0 and out.splitlines()[0] == "label" and len(out.splitlines()) == 3
    (tmp_path / "junk.svm").write_text("1 1:abc\n")
    fails(capsys, 1, "fit", tmp_path / "junk.svm", "-o", tmp_path / "m2", match="LibSVM")
    fails(capsys, 2, "evaluate", tmp_path / "m.softreg", tmp_path / "ok.svm", "-t", "y",
          match="drop --target")


def test_bad_model_file_and_no_output_left(capsys, data):
    tmp, _ = data
    (tmp / "bad.softreg").write_bytes(b"PK\x03\x04 a zip renamed")
    for argv in (["inspect", tmp / "bad.softreg"],
                 ["predict", tmp / "bad.softreg", tmp / "ok.csv", "-o", tmp / "p.csv"],
                 ["evaluate", tmp / "bad.softreg", tmp / "ok.csv", "-t", "y", "--report",
                  tmp / "report"],
                 ["export", tmp / "bad.softreg", tmp / "m.onnx"]):
        fails(capsys, 1, *argv, match="not a valid softreg model file")
    fails(capsys, 1, "inspect", tmp / "nothing.softreg", match="no such model file")
    assert sorted(p.name for p in tmp.iterdir()) == ["bad.softreg", "ok.csv"]


def test_report_folder_is_not_clobbered(capsys, data):
    tmp, _ = data
    assert run(capsys, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m.softreg")[0] == 0
    (tmp / "precious").mkdir()
    (tmp / "precious" / "thesis.tex").write_text("x")
    fails(capsys, 1, "evaluate", tmp / "m.softreg", tmp / "ok.csv", "-t", "y", "--report",
          tmp / "precious", match="not a softreg report")
    assert [p.name for p in (tmp / "precious").iterdir()] == ["thesis.tex"]
    # an earlier report is replaced whole
    for _ in range(2):
        code, out, _ = run(capsys, "evaluate", tmp / "m.softreg", tmp / "ok.csv", "-t", "y",
                           "--report", tmp / "rep")
        assert code == 0 and "accuracy" in out and "report:" in out
    assert sorted(p.name for p in tmp.iterdir()) == ["m.softreg", "ok.csv", "precious", "rep"]


def test_debug_shows_the_traceback(capsys, data):
    tmp, _ = data
    with pytest.raises(softreg.ModelFileError):
        main(["inspect", str(tmp / "ok.csv"), "--debug"])


def test_warnings_are_one_line_each(capsys, data):
    tmp, _ = data
    code, out, err = run(capsys, "fit", tmp / "ok.csv", "-t", "y", "-o", tmp / "m.softreg",
                         "--solver", "gd", "--max-iter", "2", "--alpha", "0")
    assert code == 0 and "softreg fit: warning: SoftmaxRegression(solver='gd') reached " \
        "max_iter=2" in err
    assert all(line.startswith("softreg fit: warning:") for line in err.splitlines())


def test_progress_only_on_a_terminal_or_when_asked(monkeypatch):
    import argparse
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    ns = argparse.Namespace
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not show_progress(ns(progress=None, json=False))
    assert show_progress(ns(progress=True, json=True))
    monkeypatch.setattr("sys.stderr", Tty())
    assert show_progress(ns(progress=None, json=False))
    assert not show_progress(ns(progress=None, json=True))
    assert not show_progress(ns(progress=False, json=False))
    # not a terminal: only the final state, once
    stream = io.StringIO()
    line = ProgressLine("fit", total=10, stream=stream)
    line.update(5, "iter 5", force=True)
    line.close(10, "iter 10")
    assert stream.getvalue() == "fit " + "\u2501" * 24 + " 100% iter 10\n"
    # a terminal: redrawn in place, ending at 100%
    stream = Tty()
    line = ProgressLine("fit", total=10, stream=stream)
    line.update(5, "iter 5", force=True)
    line.close(10, "iter 10")
    out = stream.getvalue()
    assert " 50%" in out and out.count("\r") >= 2
    assert "100%" in out.split("\r")[-1] and "iter 10" in out.split("\r")[-1]
    # a short job (within the delay) draws nothing
    stream = io.StringIO()
    line = ProgressLine("fit", total=10, stream=stream, delay=1e9)
    line.update(5, "iter 5")
    line.close(10, "iter 10")
    assert stream.getvalue() == ""


def test_csv_index_column_weights_and_parquet_duplicates(capsys, tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(50, 2)), columns=["a", "b"])
    frame["w"] = rng.uniform(0, 3, size=50)
    frame["y"] = np.where(frame["a"] - frame["b"] + rng.normal(size=50) > 0, 1, 0)
    frame.to_csv(tmp_path / "indexed.csv")  # pandas writes its index as an unnamed column
    code, out, err = run(capsys, "fit", tmp_path / "indexed.csv", "-t", "y", "--sample-weight",
                         "w", "-o", tmp_path / "m.softreg", "--json")
    assert code == 0 and "without a name" in err
    model = softreg.load(tmp_path / "m.softreg")
    ref = softreg.SoftmaxRegression().fit(frame[["a", "b"]], frame["y"],
                                          sample_weight=frame["w"])
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-9)
    assert json.loads(out)["training_accuracy"] == pytest.approx(
        ref.score(frame[["a", "b"]], frame["y"], sample_weight=frame["w"]))
    frame.assign(w=-frame["w"]).to_csv(tmp_path / "neg.csv", index=False)
    fails(capsys, 1, "fit", tmp_path / "neg.csv", "-t", "y", "--sample-weight", "w", "-o",
          tmp_path / "n.softreg", match="column 'w', row 1: a negative sample weight")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array([1.0, 2.0]), pa.array(["u", "v"]),
                                  pa.array(["u", "v"])], names=["x", "y", "y"])
    pq.write_table(table, tmp_path / "dup.parquet")
    fails(capsys, 1, "fit", tmp_path / "dup.parquet", "-t", "y", "-o", tmp_path / "d.softreg",
          match="'y' appears twice (columns 2 and 3)")
