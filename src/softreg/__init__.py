"""softreg: softmax (multinomial logistic) regression, correct by construction."""

from ._fitstats import lr_test
from ._onnx_export import register_onnx_converter, to_onnx
from ._separation_check import FitSeparationWarning
from ._special import log_softmax, logsumexp, softmax
from ._version import __version__
from .cv import SoftmaxRegressionCV
from .estimator import SoftmaxRegression
from .inference import infer
from .model_file import ModelFileError, load, save
from .solvers import DivergenceError

__all__ = ["DivergenceError", "SoftmaxRegression", "log_softmax", "logsumexp", "softmax"]
__all__ += ["ModelFileError", "load", "register_onnx_converter", "save", "to_onnx"]
__all__ += ["SoftmaxRegressionCV", "__version__", "infer"]
__all__ += ["FitSeparationWarning", "lr_test"]

