"""Benchmarks of softreg: ``python -m benchmarks`` (softreg vs scikit-learn, the targets),
``python -m benchmarks.cv`` (cross-validation), ``python -m benchmarks.dask_bench`` (Dask),
``python -m benchmarks.dask_worker_memory`` (a Dask worker's memory with softreg's kernels),
``python -m benchmarks.stochastic`` (saga, sgd and partial_fit against their targets)."""
