"""Hostile and unlucky model files (issue 15): no hang, no memory bomb, no other exception.

The property-based fuzzer itself is tests/fuzz_model_file.py; it runs here in a subprocess
under an address-space limit (RLIMIT_AS) and a time limit.
"""

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import softreg
from softreg import ModelFileError, SoftmaxRegression, _atomic
from softreg import _model_format as fmt
from softreg import _model_reader as reader
from softreg import model_file as mf

HERE = Path(__file__).parent
SRC = str(HERE.parent / "src")
rng0 = np.random.default_rng(3)
X = rng0.normal(size=(40, 3))
CODES = np.argmax(X @ rng0.normal(size=(3, 3)) + rng0.normal(size=(40, 3)), axis=1)


def fitted(y=CODES, **kw):
    return SoftmaxRegression(alpha=0.1, **kw).fit(X, y)


def forged(model, edit_header=None, edit_tensors=None) -> bytes:
    """A model file whose header was edited after the fact, with a valid checksum."""
    header = json.loads(json.dumps(mf._model_header(model, None)))
    arrays = {"coef": model.coef_, "intercept": model.intercept_,
              "loss_curve": np.asarray(model.loss_curve_, dtype=float)}
    blob = mf._encode(header, arrays)
    meta, tensors, start = fmt.split_blob(blob)
    data = blob[start:]
    if edit_header:
        edit_header(header)
        meta["softreg.header"] = json.dumps(header)
    if edit_tensors:
        edit_tensors(tensors)
    meta["softreg.sha256"] = fmt.digest(meta, tensors, data)
    text = json.dumps({"__metadata__": meta, **tensors}).encode()
    return len(text).to_bytes(8, "little") + text + data


# -- the fuzzer, under a memory and a time limit -----------------------------------------------
def test_fuzzed_model_files_end_in_model_file_error_or_a_model():
    pytest.importorskip("hypothesis")
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([sys.executable, "-W", "error", str(HERE / "fuzz_model_file.py"),
                           "300"], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "bombs: 5 refused by their checks" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("fuzz: "))
    n, accepted = (int(w) for w in line.split()[1:4:2])
    assert n == 300 and 0 < accepted < n, line


# -- 1: FIFOs and other non-regular files are refused before open ------------------------------
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "m.softreg"
    os.mkfifo(fifo)
    outcome = {}

    def attempt():
        try:
            softreg.load(fifo)
        except ModelFileError as e:
            outcome["error"] = str(e)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=120)
    if worker.is_alive():  # release the blocked open before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("softreg.load blocked on a FIFO")
    assert "FIFO" in outcome["error"] and "not a model file" in outcome["error"]
    with pytest.raises(ModelFileError, match="device"):
        softreg.load("/dev/zero")


# -- 2: sizes are checked before reading -------------------------------------------------------
def test_a_sparse_file_larger_than_declared_is_refused_before_reading(tmp_path):
    path = tmp_path / "m.softreg"
    softreg.save(fitted(), path)
    size = path.stat().st_size
    os.truncate(path, size + (6 << 30))  # 6 GiB of holes: nothing more on disk
    with pytest.raises(ModelFileError, match=f"the file has {size + (6 << 30)} bytes but its "
                                             f"header declares {size}"):
        softreg.load(path)


def test_long_labels_and_names_are_capped():
    long = "x" * (mf.MAX_LABEL_CHARS + 1)
    with pytest.raises(ModelFileError, match="class label is longer than"):
        mf._load_bytes(forged(fitted(), lambda h: h["classes"].update(
            type="str", dtype="str", values=["a", "b", long])))
    with pytest.raises(ModelFileError, match="feature name is longer than"):
        mf._load_bytes(forged(fitted(), lambda h: h.update(feature_names=["a", "b", long])))
    with pytest.raises(ModelFileError, match="more than"):
        mf._load_bytes(forged(fitted(), lambda h: h["classes"].update(
            values=list(range(mf.MAX_CLASSES + 1)))))


