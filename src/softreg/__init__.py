"""softreg: softmax (multinomial logistic) regression, correct by construction.

The public names are imported on first use (PEP 562), so ``import softreg`` and the
``softreg`` console script's ``--help`` do not pay for scikit-learn, numba or pandas.
"""

from importlib import import_module

from ._version import __version__

#: public name -> the module that defines it
_LAZY = {
    "DivergenceError": ".solvers",
    "SoftmaxRegression": ".estimator",
    "SoftmaxRegressionCV": ".cv",
    "ModelFileError": ".model_file",
    "load": ".model_file",
    "save": ".model_file",
    "infer": ".inference",
    "lr_test": "._fitstats",
    "FitSeparationWarning": "._separation_check",
    "register_onnx_converter": "._onnx_export",
    "to_onnx": "._onnx_export",
    "RegularizationPath": ".regpath",
    "regularization_path": ".regpath",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'softreg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
