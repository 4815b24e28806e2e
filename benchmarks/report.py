"""Tables, target checks and the RESULTS.md document from the runner's records.

Every number printed comes from a record of :func:`benchmarks.runner.run_problem`; the
targets are checked against those numbers (PASS / FAIL, or SKIP when the problem a target
needs was not run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MB = 1e6

#: columns of the main table, in order
COLUMNS = ("problem", "fit", "time s", "passes over X", "iterations", "(J-J*)/J*",
           "converged", "peak extra MB", "peak / size of X", "speed-up vs fastest sklearn")

#: (target name, threshold) used by :func:`targets`
SPEEDUP_MIN = 10.0  # issue 12: on every dense float64 problem
FORTRAN_TIME_MAX = 1.3  # F-ordered X against the same data in C order
SUBOPT64_MAX = 1e-7
#: sparse tf-idf problems (issue 12): the default fit this much faster than scikit-learn's
#: fastest converged solver, at (J-J*)/J* <= SUBOPT64_MAX
SPARSE_SPEEDUP_MIN = 2.0
SUBOPT32_MAX = 1e-5
FLOAT32_TIME_MAX = 0.6
EVAL_LIMIT_MAX = 3.0  # issue 12: within 3x of the tighter bound
MEMORY_FRACTION_MAX = 0.5  # "well under X's size"
DENSIFY_FRACTION_MAX = 0.01  # of the dense n*d array

COLUMN_NOTES = """\
What the columns mean:

- **time s**: wall time of `fit` alone (data already in memory), median of the repeats. Each
  fit runs in a fresh process, after an untimed warm-up fit of the same model on X's first
  2000 rows there (so imports and JIT compilation are not counted, for either library).
  Both libraries use the same threads.
- **passes over X**: softreg: `n_passes_`, exactly one per objective/gradient evaluation or
  Hessian-vector product. scikit-learn does not expose its count: for lbfgs the column
  shows `n_iter_` with "≈" (one gradient per iteration plus line-search extras, so the true
  number is a little higher); for saga `n_iter_` (one epoch = one pass); for
  newton-cholesky "n/a": each of its iterations makes a few passes and forms X^T D X,
  far more work than a pass.
- **iterations**: `n_iter_` (L-BFGS/Newton iterations, saga epochs).
- **(J-J*)/J***: relative suboptimality of the returned coefficients, J evaluated in float64
  on the float64 data with one plain-NumPy objective for every fit (float32 fits too).
  J* = min(J of a tight reference solution, J of every fit), so it is never negative. The
  reference minimises that NumPy objective with SciPy's L-BFGS-B (independent of
  softreg's solvers and kernels), started from the fit with the lowest J and run until
  max |grad J| <= 1e-11 or J stops decreasing in floating point, then with Newton-CG
  steps while they shrink the gradient; the gradient it reached is listed per problem
  below the table.
