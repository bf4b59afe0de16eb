"""Cost and accuracy of the reverse-mode gradient against forward and central differences, on
the n-dimensional Rosenbrock function and a small network's loss (n = 10 ... 10,000 inputs).

Measure: python -m pytest bench/bench_gradient.py --benchmark-enable --benchmark-columns=mean
Compare within a group (one function, one n): the "numpy f" row is one NumPy evaluation of the
function, the unit of the issue's goals (reverse mode at most 4x it for n >= 1,000, at most 20x at
n = 10; differences cost n + 1 and 2n evaluations). `tinygrad-mv bench` prints the same as a table.
In the plain test run (benchmarks disabled) each case runs once as a smoke test, and differences
at n = 10,000 (seconds each) are skipped.
"""
import numpy as np
import pytest

from tinygrad_mv.commands.bench import SIZES, methods, problems, relative_error

# Accuracy each method must reach against the hand-derived gradient (relative, 2-norm).
ERROR_LIMIT = {"reverse": 1e-13, "central": 1e-5, "forward": 1e-3}
PROBLEMS = {(p.name, n): p for n in SIZES for p in problems(n)}


def _skip_slow_differences(request, n, method):
    if method != "reverse" and n >= 10_000 and request.config.getoption("benchmark_disable"):
        pytest.skip("differences at n = 10,000 take seconds: measured with --benchmark-enable")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("function", ["rosenbrock", "network"])
@pytest.mark.parametrize("method", ["numpy f", "reverse", "forward", "central"])
def test_gradient_cost(benchmark, request, function, n, method):
    problem = PROBLEMS[(function, n)]
    benchmark.group = f"{function}, n = {n}"
    if method == "numpy f":
        value = benchmark(problem.numpy_f, problem.x)
        assert np.isfinite(value)
        return
    _skip_slow_differences(request, n, method)
    compute = methods(problem)[method]
    if method == "reverse":
        gradient = benchmark(compute)
    else:  # one call is already n or 2n evaluations: one round is enough
        gradient = benchmark.pedantic(compute, rounds=1, iterations=1)
    assert relative_error(gradient, problem.exact_gradient) < ERROR_LIMIT[method]
