"""Metrics and plots for evaluating a classifier, and a report folder that shows them.

:func:`classification_metrics` computes, from labels and predicted log-probabilities,
accuracy, log-loss, Brier score, per-class precision/recall/F1, the confusion matrix and a
reliability table (top-label confidence in bins against the accuracy in each bin, with the
expected calibration error). :func:`write_report` writes ``metrics.json``, three PNG plots
(``confusion_matrix.png``, ``calibration.png``, ``loss_curve.png``) and ``index.html``.
matplotlib is imported only for the plots (``pip install softreg[cli]``).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from ._jsonable import plain as _plain

N_BINS = 10


def classification_metrics(y_true, log_proba, classes, n_bins: int = N_BINS) -> dict:
    """Evaluation metrics of predicted class probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, each one of ``classes``.
    log_proba : ndarray of shape (n_samples, n_classes)
        Predicted log-probabilities (``predict_log_proba``), columns in ``classes`` order.
    classes : array-like of shape (n_classes,)
    n_bins : int
        Equal-width confidence bins of the reliability table.

    Returns
    -------
    dict
        ``n_samples``, ``accuracy``, ``log_loss`` (mean negative log-probability of the
        true class, natural log), ``brier`` (mean squared error of the probability vector
        against the one-hot label, summed over classes), ``per_class`` (list of dicts
        with class, precision, recall, f1, support), ``macro_f1``, ``confusion_matrix``
        (rows true, columns predicted, counts), ``calibration`` (list of bins with lower,
        upper, count, mean_confidence, accuracy) and ``expected_calibration_error``.
    """
    classes = np.asarray(classes)
    log_proba = np.asarray(log_proba, dtype=np.float64)
    n, K = log_proba.shape
    if n == 0:
        raise ValueError("cannot evaluate on zero samples")
    index = {c: k for k, c in enumerate(classes.tolist())}
    try:
        t = np.array([index[v] for v in np.asarray(y_true).tolist()], dtype=np.intp)
    except KeyError as e:
        raise ValueError(f"label {e.args[0]!r} is not one of the classes") from None
    proba = np.exp(log_proba)
    pred = np.argmax(log_proba, axis=1)
    cm = np.zeros((K, K), dtype=np.int64)
    np.add.at(cm, (t, pred), 1)
    correct = pred == t
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(K), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(K), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(K), where=denom > 0)
    onehot = np.zeros((n, K))
    onehot[np.arange(n), t] = 1
    confidence = proba[np.arange(n), pred]
    bins = _calibration_bins(confidence, correct, n_bins)
    ece = sum(b["count"] / n * abs(b["accuracy"] - b["mean_confidence"])
              for b in bins if b["count"])
    return {
        "n_samples": int(n),
        "accuracy": float(correct.mean()),
        "log_loss": float(-log_proba[np.arange(n), t].mean()),
        "brier": float(((proba - onehot) ** 2).sum(axis=1).mean()),
        "macro_f1": float(f1.mean()),
        "per_class": [{"class": _plain(c), "precision": float(p), "recall": float(r),
                       "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, actual,
                                               strict=True)],
        "confusion_matrix": cm.tolist(),
        "calibration": bins,
        "expected_calibration_error": float(ece),
    }


def _calibration_bins(confidence, correct, n_bins: int) -> list[dict]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = which == b
        count = int(mask.sum())
        out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                    "mean_confidence": float(confidence[mask].mean()) if count else None,
                    "accuracy": float(correct[mask].mean()) if count else None})
    return out


# -- plots --------------------------------------------------------------------------------------
def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_confusion_matrix(metrics: dict, classes, path) -> None:
    """Confusion matrix: colour = share of each true class, text = count (and share)."""
    cm = np.asarray(metrics["confusion_matrix"])
    K = len(cm)
    names = [str(c) for c in classes]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    side = min(4.0 + 0.45 * K, 12.0)
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label("share of the true class")
    if K <= 25:
        for i in range(K):
            for j in range(K):
                if cm[i, j] == 0 and K > 8:
                    continue
                txt = f"{cm[i, j]}" if K > 8 else f"{cm[i, j]}\n{100 * share[i, j]:.0f}%"
                ax.text(j, i, txt, ha="center", va="center", fontsize=9 if K > 8 else 10,
                        color="white" if share[i, j] > 0.5 else "black")
    ticks = np.arange(K)
    ax.set_xticks(ticks, names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right"
                  if max(map(len, names)) > 3 else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix  (n = {metrics['n_samples']}, "
                 f"accuracy = {metrics['accuracy']:.3f})")
    fig.savefig(path)


def plot_calibration(metrics: dict, path) -> None:
    """Reliability diagram of the top-label confidence, with a histogram of confidences."""
    bins = metrics["calibration"]
    fig = _figure(6.0, 6.4)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    lo = np.array([b["lower"] for b in bins])
    width = bins[0]["upper"] - bins[0]["lower"]
    filled = [b for b in bins if b["count"]]
    top.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    top.bar([b["lower"] for b in filled], [b["accuracy"] for b in filled], width=width,
            align="edge", color="#9ecae1", edgecolor="#3182bd", alpha=0.45,
            label="accuracy in bin")
    top.plot([b["mean_confidence"] for b in filled], [b["accuracy"] for b in filled], "o-",
             color="#08519c", label="accuracy vs mean confidence")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy (fraction correct)")
    top.set_title("Calibration (reliability diagram)\n"
                  f"expected calibration error = {metrics['expected_calibration_error']:.3f}")
    top.legend(loc="upper left", fontsize=9, framealpha=0.95)
    top.grid(alpha=0.3)
    counts = [b["count"] for b in bins]
    bottom.bar(lo, counts, width=width, align="edge", color="#bdbdbd", edgecolor="#636363")
    bottom.set_xlabel("confidence: predicted probability of the predicted class")
    bottom.set_ylabel("samples")
    bottom.set_yscale("log" if max(counts) > 50 * max(1, min(c for c in counts if c)) else
                      "linear")
    fig.savefig(path)


def plot_loss_curve(loss_curve, path, *, solver: str | None = None) -> None:
    """Training objective J per iteration, and below it J minus its final value (log scale)."""
    curve = np.asarray(loss_curve, dtype=float)
    title = "Training loss" + (f"  (solver: {solver})" if solver else "")
    if curve.size == 0:
        fig = _figure(6.4, 3.0)
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no training loss curve recorded", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        fig.savefig(path)
        return
    fig = _figure(6.4, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    it = np.arange(1, curve.size + 1)
    marker = "o" if curve.size <= 40 else None
    top.plot(it, curve, marker=marker, ms=3, color="#3182bd")
    top.set_ylabel("objective J\n(penalised mean cross-entropy)")
    top.set_title(title)
    top.annotate(f"final J = {curve[-1]:.6g}", xy=(it[-1], curve[-1]), xytext=(-10, 25),
                 textcoords="offset points", ha="right",
                 arrowprops={"arrowstyle": "->", "color": "grey"})
    top.grid(alpha=0.3)
    excess = curve - curve.min()
    keep = excess > 0
    if keep.any():
        bottom.semilogy(it[keep], excess[keep], marker=marker, ms=3, color="#e6550d")
    else:
        bottom.text(0.5, 0.5, "J did not change", ha="center", va="center",
                    transform=bottom.transAxes)
    bottom.set_ylabel("J - min J (log scale)")
    bottom.set_xlabel("iteration" + (" (epoch)" if solver == "sgd" else ""))
    bottom.grid(alpha=0.3, which="both")
    fig.savefig(path)


# -- the report folder ------------------------------------------------------------------------
PLOTS = {
    "confusion_matrix.png": "Confusion matrix: rows are the true classes, columns the "
                            "predicted ones; the colour is the share of each true class.",
    "calibration.png": "Calibration: for rows predicted with a given confidence, how often the "
                       "prediction was right; a calibrated model follows the diagonal.",
    "loss_curve.png": "Training loss: the objective per iteration, and its distance to the "
                      "final value on a log scale.",
}


def write_report(folder, metrics: dict, classes, *, loss_curve=(), model_info: dict | None = None,
                 title: str = "softreg evaluation") -> list[str]:
    """Write metrics.json, the three plots and index.html into an existing ``folder``.

    Returns
    -------
    list of str
        The file names written.
    """
    folder = Path(folder)
    info = model_info or {}
    (folder / "metrics.json").write_text(
        json.dumps({"metrics": metrics, "model": info}, indent=2, allow_nan=False) + "\n")
    plot_confusion_matrix(metrics, classes, folder / "confusion_matrix.png")
    plot_calibration(metrics, folder / "calibration.png")
    plot_loss_curve(loss_curve, folder / "loss_curve.png", solver=info.get("solver"))
    (folder / "index.html").write_text(_html(metrics, info, title), encoding="utf-8")
    return ["metrics.json", *PLOTS, "index.html"]


def _html(metrics: dict, info: dict, title: str) -> str:
    e = html.escape
    summary = [("samples", metrics["n_samples"]), ("accuracy", f"{metrics['accuracy']:.4f}"),
               ("log-loss", f"{metrics['log_loss']:.4f}"), ("Brier score",
                                                              f"{metrics['brier']:.4f}"),
               ("macro F1", f"{metrics['macro_f1']:.4f}"),
               ("expected calibration error", f"{metrics['expected_calibration_error']:.4f}")]
    summary += [(k, v) for k, v in info.items() if isinstance(v, str | int | float)]
    rows = "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in summary)
    per_class = "".join(
        f"<tr><td>{e(str(r['class']))}</td><td>{r['precision']:.3f}</td>"
        f"<td>{r['recall']:.3f}</td><td>{r['f1']:.3f}</td><td>{r['support']}</td></tr>"
        for r in metrics["per_class"])
    figures = "".join(f'<figure><img src="{name}" alt="{e(cap.split(":")[0])}">'
                      f"<figcaption>{e(cap)}</figcaption></figure>"
                      for name, cap in PLOTS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: right; }}
th {{ background: #f3f3f3; text-align: left; }}
figure {{ display: inline-block; margin: 1em; vertical-align: top; max-width: 640px; }}
figcaption {{ color: #555; font-size: 0.9em; }}
img {{ max-width: 640px; border: 1px solid #ddd; }}
</style></head><body>
<h1>{e(title)}</h1>
<table>{rows}</table>
<h2>Per class</h2>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
{per_class}</table>
<h2>Plots</h2>
{figures}
<p><a href="metrics.json">metrics.json</a> holds every number on this page.</p>
</body></html>
"""


def report_folder_ok(path) -> None:
    """Refuse to replace an existing folder that is not a report (or empty)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise FileExistsError(f"{os.fspath(p)} exists and is not a folder")
        entries = list(p.iterdir())
        if entries and not (p / "metrics.json").exists():
            raise FileExistsError(f"{os.fspath(p)} exists, is not empty and is not a softreg "
                                  "report: choose another folder")
