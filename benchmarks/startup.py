"""Start-up time of the ``softreg`` console script against importing NumPy and SciPy.

Run: ``PYTHONPATH=src python -m benchmarks.startup [--repeats 7] [--output PATH]``
Writes ``benchmarks/RESULTS_startup.md`` (atomically) and prints the same table.

Each command runs ``--repeats`` times in a fresh process, interleaved with the baseline
``python -c "import numpy, scipy.sparse"``. Reported per command: the fastest wall time
and the fastest CPU time (user + system of the child, which a busy machine inflates much
less than wall time), and their ratios to the baseline's. The target: ``softreg --help``,
``--version`` and ``inspect MODEL`` (also of a model holding an ``--infer`` table) under 2x
the baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "RESULTS_startup.md"
TARGET = 2.0


def script() -> list[str]:
    """The console script, run by this Python (``python -m softreg`` if it is absent)."""
    path = Path(sys.executable).with_name("softreg")
    return [str(path)] if path.exists() else [sys.executable, "-m", "softreg"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def small_models(folder: Path) -> tuple[Path, Path]:
    """A small model file, and the same model with a stored ``infer`` table (``fit --infer``)."""
    import numpy as np

    from softreg import SoftmaxRegression, infer, save

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = rng.integers(0, 3, size=200)
    model = SoftmaxRegression().fit(X, y)
    save(model, folder / "model.softreg")
    save(model, folder / "inferred.softreg", extra={"inference": infer(model, X, y).to_dict()})
    return folder / "model.softreg", folder / "inferred.softreg"


def measure(repeats: int, models: tuple[Path, Path]) -> dict[str, tuple[float, float]]:
    model, inferred = models
    commands = {
        'python -c "import numpy, scipy.sparse"':
            [sys.executable, "-c", "import numpy, scipy.sparse"],
        "softreg --help": script() + ["--help"],
        "softreg --version": script() + ["--version"],
        "softreg inspect MODEL": script() + ["inspect", str(model)],
        "softreg inspect MODEL (with --infer table)": script() + ["inspect", str(inferred)],
        "softreg fit --help": script() + ["fit", "--help"],
    }
    best = {name: (float("inf"), float("inf")) for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            wall, cpu = timed(cmd)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def table(best: dict[str, tuple[float, float]]) -> str:
    base_wall, base_cpu = next(iter(best.values()))
    lines = ["| command | wall (s) | wall ratio | CPU (s) | CPU ratio |",
             "|---|---:|---:|---:|---:|"]
    for name, (wall, cpu) in best.items():
        lines.append(f"| `{name}` | {wall:.3f} | {wall / base_wall:.2f} | {cpu:.3f} | "
                     f"{cpu / base_cpu:.2f} |")
    return "\n".join(lines)


def verdicts(best: dict[str, tuple[float, float]]) -> list[str]:
    base_wall, base_cpu = next(iter(best.values()))
    out = []
    for name in ("softreg --help", "softreg --version", "softreg inspect MODEL",
                 "softreg inspect MODEL (with --infer table)"):
        wall, cpu = best[name]
        ok = cpu / base_cpu < TARGET
        out.append(f"- {'PASS' if ok else 'FAIL'}: `{name}` CPU {cpu / base_cpu:.2f}x, wall "
                   f"{wall / base_wall:.2f}x the baseline (target < {TARGET:g}x)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        best = measure(args.repeats, small_models(Path(tmp)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join([
        "# Start-up of the softreg console script", "",
        f"Fastest of {args.repeats} runs each, interleaved; {os.cpu_count()} CPUs, load "
        f"average {load:.1f} at the end. CPU = user + system time of the process.", "",
        table(best), "", *verdicts(best), ""])
    print(text)
    tmp_out = args.output.with_suffix(".tmp")
    tmp_out.write_text(text, encoding="utf-8")
    os.replace(tmp_out, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
