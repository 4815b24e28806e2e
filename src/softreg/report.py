"""Metrics and plots for evaluating a classifier, and a report folder that shows them.

:func:`classification_metrics` computes, from labels and predicted log-probabilities,
accuracy, log-loss, Brier score, per-class precision/recall/F1 and the confusion matrix
(with :mod:`sklearn.metrics`), the majority-class baseline, and a reliability table
(top-label confidence in bins against the accuracy in each bin, with a 95% Wilson interval
per bin and the expected calibration error). :func:`write_report` writes ``metrics.json``,
three PNG plots (``confusion_matrix.png``, ``calibration.png``, ``loss_curve.png``) and
``index.html``: a header with the data, the model and the baseline, then the plots at
their native size in a grid. matplotlib is imported only for the plots
(``pip install softreg[cli]``).
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import numpy as np

from ._jsonable import plain as _plain

N_BINS = 10
#: z of a two-sided 95% interval
Z95 = 1.959963984540054
#: figures are drawn at this many pixels per inch and shown at their native size
DPI = 100


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
        (rows true, columns predicted, counts), ``baseline`` (the majority class, its
        accuracy, and the log-loss of predicting the class frequencies for every row),
        ``calibration`` (list of bins with lower, upper, count, mean_confidence, accuracy,
        accuracy_low, accuracy_high: a 95% Wilson interval) and
        ``expected_calibration_error``.
    """
    from sklearn.metrics import (
        accuracy_score,
        brier_score_loss,
        confusion_matrix,
        precision_recall_fscore_support,
    )

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
    codes = np.arange(K)
    cm = confusion_matrix(t, pred, labels=codes)
    precision, recall, f1, support = precision_recall_fscore_support(
        t, pred, labels=codes, zero_division=0)
    correct = pred == t
    confidence = proba[np.arange(n), pred]
    bins = _calibration_bins(confidence, correct, n_bins)
    ece = sum(b["count"] / n * abs(b["accuracy"] - b["mean_confidence"])
              for b in bins if b["count"])
    return {
        "n_samples": int(n),
        "accuracy": float(accuracy_score(t, pred)),
        # from the log-probabilities themselves: sklearn's log_loss takes probabilities and
        # clips them at machine epsilon, which caps a confidently wrong row's loss at ~36
        "log_loss": float(-log_proba[np.arange(n), t].mean()),
        "brier": float(brier_score_loss(t, proba, labels=codes, scale_by_half=False)),
        "macro_f1": float(np.mean(f1)),
        "per_class": [{"class": _plain(c), "precision": float(p), "recall": float(r),
                       "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, support,
                                               strict=True)],
        "confusion_matrix": cm.tolist(),
        "baseline": majority_baseline(t, classes),
        "calibration": bins,
        "expected_calibration_error": float(ece),
    }


def majority_baseline(codes: np.ndarray, classes: np.ndarray) -> dict:
    """What a model without features scores on these rows.

    Parameters
    ----------
    codes : ndarray of int of shape (n_samples,)
        True class indices into ``classes``.
    classes : ndarray of shape (n_classes,)

    Returns
    -------
    dict
        ``class`` (the most frequent class), ``accuracy`` (always predicting it) and
        ``log_loss`` (predicting the classes' frequencies in these rows for every row:
        the best constant prediction, an upper bound any useful model beats).
    """
    counts = np.bincount(codes, minlength=len(classes))
    freq = counts / counts.sum()
    k = int(np.argmax(counts))
    present = counts > 0
    return {"class": _plain(classes[k]), "accuracy": float(freq[k]),
            "log_loss": float(-(freq[present] * np.log(freq[present])).sum())}


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (``(0, 1)`` when ``n`` is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return float(low), float(high)


def _calibration_bins(confidence, correct, n_bins: int) -> list[dict]:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = which == b
        count = int(mask.sum())
        low, high = wilson_interval(int(correct[mask].sum()), count)
        out.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                    "mean_confidence": float(confidence[mask].mean()) if count else None,
                    "accuracy": float(correct[mask].mean()) if count else None,
                    "accuracy_low": low if count else None,
                    "accuracy_high": high if count else None})
    return out


# -- plots --------------------------------------------------------------------------------------
#: width of a figure in one grid cell (inches at DPI): two cells side by side fit 1280 px
CELL_WIDTH = 5.6


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def confusion_width(n_classes: int) -> float:
    """Width in inches of the confusion matrix: one grid cell up to 12 classes, wider above
    (up to the page's full width), so that labels and counts keep a readable size."""
    return CELL_WIDTH if n_classes <= 12 else min(CELL_WIDTH + 0.3 * (n_classes - 12), 11.8)


