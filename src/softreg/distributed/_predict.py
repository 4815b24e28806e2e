"""Lazy predictions of a fitted model on Dask X (one task per partition)."""

from __future__ import annotations

import numpy as np

from ._data import _is_frame


def _predict_block(block, model, method: str, names):
    if names is not None:
        import pandas as pd

        block = pd.DataFrame(block, columns=list(names))
    return getattr(model, method)(block)


def predict_dask(model, X, method: str):
    """``model.<method>(X)`` for Dask X, as a lazy dask array (one task per partition).

    Returns
    -------
    dask array of shape (n,) for predict (and decision_function with two classes), else
    (n, n_classes)
    """
    import dask.array as da
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    names = None
    if _is_frame(X):
        names = [str(c) for c in X.columns]
        X = X.to_dask_array()
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array or dask DataFrame, got {type(X).__name__}")
    if X.shape[1] != model.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(model).__name__} is "
                         f"expecting {model.n_features_in_} features as input")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    K = len(model.classes_)
    one_d = method == "predict" or (method == "decision_function" and K == 2)
    if method == "predict":
        dtype = model.classes_.dtype
    else:
        dtype = model.coef_.dtype
    kwargs = dict(model=model, method=method, names=names, dtype=dtype, meta=np.empty(
        (0,) if one_d else (0, 0), dtype=dtype))
    if one_d:
        return X.map_blocks(_predict_block, drop_axis=1, **kwargs)
    return X.map_blocks(_predict_block, chunks=(X.chunks[0], (K,)), **kwargs)
