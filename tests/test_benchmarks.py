"""Smoke tests of the benchmark runner ``python -m benchmarks``, on tiny problems."""

import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import log_loss

from softreg import SoftmaxRegression

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

cli = importlib.import_module("benchmarks.__main__")
measure = importlib.import_module("benchmarks.measure")
problems = importlib.import_module("benchmarks.problems")
report = importlib.import_module("benchmarks.report")
runner = importlib.import_module("benchmarks.runner")

ALPHA = problems.ALPHA


def _table_rows(text: str) -> list[list[str]]:
    """Rows (cells) of the first markdown table in ``text`` whose header is COLUMNS."""
    lines = text.splitlines()
    header = "| " + " | ".join(report.COLUMNS) + " |"
    start = lines.index(header)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def test_suboptimality_separates_tight_from_loose_fits():
    X, y = problems.dense_classification(3000, d=10, n_classes=4, seed=0)
    objective = measure.reference_objective(X, y, ALPHA, 4)
    tight = SoftmaxRegression(alpha=ALPHA).fit(X, y)
    loose = SoftmaxRegression(alpha=ALPHA, tol=1e-2).fit(X, y)
    ref = measure.reference_solution(objective)  # from zeros, not from the fits
    assert ref["grad"] <= 1e-10  # L-BFGS-B to the float64 floor of J, then Newton steps
    assert measure.gradient_max_norm(objective, ref["coef"], ref["intercept"]) == ref["grad"]
    J = {name: measure.objective_value(objective, m.coef_, m.intercept_)
         for name, m in (("tight", tight), ("loose", loose))}
    J_star = min([measure.objective_value(objective, ref["coef"], ref["intercept"]),
                  *J.values()])
    subopt = {name: (value - J_star) / J_star for name, value in J.items()}
    assert 0 <= subopt["tight"] <= 1e-7
    assert subopt["loose"] > max(1e-7, 100 * subopt["tight"])


def test_objective_value_is_sklearn_log_loss_plus_penalty():
    X, y = problems.dense_classification(800, d=6, n_classes=3, seed=3)
    model = measure.make_model("sklearn", "lbfgs", ALPHA, len(y)).fit(X, y)
    expected = log_loss(y, model.predict_proba(X)) + 0.5 * ALPHA * np.sum(model.coef_ ** 2)
    objective = measure.reference_objective(X.astype(np.float32), y, ALPHA, 3)
    # float32 input: J is still evaluated on X converted back to float64
    got_32 = measure.objective_value(objective, model.coef_, model.intercept_)
    got = measure.objective_value(measure.reference_objective(X, y, ALPHA, 3),
                                  model.coef_, model.intercept_)
    assert got == pytest.approx(expected, abs=1e-10, rel=0)
    assert got_32 == pytest.approx(expected, abs=1e-6, rel=0)


def test_peak_memory_of_a_child_that_allocates_200_mb():
    out = measure.run_in_child(measure.allocate_probe, 200_000_000, timeout=120)
    assert 150e6 <= out["peak"] <= 300e6, out
    with measure.PeakMemory() as nothing:
        pass
    assert nothing.peak < 20e6


def test_child_failures_come_back_as_exceptions():
    with pytest.raises(measure.ChildFailed, match="FileNotFoundError"):
        measure.run_in_child(measure.load_data, "/nonexistent/folder", timeout=60)


