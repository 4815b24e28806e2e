"""
Class weights on imbalanced data
================================

With one class much rarer than the others, an unweighted fit maximises overall accuracy
and sacrifices the rare class. ``class_weight="balanced"`` gives every class the same total
weight; a dict of weights sets any trade-off in between.
"""

# %%
# Three classes in proportions 90 : 8 : 2, overlapping.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split

from softreg import SoftmaxRegression

X, y = make_classification(n_samples=6000, n_features=8, n_informative=5, n_classes=3,
                           n_clusters_per_class=1, weights=[0.90, 0.08, 0.02],
                           class_sep=1.0, random_state=0)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=0, stratify=y)
print("training rows per class:", np.bincount(y_tr))

# %%
# Recall per class, for no weights, the balanced weights and a compromise in between.
settings = {
    "none": None,
    "sqrt-balanced": {k: float(np.sqrt(len(y_tr) / (3 * c)))
                      for k, c in enumerate(np.bincount(y_tr))},
    "balanced": "balanced",
}
recalls = {}
for name, cw in settings.items():
    model = SoftmaxRegression(alpha=1e-4, class_weight=cw).fit(X_tr, y_tr)
    pred = model.predict(X_te)
    recalls[name] = recall_score(y_te, pred, average=None)
    print(f"{name:>14}: accuracy {np.mean(pred == y_te):.3f}, "
          f"balanced accuracy {balanced_accuracy_score(y_te, pred):.3f}, "
          f"recall per class {np.round(recalls[name], 3)}")

fig, ax = plt.subplots(figsize=(6.5, 4))
width = 0.27
for i, (name, r) in enumerate(recalls.items()):
    ax.bar(np.arange(3) + (i - 1) * width, r, width, label=name)
ax.set(xticks=range(3), xticklabels=["class 0 (90%)", "class 1 (8%)", "class 2 (2%)"],
       ylabel="recall on held-out rows", ylim=(0, 1.05), title="class_weight")
ax.legend(title="class_weight", loc="lower left")
plt.show()

# %%
# Balanced weights raise the rare classes' recall at the cost of some accuracy on the
# common class (and of overall accuracy). The weights enter the objective as sample
# weights, ``s_i * w[y_i]``, so a balanced fit is the fit of a data set in which every
# class carries the same total weight; its probabilities are calibrated for *that*
# population, not for the original class frequencies.
