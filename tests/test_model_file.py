"""softreg.save / softreg.load: round trips, the checked-in file, and hostile files."""

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import softreg
from softreg import ModelFileError, SoftmaxRegression
from softreg import _model_format as fmt
from softreg import model_file as mf

DATA = Path(__file__).parent / "data"
rng0 = np.random.default_rng(0)
X = rng0.normal(size=(40, 3))
Y_CODES = np.argmax(X @ rng0.normal(size=(3, 3)) + rng0.normal(size=(40, 3)), axis=1)


def fitted(y, X=X, **kw):
    return SoftmaxRegression(alpha=0.1, **kw).fit(X, y)


def assert_same_model(a, b, Xt):
    np.testing.assert_array_equal(a.classes_, b.classes_)
    assert a.classes_.dtype == b.classes_.dtype
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.coef_.dtype == b.coef_.dtype
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    assert a.get_params() == b.get_params()
    assert a.loss_curve_ == b.loss_curve_ and a.n_iter_ == b.n_iter_
    assert a.stop_reason_ == b.stop_reason_


LABELS = {
    "int": Y_CODES + 3,
    "str": np.array(["b", "a", "c"])[Y_CODES],
    "object": np.array(["b", "a", "c"], dtype=object)[Y_CODES],
    "bool": Y_CODES > 0,
    "float": Y_CODES * 2.0 - 1.0,
    "binary-str": np.array(["no", "yes", "yes"])[Y_CODES],
    "uint8": (Y_CODES * 7).astype(np.uint8),
}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_round_trip_keeps_classes_and_predictions(kind, tmp_path):
    model = fitted(LABELS[kind])
    path = tmp_path / "m.softreg"
    softreg.save(model, path)
    assert_same_model(model, softreg.load(path), X)


def test_round_trip_float32_feature_names_and_params(tmp_path):
    frame = pd.DataFrame(X.astype(np.float32), columns=["a", "b", "c"])
    model = SoftmaxRegression(alpha=0.5, solver="gd", learning_rate=0.3, max_iter=5, tol=1e-3,
                              class_weight={0: 2.0, 1: 1.0, 2: 0.5}, random_state=3)
    with pytest.warns(Warning):
        model.fit(frame, Y_CODES)
    path = tmp_path / "m.softreg"
    softreg.save(model, path, extra={"note": "hello", "mean": [1.0, 2.0]})
    back = softreg.load(path)
    assert back.coef_.dtype == np.float32
    assert list(back.feature_names_in_) == ["a", "b", "c"]
    assert back.class_weight == {0: 2.0, 1: 1.0, 2: 0.5}
    assert_same_model(model, back, frame)
    header = mf.read_header(path)
    assert header["extra"] == {"note": "hello", "mean": [1.0, 2.0]}
    assert header["format_version"] == "1.0"


