"""softreg on Dask: the datafit over partitions, data alignment, out-of-core files.

The estimator builds a :class:`DaskObjective` for Dask input and hands it to a solver
like any in-memory datafit; nothing here knows the estimator.

- :mod:`._data`: X, y and weights as aligned Delayed partitions
- :mod:`._scan`: the one validation scan (labels, weight totals)
- :mod:`._objective`: :class:`DaskObjective`, the datafit protocol over the partitions
- :mod:`._blocks`: what a worker runs per pass (a partition's or a group's share, the
  fused kernels, the worker-resident cache of validated targets)
- :mod:`._resident`: passes over persisted partitions, one call per worker (a group of
  partitions per worker thread), tasks as the fallback
- :mod:`._direct`: that call: softreg's message handler on the workers, and the client's side
- :mod:`._compute`: tree sums, BLAS limits, errors that name the step
- :mod:`._predict`: lazy predictions of a fitted model
- :mod:`._files`: :func:`read_table`, :func:`fit_files` (Parquet/CSV on a cluster)
"""

from ._compute import BLAS_THREADS, SPLIT_EVERY, tree_sum
from ._data import DaskData, as_dask_data, in_memory_partitions, is_dask_collection, scan_labels
from ._files import dask_scheduler, fit_files, read_table
from ._objective import DaskObjective
from ._predict import predict_dask

__all__ = [
    "BLAS_THREADS", "SPLIT_EVERY", "DaskData", "DaskObjective", "as_dask_data",
    "dask_scheduler", "fit_files", "in_memory_partitions", "is_dask_collection",
    "predict_dask", "read_table", "scan_labels", "tree_sum",
]
