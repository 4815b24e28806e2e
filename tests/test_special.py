"""Stable softmax, log_softmax and logsumexp against scipy.special and hand values."""

import numpy as np
import pytest
from scipy import special

from softreg import log_softmax, logsumexp, softmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_scipy_on_ordinary_values(dtype):
    Z = np.random.default_rng(0).normal(scale=5, size=(50, 7)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(softmax(Z), special.softmax(Z.astype(float), axis=1), rtol=rtol)
    np.testing.assert_allclose(log_softmax(Z), special.log_softmax(Z.astype(float), axis=1),
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(logsumexp(Z), special.logsumexp(Z.astype(float), axis=1),
                               rtol=rtol)
    assert softmax(Z).dtype == dtype and log_softmax(Z).dtype == dtype


def test_hand_computed_values():
    Z = np.array([[0.0, np.log(3.0)]])  # probabilities 1/4, 3/4
    np.testing.assert_allclose(softmax(Z), [[0.25, 0.75]])
    np.testing.assert_allclose(logsumexp(Z), [np.log(4.0)])
    np.testing.assert_allclose(log_softmax(Z), [[np.log(0.25), np.log(0.75)]])


def test_huge_logits_do_not_overflow():
    Z = np.array([[1e308, 1e308 - 1e292, 0.0], [-1e308, -1e308, -1e308], [1000.0, 0.0, -1000.0]])
    P = softmax(Z)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    np.testing.assert_allclose(P[2], [1.0, 0.0, 0.0])
    assert np.all(np.isfinite(logsumexp(Z)))
    np.testing.assert_allclose(log_softmax(Z)[2], [0.0, -1000.0, -2000.0])


def test_softmax_in_place():
    Z = np.array([[1.0, 2.0, 3.0]])
    out = softmax(Z, out=Z)
    assert out is Z
    np.testing.assert_allclose(Z, special.softmax([[1.0, 2.0, 3.0]], axis=1))
