"""to_onnx and the skl2onnx converter, checked in onnxruntime against predict_proba."""

import numpy as np
import pytest

import softreg

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


def session(onx):
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def problem(K, n=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.array([1, 10, 0.1, 3, 1])[:d]
    y = np.argmax(X @ rng.normal(size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def away_from_ties(model, X, gap=1e-4):
    P = np.sort(model.predict_proba(X), axis=1)
    return P[:, -1] - P[:, -2] > gap


@pytest.mark.parametrize("K, labels", [
    (2, None), (3, None), (5, ["a", "b", "c", "d", "e"]), (2, [False, True]), (3, [-4, 7, 9]),
])
def test_onnxruntime_reproduces_predict_proba(K, labels):
    X, y = problem(K)
    y = np.asarray(labels)[y] if labels is not None else y
    model = softreg.SoftmaxRegression(alpha=1e-3).fit(X, y)
    labels_out, proba = session(softreg.to_onnx(model)).run(None, {"X": X.astype(np.float32)})
    assert proba.dtype == np.float32 and proba.shape == (len(X), K)
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    ok = away_from_ties(model, X)
    expected = model.predict(X)
    if model.classes_.dtype == bool:
        expected = expected.astype(np.int64)
    assert labels_out[ok].tolist() == expected[ok].tolist()


def test_float64_graph_is_exact_to_rounding():
    X, y = problem(3)
    model = softreg.SoftmaxRegression().fit(X, y)
    onx = softreg.to_onnx(model, dtype=np.float64)
    labels, proba = session(onx).run(None, {"X": X})
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-12, atol=1e-15)
    assert (labels == model.predict(X)).all()
    assert [o.name for o in onx.graph.output] == ["label", "probabilities"]
    assert [i.name for i in onx.graph.input] == ["X"]


def test_pipeline_converts_through_the_registered_converter():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = problem(4)
    pipe = make_pipeline(StandardScaler(), softreg.SoftmaxRegression(alpha=1e-2)).fit(
        X, np.array(["w", "x", "y", "z"])[y])
    labels, proba = session(softreg.to_onnx(pipe)).run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=1e-5)
    ok = away_from_ties(pipe, X)
    assert labels[ok].tolist() == pipe.predict(X)[ok].tolist()
    # skl2onnx's own entry point, with its default ZipMap output
    softreg.register_onnx_converter()
    onx = skl2onnx.to_onnx(pipe, X[:1].astype(np.float32))
    lab, maps = session(onx).run(None, {"X": X[:3].astype(np.float32)})
    assert lab.tolist() == pipe.predict(X[:3]).tolist()
    assert maps[0]["w"] == pytest.approx(pipe.predict_proba(X[:1])[0, 0], abs=1e-5)


def test_refuses_unfitted_and_fractional_labels():
    with pytest.raises(ValueError, match="fitted"):
        softreg.to_onnx(softreg.SoftmaxRegression())
    X, y = problem(2)
    model = softreg.SoftmaxRegression().fit(X, y * 1.0)
    model.classes_ = np.array([0.5, 1.5])
    with pytest.raises(ValueError, match="strings or integers"):
        softreg.to_onnx(model)
