"""Property-based fuzzing of the model-file loader (run by test_model_file_fuzz.py).

Run as a script, in its own process: it caps its address space (``resource.setrlimit``,
RLIMIT_AS) a fixed amount above what the imports use, arms a per-example alarm, then lets
hypothesis forge model files (over header fields, their types, array descriptions, sizes,
versions, truncations; most with a valid checksum so they reach the deep checks) and checks
that every one ends in ``ModelFileError`` or a model that predicts, never in another
exception, a hang or a memory blow-up. It prints one line ``fuzz: N examples, A accepted,
R refused`` and exits 0, or prints the failure and exits 1.

    PYTHONPATH=src python tests/fuzz_model_file.py [MAX_EXAMPLES]
"""

from __future__ import annotations

import json
import resource
import signal
import struct
import sys
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import softreg
from softreg import ModelFileError
from softreg import _model_format as fmt
from softreg import model_file as mf

#: address space allowed above what the process holds after its imports (bytes)
HEADROOM_BYTES = 768 << 20
#: wall-clock seconds one example may take (a hang fails the run)
EXAMPLE_SECONDS = 30


def _base_models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    codes = np.argmax(X @ rng.normal(size=(3, 3)) + rng.normal(size=(30, 3)), axis=1)
    models = [
        softreg.SoftmaxRegression(alpha=0.1).fit(X, np.array(["no", "yes", "yes"])[codes]),
        softreg.SoftmaxRegression(alpha=0.1, class_weight={0: 2.0, 1: 1.0, 2: 0.5})
        .fit(X.astype(np.float32), codes),
        softreg.SoftmaxRegression(alpha=0.1).fit(X, codes * 2.0 - 1.0),
    ]
    out = []
    for i, m in enumerate(models):
        extra = {"cli": {"data": "d.csv", "target": "y", "standardized": True,
                         "feature_scale": [1.0, 2.0, 3.0]},
                 "cv": {"alphas": [1.0, 0.1], "mean_scores": [0.5, 0.6],
                        "std_scores": [0.1, 0.1], "best_index": 1, "n_folds": 2,
                        "scoring": "accuracy", "scores": [[0.4, 0.5], [0.6, 0.7]]}} \
            if i == 0 else {}
        header = mf._model_header(m, extra)
        arrays = {"coef": m.coef_, "intercept": m.intercept_,
                  "loss_curve": np.asarray(m.loss_curve_, dtype=np.float64)}
        blob = mf._encode(header, arrays)
        (n,) = struct.unpack("<Q", blob[:8])
        top = json.loads(blob[8:8 + n])
        meta = top.pop("__metadata__")
        out.append((header, meta, top, blob[8 + n:]))
    return out


BASES = _base_models()

