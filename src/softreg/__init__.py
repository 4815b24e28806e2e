"""softreg: softmax (multinomial logistic) regression, correct by construction."""

from ._special import log_softmax, logsumexp, softmax
from .estimator import SoftmaxRegression
from .solvers import DivergenceError

__all__ = ["DivergenceError", "SoftmaxRegression", "log_softmax", "logsumexp", "softmax"]
__version__ = "0.1.0"
