"""Lagrange multipliers: constrained optima drawn with the constraint and the parallel gradients.

At a stationary point of f on the curve g(x, y) = 0 the gradients are parallel:
grad f = lambda grad g. tg.optimize.lagrange solves this (with g = 0) by Newton-Raphson on the
gradient of L(x, y, lambda) = f - lambda g, the bordered Hessian coming from reverse mode twice.

1. min x^2 + y^2 on the line x + y = 1: the point (1/2, 1/2), lambda = 1.
2. f = x y on the unit circle x^2 + y^2 = 1: four stationary points (+-1/sqrt 2, +-1/sqrt 2),
   found from four starts: maxima f = 1/2 where x = y (lambda = 1/2), minima f = -1/2 where
   x = -y (lambda = -1/2). The kind is read off the Hessian of L along the constraint.

Run:  python examples/lagrange_multipliers.py [--out DIR]
Writes DIR/lagrange_multipliers.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.apps._common import pyplot, run_example, save_figure

CIRCLE_STARTS = [(1.0, 0.5), (-1.0, -0.5), (-0.5, 1.0), (0.5, -1.0)]


def _arrows(ax: Any, res: Any, scale: float) -> None:
    """grad g (green), and grad f (red) drawn under lambda grad g (dashed blue): they coincide."""
    x, y = res.x
    for vec, style in [
            (res.grad_g[0], {"color": "tab:green", "lw": 1.0}),
            (res.grad_f, {"color": "tab:red", "lw": 3.5}),
            (res.multipliers[0] * res.grad_g[0], {"color": "tab:blue", "lw": 1.5, "ls": "--"})]:
        ax.annotate("", (x + scale * vec[0], y + scale * vec[1]), (x, y),
                    arrowprops={"arrowstyle": "->", **style})


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    """Solve both problems and save the figure (``quick`` changes nothing: it is fast)."""
    line = tg.optimize.lagrange(lambda v: (v ** 2).sum(), lambda v: v.sum() - 1, [2.0, -1.0])
    print("min x^2 + y^2 subject to x + y = 1:")
    print(f"  x = {line.x}, lambda = {line.multipliers[0]:.12f}, f = {line.fun:.12f} "
          f"({line.kind}, {line.nit} Newton step(s))")
    circle = []
    print("stationary points of x y on the unit circle:")
    for start in CIRCLE_STARTS:
        res = tg.optimize.lagrange(lambda v: v[0] * v[1], lambda v: (v ** 2).sum() - 1, start)
        circle.append(res)
        gap = np.max(np.abs(res.grad_f - res.multipliers[0] * res.grad_g[0]))
        print(f"  from {start}: x = ({res.x[0]:+.10f}, {res.x[1]:+.10f}), lambda = "
              f"{res.multipliers[0]:+.10f}, f = {res.fun:+.10f}, {res.kind:7s} "
              f"|grad f - lambda grad g| = {gap:.1e}")
    summary: dict = {"line": line, "circle": circle, "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2))
    xs, ys = np.meshgrid(np.linspace(-1.6, 1.6, 200), np.linspace(-1.6, 1.6, 200))
    left.contour(xs, ys, xs ** 2 + ys ** 2, levels=np.linspace(0.1, 2.5, 12), cmap="Greys",
                 linewidths=0.7)
    t = np.linspace(-1.6, 1.6, 2)
    left.plot(t, 1 - t, color="tab:green", lw=2, label="constraint x + y = 1")
    left.plot(*line.x, "ko", ms=6, label=f"minimum ({line.x[0]:.6g}, {line.x[1]:.6g})")
    _arrows(left, line, 0.4)
    left.set_title(f"min $x^2+y^2$ on $x+y=1$: $\\lambda$ = {line.multipliers[0]:.6g}",
                   fontsize=10)
    cs = right.contour(xs, ys, xs * ys, levels=np.linspace(-1.2, 1.2, 13), cmap="coolwarm",
                       linewidths=0.8)
    right.clabel(cs, fontsize=7, fmt="%.1f")
    angle = np.linspace(0, 2 * np.pi, 300)
    right.plot(np.cos(angle), np.sin(angle), color="tab:green", lw=2,
               label="constraint $x^2+y^2=1$")
    for start, res in zip(CIRCLE_STARTS, circle):
        right.plot(*start, "x", color="grey", ms=6)
        right.plot(res.path[:, 0], res.path[:, 1], ":", color="grey", lw=1)
        right.plot(*res.x, "o", color="black" if res.kind == "maximum" else "purple", ms=7)
        right.annotate(f"{res.kind}\nf = {res.fun:+.2f}", res.x, textcoords="offset points",
                       xytext=(0, -30 if res.x[1] > 0 else 18), ha="center", fontsize=8)
        _arrows(right, res, 0.45)
    right.set_title("$f = xy$ on the unit circle: four stationary points", fontsize=10)
    for ax in (left, right):
        ax.plot([], [], color="tab:green", lw=1, label=r"$\nabla g$")
        ax.plot([], [], color="tab:red", lw=3.5, label=r"$\nabla f$")
        ax.plot([], [], color="tab:blue", lw=1.2, ls="--", label=r"$\lambda \nabla g$")
        ax.set_aspect("equal")
        ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="x", ylabel="y")
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(r"Lagrange multipliers: $\nabla f = \lambda \nabla g$ at constrained optima")
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "lagrange_multipliers.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
