"""Train the course's 1-6-7-2 logistic-sigmoid network to draw a curve.

The network takes t in [0, 1] and outputs the point (x, y) of the curve at t; the cost is the sum
of squared errors over the points divided by their number. It writes a figure with the target and
the network's curve at several stages of training and the cost against iteration (needs
matplotlib), the cost history as CSV and the trained weights as .npz (load with tg.load).

A FILE.csv for --shape holds rows "x,y" (taken in order, t evenly spaced) or "t,x,y"; an optional
header line, blank lines and # comments are allowed.

examples:
  tinygrad-mv curve
  tinygrad-mv curve --shape spiral --optimizer adam --steps 5000 --out runs
"""
from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

HELP = "train the 1-6-7-2 sigmoid network to draw a curve (heart, spiral, lissajous or your CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinygrad_mv.apps.curve import DEFAULT_LR, DEFAULT_STEPS
    parser.add_argument("--shape", default="heart", metavar="heart|spiral|lissajous|FILE.csv",
                        help="the curve to draw (default: heart)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"training steps (default: {DEFAULT_STEPS})")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                        help="sgd: the course's steepest descent with noise on the step; adam: "
                             "Adam, for comparison (default: sgd)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"step size (default: {DEFAULT_LR['sgd']:g} for sgd, "
                             f"{DEFAULT_LR['adam']:g} for adam)")
    parser.add_argument("--points", type=int, default=100,
                        help="points sampled on a built-in curve (default: 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights and the step noise (default: 0)")
    parser.add_argument("--out", default="tinygrad_mv_out", metavar="DIR",
                        help="folder for the files it writes (default: tinygrad_mv_out)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def load_shape(shape: str, points: int = 100) -> tuple[str, np.ndarray, np.ndarray]:
    """``(label, t, xy)`` for a built-in curve name or a CSV file path."""
    from tinygrad_mv import datasets
    if shape in datasets.CURVES:
        t, xy = datasets.curve(shape, points)
        return shape, t, xy
    if shape.lower().endswith(".csv") or os.path.exists(shape):
        t, xy = datasets.load_curve_csv(shape)
        return Path(shape).stem, t, xy
    raise ValueError(f"--shape {shape!r}: not a built-in curve ({', '.join(datasets.CURVES)}) "
                     f"nor a .csv file")


def run(args: argparse.Namespace) -> int:
    import tinygrad_mv as tg
    from tinygrad_mv.apps import curve as app
    from tinygrad_mv.apps._common import output_dir, report_written

    if args.steps < 0:
        raise ValueError(f"--steps must be non-negative, got {args.steps}")
    if args.lr is not None and not 0 < args.lr < math.inf:  # (Adam would train to NaN)
        raise ValueError(f"--lr must be positive and finite, got {args.lr}")
    label, t, xy = load_shape(args.shape, args.points)
    out = output_dir(args.out)
    print(f"curve '{label}': {len(t)} points; 1-6-7-2 sigmoid network, cost = SSE / N; "
          f"{args.steps} steps of {args.optimizer}")
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # (a diverging run is reported below)
        result = app.train_curve(t, xy, args.optimizer, steps=args.steps, lr=args.lr,
                                 seed=args.seed, progress=False if args.quiet else None)
    seconds = time.perf_counter() - start
    if not np.isfinite(result.costs).all():  # a NaN network is not worth writing
        first = int(np.argmin(np.isfinite(result.costs)))
        raise ValueError(f"training diverged: the cost became {result.costs[first]} after "
                         f"{first} steps of {args.optimizer} with lr {result.lr:g}; give a "
                         "smaller --lr")
    print(f"cost {result.initial_cost:.4g} -> {result.final_cost:.4g} "
          f"({result.initial_cost / max(result.final_cost, 1e-300):.3g}x lower) in {seconds:.1f} s")

    stem = f"curve_{label}_{args.optimizer}"
    written = [app.write_cost_csv([result], out / f"{stem}_cost.csv")]
    model_path = out / f"{stem}_model.npz"
    tg.save(result.model.state_dict(), model_path)
    written.append(model_path)
    figure = app.plot_curve_runs(xy, [result], out / f"{stem}.png",
                                 title=f"{label}: 1-6-7-2 sigmoid network")
    report_written(written, figure)
    return 0
