"""softreg.regularization_path: the path's shape, its first point, screening, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import softmax

import softreg
from softreg._objective import SoftmaxObjective
from softreg.penalties import Penalty
from softreg.regpath import regularization_path
from softreg.solvers.prox_newton import prox_newton


def _data(seed=0, n=150, d=20, K=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * (rng.random((n, d)) < 0.5)
    W = rng.normal(size=(d, K)) * (rng.random((d, 1)) < 0.3) * 2
    y = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def test_exported_and_shapes():
    X, y = _data()
    path = softreg.regularization_path(X, np.array(list("abcd"))[y], n_alphas=7)
    assert path.alphas.shape == (7,) and np.all(np.diff(path.alphas) < 0)
    assert path.coefs.shape == (7, 4, 20) and path.intercepts.shape == (7, 4)
    assert list(path.classes) == list("abcd")
    assert path.alphas[0] == path.alpha_max
    # alpha_min_ratio default: 1e-4 with n >= d
    assert path.alphas[-1] == pytest.approx(1e-4 * path.alpha_max)
    assert path.converged
    np.testing.assert_array_equal(path.n_active,
                                  np.count_nonzero(np.any(path.coefs != 0, axis=1), axis=1))


def test_first_point_is_zero_and_just_below_is_not():
    X, y = _data(1)
    path = regularization_path(X, y, alphas=None, n_alphas=1)
    a = path.alpha_max
    at = regularization_path(X, y, alphas=[a * (1 + 1e-9), a * (1 - 1e-3)], tol=1e-12)
    assert not np.any(at.coefs[0])
    assert np.count_nonzero(at.coefs[1]) >= 1
    # the intercept-only fit: log of the class shares (centred)
    share = np.bincount(y) / y.size
    np.testing.assert_allclose(softmax(at.intercepts[0]), share, atol=1e-10)
    assert at.dev_ratio[0] == pytest.approx(0.0, abs=1e-12)


def test_points_equal_cold_fits_and_dev_ratio_grows():
    X, y = _data(2)
    path = regularization_path(sp.csr_matrix(X), y, l1_ratio=0.6, n_alphas=6,
                               alpha_min_ratio=0.01, tol=1e-10)
    f = SoftmaxObjective(X, y=y, n_classes=4)
    for t in (2, 5):
        pen = Penalty(path.alphas[t], 0.6)
        cold = prox_newton(f, pen, f.zeros(), tol=1e-10)
        assert path.objective[t] == pytest.approx(cold.loss, abs=1e-11)
        theta = f.pack(path.coefs[t].T, path.intercepts[t])
        assert f.loss(theta) + pen.value(path.coefs[t].T) == pytest.approx(path.objective[t],
                                                                         abs=1e-12)
    assert np.all(np.diff(path.dev_ratio) >= -1e-12)
    assert 0 <= path.dev_ratio[0] and path.dev_ratio[-1] < 1


def test_grouped_rows_are_all_or_nothing():
    X, y = _data(3)
    path = regularization_path(X, y, grouped=True, n_alphas=8, alpha_min_ratio=0.05)
    for C in path.coefs:
        rows = np.any(C != 0, axis=0)
        assert np.all(np.all(C[:, rows] != 0, axis=0))


def test_soft_targets_and_unpenalised_feature():
    X, y = _data(4)
    Y = 0.9 * np.eye(4)[y] + 0.025
    pf = np.ones(20)
    pf[3] = 0.0
    path = regularization_path(X, Y, n_alphas=4, penalty_factor=pf, alpha_min_ratio=0.1)
    assert path.classes is None and path.converged
    assert np.all(np.any(path.coefs[:, :, 3] != 0, axis=1))  # never zeroed
    assert np.all(np.any(path.coefs[0] != 0, axis=0) == (np.arange(20) == 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(l1_ratio=0.0), "l1_ratio"),
    (dict(l1_ratio=1.5), "l1_ratio"),
    (dict(penalty_factor=np.ones(3)), "penalty_factor has 3 entries"),
    (dict(penalty_factor=-np.ones(20)), "non-negative"),
    (dict(penalty_factor=np.full(20, np.nan)), "NaN"),
    (dict(alpha_min_ratio=2.0), "alpha_min_ratio"),
    (dict(alphas=[-1.0]), "alphas"),
    (dict(sample_weight=np.zeros(150)), "sample_weight"),
])
def test_bad_input(kwargs, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        regularization_path(X, y, **kwargs)


def test_single_class_is_refused():
    X, _ = _data()
    with pytest.raises(ValueError, match="single class"):
        regularization_path(X, np.zeros(150))
