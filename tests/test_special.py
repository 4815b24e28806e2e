"""The objective's private softmax-and-logsumexp step against scipy.special and by hand."""

import numpy as np
from scipy import special

from softreg._special import softmax_and_logsumexp


def test_matches_scipy_and_overwrites_its_input():
    Z = np.random.default_rng(0).normal(scale=5, size=(50, 7))
    P, lse = softmax_and_logsumexp(Z.copy())
    np.testing.assert_allclose(P, special.softmax(Z, axis=1), rtol=1e-12)
    np.testing.assert_allclose(lse, special.logsumexp(Z, axis=1), rtol=1e-12)
    W = Z.copy()
    out, _ = softmax_and_logsumexp(W)
    assert out is W  # in place: no second n x K buffer


def test_hand_computed_values_and_huge_logits():
    P, lse = softmax_and_logsumexp(np.array([[0.0, np.log(3.0)]]))  # probabilities 1/4, 3/4
    np.testing.assert_allclose(P, [[0.25, 0.75]])
    np.testing.assert_allclose(lse, [np.log(4.0)])
    Z = np.array([[1e308, 1e308 - 1e292, 0.0], [-1e308, -1e308, -1e308],
                  [1000.0, 0.0, -1000.0]])
    P, lse = softmax_and_logsumexp(Z.copy())
    assert np.all(np.isfinite(P)) and np.all(np.isfinite(lse))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    np.testing.assert_allclose(P[2], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(lse[2], 1000.0)
