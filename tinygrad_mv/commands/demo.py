"""The main demonstration, in four steps (about ten seconds with the defaults):

1. the chain rule on a small function of two variables: reverse mode beside the hand-derived
   partial derivatives and central finite differences;
2. a gradient check of the 1-6-7-2 sigmoid network: reverse-mode gradients beside the course's
   hand-written chain-rule Jacobians and central differences, for every weight and bias;
3. the network learning to draw a heart, by noisy steepest descent and by Adam (figure);
4. a Gaussian fitted to a histogram of heights by steepest descent on chi-squared (figure).

When the graph drawing is available (tg.draw_graph / tg.graph_text) it also writes the network's
computation graph. Plots need matplotlib: pip install "tinygrad_mv[plot]".
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_mv.files import write_atomically

HELP = "run the main demonstration: chain rule, gradient check, curve network, Gaussian fit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinygrad_mv.apps.curve import DEFAULT_STEPS
    parser.add_argument("--out", default="tinygrad_mv_out", metavar="DIR",
                        help="folder for the files it writes (default: tinygrad_mv_out)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"training steps of the curve network, for each optimizer (default: "
                             f"{DEFAULT_STEPS})")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def chain_rule_step() -> None:
    import tinygrad_mv as tg
    print("1. The chain rule: f(x, y) = sin(x y) + x^2 y at x = 1.5, y = -0.5")
    x = tg.Tensor(1.5, requires_grad=True, name="x")
    y = tg.Tensor(-0.5, requires_grad=True, name="y")
    f = tg.sin(x * y) + x ** 2 * y
    f.backward()

    def f_np(a: float, b: float) -> float:
        return float(np.sin(a * b) + a ** 2 * b)

    eps = 1e-6
    fd_x = (f_np(1.5 + eps, -0.5) - f_np(1.5 - eps, -0.5)) / (2 * eps)
    fd_y = (f_np(1.5, -0.5 + eps) - f_np(1.5, -0.5 - eps)) / (2 * eps)
    hand_x = -0.5 * np.cos(-0.75) + 2 * 1.5 * -0.5
    hand_y = 1.5 * np.cos(-0.75) + 1.5 ** 2
    print(f"   df/dx: reverse mode {x.grad.item():+.10f}, by hand y cos(xy) + 2xy "
          f"{hand_x:+.10f}, central differences {fd_x:+.10f}")
    print(f"   df/dy: reverse mode {y.grad.item():+.10f}, by hand x cos(xy) + x^2  "
          f"{hand_y:+.10f}, central differences {fd_y:+.10f}")


def gradient_check_step(t: np.ndarray, xy: np.ndarray) -> bool:
    import tinygrad_mv as tg
    from tinygrad_mv.apps import curve as app
    print("2. Gradient check of the 1-6-7-2 network (cost = SSE / N on the heart, seed 0)")
    model = app.make_network(0)
    value = app.cost(model, tg.Tensor(t), tg.Tensor(xy))
    value.backward()
    by_hand = app.chain_rule_gradients(model, t, xy)
    numeric = app.finite_difference_gradients(model, t, xy)
    worst_hand = worst_numeric = 0.0
    for name, p in model.named_parameters():
        scale = np.abs(p.grad.data).max() + 1e-12
        diff_hand = np.abs(p.grad.data - by_hand[name]).max()
        diff_numeric = np.abs(p.grad.data - numeric[name]).max()
        worst_hand, worst_numeric = max(worst_hand, diff_hand), max(worst_numeric, diff_numeric)
        print(f"   {name:9s} {str(p.shape):7s} |grad| <= {scale:.3e}   vs chain rule by hand "
              f"{diff_hand:.1e}   vs central differences {diff_numeric:.1e}")
    ok = worst_hand < 1e-12 and worst_numeric < 1e-7
    print(f"   {'OK' if ok else 'MISMATCH'}: largest difference {worst_hand:.1e} from the "
          f"hand-written Jacobians, {worst_numeric:.1e} from central differences (eps 1e-6)")
    return ok


def draw_network_graph(model: Any, t: np.ndarray, xy: np.ndarray, out: Path) -> list[Path]:
    """Hook for the computation-graph drawing: writes the graph of the network's cost as text and
    (where Graphviz's ``dot`` is installed) as SVG, once ``tg.graph_text``/``tg.draw_graph`` exist.
    Returns the files written."""
    import tinygrad_mv as tg
    from tinygrad_mv.apps import curve as app
    if not hasattr(tg, "draw_graph") and not hasattr(tg, "graph_text"):
        print("   (the computation-graph drawing is not available in this version)")
        return []
    value = app.cost(model, tg.Tensor(t[:5]), tg.Tensor(xy[:5]))
    value.backward(retain_graph=True)
    written = []
    # Each file written whole or not at all (a failed run leaves no truncated picture).
    text = (tg.graph_text(value) + "\n").encode("utf-8")
    written.append(write_atomically(out / "demo_network_graph.txt", lambda f: f.write(text),
                                    "demo"))
    try:
        svg = tg.draw_graph(value).pipe(format="svg")
    except Exception as exc:  # no `dot` program: the text version is still there
        print(f"   (graph not rendered as SVG: {type(exc).__name__}: {exc})")
    else:
        written.append(write_atomically(out / "demo_network_graph.svg", lambda f: f.write(svg),
                                        "demo"))
    return written


def run(args: argparse.Namespace) -> int:
    from tinygrad_mv import datasets
    from tinygrad_mv.apps import curve as curve_app
    from tinygrad_mv.apps import gaussian as gaussian_app
    from tinygrad_mv.apps._common import no_plot_message, output_dir, print_written

    if args.steps < 0:
        raise ValueError(f"--steps must be non-negative, got {args.steps}")
    out = output_dir(args.out)
    progress = False if args.quiet else None
    written: list[Path] = []
    plotted = True

    chain_rule_step()
    t, xy = datasets.curve("heart")
    ok = gradient_check_step(t, xy)

    print(f"3. The network learns to draw a heart ({args.steps} steps each)")
    runs = []
    for optimizer in curve_app.OPTIMIZERS:
        start = time.perf_counter()
        result = curve_app.train_curve(t, xy, optimizer, steps=args.steps, seed=0,
                                       progress=progress)
        runs.append(result)
        print(f"   {optimizer:4s}: cost {result.initial_cost:.4g} -> {result.final_cost:.4g} in "
              f"{time.perf_counter() - start:.1f} s")
    written.append(curve_app.write_cost_csv(runs, out / "demo_curve_heart_cost.csv"))
    figure = curve_app.plot_curve_runs(xy, runs, out / "demo_curve_heart.png",
                                       title="heart: 1-6-7-2 sigmoid network")
    if figure is None:
        plotted = False
    else:
        written.append(figure)

    print("4. A Gaussian fitted to heights by steepest descent on chi-squared")
    fit = gaussian_app.fit_gaussian(datasets.heights(), progress=progress)
    print(f"   from mu=155, sigma=6 to mu={fit.mu:.4f}, sigma={fit.sigma:.4f} in {fit.steps} "
          f"steps; chi-squared {fit.chi2_path[0]:.4g} -> {fit.chi2:.4g}")
    written.append(gaussian_app.write_path_csv(fit, out / "demo_gaussian_fit_path.csv"))
    figure = gaussian_app.plot_gaussian_fit(fit, out / "demo_gaussian_fit.png")
    if figure is None:
        plotted = False
    else:
        written.append(figure)

    written += draw_network_graph(runs[0].model, t, xy, out)
    if not plotted:
        print(no_plot_message())
    print_written(written)
    return 0 if ok else 1
