"""The one-pass paths of fit's validation against the plain references they replace.

Integer labels are counted (``softreg._targets._integer_codes``) instead of sorted: the
result must be ``np.unique(y, return_inverse=True)`` exactly (values, dtypes). X's
finiteness test shares the sum-of-squares read (``check_squares_finite``): its errors must
be scikit-learn's own.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from sklearn.utils.validation import check_array

from softreg import SoftmaxRegression
from softreg import _targets as targets
from softreg.estimator import blas_single_threaded, check_squares_finite

INTEGER_DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def _assert_as_unique(y, classes, codes):
    ref_classes, ref_codes = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype
    np.testing.assert_array_equal(classes, ref_classes)
    assert codes.dtype == np.intp and codes.shape == (len(y),)
    np.testing.assert_array_equal(codes, ref_codes.reshape(-1))


@pytest.mark.parametrize("dtype", INTEGER_DTYPES + ["bool"])
def test_counted_codes_equal_np_unique(dtype):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if dtype != "bool" else None
    low = 0 if info is None else max(info.min, -50)
    high = 2 if info is None else min(info.max, 60)
    y = rng.integers(low, high, size=500).astype(dtype)
    y[rng.integers(0, 500, size=40)] = y[0]  # repeats; some values of the range absent
    counted = targets._integer_codes(y)
    assert counted is not None  # the fast path ran
    _assert_as_unique(y, *counted)
    _assert_as_unique(y, *targets.encode_labels(y))


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_counted_codes_at_the_ends_of_the_type(dtype):
    info = np.iinfo(dtype)
    # a narrow type's full range: y - min(y) must not wrap around in y's own type
    y = np.array([info.max, info.min, info.max, info.min + 1], dtype=dtype)
    classes, codes = targets.encode_labels(y)
    _assert_as_unique(y, classes, codes)
    near_top = np.array([info.max, info.max - 3, info.max - 1], dtype=dtype)
    _assert_as_unique(near_top, *targets.encode_labels(near_top))


def test_huge_ranges_fall_back_to_sorting():
    spread = np.array([-2 ** 62, 0, 2 ** 62, 0], dtype=np.int64)
    assert targets._integer_codes(spread) is None
    _assert_as_unique(spread, *targets.encode_labels(spread))
    beyond = np.array([2 ** 64 - 1, 2 ** 63, 5], dtype=np.uint64)  # above int64's range
    assert targets._integer_codes(beyond) is None
    _assert_as_unique(beyond, *targets.encode_labels(beyond))
    # the span limit: up to max(2 n, COUNT_SPAN_MIN) values are counted, one more is not
    n, span = 4, targets.COUNT_SPAN_MIN
    inside = np.array([0, span - 1, 3, 0], dtype=np.int64)
    outside = np.array([0, span, 3, 0], dtype=np.int64)
    assert len(inside) == n and targets._integer_codes(inside) is not None
    assert targets._integer_codes(outside) is None
    for y in (inside, outside):
        _assert_as_unique(y, *targets.encode_labels(y))


def test_other_labels_keep_the_sorting_path():
    for y in (np.array(["b", "a", "c", "a"]), np.array([2.0, -1.0, 2.0, 0.0]),
              np.array(["x", "z", "y"], dtype=object)[[0, 2, 0]]):
        _assert_as_unique(y, *targets.encode_labels(y))
    assert targets._integer_codes(np.array([], dtype=np.int64)) is None


def test_pandas_labels():
    pd = pytest.importorskip("pandas")
    cat = pd.Series(pd.Categorical(["lo", "hi", "mid", "hi"], categories=["mid", "lo", "hi"]))
    _assert_as_unique(np.asarray(cat), *targets.encode_labels(cat))
    ints = pd.Series(np.array([7, -3, 7, 100], dtype=np.int16))
    _assert_as_unique(ints.to_numpy(), *targets.encode_labels(ints))
    int_cat = pd.Series(pd.Categorical([3, 1, 3, 2]))
    _assert_as_unique(np.asarray(int_cat), *targets.encode_labels(int_cat))


def test_scikit_learn_target_errors_are_kept():
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        targets.encode_labels(np.array([0.5, 1.0, 2.0]))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        targets.encode_labels(np.array([0.0, np.nan, 1.0]))
    with pytest.warns(Warning, match="column-vector y was passed"):  # (n, 1) integer y
        classes, codes = targets.encode_labels(np.array([[3], [1], [3]]))
    assert classes.tolist() == [1, 3] and codes.tolist() == [1, 0, 1]


def test_given_classes_with_integer_labels():
    classes, codes = targets.encode_labels(np.array([3, 1], dtype=np.int8), np.array([1, 2, 3]))
    assert codes.tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"not in classes .*\[7\]"):
        targets.encode_labels(np.array([1, 7], dtype=np.uint8), np.array([1, 2, 3]))


def test_absent_sample_weight_is_ones():
    X = np.zeros((5, 2))
    s = targets.check_weights(None, X, 5, normalize=True)
    assert s.dtype == np.float64 and s.tolist() == [1.0] * 5
    np.testing.assert_array_equal(s, targets.check_weights(np.full(5, 3.0), X, 5,
                                                           normalize=True))


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = np.argmax(X[:, :3] + rng.gumbel(size=(n, 3)), axis=1)
    return X, y


@pytest.mark.parametrize("dtype", ["int8", "uint64", "int64"])
def test_fit_on_counted_labels_equals_fit_on_string_labels(dtype):
    X, y = _data()
    labels = np.array([-5, 0, 9]) if dtype != "uint64" else np.array([0, 5, 9])
    s = np.random.default_rng(1).uniform(0.1, 2.0, size=len(y))
    a = SoftmaxRegression(alpha=1e-2).fit(X, labels[y].astype(dtype), sample_weight=s)
    b = SoftmaxRegression(alpha=1e-2).fit(X, np.array(["a", "b", "c"])[y], sample_weight=s)
    assert a.classes_.dtype == np.dtype(dtype) and a.classes_.tolist() == labels.tolist()
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=1e-14)


def test_soft_targets_unaffected():
    X, y = _data(2)
    hard = SoftmaxRegression(alpha=1e-2).fit(X, y)
    soft = SoftmaxRegression(alpha=1e-2).fit(X, np.eye(3)[y])
    np.testing.assert_allclose(hard.coef_, soft.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad, message", [(np.nan, "contains NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize("sparse", [False, True])
def test_non_finite_X_gets_scikit_learns_message(dtype, bad, message, sparse):
    X = np.ones((4, 3), dtype=dtype)
    X[2, 1] = bad
    with pytest.raises(ValueError, match=message) as fused:
        SoftmaxRegression().fit(sp.csr_matrix(X) if sparse else X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=message) as plain:
        check_array(sp.csr_matrix(X) if sparse else X, accept_sparse="csr",
                    estimator=SoftmaxRegression(), input_name="X")
    assert str(fused.value) == str(plain.value)


def test_large_float32_values_pass_but_overflowing_float64_squares_do_not():
    X = np.full((3, 2), 3e19, dtype=np.float32)  # the float32 dot overflows, the values are fine
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.dot(X.ravel(), X.ravel()))
    check_squares_finite(X)
    with pytest.raises(ValueError, match="sum of squares of X overflows float64"):
        check_squares_finite(np.full((3, 2), 1e200))
    Xs = np.full((3, 2), 1e200)[:, ::2]  # strided: the einsum branch
    with pytest.raises(ValueError, match=r"overflows float64.*"):
        check_squares_finite(Xs)
    check_squares_finite(np.ones((3, 4))[:, ::2])


def test_blas_single_threaded_limits_and_restores():
    before = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas"]
    with blas_single_threaded():
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info()
                  if i["user_api"] == "blas"]
    after = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
             if i["user_api"] == "blas"]
    assert inside and all(t == 1 for t in inside)
    assert after == before
