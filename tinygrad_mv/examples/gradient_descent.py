"""Gradient descent, momentum, Adam and Newton on the Rosenbrock function: paths over its contours.

f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 has its minimum 0 at (1, 1) at the end of a long curved
valley. Every method gets its gradient (and Newton its Hessian) from reverse mode through
tg.optimize.minimize, with the defaults: "gd" with a backtracking line search, "momentum" with
lr = 1 / (largest curvature at the start, from Hessian-vector products), "adam" with lr = 0.01,
"newton" with a backtracking step and |H| where H is not positive definite.

The start is the classic (-1.2, 1). (From (-1, 1) the very first line-search step of "gd" lands
exactly on (1, 1): the gradient there is (-4, 0) and half a unit step moves x by 2.)
With 2000 iterations: Newton converges in 21 steps (f ~ 1e-21); momentum reaches f ~ 2e-6;
gd (f ~ 1e-3) and Adam at lr = 0.01 (f ~ 5e-2) are still crawling along the valley floor.

Run:  python examples/gradient_descent.py [--out DIR] [--quick]
Writes DIR/gradient_descent.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations


import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.apps._common import pyplot, run_example, save_figure

START = (-1.2, 1.0)
METHODS = {"gd": "tab:blue", "momentum": "tab:orange", "adam": "tab:green", "newton": "tab:red"}


def rosenbrock(v: tg.Tensor) -> tg.Tensor:
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    """Run the four methods from START and save the figure; ``quick`` caps them at 150
    iterations instead of 2000."""
    max_iter = 150 if quick else 2000
    results = {}
    f0 = rosenbrock(tg.Tensor(START)).item()
    print(f"Rosenbrock from {START}, f = {f0:g}, at most {max_iter} iterations")
    for method in METHODS:
        res = tg.optimize.minimize(rosenbrock, START, method=method, max_iter=max_iter)
        results[method] = res
        print(f"  {method:8s} {res.nit:5d} iterations  f = {res.fun:.3e}  x = "
              f"({res.x[0]:.6f}, {res.x[1]:.6f})  {'converged' if res.success else 'stopped'}")
    summary: dict = {"results": results, "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    from matplotlib.colors import LogNorm

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    xs, ys = np.meshgrid(np.linspace(-2.0, 2.0, 300), np.linspace(-1.0, 3.0, 300))
    zs = (1 - xs) ** 2 + 100 * (ys - xs ** 2) ** 2
    left.contour(xs, ys, zs + 1e-3, levels=np.logspace(-2, 3.5, 18), norm=LogNorm(),
                 cmap="Greys", linewidths=0.7)
    for method, colour in METHODS.items():
        path = results[method].path
        left.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.2,
                  label=f"{method} ({results[method].nit} it.)")
        left.plot(path[-1, 0], path[-1, 1], "o", color=colour, ms=4)
        right.semilogy(np.maximum(results[method].values, 1e-30), color=colour, label=method)
    left.plot(*START, "ks", ms=6, label="start")
    left.plot(1, 1, "k*", ms=12, label="minimum (1, 1)")
    left.set(xlabel="x", ylabel="y", title="paths over the contours of f (log-spaced)")
    left.legend(fontsize=8, loc="upper left")
    right.set(xlabel="iteration", ylabel="f(x_k)", title="f along each path")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    fig.suptitle("minimize(rosenbrock, (-1.2, 1), method=...): derivatives by reverse mode")
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "gradient_descent.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
