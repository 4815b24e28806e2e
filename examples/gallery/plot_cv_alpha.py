"""
Choosing alpha by cross-validation
==================================

:class:`~softreg.SoftmaxRegressionCV` fits a whole grid of penalties on every fold, from the
largest to the smallest, each fit warm-started from the previous one, and refits the best
on all the data. Here on the breast-cancer data with the held-out log-loss as the score.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegressionCV

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)

search = SoftmaxRegressionCV(alphas=np.logspace(0, -5, 16), cv=5,
                             scoring="neg_log_loss").fit(X, y)
print(f"chosen alpha = {search.alpha_:.2e}")
print(f"iterations per path fit (mean over folds): {search.n_iter_path_.mean(0).round(1)}")

# %%
# The validation curve: the mean held-out log-loss per alpha with one standard error of
# the fold mean. Small alphas overfit (30 correlated features, 569 rows), large ones
# underfit.
mean, se = -search.mean_scores_, search.std_scores_ / np.sqrt(search.scores_.shape[0])
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.errorbar(search.alphas_, mean, yerr=se, marker="o", capsize=3)
ax.axvline(search.alpha_, color="k", ls="--", label=f"alpha_ = {search.alpha_:.1e}")
ax.set(xscale="log", xlabel="alpha", ylabel="held-out log-loss (5 folds)",
       title="SoftmaxRegressionCV on breast cancer")
ax.legend()
plt.show()

# %%
# Warm starts make the path cheap: after the first (most regularised) alpha, each fit
# starts next to its solution and needs a few Newton iterations.
print(f"accuracy of the refitted model on its training data: "
      f"{search.score(X, y):.3f}")
