"""The installed ``softreg`` console script in subprocesses: pipes (``-`` for standard
input and output), ``--format``, ``--keep``, labels whatever the file format, every
argument's help, shell completion, and what start-up imports."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _cli import HANG, SCRIPT, SRC, three_class_data
from _cli import run_script as run
from _cli import script_env as env

pytestmark = pytest.mark.skipif(SCRIPT is None,
                                reason=f"no console script beside {sys.executable}")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same table as CSV, TSV, Parquet; float-valued labels 5.0/6.0/7.0; an id column."""
    d = tmp_path_factory.mktemp("pipes")
    X, y = three_class_data(90)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame.insert(0, "id", [f"r{i:03d}" for i in range(90)])
    frame["y"] = y + 5.0
    frame.to_csv(d / "t.csv", index=False)
    frame.to_csv(d / "t.tsv", index=False, sep="\t")
    frame.to_parquet(d / "t.parquet", index=False)
    run("fit", d / "t.parquet", "--target", "y", "--ignore", "id", "-o", d / "m.softreg")
    return d, frame


def test_labels_are_the_same_whatever_the_file_format(files):
    d, frame = files
    classes = {}
    for name in ("t.csv", "t.tsv", "t.parquet"):
        out = run("fit", d / name, "--target", "y", "--ignore", "id", "-o",
                  d / f"{name}.softreg", "--json")
        classes[name] = json.loads(out.stdout)["classes"]
    assert classes["t.csv"] == classes["t.tsv"] == classes["t.parquet"] == [5, 6, 7]
    pred = run("predict", d / "t.csv.softreg", d / "t.parquet").stdout.decode().split()
    assert pred[0] == "label" and set(pred[1:]) <= {"5", "6", "7"}  # not "6.0"


def test_standard_input_and_output_with_format(files):
    d, frame = files
    csv_bytes = (d / "t.csv").read_bytes()
    ref = run("predict", d / "m.softreg", d / "t.csv", "--proba").stdout
    # DATA '-' needs --format; -o '-' is standard output
    assert run("predict", d / "m.softreg", "-", "--proba", "--format", "csv", "-o", "-",
               stdin=csv_bytes).stdout == ref
    assert run("predict", d / "m.softreg", "-", "--proba", "--format", "parquet",
               stdin=(d / "t.parquet").read_bytes()).stdout == ref
    assert run("predict", d / "m.softreg", "-", "--proba", "--format", "tsv",
               stdin=(d / "t.tsv").read_bytes()).stdout == ref
    err = run("predict", d / "m.softreg", "-", stdin=csv_bytes, expect=2).stderr.decode()
    assert "needs --format csv|tsv|parquet|libsvm" in err
    # --format overrides a misleading extension
    (d / "t.txt").write_bytes(csv_bytes)
    assert run("predict", d / "m.softreg", d / "t.txt", "--proba", "--format", "csv",
               ).stdout == ref
    # fit and evaluate read standard input too; errors name <stdin>, not a temporary file
    run("fit", "-", "--format", "csv", "--target", "y", "--ignore", "id", "-o",
        d / "stdin.softreg", stdin=csv_bytes)
    out = run("evaluate", d / "stdin.softreg", "-", "--format", "csv", "--target", "y",
              "--json", stdin=csv_bytes)
    assert json.loads(out.stdout)["metrics"]["n_samples"] == 90
    bad = csv_bytes.replace(b"\nr004,", b"\nr004,oops", 1)
    err = run("evaluate", d / "m.softreg", "-", "--format", "csv", "--target", "y",
              stdin=bad, expect=1).stderr.decode()
    assert err.startswith("softreg evaluate: error: <stdin>: column 'a', row 5") and \
        "/tmp" not in err