scalars = (st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70)
           | st.sampled_from([0, 1, 2, 3, -1, 2 ** 31, 2 ** 40, 2 ** 63, 10 ** 30])
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=12)
           | st.sampled_from(["F64", "F32", "I64", "BF16", "int", "str", "float", "bool",
                              "object", "<f4", "float32", "uint8", "a\x00", "\x1b[2J",
                              "converged", "1.0", "2.0", "softreg-model"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)

HEADER_PATHS = [("estimator",), ("library_version",), ("n_features",), ("feature_names",),
                ("classes",), ("classes", "type"), ("classes", "dtype"),
                ("classes", "values"), ("fit",), ("fit", "n_iter"), ("fit", "stop_reason"),
                ("fit", "n_passes"), ("params",), ("params", "alpha"),
                ("params", "class_weight"), ("params", "solver"), ("params", "tol"),
                ("extra",), ("extra", "cli"), ("extra", "cli", "feature_scale"),
                ("extra", "cv"), ("extra", "cv", "best_index"), ("extra", "cv", "alphas"),
                ("extra", "inference"), ("extra", "note")]
META_KEYS = ["format", "format_version", "softreg.header", "softreg.sha256", "other"]
TENSOR_KEYS = ["dtype", "shape", "data_offsets"]


def _set(doc, path, value):
    node = doc
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(key, {})
    if isinstance(node, dict):
        if value is _DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value


_DELETE = object()

header_edits = st.lists(st.tuples(st.sampled_from(HEADER_PATHS),
                                  json_values | st.just(_DELETE)), max_size=3)
tensor_edits = st.lists(st.tuples(st.sampled_from(fmt.TENSORS), st.sampled_from(TENSOR_KEYS),
                                  json_values | st.lists(st.integers(-3, 2 ** 62), max_size=3)
                                  | st.just(_DELETE)), max_size=3)
meta_edits = st.lists(st.tuples(st.sampled_from(META_KEYS), json_values | st.text(max_size=8)
                                | st.just(_DELETE)), max_size=2)
# raw changes after forging: None, ("cut", k) bytes off the end, ("add", k) bytes appended,
# ("length", N) a declared header length, ("flip", position, bit)
raw_edits = st.none() | st.tuples(st.just("cut"), st.integers(1, 64)) \
    | st.tuples(st.just("add"), st.integers(1, 64)) \
    | st.tuples(st.just("length"), st.sampled_from([0, 1, 7, 2 ** 31, 2 ** 63, 2 ** 64 - 1])) \
    | st.tuples(st.just("flip"), st.integers(0, 10 ** 6), st.integers(0, 7))


def forge(base, h_edits, t_edits, m_edits, raw, checksum: bool) -> bytes:
    header, meta, tensors, data = base
    header = json.loads(json.dumps(header))
    tensors = json.loads(json.dumps(tensors))
    meta = dict(meta)
    for path, value in h_edits:
        _set(header, path, value)
    try:
        meta["softreg.header"] = json.dumps(header)
    except (TypeError, ValueError):
        pass
    for name, key, value in t_edits:
        _set(tensors, (name, key), value)
    for key, value in m_edits:
        _set(meta, (key,), value)
    if checksum:
        try:
            meta["softreg.sha256"] = fmt.digest(meta, tensors, data)
        except (TypeError, ValueError):
            pass
    text = json.dumps({"__metadata__": meta, **tensors}).encode()
    text += b" " * (-len(text) % 8)
    blob = bytearray(struct.pack("<Q", len(text)) + text + data)
    if raw is not None:
        if raw[0] == "cut":
            del blob[-raw[1]:]
        elif raw[0] == "add":
            blob += b"\0" * raw[1]
        elif raw[0] == "length":
            blob[:8] = struct.pack("<Q", raw[1])
        else:
            blob[raw[1] % len(blob)] ^= 1 << raw[2]
    return bytes(blob)


COUNTS = {"accepted": 0, "refused": 0}


def _alarm(signum, frame):
    raise TimeoutError(f"one load took more than {EXAMPLE_SECONDS} s")


def check_one(blob: bytes) -> None:
    signal.alarm(EXAMPLE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a malformed extra part dropped
            try:
                model = mf._load_bytes(blob)
            except ModelFileError as e:
                assert "not enough memory" not in str(e), str(e)
                COUNTS["refused"] += 1
                return
        d = model.n_features_in_
        proba = model.predict_proba(np.zeros((2, d), dtype=model.coef_.dtype))
        assert proba.shape == (2, len(model.classes_))
        assert np.all(np.isfinite(proba))
        COUNTS["accepted"] += 1
    finally:
        signal.alarm(0)


def run(max_examples: int) -> None:
    # each example changes one part of a valid file (most often the model header, with a
    # valid checksum so that it reaches the deepest checks), now and then several
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(base=st.sampled_from(range(len(BASES))),
           part=st.sampled_from(["header"] * 5 + ["tensors", "meta", "raw", "all"]),
           data=st.data())
    def fuzz(base, part, data):
        h = data.draw(header_edits) if part in ("header", "all") else []
        t = data.draw(tensor_edits) if part in ("tensors", "all") else []
        m = data.draw(meta_edits) if part in ("meta", "all") else []
        raw = data.draw(raw_edits) if part in ("raw", "all") else None
        checksum = data.draw(st.booleans()) if part == "all" else True
        check_one(forge(BASES[base], h, t, m, raw, checksum))

    fuzz()


def bombs(folder: str) -> None:
    """Files a few KB or MB on disk that once made the loader allocate gigabytes.

    Each must be refused by a check (not by running out of memory) under the limit.
    """
    import os

    header, meta, tensors, data = BASES[0]

    def with_header(**changes):
        h = json.loads(json.dumps(header))
        for path, value in changes.items():
            _set(h, tuple(path.split("__")), value)
        return forge((h, meta, tensors, data), [], [], [], None, True)

    long_label = ["a" * 10_000_001] + [f"b{i}" for i in range(49)]
    cases = {
        "10M-character label": with_header(classes__values=sorted(long_label)),
        "1 MB term names in extra.inference": with_header(extra__inference={
            "format": "softreg.inference/1", "coef": [[0.0]] * 4,
            "cov": [[0.0] * 4] * 4, "term_names": [f"{i}" + "t" * 1_000_000 for i in range(4)],
            "classes": ["no", "yes"], "reference": "no", "alpha": 0.1, "method": "laplace",
            "n_samples": 30, "n_obs": 30.0, "loglike": -1.0, "grad_norm": 0.0,
            "param_shift": 0.0, "notes": []}),
        "1.1M empty objects": with_header(extra__note=[{}] * 1_100_000),
        "4.1M numbers": with_header(extra__note=[0] * 4_100_000),
    }
    for name, blob in cases.items():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mf._load_bytes(blob)
            assert any("extra.inference" in str(w.message) for w in caught), name
        except ModelFileError as e:
            assert "not enough memory" not in str(e), (name, str(e))
        except MemoryError:
            raise AssertionError(f"{name}: MemoryError") from None
        else:
            # a malformed extra part is dropped: the model itself may load
            assert name.startswith("1 MB"), f"{name}: accepted"
    sparse = os.path.join(folder, "sparse.softreg")
    with open(sparse, "wb") as fh:
        fh.write(forge(BASES[0], [], [], [], None, True))
    os.truncate(sparse, os.path.getsize(sparse) + (6 << 30))  # 6 GiB more, 4 KB on disk
    try:
        softreg.load(sparse)
        raise AssertionError("sparse 6 GiB file accepted")
    except ModelFileError as e:
        assert "declares" in str(e), str(e)
    print(f"bombs: {len(cases) + 1} refused by their checks")


def limit_memory() -> int:
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    limit = vm + HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    limit = limit_memory()
    signal.signal(signal.SIGALRM, _alarm)
    try:
        np.ones(HEADROOM_BYTES // 8 + (64 << 20))  # the limit holds: this must fail
        print("fuzz: the memory limit is not enforced", file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        pass
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        bombs(folder)
    run(n)
    print(f"fuzz: {COUNTS['accepted'] + COUNTS['refused']} examples, "
          f"{COUNTS['accepted']} accepted, {COUNTS['refused']} refused, "
          f"address space limit {limit >> 20} MiB")
