"""get_margeff against statsmodels' MNLogit get_margeff: every `at` and `method`.

statsmodels 0.14/0.15 raise for method="eyex" and "dyex" on MNLogit (``margeff *= exog``
does not broadcast the (n, n_terms) exog over the classes axis). For those two the
reference is statsmodels' own machinery (``_get_margeff_exog``, ``_effects_at``,
``margeff_cov_with_se``: the complex-step Jacobian and the delta method) around its
``dydx`` derivative with the documented transforms applied (times x_j, divided by p_k).
Where statsmodels' ``get_margeff`` works, the test checks that this reference equals it.
"""

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.discrete import discrete_margins as dm

from _stats_data import anes96, generated
from softreg import SoftmaxRegression, infer
from softreg.inference import InferenceResult
from softreg.margins import weighted_median

AT = ["overall", "mean", "median", "zero"]
METHODS = ["dydx", "eyex", "dyex", "eydx"]


def _mnlogit(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.MNLogit(np.asarray(y), sm.add_constant(np.asarray(X, dtype=float),
                                                         has_constant="add")
                          ).fit(method="newton", disp=0, maxiter=200, tol=1e-14)


def _sm_margeff(res, at, method):
    """statsmodels' get_margeff computation with the ex/ey transforms applied per class."""
    model = res.model
    params = np.asarray(res.params)
    q, J = model.K, model.J

    def derivative(p, exog, transform="dydx", dummy_idx=None, count_idx=None):
        p = p.reshape(q, J - 1, order="F") if p.ndim == 1 else p
        me = model._derivative_exog(p, exog, "dydx").reshape(len(exog), q, J, order="F")
        if transform.endswith("ex"):
            me = me * exog[:, :, None]
        if transform.startswith("ey"):
            me = me / model.predict(p, exog)[:, None, :]
        return me.reshape(len(exog), -1, order="F")

    exog = model.exog.copy()
    effects_idx, _ = dm._get_const_index(exog)
    exog = dm._get_margeff_exog(exog, at, None, effects_idx)
    effects = dm._effects_at(derivative(params, exog, method), at)
    _, se = dm.margeff_cov_with_se(model, params, exog, res.cov_params(), at, derivative,
                                   None, None, method, J)
    idx = np.tile(effects_idx, J)
    K = q - np.any(~effects_idx)
    return effects[idx].reshape(K, J, order="F"), se[idx].reshape(K, J, order="F")


DATA = {"anes96": anes96,
        "gen-K4": lambda: generated(0, 400, 3, 4, scale=0.5, shift=2.0),
        "gen-binary": lambda: generated(1, 300, 2, 2, scale=0.5, shift=2.0)}


@pytest.fixture(scope="module", params=list(DATA))
def fitted(request):
    X, y = DATA[request.param]()
    result = infer(SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y), X, y)
    return result, _mnlogit(X, y)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("at", AT)
def test_margeff_equals_statsmodels(fitted, at, method):
    result, res = fitted
    me = result.get_margeff(at=at, method=method)
    ref, ref_se = _sm_margeff(res, at, method)
    if method in ("dydx", "eydx"):  # statsmodels' public get_margeff works for these
        direct = res.get_margeff(at=at, method=method)
        np.testing.assert_allclose(ref, direct.margeff, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ref_se, direct.margeff_se, rtol=1e-10)
        np.testing.assert_allclose(me.conf_int(0.1), direct.conf_int(0.1), rtol=1e-4,
                                   atol=1e-6)
        np.testing.assert_allclose(me.pvalues, direct.pvalues, rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(me.margeff_cov, direct.margeff_cov, rtol=1e-4,
                                   atol=1e-12)
    assert me.margeff.shape == ref.shape == (len(result.term_names) - 1, len(result.classes))
    np.testing.assert_allclose(me.margeff, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(me.margeff_se, ref_se, rtol=1e-4)
    assert me.conf_int().shape == (me.margeff.shape[0], 2, me.margeff.shape[1])


def test_summary_and_frame(fitted):
    result, _ = fitted
    me = result.get_margeff(at="mean", method="eyex")
    frame = me.summary_frame(0.1)
    assert frame.shape == (me.margeff.size, 6)
    assert list(frame.columns)[0] == "d(lny)/d(lnx)"
    np.testing.assert_array_equal(frame.iloc[:, 0].to_numpy(), me.margeff.ravel("F"))
    np.testing.assert_array_equal(frame["Conf. Int. Low"].to_numpy(),
                                  me.conf_int(0.1)[:, 0].ravel("F"))
    text = me.summary()
    assert "at: mean" in text and all(f in text for f in me.features)


def test_frequency_weights_equal_repeated_rows():
    X, y = generated(2, 150, 2, 3, scale=0.5, shift=2.0)
    s = np.random.default_rng(0).integers(1, 4, size=len(y))
    model = SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y, sample_weight=s)
    result = infer(model, X, y, sample_weight=s)
    res = _mnlogit(np.repeat(X, s, axis=0), np.repeat(y, s))
    for at in AT:
        me = result.get_margeff(at=at, method="eydx")
        ref, ref_se = _sm_margeff(res, at, "eydx")
        np.testing.assert_allclose(me.margeff, ref, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(me.margeff_se, ref_se, rtol=1e-4)


def test_weighted_median_is_the_median_of_repeated_rows():
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 10, 11):
        X = rng.integers(0, 4, size=(n, 3)).astype(float)
        s = rng.integers(1, 4, size=n)
        np.testing.assert_array_equal(weighted_median(X, s.astype(float)),
                                      np.median(np.repeat(X, s, axis=0), axis=0))


def test_a_result_read_back_needs_x_and_gives_the_same():
    X, y = generated(4, 200, 2, 3, scale=0.5, shift=2.0)
    result = infer(SoftmaxRegression(alpha=1e-3).fit(X, y), X, y)  # a MAP fit works too
    back = InferenceResult.from_dict(result.to_dict())
    with pytest.raises(ValueError, match="pass X"):
        back.get_margeff()
    a, b = result.get_margeff(at="median"), back.get_margeff(at="median", X=X)
    np.testing.assert_array_equal(a.margeff, b.margeff)
    np.testing.assert_array_equal(a.margeff_se, b.margeff_se)
    assert np.all(np.isfinite(a.margeff_se))
    with pytest.raises(ValueError, match="at must be one of"):
        result.get_margeff(at="all")
    with pytest.raises(ValueError, match="method must be one of"):
        result.get_margeff(method="dy/dx")
    with pytest.raises(ValueError, match="sample_weight"):
        result.get_margeff(sample_weight=np.ones(3))
