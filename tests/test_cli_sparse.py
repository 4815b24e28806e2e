"""Sparse models from the command line: ``softreg fit --l1-ratio/--grouped/--cv/--rule`` and
what ``softreg inspect`` shows of them, through the installed console script."""

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
SCRIPT = Path(sys.executable).with_name("softreg")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(),
                                reason=f"no console script beside {sys.executable}")
#: a hang guard only (a loaded 2-core machine starts Python slowly, never this slowly)
HANG = 1800


def run(*args, expect=0):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, env=env,
                          timeout=HANG, text=True)
    assert proc.returncode == expect, (proc.returncode, proc.stdout[-2000:],
                                       proc.stderr[-2000:])
    return proc


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """8 features of which 3 carry the signal; 3 classes."""
    d = tmp_path_factory.mktemp("sparse")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    W = np.zeros((8, 3))
    W[:3] = 2 * rng.normal(size=(3, 3))
    y = np.argmax(X @ W + rng.gumbel(size=(200, 3)), axis=1)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]).assign(y=y)
    frame.to_csv(d / "d.csv", index=False)
    return d, frame


def _xy(frame):
    return frame.drop(columns="y"), frame["y"].to_numpy()


def test_fit_l1_matches_the_estimator_and_inspect_counts_active_features(data):
    d, frame = data
    out = json.loads(run("fit", d / "d.csv", "-t", "y", "--alpha", "0.05", "--l1-ratio",
                         "0.7", "-o", d / "en.softreg", "--json").stdout)
    X, y = _xy(frame)
    ref = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=0.7).fit(X, y)
    model = softreg.load(d / "en.softreg")
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert model.l1_ratio == 0.7 and not model.grouped and model.solver_ == "prox_newton"
    active = int(np.count_nonzero(np.any(ref.coef_ != 0, axis=0)))
    assert 0 < active < 8  # the penalty did select
    assert out["solver"] == "prox_newton"
    assert out["penalty"] == {"alpha": 0.05, "l1_ratio": 0.7, "grouped": False,
                              "n_active_features": active, "n_features": 8}
    text = run("inspect", d / "en.softreg").stdout
    assert "fit          solver prox_newton:" in text
    assert (f"penalty      elastic net (l1_ratio=0.7), alpha=0.05: {active} of 8 features "
            "active") in text
    info = json.loads(run("inspect", d / "en.softreg", "--json").stdout)
    assert info["penalty"]["n_active_features"] == active
    assert info["fit"]["solver"] == "prox_newton"


def test_fit_grouped_lasso_keeps_or_drops_whole_features(data):
    d, frame = data
    run("fit", d / "d.csv", "-t", "y", "--alpha", "0.08", "--l1-ratio", "1", "--grouped",
        "-o", d / "g.softreg")
    X, y = _xy(frame)
    ref = softreg.SoftmaxRegression(alpha=0.08, l1_ratio=1.0, grouped=True).fit(X, y)
    model = softreg.load(d / "g.softreg")
    assert model.grouped
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    zero = np.all(model.coef_ == 0, axis=0)
    assert zero.any() and not zero.all()
    assert np.all(model.coef_[:, ~zero] != 0)  # a kept feature is kept for every class
    assert "grouped lasso, alpha=0.08" in run("inspect", d / "g.softreg").stdout


@pytest.mark.parametrize("rule", ["best", "1se"])
def test_fit_cv_rule_refits_the_alpha_of_softmaxregressioncv(data, rule):
    d, frame = data
    out = json.loads(run("fit", d / "d.csv", "-t", "y", "--l1-ratio", "1", "--cv", "3",
                         "--rule", rule, "-o", d / f"cv_{rule}.softreg", "--json").stdout)
    X, y = _xy(frame)
    ref = softreg.SoftmaxRegressionCV(alphas=20, cv=3, l1_ratio=1.0, rule=rule).fit(X, y)
    assert out["cv"]["rule"] == rule
    assert out["cv"]["alpha"] == pytest.approx(ref.alpha_, rel=1e-12)
    assert out["cv"]["alpha_best"] == pytest.approx(ref.alpha_best_, rel=1e-12)
    assert out["cv"]["alpha_1se"] == pytest.approx(ref.alpha_1se_, rel=1e-12)
    assert ref.alpha_1se_ >= ref.alpha_best_
    model = softreg.load(d / f"cv_{rule}.softreg")
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    text = run("inspect", d / f"cv_{rule}.softreg").stdout
    assert f"cross-validation (accuracy, {rule} rule)" in text
    rows = [line for line in text.splitlines() if line.startswith(("*", "1se"))]
    assert rows and rows[0].startswith("1se" if ref.index_1se_ != ref.best_index_ else "*")


