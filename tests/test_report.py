"""report.py: metrics against scikit-learn and hand computation; the plots are valid PNGs."""

import json

import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)

from softreg.report import classification_metrics, write_report


def random_case(n=300, K=4, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, K)) * 2
    log_proba = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    classes = np.array(["ant", "bee", "cat", "dog"][:K])
    y = classes[np.array([rng.choice(K, p=np.exp(r)) for r in log_proba])]
    return y, log_proba, classes


def test_metrics_match_scikit_learn():
    y, log_proba, classes = random_case()
    m = classification_metrics(y, log_proba, classes)
    proba = np.exp(log_proba)
    pred = classes[np.argmax(proba, axis=1)]
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba, labels=classes), rel=1e-12)
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    got = m["per_class"]
    np.testing.assert_allclose([c["precision"] for c in got], p)
    np.testing.assert_allclose([c["recall"] for c in got], r)
    np.testing.assert_allclose([c["f1"] for c in got], f)
    assert [c["support"] for c in got] == s.tolist()
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=classes).tolist()
    onehot = (y[:, None] == classes[None, :]).astype(float)
    assert m["brier"] == pytest.approx(((proba - onehot) ** 2).sum(axis=1).mean())
    assert sum(b["count"] for b in m["calibration"]) == len(y)


def test_calibration_bins_by_hand():
    classes = np.array([0, 1])
    proba = np.array([[0.95, 0.05], [0.9, 0.1], [0.35, 0.65], [0.38, 0.62], [0.5, 0.5]])
    y = np.array([0, 1, 1, 0, 0])
    m = classification_metrics(y, np.log(proba), classes)
    bins = {round(b["lower"], 1): b for b in m["calibration"] if b["count"]}
    # confidences 0.95, 0.9 -> bin 0.9; 0.65, 0.62 -> bin 0.6; 0.5 (tie: class 0) -> bin 0.5
    assert sorted(bins) == [0.5, 0.6, 0.9]
    assert bins[0.9]["count"] == 2 and bins[0.9]["accuracy"] == 0.5
    assert bins[0.9]["mean_confidence"] == pytest.approx(0.925)
    assert bins[0.6]["accuracy"] == 0.5 and bins[0.5]["accuracy"] == 1.0
    ece = (2 * abs(0.5 - 0.925) + 2 * abs(0.5 - 0.635) + 1 * abs(1 - 0.5)) / 5
    assert m["expected_calibration_error"] == pytest.approx(ece)
    assert m["accuracy"] == pytest.approx(3 / 5)


def test_unknown_label_and_empty_input_are_errors():
    with pytest.raises(ValueError, match="'emu' is not one of the classes"):
        classification_metrics(["emu"], np.log([[0.5, 0.5]]), ["ant", "bee"])
    with pytest.raises(ValueError, match="zero samples"):
        classification_metrics([], np.zeros((0, 2)), ["ant", "bee"])


@pytest.mark.parametrize("K, curve", [(2, []), (4, list(np.geomspace(1.0, 0.3, 30)))])
def test_report_files_are_valid(tmp_path, K, curve):
    y, log_proba, classes = random_case(n=120, K=K, seed=K)
    m = classification_metrics(y, log_proba, classes)
    files = write_report(tmp_path, m, classes, loss_curve=curve,
                         model_info={"solver": "lbfgs", "alpha": 0.1})
    assert sorted(files) == sorted(p.name for p in tmp_path.iterdir())
    for name in files:
        if name.endswith(".png"):
            img = matplotlib.image.imread(tmp_path / name)
            assert img.shape[0] > 200 and img.shape[1] > 200 and img[..., :3].std() > 0.02
    assert json.loads((tmp_path / "metrics.json").read_text())["metrics"] == m
    html = (tmp_path / "index.html").read_text()
    assert "<img src=\"calibration.png\"" in html and "lbfgs" in html


def test_baseline_is_the_majority_class_and_the_class_frequencies():
    from sklearn.dummy import DummyClassifier

    y, log_proba, classes = random_case(n=200, seed=3)
    m = classification_metrics(y, log_proba, classes)
    X = np.zeros((len(y), 1))
    dummy = DummyClassifier(strategy="prior").fit(X, y)
    assert m["baseline"]["class"] == dummy.predict(X[:1])[0]
    assert m["baseline"]["accuracy"] == pytest.approx(dummy.score(X, y))
    assert m["baseline"]["log_loss"] == pytest.approx(log_loss(y, dummy.predict_proba(X)),
                                                      rel=1e-12)


def test_calibration_intervals_are_wilson_intervals():
    from statsmodels.stats.proportion import proportion_confint

    from softreg.report import wilson_interval

    for k, n in [(0, 1), (1, 1), (3, 7), (45, 50), (0, 30), (30, 30)]:
        np.testing.assert_allclose(wilson_interval(k, n),
                                   proportion_confint(k, n, alpha=0.05, method="wilson"),
                                   rtol=1e-9, atol=1e-12)
    y, log_proba, classes = random_case(n=300, seed=4)
    for b in classification_metrics(y, log_proba, classes)["calibration"]:
        if b["count"]:
            assert b["accuracy_low"] <= b["accuracy"] <= b["accuracy_high"]
        else:
            assert b["accuracy_low"] is None


@pytest.mark.parametrize("K", [3, 20])
def test_html_shows_figures_at_native_size_in_a_grid(tmp_path, K):
    from softreg.report import CELL_WIDTH, DPI, png_size

    rng = np.random.default_rng(K)
    classes = np.arange(K)
    Z = rng.normal(size=(400, K))
    log_proba = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    y = rng.integers(0, K, size=400)
    m = classification_metrics(y, log_proba, classes)
    write_report(tmp_path, m, classes, model_info={"standardised features": "no"},
                 data_info={"file": "test.csv"})
    html = (tmp_path / "index.html").read_text()
    for name in ("confusion_matrix.png", "calibration.png", "loss_curve.png"):
        w, h = png_size(tmp_path / name)
        assert f'src="{name}" width="{w}" height="{h}"' in html  # shown at native size
        assert w <= 1184  # the page's content width at 1280 px: never scaled down there
    assert png_size(tmp_path / "calibration.png")[0] == round(CELL_WIDTH * DPI)
    # two cells side by side at 1280 px; a wide confusion matrix takes a whole row
    assert "display: grid" in html and ("<figure class=\"wide\">" in html) == (K > 12)
    for text in ("Baseline (no features)", "majority class", "standardised features",
                 "test.csv", f"{m['baseline']['accuracy']:.4f}"):
        assert text in html
