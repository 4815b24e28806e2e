"""
The lasso and grouped-lasso path, and the 1-SE choice
=====================================================

With an L1 penalty most coefficients are exactly zero: the model selects features.
:func:`softreg.regularization_path` fits the whole path of penalties, from ``alpha_max``
(the smallest alpha at which every coefficient is zero) downwards, each fit warm-started
from the previous one, as glmnet does. The entrywise lasso lets a feature enter for some
classes only; the grouped lasso (``grouped=True``) lets a feature in or out for all
classes at once.

The data: the wine set (13 standardised measurements, 3 cultivars).
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegressionCV, regularization_path

data = load_wine()
X = StandardScaler().fit_transform(data.data)
y = data.target
names = data.feature_names

lasso = regularization_path(X, y, l1_ratio=1.0, n_alphas=60, alpha_min_ratio=1e-3)
grouped = regularization_path(X, y, l1_ratio=1.0, grouped=True, n_alphas=60,
                              alpha_min_ratio=1e-3)
print(f"alpha_max = {lasso.alpha_max:.3f} (lasso), {grouped.alpha_max:.3f} (grouped)")
print(f"all fits converged: {lasso.converged and grouped.converged}")

# %%
# The coefficient paths
# ---------------------
# Left: each line is one coefficient W[j, k] of the entrywise lasso (colour = class).
# Right: the grouped lasso's row norms ||W[j, :]||, one line per feature: a feature's
# three coefficients leave zero together.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), sharex=True, layout="constrained")
for k in range(3):
    ax1.plot(lasso.alphas, lasso.coefs[:, k, :], color=f"C{k}", lw=1)
    ax1.plot([], [], color=f"C{k}", label=str(data.target_names[k]))
ax1.set(xscale="log", xlabel="alpha", ylabel="coefficient", title="lasso (entrywise)")
ax1.legend(fontsize=8)
norms = np.linalg.norm(grouped.coefs, axis=1)  # (n_alphas, n_features)
ax2.plot(grouped.alphas, norms, lw=1)
ax2.set(xscale="log", xlabel="alpha", ylabel="||W[j, :]||", title="grouped lasso")
ax1.invert_xaxis()
plt.show()

# %%
# How many features each model uses, against the share of the deviance it explains:
print("     lasso: alpha  features  dev ratio | grouped: alpha  features  dev ratio")
for i in range(0, 60, 8):
    print(f"{lasso.alphas[i]:16.4f} {lasso.n_active[i]:9d} {lasso.dev_ratio[i]:10.3f} | "
          f"{grouped.alphas[i]:14.4f} {grouped.n_active[i]:9d} {grouped.dev_ratio[i]:10.3f}")

# %%
# Choosing alpha: the 1-SE rule
# -----------------------------
# :class:`~softreg.SoftmaxRegressionCV` cross-validates the path (5 folds, held-out
# log-loss here) and refits either the alpha with the best mean score (``rule="best"``) or,
# with ``rule="1se"``, the largest alpha whose mean score is within one standard error of
# the best: the sparsest model that is not measurably worse (glmnet's ``lambda.1se``).
search = SoftmaxRegressionCV(alphas=30, l1_ratio=1.0, grouped=True, rule="1se",
                             scoring="neg_log_loss", cv=5).fit(X, y)
alphas = search.alphas_
mean = -search.mean_scores_
se = search.std_scores_ / np.sqrt(search.scores_.shape[0])
coef = search.estimator_.coef_
kept = np.flatnonzero(np.linalg.norm(coef, axis=0) > 0)
print(f"best alpha {search.alpha_best_:.4f}, 1-SE alpha {search.alpha_1se_:.4f} (refitted)")
print(f"the 1-SE model uses {len(kept)} of {X.shape[1]} features:",
      [names[j] for j in kept])

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.errorbar(alphas, mean, yerr=se, marker=".", capsize=2)
ax.axvline(search.alpha_best_, color="k", ls="--", label="best")
ax.axvline(search.alpha_1se_, color="C3", ls=":", label="1-SE (refitted)")
ax.set(xscale="log", xlabel="alpha", ylabel="held-out log-loss (5 folds)",
       title="grouped lasso: cross-validated path")
ax.invert_xaxis()
ax.legend()
plt.show()
