"""
Out of core with Dask: a folder of Parquet files
================================================

When the data do not fit in memory, softreg fits the same model on a Dask collection:
every evaluation of the objective is one pass over the partitions, each partition adds
its share of the loss and gradient, and only the coefficient vector travels. Here a
folder of 6 Parquet files stands in for a data set too large for one process.

The example runs on Dask's in-process threaded scheduler to stay quick; on a cluster,
create a ``distributed.Client("tcp://scheduler:8786")`` first (or pass
``scheduler="tcp://scheduler:8786"`` to ``fit_files``) and nothing else changes.
"""

# %%
# Write the files: 6 Parquet files of 2000 rows, 20 features, 4 classes.
import shutil
import tempfile
import time
from pathlib import Path

import dask.dataframe as dd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from softreg import SoftmaxRegression
from softreg.distributed import fit_files

X, y = make_classification(n_samples=12_000, n_features=20, n_informative=10, n_classes=4,
                           random_state=0)
folder = Path(tempfile.mkdtemp()) / "events"
folder.mkdir()
columns = [f"x{j}" for j in range(X.shape[1])]
for i, rows in enumerate(np.array_split(np.arange(len(y)), 6)):
    part = pd.DataFrame(X[rows], columns=columns).assign(label=y[rows])
    part.to_parquet(folder / f"part-{i:02d}.parquet")
print(sorted(p.name for p in folder.iterdir()))

# %%
# Fit from the files
# ------------------
# :func:`softreg.distributed.fit_files` reads the folder lazily; no process ever holds
# all the rows. The same fit with a dask DataFrame
# is ``SoftmaxRegression(alpha=1e-3).fit(df[columns], df["label"])``.
t0 = time.perf_counter()
model = fit_files(folder, target="label", estimator=SoftmaxRegression(alpha=1e-3),
                  scheduler="threads")
t_dask = time.perf_counter() - t0
print(f"Dask: {model.n_iter_} iterations, {model.n_passes_} passes over the files, "
      f"{t_dask:.1f} s ({model.stop_reason_})")

# %%
# It is the in-memory model
# -------------------------
# Fitting the same rows in memory gives the same coefficients, to the solver's tolerance.
t0 = time.perf_counter()
in_memory = SoftmaxRegression(alpha=1e-3).fit(X, y)
t_mem = time.perf_counter() - t0
print(f"in memory: {in_memory.n_iter_} iterations, {t_mem:.2f} s")
print(f"largest coefficient difference: {np.abs(model.coef_ - in_memory.coef_).max():.1e}")

# %%
# Lazy predictions
# ----------------
# On dask input, predictions are dask arrays, computed partition by partition.
df = dd.read_parquet(folder)
proba = model.predict_proba(df[columns])
print(type(proba).__name__, "of shape", proba.shape, "(row counts are unknown until computed)")
P = proba.compute(scheduler="threads")
accuracy = np.mean(model.classes_[P.argmax(axis=1)] == df["label"].compute().to_numpy())
print(f"training accuracy from the lazy predictions: {accuracy:.3f}")

fig, ax = plt.subplots(figsize=(6.5, 3.5))
ax.semilogy(np.array(model.loss_curve_) - min(in_memory.loss_curve_) + 1e-16, marker="o",
            label="Dask, 6 Parquet files")
ax.semilogy(np.array(in_memory.loss_curve_) - min(in_memory.loss_curve_) + 1e-16,
            marker=".", label="in memory")
ax.set(xlabel="iteration", ylabel="J - J*", title="the same optimisation, out of core")
ax.legend()
plt.show()

# %%
# On one machine the in-memory fit is much faster: every Dask pass re-reads the files
# and pays the scheduling overhead. Dask pays off when the data do not fit in one
# process, or already live on a cluster; ``persist()`` the collection when the cluster's
# memory holds it, so passes stop re-reading the files.
shutil.rmtree(folder.parent)
