"""A Gaussian fitted to a histogram of heights by steepest descent on chi-squared, as in the course.

The model is the normal density ``f(x; mu, sigma) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma
sqrt(2 pi))`` evaluated at the bin centres of a density-normalised histogram, and the cost is the
course's chi-squared with unit uncertainties, ``chi2(mu, sigma) = sum_i (y_i - f(x_i; mu,
sigma))^2``. Reverse mode supplies ``(d chi2/d mu, d chi2/d sigma)`` and each step moves against it:
``(mu, sigma) <- (mu, sigma) - lr * grad chi2``, starting from ``mu = 155, sigma = 6``.

Two versions of ``f`` are here. :func:`gaussian_pdf_composed` is built from elementary operations,
so the engine derives every partial derivative through the chain rule. :func:`gaussian_pdf` is one
fused operation whose local derivatives are the course's ``df/dmu = f (x - mu) / sigma^2`` and
``df/dsigma = f ((x - mu)^2 / sigma^3 - 1 / sigma)``; the engine still chains them through the cost.
The fit uses the fused one because it is several times cheaper per step; the tests check that both
give the same gradients as each other, as the formulas and as central differences.

Step size: with ``lr=None`` it is ``1 / |largest eigenvalue|`` of the Hessian of chi-squared at the
starting point (computed by ``tg.hessian``), which makes the default work for data in any unit.
A step that would not decrease chi-squared by at least half the decrease its gradient predicts
(Armijo's condition), or would make sigma non-positive, is not taken: the step size is halved and
the step retried (so the cost never goes up, beyond rounding, and an oversized step cannot jump
far away).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv.autograd import Drawing, primitive
from tinygrad_mv.nn.functional import chi_squared_loss

from ._common import figure_class, progress_bar, write_csv, write_figure

__all__ = ["MU0", "SIGMA0", "DEFAULT_STEPS", "histogram", "gaussian_pdf", "gaussian_pdf_composed",
           "chi_squared", "auto_step_size", "chi_squared_and_gradient", "steepest_descent_step",
           "GaussianFit", "fit_gaussian", "chi_squared_grid", "plot_gaussian_fit",
           "write_path_csv"]

MU0, SIGMA0 = 155.0, 6.0  # the course's starting point (cm)
DEFAULT_STEPS = 400
_SQRT_2PI = math.sqrt(2 * math.pi)


_MAX_BINS = 1_000_000


def histogram(heights: Any, bin_width: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(centres, density, edges)`` of a histogram normalised to unit area (so it is comparable
    with a probability density), with bin edges at multiples of ``bin_width``."""
    values = np.asarray(heights, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"histogram: need at least 2 values, got {values.size}")
    if not np.isfinite(values).all():
        raise ValueError("histogram: the values contain NaN or infinity")
    if not 0 < bin_width < math.inf:
        raise ValueError(f"histogram: bin_width must be positive and finite, got {bin_width}")
    low = math.floor(values.min() / bin_width) * bin_width
    span = (values.max() - low) / bin_width
    if not span < _MAX_BINS:  # (also an infinite span: values near the float range's ends)
        raise ValueError(f"histogram: the values span {values.min():g} to {values.max():g}, "
                         f"which bins of width {bin_width:g} cut into more than {_MAX_BINS:,} "
                         "bins; use wider bins or leave out the outliers")
    count = max(1, math.ceil(span + 1e-9))
    edges = low + bin_width * np.arange(count + 1)
    counts, edges = np.histogram(values, bins=edges)
    density = counts / (values.size * bin_width)
    return (edges[:-1] + edges[1:]) / 2, density, edges


