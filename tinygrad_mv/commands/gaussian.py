"""Fit a Gaussian to a histogram of heights by steepest descent on chi-squared.

The model is the normal density f(x; mu, sigma); the cost is chi-squared with unit uncertainties,
sum_i (y_i - f(x_i; mu, sigma))^2, over a density-normalised histogram; the gradient comes from
reverse mode and each step moves (mu, sigma) against it, starting from mu = 155, sigma = 6 (cm).
Without --data it uses the package's synthetic sample of 10,000 adult heights
(tinygrad_mv.datasets.heights, seed 2024). It writes the histogram with the initial and final fits
and the path through (mu, sigma) over contours of chi-squared (needs matplotlib), and the path as
CSV.

A FILE.csv for --data holds one height per row; an optional header line, blank lines and # comments
are allowed.

examples:
  tinygrad-mv gaussian
  tinygrad-mv gaussian --data my_heights.csv --steps 1000 --out runs
"""
from __future__ import annotations

import argparse
import time

HELP = "fit a Gaussian to a heights histogram by steepest descent on chi-squared"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tinygrad_mv.apps.gaussian import DEFAULT_STEPS, MU0, SIGMA0
    parser.add_argument("--data", default=None, metavar="FILE.csv",
                        help="heights, one per row (default: the built-in synthetic sample)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help=f"at most this many steepest-descent steps (default: "
                             f"{DEFAULT_STEPS}; it stops earlier once converged)")
    parser.add_argument("--lr", type=float, default=None,
                        help="step size (default: 1 / the largest curvature of chi-squared at the "
                             "start, from its Hessian)")
    parser.add_argument("--start", type=float, nargs=2, default=(MU0, SIGMA0),
                        metavar=("MU", "SIGMA"),
                        help=f"starting point (default: {MU0:g} {SIGMA0:g}, the course's)")
    parser.add_argument("--bin-width", type=float, default=2.0,
                        help="histogram bin width, in the data's unit (default: 2)")
    parser.add_argument("--out", default="tinygrad_mv_out", metavar="DIR",
                        help="folder for the files it writes (default: tinygrad_mv_out)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tinygrad_mv import datasets
    from tinygrad_mv.apps import gaussian as app
    from tinygrad_mv.apps._common import output_dir, report_written

    if args.steps < 0:
        raise ValueError(f"--steps must be non-negative, got {args.steps}")
    if args.data is None:
        heights = datasets.heights()
        source = (f"synthetic sample of {len(heights)} heights (seed {datasets.HEIGHTS_SEED})")
    else:
        heights = datasets.load_heights_csv(args.data)
        source = f"{len(heights)} heights from {args.data}"
    out = output_dir(args.out)
    mu0, sigma0 = args.start
    print(f"gaussian fit: {source}; steepest descent on chi-squared from mu={mu0:g}, "
          f"sigma={sigma0:g}")
    start = time.perf_counter()
    fit = app.fit_gaussian(heights, mu0=mu0, sigma0=sigma0, steps=args.steps, lr=args.lr,
                           bin_width=args.bin_width, progress=False if args.quiet else None)
    seconds = time.perf_counter() - start
    state = ("converged" if fit.converged else "stopped at the step limit"
             if fit.steps == args.steps else "stopped: no step lowers chi-squared")
    print(f"mu = {fit.mu:.6f}, sigma = {fit.sigma:.6f}, chi-squared = {fit.chi2:.6g} "
          f"({fit.steps} steps, lr {fit.lr:.4g}, {state}, {seconds:.2f} s)")
    written = [app.write_path_csv(fit, out / "gaussian_fit_path.csv")]
    figure = app.plot_gaussian_fit(fit, out / "gaussian_fit.png")
    report_written(written, figure)
    return 0
