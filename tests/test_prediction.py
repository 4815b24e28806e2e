"""get_prediction: delta-method standard errors, logit-scale intervals, coverage, the CLI."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import special, stats

import softreg.inference as inference
from _stats_data import anes96, generated
from softreg import SoftmaxRegression, infer
from softreg.cli import main
from softreg.inference import InferenceResult


def _fd_delta_se(X, y, X_new):
    """Independent: central differences of statsmodels' predict through its covariance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MNLogit(np.asarray(y), sm.add_constant(np.asarray(X), has_constant="add")
                         ).fit(method="newton", disp=0, maxiter=200, tol=1e-14)
    params = np.asarray(res.params)
    Xc = sm.add_constant(np.asarray(X_new, dtype=float), has_constant="add")
    theta = params.ravel("F")  # class-major, as cov_params

    def proba(t):
        return res.model.predict(t.reshape(params.shape, order="F"), Xc)

    h = 1e-6
    G = np.stack([(proba(theta + h * e) - proba(theta - h * e)) / (2 * h)
                  for e in np.eye(theta.size)], axis=-1)
    V = np.asarray(res.cov_params())
    return proba(theta), np.sqrt(np.einsum("ika,ab,ikb->ik", G, V, G))


@pytest.mark.parametrize("name", ["anes96", "gen-K3", "gen-binary"])
def test_se_equals_finite_difference_delta_method(name):
    X, y = {"anes96": anes96, "gen-K3": lambda: generated(0, 400, 3, 3),
            "gen-binary": lambda: generated(1, 300, 2, 2)}[name]()
    result = infer(SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y), X, y)
    X_new = X.iloc[::37] if hasattr(X, "iloc") else X[::37]
    p_ref, se_ref = _fd_delta_se(X, y, X_new)
    pred = result.get_prediction(X_new)
    np.testing.assert_allclose(pred.predicted, p_ref, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(pred.se, se_ref, rtol=1e-5)
    assert pred.predicted.shape == pred.se.shape == (len(X_new), len(result.classes))


def test_intervals_are_logit_scale_and_strictly_inside():
    X, y = generated(2, 300, 2, 3, scale=1.5)
    result = infer(SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y), X, y)
    X_new = np.vstack([X[:50], [[8.0, -8.0], [-6.0, 6.0]]])  # and two far-out rows
    pred = result.get_prediction(X_new)
    p, se = pred.predicted, pred.se
    for alpha in (0.05, 0.2):
        ci = pred.conf_int(alpha)
        assert ci.shape == (len(X_new), 3, 2)
        z = stats.norm.ppf(1 - alpha / 2)
        # the recipe, evaluated directly
        logit, se_l = np.log(p / (1 - p)), se / (p * (1 - p))
        np.testing.assert_allclose(ci[..., 0], special.expit(logit - z * se_l), rtol=1e-9)
        np.testing.assert_allclose(ci[..., 1], special.expit(logit + z * se_l), rtol=1e-9)
        # strictly inside (0, 1) wherever float64 can tell a bound from 0 and 1 (a logit
        # bound beyond +-36 rounds to 1 - 1e-16 = 1.0): all but the two far rows here
        ordinary = np.abs(logit[:50]) + z * se_l[:50] < 30
        assert ordinary.mean() > 0.9
        assert np.all(ci[:50][ordinary, 0] > 0) and np.all(ci[:50][ordinary, 1] < 1)
        assert np.all(ci[..., 0] < p) and np.all(p < ci[..., 1])
        assert np.all(ci[..., 0] > 0) and np.all(ci[..., 1] <= 1)
    assert p[-2:].min() < 1e-6 and p[-2:].max() > 1 - 1e-4  # the far rows: near 0 and 1
    frame = pred.summary_frame(0.1)
    assert list(frame.columns) == ["mean", "mean_se", "mean_ci_lower", "mean_ci_upper"]
    assert frame.shape == (len(X_new) * 3, 4)
    np.testing.assert_array_equal(frame["mean_ci_upper"].to_numpy(),
                                  pred.conf_int(0.1)[..., 1].ravel())


def test_extreme_rows_keep_finite_logits_and_errors():
    X, y = generated(3, 300, 1, 3)
    result = infer(SoftmaxRegression(alpha=0).fit(X, y), X, y)
    pred = result.get_prediction(np.array([[60.0], [-60.0]]))
    assert np.all(np.isfinite(pred.logit)) and np.all(np.isfinite(pred.se_logit))
    assert np.abs(pred.logit).max() > 40  # p within exp(-40) of 0 or 1: still resolved


