"""Fit statistics of an inference result and the likelihood-ratio test of nested models.

The names and meanings are statsmodels' (``MNLogit`` results), with frequency weights
counted as repeated rows (a weight of 3 is three identical observations):

- ``nobs`` = sum of the weights N; ``llf`` = sum_i s_i log p_{i, y_i} at the estimate.
- ``llnull``: the log-likelihood of the intercept-only model, in closed form. Its MLE
  predicts every row with the weighted class shares n_k / N, so
  ``llnull = sum_k n_k log(n_k / N)`` (classes without weight contribute 0). As in
  statsmodels, the null model has an intercept whether or not the model has one.
- ``llr = 2 (llf - llnull)``, ``llr_pvalue`` = P(chi2(df_model) > llr).
- ``df_model = (n_terms - 1) (K - 1)``, ``df_resid = nobs - n_terms (K - 1)``, as statsmodels
  counts them (n_terms includes the intercept; one free column of parameters per
  non-reference class).
- ``aic = -2 llf + 2 n_terms (K - 1)``, ``bic = -2 llf + log(nobs) n_terms (K - 1)``,
  ``prsquared = 1 - llf / llnull`` (McFadden).

Penalised (MAP) fits: ``llf``, ``llnull``, ``llr``, ``prsquared``, ``nobs``, ``df_model`` and
``df_resid`` are computed by the same formulas (the data log-likelihood at the MAP and the
nominal parameter counts: descriptive numbers). ``llr_pvalue``, ``aic`` and ``bic`` are NaN:
the chi-square reference and the parameter count behind them hold for the maximum
likelihood estimate, not for an estimate shrunk by a prior.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

__all__ = ["FitStatisticsMixin", "LRTestResult", "lr_test", "null_loglike"]

#: a restricted fit may beat the full one by this much (relative) before "not nested"
LLF_SLACK = 1e-8


def null_loglike(class_mass) -> float:
    """sum_k n_k log(n_k / N): the intercept-only model's maximised log-likelihood.

    Parameters
    ----------
    class_mass : array-like of shape (n_classes,), the weighted count of each class
    """
    n = np.asarray(class_mass, dtype=np.float64)
    n = n[n > 0]
    return float(np.sum(n * np.log(n / n.sum())))


class FitStatisticsMixin:
    """statsmodels' fit statistics on :class:`softreg.inference.InferenceResult`."""

    # provided by the result class this is mixed into
    term_names: list
    classes: Any
    method: str
    n_obs: float
    loglike: float
    class_mass: Any

    @property
    def _n_free(self) -> int:
        """Free parameters: one column of n_terms per non-reference class."""
        return len(self.term_names) * (len(self.classes) - 1)

    @property
    def _is_mle(self) -> bool:
        return self.method == "mle"

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the frequency weights."""
        return float(self.n_obs)

    @property
    def llf(self) -> float:
        """Log-likelihood sum_i s_i log p_{i, y_i} at the estimate (at the MAP for alpha > 0)."""
        return float(self.loglike)

    @property
    def llnull(self) -> float:
        """Log-likelihood of the intercept-only model, exact: sum_k n_k log(n_k / N)."""
        if self.class_mass is None:
            return math.nan
        return null_loglike(self.class_mass)

    @property
    def llr(self) -> float:
        """Likelihood-ratio statistic 2 (llf - llnull) against the intercept-only model."""
        return 2.0 * (self.llf - self.llnull)

    @property
    def df_model(self) -> float:
        """(n_terms - 1) (n_classes - 1), as statsmodels counts it."""
        return float((len(self.term_names) - 1) * (len(self.classes) - 1))

    @property
    def df_resid(self) -> float:
        """nobs - n_terms (n_classes - 1)."""
        return float(self.nobs - self._n_free)

    @property
    def llr_pvalue(self) -> float:
        """P(chi2(df_model) > llr); NaN for a penalised fit (no chi-square reference)."""
        if not self._is_mle:
            return math.nan
        return float(special.chdtrc(self.df_model, self.llr))

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo R-squared 1 - llf / llnull."""
        return 1.0 - self.llf / self.llnull

    @property
    def aic(self) -> float:
        """-2 llf + 2 n_terms (n_classes - 1); NaN for a penalised fit."""
        if not self._is_mle:
            return math.nan
        return -2.0 * self.llf + 2.0 * self._n_free

    @property
    def bic(self) -> float:
        """-2 llf + log(nobs) n_terms (n_classes - 1); NaN for a penalised fit."""
        if not self._is_mle:
            return math.nan
        return -2.0 * self.llf + math.log(self.nobs) * self._n_free

    def fit_statistics(self) -> dict:
        """Every fit statistic by its statsmodels name (plain floats)."""
        names = ("nobs", "llf", "llnull", "llr", "llr_pvalue", "df_model", "df_resid",
                 "aic", "bic", "prsquared")
        return {name: float(getattr(self, name)) for name in names}

    def _fit_statistics_lines(self) -> list[str]:
        """Lines for ``summary()``: the statistics and, for a MAP fit, what they mean."""
        lines = [
            f"log-likelihood: {self.llf:.6g}   LL-null: {self.llnull:.6g}   "
            f"LLR: {self.llr:.6g}   pseudo R-squared (McFadden): {self.prsquared:.4g}",
            f"df model: {self.df_model:g}   df residuals: {self.df_resid:.6g}   "
            f"LLR p-value: {_g(self.llr_pvalue)}   AIC: {_g(self.aic)}   BIC: {_g(self.bic)}",
        ]
        if self.class_mass is None:
            lines.append("LL-null, LLR and pseudo R-squared need the class counts, which this "
                         "(older) result does not store")
        if not self._is_mle:
            lines += textwrap.wrap(
                "fit statistics of a MAP fit: log-likelihood, LL-null, LLR and pseudo "
                "R-squared are the data log-likelihood at the MAP (descriptive); the degrees "
                "of freedom are nominal parameter counts; LLR p-value, AIC and BIC are not "
                "defined (nan): their chi-square reference and parameter count hold for "
                "the maximum likelihood estimate (alpha = 0), not for a shrunk one", 90)
        return lines

    def compare_lr_test(self, restricted) -> LRTestResult:
        """Likelihood-ratio test of this (full) model against a nested ``restricted`` one."""
        return lr_test(self, restricted)


