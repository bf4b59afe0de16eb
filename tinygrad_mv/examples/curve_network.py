"""The course's 1-6-7-2 logistic-sigmoid network learning to draw a heart.

A number t in [0, 1] goes in, the point (x, y) of the heart at t comes out; the cost is the sum of
squared errors over the 100 training points divided by 100. The same network (seed 0) is trained
twice for 5,000 steps: by the course's stochastic steepest descent (each step multiplied by a
random factor 1 + xi, xi standard normal, lr 7) and by Adam (lr 0.02).

What it shows (checked by tests/test_apps.py): from the initial cost 0.113, noisy steepest descent
ends more than 30 times lower (about 2.5e-3) and Adam more than 1,000 times lower (about 4e-5).

Run:  python examples/curve_network.py [--out DIR] [--shape heart|spiral|lissajous|FILE.csv]
Writes DIR/curve_network.png (the target and the network's curve after 0, 100, 1,000 and 5,000
steps for each optimizer, and the cost against iteration) and DIR/curve_network_cost.csv.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinygrad_mv import datasets
from tinygrad_mv.apps import curve
from tinygrad_mv.apps._common import report_written

SHAPE = "heart"
STEPS = 5_000
SEED = 0
# The reduction (initial cost / final cost) each optimizer reaches with the settings above.
CLAIMED_REDUCTION = {"sgd": 30.0, "adam": 1000.0}


def main(out: str = "tinygrad_mv_out", shape: str = SHAPE, steps: int = STEPS,
         progress: bool | None = None) -> dict[str, curve.CurveRun]:
    if shape in datasets.CURVES:
        t, xy = datasets.curve(shape)
    else:
        t, xy = datasets.load_curve_csv(shape)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    runs = {}
    for optimizer in curve.OPTIMIZERS:
        run = curve.train_curve(t, xy, optimizer, steps=steps, seed=SEED, progress=progress)
        runs[optimizer] = run
        print(f"{optimizer:4s}: cost {run.initial_cost:.4g} -> {run.final_cost:.4g} "
              f"({run.initial_cost / run.final_cost:.0f}x lower)")
    files = [curve.write_cost_csv(list(runs.values()), folder / "curve_network_cost.csv")]
    figure = curve.plot_curve_runs(xy, list(runs.values()), folder / "curve_network.png",
                                   title=f"{Path(shape).stem}: 1-6-7-2 sigmoid network, "
                                         "cost = SSE / N")
    report_written(files, figure)
    return runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tinygrad_mv_out")
    parser.add_argument("--shape", default=SHAPE)
    parser.add_argument("--steps", type=int, default=STEPS)
    options = parser.parse_args()
    main(options.out, options.shape, options.steps)
    sys.exit(0)
