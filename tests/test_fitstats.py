"""Fit statistics and lr_test against statsmodels' MNLogit (ANES 1996 and generated data)."""

import json
import math
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from _stats_data import anes96, generated
from softreg import SoftmaxRegression, infer, lr_test
from softreg._fitstats import null_loglike
from softreg.inference import InferenceResult

NAMES = ["nobs", "llf", "llnull", "llr", "llr_pvalue", "df_model", "df_resid", "aic", "bic",
         "prsquared"]


def _mnlogit(X, y):
    """statsmodels' fit, its null model fitted to the same tight tolerance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MNLogit(np.asarray(y), sm.add_constant(np.asarray(X), has_constant="add")
                         ).fit(method="newton", disp=0, maxiter=200, tol=1e-14)
        default_llnull = res.llnull  # statsmodels' own null fit (default tolerance)
        res.set_null_options(method="newton", tol=1e-14, maxiter=200)
        _ = res.llnull
    return res, default_llnull


def _fit(X, y, alpha=0.0, s=None):
    return infer(SoftmaxRegression(alpha=alpha, tol=1e-10).fit(X, y, sample_weight=s), X, y,
                 sample_weight=s)


DATA = {"anes96": anes96, "gen-K3": lambda: generated(0, 400, 3, 3),
        "gen-K5": lambda: generated(1, 600, 4, 5), "gen-binary": lambda: generated(2, 300, 2, 2)}


@pytest.mark.parametrize("name", list(DATA))
def test_every_fit_statistic_equals_statsmodels(name):
    X, y = DATA[name]()
    result = _fit(X, y)
    ref, default_llnull = _mnlogit(X, y)
    for stat in NAMES:
        np.testing.assert_allclose(getattr(result, stat), getattr(ref, stat), rtol=1e-8,
                                   err_msg=stat)
    # the closed form also agrees with statsmodels' default (iterative) null fit
    np.testing.assert_allclose(result.llnull, default_llnull, rtol=1e-8)
    assert result.fit_statistics() == {k: getattr(result, k) for k in NAMES}
    text = result.summary()
    assert f"AIC: {result.aic:.6g}" in text and f"LL-null: {result.llnull:.6g}" in text


def test_llnull_is_the_closed_form_of_the_class_shares():
    y = np.array([0] * 5 + [1] * 3 + [2] * 2)
    assert null_loglike(np.bincount(y)) == pytest.approx(
        5 * math.log(0.5) + 3 * math.log(0.3) + 2 * math.log(0.2), rel=1e-15)
    assert null_loglike([4.0, 0.0, 4.0]) == pytest.approx(8 * math.log(0.5), rel=1e-15)


def test_frequency_weights_equal_repeated_rows():
    X, y = generated(4, 150, 2, 3)
    s = np.random.default_rng(0).integers(1, 4, size=len(y))
    result = _fit(X, y, s=s)
    ref, _ = _mnlogit(np.repeat(X, s, axis=0), np.repeat(y, s))
    for stat in NAMES:
        np.testing.assert_allclose(getattr(result, stat), getattr(ref, stat), rtol=1e-8,
                                   err_msg=stat)


def test_map_fit_says_which_statistics_are_defined():
    X, y = generated(5, 300, 3, 3)
    result = _fit(X, y, alpha=1e-2)
    for stat in ("aic", "bic", "llr_pvalue"):
        assert math.isnan(getattr(result, stat))
    # llf is the data log-likelihood at the MAP, below the maximum likelihood
    mle = _fit(X, y)
    assert result.llf < mle.llf
    assert result.llnull == mle.llnull and result.df_model == mle.df_model
    assert result.prsquared == pytest.approx(1 - result.llf / result.llnull, rel=1e-15)
    text = result.summary()
    assert "fit statistics of a MAP fit" in text and "AIC: nan" in text


def test_statistics_survive_serialisation():
    X, y = generated(6, 200, 2, 3)
    result = _fit(X, y)
    back = InferenceResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert back.fit_statistics() == result.fit_statistics()
    old = result.to_dict()
    del old["class_mass"]  # a result saved before the class counts were stored
    older = InferenceResult.from_dict(old)
    assert math.isnan(older.llnull) and older.aic == result.aic
    assert "does not store" in older.summary()


def test_lr_test_equals_statsmodels_likelihoods():
    X, y = anes96()
    full = _fit(X, y)
    small = _fit(X[["selfLR", "age"]], y)
    ref_full, _ = _mnlogit(X, y)
    ref_small, _ = _mnlogit(X[["selfLR", "age"]], y)
    test = lr_test(full, small)
    stat = 2 * (ref_full.llf - ref_small.llf)
    np.testing.assert_allclose(test.statistic, stat, rtol=1e-8)
    assert test.df == 3 * 6
    np.testing.assert_allclose(test.pvalue, stats.chi2.sf(stat, 18), rtol=1e-6)
    assert tuple(test) == (test.statistic, test.pvalue, test.df)
    assert full.compare_lr_test(small) == test
    assert "likelihood-ratio test" in str(test)


def test_lr_test_refuses_what_it_cannot_test():
    X, y = anes96()
    full = _fit(X, y)
    small = _fit(X[["selfLR", "age"]], y)
    with pytest.raises(ValueError, match="restricted model has terms the full one lacks"):
        lr_test(small, full)
    other = _fit(X[["selfLR", "logpopul", "income"]], y)
    with pytest.raises(ValueError, match=r"not nested.*lacks: \['logpopul'\]"):
        lr_test(_fit(X[["selfLR", "age", "income"]], y), other)
    with pytest.raises(ValueError, match="penalised"):
        lr_test(full, _fit(X[["selfLR", "age"]], y, alpha=1e-3))
    with pytest.raises(ValueError, match="different observations"):
        lr_test(full, _fit(X[["selfLR", "age"]].iloc[:500], y[:500]))
    with pytest.raises(ValueError, match="as many terms"):
        lr_test(full, full)
    with pytest.raises(TypeError, match="results of softreg.infer"):
        lr_test(full, object())
    # a restricted model with a higher likelihood is not nested in the full one
    fake = InferenceResult.from_dict({**small.to_dict(), "loglike": full.loglike + 1.0})
    with pytest.raises(ValueError, match="fits better"):
        lr_test(full, fake)
    yy = np.where(y == 6, 5, y)
    with pytest.raises(ValueError, match="classes differ"):
        lr_test(full, _fit(X[["selfLR"]], yy))


def test_without_intercept_equals_statsmodels_without_constant():
    X, y = generated(7, 300, 3, 3)
    model = SoftmaxRegression(alpha=0, fit_intercept=False, tol=1e-10).fit(X, y)
    result = infer(model, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MNLogit(y, X).fit(method="newton", disp=0, maxiter=200, tol=1e-14)
        ref.set_null_options(method="newton", tol=1e-14, maxiter=200)
    for stat in NAMES:
        np.testing.assert_allclose(getattr(result, stat), getattr(ref, stat), rtol=1e-8,
                                   err_msg=stat)
    me, ref_me = result.get_margeff(at="mean"), ref.get_margeff(at="mean")
    np.testing.assert_allclose(me.margeff, ref_me.margeff, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(me.margeff_se, ref_me.margeff_se, rtol=1e-4)
