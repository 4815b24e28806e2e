"""The datafit protocol: both datafits implement it, require() names what is missing."""

import numpy as np
import pytest

from softreg._objective import SoftmaxObjective
from softreg._protocol import METHODS, Datafit, missing_methods, require


def _objective():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    return SoftmaxObjective(X, y=rng.integers(0, 3, 30), n_classes=3)


def test_the_in_memory_datafit_implements_the_whole_protocol():
    obj = _objective()
    assert isinstance(obj, Datafit)
    assert missing_methods(obj) == []
    # the layout: pack and unpack are inverses, zeros has n_params entries
    theta = np.arange(obj.n_params, dtype=float)
    W, b = obj.unpack(theta)
    assert W.shape == (3, 3) and b.shape == (3,)
    np.testing.assert_array_equal(obj.pack(W, b), theta)
    assert obj.zeros().shape == (obj.n_params,) == ((3 + 1) * 3,)


def test_require_names_every_missing_method():
    class Partial:
        def loss(self, theta):
            return 0.0

        hessian = None  # present but not callable: counts as missing

    assert missing_methods(Partial()) == [m for m in METHODS if m != "loss"]
    require(Partial(), "gd", "loss")  # nothing missing: no error
    with pytest.raises(TypeError, match=r"solver 'newton' needs the objective's "
                                        r"loss_grad, hessian, which Partial does not offer"):
        require(Partial(), "newton", "loss", "loss_grad", "hessian")


def test_a_datafit_without_the_protocol_is_not_one():
    assert not isinstance(object(), Datafit)
