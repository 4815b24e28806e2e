"""NumPy values as JSON's Python values: the one helper report, inference, CLI and model
files share."""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python scalar and an ndarray as nested lists; else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def json_default(obj: Any) -> Any:
    """``json.dumps(..., default=json_default)``: NumPy values, else TypeError naming the type."""
    if isinstance(obj, np.generic | np.ndarray):
        return plain(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
