"""Newton-Raphson on x^3 - 2x + 2: iterates drawn on the curve, converging from -2, cycling from 0.

Each step follows the tangent at x_k down to where it crosses zero:
x_{k+1} = x_k - f(x_k) / f'(x_k), with f'(x_k) from reverse mode (tg.optimize.newton_raphson).
From x0 = -2 it reaches the one real root, -1.7692923542386..., in 4 steps. From x0 = 0 it
cycles 0 -> 1 -> 0 -> ... for ever (f(0) = 2, f'(0) = -2; f(1) = 1, f'(1) = 1), and
newton_raphson says so with a ConvergenceError instead of returning a wrong root.

Run:  python examples/newton_raphson.py [--out DIR]
Writes DIR/newton_raphson.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.apps._common import pyplot, run_example, save_figure


def f(x: tg.Tensor) -> tg.Tensor:
    return x ** 3 - 2 * x + 2


def f_np(x: Any) -> Any:
    return x ** 3 - 2 * x + 2


def _draw_steps(ax: Any, path: np.ndarray, colour: str) -> None:
    """The tangent from (x_k, f(x_k)) to (x_{k+1}, 0), then up to the curve again."""
    for a, b in zip(path[:-1], path[1:]):
        ax.plot([a, b], [f_np(a), 0.0], color=colour, lw=1.2)
        ax.plot([b, b], [0.0, f_np(b)], color=colour, lw=0.8, ls=":")
    ax.plot(path, f_np(path), "o", color=colour, ms=5, zorder=3)
    labels: dict[float, list[str]] = {}  # iterates at the same place share one label
    for k, a in enumerate(path):
        labels.setdefault(round(float(a), 2), []).append(f"x_{k}")
    for a, names in labels.items():
        text = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        ax.annotate(f"${text}$", (a, f_np(a)), textcoords="offset points", xytext=(-8, 8),
                    fontsize=8, color=colour, ha="right")


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    """Find the root from -2, show the cycle from 0, and save the figure. ``quick`` changes
    nothing here (it is already fast); it is accepted like every example's."""
    result = tg.optimize.newton_raphson(f, -2.0)
    print("from x0 = -2:")
    for k, x in enumerate(result.path):
        print(f"  x_{k} = {x:+.15f}   f(x_{k}) = {f_np(x):+.3e}")
    print(f"  {result.message}")
    try:
        tg.optimize.newton_raphson(f, 0.0, max_iter=8)
        cycle = None
    except tg.optimize.ConvergenceError as exc:
        cycle = exc.result.path
        print("from x0 = 0:", " -> ".join(f"{x:g}" for x in cycle[:7]), "-> ...")
        print(f"  newton_raphson raised ConvergenceError: {str(exc).split(' at x =')[0]}")
    summary = {"root": result.x, "nit": result.nit, "path": result.path, "cycle": cycle,
               "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, path, colour, title, (lo, hi), ylim in [
            (axes[0], result.path, "tab:blue",
             f"from $x_0=-2$: root {result.x:.10f} in {result.nit} steps", (-2.1, -1.6),
             (-2.5, 1.0)),
            (axes[1], cycle, "tab:red", "from $x_0=0$: a 2-cycle, no convergence", (-2.5, 2.0),
             (-6.0, 8.0))]:
        grid = np.linspace(lo, hi, 400)
        ax.plot(grid, f_np(grid), color="black", lw=1.5, label="$f(x)=x^3-2x+2$")
        ax.axhline(0.0, color="grey", lw=0.8)
        if path is not None:
            _draw_steps(ax, np.asarray(path), colour)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylim(*ylim)
        ax.legend(loc="upper left", fontsize=8)
    axes[0].set_ylabel("f(x)")
    fig.suptitle("Newton-Raphson with f'(x) from reverse mode")
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "newton_raphson.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