def test_run_problem_and_tables(tmp_path):
    # named dense64 so that the targets that need only dense64 are checked on it
    problem = problems.Problem("dense64", "tiny", "dense",
                               problems._args(n=1500, d=8, n_classes=3, seed=5),
                               sklearn=("lbfgs",), machine_limit=True, scaling=True)
    record = runner.run_problem(problem, tmp_path, threads=1, timeout=300,
                                log=lambda msg: None)
    assert list(tmp_path.iterdir()) == []  # the data files are removed
    soft, sk = record["fits"][("softreg", "default")], record["fits"][("sklearn", "lbfgs")]
    assert soft["subopt"] <= 1e-7 and sk["subopt"] >= 0
    assert soft["n_passes"] >= soft["n_iter"] >= 1 and soft["seconds"] > 0
    assert soft["x_bytes"] == 1500 * 8 * 8

    table = report.results_table([record])
    rows = _table_rows(table)
    assert [r[1] for r in rows] == ["softreg (default)", "sklearn lbfgs"]
    assert all(len(r) == len(report.COLUMNS) for r in rows)
    assert rows[1][-1] == "1.00x"  # the fastest (only) sklearn solver against itself

    limit = record["limit"]
    assert 0 < limit["stream"] <= limit["limit"] or limit["flops_time"] == limit["limit"]
    assert limit["eval_best"] > 0 and "evaluation / limit" in report.limits_table([record])
    assert limit["eval_fit_best"] == limit["eval_best"]  # float64 X: no mixed passes

    status = {target: s for s, target, _ in report.targets([record])}
    assert len(status) == 18
    problem_of = {target: target.split(":")[0] for target in status}
    assert {s for t, s in status.items() if problem_of[t] != "dense64"} == {"SKIP"}
    assert {s for t, s in status.items() if problem_of[t] == "dense64"} <= {"PASS", "FAIL"}
    assert sum(problem_of[t] == "dense64" for t in status) == 4
    assert status["dense64: default fit (J-J*)/J* <= 1e-07"] == "PASS"


@pytest.fixture
def restore_thread_variables():
    """main sets thread-count variables for its children: keep them out of this process
    (numba refuses a NUMBA_NUM_THREADS that differs from its running threads)."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_main_writes_the_results_file_atomically(tmp_path, capsys, restore_thread_variables):
    out = tmp_path / "RESULTS.md"
    out.write_text("previous results")
    environ = dict(os.environ)
    assert cli.main(["--quick", "--only", "dense64F", "--threads", "1",
                     "--output", str(out)]) == 0
    assert dict(os.environ) == environ  # thread variables were set for the children only
    assert [p.name for p in tmp_path.iterdir()] == ["RESULTS.md"]  # no temporary left
    text = out.read_text()
    assert text in capsys.readouterr().out
    assert "Command: `python -m benchmarks --quick --only dense64F --threads 1 --output" in text
    [row] = _table_rows(text)
    assert row[:2] == ["dense64F: dense64, Fortran order", "softreg (default)"]
    float(row[2]), float(row[5]), float(row[7])  # time, suboptimality, memory parse
    assert "- **PASS** dense64F: no copy of X" in text or "- **FAIL** dense64F" in text
    assert text.count("- **SKIP**") == 17

    with pytest.raises(TypeError):
        report.write_atomic(out, object())  # fails while writing: the old file survives
    assert out.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["RESULTS.md"]


def test_cli_rejects_unknown_problems():
    with pytest.raises(SystemExit, match="unknown problem"):
        cli.select(cli.parse_args(["--only", "dense64,nope"]))


@pytest.mark.parametrize(("ours", "subopt", "status"),
                         [(1.0, 1e-9, "PASS"), (2.0, 1e-9, "FAIL"), (1.0, 1e-6, "FAIL")])
def test_sparse_targets_need_2x_and_1e7(ours, subopt, status):
    """The sparse targets: >= 2x the fastest converged scikit-learn solver and
    (J-J*)/J* <= 1e-7, each problem at its own alpha (sparseC10: 1/(10 n))."""
    by_name = {p.name: p for p in problems.problems()}
    assert by_name["sparseC10"].alpha == pytest.approx(1 / (10 * 50_000))
    assert by_name["sparse"].alpha == problems.ALPHA
    assert by_name["sparse"].data_key != by_name["sparseC10"].data_key  # two J*
    fit = {"seconds": ours, "subopt": subopt, "warnings": []}
    sk = {"seconds": 3.0, "subopt": 1e-7, "warnings": []}
    slow = {"seconds": 2.0, "subopt": 1e-3, "warnings": ["ConvergenceWarning: no"]}
    record = {"problem": by_name["sparseC10"], "fits": {
        ("softreg", "default"): fit, ("sklearn", "saga"): sk, ("sklearn", "lbfgs"): slow}}
    status_of = {t: s for s, t, _ in report.targets([record])}
    [target] = [t for t in status_of if t.startswith("sparseC10: default fit >= 2x")]
    assert status_of[target] == status


def test_mixed_precision_evaluation_is_timed_on_float32_data():
    from benchmarks import machine
    X, y = problems.dense_classification(3000, d=20, n_classes=3, seed=1)
    times = machine.evaluation_times(X.astype(np.float32), y, 3, 1e-4, repeats=2,
                                     precision="mixed")
    assert len(times) == 2 and min(times) > 0