def test_keep_passes_columns_through(files):
    d, frame = files
    out = run("predict", d / "m.softreg", "-", "--format", "csv", "--keep", "id,c",
              "--proba", stdin=(d / "t.csv").read_bytes()).stdout
    got = pd.read_csv(io.BytesIO(out), dtype={"id": str})
    assert list(got.columns[:3]) == ["id", "c", "label"]
    assert got["id"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(got["c"], frame["c"], rtol=1e-15)
    run("predict", d / "m.softreg", d / "t.parquet", "--keep", "id", "-o", d / "p.parquet")
    assert pd.read_parquet(d / "p.parquet")["id"].tolist() == frame["id"].tolist()
    err = run("predict", d / "m.softreg", d / "t.csv", "--keep", "nope", expect=1).stderr
    assert b"--keep names columns that do not exist: 'nope'" in err
    err = run("predict", d / "m.softreg", d / "t.csv", "--keep", "id", "--json").stdout
    assert json.loads(err)["kept"]["id"][:2] == ["r000", "r001"]


def test_every_argument_has_help():
    import argparse

    from softreg.cli import COMMANDS, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        for action in sub.choices[name]._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    text = run("fit", "--help").stdout.decode()
    for words in ("DATA", "--solver", "--max-iter", "--batch-size", "--random-state",
                  "maximum likelihood", "Laplace", "largest to the smallest"):
        assert words in " ".join(text.split()), words
    text = " ".join(run("export", "--help").stdout.decode().split())
    assert "newest that skl2onnx supports" in text


def test_shell_completion(tmp_path):
    # argcomplete writes the candidates to file descriptor 8
    proc = subprocess.run(["bash", "-c", f'"{SCRIPT}" 8>&1 9>/dev/null'], capture_output=True,
                          env=env(_ARGCOMPLETE="1", COMP_LINE="softreg predict m x --for",
                                  COMP_POINT="25", _ARGCOMPLETE_IFS="\n"), timeout=HANG)
    assert proc.stdout.decode().split() == ["--format"], proc.stderr
    proc = subprocess.run(["bash", "-c", f'"{SCRIPT}" 8>&1 9>/dev/null'], capture_output=True,
                          env=env(_ARGCOMPLETE="1", COMP_LINE="softreg predict m x --format ",
                                  COMP_POINT="29", _ARGCOMPLETE_IFS="\n"), timeout=HANG)
    assert proc.stdout.decode().split() == ["csv", "tsv", "parquet", "libsvm"]


HEAVY = ("sklearn", "pandas", "matplotlib", "numba", "pyarrow", "rich", "scipy.optimize")


def imported_modules(*args) -> set[str]:
    """Top-level names of the modules the console script imports, by ``-X importtime``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(SCRIPT), *args],
                          capture_output=True, text=True, env=env(), timeout=HANG)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "softreg.cli" in names
    return names


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["fit", "--help"]])
def test_start_up_imports_nothing_heavy(args):
    names = imported_modules(*args)
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY or n in HEAVY)
    assert heavy == []
    assert "softreg.estimator" not in names


def test_inspect_imports_no_estimator_stack(tmp_path):
    """inspect verifies the file without scikit-learn, numba, pandas, matplotlib or scipy's
    optimize and stats modules, also for a model that holds a cross-validation table and a
    stored inference summary."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(90, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(90, 3)), axis=1)
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    run("fit", tmp_path / "d.csv", "-t", "y", "--cv", "2", "--alphas", "0.01,0.1", "--infer",
        "--standardize", "-o", tmp_path / "m.softreg")
    names = imported_modules("inspect", tmp_path / "m.softreg")
    heavy = sorted(n for n in names
                   if n.split(".")[0] in ("sklearn", "numba", "pandas", "matplotlib"))
    assert heavy == []
    assert not {"scipy.stats", "scipy.optimize", "softreg.inference"} & names
    assert "softreg.estimator" not in names and "softreg.model_file" in names
    text = run("inspect", tmp_path / "m.softreg").stdout.decode()
    assert "cross-validation" in text and "contrasts against the reference class" in text
    assert "fitted on standardised features" in text


def test_one_class_error_names_the_label_plainly(tmp_path):
    (tmp_path / "one.csv").write_text("a,y\n1,1\n2,1\n3,1\n")
    err = run("fit", tmp_path / "one.csv", "--target", "y", "-o", tmp_path / "m.softreg",
              expect=1).stderr.decode()
    assert "single class (1)" in err and "np." not in err
    from softreg import SoftmaxRegression

    with pytest.raises(ValueError, match=r"only one class: 1$"):
        SoftmaxRegression().fit(np.zeros((3, 1)), np.array([1, 1, 1]))


def test_startup_benchmark_ratios():
    import importlib

    sys.path.insert(0, str(Path(SRC).parent))
    try:
        startup = importlib.import_module("benchmarks.startup")
    finally:
        sys.path.pop(0)
    best = {"baseline": (0.2, 0.3), "softreg --help": (0.1, 0.15),
            "softreg --version": (0.1, 0.3), "softreg inspect MODEL": (1.0, 0.9),
            "softreg inspect MODEL (with --infer table)": (0.4, 0.5)}
    assert "| `softreg --help` | 0.100 | 0.50 | 0.150 | 0.50 |" in startup.table(best)
    assert [v.split(":")[0] for v in startup.verdicts(best)] == ["- PASS", "- PASS", "- FAIL",
                                                                  "- PASS"]
