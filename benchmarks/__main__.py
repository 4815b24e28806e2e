"""``python -m benchmarks``: softreg vs scikit-learn's LogisticRegression, side by side.

Usage::

    python -m benchmarks [--quick] [--only NAME[,NAME]] [--repeats N] [--threads N]
                         [--timeout S] [--output PATH] [--list]

Fits softreg's default and scikit-learn's lbfgs, saga and newton-cholesky solvers on fixed,
seeded problems (:mod:`benchmarks.problems`), each fit in a fresh process, interleaved;
prints and writes (atomically, default ``benchmarks/RESULTS.md``; ``--quick`` writes only
with ``--output``) the tables and the PASS/FAIL lines of the targets. See
:mod:`benchmarks.report` for what every column means.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import report
from .measure import ChildFailed, allocate_probe, run_in_child
from .problems import problems
from .runner import run_group

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS.md"
PROBE_BYTES = 200_000_000


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="tiny problems (seconds); writes a file only with --output")
    parser.add_argument("--only", default="",
                        help="comma-separated problem names (see --list)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="fits of each model, interleaved; the median is reported")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="BLAS/OpenMP/numba threads for every fit (default: all cores)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds after which one fit is killed and reported failed")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"markdown results file (default {DEFAULT_OUTPUT} without --quick)")
    parser.add_argument("--list", action="store_true", help="list the problems and exit")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be >= 1")
    return args


def select(args) -> list:
    chosen = problems(quick=args.quick)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {p.name for p in chosen}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"unknown problem(s) {unknown}; known: {sorted(known)}")
        chosen = [p for p in chosen if p.name in names]
    return chosen


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _softreg_source() -> str:
    """Where softreg comes from: the last commit of this repository's src/, or a folder."""
    import softreg
    root = Path(__file__).resolve().parent.parent
    where = Path(softreg.__file__).resolve().parent
    if where != root / "src" / "softreg":
        return f"imported from {where}"

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, check=True).stdout.strip()

    try:
        last = git("log", "-1", "--format=%h", "--", "src")
        dirty = git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.CalledProcessError):
        return f"imported from {where}"
    return f"src/ as of commit {last}" + (" with uncommitted changes" if dirty else "")


def _source_text(before: str, after: str) -> str:
    """softreg's source, or both if it changed while the benchmark ran (children import it
    when they start, so then later fits ran newer code than earlier ones)."""
    if before == after:
        return before
    return f"CHANGED DURING THE RUN: {before} at the start, {after} at the end"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_lines(args, started: str, load_before: str, seconds: float,
                  source_before: str) -> list[str]:
    from threadpoolctl import threadpool_info
    blas = "; ".join(f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info()
                     if i.get("user_api") == "blas") or "unknown"
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"Date: {started}; total run time {seconds / 60:.1f} min",
        f"Machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; load average (1/5/15 min) {load_before} before, "
        f"{load_after} after (a shared, noisy machine: only ratios within one run count)",
        f"Threads for every fit: {args.threads}; repeats: {args.repeats} (median shown), "
        "libraries interleaved",
        f"Versions: Python {platform.python_version()}, numpy {_version('numpy')}, scipy "
        f"{_version('scipy')}, scikit-learn {_version('sklearn')}, softreg "
        f"{_version('softreg')} ({_source_text(source_before, _softreg_source())}), numba "
        f"{_version('numba')}; BLAS {blas}",
        "softreg: `SoftmaxRegression(alpha=1e-4)` at its defaults (sparseC10: "
        "alpha=1/(10 n)); scikit-learn: "
        "`LogisticRegression(C=1/(alpha n), solver=..., max_iter=10000, random_state=0)`, "
        "its defaults otherwise (tol=1e-4, multinomial for K >= 3): the same objective "
        "J = mean cross-entropy + alpha/2 ||W||^2, intercept unpenalised",
    ]


def command_line(argv) -> str:
    return "python -m benchmarks" + ("".join(f" {a}" for a in argv))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    chosen = select(args)
    if args.list:
        for p in chosen:
            print(f"{p.name:12s} {p.title}")
        return 0
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    source_before = _softreg_source()
    t0 = time.perf_counter()

    def log(msg):
        print(msg, flush=True)

    records = []
    with tempfile.TemporaryDirectory(prefix="softreg-bench-") as work:
        try:
            probe = run_in_child(allocate_probe, PROBE_BYTES, timeout=120)
            probe_text = (f"a child allocating {PROBE_BYTES / report.MB:.0f} MB measured "
                          f"{probe['peak'] / report.MB:.0f} MB ({probe['method']})")
        except ChildFailed as exc:
            probe_text = f"failed: {str(exc).strip().splitlines()[-1]}"
        log(f"memory measurement check: {probe_text}")
        for _, group in itertools.groupby(chosen, key=lambda p: p.data_key):
            group = list(group)
            for problem in group:
                log(f"{problem.name}: {problem.title}")
            records += run_group(group, Path(work), repeats=args.repeats,
                                 threads=args.threads, timeout=args.timeout, log=log)
    text = report.document(records, command=command_line(argv),
                           machine=machine_lines(args, started, load_before,
                                                 time.perf_counter() - t0, source_before),
                           probe=probe_text)
    print()
    print(text)
    output = args.output if args.output is not None else (None if args.quick else
                                                           DEFAULT_OUTPUT)
    if output is not None:
        report.write_atomic(output, text)
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
