"""Running the benchmark: every fit of every problem, interleaved, plus J* and the limits.

:func:`run_group` fits softreg and the scikit-learn solvers on the problems that share
one data set, ``repeats`` times, alternating their order between repeats so that machine
load hits all alike, each fit in a fresh child process; then evaluates J of every
solution with one float64 reference objective, solves the problem tightly for J*, and
(for the problems that ask for it) measures the machine's limit for one pass over X.

Records are plain dicts (see :func:`run_group`), consumed by :mod:`benchmarks.report`.
"""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from .machine import machine_limit_child
from .measure import (
    REFERENCE_TOL,
    ChildFailed,
    fit_child,
    nbytes,
    objective_value,
    reference_objective,
    reference_solution,
    run_in_child,
    save_data,
)
from .problems import Problem

#: J* already solved, by data set: (J_ref, grad max-norm at it, coef, intercept, warnings)
_REFERENCES: dict = {}


def methods(problem: Problem) -> list[tuple[str, str]]:
    """(library, solver) pairs fitted on ``problem``: softreg's default fit first."""
    return [("softreg", "default")] + [("sklearn", s) for s in problem.sklearn]


def _summary(fits: list[dict]) -> dict:
    """One record from the repeats of one fit: medians of time and memory."""
    ok = [f for f in fits if "error" not in f]
    if not ok:
        return {"error": fits[0]["error"], "repeats": len(fits)}
    first = ok[0]
    return {
        "seconds": statistics.median(f["seconds"] for f in ok),
        "all_seconds": [f["seconds"] for f in ok],
        "peak": statistics.median(f["peak"] for f in ok),
        "memory_method": first["memory_method"],
        "n_iter": first["n_iter"], "n_passes": first["n_passes"],
        "warnings": sorted({w for f in ok for w in f["warnings"]}),
        "coef": first["coef"], "intercept": first["intercept"],
        "x_bytes": first["x_bytes"], "repeats": len(ok),
        "errors": [f["error"] for f in fits if "error" in f],
    }


def run_problem(problem: Problem, workdir: Path, **kwargs) -> dict:
    """Benchmark one problem; its record (see :func:`run_group`)."""
    return run_group([problem], workdir, **kwargs)[0]


def run_group(group: list[Problem], workdir: Path, *, repeats: int = 1, threads: int = 1,
              timeout: float | None = None, log=print) -> list[dict]:
    """Benchmark problems on the same data (e.g. dense64 and its float32 variant) together.

    Every repeat runs all fits of the group once, softreg's first on every problem, then
    each scikit-learn solver's, in reverse order on odd repeats: so dense64 and dense32
    are timed under the same load. Returns one record per problem:

    ``problem`` (the :class:`Problem`), ``n``, ``d``, ``K``, ``x_bytes``, ``dense_bytes``
    (n d itemsize), ``fits`` = {(library, solver): summary} where a summary has
    ``seconds`` (median), ``peak`` (bytes), ``n_iter``, ``n_passes``, ``warnings``, ``J``,
    ``subopt`` = (J - J*) / J* (or ``error``); ``J_star``, ``ref_grad`` (max |grad J| at
    the reference solution), ``ref_message`` (why its solver stopped); ``limit``
    (machine-limit dict or None).
    """
    if len({p.data_key for p in group}) != 1:
        raise ValueError("a group shares one data set")
    X64, y = group[0].generate()
    alpha = group[0].alpha
    K = int(y.max()) + 1
    folders = {}
    try:
        for problem in group:
            folders[problem.name] = str(save_data(workdir / problem.name,
                                                  problem.layout(X64), y))
        order = [(problem, pair) for i in range(1 + max(len(p.sklearn) for p in group))
                 for problem in group for pair in methods(problem)[i:i + 1]]
        raw: dict = {(p.name, pair): [] for p, pair in order}
        for r in range(repeats):
            for problem, (library, solver) in order if r % 2 == 0 else order[::-1]:
                log(f"  [{problem.name}] repeat {r + 1}/{repeats}: {library} {solver} ...")
                try:
                    out = run_in_child(fit_child, folders[problem.name], library, solver,
                                       alpha, threads, timeout=timeout, threads=threads)
                    log(f"      {out['seconds']:.2f} s, {out['n_iter']} iterations")
                except ChildFailed as exc:
                    last = str(exc).strip().splitlines()[-1]
                    out = {"error": last}
                    log(f"      failed: {last}")
                raw[(problem.name, (library, solver))].append(out)
        limits = {}
        for problem in group:
            if problem.machine_limit:
                log(f"  [{problem.name}] machine limit and one evaluation ...")
                limits[problem.name] = run_in_child(
                    machine_limit_child, folders[problem.name], K, alpha, threads,
                    timeout=timeout, threads=threads)
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)

    objective = reference_objective(X64, y, alpha, K)
    fits = {p.name: {pair: _summary(raw[(p.name, pair)]) for pair in methods(p)}
            for p in group}
    every = [f for by_pair in fits.values() for f in by_pair.values() if "error" not in f]
    for fit in every:
        fit["J"] = objective_value(objective, fit["coef"], fit["intercept"])
    ref = _reference(group[0], objective, every, log)
    J_star = min([ref["J"]] + [f["J"] for f in every])
    for fit in every:
        fit["subopt"] = (fit["J"] - J_star) / abs(J_star)
    n, d = X64.shape
    records = []
    for p in group:
        itemsize = np.dtype(p.dtype).itemsize
        x_bytes = nbytes(X64) if p.kind == "text" else n * d * itemsize
        records.append({
            "problem": p, "n": n, "d": d, "K": K, "x_bytes": x_bytes,
            "dense_bytes": n * d * itemsize, "fits": fits[p.name], "J_star": J_star,
            "ref_grad": ref["grad"], "ref_message": ref["message"],
            "limit": limits.get(p.name)})
    return records


def _reference(problem: Problem, objective, fits: list[dict], log) -> dict:
    """J, max |grad J| and the solver's message at a tight solution of ``problem``'s data.

    Solved once per data set (dense64 and its float32/Fortran variants share one),
    starting from the fit with the lowest J.
    """
    key = problem.data_key
    if key not in _REFERENCES:
        best = min(fits, key=lambda f: f["J"]) if fits else None
        log(f"  [{problem.name}] reference solution (SciPy L-BFGS-B + Newton-CG on the NumPy "
            f"objective, max |grad J| <= {REFERENCE_TOL:g}) ...")
        start = time.perf_counter()
        sol = reference_solution(objective, start=None if best is None else
                                 (best["coef"], best["intercept"]))
        log(f"      {time.perf_counter() - start:.1f} s, max |grad J| = {sol['grad']:.1e}")
        _REFERENCES[key] = {"J": objective_value(objective, sol["coef"], sol["intercept"]),
                            "grad": sol["grad"], "message": sol["message"]}
    return _REFERENCES[key]
