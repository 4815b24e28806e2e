"""The result of :func:`softreg.infer`: contrasts, their covariance, tables and summary.

Kept apart from the computation (:mod:`softreg.inference`) so that reading a stored result
(``softreg inspect`` of a model fitted with ``--infer``) imports neither the solvers nor
scipy's optimisation and statistics modules: normal and chi-square tails come from
:mod:`scipy.special` (``ndtr``, ``ndtri``, ``chdtrc``, the functions scipy.stats calls).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from ._fitstats import FitStatisticsMixin
from ._jsonable import plain as _plain
from .margins import MarginsMixin
from .prediction import PredictionMixin, pandas_module


class InferenceError(ValueError):
    """No finite estimate or no finite covariance exists (separation, collinearity)."""


class SeparationWarning(UserWarning):
    """The classes are (quasi-)separated: the estimate is finite only because of the prior."""


@dataclass
class InferenceResult(FitStatisticsMixin, MarginsMixin, PredictionMixin):
    """Contrasts against a reference class with their (approximate) sampling distribution.

    Arrays have shape (n_terms, n_classes - 1): one row per term (the intercept first, then
    the features), one column per non-reference class; the pandas properties wrap them with
    names. ``cov`` has shape (p, p), p = n_terms * (n_classes - 1), ordered class-major
    (all terms of the first non-reference class, then the next), as in statsmodels.
    """

    coef: np.ndarray
    cov: np.ndarray
    term_names: list[str]
    classes: list[Any]
    reference: Any
    alpha: float
    method: str  # "mle" or "laplace"
    n_samples: int
    n_obs: float  # sum of the frequency weights
    loglike: float  # sum_i s_i log p_{i, y_i} at the estimate
    grad_norm: float  # max |gradient of F| at the estimate, F = sum(s) * J
    param_shift: float  # max |change| of the contrasts made by the Newton polish
    notes: list[str] = field(default_factory=list)
    class_mass: list[float] | None = None  # weighted count of each class (for llnull)
    #: (X of shape (n, d), frequency weights (n,)) that infer saw; not serialised
    _data: Any = field(default=None, repr=False, compare=False)

    # -- derived arrays -------------------------------------------------------------------------
    @property
    def columns(self) -> list[Any]:
        return [c for c in self.classes if c != self.reference]

    @property
    def bse_array(self) -> np.ndarray:
        m, q = self.coef.shape
        var = np.diag(self.cov).reshape(q, m).T  # class-major -> (terms, classes)
        return np.sqrt(np.clip(var, 0, None))

    def _frame(self, values):
        pd = pandas_module()

        return pd.DataFrame(values, index=list(self.term_names), columns=self.columns)

    # -- the statsmodels-like interface -------------------------------------------------------
    @property
    def params(self):
        """pandas.DataFrame of shape (n_terms, n_classes - 1): the contrasts."""
        return self._frame(self.coef)

    @property
    def bse(self):
        """pandas.DataFrame of shape (n_terms, n_classes - 1): standard errors."""
        return self._frame(self.bse_array)

    @property
    def tvalues(self):
        """pandas.DataFrame of z statistics params / bse."""
        return self._frame(self.coef / self.bse_array)

    @property
    def pvalues(self):
        """pandas.DataFrame of two-sided p-values of the z statistics (normal reference)."""
        return self._frame(2 * special.ndtr(-np.abs(self.coef / self.bse_array)))

    def cov_params(self):
        """pandas.DataFrame of shape (p, p) indexed by (class, term), class-major."""
        pd = pandas_module()

        index = pd.MultiIndex.from_product([self.columns, self.term_names],
                                           names=["class", "term"])
        return pd.DataFrame(self.cov, index=index, columns=index)

    def conf_int(self, alpha: float = 0.05):
        """Wald intervals params -/+ z_{1 - alpha/2} bse.

        Returns
        -------
        pandas.DataFrame of shape (p, 2), indexed by (class, term), columns lower, upper.
        """
        pd = pandas_module()

        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        z = special.ndtri(1 - alpha / 2)
        est = self.coef.T.ravel()
        half = z * self.bse_array.T.ravel()
        index = pd.MultiIndex.from_product([self.columns, self.term_names],
                                           names=["class", "term"])
        return pd.DataFrame({"lower": est - half, "upper": est + half}, index=index)

    def summary(self) -> str:
        """A readable table per non-reference class, like statsmodels' summary."""
        if self.method == "mle":
            head = "Maximum likelihood (alpha = 0); covariance: inverse observed information"
        else:
            head = (f"MAP with a Gaussian prior on W (alpha = {self.alpha:.6g}, prior "
                    f"precision alpha * sum(s) = {self.alpha * self.n_obs:.6g}); covariance: "
                    "Laplace approximation, inverse Hessian of sum(s) * J at the MAP")
        z = special.ndtri(0.975)
        width = max(12, *(len(t) for t in self.term_names))
        lines = [
            "Softmax regression: contrasts against the reference class "
            f"{self.reference!r}",
            head,
            f"observations (sum of frequency weights): {self.n_obs:.6g}   rows: "
            f"{self.n_samples}",
        ]
        lines += self._fit_statistics_lines()
        lines += [f"note: {n}" for n in self.notes]
        bse, zval = self.bse_array, self.coef / self.bse_array
        p = 2 * special.ndtr(-np.abs(zval))
        rule = "=" * (width + 66)
        for j, cls in enumerate(self.columns):
            lines += [rule, f"class = {cls!r} vs {self.reference!r}",
                      f"{'':<{width}} {'coef':>11} {'std err':>11} {'z':>9} {'P>|z|':>8} "
                      f"{'[0.025':>11} {'0.975]':>11}", "-" * (width + 66)]
            for i, term in enumerate(self.term_names):
                c, e = self.coef[i, j], bse[i, j]
                lines.append(f"{term:<{width}} {c:>11.4g} {e:>11.4g} {zval[i, j]:>9.3f} "
                             f"{p[i, j]:>8.3g} {c - z * e:>11.4g} {c + z * e:>11.4g}")
        lines.append(rule)
        return "\n".join(lines)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain lists, floats and strings only (json.dumps works on it).

        Class labels are stored with ``.tolist()`` conversions (numpy scalars become Python
        scalars); :meth:`from_dict` rebuilds the result.
        """
        plain = _plain
        return {
            "format": "softreg.inference/1",
            "coef": self.coef.tolist(), "cov": self.cov.tolist(),
            "term_names": list(self.term_names),
            "classes": [plain(c) for c in self.classes],
            "reference": plain(self.reference),
            "alpha": float(self.alpha), "method": self.method,
            "n_samples": int(self.n_samples), "n_obs": float(self.n_obs),
            "loglike": float(self.loglike), "grad_norm": float(self.grad_norm),
            "param_shift": float(self.param_shift), "notes": list(self.notes),
            "class_mass": None if self.class_mass is None else list(map(float,
                                                                        self.class_mass)),
        }

    @classmethod
    def from_dict(cls, data: dict) -> InferenceResult:
        """Inverse of :meth:`to_dict`."""
        if data.get("format") != "softreg.inference/1":
            raise ValueError(f"not a softreg inference result: format={data.get('format')!r}")
        fields = {k: v for k, v in data.items() if k != "format"}
        fields["coef"] = np.asarray(fields["coef"], dtype=np.float64)
        fields["cov"] = np.asarray(fields["cov"], dtype=np.float64)
        return cls(**fields)

    def __repr__(self) -> str:
        return (f"InferenceResult(method={self.method!r}, alpha={self.alpha:g}, "
                f"reference={self.reference!r}, terms={len(self.term_names)}, "
                f"classes={len(self.classes)})")
