"""The ``gradcheck`` and ``bench`` commands of the command line."""
from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_mv.cli import main
from tinygrad_mv.commands import bench
from tinygrad_mv.commands.gradcheck import op_cases


def test_gradcheck_command_prints_a_passing_row_per_case(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for case in op_cases():
        row = next(line for line in out.splitlines() if line.startswith(case.label + " "))
        errors = [float(v) for v in row.split()[-3:-1]]
        assert row.endswith("yes") and all(0 <= e < 1e-5 for e in errors), row
    assert f"all {len(op_cases())} cases pass" in out


def test_gradcheck_command_filters_and_fails_loudly(capsys):
    assert main(["gradcheck", "--op", "softmax", "--first-only"]) == 0
    out = capsys.readouterr().out
    assert "softmax" in out and "matmul" not in out and "grad of grad" not in out
    # a tolerance no floating-point computation meets makes the checks fail, with the entry
    assert main(["gradcheck", "--op", "sin", "--atol", "0", "--rtol", "0"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "analytic" in out and "NO" in out


def test_gradcheck_command_unknown_op_is_a_clear_error(capsys):
    assert main(["gradcheck", "--op", "no-such-op"]) == 2
    assert "no operation matches" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["gradcheck", "bench"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: tinygrad-mv " + command in out
    assert ("central" in out and "--out" in out and "--quick" in out if command == "bench"
            else "--op" in out and "gradgradcheck" in out)


def test_module_entry_point_runs_gradcheck():
    result = subprocess.run([sys.executable, "-m", "tinygrad_mv", "gradcheck", "--op", "sqrt"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "all 1 cases pass" in result.stdout


def test_bench_quick_prints_the_table_and_writes_files(tmp_path, capsys):
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "reverse time" in out and "central error" in out
    csv_path = tmp_path / "bench_gradient.csv"
    assert f"wrote {csv_path}" in out
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["function"], int(r["n"])) for r in rows} == {
        (f, n) for f in ("rosenbrock", "network") for n in bench.QUICK_SIZES}
    for r in rows:
        assert float(r["reverse_relative_error"]) < 1e-13
        assert 1e-12 < float(r["central_relative_error"]) < 1e-5
        assert float(r["central_relative_error"]) < float(r["forward_relative_error"]) < 1e-3
        assert float(r["reverse_time_over_eval"]) > 0
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench_gradient.png"
    assert f"wrote {png}" in out and png.stat().st_size > 1000


def test_bench_without_matplotlib_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    monkeypatch.setattr(bench, "QUICK_SIZES", (10,))
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pip install matplotlib" in out
    assert not (tmp_path / "bench_gradient.png").exists()


@pytest.mark.parametrize("n", [10, 25])
def test_benchmark_functions_and_hand_gradients_agree_with_differences(n):
    for problem in bench.problems(n):
        assert problem.x.shape == (n,)
        tg_value = problem.tg_f(problem.x)
        assert tg_value.item() == pytest.approx(problem.numpy_f(problem.x), rel=1e-13)
        step = 1e-6
        central = np.array([
            (problem.numpy_f(problem.x + step * e) - problem.numpy_f(problem.x - step * e))
            / (2 * step) for e in np.eye(n)])
        np.testing.assert_allclose(problem.exact_gradient, central, rtol=1e-5, atol=1e-6)


def test_network_needs_a_multiple_of_five_parameters():
    with pytest.raises(ValueError, match="n=12 is not a positive multiple of 5"):
        bench.NetworkLoss.with_parameters(12)