# --- the model ----------------------------------------------------------------------------------
def _pdf_forward(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    z = (x - mu) / sigma
    return np.exp(-0.5 * z * z) / (sigma * _SQRT_2PI)


def _weighted_sum(weights: Any, values: Any, like: Any) -> Any:
    """``weights * values`` summed to a scalar parameter's shape (saving the engine a broadcast
    reduction per step); for other shapes the engine sums it back itself."""
    if like.ndim != 0:
        return weights * values
    if weights.ndim == 1 and values.ndim == 1:
        return np.asarray(weights @ values) if isinstance(weights, np.ndarray) else weights @ values
    return (weights * values).sum()


def _pdf_dx(g: Any, out: Any, x: Any, mu: Any, sigma: Any) -> Any:
    return -g * out * (x - mu) / (sigma * sigma)


def _pdf_dmu(g: Any, out: Any, x: Any, mu: Any, sigma: Any) -> Any:
    # df/dmu = f (x - mu) / sigma^2
    return _weighted_sum(g * out, x - mu, mu) / (sigma * sigma)


def _pdf_dsigma(g: Any, out: Any, x: Any, mu: Any, sigma: Any) -> Any:
    # df/dsigma = f ((x - mu)^2 / sigma^3 - 1 / sigma) = f (z^2 - 1) / sigma
    z = (x - mu) / sigma
    return _weighted_sum(g * out, z * z - 1, sigma) / sigma


_pdf = primitive("gaussian_pdf", _pdf_forward, _pdf_dx, _pdf_dmu, _pdf_dsigma,
                 drawing=Drawing(roles=('x', 'mu', 'sigma'),
                                 local=('-g·f·({0} - {1}) / {2}²',
                                        'g·f·({0} - {1}) / {2}²',
                                        'g·f·(z² - 1) / {2}, z = ({0} - {1}) / {2}')))


def gaussian_pdf(x: Any, mu: Any, sigma: Any) -> tg.Tensor:
    """The normal density at ``x`` as one differentiable operation (broadcasting)."""
    return _pdf(x, mu, sigma)


def gaussian_pdf_composed(x: Any, mu: Any, sigma: Any) -> tg.Tensor:
    """The same density from elementary operations: the engine derives it by the chain rule."""
    z = (x - mu) / sigma
    return tg.exp(-0.5 * z * z) / (sigma * _SQRT_2PI)


def chi_squared(model: Callable[..., tg.Tensor], x: Any, y: Any, mu: Any, sigma: Any) -> tg.Tensor:
    """``sum_i (y_i - model(x_i; mu, sigma))^2`` (the course's chi-squared, unit uncertainties),
    with the package's chi-squared loss."""
    return chi_squared_loss(model(x, mu, sigma), y)


# --- steepest descent ---------------------------------------------------------------------------
def auto_step_size(x: np.ndarray, y: np.ndarray, mu: float, sigma: float) -> float:
    """``1 / |largest eigenvalue|`` of the Hessian of chi-squared at (mu, sigma)."""
    def cost(p: tg.Tensor) -> tg.Tensor:
        return chi_squared(gaussian_pdf, x, y, p[0], p[1])

    with np.errstate(all="ignore"):  # (a start far out overflows: reported below)
        hess = tg.hessian(cost)(tg.Tensor([mu, sigma])).data
    if not np.isfinite(hess).all():
        raise ValueError(f"gaussian fit: chi-squared's curvature overflows at mu={mu}, "
                         f"sigma={sigma} (Hessian {hess.tolist()}); start nearer the data or "
                         "give lr")
    largest = float(np.abs(np.linalg.eigvalsh((hess + hess.T) / 2)).max())
    if largest == 0:
        raise ValueError(f"gaussian fit: chi-squared is flat at mu={mu}, sigma={sigma} (Hessian "
                         f"{hess.tolist()}); start nearer the data")
    return 1.0 / largest


def _chi_squared_gaussian(x: Any, y: Any, mu: Any, sigma: Any) -> tg.Tensor:
    return chi_squared(gaussian_pdf, x, y, mu, sigma)


# The fit evaluates the same chi-squared and gradient hundreds of times on one histogram: recorded
# once (the fused density, the loss and the reverse pass) and replayed as plain NumPy calls.
_chi_squared_value_and_grad = tg.jit(tg.value_and_grad(_chi_squared_gaussian, argnums=(2, 3)))


def _data(value: Any) -> Any:
    return value.data if isinstance(value, tg.Tensor) else value


def chi_squared_and_gradient(x: np.ndarray, y: Any, mu: tg.Tensor,
                             sigma: tg.Tensor) -> tuple[float, np.ndarray]:
    """Chi-squared at (mu, sigma) and its gradient ``[d/dmu, d/dsigma]`` by reverse mode."""
    cost, (grad_mu, grad_sigma) = _chi_squared_value_and_grad(x, _data(y), _data(mu), _data(sigma))
    return float(cost.data), np.array([grad_mu.data, grad_sigma.data])


def steepest_descent_step(x: np.ndarray, y: Any, mu: tg.Tensor, sigma: tg.Tensor,
                          lr: float) -> float:
    """One step in place: chi-squared, its gradient by reverse mode, and ``(mu, sigma) -= lr *
    gradient``. Returns chi-squared before the step."""
    cost, (grad_mu, grad_sigma) = _chi_squared_value_and_grad(x, _data(y), mu.data, sigma.data)
    mu.data = mu.data - lr * grad_mu.data
    sigma.data = sigma.data - lr * grad_sigma.data
    return float(cost.data)


@dataclass
class GaussianFit:
    """The result of :func:`fit_gaussian`: the data, the fitted parameters and the whole path."""

    centres: np.ndarray
    density: np.ndarray
    edges: np.ndarray
    mu: float
    sigma: float
    chi2: float
    lr: float
    converged: bool
    path: np.ndarray = field(repr=False)  # (k, 2): every (mu, sigma) from the start to the end
    chi2_path: np.ndarray = field(repr=False)  # (k,): chi-squared at each point of the path

    @property
    def steps(self) -> int:
        return len(self.path) - 1

    @property
    def start(self) -> tuple[float, float]:
        return float(self.path[0, 0]), float(self.path[0, 1])


def fit_gaussian(heights: Any, mu0: float = MU0, sigma0: float = SIGMA0,
                 steps: int = DEFAULT_STEPS, lr: float | None = None, bin_width: float = 2.0,
                 tol: float = 1e-12, progress: bool | None = None) -> GaussianFit:
    """Histogram ``heights`` and fit the normal density to it by steepest descent on chi-squared.

    Stops after ``steps`` steps, or earlier when a step changes mu and sigma by less than ``tol``
    relative. ``progress``: show a tqdm bar (None: only on a terminal)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"gaussian fit: steps must be a non-negative integer, got {steps!r}")
    if not 0 < sigma0 < math.inf or not math.isfinite(mu0):
        raise ValueError(f"gaussian fit: the starting sigma must be positive and both mu and "
                         f"sigma finite, got mu={mu0}, sigma={sigma0}")
    centres, density, edges = histogram(heights, bin_width)
    if lr is None:
        lr = auto_step_size(centres, density, mu0, sigma0)
    elif not 0 < lr < math.inf:  # (an infinite step, halved, stays infinite: it never ends)
        raise ValueError(f"gaussian fit: lr must be positive and finite, got {lr}")
    mu = tg.Tensor(float(mu0), requires_grad=True, name="mu")
    sigma = tg.Tensor(float(sigma0), requires_grad=True, name="sigma")
    point = np.array([mu0, sigma0], dtype=np.float64)
    targets = tg.Tensor(density)  # converted once, not at every step
    cost, gradient = chi_squared_and_gradient(centres, targets, mu, sigma)
    path, costs = [point], [cost]
    converged = False
    step_size = float(lr)
    with progress_bar(steps, "gaussian fit", progress) as bar:
        while len(path) <= steps:
            candidate = point - step_size * gradient
            new_cost = math.inf
            if candidate[1] > 0:
                mu.data, sigma.data = np.asarray(candidate[0]), np.asarray(candidate[1])
                with np.errstate(all="ignore"):  # (an overflowing trial is refused below)
                    new_cost, new_gradient = chi_squared_and_gradient(centres, targets, mu,
                                                                      sigma)
            # Armijo's sufficient decrease (with room for rounding once the predicted decrease
            # is below the cost's resolution): a long step that merely lands lower, such as on
            # the plateau far from the data where f ~ 0, is not accepted.
            wanted = 0.5 * step_size * float(gradient @ gradient) - 4e-16 * abs(cost)
            if not new_cost <= cost - wanted:
                # Overshot (or sigma <= 0): stay, halve the step and retry from the same point.
                step_size /= 2
                if np.array_equal(point - step_size * gradient, point):
                    break  # the step no longer moves the point (not: lr was far too large)
                continue
            change = np.abs(candidate - point).max() / np.abs(candidate).min()
            point, cost, gradient = candidate, new_cost, new_gradient
            path.append(point)
            costs.append(cost)
            bar.update()
            if bar.n % 20 == 0:
                bar.set_postfix(chi2=f"{cost:.4g}", refresh=False)
            if change < tol:
                converged = True
                break
    return GaussianFit(centres=centres, density=density, edges=edges, mu=float(point[0]),
                       sigma=float(point[1]), chi2=cost, lr=float(lr), converged=converged,
                       path=np.array(path), chi2_path=np.array(costs))


# --- pictures -----------------------------------------------------------------------------------
def chi_squared_grid(centres: np.ndarray, density: np.ndarray, mus: np.ndarray,
                     sigmas: np.ndarray) -> np.ndarray:
    """Chi-squared on the grid ``mus x sigmas`` (shape (len(sigmas), len(mus))), for contours."""
    f = _pdf_forward(centres[:, None, None], mus[None, None, :], sigmas[None, :, None])
    return ((density[:, None, None] - f) ** 2).sum(axis=0)


def plot_gaussian_fit(fit: GaussianFit, path: str | os.PathLike) -> Path | None:
    """Save the histogram with the initial and final fits beside the path through (mu, sigma)
    over contours of chi-squared. Returns the file written, or None without matplotlib."""
    figure = figure_class()
    if figure is None:
        return None
    fig = figure(figsize=(11.5, 4.6), layout="constrained")
    hist_ax, path_ax = fig.subplots(1, 2)

    widths = np.diff(fit.edges)
    hist_ax.bar(fit.centres, fit.density, width=widths, color="#c9d7e8", edgecolor="#7f99b8",
                linewidth=0.6, label="heights (density)")
    fine = np.linspace(fit.edges[0], fit.edges[-1], 400)
    mu0, sigma0 = fit.start
    hist_ax.plot(fine, _pdf_forward(fine, mu0, sigma0), "--", color="#d08c30",
                 label=f"start: mu={mu0:.1f}, sigma={sigma0:.1f}")
    hist_ax.plot(fine, _pdf_forward(fine, fit.mu, fit.sigma), color="#b2182b", lw=2,
                 label=f"fit: mu={fit.mu:.2f}, sigma={fit.sigma:.2f}")
    hist_ax.set_xlabel("height x (cm)")
    hist_ax.set_ylabel("probability density")
    hist_ax.set_title(f"Gaussian fit by steepest descent ({fit.steps} steps)")
    hist_ax.legend(loc="upper left", fontsize=8, frameon=False)

    mus, sigmas = fit.path[:, 0], fit.path[:, 1]
    pad_mu = 0.25 * max(mus.max() - mus.min(), 1e-3 * abs(fit.mu)) + 1e-12
    pad_sigma = 0.25 * max(sigmas.max() - sigmas.min(), 1e-3 * fit.sigma) + 1e-12
    grid_mu = np.linspace(mus.min() - pad_mu, mus.max() + pad_mu, 160)
    grid_sigma = np.linspace(max(sigmas.min() - pad_sigma, 0.05 * sigmas.min()),
                             sigmas.max() + pad_sigma, 160)
    chi2 = chi_squared_grid(fit.centres, fit.density, grid_mu, grid_sigma)
    low, high = max(chi2.min(), 1e-300), chi2.max()
    levels = np.geomspace(low * 1.05, high, 14) if high > low * 1.1 else 10
    contours = path_ax.contour(grid_mu, grid_sigma, chi2, levels=levels, cmap="viridis",
                               linewidths=0.8)
    path_ax.clabel(contours, contours.levels[::3], fontsize=6, fmt="%.2g")
    path_ax.plot(mus, sigmas, ".-", color="#b2182b", ms=3, lw=1, label="steepest-descent path")
    path_ax.plot(mus[0], sigmas[0], "o", color="#d08c30", label="start")
    path_ax.plot(mus[-1], sigmas[-1], "*", color="black", ms=10, label="end")
    path_ax.set_xlabel("mu (cm)")
    path_ax.set_ylabel("sigma (cm)")
    path_ax.set_title("path over contours of chi-squared")
    path_ax.legend(loc="lower right", fontsize=8)
    return write_figure(fig, path, dpi=110)


def write_path_csv(fit: GaussianFit, path: str | os.PathLike) -> Path:
    """Write step, mu, sigma, chi-squared for every point of the path."""
    target = Path(path)
    table = np.column_stack([np.arange(len(fit.path)), fit.path, fit.chi2_path])
    write_csv(target, lambda handle: np.savetxt(
        handle, table, delimiter=",", header="step,mu,sigma,chi2", comments="",
        fmt=["%d", "%.12g", "%.12g", "%.12g"]))
    return target