def plot_confusion_matrix(metrics: dict, classes, path) -> None:
    """Confusion matrix: colour = share of each true class, text = count (and share)."""
    cm = np.asarray(metrics["confusion_matrix"])
    K = len(cm)
    names = [str(c) for c in classes]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    width = confusion_width(K)
    fig = _figure(width, width * 0.9)
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
    long = max(map(len, names)) > 3
    ax.set_xticks(ticks, names, rotation=45 if long else 0, ha="right" if long else "center")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix  (n = {metrics['n_samples']}, "
                 f"accuracy = {metrics['accuracy']:.3f})")
    fig.savefig(path)


def plot_calibration(metrics: dict, path) -> None:
    """Reliability diagram of the top-label confidence with 95% Wilson intervals per bin,
    and a histogram of the confidences below; the legend sits above the axes."""
    bins = metrics["calibration"]
    fig = _figure(CELL_WIDTH, 6.2)
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    lo = np.array([b["lower"] for b in bins])
    width = bins[0]["upper"] - bins[0]["lower"]
    filled = [b for b in bins if b["count"]]
    acc = np.array([b["accuracy"] for b in filled])
    conf = np.array([b["mean_confidence"] for b in filled])
    err = np.array([[a - b["accuracy_low"] for a, b in zip(acc, filled, strict=True)],
                    [b["accuracy_high"] - a for a, b in zip(acc, filled, strict=True)]])
    err = np.maximum(err, 0.0)  # rounding at 0% and 100%
    top.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    top.bar([b["lower"] for b in filled], acc, width=width, align="edge", color="#9ecae1",
            edgecolor="#3182bd", alpha=0.45, label="accuracy in bin")
    top.errorbar(conf, acc, yerr=err, fmt="o", color="#08519c", ecolor="#08519c",
                 capsize=3, ms=4, label="accuracy at mean confidence, 95% Wilson interval")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy (fraction correct)")
    top.set_title("Calibration (reliability diagram)\n"
                  f"expected calibration error = {metrics['expected_calibration_error']:.3f}")
    top.grid(alpha=0.3)
    counts = [b["count"] for b in bins]
    bottom.bar(lo, counts, width=width, align="edge", color="#bdbdbd", edgecolor="#636363")
    bottom.set_xlabel("confidence: predicted probability of the predicted class")
    bottom.set_ylabel("samples")
    bottom.set_yscale("log" if max(counts) > 50 * max(1, min(c for c in counts if c)) else
                      "linear")
    # outside the axes: it never covers a bar
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               fontsize=8, frameon=False)
    fig.savefig(path)


def plot_loss_curve(loss_curve, path, *, solver: str | None = None) -> None:
    """Training objective J per iteration, and below it J minus its final value (log scale)."""
    curve = np.asarray(loss_curve, dtype=float)
    title = "Training loss" + (f"  (solver: {solver})" if solver else "")
    if curve.size == 0:
        fig = _figure(CELL_WIDTH, 3.0)
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no training loss curve recorded", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        fig.savefig(path)
        return
    fig = _figure(CELL_WIDTH, 5.6)
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


#: most (class, feature) lines drawn on a coefficient path: beyond it, the largest ones
MAX_PATH_LINES = 500
#: features named at the right end of a coefficient path plot
PATH_LABELS = 6


