"""Label encoding, soft targets, sample and class weights (softreg._targets)."""

import numpy as np
import pytest

from softreg import _targets as targets


def test_is_soft_target_by_shape():
    assert targets.is_soft_target(np.eye(3)[[0, 1, 2]])
    assert not targets.is_soft_target(np.array([0, 1, 2]))
    assert not targets.is_soft_target(np.array([[0], [1]]))  # a column of labels is not soft
    assert not targets.is_soft_target(["a", "b"])


def test_encode_labels_sorts_and_checks_against_given_classes():
    classes, codes = targets.encode_labels(np.array(["b", "a", "c", "a"]))
    assert classes.tolist() == ["a", "b", "c"] and codes.tolist() == [1, 0, 2, 0]
    classes, codes = targets.encode_labels(np.array([3, 1]), np.array([1, 2, 3]))
    assert codes.tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"not in classes .*\[7\]"):
        targets.encode_labels(np.array([1, 7]), np.array([1, 2, 3]))


@pytest.mark.parametrize("Y, message", [
    (np.array([[0.5, 0.6], [0.5, 0.5]]), "sum to 1; row 0"),
    (np.array([[1.5, -0.5], [0.5, 0.5]]), "non-negative; row 0"),
    (np.array([[np.nan, 1.0], [0.5, 0.5]]), "NaN or infinity"),
    (np.array([["a", "b"]]), "numeric"),
])
def test_check_soft_targets_names_the_problem(Y, message):
    with pytest.raises(ValueError, match=message):
        targets.check_soft_targets(Y)


def test_check_soft_targets_accepts_probabilities_and_checks_the_class_count():
    Y = np.array([[0.2, 0.8], [1.0, 0.0]])
    classes, out = targets.check_soft_targets(Y, dtype=np.float32)
    assert classes.tolist() == [0, 1] and out.dtype == np.float32
    with pytest.raises(ValueError, match="2 columns, expected 3 classes"):
        targets.check_soft_targets(Y, n_classes=3)


def test_check_weights():
    X = np.zeros((3, 2))
    np.testing.assert_array_equal(targets.check_weights(None, X, 3), np.ones(3))
    with pytest.raises(ValueError, match=r"shape == \(2,\), expected \(3,\)"):
        targets.check_weights([1.0, 2.0], X, 3)
    # (scikit-learn's validation answers first for these two)
    with pytest.raises(ValueError, match="non-zero"):
        targets.check_weights([0.0, 0.0, 0.0], X, 3)
    with pytest.raises(ValueError, match="Negative values"):
        targets.check_weights([1.0, -1.0, 0.0], X, 3)


def test_class_weights_balanced_and_dict():
    classes, mass = np.array(["a", "b"]), np.array([3.0, 1.0])
    # balanced: n / (K * mass_k), as scikit-learn's compute_class_weight
    np.testing.assert_allclose(targets.class_weights("balanced", classes, mass), [4 / 6, 4 / 2])
    np.testing.assert_allclose(targets.class_weights({"b": 2.5}, classes, mass), [1.0, 2.5])
    np.testing.assert_allclose(targets.class_weights(None, classes, mass), [1.0, 1.0])
    with pytest.raises(ValueError, match="'z'"):
        targets.class_weights({"z": 1.0}, classes, mass)
    with pytest.raises(ValueError, match="finite and >= 0"):
        targets.class_weights({"a": -1.0}, classes, mass)
    with pytest.raises(ValueError, match="every class present"):
        targets.class_weights("balanced", classes, np.array([3.0, 0.0]))


def test_apply_class_weights_hard_and_soft():
    cw, s = np.array([2.0, 0.5]), np.array([1.0, 1.0, 3.0])
    out, Y = targets.apply_class_weights(cw, s, codes=np.array([0, 1, 0]))
    np.testing.assert_allclose(out, [2.0, 0.5, 6.0])
    assert Y is None
    # soft: a row's weight is its expected class weight and its targets are reweighted
    Ysoft = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    out, Yw = targets.apply_class_weights(cw, s, Y=Ysoft)
    np.testing.assert_allclose(out, s * (Ysoft @ cw))
    np.testing.assert_allclose(Yw.sum(axis=1), 1.0)
    np.testing.assert_allclose(Yw[0], [0.8, 0.2])
