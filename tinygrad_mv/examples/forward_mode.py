"""Forward mode: dual numbers, the Jacobian column by column, and when each mode is cheaper.

1. Dual numbers by hand: carry (value, derivative) pairs through x^2 sin(x), applying the rules
   (uv)' = u'v + uv' and sin(u)' = cos(u) u' one operation at a time; then the same with
   tinygrad_mv.forward_ad: make_dual(x, v) carries the tangent v through every operation.
2. The Jacobian of F: R^2 -> R^3, F(x, y) = (x y, sin x, x + y^2), built column by column with
   tg.jvp (J e_k, one forward pass per input) and row by row with tg.vjp (e_i^T J, one reverse
   pass per output), against the hand-derived matrix.
3. Cost: tg.jacfwd carries n tangents for n inputs (stacked, through one pass of f), tg.jacrev
   runs m reverse passes for m outputs. For maps R^n -> R^m with m fixed and n growing, forward
   mode's cost grows with n and reverse mode's does not; with n fixed and m growing, the
   reverse. The figure plots both timings.

Run:  python examples/forward_mode.py [--out DIR] [--quick]
Writes DIR/forward_mode.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

import tinygrad_mv as tg
import tinygrad_mv.forward_ad as fwAD
from tinygrad_mv.apps._common import pyplot, run_example, save_figure


def dual_by_hand(x: float, v: float) -> tuple[float, float]:
    """(f, f' v) for f(x) = x^2 sin x, one rule per operation on (value, tangent) pairs."""
    square = (x * x, 2 * x * v)                        # (u^2)' = 2 u u'
    sine = (np.sin(x), np.cos(x) * v)                  # sin(u)' = cos(u) u'
    product = (square[0] * sine[0], square[1] * sine[0] + square[0] * sine[1])  # product rule
    return product


def dual_by_fwad(x: float, v: float) -> tuple[float, float]:
    with fwAD.dual_level():
        dual = fwAD.make_dual(tg.tensor(x), tg.tensor(v))
        primal, tangent = fwAD.unpack_dual(dual ** 2 * tg.sin(dual))
        return primal.item(), tangent.item()


def F(p: tg.Tensor) -> tg.Tensor:
    x, y = p[0], p[1]
    return tg.stack([x * y, tg.sin(x), x + y ** 2])


def jacobian_by_hand(x: float, y: float) -> np.ndarray:
    return np.array([[y, x], [np.cos(x), 0.0], [1.0, 2 * y]])


def jacobian_two_ways(point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    columns = [tg.jvp(F, (point,), (np.eye(2)[k],))[1].data for k in range(2)]
    out, vjp_fn = tg.vjp(F, point)
    rows = [vjp_fn(np.eye(3)[i])[0].data for i in range(3)]
    return np.stack(columns, axis=1), np.stack(rows, axis=0)


def _time(fn: Callable[[], Any], repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def costs(sizes: list[int], fixed: int, repeats: int) -> dict[str, list[float]]:
    """Seconds for jacfwd and jacrev of maps R^n -> R^fixed and R^fixed -> R^n."""
    rng = np.random.default_rng(0)
    timings: dict[str, list[float]] = {k: [] for k in ("fwd wide", "rev wide", "fwd tall",
                                                        "rev tall")}
    for n in sizes:
        a = rng.standard_normal((fixed, n))
        b = rng.standard_normal((n, fixed))
        wide = lambda x, a=a: tg.tanh(tg.matmul(a, tg.sin(x)))   # noqa: E731  R^n -> R^fixed
        tall = lambda x, b=b: tg.tanh(tg.matmul(b, tg.sin(x)))   # noqa: E731  R^fixed -> R^n
        xw, xt = rng.standard_normal(n), rng.standard_normal(fixed)
        for key, transform, f, x in (("fwd wide", tg.jacfwd, wide, xw),
                                     ("rev wide", tg.jacrev, wide, xw),
                                     ("fwd tall", tg.jacfwd, tall, xt),
                                     ("rev tall", tg.jacrev, tall, xt)):
            timings[key].append(_time(lambda t=transform, f=f, x=x: t(f)(x), repeats))
    return timings


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    x, v = 1.3, 0.5
    hand, fwad = dual_by_hand(x, v), dual_by_fwad(x, v)
    print(f"dual numbers for x^2 sin x at x = {x}, v = {v}:")
    print(f"  by hand (value, tangent) = ({hand[0]:.12f}, {hand[1]:.12f})")
    print(f"  by fwAD (value, tangent) = ({fwad[0]:.12f}, {fwad[1]:.12f})")
    point = np.array([0.7, -1.1])
    by_columns, by_rows = jacobian_two_ways(point)
    exact = jacobian_by_hand(*point)
    print("Jacobian of F(x, y) = (x y, sin x, x + y^2) at", point)
    print("  column by column (jvp):\n", by_columns)
    print("  row by row (vjp):\n", by_rows)
    print(f"  largest difference from the hand-derived matrix: "
          f"{max(np.abs(by_columns - exact).max(), np.abs(by_rows - exact).max()):.1e}")
    sizes = [2, 8, 32] if quick else [2, 4, 8, 16, 32, 64, 128]
    timings = costs(sizes, fixed=4, repeats=1 if quick else 3)
    summary = {"hand": hand, "fwad": fwad, "columns": by_columns, "rows": by_rows,
               "exact": exact, "sizes": sizes, "timings": timings, "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    for key, style in (("fwd wide", "o-"), ("rev wide", "s--")):
        left.loglog(sizes, timings[key], style, label=key.split()[0] + " (jacfwd)"
                    if key.startswith("fwd") else "rev (jacrev)")
    left.set(xlabel="n inputs", ylabel="seconds", title="R^n -> R^4: reverse mode wins as n grows")
    for key, style in (("fwd tall", "o-"), ("rev tall", "s--")):
        right.loglog(sizes, timings[key], style, label=key.split()[0] + " (jacfwd)"
                     if key.startswith("fwd") else "rev (jacrev)")
    right.set(xlabel="n outputs", ylabel="seconds",
              title="R^4 -> R^n: forward mode wins as n grows")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "forward_mode.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
