"""Straight-line chi-squared fit with error bars: least_squares_fit against the textbook formulas.

Data: 20 points y = 2.0 + 0.5 x + noise on x = 0 ... 10, each with its own standard deviation
sigma_i (between 0.3 and 1.5, seed 11). The model y = p0 + p1 x is fitted by minimising
chi^2 = sum ((y_i - p0 - p1 x_i) / sigma_i)^2 with tg.optimize.least_squares_fit (Gauss-Newton
on the Jacobian from reverse mode: one step, the model being linear in p). The parameters, their
standard errors (sigma taken as absolute) and the covariance agree with the closed-form weighted
regression to rounding (~1e-15): intercept 1.438 +- 0.242, slope 0.586 +- 0.052, with
chi^2 = 10.6 for 18 degrees of freedom (expected 18 +- 6 for honest error bars).

Run:  python examples/linear_regression.py [--out DIR]
Writes DIR/linear_regression.png (needs matplotlib: pip install "tinygrad_mv[plot]").
"""
from __future__ import annotations


import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.apps._common import pyplot, run_example, save_figure

SEED = 11
TRUE_PARAMS = (2.0, 0.5)


def make_data(n: int = 20, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 10.0, n)
    sigma = rng.uniform(0.3, 1.5, n)
    y = TRUE_PARAMS[0] + TRUE_PARAMS[1] * x + rng.normal(0.0, sigma)
    return x, y, sigma


def line(x: tg.Tensor, p: tg.Tensor) -> tg.Tensor:
    return p[0] + p[1] * x


def closed_form(x: np.ndarray, y: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares for a line by the textbook sums: (params, covariance)."""
    w = 1.0 / sigma ** 2
    s, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
    sy, sxy = (w * y).sum(), (w * x * y).sum()
    delta = s * sxx - sx ** 2
    params = np.array([(sxx * sy - sx * sxy) / delta, (s * sxy - sx * sy) / delta])
    return params, np.array([[sxx, -sx], [-sx, s]]) / delta


def main(out: str = "tinygrad_mv_out", quick: bool = False) -> dict:
    """Fit, compare with the closed form, save the figure (``quick``: fewer points)."""
    x, y, sigma = make_data(10 if quick else 20)
    fit = tg.optimize.least_squares_fit(line, x, y, [0.0, 0.0], sigma=sigma,
                                        method="gauss-newton")
    params, cov = closed_form(x, y, sigma)
    print(f"fit (Gauss-Newton, {fit.nit} step(s), {fit.nfev} model evaluations):")
    for name, value, err, ref, ref_err in zip(["intercept", "slope"], fit.params, fit.errors,
                                              params, np.sqrt(np.diag(cov))):
        print(f"  {name:9s} = {value:.10f} +- {err:.10f}   closed form {ref:.10f} +- "
              f"{ref_err:.10f}")
    print(f"  chi2 = {fit.chi2:.4f} for {fit.dof} degrees of freedom: chi2/dof = "
          f"{fit.reduced_chi2:.3f}")
    gap = max(np.max(np.abs(fit.params - params) / np.abs(params)),
              np.max(np.abs(fit.covariance - cov)) / np.max(np.abs(cov)))
    print(f"  largest relative difference from the closed form: {gap:.1e}")
    summary: dict = {"fit": fit, "closed_form": (params, cov), "figure": None}
    plt = pyplot()
    if plt is None:
        return summary
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    grid = np.linspace(-0.5, 10.5, 200)
    design = np.stack([np.ones_like(grid), grid], axis=1)
    best = design @ fit.params
    band = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.covariance, design))
    top.errorbar(x, y, yerr=sigma, fmt="o", color="black", ms=4, capsize=3, label="data +- sigma")
    top.plot(grid, best, color="tab:blue",
             label=f"fit: {fit.params[0]:.3f}({fit.errors[0]:.3f}) + "
                   f"{fit.params[1]:.3f}({fit.errors[1]:.3f}) x")
    top.fill_between(grid, best - band, best + band, color="tab:blue", alpha=0.25,
                     label="1-sigma band from the covariance")
    top.plot(grid, TRUE_PARAMS[0] + TRUE_PARAMS[1] * grid, "--", color="grey", lw=1,
             label="true line 2 + 0.5 x")
    top.set(ylabel="y", title=f"chi-squared fit: chi2/dof = {fit.chi2:.2f}/{fit.dof}")
    top.legend(fontsize=8, loc="upper left")
    bottom.axhline(0.0, color="grey", lw=0.8)
    bottom.bar(x, fit.residuals, width=0.25, color="tab:blue")
    bottom.set(xlabel="x", ylabel="(y - fit) / sigma")
    fig.tight_layout()
    summary["figure"] = save_figure(fig, out, "linear_regression.png", dpi=60 if quick else 110)
    return summary


if __name__ == "__main__":
    run_example(main, __doc__)