def test_file_is_a_safetensors_file(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model = fitted(LABELS["str"])
    softreg.save(model, tmp_path / "m.softreg")
    arrays = safetensors_numpy.load_file(tmp_path / "m.softreg")
    np.testing.assert_array_equal(arrays["coef"], model.coef_)
    np.testing.assert_array_equal(arrays["intercept"], model.intercept_)


def test_checked_in_file_of_current_version_loads():
    model = softreg.load(DATA / "model_v1_0.softreg")
    expected = json.loads((DATA / "model_v1_0.expected.json").read_text())
    Xn = pd.DataFrame(expected["X"], columns=["height", "weight", "age"])
    assert model.predict(Xn).tolist() == expected["predict"]
    np.testing.assert_allclose(model.predict_proba(Xn), expected["predict_proba"], rtol=1e-12)
    assert list(model.classes_) == ["cat", "dog", "emu"]
    assert mf.read_header(DATA / "model_v1_0.softreg")["format_version"] == mf.FORMAT_VERSION_STRING


def test_save_refuses_unfitted_and_foreign_objects(tmp_path):
    with pytest.raises(ValueError, match="fitted"):
        softreg.save(SoftmaxRegression(), tmp_path / "m")
    with pytest.raises(TypeError, match="SoftmaxRegression"):
        softreg.save({"coef": 1}, tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


# -- hostile files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.softreg"
    softreg.save(fitted(np.array(["x", "y"])[Y_CODES % 2]), path)
    return path.read_bytes()


def load_bytes(data: bytes, tmp_path, name="bad.softreg"):
    path = tmp_path / name
    path.write_bytes(data)
    return softreg.load(path)


def rejected(data: bytes) -> bool:
    try:
        mf._load_bytes(bytes(data))
    except ModelFileError:
        return True
    return False


def test_every_truncation_is_rejected(small_model_bytes, tmp_path):
    assert not rejected(small_model_bytes)
    accepted = [n for n in range(len(small_model_bytes)) if not rejected(small_model_bytes[:n])]
    assert accepted == []
    path = tmp_path / "t.softreg"  # and through real files, at a few lengths
    for n in (0, 1, 7, 8, 9, 100, len(small_model_bytes) // 2, len(small_model_bytes) - 1):
        path.write_bytes(small_model_bytes[:n])
        with pytest.raises(ModelFileError):
            softreg.load(path)


def test_every_single_bit_flip_is_rejected(small_model_bytes, tmp_path):
    data = bytearray(small_model_bytes)
    accepted = []
    for byte in range(len(data)):
        for bit in range(8):
            data[byte] ^= 1 << bit
            if not rejected(data):
                accepted.append((byte, bit))
            data[byte] ^= 1 << bit
    assert accepted == []
    path = tmp_path / "f.softreg"
    for byte in (0, 8, 9, len(data) // 2, len(data) - 1):
        data[byte] ^= 4
        path.write_bytes(data)
        with pytest.raises(ModelFileError):
            softreg.load(path)
        data[byte] ^= 4


def test_random_multi_bit_damage_is_rejected(small_model_bytes, tmp_path):
    rng = np.random.default_rng(1)
    for _ in range(2000):
        data = bytearray(small_model_bytes)
        for pos in rng.integers(0, len(data), size=rng.integers(2, 6)):
            data[pos] ^= 1 << int(rng.integers(8))
        if bytes(data) != small_model_bytes:
            assert rejected(data)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickles_and_other_formats_are_rejected_without_running_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = fitted(Y_CODES)
    candidates = {
        "pickle": pickle.dumps(model),
        "evil pickle": pickle.dumps(_Boom()),
        "npz": b"PK\x03\x04" + b"\0" * 100,
        "text": b"hello, this is not a model\n" * 10,
        "json": json.dumps({"coef": [1, 2]}).encode(),
        "empty": b"",
        "zeros": b"\0" * 64,
    }
    for data in candidates.values():
        with pytest.raises(ModelFileError, match="not a valid softreg model file"):
            load_bytes(data, tmp_path)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(ModelFileError, match="no such model file"):
        softreg.load(tmp_path / "missing.softreg")
    with pytest.raises(ModelFileError, match="folder"):
        softreg.load(tmp_path)


def raw_file(header_text: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header_text)) + header_text + data


def test_malformed_outer_headers(small_model_bytes, tmp_path):
    (n,) = struct.unpack("<Q", small_model_bytes[:8])
    text, data = small_model_bytes[8:8 + n], small_model_bytes[8 + n:]
    cases = {
        "not json": raw_file(b"{not json}", data),
        "duplicate key": raw_file(text.rstrip(b" ")[:-1] + b',"coef":{}}', data),
        "NaN": raw_file(b'{"__metadata__":{"format":"softreg-model"},"x":NaN}'),
        "huge float": raw_file(b'{"__metadata__":{"format":"softreg-model"},"x":1e999}'),
        "list": raw_file(b"[1, 2, 3]"),
        "no metadata": raw_file(b'{"coef":{}}'),
        "header length 2**63": struct.pack("<Q", 2 ** 63) + text + data,
        "header length 0": struct.pack("<Q", 0) + text + data,
        "trailing bytes": small_model_bytes + b"\0" * 8,
        "not utf-8": raw_file(b'{"\xff\xfe": 1}'),
        "deep nesting": raw_file(b'{"__metadata__":' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    }
    for name, blob in cases.items():
        with pytest.raises(ModelFileError):
            load_bytes(blob, tmp_path)
        if name == "duplicate key":
            with pytest.raises(ModelFileError, match="duplicate key"):
                load_bytes(blob, tmp_path)


def parts(model):
    header = mf._model_header(model, None)
    arrays = {"coef": model.coef_, "intercept": model.intercept_,
              "loss_curve": np.asarray(model.loss_curve_, dtype=float)}
    return header, arrays


def test_invariants_are_checked_even_with_a_valid_checksum(tmp_path):
    model = fitted(Y_CODES)
    header, arrays = parts(model)

    def variant(match, edit_header=None, edit_arrays=None):
        h, a = json.loads(json.dumps(header)), dict(arrays)
        if edit_header:
            edit_header(h)
        if edit_arrays:
            edit_arrays(a)
        with pytest.raises(ModelFileError, match=match):
            load_bytes(mf._encode(h, a), tmp_path)
        with pytest.raises(ModelFileError, match=match):  # the checked read refuses it too
            mf.read_checked(tmp_path / "bad.softreg")

    variant("NaN or infinite", edit_arrays=lambda a: a.update(
        coef=np.where(np.eye(3, 3, dtype=bool), np.nan, model.coef_)))
    variant("shape", edit_arrays=lambda a: a.update(coef=model.coef_[:2]))
    variant("shape", edit_header=lambda h: h.update(n_features=4))
    variant("at least 2 classes", edit_header=lambda h: h["classes"].update(values=[0]))
    variant("sorted", edit_header=lambda h: h["classes"].update(values=[2, 1, 0]))
    variant("distinct", edit_header=lambda h: h["classes"].update(values=[1, 1, 2]))
    variant("not all of type int", edit_header=lambda h: h["classes"].update(values=[0, 1, "a"]))
    variant("overflow", edit_header=lambda h: h["classes"].update(dtype="uint8",
                                                                   values=[0, 1, 300]))
    variant("unknown hyper-parameters", edit_header=lambda h: h["params"].update(evil=1))
    variant("invalid hyper-parameters", edit_header=lambda h: h["params"].update(alpha=-1.0))
    variant("hyper-parameter", edit_header=lambda h: h["params"].update(solver=["x"]))
    variant("feature_names", edit_header=lambda h: h.update(feature_names=["a", "a", "b"]))
    variant("estimator", edit_header=lambda h: h.update(estimator="os.system"))
    variant("stop_reason", edit_header=lambda h: h["fit"].update(stop_reason="exploded"))


def test_duplicate_key_and_nan_inside_the_model_header(tmp_path):
    model = fitted(Y_CODES)
    header, arrays = parts(model)
    good = mf._encode(header, arrays)
    for bad_json, match in [
        ('{"estimator":"SoftmaxRegression","estimator":"SoftmaxRegression"}', "duplicate key"),
        ('{"estimator":NaN}', "NaN is not allowed"),
        ('{"alpha":Infinity}', "Infinity is not allowed"),
        ('{"x":' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ]:
        blob = _reencode_meta(good, {"softreg.header": bad_json})
        with pytest.raises(ModelFileError, match=match):
            load_bytes(blob, tmp_path)


def _reencode_meta(blob: bytes, changes: dict) -> bytes:
    """Rewrite metadata entries and recompute the checksum (a forged but consistent file)."""
    (n,) = struct.unpack("<Q", blob[:8])
    top = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = {**top.pop("__metadata__"), **changes}
    meta["softreg.sha256"] = fmt.digest(meta, top, data)
    text = json.dumps({"__metadata__": meta, **top}).encode()
    return raw_file(text, data)


def test_future_major_version_is_refused_and_future_minor_accepted(tmp_path):
    model = fitted(Y_CODES)
    good = mf._encode(*parts(model))
    with pytest.raises(ModelFileError, match="newer than the 1.x .*upgrade softreg"):
        load_bytes(_reencode_meta(good, {"format_version": "2.0"}), tmp_path)
    for bad in ("1", "one.zero", "1.0.0", "-1.0", "0.9"):
        with pytest.raises(ModelFileError, match="format"):
            load_bytes(_reencode_meta(good, {"format_version": bad}), tmp_path)
    assert_same_model(model, load_bytes(_reencode_meta(good, {"format_version": "1.7"}),
                                        tmp_path), X)


def test_absurd_sizes_are_refused_before_allocating(tmp_path):
    model = fitted(Y_CODES)
    header, arrays = parts(model)
    blob = mf._encode(header, arrays)
    (n,) = struct.unpack("<Q", blob[:8])
    top = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    for shape, offsets in [([2 ** 40, 2 ** 40], None), ([3, 3], [0, 2 ** 62]),
                           ([-1, 3], None), ([3, 3, 1], None)]:
        t = json.loads(json.dumps(top))
        t["coef"]["shape"] = shape
        if offsets:
            t["coef"]["data_offsets"] = offsets
        meta = t.pop("__metadata__")
        meta["softreg.sha256"] = fmt.digest(meta, t, data)
        with pytest.raises(ModelFileError, match="shape|offsets"):
            load_bytes(raw_file(json.dumps({"__metadata__": meta, **t}).encode(), data),
                       tmp_path)


# -- atomic saving ----------------------------------------------------------------------------
def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.softreg"
    old = fitted(Y_CODES)
    softreg.save(old, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mf, "_encode", lambda *a: b"partial")
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        softreg.save(fitted(LABELS["int"]), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.softreg"]
    softreg.save(fitted(LABELS["int"]), path)  # replacing works
    assert list(softreg.load(path).classes_) == [3, 4, 5]
    assert [p.name for p in tmp_path.iterdir()] == ["m.softreg"]


def test_save_into_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        softreg.save(fitted(Y_CODES), tmp_path / "nope" / "m.softreg")


def test_read_checked_returns_what_load_builds_from(tmp_path):
    model = fitted(LABELS["str"], X=pd.DataFrame(X, columns=["p", "q", "r"]),
                   class_weight={"a": 2.0, "b": 1.0, "c": 1.0})
    mf.save(model, tmp_path / "m.softreg", extra={"note": 1})
    data = mf.read_checked(tmp_path / "m.softreg")
    back, header = mf.load_with_header(tmp_path / "m.softreg")
    assert data.header == header and header["extra"] == {"note": 1}
    np.testing.assert_array_equal(data.classes, model.classes_)
    np.testing.assert_array_equal(data.coef, model.coef_)
    np.testing.assert_array_equal(data.intercept, model.intercept_)
    assert data.loss_curve.tolist() == model.loss_curve_
    assert data.feature_names == ["p", "q", "r"] and data.n_features == 3
    assert data.params["class_weight"] == {"a": 2.0, "b": 1.0, "c": 1.0}
    assert data.param("alpha") == 0.1 and data.param("grouped") is False
    assert_same_model(model, back, pd.DataFrame(X, columns=["p", "q", "r"]))


def test_light_hyperparameter_check_agrees_with_the_estimator():
    """model files are checked without scikit-learn: the light check must accept and refuse
    exactly what the estimator's own parameter validation does, for every value a file holds."""
    from softreg import _hyperparams

    assert _hyperparams.DEFAULTS == SoftmaxRegression().get_params()
    values = [None, True, False, 0, 1, -1, 2, 5, 2 ** 32 - 1, 2 ** 32, 0.0, 0.5, 1.0, 1.5,
              -0.5, 1e-300, 1e300, 3.0, "auto", "balanced", "lbfgs", "prox_grad", "x", "",
              {}, {1: 2.0}, np.array([1.0, 2.0]), np.array(1.0)]
    for key in set(_hyperparams.DEFAULTS) - {"callback"}:
        for value in values:
            try:
                SoftmaxRegression(**{key: value})._validate_params()
                expected = True
            except (ValueError, TypeError):
                expected = False
            try:
                _hyperparams.check({key: value})
                got = True
            except ValueError:
                got = False
            assert got == expected, (key, value)
