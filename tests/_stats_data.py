"""Data shared by the statistics tests (fit statistics, marginal effects, predictions).

Not a test module: imported by ``test_fitstats.py``, ``test_margeff.py`` and
``test_prediction.py`` (pytest puts ``tests/`` on ``sys.path``).
"""

import numpy as np
import statsmodels.api as sm


def generated(seed, n, d, K, scale=0.7, shift=0.0):
    """Features and labels drawn from a softmax model with random coefficients.

    Parameters
    ----------
    seed : int
        Seed of the generator.
    n, d, K : int
        Rows, features, classes.
    scale : float, default=0.7
        Standard deviation of the true coefficients.
    shift : float, default=0.0
        Added to every feature (moves the means away from zero).

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
        Class labels in ``0 .. K - 1``.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    if shift:
        X = X + shift
    Z = X @ (rng.normal(size=(d, K)) * scale) + rng.normal(size=K)
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return X, (P.cumsum(1) < rng.uniform(size=(n, 1))).sum(1)


def anes96():
    """The ANES 1996 party-identification data shipped with statsmodels.

    Returns
    -------
    X : DataFrame of shape (944, 5)
        ``logpopul``, ``selfLR``, ``age``, ``educ``, ``income``.
    y : ndarray of shape (944,)
        ``PID``, seven classes.
    """
    data = sm.datasets.anes96.load_pandas().data
    return data[["logpopul", "selfLR", "age", "educ", "income"]], \
        data["PID"].astype(int).to_numpy()