def test_string_labels_load_without_padding_every_label_to_the_longest(monkeypatch):
    labels = np.array(["a", "b" * 1000, "c"])[CODES]
    model = fitted(labels)
    blob = forged(model)
    assert mf._load_bytes(blob).classes_.dtype == np.dtype("<U1000")  # small: kept as str
    monkeypatch.setattr(fmt, "MAX_PADDED_LABEL_BYTES", 1000)
    back = mf._load_bytes(blob)
    assert back.classes_.dtype == object
    assert back.classes_.tolist() == model.classes_.tolist()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_json_structure_is_capped_before_parsing(monkeypatch):
    monkeypatch.setattr(fmt, "MAX_JSON_CONTAINERS", 100)
    with pytest.raises(ModelFileError, match="JSON objects and arrays, more than the 100"):
        mf._load_bytes(forged(fitted(), lambda h: h["extra"].update(x=[{}] * 200)))
    monkeypatch.setattr(fmt, "MAX_JSON_ITEMS", 100)
    with pytest.raises(ModelFileError, match="JSON items, more than the 100"):
        mf._load_bytes(forged(fitted(), lambda h: h["extra"].update(x=[0] * 200)))
    with pytest.raises(ModelFileError, match="digits"):
        mf._load_bytes(forged(fitted(), lambda h: h["extra"].update(x=10 ** 1000)))


def test_memory_errors_become_model_file_errors(tmp_path, monkeypatch):
    path = tmp_path / "m.softreg"
    softreg.save(fitted(), path)

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(reader, "_strict_json", no_memory)
    with pytest.raises(ModelFileError, match="not enough memory"):
        softreg.load(path)


# -- 6: every header field's type -------------------------------------------------------------
@pytest.mark.parametrize("edit", [
    lambda h, t: t["coef"].update(dtype=["F64"]),
    lambda h, t: t["coef"].update(shape="3"),
    lambda h, t: t["coef"].update(data_offsets={"a": 1}),
    lambda h, t: h["classes"].update(type=["int"]),
    lambda h, t: h["classes"].update(dtype={"x": 1}),
    lambda h, t: h["classes"].update(values="abc"),
    lambda h, t: h.update(classes=[1, 2]),
    lambda h, t: h.update(fit=[]),
    lambda h, t: h["fit"].update(stop_reason=["converged"]),
    lambda h, t: h["fit"].update(n_passes="3"),
    lambda h, t: h.update(params=[]),
    lambda h, t: h["params"].update(alpha=[0.1]),
    lambda h, t: h["params"].update(alpha="0.1"),
    lambda h, t: h["params"].update(class_weight=[[0, "1"]]),
    lambda h, t: h["params"].update(class_weight=[[[0], 1.0]]),
    lambda h, t: h.update(feature_names=[1, 2, 3]),
    lambda h, t: h.update(n_features="3"),
    lambda h, t: h.update(library_version={"v": 1}),
    lambda h, t: h.update(extra=[]),
    lambda h, t: h.update(estimator=["SoftmaxRegression"]),
])
def test_a_header_field_of_the_wrong_type_is_a_model_file_error(edit):
    model = fitted()
    header = json.loads(json.dumps(mf._model_header(model, None)))
    # apply the edit to a copy of the header and the tensors in one forged file
    arrays = {"coef": model.coef_, "intercept": model.intercept_,
              "loss_curve": np.asarray(model.loss_curve_, dtype=float)}
    blob = mf._encode(header, arrays)
    meta, tensors, start = fmt.split_blob(blob)
    edit(header, tensors)
    meta["softreg.header"] = json.dumps(header)
    meta["softreg.sha256"] = fmt.digest(meta, tensors, blob[start:])
    text = json.dumps({"__metadata__": meta, **tensors}).encode()
    with pytest.raises(ModelFileError):
        mf._load_bytes(len(text).to_bytes(8, "little") + text + blob[start:])


# -- 11: load refuses what save refuses --------------------------------------------------------
def test_load_refuses_what_save_refuses(tmp_path):
    f32 = fitted(CODES.astype(np.float32) * 2)
    with pytest.raises(ModelFileError, match="not finite values of <f4"):
        mf._load_bytes(forged(f32, lambda h: h["classes"].update(values=[0.0, 2.0, 1e39])))
    with pytest.raises(ModelFileError, match="not finite values of <f4"):
        mf._load_bytes(forged(f32, lambda h: h["classes"].update(values=[0.0, 2.0, 4.1])))
    with pytest.raises(ModelFileError, match="class weights must be finite and non-negative"):
        mf._load_bytes(forged(fitted(), lambda h: h["params"].update(
            class_weight=[[0, 1.0], [1, -2.0]])))
    with pytest.raises(ModelFileError, match="holds a NUL"):
        mf._load_bytes(forged(fitted(), lambda h: h["classes"].update(
            type="str", dtype="str", values=["a", "a\x00", "b"])))
    # and save refuses the same models
    weird = fitted(np.array(["a", "a\x00", "b"], dtype=object)[CODES])
    with pytest.raises(ValueError, match="holds a NUL"):
        softreg.save(weird, tmp_path / "m.softreg")
    negative = fitted().set_params(class_weight={0: 1.0, 1: -2.0})
    with pytest.raises(ValueError, match="non-negative"):
        softreg.save(negative, tmp_path / "m.softreg")
    assert list(tmp_path.iterdir()) == []


