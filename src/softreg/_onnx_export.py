"""ONNX export: :func:`to_onnx` and a skl2onnx converter for :class:`~softreg.SoftmaxRegression`.

The graph is ``probabilities = Softmax(X @ W + b)`` and ``label = classes[ArgMax(logits)]``
with W (d, K) and b (K,) in the K-column form (for two classes, the centred pair of
columns, so the probabilities equal ``predict_proba``). ``onnx`` and ``skl2onnx`` are
imported only when a conversion is asked for (``pip install softreg[onnx]``); this module
is named ``_onnx_export`` so that it never shadows the ``onnx`` package.
"""

from __future__ import annotations

import numbers
import sys

import numpy as np

from ._params import full_params

_ALIAS = "SoftregSoftmaxRegression"
_registered = False


def _require():
    try:
        import onnx  # noqa: F401
        import skl2onnx  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ONNX export needs the onnx and skl2onnx packages: "
                          "pip install 'softreg[onnx]'") from e


def register_onnx_converter() -> None:
    """Register the converter with skl2onnx (idempotent).

    :func:`to_onnx` calls this itself; call it before using ``skl2onnx.to_onnx`` or
    ``convert_sklearn`` directly on a Pipeline that contains a SoftmaxRegression.
    """
    global _registered
    if _registered:
        return
    _require()
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    from .estimator import SoftmaxRegression

    update_registered_converter(
        SoftmaxRegression, _ALIAS, calculate_linear_classifier_output_shapes, _convert,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    _registered = True


def _label_values(classes: np.ndarray) -> tuple[str, list]:
    """("int64" | "string", labels) for the ONNX label output."""
    if classes.dtype.kind in "US" or classes.dtype == object:
        if not all(isinstance(c, str) for c in classes):
            raise ValueError("ONNX labels must be all strings or all integers; got "
                             f"{classes[:5].tolist()}")
        return "string", [str(c) for c in classes]
    if classes.dtype == bool or np.issubdtype(classes.dtype, np.integer):
        return "int64", [int(c) for c in classes]
    if np.issubdtype(classes.dtype, np.floating) and np.all(classes == np.round(classes)):
        return "int64", [int(c) for c in classes]
    raise ValueError("ONNX labels must be strings or integers; this model has classes "
                     f"{classes[:5].tolist()}")


def _convert(scope, operator, container) -> None:
    """skl2onnx converter: outputs[0] = label (N,), outputs[1] = probabilities (N, K)."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import guess_proto_type

    model = operator.raw_operator
    proto = guess_proto_type(operator.inputs[0].type)
    if proto not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        proto = TensorProto.FLOAT
    np_dtype = np.float64 if proto == TensorProto.DOUBLE else np.float32
    W, b = full_params(model)
    K = W.shape[1]
    X = operator.inputs[0].full_name
    if operator.inputs[0].type.__class__.__name__ not in ("FloatTensorType", "DoubleTensorType"):
        cast = scope.get_unique_variable_name("X_cast")
        container.add_node("Cast", [X], [cast], to=proto,
                           name=scope.get_unique_operator_name("Cast"))
        X = cast
    w_name = scope.get_unique_variable_name("coef")
    b_name = scope.get_unique_variable_name("intercept")
    container.add_initializer(w_name, proto, list(W.shape), W.astype(np_dtype).ravel().tolist())
    container.add_initializer(b_name, proto, [K], b.astype(np_dtype).tolist())
    prod = scope.get_unique_variable_name("XW")
    logits = scope.get_unique_variable_name("logits")
    container.add_node("MatMul", [X, w_name], [prod], name=scope.get_unique_operator_name("MatMul"))
    container.add_node("Add", [prod, b_name], [logits], name=scope.get_unique_operator_name("Add"))
    container.add_node("Softmax", [logits], [operator.outputs[1].full_name], axis=1,
                       name=scope.get_unique_operator_name("Softmax"))
    index = scope.get_unique_variable_name("argmax")
    container.add_node("ArgMax", [logits], [index], axis=1, keepdims=0,
                       name=scope.get_unique_operator_name("ArgMax"))
    kind, labels = _label_values(np.asarray(model.classes_))
    options = container.get_options(model, dict(nocl=False))
    if options.get("nocl"):
        kind, labels = "int64", list(range(K))
    c_name = scope.get_unique_variable_name("classes")
    container.add_initializer(c_name, TensorProto.STRING if kind == "string"
                              else TensorProto.INT64, [K], labels)
    container.add_node("Gather", [c_name, index], [operator.outputs[0].full_name], axis=0,
                       name=scope.get_unique_operator_name("Gather"))


def to_onnx(model, *, n_features: int | None = None, dtype=np.float32,
            target_opset: int | None = None, zipmap: bool = False):
    """Convert a fitted SoftmaxRegression, or a Pipeline ending in one, to ONNX.

    Parameters
    ----------
    model : SoftmaxRegression or sklearn.pipeline.Pipeline
    n_features : int, optional
        Width of the input; default ``model.n_features_in_``.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Element type of the input ``X`` and of the probabilities.
    target_opset : int, optional
        ONNX opset; default skl2onnx's latest supported.
    zipmap : bool, default=False
        Return the probabilities as a list of {class: probability} maps (skl2onnx's
        classifier convention) instead of a tensor of shape (N, K).

    Returns
    -------
    onnx.ModelProto
        One input ``X`` of shape (N, n_features); outputs ``label`` of shape (N,) (int64
        or string) and ``probabilities`` of shape (N, K).
    """
    register_onnx_converter()
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from .estimator import SoftmaxRegression

    if n_features is None:
        n_features = getattr(model, "n_features_in_", None)
    if not isinstance(n_features, numbers.Integral):
        raise ValueError("to_onnx needs a fitted model (n_features_in_) or n_features")
    if np.dtype(dtype) == np.float64:
        tensor = DoubleTensorType([None, int(n_features)])
    elif np.dtype(dtype) == np.float32:
        tensor = FloatTensorType([None, int(n_features)])
    else:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return convert_sklearn(model, initial_types=[("X", tensor)],
                           options={SoftmaxRegression: {"zipmap": zipmap}},
                           target_opset=target_opset)


if "skl2onnx" in sys.modules:  # already imported by the user: make Pipelines convert at once
    try:
        register_onnx_converter()
    except ImportError:  # pragma: no cover
        pass
