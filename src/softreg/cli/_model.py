"""Loading a model and lining a data file up with its features."""

from __future__ import annotations

import sys
import warnings

import numpy as np

from .. import model_file
from . import _data
from ._base import CLIError


def load_model(path: str):
    """(model, header) from a model file; a bad file raises ModelFileError."""
    return model_file.load_with_header(path)


def model_input(model, path: str, *, target: str | None = None, need_target: bool = False,
                progress: bool = False, quiet: bool = False):
    """(X for the model, Dataset): columns matched to the model's features by name.

    Missing features are an error; extra columns are ignored (named on stderr unless
    ``quiet``); columns in another order are reordered.
    """
    names = getattr(model, "feature_names_in_", None)
    kind = _data.data_kind(path)
    if kind == "libsvm":
        ds = _data.load(path, target=target, need_target=need_target, progress=progress,
                        n_features=model.n_features_in_)
        return ds.X, ds
    if names is None:
        raise CLIError(f"the model was trained without feature names (on LibSVM data), so "
                       f"the columns of {path} cannot be matched by name: give LibSVM data")
    ds = _data.load(path, target=target, need_target=need_target,
                    features=[str(n) for n in names], progress=progress)
    if ds.ignored and not quiet:
        print(f"note: ignoring columns not used by the model: {_data._names(ds.ignored)}",
              file=sys.stderr)
    import pandas as pd

    return pd.DataFrame(ds.X, columns=list(names)), ds


def predict_log_proba(model, X) -> np.ndarray:
    with warnings.catch_warnings():
        # a model with feature names applied to LibSVM (positional) data
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return model.predict_log_proba(X)
