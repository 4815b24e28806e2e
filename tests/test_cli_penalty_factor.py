"""``softreg fit --penalty-factor``: per-feature penalty multipliers from the command line,
as a list or a file, against the estimator fitted in Python with the same factors."""

import json

import numpy as np
import pandas as pd
import pytest

import softreg
from _cli import SCRIPT, run_script

pytestmark = pytest.mark.skipif(SCRIPT is None, reason="no console script beside Python")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6 features, the first two carrying the signal; 3 classes."""
    d = tmp_path_factory.mktemp("pf")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 6))
    W = np.zeros((6, 3))
    W[:2] = 2 * rng.normal(size=(2, 3))
    y = np.argmax(X @ W + rng.gumbel(size=(150, 3)), axis=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y)
    frame.to_csv(d / "d.csv", index=False)
    return d, frame


PF = [1.0, 1.0, 0.0, 2.0, 0.5, 1.0]


def _fit_json(d, *extra):
    proc = run_script("fit", d / "d.csv", "-t", "y", "--alpha", "0.05", "--l1-ratio", "1",
                      "--json", *extra, text=True)
    return json.loads(proc.stdout)


def test_list_and_file_match_the_estimator(data):
    d, frame = data
    (d / "pf.txt").write_text("# one factor per feature\n1 1\n0\n2, 0.5\n1\n")
    out_list = _fit_json(d, "-o", d / "a.softreg", "--penalty-factor",
                         ",".join(map(str, PF)))
    out_file = _fit_json(d, "-o", d / "b.softreg", "--penalty-factor", d / "pf.txt")
    a = softreg.load(d / "a.softreg")
    b = softreg.load(d / "b.softreg")
    np.testing.assert_array_equal(a.coef_, b.coef_)
    ref = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0, penalty_factor=PF).fit(
        frame.drop(columns="y"), frame["y"].to_numpy())
    np.testing.assert_allclose(a.coef_, ref.coef_, atol=1e-6)
    # the unpenalised feature f2 (no signal) is kept; without factors the lasso drops it
    assert np.any(a.coef_[:, 2] != 0)
    plain = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0).fit(
        frame.drop(columns="y"), frame["y"].to_numpy())
    assert np.all(plain.coef_[:, 2] == 0)
    assert out_list["penalty"] == out_file["penalty"]


@pytest.mark.parametrize("value, message", [
    ("1,2", "--penalty-factor has 2 values but"),
    ("1,1,-1,1,1,1", "value 3: expected a number >= 0, got '-1'"),
    ("1,x,1,1,1,1", "value 2: expected a number, got 'x'"),
    ("1,,1", "expected comma-separated numbers >= 0, NAME=FACTOR pairs or a file"),
    ("1,nan,1,1,1,1", "value 2: expected a finite number, got 'nan'"),
])
def test_bad_values_are_usage_errors(data, value, message):
    d, _ = data
    proc = run_script("fit", d / "d.csv", "-t", "y", "-o", d / "bad.softreg", "--alpha",
                      "0.05", "--l1-ratio", "1", "--penalty-factor", value, expect=2,
                      text=True)
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3  # argparse: usage line + the error
    assert not (d / "bad.softreg").exists()


def test_solver_without_penalty_factor_support_is_refused(data):
    d, _ = data
    proc = run_script("fit", d / "d.csv", "-t", "y", "-o", d / "x.softreg", "--solver",
                      "lbfgs", "--penalty-factor", ",".join(map(str, PF)), expect=2,
                      text=True)
    assert "--solver lbfgs cannot fit --penalty-factor" in proc.stderr
