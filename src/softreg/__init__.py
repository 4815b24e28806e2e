"""softreg: softmax (multinomial logistic) regression, correct by construction."""

from ._special import log_softmax, logsumexp, softmax
from .cv import SoftmaxRegressionCV
from .estimator import SoftmaxRegression
from .inference import infer
from .solvers import DivergenceError

__all__ = ["DivergenceError", "SoftmaxRegression", "log_softmax", "logsumexp", "softmax"]
__all__ += ["SoftmaxRegressionCV", "infer"]
__version__ = "0.1.0"
