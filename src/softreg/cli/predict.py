"""``softreg predict MODEL DATA [-o OUT] [--proba] [--keep COLS]``: labels (and probabilities)."""

from __future__ import annotations

import sys

import numpy as np

from . import _data, _intervals
from ._base import UsageError, emit_json, json_option, show_progress
from ._model import load_model, model_input, predict_log_proba
from ._types import column_list


def add_parser(sub, parents) -> None:
    p = sub.add_parser("predict", parents=parents, help="predict the labels of a data file",
                       description="Predict a label for every row of DATA. Columns are "
                       "matched to the model's features by name; others are ignored. "
                       "Reads standard input and writes standard output with '-': "
                       "cat new.csv | softreg predict model.softreg - --format csv")
    p.add_argument("model", metavar="MODEL", help="model file written by 'softreg fit'")
    p.add_argument("data", metavar="DATA",
                   help="rows to predict: CSV, TSV, Parquet or LibSVM file (format from the "
                   "extension, or --format); '-' reads standard input")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write a .csv or .parquet file; '-' or no -o: CSV on standard output")
    p.add_argument("--format", choices=tuple(_data.FORMATS), default=None,
                   help="format of DATA, overriding its extension (needed for '-')")
    p.add_argument("--proba", action="store_true",
                   help="add one column of probabilities per class, proba_<class>")
    p.add_argument("--interval", type=_intervals.level, metavar="LEVEL",
                   help="with the probabilities, add proba_<class>_lower/_upper: a LEVEL "
                   "(e.g. 0.95) confidence interval of each (delta method on the logit "
                   "scale; needs a model fitted with --infer; implies --proba)")
    p.add_argument("--keep", type=column_list, default=None, metavar="COL[,COL...]",
                   help="copy these columns of DATA (e.g. an id) into the output, before "
                   "the predictions, values unchanged")
    json_option(p)
    p.set_defaults(run=run)


def run(args) -> int:
    out = None if args.output == _data.STDIO else args.output
    if out is not None and not out.lower().endswith((".csv", ".parquet")):
        raise UsageError(f"--output {out!r}: use a .csv or .parquet file name, or '-'")
    model, header = load_model(args.model)
    kept = None
    with _data.staged(args.data, args.format, keep=bool(args.keep)) as local:
        if args.keep:  # first: a wrong name fails before the work
            kept = _data.kept_columns(local, args.keep)
        X, ds = model_input(model, local, progress=show_progress(args))
    log_proba = predict_log_proba(model, X)
    labels = model.classes_[np.argmax(log_proba, axis=1)]
    proba = np.exp(log_proba)
    bounds = None
    if args.interval is not None:
        args.proba = True
        bounds = _intervals.probability_intervals(header, X, args.interval, args.model)
    if out is None and args.json:
        doc = {"classes": model.classes_.tolist(), "labels": labels.tolist()}
        if args.proba:
            doc["probabilities"] = proba.tolist()
        if bounds is not None:
            doc["interval"] = {"level": args.interval, "lower": bounds[0].tolist(),
                               "upper": bounds[1].tolist()}
        if kept is not None:
            doc["kept"] = {c: kept[c].tolist() for c in kept.columns}
        emit_json(doc)
        return 0
    frame = table(labels, proba if args.proba else None, model.classes_, kept)
    if bounds is not None:
        frame = _intervals.add_interval_columns(frame, bounds[0], bounds[1], model.classes_)
    if out is None:
        frame.to_csv(sys.stdout, index=False)
        return 0
    from .._atomic import atomic_write

    with atomic_write(out, "wb") as fh:
        if out.lower().endswith(".parquet"):
            frame.to_parquet(fh, index=False)
        else:
            frame.to_csv(fh, index=False)
    if args.json:
        emit_json({"output": out, "n_samples": int(ds.n_samples)})
    else:
        print(f"wrote {ds.n_samples} predictions to {out}", file=sys.stderr)
    return 0


def table(labels, proba, classes, kept=None):
    """DataFrame: the ``kept`` columns, a ``label`` column and, with proba, ``proba_<class>``.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes) or None
    classes : ndarray of shape (n_classes,)
    kept : DataFrame with n_samples rows, optional
        Columns passed through from the input (--keep).
    """
    import pandas as pd

    frame = pd.DataFrame({"label": labels})
    if proba is not None:
        for k, c in enumerate(classes):
            frame[f"proba_{c}"] = proba[:, k]
    if kept is None:
        return frame
    clash = [c for c in kept.columns if c in frame.columns]
    if clash:
        raise UsageError(f"--keep {', '.join(clash)}: the output already has a column of "
                         "that name")
    return pd.concat([kept.reset_index(drop=True), frame], axis=1)
