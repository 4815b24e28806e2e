"""``predict --interval LEVEL``: confidence intervals of the predicted probabilities.

The intervals come from the inference result stored in the model file by ``fit --infer``
(:meth:`softreg.inference.InferenceResult.get_prediction`: the delta method on the logit
scale of each probability). A model fitted with ``--standardize`` stored its inference on
the standardised features, so the new rows are standardised the same way first.
"""

from __future__ import annotations

import argparse

import numpy as np

from ._base import CLIError


def level(text: str) -> float:
    """argparse type of ``--interval``: a confidence level strictly between 0 and 1."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a confidence level such as 0.95, got "
                                         f"{text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a confidence level strictly between 0 "
                                         f"and 1 (such as 0.95), got {text!r}")
    return v


def probability_intervals(header: dict, X, level: float, model_path: str):
    """(lower, upper), each of shape (n_samples, n_classes), for the rows X of the model."""
    from .._inference_result import InferenceResult

    extra = header.get("extra", {})
    if "inference" not in extra:
        raise CLIError(f"--interval needs a model fitted with --infer; {model_path} has no "
                       "stored inference (refit it with: softreg fit ... --infer)")
    result = InferenceResult.from_dict(extra["inference"])
    cli = extra.get("cli", {})
    if cli.get("standardized"):
        mean, scale = cli.get("feature_mean"), cli.get("feature_scale")
        if mean is None or scale is None:
            raise CLIError(f"{model_path} was fitted with --standardize but does not record "
                           "the feature means its inference needs: refit it to use --interval")
        X = _standardize(X, np.asarray(mean, dtype=np.float64),
                         np.asarray(scale, dtype=np.float64))
    ci = result.get_prediction(X).conf_int(1 - level)
    return ci[..., 0], ci[..., 1]


def _standardize(X, mean, scale):
    import scipy.sparse as sp

    if hasattr(X, "columns"):
        return (X - mean) / scale
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return (X - mean) / scale


def add_interval_columns(frame, lower, upper, classes):
    """Insert ``proba_<c>_lower`` and ``proba_<c>_upper`` right after each ``proba_<c>``."""
    columns = []
    for col in frame.columns:
        columns.append(col)
        if col.startswith("proba_"):
            k = [f"proba_{c}" for c in classes].index(col)
            frame[f"{col}_lower"] = lower[:, k]
            frame[f"{col}_upper"] = upper[:, k]
            columns += [f"{col}_lower", f"{col}_upper"]
    return frame[columns]
