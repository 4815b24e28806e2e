"""``softreg demo``: train, evaluate and report on a data set that ships with scikit-learn."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._base import CLIError, emit_json, fit_progress, json_option
from ._types import non_negative_float

DATASETS = {"digits": "load_digits", "wine": "load_wine", "iris": "load_iris",
            "breast_cancer": "load_breast_cancer"}


def add_parser(sub, parents) -> None:
    p = sub.add_parser("demo", parents=parents, help="train and evaluate on a bundled data set",
                       description="Split a scikit-learn data set into train.csv and test.csv, "
                       "fit a model on standardised features, evaluate it on the test rows and "
                       "write model.softreg and a report/ folder into OUT.")
    p.add_argument("--out", default="softreg-demo", metavar="DIR",
                   help="folder to write (default %(default)s)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="digits",
                   help="scikit-learn data set to use (default %(default)s)")
    p.add_argument("--alpha", type=non_negative_float, default=1e-3,
                   help="L2 penalty (default %(default)s)")
    json_option(p)
    p.set_defaults(run=run)


def _check_out(path: Path) -> None:
    if path.exists() and (not path.is_dir() or (any(path.iterdir())
                                                 and not (path / "model.softreg").exists())):
        raise CLIError(f"{path} exists and is not a softreg demo folder: choose another --out")


def run(args) -> int:
    import pandas as pd
    import sklearn.datasets
    from sklearn.model_selection import train_test_split

    from .._atomic import atomic_folder
    from ..estimator import SoftmaxRegression
    from ..model_file import read_header, save
    from .evaluate import evaluate, metrics_text, write_report_folder
    from .fit import fold_standardization, scale_info, standardizer

    out = Path(args.out)
    _check_out(out)
    bunch = getattr(sklearn.datasets, DATASETS[args.dataset])(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "label"})
    if hasattr(bunch, "target_names") and args.dataset != "digits":
        frame["label"] = np.asarray(bunch.target_names)[frame["label"].to_numpy()]
    train, test = train_test_split(frame, test_size=0.25, random_state=0,
                                   stratify=frame["label"])
    features = [c for c in frame.columns if c != "label"]
    Xtr = train[features].to_numpy(dtype=np.float64)
    mean, scale = standardizer(Xtr)
    callback, close = fit_progress(args, 1000, 1e-10)
    model = SoftmaxRegression(alpha=args.alpha, callback=callback)
    try:
        model.fit(pd.DataFrame((Xtr - mean) / scale, columns=features), train["label"].to_numpy())
    finally:
        close()
    model.callback = None
    fold_standardization(model, mean, scale)
    with atomic_folder(out) as tmp:
        train.to_csv(tmp / "train.csv", index=False)
        test.to_csv(tmp / "test.csv", index=False)
        save(model, tmp / "model.softreg", extra={"cli": {
            "data": "train.csv", "target": "label", "standardized": True,
            "n_samples": len(train), "demo": args.dataset, **scale_info(scale)}})
        header = read_header(tmp / "model.softreg")
        metrics = evaluate(model, test[features], test["label"].to_numpy(), "test.csv")
        write_report_folder(str(tmp / "report"), metrics, model, header,
                            title=f"softreg demo: {args.dataset} (test rows)",
                            data=f"test.csv ({args.dataset}, 25% held out)")
    summary = {"out": str(out), "dataset": args.dataset, "n_train": len(train),
               "n_test": len(test), "n_features": len(features),
               "classes": model.classes_.tolist(), "n_iter": model.n_iter_,
               "stop_reason": model.stop_reason_, "test_accuracy": metrics["accuracy"],
               "test_log_loss": metrics["log_loss"],
               "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())}
    if args.json:
        emit_json(summary)
        return 0
    print(f"softreg demo: {args.dataset} ({len(frame)} rows, {len(features)} features, "
          f"{len(model.classes_)} classes), 75% train / 25% test")
    print(f"fitted on standardised features: {model.n_iter_} iterations, "
          f"{model.stop_reason_}")
    print()
    print(f"test set ({len(test)} rows):")
    print(metrics_text(metrics))
    print()
    print(f"wrote {out}/: train.csv, test.csv, model.softreg, report/ "
          f"(open {os.path.join(str(out), 'report', 'index.html')})")
    print("next, try:")
    print(f"  softreg inspect {out}/model.softreg")
    print(f"  softreg predict {out}/model.softreg {out}/test.csv --proba -o predictions.csv")
    print(f"  softreg evaluate {out}/model.softreg {out}/test.csv --target label")
    print(f"  softreg fit {out}/train.csv --target label --standardize -o model.softreg")
    return 0