# -- 7: extra is validated at load -------------------------------------------------------------
@pytest.mark.parametrize("part, value", [
    ("cli", "x"),
    ("cli", {"standardized": "yes"}),
    ("cli", {"feature_scale": [1.0, -1.0, 2.0]}),
    ("cv", {"alphas": [1.0, 0.1]}),
    ("cv", {"alphas": [1.0, 0.1], "mean_scores": [0.5], "std_scores": [0.1, 0.1],
            "best_index": 0, "n_folds": 2, "scoring": "accuracy"}),
    ("cv", {"alphas": [1.0, 0.1], "mean_scores": [0.5, 0.6], "std_scores": [0.1, 0.1],
            "best_index": 2, "n_folds": 2, "scoring": "accuracy"}),
    ("inference", {"coef": "x"}),
])
def test_a_malformed_known_part_of_extra_is_dropped_with_a_warning(tmp_path, part, value):
    path = tmp_path / "m.softreg"
    softreg.save(fitted(), path, extra={part: value, "note": "kept"})
    with pytest.warns(UserWarning, match=f"ignoring the malformed extra.{part}"):
        header = mf.read_header(path)
    assert part not in header["extra"] and header["extra"]["note"] == "kept"


def test_well_formed_extra_parts_are_kept(tmp_path):
    model = fitted()
    inference = softreg.infer(model, X, CODES).to_dict()
    cv = {"alphas": [1.0, 0.1], "mean_scores": [0.5, 0.6], "std_scores": [0.1, 0.1],
          "best_index": 1, "n_folds": 2, "scoring": "accuracy", "alpha": 0.1,
          "scores": [[0.4, 0.5], [0.6, 0.7]], "n_iter_path": [[3, 4], [5, 6]]}
    cli = {"data": "d.csv", "target": "y", "standardized": True, "n_samples": 40,
           "feature_scale": [1.0, 2.0, 3.0]}
    path = tmp_path / "m.softreg"
    softreg.save(model, path, extra={"cli": cli, "cv": cv, "inference": inference})
    extra = mf.read_header(path)["extra"]  # no warning (warnings are errors here)
    assert extra["cli"] == cli and extra["cv"] == cv
    assert extra["inference"] == json.loads(json.dumps(inference))


# -- 13: stale temporaries, a full disk --------------------------------------------------------
def test_stale_temporaries_of_our_naming_are_removed_on_the_next_save(tmp_path):
    path = tmp_path / "m.softreg"
    old = time.time() - 2 * _atomic.STALE_SECONDS
    stale = tmp_path / ".m.softreg.ab12cd_9.tmp"
    fresh = tmp_path / ".m.softreg.zz99yy88.tmp"  # a writer may still be at work
    other = [tmp_path / ".m.softreg.notours.tmp", tmp_path / ".n.softreg.ab12cd34.tmp",
             tmp_path / ".m.softreg.ab12cd34.tmp.keep"]
    for p in [stale, fresh, *other]:
        p.write_bytes(b"partial")
        if p != fresh:
            os.utime(p, (old, old))
    softreg.save(fitted(), path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["m.softreg", fresh.name, *(p.name for p in other)])


def test_a_full_disk_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.softreg"
    softreg.save(fitted(), path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        softreg.save(fitted(CODES + 1), path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.softreg"]


def test_save_refuses_a_header_that_load_would_refuse(tmp_path, monkeypatch):
    monkeypatch.setattr(fmt, "MAX_JSON_ITEMS", 100)
    with pytest.raises(ValueError, match="JSON items, more than the 100"):
        softreg.save(fitted(), tmp_path / "m.softreg", extra={"x": [0] * 200})
    assert list(tmp_path.iterdir()) == []
