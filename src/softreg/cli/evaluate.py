"""``softreg evaluate MODEL DATA --target COL [--report DIR]``: metrics and a report."""

from __future__ import annotations

import os

import numpy as np

from ._base import emit_json, format_table, json_option, show_progress
from ._data import FORMATS, staged
from ._model import load_model, model_input, predict_log_proba


def add_parser(sub, parents) -> None:
    p = sub.add_parser("evaluate", parents=parents, help="score a model on labelled data",
                       description="Accuracy, log-loss and per-class precision/recall/F1 of "
                       "MODEL on DATA; with --report, a folder with metrics.json, plots and "
                       "an HTML page.")
    p.add_argument("model", metavar="MODEL", help="model file written by 'softreg fit'")
    p.add_argument("data", metavar="DATA",
                   help="labelled rows: CSV, TSV, Parquet or LibSVM file (format from the "
                   "extension, or --format); '-' reads standard input")
    p.add_argument("-t", "--target", metavar="COL",
                   help="label column (tables; LibSVM files carry their labels)")
    p.add_argument("--format", choices=tuple(FORMATS), default=None,
                   help="format of DATA, overriding its extension (needed for '-')")
    p.add_argument("--report", metavar="DIR",
                   help="write a report folder: index.html, plots and metrics.json")
    json_option(p)
    p.set_defaults(run=run)


def evaluate(model, X, y, path: str) -> dict:
    from ..report import classification_metrics
    from ._values import match_labels

    y = match_labels(y, model.classes_, path)
    return classification_metrics(y, predict_log_proba(model, X), model.classes_)


def model_summary(model, header: dict) -> dict:
    cli = header.get("extra", {}).get("cli", {})
    solver = getattr(model, "solver_", None)
    info = {"classes": len(model.classes_), "features": int(model.n_features_in_),
            "alpha": model.alpha, "l1_ratio": model.l1_ratio, "solver": solver,
            "iterations": model.n_iter_,
            "stop_reason": model.stop_reason_}
    if cli.get("data"):  # extra.cli is validated by the loader
        info["trained on"] = cli["data"]
    if "standardized" in cli:
        info["standardised features"] = "yes (folded into the saved coefficients)" \
            if cli["standardized"] else "no"
    else:
        info["standardised features"] = "not recorded (not fitted by the softreg command)"
    return info


def write_report_folder(folder: str, metrics: dict, model, header: dict, title: str,
                        data: str | None = None) -> None:
    from .._atomic import atomic_folder
    from ..report import report_folder_ok, write_report

    report_folder_ok(folder)
    with atomic_folder(folder) as tmp:
        write_report(tmp, metrics, model.classes_, loss_curve=model.loss_curve_,
                     model_info=model_summary(model, header),
                     data_info={"file": data} if data else None, title=title,
                     coef_path=coefficient_path(model, header))


def coefficient_path(model, header: dict) -> dict | None:
    """The coefficient path ``fit --cv --l1-ratio`` stored in extra.cv, ready to plot."""
    cv = header.get("extra", {}).get("cv", {})  # validated by the loader
    if "path_coefs" not in cv or len(cv["path_coefs"][0]) != np.shape(model.coef_)[0]:
        return None
    chosen = {"best": cv["alpha_best"]} if "alpha_best" in cv else {}
    if "alpha_1se" in cv and cv["alpha_1se"] != cv.get("alpha_best"):
        chosen["1se"] = cv["alpha_1se"]
    names = getattr(model, "feature_names_in_", None)
    return {"alphas": cv["alphas"], "coefs": cv["path_coefs"], "chosen": chosen,
            "feature_names": None if names is None else [str(n) for n in names]}


def run(args) -> int:
    if args.report:
        from ..report import report_folder_ok

        report_folder_ok(args.report)  # fail before the work
    model, header = load_model(args.model)
    with staged(args.data, args.format) as local:
        X, ds = model_input(model, local, target=args.target, need_target=True,
                            progress=show_progress(args), quiet=args.json)
    metrics = evaluate(model, X, ds.y, "<stdin>" if args.data == "-" else args.data)
    if args.report:
        write_report_folder(args.report, metrics, model, header,
                            title=f"softreg: {os.path.basename(args.model)} on "
                                  f"{os.path.basename(args.data)}",
                            data="<stdin>" if args.data == "-" else args.data)
    if args.json:
        emit_json({"metrics": metrics, "report": args.report})
    else:
        print(metrics_text(metrics))
        if args.report:
            print(f"report: {os.path.join(args.report, 'index.html')}")
    return 0


def metrics_text(m: dict) -> str:
    lines = [f"samples   {m['n_samples']}", f"accuracy  {m['accuracy']:.4f}",
             f"log-loss  {m['log_loss']:.4f}", f"macro F1  {m['macro_f1']:.4f}", ""]
    from ._display import printable

    rows = [[printable(r["class"]), r["precision"], r["recall"], r["f1"], r["support"]]
            for r in m["per_class"]]
    lines.append(format_table(rows, ["class", "precision", "recall", "f1", "support"]))
    return "\n".join(lines)
