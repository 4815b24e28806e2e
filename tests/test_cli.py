"""The real ``softreg`` command in a subprocess, on real CSV, Parquet and LibSVM files.

Subprocesses start slowly, so each call checks many things; the error matrix is in
test_cli_errors.py (in-process, through the same ``main``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import softreg

SRC = str(Path(__file__).resolve().parents[1] / "src")


def softreg_cli(*args, cwd=None, expect=0):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-m", "softreg", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)  # a hang guard only
    assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def problem(n=240, d=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1, 3, 0.5, 2][:d]
    W = rng.normal(size=(d, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csv")
    X, y = problem()
    names = ["sepal", "petal", "stem", "leaf"]
    train = pd.DataFrame(X, columns=names)
    train["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    train.to_csv(tmp / "train.csv", index=False)
    Xt, yt = problem(n=60, seed=1)
    test = pd.DataFrame(Xt, columns=names)
    # the same features in another order, plus columns the model does not use
    test = test[["leaf", "sepal", "stem", "petal"]]
    test.insert(0, "id", np.arange(60))
    test["species"] = np.array(["setosa", "versicolor", "virginica"])[yt]
    test.to_csv(tmp / "test.csv", index=False)
    return tmp, train, test, names


def test_fit_predict_csv_matches_python_api(csv_files):
    tmp, train, test, names = csv_files
    fit = softreg_cli("fit", tmp / "train.csv", "--target", "species", "-o", tmp / "m.softreg",
                      "--alpha", "0.01", "--json", "--progress")
    summary = json.loads(fit.stdout)  # stdout is pure JSON despite --progress
    assert summary["classes"] == ["setosa", "versicolor", "virginica"]
    assert summary["n_samples"] == 240 and summary["n_features"] == 4
    assert "iter" in fit.stderr and "|grad|" in fit.stderr and "loss" in fit.stderr

    reference = softreg.SoftmaxRegression(alpha=0.01).fit(train[names], train["species"])
    model = softreg.load(tmp / "m.softreg")
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-10, atol=1e-12)
    assert list(model.feature_names_in_) == names

    pred = softreg_cli("predict", tmp / "m.softreg", tmp / "test.csv", "--proba",
                       "-o", tmp / "pred.csv")
    assert "ignoring columns not used by the model: 'id', 'species'" in pred.stderr
    out = pd.read_csv(tmp / "pred.csv")
    assert list(out.columns) == ["label", "proba_setosa", "proba_versicolor",
                                 "proba_virginica"]
    assert out["label"].tolist() == model.predict(test[names]).tolist()
    np.testing.assert_allclose(out.iloc[:, 1:].to_numpy(), model.predict_proba(test[names]),
                               rtol=1e-14, atol=1e-300)


def test_parquet_with_pandas_index_and_categorical_labels(tmp_path):
    X, y = problem(n=150, d=3, K=3, seed=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"],
                         index=pd.Index(np.arange(1000, 1150), name="row_id"))
    frame["colour"] = pd.Categorical(np.array(["red", "green", "blue"])[y])
    frame = frame.iloc[::-1]  # a non-trivial index, written by pandas as a column
    frame.to_parquet(tmp_path / "train.parquet")
    import pyarrow.parquet as pq

    assert "row_id" in pq.read_schema(tmp_path / "train.parquet").names
    softreg_cli("fit", tmp_path / "train.parquet", "-t", "colour", "-o", tmp_path / "m.softreg")
    model = softreg.load(tmp_path / "m.softreg")
    assert list(model.feature_names_in_) == ["a", "b", "c"]  # the index is not a feature
    ref = softreg.SoftmaxRegression().fit(frame[["a", "b", "c"]], frame["colour"].astype(str))
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-10, atol=1e-12)

    new = frame[["c", "a", "b"]].iloc[:20]
    new.to_parquet(tmp_path / "new.parquet")
    proc = softreg_cli("predict", tmp_path / "m.softreg", tmp_path / "new.parquet", "--json",
                       "--proba")
    assert proc.stderr == ""  # no progress bar: stderr is not a terminal
    doc = json.loads(proc.stdout)
    assert doc["labels"] == model.predict(new[["a", "b", "c"]]).tolist()
    np.testing.assert_allclose(doc["probabilities"], model.predict_proba(new[["a", "b", "c"]]),
                               rtol=1e-14)


def test_libsvm_fit_evaluate_report(tmp_path):
    from sklearn.datasets import dump_svmlight_file

    X, y = problem(n=200, d=4, K=3, seed=3)
    X[np.abs(X) < 0.7] = 0  # sparse rows
    dump_svmlight_file(X[:150], y[:150] + 1, str(tmp_path / "train.svm"), zero_based=False)
    dump_svmlight_file(X[150:], y[150:] + 1, str(tmp_path / "test.svm"), zero_based=False)
    softreg_cli("fit", tmp_path / "train.svm", "-o", tmp_path / "m.softreg", "--alpha", "0.05",
                "--standardize")
    model = softreg.load(tmp_path / "m.softreg")
    assert list(model.classes_) == [1, 2, 3]
    # --standardize scales sparse columns by their root mean square; the saved model is the
    # same function of the raw features
    scale = np.sqrt((X[:150] ** 2).mean(axis=0))
    ref = softreg.SoftmaxRegression(alpha=0.05).fit(X[:150] / scale, y[:150] + 1)
    np.testing.assert_allclose(model.predict_proba(X[150:]), ref.predict_proba(X[150:] / scale),
                               rtol=1e-9)

    proc = softreg_cli("evaluate", tmp_path / "m.softreg", tmp_path / "test.svm",
                       "--report", tmp_path / "report", "--json")
    metrics = json.loads(proc.stdout)["metrics"]
    from sklearn.metrics import accuracy_score, log_loss

    proba = model.predict_proba(X[150:])
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y[150:] + 1,
                                                               model.predict(X[150:])))
    assert metrics["log_loss"] == pytest.approx(log_loss(y[150:] + 1, proba), rel=1e-9)
    files = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert files == ["calibration.png", "confusion_matrix.png", "index.html", "loss_curve.png",
                     "metrics.json"]
    import matplotlib.image

    for name in ("calibration.png", "confusion_matrix.png", "loss_curve.png"):
        data = (tmp_path / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        img = matplotlib.image.imread(tmp_path / "report" / name)
        assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
        assert img[..., :3].std() > 0.05  # not blank
    html = (tmp_path / "report" / "index.html").read_text()
    for name in files:
        if name != "index.html":
            assert f'"{name}"' in html
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["metrics"] == metrics


def test_inspect_and_export(csv_files):
    tmp, train, test, names = csv_files
    if not (tmp / "m.softreg").exists():
        softreg.save(softreg.SoftmaxRegression(alpha=0.01).fit(train[names], train["species"]),
                     tmp / "m.softreg")
    model = softreg.load(tmp / "m.softreg")
    info = json.loads(softreg_cli("inspect", tmp / "m.softreg", "--json", "--top", "3").stdout)
    assert info["classes"] == ["setosa", "versicolor", "virginica"]
    assert info["feature_names"] == names and info["format_version"] == "1.0"
    assert info["params"]["alpha"] == 0.01
    top = info["largest_coefficients"]
    assert len(top) == 3 and abs(top[0]["coef"]) == np.abs(model.coef_).max()

    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    softreg_cli("export", tmp / "m.softreg", tmp / "m.onnx")
    sess = ort.InferenceSession(str(tmp / "m.onnx"), providers=["CPUExecutionProvider"])
    Xt = test[names].to_numpy(dtype=np.float32)
    labels, proba = sess.run(None, {"X": Xt})
    np.testing.assert_allclose(proba, model.predict_proba(test[names]), atol=1e-5)
    assert labels.tolist() == model.predict(test[names]).tolist()


def test_errors_are_one_line_with_exit_codes(tmp_path):
    proc = softreg_cli("fit", tmp_path / "nope.csv", "-t", "y", "-o", tmp_path / "m",
                       expect=1)
    assert proc.stderr.count("\n") == 1 and "no such file" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    proc = softreg_cli("fit", "--alpha", "-3", "data.csv", expect=2)
    assert proc.stderr.count("\n") == 1 and "--alpha" in proc.stderr
    # the rest of the error matrix runs in-process: test_cli_errors.py


def test_demo_writes_a_report_and_its_model_predicts(tmp_path):
    proc = softreg_cli("demo", "--json", cwd=tmp_path)
    summary = json.loads(proc.stdout)
    out = tmp_path / "softreg-demo"
    assert summary["dataset"] == "digits" and summary["test_accuracy"] > 0.9
    assert {"model.softreg", "train.csv", "test.csv", "report/index.html",
            "report/confusion_matrix.png", "report/calibration.png", "report/loss_curve.png",
            "report/metrics.json"} <= set(summary["files"])
    model = softreg.load(out / "model.softreg")
    test = pd.read_csv(out / "test.csv")
    accuracy = float(np.mean(model.predict(test.drop(columns="label")) == test["label"]))
    assert accuracy == pytest.approx(summary["test_accuracy"])
    assert [p.name for p in tmp_path.iterdir()] == ["softreg-demo"]  # no temporary left


def test_fit_dask_on_a_folder_of_parquet_files_equals_the_in_memory_fit(tmp_path):
    pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    folder = tmp_path / "parts"
    folder.mkdir()
    frames = []
    for i in range(3):
        X = rng.normal(size=(200, 3))
        y = np.array(["a", "b", "c"])[np.argmax(X @ rng.normal(size=(3, 3))
                                                + rng.gumbel(size=(200, 3)), axis=1)]
        frame = pd.DataFrame(X, columns=["f1", "f2", "f3"]).assign(label=y)
        frame.to_parquet(folder / f"part{i}.parquet")
        frames.append(frame)
    out = softreg_cli("fit", folder, "--target", "label", "--dask", "--alpha", "0.01",
                      "--json", "-o", tmp_path / "m.softreg")
    summary = json.loads(out.stdout)
    assert summary["stop_reason"] == "converged"
    model = softreg.load(tmp_path / "m.softreg")
    data = pd.concat(frames, ignore_index=True)
    ref = softreg.SoftmaxRegression(alpha=0.01).fit(data[["f1", "f2", "f3"]], data["label"])
    np.testing.assert_allclose(model.predict_proba(data[["f1", "f2", "f3"]]),
                               ref.predict_proba(data[["f1", "f2", "f3"]]), atol=1e-6)
    bad = softreg_cli("fit", folder, "--target", "label", "--dask", "--standardize",
                      "-o", tmp_path / "n.softreg", expect=2)
    assert "cannot be combined with --dask" in bad.stderr
    assert not (tmp_path / "n.softreg").exists()
