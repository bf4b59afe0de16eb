"""Cost and accuracy of the reverse-mode gradient against forward and central differences.

For n = 10, 100, 1,000 and 10,000 inputs, on the n-dimensional Rosenbrock function and on the
mean squared error of a small tanh network (3 inputs, n/5 hidden units, 1 output: n parameters),
it times
  - reverse mode: tg.grad(f)(x), forward and backward through the tape,
  - jit: the same gradient recorded once by tg.jit(tg.grad(f)) and replayed,
  - forward differences: tg.numerical_jacobian(f_numpy, x, method="forward"), n + 1 evaluations,
  - central differences: tg.numerical_jacobian(f_numpy, x), 2n evaluations,
each as a multiple of one evaluation of the same function written in NumPy, and measures each
one's error relative to the gradient derived by hand: ||g - g_exact|| / ||g_exact||.
Finite differences get the plain NumPy function (their cheapest possible evaluation).

The cheap-gradient principle says reverse mode costs a small constant times one evaluation,
whatever n; differences cost n evaluations or more. Times are the best of several repeats (the
machine may be shared). It prints a table, writes it as CSV, and plots time and error against n
on log scales when matplotlib is installed (pip install matplotlib, or the project's test extra).

example:
  tinygrad-mv bench --out bench_out
  tinygrad-mv bench --quick
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

HELP = "time and accuracy of reverse mode vs finite differences as n grows (table and plot)"

SIZES = (10, 100, 1_000, 10_000)
QUICK_SIZES = (10, 100)


# --- the n-dimensional Rosenbrock function ------------------------------------------------------
def rosenbrock_numpy(x: np.ndarray) -> float:
    """sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2."""
    head, tail = x[:-1], x[1:]
    return float(np.sum(100.0 * np.square(tail - head * head) + np.square(1.0 - head)))


def rosenbrock_tg(x: Any) -> Any:
    import tinygrad_mv as tg
    head, tail = x[:-1], x[1:]
    return (100.0 * tg.square(tail - head * head) + tg.square(1.0 - head)).sum()


def rosenbrock_gradient(x: np.ndarray) -> np.ndarray:
    """By hand: d/dx_i gets -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i) from term i and
    200 (x_i - x_{i-1}^2) from term i - 1."""
    head, tail = x[:-1], x[1:]
    inner = tail - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * head * inner - 2.0 * (1.0 - head)
    g[1:] += 200.0 * inner
    return g


# --- a small network's loss, as a function of its n parameters -----------------------------------
@dataclass
class NetworkLoss:
    """Mean squared error of x -> tanh(x W1^T + b1) . w2 on fixed data; theta packs W1 (h x 3),
    b1 (h) and w2 (h): n = 5h parameters."""

    hidden: int
    inputs: np.ndarray
    targets: np.ndarray

    @classmethod
    def with_parameters(cls, n: int, points: int = 16, seed: int = 0) -> NetworkLoss:
        if n % 5 or n < 5:
            raise ValueError(f"the network has 5 parameters per hidden unit; n={n} is not a "
                             "positive multiple of 5")
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1.0, 1.0, (points, 3))
        return cls(n // 5, x, np.sin(x.sum(axis=1)))

    def unpack(self, theta: Any) -> tuple[Any, Any, Any]:
        h = self.hidden
        return theta[:3 * h].reshape(h, 3), theta[3 * h:4 * h], theta[4 * h:]

    def numpy(self, theta: np.ndarray) -> float:
        w1, b1, w2 = self.unpack(theta)
        residual = np.tanh(self.inputs @ w1.T + b1) @ w2 - self.targets
        return float(np.mean(residual * residual))

    def tg(self, theta: Any) -> Any:
        import tinygrad_mv as tg
        w1, b1, w2 = self.unpack(theta)
        residual = tg.tanh(tg.linear(self.inputs, w1, b1)) @ w2 - self.targets
        return tg.square(residual).mean()

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """Backpropagation by hand."""
        w1, b1, w2 = self.unpack(theta)
        hidden = np.tanh(self.inputs @ w1.T + b1)
        d_out = 2.0 * (hidden @ w2 - self.targets) / len(self.targets)
        d_pre = np.outer(d_out, w2) * (1.0 - hidden * hidden)
        return np.concatenate([(d_pre.T @ self.inputs).ravel(), d_pre.sum(axis=0),
                               hidden.T @ d_out])


@dataclass
class Problem:
    name: str
    n: int
    x: np.ndarray
    numpy_f: Callable[[np.ndarray], float]
    tg_f: Callable[[Any], Any]
    exact_gradient: np.ndarray


def problems(n: int) -> list[Problem]:
    """The two benchmark functions at a fixed, seeded point with n inputs."""
    rng = np.random.default_rng(n)
    x = rng.uniform(-1.5, 1.5, n)
    net = NetworkLoss.with_parameters(n)
    theta = rng.standard_normal(n) * 0.5
    return [Problem("rosenbrock", n, x, rosenbrock_numpy, rosenbrock_tg, rosenbrock_gradient(x)),
            Problem("network", n, theta, net.numpy, net.tg, net.gradient(theta))]


def methods(problem: Problem) -> dict[str, Callable[[], np.ndarray]]:
    """Each way of computing the gradient, as a call returning it."""
    import tinygrad_mv as tg
    grad_f = tg.grad(problem.tg_f)
    compiled = tg.jit(grad_f)  # records on its first call (the untimed warm-up)
    return {
        "reverse": lambda: grad_f(problem.x).data,
        "jit": lambda: compiled(problem.x).data,
        "forward": lambda: tg.numerical_jacobian(problem.numpy_f, problem.x,
                                                 method="forward").data,
        "central": lambda: tg.numerical_jacobian(problem.numpy_f, problem.x).data,
    }


def relative_error(g: np.ndarray, exact: np.ndarray) -> float:
    return float(np.linalg.norm(g - exact) / np.linalg.norm(exact))


def best_time(fn: Callable[[], Any], budget: float) -> tuple[float, Any]:
    """(seconds per call, the first call's result): the best of 15 repeats, each batched to last
    about budget / 15 (short repeats: the minimum is what survives a shared machine); a call
    longer than the budget is timed once."""
    start = time.perf_counter()
    result = fn()
    once = time.perf_counter() - start
    if once > budget:
        return once, result
    number = max(1, int(budget / 15 / max(once, 1e-7)))
    best = np.inf
    for _ in range(15):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best, result


@dataclass
class Row:
    function: str
    n: int
    eval_seconds: float
    cost: dict[str, float]  # method -> time / one NumPy evaluation
    error: dict[str, float]  # method -> relative error vs the hand-derived gradient


def measure(sizes: tuple[int, ...], budget: float) -> list[Row]:
    rows = []
    for n in sizes:
        for problem in problems(n):
            unit, _ = best_time(lambda p=problem: p.numpy_f(p.x), budget)
            cost, error = {}, {}
            for name, compute in methods(problem).items():
                seconds, gradient = best_time(compute, budget)
                cost[name] = seconds / unit
                error[name] = relative_error(gradient, problem.exact_gradient)
            rows.append(Row(problem.name, n, unit, cost, error))
    return rows


METHODS = ("reverse", "jit", "forward", "central")


def format_table(rows: list[Row]) -> str:
    lines = [
        "time: multiple of one NumPy evaluation of f; error: ||g - g_exact|| / ||g_exact||",
        f"{'function':<11}{'n':>7}{'NumPy f':>10}  " + "".join(f"{m + ' time':>14}"
                                                               for m in METHODS)
        + "".join(f"{m + ' error':>15}" for m in METHODS),
    ]
    lines.append("-" * len(lines[1]))
    for r in rows:
        lines.append(f"{r.function:<11}{r.n:>7}{r.eval_seconds * 1e6:>8.1f}us  "
                     + "".join(f"{r.cost[m]:>13.1f}x" for m in METHODS)
                     + "".join(f"{r.error[m]:>15.1e}" for m in METHODS))
    return "\n".join(lines)


def write_csv(rows: list[Row], path: str) -> None:
    from tinygrad_mv.files import write_atomically

    def write(binary: Any) -> None:  # (whole or not at all)
        handle = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        writer = csv.writer(handle)
        writer.writerow(["function", "n", "numpy_eval_seconds"]
                        + [f"{m}_time_over_eval" for m in METHODS]
                        + [f"{m}_relative_error" for m in METHODS])
        for r in rows:
            writer.writerow([r.function, r.n, f"{r.eval_seconds:.6g}"]
                            + [f"{r.cost[m]:.6g}" for m in METHODS]
                            + [f"{r.error[m]:.6g}" for m in METHODS])
        handle.flush()
        handle.detach()
    write_atomically(path, write, "bench")


def write_plot(rows: list[Row], path: str) -> bool:
    """Time and error against n, log scales; False when matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"rosenbrock": "-", "network": "--"}
    colors = {"reverse": "tab:blue", "jit": "tab:purple", "forward": "tab:orange",
              "central": "tab:green"}
    for function, style in styles.items():
        mine = [r for r in rows if r.function == function]
        if not mine:
            continue
        ns = [r.n for r in mine]
        for m in METHODS:
            label = f"{m}, {function}"
            ax_time.plot(ns, [r.cost[m] for r in mine], style, marker="o", color=colors[m],
                         label=label)
            ax_err.plot(ns, [max(r.error[m], 1e-18) for r in mine], style, marker="o",
                        color=colors[m], label=label)
    ax_time.axhline(4, color="grey", linestyle=":", linewidth=1)
    ax_time.axhline(20, color="grey", linestyle=":", linewidth=1)
    ax_time.text(10, 4.4, "goal for reverse mode at n >= 1000: 4x", fontsize=7, color="grey")
    ax_time.text(10, 22, "goal at n = 10: 20x", fontsize=7, color="grey")
    ax_time.set(xscale="log", yscale="log", xlabel="n (number of inputs)",
                ylabel="time / one NumPy evaluation of f", title="Cost of the gradient")
    ax_err.set(xscale="log", yscale="log", xlabel="n (number of inputs)",
               ylabel="relative error vs hand-derived gradient",
               title="Accuracy (an exact 0 is drawn at 1e-18)")
    for ax in (ax_time, ax_err):
        ax.grid(True, which="both", alpha=0.3)
    ax_time.legend(fontsize=7)
    fig.tight_layout()
    from tinygrad_mv.apps._common import write_figure
    try:
        write_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="tinygrad_mv_out",
                        help="folder for bench_gradient.csv and bench_gradient.png "
                             "(default: tinygrad_mv_out)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only n = {', '.join(map(str, QUICK_SIZES))} and short timings "
                             "(a smoke test, not a measurement)")


def run(args: argparse.Namespace) -> int:
    sizes = QUICK_SIZES if args.quick else SIZES
    budget = 0.005 if args.quick else 0.3
    from tinygrad_mv.apps._common import output_dir
    output_dir(args.out)  # (a clear error where --out is a file)
    print(f"reverse mode vs finite differences, n = {', '.join(map(str, sizes))}"
          + (" (quick)" if args.quick else ""))
    rows = measure(sizes, budget)
    print(format_table(rows))
    csv_path = os.path.join(args.out, "bench_gradient.csv")
    write_csv(rows, csv_path)
    print(f"wrote {csv_path}")
    png_path = os.path.join(args.out, "bench_gradient.png")
    if write_plot(rows, png_path):
        print(f"wrote {png_path}")
    else:
        print("no plot: matplotlib is not installed (pip install matplotlib, or "
              "pip install -e .[test])")
    return 0