def plot_coefficient_path(alphas, coefs, path, *, chosen=None, classes=None,
                          feature_names=None) -> None:
    """Coefficients against alpha (log scale, decreasing to the right), like glmnet's plot.

    One line per (class, feature) that is nonzero somewhere on the path, coloured by class;
    the top axis counts the active features; the chosen alphas are dashed vertical lines.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), positive
    coefs : array-like of shape (n_alphas, n_classes, n_features)
        ``RegularizationPath.coefs`` (the estimator's ``coef_`` at each alpha).
    path : path-like
        The PNG file to write.
    chosen : dict of str to float, optional
        Alphas to mark, by name (e.g. ``{"best": 0.01, "1se": 0.03}``).
    classes : sequence of length n_classes, optional
    feature_names : sequence of length n_features, optional
    """
    a = np.asarray(alphas, dtype=float).ravel()
    c = np.asarray(coefs, dtype=float)
    if c.ndim != 3 or c.shape[0] != a.size:
        raise ValueError(f"coefs must have shape (n_alphas={a.size}, n_classes, n_features), "
                         f"got {c.shape}")
    if a.size == 0 or not np.all(np.isfinite(a) & (a > 0)):
        raise ValueError("alphas must be a non-empty list of positive numbers")
    n_alphas, K, d = c.shape
    classes = [str(k) for k in (range(K) if classes is None else classes)]
    if K == 1 and len(classes) == 2:  # a binary model's one row: the second class vs the first
        classes = [f"{classes[1]} vs {classes[0]}"]
    if len(classes) != K:
        raise ValueError(f"{len(classes)} classes for coefficients of {K} classes")
    names = [f"x{j + 1}" for j in range(d)] if feature_names is None else \
        [str(n) for n in feature_names]
    order = np.argsort(-a, kind="stable")
    a, c = a[order], c[order]
    peak = np.abs(c).max(axis=0)  # (K, d)
    lines = np.argsort(-peak, axis=None, kind="stable")
    lines = lines[peak.ravel()[lines] > 0][:MAX_PATH_LINES]
    fig = _figure(CELL_WIDTH, 4.2)
    ax = fig.add_subplot()
    colours = [f"C{k % 10}" for k in range(K)]
    for flat in lines:
        k, j = divmod(int(flat), d)
        ax.plot(a, c[:, k, j], color=colours[k], lw=1.0, alpha=0.85)
    for flat in lines[:PATH_LABELS]:
        k, j = divmod(int(flat), d)
        ax.annotate(f"{names[j][:20]} ({classes[k][:12]})", xy=(a[-1], c[-1, k, j]),
                    xytext=(3, 0), textcoords="offset points", fontsize=7, va="center",
                    color=colours[k])
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlim(a[0], a[-1])  # the largest alpha (fewest features) on the left, as glmnet
    for i, (name, value) in enumerate((chosen or {}).items()):
        ax.axvline(value, color="black", ls="--" if i == 0 else ":", lw=1.0,
                   label=f"{name}: alpha={value:.3g}")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[k], label=f"class {classes[k][:20]}")
               for k in range(min(K, 10))]
    handles += ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.set_xlabel("alpha (log scale)")
    ax.set_ylabel("coefficient")
    top = ax.twiny()
    top.set_xscale("log")
    top.set_xlim(ax.get_xlim())
    active = np.count_nonzero(np.any(c != 0, axis=1), axis=1)
    ticks = np.unique(np.linspace(0, n_alphas - 1, min(n_alphas, 6)).round().astype(int))
    top.set_xticks(a[ticks], [str(int(active[i])) for i in ticks])
    top.minorticks_off()
    top.set_xlabel("active features")
    ax.set_title("Coefficient path", fontsize=10)
    ax.grid(alpha=0.3)
    fig.savefig(path)


def plot_regularization_path(reg_path, path, *, chosen=None, feature_names=None) -> None:
    """:func:`plot_coefficient_path` of a :class:`softreg.RegularizationPath`."""
    plot_coefficient_path(reg_path.alphas, reg_path.coefs, path, chosen=chosen,
                          classes=reg_path.classes, feature_names=feature_names)


# -- the report folder ------------------------------------------------------------------------
PLOTS = {
    "confusion_matrix.png": "Confusion matrix: rows are the true classes, columns the "
                            "predicted ones; the colour is the share of each true class.",
    "calibration.png": "Calibration: for rows predicted with a given confidence, how often the "
                       "prediction was right; a calibrated model follows the diagonal.",
    "loss_curve.png": "Training loss: the objective per iteration, and its distance to the "
                      "final value on a log scale.",
}


PATH_PLOT = {"coefficient_path.png": "Coefficient path: each coefficient against alpha, "
                                      "from the largest alpha (no feature active) to the "
                                      "smallest; dashed lines mark the alpha(s) chosen by "
                                      "cross-validation."}


def write_report(folder, metrics: dict, classes, *, loss_curve=(), model_info: dict | None = None,
                 data_info: dict | None = None, title: str = "softreg evaluation",
                 coef_path: dict | None = None) -> list[str]:
    """Write metrics.json, the three plots and index.html into an existing ``folder``.

    Parameters
    ----------
    folder : path-like
    metrics : dict
        From :func:`classification_metrics`.
    classes : array-like of shape (n_classes,)
    loss_curve : sequence of float
        The training objective per iteration.
    model_info : dict, optional
        What to say about the model (solver, alpha, "standardised features", ...).
    data_info : dict, optional
        What to say about the evaluated data (its file, ...).
    title : str
    coef_path : dict, optional
        ``alphas``, ``coefs`` (n_alphas, n_classes, n_features) and optionally ``chosen``
        and ``feature_names``: adds ``coefficient_path.png``
        (:func:`plot_coefficient_path`).

    Returns
    -------
    list of str
        The file names written.
    """
    folder = Path(folder)
    info = model_info or {}
    (folder / "metrics.json").write_text(
        json.dumps({"metrics": metrics, "model": info, "data": data_info or {}}, indent=2,
                   allow_nan=False) + "\n")
    plot_confusion_matrix(metrics, classes, folder / "confusion_matrix.png")
    plot_calibration(metrics, folder / "calibration.png")
    plot_loss_curve(loss_curve, folder / "loss_curve.png", solver=info.get("solver"))
    plots = dict(PLOTS)
    if coef_path is not None:
        plot_coefficient_path(coef_path["alphas"], coef_path["coefs"],
                              folder / "coefficient_path.png",
                              chosen=coef_path.get("chosen"), classes=classes,
                              feature_names=coef_path.get("feature_names"))
        plots |= PATH_PLOT
    sizes = {name: png_size(folder / name) for name in plots}
    (folder / "index.html").write_text(_html(metrics, info, data_info or {}, title, sizes,
                                             plots), encoding="utf-8")
    return ["metrics.json", *plots, "index.html"]