- **converged**: "no" when the fit raised a ConvergenceWarning.
- **peak extra MB**: the resident memory of the fitting process at its highest during `fit`
  minus just before it (the kernel's high-water mark VmHWM, reset before the fit);
  **peak / size of X** divides that by the bytes of X (data+indices+indptr for sparse).
- **speed-up vs fastest sklearn**: time of the fastest scikit-learn solver that converged
  on the problem divided by this fit's time (above 1: faster than it).
"""


def fit_label(library: str, solver: str) -> str:
    return "softreg (default)" if library == "softreg" else f"sklearn {solver}"


def converged(fit: dict) -> bool:
    return "error" not in fit and not any(w.startswith("ConvergenceWarning")
                                          for w in fit["warnings"])


def fastest_sklearn(record: dict):
    """((library, solver), seconds) of the fastest converged sklearn fit, or None."""
    timed = [(pair, f["seconds"]) for pair, f in record["fits"].items()
             if pair[0] == "sklearn" and converged(f)]
    return min(timed, key=lambda t: t[1]) if timed else None


def _passes(library: str, solver: str, fit: dict) -> str:
    if library == "softreg":
        return str(fit["n_passes"])
    return {"lbfgs": f"≈{fit['n_iter']}", "saga": str(fit["n_iter"])}.get(solver, "n/a")


def _num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def results_table(records: list[dict]) -> str:
    """The main markdown table: one row per fit."""
    lines = [_row(COLUMNS), _row(["---"] * len(COLUMNS))]
    for rec in records:
        best = fastest_sklearn(rec)
        for (library, solver), fit in rec["fits"].items():
            name = f"{rec['problem'].name}: {rec['problem'].title}"
            label = fit_label(library, solver)
            if "error" in fit:
                lines.append(_row([name, label, "failed: " + fit["error"][:80]]
                                  + ["—"] * (len(COLUMNS) - 3)))
                continue
            speed = f"{best[1] / fit['seconds']:.2f}x" if best else "—"
            lines.append(_row([
                name, label, f"{fit['seconds']:.2f}", _passes(library, solver, fit),
                fit["n_iter"], f"{fit['subopt']:.1e}", "yes" if converged(fit) else "**no**",
                f"{fit['peak'] / MB:.1f}", f"{fit['peak'] / fit['x_bytes']:.3f}", speed]))
    return "\n".join(lines)


def problem_notes(records: list[dict]) -> str:
    """Per problem: sizes, J*, the reference's gradient, skipped solvers, warnings."""
    out = []
    for rec in records:
        p = rec["problem"]
        layout = "CSR" if p.kind == "text" else f"{p.order}-order"
        out.append(f"- **{p.name}**: n={rec['n']}, d={rec['d']}, K={rec['K']}, {p.dtype} "
                   f"{layout}, X = {rec['x_bytes'] / MB:.1f} MB; J* = {rec['J_star']:.12g}, "
                   f"reference max |grad J| = {rec['ref_grad']:.1e} ({rec['ref_message']}).")
        for solver, why in p.skipped.items():
            out.append(f"  - sklearn {solver}: {why}.")
        for (library, solver), fit in rec["fits"].items():
            for w in fit.get("warnings", []):
                out.append(f"  - {fit_label(library, solver)} warned: {w[:200]}")
            if fit.get("errors"):
                out.append(f"  - {fit_label(library, solver)}: {len(fit['errors'])} "
                           f"repeat(s) failed: {fit['errors'][0][:200]}")
    return "\n".join(out)


def _fit_eval(lim: dict) -> float:
    """Best time of the evaluation a default fit makes most (mixed precision on float32 X)."""
    return lim.get("eval_fit_best", lim["eval_best"])


def limits_table(records: list[dict]) -> str:
    """Machine limit for one pass over X vs one objective+gradient evaluation."""
    cols = ("problem", "X MB", "stream X once ms", "GB/s", "GEMM GFLOP/s",
            "4ndK flops at peak ms", "limit ms", "one evaluation ms (best / median)",
            "evaluation / limit", "fit's evaluation (mixed on float32) ms (best / median)",
            "fit's evaluation / limit", "two BLAS GEMMs per row block ms")
    lines = [_row(cols), _row(["---"] * len(cols))]
    hows = []
    for rec in records:
        lim = rec["limit"]
        if lim is None:
            continue
        hows.append(f"{rec['problem'].name}: {lim['stream_how']}")
        lines.append(_row([
            rec["problem"].name, f"{lim['x_bytes'] / MB:.0f}", f"{lim['stream'] * 1e3:.1f}",
            f"{lim['bandwidth'] / 1e9:.1f}", f"{lim['gemm_rate'] / 1e9:.0f}",
            f"{lim['flops_time'] * 1e3:.1f}", f"{lim['limit'] * 1e3:.1f}",
            f"{lim['eval_best'] * 1e3:.1f} / {lim['eval_median'] * 1e3:.1f}",
            f"{lim['eval_best'] / lim['limit']:.2f}x",
            f"{_fit_eval(lim) * 1e3:.1f} / "
            f"{lim.get('eval_fit_median', lim['eval_median']) * 1e3:.1f}",
            f"{_fit_eval(lim) / lim['limit']:.2f}x",
            f"{lim['blas_blocks'] * 1e3:.1f}" if "blas_blocks" in lim else "-"]))
    if len(lines) == 2:
        return ""
    return "\n".join(lines) + "\n\nFastest read-only pass found: " + "; ".join(hows) + "."


def scaling_rows(records: list[dict]) -> list[dict]:
    """softreg's default fit on the scaling problems (same d, K), sorted by n."""
    rows = [r for r in records if r["problem"].scaling
            and "error" not in r["fits"].get(("softreg", "default"), {"error": 1})]
    if rows:
        d, K = rows[0]["d"], rows[0]["K"]
        rows = [r for r in rows if (r["d"], r["K"]) == (d, K)]
    return sorted(rows, key=lambda r: r["n"])


def scaling_table(records: list[dict]) -> str:
    rows = scaling_rows(records)
    if len(rows) < 2:
        return ""
    cols = ("n", "softreg s", "passes", "ms per pass", "ns per pass per sample",
            "time / first", "time per pass / first", "sklearn lbfgs s")
    lines = [_row(cols), _row(["---"] * len(cols))]
    first = rows[0]["fits"][("softreg", "default")]
    first_pp = first["seconds"] / first["n_passes"]
    for rec in rows:
        fit = rec["fits"][("softreg", "default")]
        per_pass = fit["seconds"] / fit["n_passes"]
        sk = rec["fits"].get(("sklearn", "lbfgs"), {})
        lines.append(_row([
            rec["n"], f"{fit['seconds']:.2f}", fit["n_passes"], f"{per_pass * 1e3:.1f}",
            f"{per_pass / rec['n'] * 1e9:.1f}", f"{fit['seconds'] / first['seconds']:.2f}x",
            f"{per_pass / first_pp:.2f}x (n {rec['n'] / rows[0]['n']:.0f}x)",
            f"{sk['seconds']:.2f}" if "seconds" in sk else "—"]))
    return "\n".join(lines)


def targets(records: list[dict]) -> list[tuple[str, str, str]]:
    """[(status, target, measured)] with status PASS, FAIL or SKIP."""
    by = {r["problem"].name: r for r in records}
    out = []

    def softreg(name):
        rec = by.get(name)
        fit = rec["fits"].get(("softreg", "default")) if rec else None
        return rec, fit

    def check(target, names, test):
        found = [softreg(n) for n in names]
        if any(rec is None for rec, _ in found):
            out.append(("SKIP", target, f"needs problem(s) {', '.join(names)}"))
        elif any("error" in fit for _, fit in found):
            out.append(("FAIL", target, "; ".join(fit.get("error", "") for _, fit in found)))
        else:
            ok, measured = test(*found)
            out.append(("PASS" if ok else "FAIL", target, measured))

    def speedup_at(pair, minimum):
        rec, fit = pair
        best = fastest_sklearn(rec)
        if best is None:
            return False, "no scikit-learn solver converged"
        ratio = best[1] / fit["seconds"]
        return ratio >= minimum, (f"{ratio:.2f}x (softreg {fit['seconds']:.2f} s, "
                                  f"sklearn {best[0][1]} {best[1]:.2f} s)")

    def speedup(pair):
        return speedup_at(pair, SPEEDUP_MIN)

    for name in ("dense64", "classes100", "n50k", "n800k"):
        check(f"{name}: default fit >= {SPEEDUP_MIN:g}x faster than the fastest "
              "scikit-learn solver", [name], speedup)
    for name, limit in (("dense64", SUBOPT64_MAX), ("dense32", SUBOPT32_MAX)):
        check(f"{name}: default fit (J-J*)/J* <= {limit:g}", [name],
              lambda p, lim=limit: (p[1]["subopt"] <= lim, f"{p[1]['subopt']:.2e}"))
    check(f"dense32: fit time <= {FLOAT32_TIME_MAX:g}x the dense64 time", ["dense32", "dense64"],
          lambda p32, p64: (p32[1]["seconds"] <= FLOAT32_TIME_MAX * p64[1]["seconds"],
                            f"{p32[1]['seconds'] / p64[1]['seconds']:.2f}x "
                            f"({p32[1]['seconds']:.2f} s / {p64[1]['seconds']:.2f} s)"))
    for f_name, c_name in (("dense64F", "dense64"), ("dense32F", "dense32")):
        check(f"{f_name}: fit time <= {FORTRAN_TIME_MAX:g}x the C-order time",
              [f_name, c_name],
              lambda pf, pc: (pf[1]["seconds"] <= FORTRAN_TIME_MAX * pc[1]["seconds"],
                              f"{pf[1]['seconds'] / pc[1]['seconds']:.2f}x "
                              f"({pf[1]['seconds']:.2f} s / {pc[1]['seconds']:.2f} s)"))
    for name in ("dense64", "dense32"):
        def within(pair):
            lim = pair[0]["limit"]
            ratio = _fit_eval(lim) / lim["limit"]
            return ratio <= EVAL_LIMIT_MAX, (f"{ratio:.2f}x ({_fit_eval(lim) * 1e3:.1f} ms "
                                             f"vs limit {lim['limit'] * 1e3:.1f} ms)")
        check(f"{name}: one objective+gradient evaluation <= {EVAL_LIMIT_MAX:g}x the machine "
              "limit", [name], within)
    for name in ("dense64", "dense32", "dense64F", "dense32F"):
        check(f"{name}: no copy of X in fit (peak extra memory < {MEMORY_FRACTION_MAX:g} x X)",
              [name], lambda p: (p[1]["peak"] < MEMORY_FRACTION_MAX * p[1]["x_bytes"],
                                 f"{p[1]['peak'] / MB:.1f} MB = "
                                 f"{p[1]['peak'] / p[1]['x_bytes']:.3f} x X"))
    for name in ("sparse", "sparseC10"):
        def sparse_target(pair):
            ok, text = speedup_at(pair, SPARSE_SPEEDUP_MIN)
            sub = pair[1]["subopt"]
            return ok and sub <= SUBOPT64_MAX, f"{text}; (J-J*)/J* = {sub:.1e}"
        check(f"{name}: default fit >= {SPARSE_SPEEDUP_MIN:g}x faster than the fastest "
              f"scikit-learn solver, at (J-J*)/J* <= {SUBOPT64_MAX:g}", [name], sparse_target)
    check(f"sparse: never densifies (peak extra memory < {DENSIFY_FRACTION_MAX:g} x the dense "
          "n*d array)", ["sparse"],
          lambda p: (p[1]["peak"] < DENSIFY_FRACTION_MAX * p[0]["dense_bytes"],
                     f"{p[1]['peak'] / MB:.1f} MB; dense X would be "
                     f"{p[0]['dense_bytes'] / MB:.0f} MB, the CSR is "
                     f"{p[1]['x_bytes'] / MB:.0f} MB"))
    return out


def targets_text(records: list[dict]) -> str:
    return "\n".join(f"- **{status}** {target}: {measured}"
                     for status, target, measured in targets(records))


def document(records: list[dict], *, command: str, machine: list[str],
             probe: str) -> str:
    """The whole RESULTS.md text."""
    parts = ["# softreg vs scikit-learn LogisticRegression", "",
             f"Command: `{command}`", "", *[f"- {m}" for m in machine],
             f"- memory measurement check: {probe}", "", "## Targets", "",
             targets_text(records), "", "## Fits", "", results_table(records), "",
             problem_notes(records), "", COLUMN_NOTES]
    limits = limits_table(records)
    if limits:
        parts += ["## One pass over X: the machine's limit", "",
                  "limit = max(time to stream X once, 4 n d K flops / peak GEMM rate): "
                  "the two products X W and X^T G of one objective+gradient evaluation at "
                  "the measured GEMM peak, or one read of X, whichever is slower. The "
                  "evaluation is softreg's objective as `fit` builds it (default kernel), "
                  "at alternating points so its cache never answers; the ratio uses the "
                  "best of 10. The fit's evaluation: on float32 X, L-BFGS makes most "
                  "passes in mixed precision (float32 products, float64 softmax and sums) "
                  "and the rest in float64; the target uses it (float32 products against "
                  "the float32 GEMM peak). Last column: the same evaluation built on BLAS "
                  "instead "
                  "(per cache-sized row block, Z = X_b W by GEMM, softmax in NumPy, then "
                  "X_b^T R by a second GEMM; float32 blocks widened), best of 3.", "",
                  limits, ""]
    scaling = scaling_table(records)
    if scaling:
        parts += ["## Growth with n (softreg default fit, same distribution)", "",
                  scaling, "",
                  "Linear cost: time per pass grows like n (per pass per sample constant); "
                  "the number of passes depends on the problem's conditioning, which is "
                  "the same distribution at every n.", ""]
    return "\n".join(parts)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder + os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