def test_map_result_and_frames_by_name():
    X, y = generated(4, 200, 2, 3)
    Xf = pd.DataFrame(X, columns=["u", "v"])
    result = infer(SoftmaxRegression(alpha=1e-2).fit(Xf, y), Xf, y)
    a = result.get_prediction(Xf[["v", "u"]].iloc[:5])  # columns matched by name
    b = result.get_prediction(X[:5])
    np.testing.assert_array_equal(a.se, b.se)
    # infer polishes to the exact optimum: compare with a fit run to the same precision
    np.testing.assert_allclose(a.predicted, SoftmaxRegression(alpha=1e-2, tol=1e-12).fit(Xf, y)
                               .predict_proba(Xf.iloc[:5]), rtol=1e-6)
    back = InferenceResult.from_dict(json.loads(json.dumps(result.to_dict())))
    np.testing.assert_array_equal(back.get_prediction(X[:5]).se, b.se)
    with pytest.raises(ValueError, match="lacks the model's features"):
        result.get_prediction(Xf[["u"]])
    with pytest.raises(ValueError, match="not features of the model"):
        result.get_prediction(Xf.assign(w=1.0))
    with pytest.raises(ValueError, match="has 3 columns but the model has 2"):
        result.get_prediction(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        result.get_prediction(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="alpha must be in"):
        b.conf_int(1.5)


def test_coverage_of_the_true_probabilities(monkeypatch):
    """Data drawn from a known model: 95% intervals cover the true probabilities ~95%.

    80 replications x 6 points x 3 classes = 1440 intervals (correlated within a
    replication). Seeded, so deterministic. The tolerance +/-0.03 is about 5 binomial
    standard errors of 1440 independent intervals; over seeds 0-3 the coverage was
    0.947-0.971 and the worst point/class 0.89-0.94 (80 replications each).
    """
    monkeypatch.setattr(inference, "SEPARATION_MAX_NNZ", 0)  # the LP is not under test
    rng = np.random.default_rng(20261130)
    W = np.array([[0.0, 1.0, -0.5], [0.0, -0.7, 0.8]])
    b = np.array([0.0, 0.3, -0.2])
    points = np.array([[0.0, 0.0], [1.0, -1.0], [-1.5, 0.5], [0.5, 1.5], [2.0, 1.0],
                       [-1.0, -2.0]])
    Zp = points @ W + b
    truth = np.exp(Zp - special.logsumexp(Zp, axis=1, keepdims=True))
    hits = []
    for _ in range(80):
        X = rng.normal(size=(250, 2))
        Z = X @ W + b
        P = np.exp(Z - special.logsumexp(Z, axis=1, keepdims=True))
        y = (P.cumsum(1) < rng.uniform(size=(250, 1))).sum(1)
        result = infer(SoftmaxRegression(alpha=0).fit(X, y), X, y)
        ci = result.get_prediction(points).conf_int(0.05)
        hits.append((ci[..., 0] <= truth) & (truth <= ci[..., 1]))
    coverage = np.mean(hits)
    assert abs(coverage - 0.95) < 0.03, coverage
    assert np.mean(hits, axis=0).min() > 0.85  # no point/class badly off


def _csv(tmp_path, X, y=None):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    if y is not None:
        frame["label"] = y
    path = tmp_path / ("train.csv" if y is not None else "new.csv")
    frame.to_csv(path, index=False)
    return path


def test_cli_predict_interval(tmp_path, capsys):
    X, y = generated(5, 300, 3, 3)
    train, new = _csv(tmp_path, X, y), _csv(tmp_path, X[:6] + 0.1)
    for flag, name in (([], "m.softreg"), (["--standardize"], "s.softreg")):
        assert main(["fit", str(train), "-t", "label", "--alpha", "0", "--infer", "-o",
                     str(tmp_path / name), *flag]) == 0
    capsys.readouterr()
    out = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "m.softreg"), str(new), "--interval", "0.9",
                 "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns[:4]) == ["label", "proba_0", "proba_0_lower", "proba_0_upper"]
    model = SoftmaxRegression(alpha=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    result = infer(model, pd.DataFrame(X, columns=["a", "b", "c"]), y)
    ci = result.get_prediction(X[:6] + 0.1).conf_int(0.1)
    np.testing.assert_allclose(frame[["proba_0_lower", "proba_1_lower", "proba_2_lower"]],
                               ci[..., 0], rtol=1e-6)
    np.testing.assert_allclose(frame[["proba_0_upper", "proba_1_upper", "proba_2_upper"]],
                               ci[..., 1], rtol=1e-6)
    # a model fitted on standardised features gives the same intervals (same MLE)
    assert main(["predict", str(tmp_path / "s.softreg"), str(new), "--proba", "--interval",
                 "0.9", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["interval"]["level"] == 0.9
    np.testing.assert_allclose(doc["interval"]["lower"], ci[..., 0], rtol=1e-6)
    np.testing.assert_allclose(doc["interval"]["upper"], ci[..., 1], rtol=1e-6)


def test_cli_interval_needs_inference(tmp_path, capsys):
    X, y = generated(6, 100, 3, 3)
    train, new = _csv(tmp_path, X, y), _csv(tmp_path, X[:3])
    assert main(["fit", str(train), "-t", "label", "-o", str(tmp_path / "m.softreg")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.softreg"), str(new), "--interval", "0.95"]) == 1
    err = capsys.readouterr().err
    assert "--interval needs a model fitted with --infer" in err and len(err.splitlines()) == 1
    assert main(["predict", str(tmp_path / "m.softreg"), str(new), "--interval", "95"]) == 2
    assert "strictly between 0 and 1" in capsys.readouterr().err
