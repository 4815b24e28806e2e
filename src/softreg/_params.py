"""What the estimator, cross-validation, inference and export share about a model.

Package-internal functions (no estimator import): the datafit for an estimator's data,
its penalty, and the conversion between the solvers' K-column parameters (W (d, K),
b (K,)) and scikit-learn's ``coef_`` / ``intercept_`` (one row for two classes).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length

from ._objective import SoftmaxObjective
from ._targets import (
    apply_class_weights,
    check_soft_targets,
    check_weights,
    class_weights,
    encode_labels,
    is_soft_target,
)
from .penalties import Penalty


def build_datafit(X, y, sample_weight, *, fit_intercept: bool, class_weight=None,
                  classes=None, kernel: str = "auto") -> tuple[SoftmaxObjective, np.ndarray]:
    """Validate y and the weights and return (datafit on (X, y, s), classes).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d), validated
    y : labels of shape (n,) or soft targets of shape (n, K)
    sample_weight : array-like of shape (n,) or None
    fit_intercept : bool
    class_weight : dict, "balanced" or None (folded into the sample weights)
    classes : ndarray of shape (K,) or None: all classes (a stream's first batch)
    kernel : {"auto", "fast", "reference"}, the datafit's implementation
        (:func:`softreg._objective.resolve_kernel`)
    """
    if y is None:
        raise ValueError("SoftmaxRegression requires y to be passed, but the target y is None")
    n = X.shape[0]
    check_consistent_length(X, y)
    if is_soft_target(y):
        found, Y = check_soft_targets(y, None if classes is None else len(classes),
                                      dtype=X.dtype)
        classes_ = found if classes is None else np.asarray(classes)
        codes = None
    else:
        classes_, codes = encode_labels(y, classes)
        Y = None
    if len(classes_) < 2:
        raise ValueError("SoftmaxRegression needs samples of at least 2 classes in y; "
                         f"got only one class: {classes_[:1].tolist()[0]!r}")
    s = check_weights(sample_weight, X, n, normalize=True)  # the fit is scale-free in s
    weighted = s @ Y if Y is not None else \
        np.bincount(np.asarray(codes), weights=s, minlength=len(classes_))
    if np.count_nonzero(weighted > 0) < 2 and classes is None:
        only = classes_[[np.argmax(weighted)]].tolist()[0]  # 1, not np.int64(1)
        raise ValueError("SoftmaxRegression needs at least 2 classes with positive sample "
                         f"weight; only class {only!r} has any")
    if class_weight is not None:
        cw = class_weights(class_weight, classes_, weighted)
        s, Yw = apply_class_weights(cw, s, codes=codes, Y=Y)
        Y = Yw if Y is not None else None
        if not np.any(s > 0):
            raise ValueError("class_weight leaves every sample with zero weight")
    datafit = SoftmaxObjective(X, y=codes, Y=Y, sample_weight=s, fit_intercept=fit_intercept,
                               n_classes=len(classes_), kernel=kernel)
    return datafit, classes_


def model_penalty(model) -> Penalty:
    """The penalty of a SoftmaxRegression's parameters (alpha; l1_ratio, grouped and
    penalty_factor where it has them)."""
    return Penalty(alpha=float(model.alpha), l1_ratio=float(getattr(model, "l1_ratio", 0.0)),
                   grouped=bool(getattr(model, "grouped", False)),
                   penalty_factor=getattr(model, "penalty_factor", None))


def coef_intercept(W: np.ndarray, b: np.ndarray | None, dtype,
                   centre_W: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's (coef_, intercept_) from W (d, K) and b (K,) or None, in ``dtype``.

    (W, b) is centred across classes first (the probabilities do not change); two
    classes give one row, the second class's logit minus the first's. ``centre_W=False``
    keeps W as fitted (with an L1 part centring would change the penalty's value).
    """
    K = W.shape[1]
    if centre_W:
        W = W - W.mean(axis=1, keepdims=True)
    b = np.zeros(K) if b is None else b - b.mean()
    if K == 2:
        return (W[:, 1] - W[:, 0])[None, :].astype(dtype), np.array([b[1] - b[0]], dtype=dtype)
    return np.ascontiguousarray(W.T, dtype=dtype), b.astype(dtype)


def full_params(model) -> tuple[np.ndarray, np.ndarray]:
    """(W (d, K), b (K,)) in the K-column form, float64, from a fitted model's coef_ and
    intercept_ (the inverse of :func:`coef_intercept` up to centring)."""
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if len(model.classes_) == 2:
        return np.column_stack([-coef[0] / 2, coef[0] / 2]), \
            np.array([-intercept[0] / 2, intercept[0] / 2])
    return coef.T.copy(), intercept.copy()