def _g(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


@dataclass(frozen=True)
class LRTestResult:
    """A likelihood-ratio test: ``statistic`` = 2 (llf_full - llf_restricted), chi2(df)."""

    statistic: float
    df: float
    pvalue: float

    def __iter__(self):  # statsmodels' compare_lr_test returns (statistic, pvalue, df)
        return iter((self.statistic, self.pvalue, self.df))

    def __str__(self) -> str:
        return (f"likelihood-ratio test: statistic {self.statistic:.6g}, df {self.df:g}, "
                f"p-value {self.pvalue:.4g}")


def lr_test(full, restricted) -> LRTestResult:
    """Likelihood-ratio test of a restricted model nested in a full one.

    Parameters
    ----------
    full, restricted : InferenceResult
        Results of :func:`softreg.infer` for two maximum-likelihood fits (alpha = 0) on the
        same observations and classes, the restricted model's terms a strict subset of the
        full model's (matched by name: with plain arrays the features are named x1, x2, ...
        by position, so a restricted model must keep the leading columns, or use named
        DataFrame columns).

    Returns
    -------
    LRTestResult
        ``statistic`` 2 (llf_full - llf_restricted), ``df`` the difference in the number of
        free parameters, ``pvalue`` = P(chi2(df) > statistic). Iterating gives
        (statistic, pvalue, df), the order of statsmodels' ``compare_lr_test``.

    Raises
    ------
    ValueError
        When either fit is penalised, the classes or observations differ, the terms are not
        nested, or the restricted model fits better than the full one (not nested, or a fit
        that did not converge).
    """
    for name, r in (("full", full), ("restricted", restricted)):
        if not hasattr(r, "term_names") or not hasattr(r, "loglike"):
            raise TypeError(f"lr_test needs results of softreg.infer; {name} is "
                            f"{type(r).__name__}")
        if r.method != "mle":
            raise ValueError(f"lr_test needs maximum-likelihood fits (alpha = 0); the {name} "
                             f"model is penalised (alpha = {r.alpha:g}), so its likelihood "
                             "ratio has no chi-square distribution")
    if list(full.classes) != list(restricted.classes):
        raise ValueError(f"the models are not nested: their classes differ ({full.classes} "
                         f"vs {restricted.classes})")
    same_data = math.isclose(full.n_obs, restricted.n_obs, rel_tol=1e-12) and \
        full.n_samples == restricted.n_samples
    if same_data and full.class_mass is not None and restricted.class_mass is not None:
        same_data = np.allclose(full.class_mass, restricted.class_mass, rtol=1e-12)
    if not same_data:
        raise ValueError("the models are not nested: they were fitted on different "
                         f"observations ({full.n_samples} rows, {full.n_obs:g} weighted, vs "
                         f"{restricted.n_samples} rows, {restricted.n_obs:g} weighted)")
    extra = set(restricted.term_names) - set(full.term_names)
    if extra:
        raise ValueError(f"the models are not nested: the restricted model has terms the "
                         f"full one lacks: {sorted(extra)}")
    df = full._n_free - restricted._n_free
    if df <= 0:
        raise ValueError("the models are not nested: the restricted model has as many terms "
                         "as the full one (pass the larger model first)")
    stat = 2.0 * (full.loglike - restricted.loglike)
    if stat < -LLF_SLACK * max(1.0, abs(full.loglike)):
        raise ValueError(f"the restricted model fits better than the full one (llf "
                         f"{restricted.loglike:.10g} > {full.loglike:.10g}): they are not "
                         "nested on the same data, or a fit did not converge")
    stat = max(stat, 0.0)
    return LRTestResult(statistic=float(stat), df=float(df),
                        pvalue=float(special.chdtrc(df, stat)))
