"""The hyper-parameters of :class:`~softreg.SoftmaxRegression` as plain data, and a light check.

Model files are read without importing scikit-learn (``softreg inspect`` starts fast), so
the check of saved hyper-parameters lives here, in plain Python. It mirrors the estimator's
``_parameter_constraints`` for every value a model file can hold (JSON scalars, a
``class_weight`` dict, a ``penalty_factor`` array); the tests keep the two in agreement, and
:data:`DEFAULTS` equal to the estimator's ``__init__`` defaults.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

#: the solvers ``solver`` accepts (the estimator's ``SOLVERS`` is this tuple)
SOLVERS = ("auto", "lbfgs", "newton", "gd", "sgd", "saga", "prox_newton", "prox_grad")

#: every hyper-parameter and its default
DEFAULTS: dict = {
    "alpha": 1e-4, "l1_ratio": 0.0, "grouped": False, "penalty_factor": None,
    "fit_intercept": True, "solver": "auto", "learning_rate": "auto", "batch_size": 64,
    "max_iter": 1000, "tol": None, "n_iter_no_change": 5, "class_weight": None,
    "warm_start": False, "random_state": None, "verbose": 0, "callback": None,
}


def _boolean(v) -> bool:
    return isinstance(v, bool | np.bool_)


def _real(v: Any, low: float, high: float | None = None, *, open_low: bool = False) -> bool:
    if not isinstance(v, Real):
        return False
    x: Any = v
    if not (x > low if open_low else x >= low):
        return False
    return high is None or x <= high


def _array_like(v) -> bool:
    return (hasattr(v, "__len__") or hasattr(v, "shape") or hasattr(v, "__array__")) \
        and not np.isscalar(v)


def _integral(v: Any, low: int, high: int | None = None) -> bool:
    x: Any = v
    return isinstance(v, Integral) and x >= low and (high is None or x <= high)


_CHECKS = {
    "alpha": (lambda v: _real(v, 0), "a real number >= 0"),
    "l1_ratio": (lambda v: _real(v, 0, 1), "a real number in [0, 1]"),
    "grouped": (_boolean, "a boolean"),
    "penalty_factor": (lambda v: v is None or _array_like(v), "an array-like or None"),
    "fit_intercept": (_boolean, "a boolean"),
    "solver": (lambda v: isinstance(v, str) and v in SOLVERS, f"one of {set(SOLVERS)}"),
    "learning_rate": (lambda v: v == "auto" if isinstance(v, str) else _real(v, 0, open_low=True),
                      "a real number > 0 or 'auto'"),
    "batch_size": (lambda v: _integral(v, 1), "an int >= 1"),
    "max_iter": (lambda v: _integral(v, 1), "an int >= 1"),
    "tol": (lambda v: v is None or _real(v, 0), "a real number >= 0 or None"),
    "n_iter_no_change": (lambda v: _integral(v, 1), "an int >= 1"),
    "class_weight": (lambda v: v is None or isinstance(v, dict) or v == "balanced",
                     "a dict, 'balanced' or None"),
    "warm_start": (_boolean, "a boolean"),
    "random_state": (lambda v: v is None or _integral(v, 0, 2 ** 32 - 1),
                     "an int in [0, 4294967295] or None"),
    "verbose": (lambda v: _boolean(v) or _integral(v, 0), "an int >= 0 or a boolean"),
    "callback": (lambda v: v is None or callable(v), "a callable or None"),
}


def check(params: dict) -> None:
    """Raise ValueError naming the first hyper-parameter in ``params`` with an invalid value.

    Parameters
    ----------
    params : dict
        Some of the hyper-parameters (names from :data:`DEFAULTS`), as a model file holds
        them once decoded.
    """
    for key, value in params.items():
        ok, what = _CHECKS[key]
        if not ok(value):
            raise ValueError(f"The {key!r} parameter of SoftmaxRegression must be {what}. "
                             f"Got {value!r} instead.")
