"""Cost and accuracy of the reverse-mode gradient against forward and central differences, on
the n-dimensional Rosenbrock function and a small network's loss (n = 10 ... 10,000 inputs).

Measure: python -m pytest bench/bench_gradient.py --benchmark-enable --benchmark-columns=mean
Compare within a group (one function, one n): the "numpy f" row is one NumPy evaluation of the
function, the unit of the goals (reverse mode at most 4x it for n >= 1,000, at most 20x at
n = 10; differences cost n + 1 and 2n evaluations). "reverse" is the eager gradient (tape built and
walked on every call), "jit" the same gradient recorded once by tg.jit and replayed.
`tinygrad-mv bench` prints the same as a table.
In the plain test run (benchmarks disabled) each case runs once as a smoke test, and differences
at n = 10,000 (seconds each) are skipped.
"""
import numpy as np
import pytest

from tinygrad_mv.commands.bench import SIZES, methods, problems, relative_error

# Accuracy each method must reach against the hand-derived gradient (relative, 2-norm).
ERROR_LIMIT = {"reverse": 1e-13, "jit": 1e-13, "central": 1e-5, "forward": 1e-3}
PROBLEMS = {(p.name, n): p for n in SIZES for p in problems(n)}


def _skip_slow_differences(benchmark, n, method):
    if method not in ("reverse", "jit") and n >= 10_000 and benchmark.disabled:
        pytest.skip("differences at n = 10,000 take seconds: measured with --benchmark-enable")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("function", ["rosenbrock", "network"])
@pytest.mark.parametrize("method", ["numpy f", "reverse", "jit", "forward", "central"])
def test_gradient_cost(benchmark, function, n, method):
    problem = PROBLEMS[(function, n)]
    benchmark.group = f"{function}, n = {n}"
    if method == "numpy f":
        value = benchmark(problem.numpy_f, problem.x)
        assert np.isfinite(value)
        return
    _skip_slow_differences(benchmark, n, method)
    compute = methods(problem)[method]
    if method in ("reverse", "jit"):
        compute()  # jit records on its first call: time the replays
        gradient = benchmark(compute)
    else:  # one call is already n or 2n evaluations: one round is enough
        gradient = benchmark.pedantic(compute, rounds=1, iterations=1)
    assert relative_error(gradient, problem.exact_gradient) < ERROR_LIMIT[method]


def _torch_loss(function, problem, torch):
    """The same function in PyTorch eager, the reference for reverse mode's cost."""
    if function == "rosenbrock":
        def f(x):
            head, tail = x[:-1], x[1:]
            return (100.0 * (tail - head * head) ** 2 + (1.0 - head) ** 2).sum()
        return f
    net = problem.tg_f.__self__  # the NetworkLoss the problem's functions belong to
    inputs, targets = torch.tensor(net.inputs), torch.tensor(net.targets)

    def loss(theta):
        w1, b1, w2 = net.unpack(theta)
        return ((torch.tanh(torch.nn.functional.linear(inputs, w1, b1)) @ w2 - targets) ** 2).mean()
    return loss


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("function", ["rosenbrock", "network"])
def test_gradient_cost_torch(benchmark, function, n):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    problem = PROBLEMS[(function, n)]
    benchmark.group = f"{function}, n = {n}"
    loss = _torch_loss(function, problem, torch)
    x = torch.tensor(problem.x)

    def compute():
        theta = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(theta), theta)
        return g.numpy()
    gradient = benchmark(compute)
    assert relative_error(gradient, problem.exact_gradient) < 1e-13