@pytest.mark.parametrize("args, message", [
    (["--l1-ratio", "2"], "argument --l1-ratio: expected a number in [0, 1], got '2'"),
    (["--l1-ratio", "nan"], "argument --l1-ratio: expected a finite number"),
    (["--grouped"], "--grouped needs --l1-ratio > 0"),
    (["--rule", "1se"], "--rule needs --cv K"),
    (["--cv", "3", "--rule", "worst"], "argument --rule: invalid choice: 'worst'"),
    (["--l1-ratio", "1", "--solver", "lbfgs"], "--solver lbfgs cannot fit --l1-ratio > 0"),
    (["--l1-ratio", "1", "--infer"], "--infer is refused with --l1-ratio > 0"),
    (["--l1-ratio", "1", "--dask", "--solver", "prox_newton"],
     "--solver prox_newton needs the data in memory"),
    (["--penalty-factor", "f0=1,f1"], "expected FEATURE=FACTOR pairs separated by commas"),
    (["--penalty-factor", "f0=-1"], "expected a number >= 0, got '-1'"),
    (["--penalty-factor", "f0=1,f0=2"], "feature 'f0' is listed twice"),
    (["--penalty-factor", "f0=0", "--solver", "newton"],
     "--solver newton cannot fit --penalty-factor"),
    (["--penalty-factor", "f0=0", "--infer"], "--infer is refused with --penalty-factor"),
    (["--penalty-factor", "f0=0", "--dask"], "--penalty-factor needs the data in memory"),
])
def test_bad_penalty_flags_are_one_line_usage_errors(data, args, message):
    d, _ = data
    proc = run("fit", d / "d.csv", "-t", "y", "-o", d / "bad.softreg", *args, expect=2)
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (d / "bad.softreg").exists()


def test_penalty_factor_by_feature_name_matches_the_estimator(data):
    d, frame = data
    run("fit", d / "d.csv", "-t", "y", "--alpha", "0.3", "--l1-ratio", "1",
        "--penalty-factor", "f7=0, f1=0.5", "-o", d / "pf.softreg")
    X, y = _xy(frame)
    pf = np.ones(8)
    pf[7], pf[1] = 0.0, 0.5
    ref = softreg.SoftmaxRegression(alpha=0.3, l1_ratio=1.0, penalty_factor=pf).fit(X, y)
    model = softreg.load(d / "pf.softreg")
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(model.penalty_factor, pf)
    # f7 carries no signal, yet unpenalised it stays in the model; the strong penalty
    # drops most of the penalised features
    assert np.all(model.coef_[:, 7] != 0)
    plain = softreg.SoftmaxRegression(alpha=0.3, l1_ratio=1.0).fit(X, y)
    assert np.all(plain.coef_[:, 7] == 0)


def test_penalty_factor_naming_an_unknown_feature_is_a_one_line_error(data):
    d, _ = data
    proc = run("fit", d / "d.csv", "-t", "y", "--l1-ratio", "1", "--penalty-factor", "zz=0",
               "-o", d / "bad.softreg", expect=1)
    assert "--penalty-factor names 'zz', which is not a feature of the data" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (d / "bad.softreg").exists()


def test_evaluate_report_draws_the_stored_coefficient_path(data):
    d, frame = data
    model_path = d / "cv_1se.softreg"
    if not model_path.exists():  # test order may differ
        run("fit", d / "d.csv", "-t", "y", "--l1-ratio", "1", "--cv", "3", "--rule", "1se",
            "-o", model_path)
    header = softreg.model_file.read_header(model_path)
    cv = header["extra"]["cv"]
    coefs = np.asarray(cv["path_coefs"])
    assert coefs.shape == (20, 3, 8)
    # the stored path is regularization_path on all rows at the cross-validated alphas,
    # and at the refitted alpha it is the saved model
    X, y = _xy(frame)
    ref = softreg.regularization_path(X.to_numpy(), y, l1_ratio=1.0, alphas=cv["alphas"])
    np.testing.assert_allclose(coefs, ref.coefs, rtol=1e-6, atol=1e-9)
    model = softreg.load(model_path)
    i = cv["alphas"].index(cv["alpha"])
    np.testing.assert_allclose(coefs[i], model.coef_, atol=1e-5)
    report = d / "report"
    run("evaluate", model_path, d / "d.csv", "-t", "y", "--report", report)
    png = report / "coefficient_path.png"
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    assert '<img src="coefficient_path.png"' in (report / "index.html").read_text()


def test_no_path_plot_for_a_ridge_model(data):
    d, _ = data
    run("fit", d / "d.csv", "-t", "y", "--cv", "2", "--alphas", "0.1,0.01", "-o",
        d / "ridge.softreg")
    assert "path_coefs" not in softreg.model_file.read_header(d / "ridge.softreg")[
        "extra"]["cv"]
    run("evaluate", d / "ridge.softreg", d / "d.csv", "-t", "y", "--report", d / "r2")
    assert not (d / "r2" / "coefficient_path.png").exists()
    assert (d / "r2" / "loss_curve.png").exists()


def test_fit_dask_lasso_equals_the_in_memory_fit(tmp_path):
    pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    folder = tmp_path / "parts"
    folder.mkdir()
    frames = []
    for i in range(3):
        X = rng.normal(size=(150, 6))
        y = np.argmax(X[:, :2] @ (2 * rng.normal(size=(2, 3))) + rng.gumbel(size=(150, 3)),
                      axis=1)
        frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(6)]).assign(label=y)
        frame.to_parquet(folder / f"part{i}.parquet")
        frames.append(frame)
    out = json.loads(run("fit", folder, "--target", "label", "--dask", "--alpha", "0.05",
                         "--l1-ratio", "1", "--json", "-o", tmp_path / "m.softreg").stdout)
    assert out["solver"] == "prox_grad" and out["stop_reason"] == "converged"
    model = softreg.load(tmp_path / "m.softreg")
    data = pd.concat(frames, ignore_index=True)
    ref = softreg.SoftmaxRegression(alpha=0.05, l1_ratio=1.0, tol=1e-10).fit(
        data.drop(columns="label"), data["label"])
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-5)
    assert (model.coef_ == 0).tolist() == (ref.coef_ == 0).tolist()
    assert np.any(ref.coef_ == 0)
