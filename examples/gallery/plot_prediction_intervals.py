"""
Prediction intervals for class probabilities
============================================

A predicted probability is an estimate: ``get_prediction`` gives every class probability
of a new row a standard error (the delta method through the parameter covariance of
:func:`softreg.infer`) and a confidence interval. The interval is formed on the logit
scale and mapped back, so it always stays inside (0, 1), also where a probability is
close to 0 or 1.

Here: the iris versicolor and virginica flowers (where the maximum-likelihood estimate
exists), with petal width as the only feature, so the intervals can be drawn as bands.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_iris

from softreg import FitSeparationWarning, SoftmaxRegression, infer
from softreg.inference import InferenceError

iris = load_iris()
keep = iris.target > 0
X = iris.data[keep][:, [3]]  # petal width (cm)
y = iris.target_names[iris.target[keep]]
model = SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y)
result = infer(model, X, y)
print(result.summary())

# %%
# Probabilities along a grid, with 95% intervals
# ----------------------------------------------
grid = np.linspace(0.8, 2.6, 200)[:, None]
pred = result.get_prediction(grid)
ci = pred.conf_int(alpha=0.05)  # shape (200, 2 classes, 2 bounds)
k = list(pred.classes).index("virginica")

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(grid[:, 0], pred.predicted[:, k], label="P(virginica)")
ax.fill_between(grid[:, 0], ci[:, k, 0], ci[:, k, 1], alpha=0.3, label="95% interval")
jitter = np.random.default_rng(0).uniform(-0.02, 0.02, len(y))
ax.scatter(X[:, 0], (y == "virginica") + jitter, s=8, color="k", alpha=0.4,
           label="flowers (0 = versicolor, 1 = virginica)")
ax.set(xlabel="petal width (cm)", ylabel="probability", ylim=(-0.05, 1.05),
       title="the interval is widest where the data are thinnest")
ax.legend(loc="upper left")
plt.show()

# %%
# A table for a few rows: ``summary_frame`` is statsmodels' layout (mean, its standard
# error and the interval, one row per sample and class).
print(result.get_prediction(np.array([[1.3], [1.7], [2.2]])).summary_frame().round(4))

# %%
# Do the intervals cover?
# -----------------------
# A small simulation: draw new labels from a known model (the fitted one), refit, and
# count how often the 90% interval of P(virginica) at petal width 1.7 cm contains the
# true probability. The delta method is a large-sample approximation; with 100 flowers
# the coverage should be near, not exactly at, 90%. Now and then a simulated data set
# is separable (no finite maximum-likelihood estimate): softreg says so, with a
# FitSeparationWarning from ``fit`` and an InferenceError from ``infer``, and those draws
# are counted apart.
rng = np.random.default_rng(1)
true_p = model.predict_proba(X)[:, k]
x0 = np.array([[1.7]])
p0 = model.predict_proba(x0)[0, k]
hits = separated = 0
n_sim = 200
for _ in range(n_sim):
    y_sim = np.where(rng.uniform(size=len(true_p)) < true_p, "virginica", "versicolor")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitSeparationWarning)
            sim = infer(SoftmaxRegression(alpha=0, tol=1e-10).fit(X, y_sim), X, y_sim)
    except InferenceError:
        separated += 1
        continue
    lo, hi = sim.get_prediction(x0).conf_int(alpha=0.10)[0, k]
    hits += lo <= p0 <= hi
print(f"coverage of the 90% interval at 1.7 cm: {hits / (n_sim - separated):.3f} "
      f"({n_sim - separated} simulations; {separated} separable draws skipped)")
