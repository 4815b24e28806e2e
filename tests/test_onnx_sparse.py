"""ONNX export of sparse models (L1, elastic net, grouped): onnxruntime against predict_proba,
from the library and from a model file through ``softreg export``."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import softreg

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

SRC = str(Path(__file__).resolve().parents[1] / "src")
SCRIPT = Path(sys.executable).with_name("softreg")


def session(data: bytes):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def problem(K, n=300, d=8, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = np.zeros((d, K))
    W[:3] = 2 * rng.normal(size=(3, K))
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.mark.parametrize("K, params", [
    (3, {"alpha": 0.05, "l1_ratio": 1.0}),
    (3, {"alpha": 0.05, "l1_ratio": 0.5}),
    (4, {"alpha": 0.08, "l1_ratio": 1.0, "grouped": True}),
    (2, {"alpha": 0.05, "l1_ratio": 1.0}),
    (3, {"alpha": 0.02, "l1_ratio": 1.0, "penalty_factor": [0, 1, 1, 1, 2, 2, 2, 2]}),
])
def test_onnxruntime_reproduces_a_sparse_models_probabilities(K, params):
    X, y = problem(K)
    model = softreg.SoftmaxRegression(**params).fit(X, y)
    zero = np.all(model.coef_ == 0, axis=0)
    assert zero.any() and not zero.all()  # a sparse model indeed
    expected = model.predict_proba(X)
    labels, proba = session(softreg.to_onnx(model, dtype=np.float64).SerializeToString()).run(
        None, {"X": X})
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    assert labels.tolist() == model.predict(X).tolist()
    _, proba32 = session(softreg.to_onnx(model).SerializeToString()).run(
        None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba32, expected, rtol=0, atol=1e-6)


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script beside {sys.executable}")
def test_export_of_an_l1_model_file(tmp_path):
    import os

    import pandas as pd

    X, y = problem(3)
    pd.DataFrame(X, columns=[f"f{j}" for j in range(8)]).assign(y=y).to_csv(
        tmp_path / "d.csv", index=False)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONWARNINGS", None)
    for args in (["fit", tmp_path / "d.csv", "-t", "y", "--alpha", "0.05", "--l1-ratio", "1",
                  "-o", tmp_path / "m.softreg"],
                 ["export", tmp_path / "m.softreg", tmp_path / "m.onnx", "--float64"]):
        proc = subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, env=env,
                              timeout=1800, text=True)
        assert proc.returncode == 0, proc.stderr
    model = softreg.load(tmp_path / "m.softreg")
    assert model.l1_ratio == 1.0
    sess = session((tmp_path / "m.onnx").read_bytes())
    name = sess.get_inputs()[0].name
    _, proba = sess.run(None, {name: X})
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(8)])
    np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=0, atol=1e-6)
