"""Taylor series: sin(x) and its Taylor polynomials of increasing order about x0 = 1, by tg.taylor.

tg.taylor(f, x0, order) takes the derivatives f^(k)(x0) by repeated reverse mode (each one the
gradient of the previous, recorded with create_graph) and returns the polynomial
T_n(x) = sum_k f^(k)(x0) (x - x0)^k / k!. For sin they must cycle sin, cos, -sin, -cos: the
example checks this against the hand-derived values. The second panel shows the error
|sin(x0 + h) - T_n(x0 + h)| falling like h^(n+1) as h -> 0 (a slope of n + 1 on log-log axes),
which is what makes T_n an order-n approximation.

Run:  python examples/taylor_series.py [--out DIR] [--quick]
Writes DIR/taylor_series.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations


import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.apps._common import pyplot, run_example, save_figure

X0 = 1.0


def error_slopes(orders: list[int], polys: dict) -> dict[int, float]:
    """Least-squares slope of log|sin(x0 + h) - T_n(x0 + h)| against log h, h in [0.05, 0.4]
    (large enough that rounding does not dominate)."""
    h = np.geomspace(0.05, 0.4, 12)
    slopes = {}
    for n in orders:
        err = np.abs(np.sin(X0 + h) - polys[n](X0 + h).data)
        slopes[n] = float(np.polyfit(np.log(h), np.log(err), 1)[0])
    return slopes


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    """Build the polynomials, check them, save the figure (``quick``: orders up to 5)."""
    orders = [0, 1, 2, 3, 5] if quick else [0, 1, 2, 3, 5, 7, 9]
    polys = {n: tg.taylor(tg.sin, X0, n) for n in orders}
    top = polys[max(orders)]
    derivatives = [float(c.item()) for c in top.derivatives]
    hand = [(np.sin(X0), np.cos(X0), -np.sin(X0), -np.cos(X0))[k % 4]
            for k in range(len(derivatives))]
    gap = float(np.max(np.abs(np.array(derivatives) - hand)))
    print(f"derivatives of sin at x0 = {X0} by repeated reverse mode:")
    print("  " + ", ".join(f"{d:+.6f}" for d in derivatives))
    print(f"  largest difference from sin, cos, -sin, -cos, ...: {gap:.1e}")
    slopes = error_slopes([n for n in orders if 1 <= n <= 5], polys)
    for n, slope in slopes.items():
        print(f"  order {n}: error ~ h^{slope:.2f} (expected h^{n + 1})")
    summary: dict = {"derivatives": derivatives, "hand": hand, "slopes": slopes,
                     "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    grid = np.linspace(X0 - 4.5, X0 + 4.5, 400)
    left.plot(grid, np.sin(grid), color="black", lw=2.5, label="sin x")
    colours = plt.cm.viridis(np.linspace(0.0, 0.9, len(orders)))
    for n, colour in zip(orders, colours):
        left.plot(grid, polys[n](grid).data, color=colour, lw=1.3, label=f"order {n}")
    left.plot(X0, np.sin(X0), "ko")
    left.set(ylim=(-2.5, 2.5), xlabel="x", ylabel="y",
             title=f"Taylor polynomials of sin about $x_0$ = {X0}")
    left.legend(fontsize=8, ncol=2, loc="lower right")
    h = np.geomspace(1e-3, 2.0, 80)
    for n, colour in zip(orders, colours):
        if n == 0:
            continue
        err = np.abs(np.sin(X0 + h) - polys[n](X0 + h).data)
        right.loglog(h, np.maximum(err, 1e-17), color=colour, label=f"order {n}")
    right.set(xlabel="h", ylabel="|sin(x0 + h) - T_n(x0 + h)|",
              title="error ~ h^(n+1): slope n + 1 on log-log axes")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "taylor_series.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
