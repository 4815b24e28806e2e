"""
Soft targets: label smoothing and aggregated counts
====================================================

``y`` can be a matrix of class probabilities instead of labels. This example shows two
uses: label smoothing, which tempers over-confident probabilities, and aggregated counts,
where a contingency table is fitted as proportions with the row totals as sample weights
and gives exactly the fit on the individual rows.
"""

# %%
# Label smoothing
# ---------------
# Replace each one-hot row by (1 - eps) * onehot + eps / K. With a tiny penalty the
# digits data are nearly separable, and the plain fit pushes most probabilities towards
# 0 and 1; a smoothed fit cannot: its targets never ask for more than 1 - eps + eps / K.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from softreg import SoftmaxRegression

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
K = 10

fig, ax = plt.subplots(figsize=(6.5, 4))
for eps in [0.0, 0.05, 0.2]:
    Y_tr = (1 - eps) * np.eye(K)[y_tr] + eps / K  # rows still sum to 1
    model = SoftmaxRegression(alpha=1e-5, max_iter=2000).fit(X_tr, Y_tr)
    P = model.predict_proba(X_te)
    print(f"eps = {eps:4.2f}: test accuracy {accuracy_score(y_te, P.argmax(1)):.3f}, "
          f"test log-loss {log_loss(y_te, P, labels=range(K)):.3f}, "
          f"mean top probability {P.max(1).mean():.3f}")
    ax.hist(P.max(axis=1), bins=np.linspace(0, 1, 41), histtype="step", lw=2,
            label=f"eps = {eps}")
ax.set(xlabel="probability of the predicted class (test rows)", ylabel="rows", yscale="log",
       title="label smoothing tempers confidence")
ax.legend(loc="upper left")
plt.show()

# %%
# Smoothing is a regulariser of the probabilities, not of the decision: accuracy barely
# moves while the confidence drops. On these well-separated data the plain fit was not
# over-confident, so smoothing costs held-out log-loss; it pays where labels are noisy or
# where calibrated top-class confidence matters more than log-loss.
#
# Aggregated counts
# -----------------
# Survey-style data often come as counts per covariate pattern. Here 5 patterns with
# counts of 3 outcomes; the equivalent individual data set has one row per person.
patterns = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, -1.0], [3.0, 0.0], [4.0, 2.0]])
counts = np.array([[30, 10, 5], [20, 20, 10], [8, 25, 20], [5, 15, 40], [2, 8, 50]])

totals = counts.sum(axis=1)
aggregated = SoftmaxRegression(alpha=1e-3, tol=1e-10).fit(
    patterns, counts / totals[:, None], sample_weight=totals)

X_rows = np.repeat(np.repeat(patterns, 3, axis=0), counts.ravel(), axis=0)
y_rows = np.repeat(np.tile(np.arange(3), len(patterns)), counts.ravel())
individual = SoftmaxRegression(alpha=1e-3, tol=1e-10).fit(X_rows, y_rows)

print(f"{len(patterns)} weighted rows vs {len(y_rows)} individual rows")
print("largest coefficient difference:",
      f"{np.abs(aggregated.coef_ - individual.coef_).max():.1e}")
print("fitted probabilities per pattern:\n", aggregated.predict_proba(patterns).round(3))
print("observed proportions:\n", (counts / totals[:, None]).round(3))

# %%
# The two fits agree to the solver's tolerance: the objective is a weighted mean of
# cross-entropies, and a pattern with proportions p and total t contributes exactly what
# its t individual rows do.
