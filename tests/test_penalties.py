"""Penalty values, proximal operators and optimality violations against direct computations."""

import numpy as np
import pytest
from scipy import optimize

from softreg.penalties import Penalty, alpha_max

RNG = np.random.default_rng(0)
W = RNG.normal(size=(6, 3))
W[1] = 0.0
W[3, 1] = 0.0
PF = np.array([1.0, 0.5, 2.0, 0.0, 1.0, 1.5])


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_value_by_hand(l1_ratio, grouped):
    if grouped and l1_ratio == 0:
        return
    pen = Penalty(0.7, l1_ratio, grouped, PF)
    omega = sum(PF[j] * (np.sqrt(np.sum(W[j] ** 2)) if grouped else np.sum(np.abs(W[j])))
                for j in range(6))
    ridge = sum(PF[j] * np.sum(W[j] ** 2) for j in range(6))
    expected = 0.7 * (l1_ratio * omega + (1 - l1_ratio) / 2 * ridge)
    assert pen.value(W) == pytest.approx(expected, rel=1e-14)


def test_smooth_gradient_by_finite_differences():
    pen = Penalty(0.4, 0.25, penalty_factor=PF)
    smooth = Penalty(0.4 * 0.75, 0.0, penalty_factor=PF)
    grad = pen.smooth_gradient(W)
    assert np.allclose(optimize.approx_fprime(W.ravel(), lambda w: smooth.value(
        w.reshape(W.shape)), 1e-7), grad.ravel(), atol=1e-6)


@pytest.mark.parametrize("grouped", [False, True])
def test_prox_minimises_its_problem(grouped):
    pen = Penalty(0.9, 0.6, grouped, PF)
    step = 0.8
    V = RNG.normal(size=(6, 3))
    U = pen.prox(V, step)
    l1_only = Penalty(pen.l1, 1.0, grouped, PF)

    def f(u):
        u = u.reshape(V.shape)
        return np.sum((u - V) ** 2) / (2 * step) + l1_only.value(u)

    best = f(U.ravel())
    for _ in range(200):  # no nearby point is better
        assert f(U.ravel() + 1e-3 * RNG.normal(size=U.size)) >= best - 1e-12
    # and the optimality condition of the prox problem holds exactly
    assert np.max(l1_only.optimality_violation(U, (U - V) / step)) < 1e-12


def test_prox_per_feature_steps_and_smooth_identity():
    pen = Penalty(1.0, 1.0)
    V = np.array([[3.0, -0.5], [0.2, -4.0]])
    U = pen.prox(V, np.array([1.0, 2.0]))
    assert np.array_equal(U, [[2.0, 0.0], [0.0, -2.0]])
    assert np.array_equal(Penalty(1.0, 0.0).prox(V, 1.0), V)


def test_optimality_violation_by_hand():
    pen = Penalty(2.0, 0.5)  # l1 = 1
    Wt = np.array([[1.0, 0.0]])
    G = np.array([[-0.5, 0.25]])  # nonzero: |G + 1| = 0.5; zero: max(|0.25| - 1, 0) = 0
    assert np.allclose(pen.optimality_violation(Wt, G), [[0.5, 0.0]])
    grouped = Penalty(2.0, 0.5, grouped=True)
    Wg = np.array([[3.0, 4.0], [0.0, 0.0]])
    Gg = np.array([[-0.6, -0.8], [3.0, 4.0]])  # row 0 optimal; row 1: 5 - 1 = 4
    assert np.allclose(grouped.optimality_violation(Wg, Gg), [[0.0, 0.0], [4.0, 4.0]])


def test_alpha_max():
    G0 = np.array([[0.2, -0.5], [0.1, 0.1], [3.0, 0.0]])
    assert alpha_max(G0, l1_ratio=0.5) == pytest.approx(6.0)
    assert alpha_max(G0, penalty_factor=[1, 1, 0]) == pytest.approx(0.5)
    assert alpha_max(G0, grouped=True, penalty_factor=[1, 1, 2]) == pytest.approx(1.5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=-1.0), "alpha"),
    (dict(alpha=float("nan")), "alpha"),
    (dict(alpha=1.0, l1_ratio=1.5), "l1_ratio"),
    (dict(alpha=1.0, grouped=True), "grouped=True needs l1_ratio > 0"),
    (dict(alpha=1.0, penalty_factor=[1.0, -1.0]), "non-negative"),
    (dict(alpha=1.0, penalty_factor=[1.0, np.nan]), "NaN"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Penalty(**kwargs)


def test_penalty_factor_length_is_checked():
    with pytest.raises(ValueError, match="3 entries but W has 2 rows"):
        Penalty(1.0, 1.0, penalty_factor=[1, 1, 1]).value(np.ones((2, 2)))
