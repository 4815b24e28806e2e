"""
Inference on the ANES 1996 survey, beside statsmodels' MNLogit
===============================================================

The American National Election Studies 1996 data (shipped with statsmodels): 944
respondents' party identification on a 7-point scale, from strong Democrat (0) to strong
Republican (6), explained by their left-right self-placement, age, education, income and
the log population of their place of residence. This is statsmodels' own ``MNLogit``
example; :func:`softreg.infer` gives the same table.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import statsmodels.api as sm

from softreg import SoftmaxRegression, infer

data = sm.datasets.anes96.load_pandas().data
features = ["logpopul", "selfLR", "age", "educ", "income"]
X, y = data[features], data["PID"].astype(int)
print(X.describe().loc[["mean", "std"]].round(2))
print("respondents per party identification:", np.bincount(y))

# %%
# Maximum likelihood: alpha = 0
# -----------------------------
# ``infer`` reports the contrasts of each class against the reference class (strong
# Democrat, the first), one column per class, with standard errors from the inverse
# observed information.
model = SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y)
result = infer(model, X, y)
print(result.summary())

# %%
# statsmodels fits the same model with the reference class fixed at zero.
reference = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", disp=False, tol=1e-12,
                                                   maxiter=100)
params = np.asarray(result.params)
print("largest |difference| in coefficients:   "
      f"{np.abs(params - np.asarray(reference.params)).max():.1e}")
print("largest |difference| in standard errors: "
      f"{np.abs(np.asarray(result.bse) - np.asarray(reference.bse)).max():.1e}")

# %%
# Left-right self-placement moves respondents towards the Republican end: its contrast
# grows steadily across the scale, with intervals far from zero.
ci = result.conf_int(0.05)  # a DataFrame indexed by (class, term)
print(ci.xs("selfLR", level="term").round(3))

# %%
# Penalised: the Laplace approximation
# ------------------------------------
# With alpha > 0 the fit is a MAP estimate under a Gaussian prior, and ``infer`` reports
# the Laplace approximation of the posterior. Standard errors shrink as the prior adds
# information, and tend to the maximum-likelihood ones as alpha goes to 0.
row = "selfLR"
fig, ax = plt.subplots(figsize=(6.5, 4))
classes = list(result.params.columns)
ax.errorbar(np.arange(len(classes)) - 0.2, result.params.loc[row],
            yerr=1.96 * result.bse.loc[row], fmt="o", capsize=3, label="alpha = 0 (MLE)")
for i, alpha in enumerate([1e-2, 1e-1]):
    penalised = infer(SoftmaxRegression(alpha=alpha, tol=1e-10).fit(X, y), X, y)
    ax.errorbar(np.arange(len(classes)) + 0.1 * (i + 1) - 0.1, penalised.params.loc[row],
                yerr=1.96 * penalised.bse.loc[row], fmt="s", capsize=3,
                label=f"alpha = {alpha} (Laplace)")
ax.axhline(0, color="k", lw=0.8)
ax.set(xticks=range(len(classes)), xticklabels=[f"PID {c}" for c in classes],
       ylabel="contrast against PID 0, with 95% interval",
       title="left-right self-placement (selfLR)")
ax.legend()
plt.show()