def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels of a PNG file, from its header."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


_CSS = """
body { font-family: system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 1232px;
       padding: 16px 24px; box-sizing: border-box; }
h1 { font-size: 1.5em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.05em; margin: 0 0 0.4em; }
.facts { display: grid; gap: 12px;
         grid-template-columns: repeat(auto-fit, minmax(min(260px, 100%), 1fr)); }
.facts section, .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
.facts dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
.facts dt { color: #555; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; gap: 12px; margin: 16px 0;
         grid-template-columns: repeat(auto-fit, minmax(min(170px, 100%), 1fr)); }
.card .value { font-size: 1.6em; font-variant-numeric: tabular-nums; }
.card .note { color: #555; font-size: 0.85em; }
.grid { display: grid; gap: 16px; align-items: start;
        grid-template-columns: repeat(auto-fill, minmax(min(570px, 100%), 1fr)); }
.wide { grid-column: 1 / -1; }
figure { margin: 0; }
img { display: block; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; margin-top: 4px; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: right;
         font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } td:first-child { text-align: left; }
"""


def _dl(pairs) -> str:
    e = html.escape
    return "<dl>" + "".join(f"<dt>{e(str(k))}</dt><dd>{e(str(v))}</dd>" for k, v in pairs
                            if v is not None) + "</dl>"


def _html(metrics: dict, info: dict, data: dict, title: str, sizes: dict,
          plots: dict | None = None) -> str:
    e = html.escape
    base = metrics["baseline"]
    model_facts = [(k, v) for k, v in info.items() if isinstance(v, str | int | float)]
    data_facts = [(k, v) for k, v in data.items() if isinstance(v, str | int | float)]
    data_facts += [("rows evaluated", metrics["n_samples"]),
                   ("classes", len(metrics["per_class"]))]
    base_facts = [("majority class", base["class"]),
                  ("its accuracy", f"{base['accuracy']:.4f}"),
                  ("log-loss of the class frequencies", f"{base['log_loss']:.4f}")]
    cards = [("accuracy", f"{metrics['accuracy']:.4f}", f"baseline {base['accuracy']:.4f}"),
             ("log-loss", f"{metrics['log_loss']:.4f}", f"baseline {base['log_loss']:.4f}"),
             ("macro F1", f"{metrics['macro_f1']:.4f}", "mean of the per-class F1"),
             ("Brier score", f"{metrics['brier']:.4f}", "squared error of the probabilities"),
             ("calibration error", f"{metrics['expected_calibration_error']:.4f}",
              "expected (ECE), 10 bins")]
    card_html = "".join(f'<div class="card"><div>{e(k)}</div><div class="value">{e(v)}</div>'
                        f'<div class="note">{e(n)}</div></div>' for k, v, n in cards)
    per_class = "".join(
        f"<tr><td>{e(str(r['class']))}</td><td>{r['precision']:.3f}</td>"
        f"<td>{r['recall']:.3f}</td><td>{r['f1']:.3f}</td><td>{r['support']}</td></tr>"
        for r in metrics["per_class"])
    figures = []
    for name, cap in (PLOTS if plots is None else plots).items():
        w, h = sizes[name]
        wide = ' class="wide"' if w > CELL_WIDTH * DPI + 1 else ""
        figures.append(f'<figure{wide}><img src="{name}" width="{w}" height="{h}" '
                       f'alt="{e(cap.split(":")[0])}"><figcaption>{e(cap)}</figcaption>'
                       "</figure>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>{_CSS}</style></head><body>
<header>
<h1>{e(title)}</h1>
<div class="facts">
<section><h2>Data</h2>{_dl(data_facts)}</section>
<section><h2>Model</h2>{_dl(model_facts)}</section>
<section><h2>Baseline (no features)</h2>{_dl(base_facts)}</section>
</div>
</header>
<div class="cards">{card_html}</div>
<div class="grid">
{"".join(figures)}
<section><h2>Per class</h2>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
{per_class}</table></section>
</div>
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
