"""Behaviour of individual subcommands, checked in-process through ``softreg.cli.main``."""

import json

import numpy as np
import pandas as pd

import softreg
from softreg.cli import main


def test_inspect_ranks_standardized_coefficients_per_sd(capsys, tmp_path):
    rng = np.random.default_rng(0)
    # "grams" has a huge scale and a tiny per-unit coefficient but the largest effect
    frame = pd.DataFrame({"grams": rng.normal(0, 1000, 200), "metres": rng.normal(0, 1, 200)})
    logit = frame["grams"] / 500 + 0.3 * frame["metres"]
    frame["y"] = np.where(logit + rng.logistic(size=200) > 0, "heavy", "light")
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), "-t", "y", "--standardize",
                 "-o", str(tmp_path / "m.softreg")]) == 0
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "m.softreg"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    top = info["largest_coefficients"]
    assert top[0]["feature"] == "grams" and top[0]["class"] == "light vs heavy"
    model = softreg.load(tmp_path / "m.softreg")
    sd = frame[["grams", "metres"]].std(ddof=0).to_numpy()
    np.testing.assert_allclose([r["coef_per_sd"] for r in top],
                               [model.coef_[0, 0] * sd[0], model.coef_[0, 1] * sd[1]])
    assert abs(top[0]["coef"]) < abs(top[1]["coef"])  # raw units would rank them the other way
    assert info["extra"]["cli"]["standardized"] is True
    assert main(["inspect", str(tmp_path / "m.softreg"), "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "classes      2 (str): heavy, light" in text and "features     2: grams, metres" in text
    assert "by |coef_per_sd|" in text and "light vs heavy  grams" in text


def test_standardize_fits_the_same_model_as_scaling_by_hand(capsys, tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3)) * [1, 50, 0.01] + [3, -100, 0]
    y = np.argmax(X / [1, 50, 0.01] @ rng.normal(size=(3, 3)) + rng.gumbel(size=(120, 3)), 1)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), "-t", "y", "--standardize", "--alpha", "0.01",
                 "-o", str(tmp_path / "m.softreg")]) == 0
    model = softreg.load(tmp_path / "m.softreg")
    Z = (X - X.mean(0)) / X.std(0)
    ref = softreg.SoftmaxRegression(alpha=0.01).fit(Z, y)
    np.testing.assert_allclose(model.predict_proba(frame[["a", "b", "c"]]), ref.predict_proba(Z),
                               rtol=1e-8, atol=1e-12)


def test_chunked_csv_load_with_progress(capsys, tmp_path, monkeypatch):
    from softreg.cli import _readers

    monkeypatch.setattr(_readers, "CSV_CHUNK_ROWS", 7)
    monkeypatch.setattr(_readers, "PROGRESS_BYTES", 0)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(50, 2)), columns=["a", "b"])
    frame["y"] = np.where(frame["a"] > 0, "p", "n")
    frame.loc[37, "b"] = np.nan
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), "-t", "y", "-o", str(tmp_path / "m"),
                 "--progress"]) == 1
    err = capsys.readouterr().err
    assert "load d.csv " in err and "column 'b', row 38 (line 39): a missing value" in err
    frame.loc[37, "b"] = 0.5
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["fit", str(tmp_path / "d.csv"), "-t", "y", "-o", str(tmp_path / "m.softreg"),
                 "--progress"]) == 0
    err = capsys.readouterr().err
    # not a terminal: only the final state of each bar is written, and it is complete
    assert "100%" in err and "\nfit " in err
    ref = softreg.SoftmaxRegression().fit(frame[["a", "b"]], frame["y"])
    np.testing.assert_allclose(softreg.load(tmp_path / "m.softreg").coef_, ref.coef_,
                               rtol=1e-9)


def test_predict_to_parquet_and_bool_labels(capsys, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    frame["ok"] = frame["a"] + 0.5 * rng.normal(size=40) > 0
    frame.to_parquet(tmp_path / "d.parquet")
    assert main(["fit", str(tmp_path / "d.parquet"), "-t", "ok", "-o",
                 str(tmp_path / "m.softreg")]) == 0
    assert main(["predict", str(tmp_path / "m.softreg"), str(tmp_path / "d.parquet"),
                 "--proba", "-o", str(tmp_path / "p.parquet")]) == 0
    model = softreg.load(tmp_path / "m.softreg")
    assert model.classes_.dtype == bool
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert list(out.columns) == ["label", "proba_False", "proba_True"]
    assert out["label"].tolist() == model.predict(frame[["a", "b"]]).tolist()
    np.testing.assert_allclose(out[["proba_False", "proba_True"]],
                               model.predict_proba(frame[["a", "b"]]))
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m.softreg"), str(tmp_path / "d.parquet"),
                 "-t", "ok", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["accuracy"] == model.score(frame[["a", "b"]], frame["ok"])
    assert [r["class"] for r in metrics["per_class"]] == [False, True]
    frame.assign(ok=frame["ok"].map({True: "True", False: "False"})).to_csv(
        tmp_path / "d.csv", index=False)
    assert main(["evaluate", str(tmp_path / "m.softreg"), str(tmp_path / "d.csv"),
                 "-t", "ok", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == metrics


def test_fit_cv_chooses_the_alpha_of_softmaxregressioncv_and_inspect_shows_it(capsys, tmp_path):
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    y = np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(150, 3)), axis=1)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)
    frame.to_csv(tmp_path / "d.csv", index=False)
    alphas = [1e-3, 1e-2, 1e-1, 1.0]
    assert main(["fit", str(tmp_path / "d.csv"), "-t", "y", "--cv", "3", "--alphas",
                 ",".join(map(str, alphas)), "--scoring", "neg_log_loss", "--infer",
                 "--json", "-o", str(tmp_path / "m.softreg")]) == 0
    out = json.loads(capsys.readouterr().out)
    ref = softreg.SoftmaxRegressionCV(alphas=alphas, cv=KFold(3), scoring="neg_log_loss")
    ref.fit(frame[["a", "b", "c"]], y)
    assert out["cv"]["alpha"] == ref.alpha_ and out["cv"]["n_folds"] == 3
    model = softreg.load(tmp_path / "m.softreg")
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    # the stored inference equals softreg.infer on the same data
    expected = softreg.infer(ref.estimator_, frame[["a", "b", "c"]], y)
    assert main(["inspect", str(tmp_path / "m.softreg")]) == 0
    text = capsys.readouterr().out
    assert "alpha chosen by 3-fold cross-validation (neg_log_loss, best rule)" in text
    assert expected.summary() in text
    assert main(["inspect", str(tmp_path / "m.softreg"), "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)["extra"]["inference"]
    restored = softreg.inference.InferenceResult.from_dict(stored)
    np.testing.assert_allclose(restored.bse.to_numpy(), expected.bse.to_numpy(), rtol=1e-6)


def test_fit_cv_usage_errors(capsys, tmp_path):
    pd.DataFrame({"a": [0.0, 1, 2, 3], "y": [0, 1, 0, 1]}).to_csv(tmp_path / "d.csv",
                                                                   index=False)
    base = ["fit", str(tmp_path / "d.csv"), "-t", "y", "-o", str(tmp_path / "m.softreg")]
    assert main(base + ["--cv", "3", "--alpha", "1"]) == 2
    assert main(base + ["--alphas", "1,2"]) == 2
    assert main(base + ["--cv", "2", "--scoring", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "--alpha and --cv exclude each other" in err
    assert "--alphas and --scoring need --cv" in err
    assert not (tmp_path / "m.softreg").exists()
