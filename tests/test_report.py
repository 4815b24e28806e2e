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
