"""The course's 1-6-7-2 network that learns to draw a curve.

A number ``t`` in [0, 1] goes in; two numbers, the point (x, y) of the curve at ``t``, come out.
Three layers, each a linear map followed by the logistic sigmoid ``a = 1 / (1 + exp(-z))``:
1 -> 6 -> 7 -> 2. The cost is the sum of squared errors over the N training points divided by N,
``C = sum_i |a3(t_i) - y_i|^2 / N``.

Two ways to train it:

- ``"sgd"``: the course's stochastic steepest descent. Every step moves each weight matrix and bias
  vector against its gradient, with the step multiplied by a random factor ``1 + noise * xi``
  (``xi`` standard normal, one per parameter tensor per step): ``W <- W - lr (1 + noise xi) dC/dW``.
  The noise shakes the weights out of the plateaus sigmoid networks like to sit on.
- ``"adam"``: ``tg.optim.Adam``, for comparison.

The gradients come from reverse mode; :func:`chain_rule_gradients` writes the same Jacobians out by
hand as in the course (``J_W3 = 2 (a3 - y) * sigma'(z3) @ a2^T / N`` and so on back to ``W1``), and
:func:`finite_difference_gradients` by central differences, for checking.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv import nn, optim

from ._common import figure_class, progress_bar, write_csv, write_figure

__all__ = ["LAYER_SIZES", "OPTIMIZERS", "DEFAULT_LR", "DEFAULT_STEPS", "make_network", "cost",
           "NoisySteepestDescent", "CurveRun", "train_curve", "stage_iterations",
           "chain_rule_gradients", "finite_difference_gradients", "plot_curve_runs",
           "write_cost_csv"]

LAYER_SIZES = (1, 6, 7, 2)
OPTIMIZERS = ("sgd", "adam")
# lr 7 is the course's "aggression" for the noisy steepest descent; Adam takes much smaller steps.
DEFAULT_LR = {"sgd": 7.0, "adam": 0.02}
DEFAULT_STEPS = 5_000
DEFAULT_NOISE = 1.0


def make_network(seed: int | np.random.Generator | None = 0) -> nn.Sequential:
    """The 1-6-7-2 logistic-sigmoid network (PyTorch's default initialisation, seeded)."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]):
        layers += [nn.Linear(n_in, n_out, rng=rng), nn.Sigmoid()]
    return nn.Sequential(*layers)


def cost(model: nn.Module, t: Any, xy: Any) -> tg.Tensor:
    """The course's cost: sum of squared errors over the points, divided by their number N."""
    prediction = model(t)
    return nn.SSELoss()(prediction, xy) / len(prediction)


def cost_of_parameters(xy: Any) -> Callable[..., tg.Tensor]:
    """The cost as a function of the input points and of every weight and bias, in the order of
    ``state_dict()`` (W1, b1, W2, b2, W3, b3): what a transform differentiates with respect to
    the parameters themselves (an exported gradient takes them as inputs)."""
    def network_cost(points: Any, *params: Any) -> tg.Tensor:
        a = points
        for weight, bias in zip(params[::2], params[1::2]):
            a = tg.sigmoid(tg.linear(a, weight, bias))
        return ((a - xy) ** 2).sum() / len(xy)
    return network_cost


class NoisySteepestDescent:
    """Steepest descent with a random factor on each step: ``p <- p - lr (1 + noise xi) p.grad``
    with one standard-normal ``xi`` per parameter tensor per step (the course's method)."""

    def __init__(self, params: Iterable[tg.Tensor], lr: float, noise: float = DEFAULT_NOISE,
                 seed: int | np.random.Generator | None = 0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("NoisySteepestDescent: no parameters to optimise")
        # (an infinite lr or noise turns every weight into NaN at the first step)
        if not 0 < lr < math.inf:
            raise ValueError(f"NoisySteepestDescent: lr must be positive and finite, got {lr}")
        if not 0 <= noise < math.inf:
            raise ValueError(f"NoisySteepestDescent: noise must be non-negative and finite, got "
                             f"{noise}")
        self.lr, self.noise = float(lr), float(noise)
        self.rng = np.random.default_rng(seed)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        factors = 1.0 + self.noise * self.rng.standard_normal(len(self.params))
        for p, factor in zip(self.params, factors):
            if p.grad is not None:
                p.data -= (self.lr * factor) * p.grad.data


@dataclass
class CurveRun:
    """What :func:`train_curve` returns: the trained model and the history of the training."""

    optimizer: str
    lr: float
    model: nn.Sequential = field(repr=False)
    costs: np.ndarray = field(repr=False)  # cost before each step, then after the last one
    stages: list[tuple[int, np.ndarray]] = field(repr=False)  # (iteration, drawn curve (M, 2))

    @property
    def steps(self) -> int:
        return len(self.costs) - 1

    @property
    def initial_cost(self) -> float:
        return float(self.costs[0])

    @property
    def final_cost(self) -> float:
        return float(self.costs[-1])


def stage_iterations(steps: int, fractions: Sequence[float] = (0.0, 0.02, 0.2, 1.0)
                     ) -> list[int]:
    """The iterations at which to draw the network's curve: these fractions of ``steps``."""
    return sorted({int(round(steps * f)) for f in fractions})


def train_curve(t: Any, xy: Any, optimizer: str = "sgd", steps: int = DEFAULT_STEPS,
                lr: float | None = None, noise: float = DEFAULT_NOISE, seed: int = 0,
                stages: Sequence[int] | None = None, progress: bool | None = None,
                model: nn.Sequential | None = None) -> CurveRun:
    """Train the 1-6-7-2 network to map ``t`` (N, 1) to ``xy`` (N, 2) for ``steps`` steps.

    ``optimizer``: ``"sgd"`` (noisy steepest descent, the course's) or ``"adam"``; ``lr`` defaults
    to :data:`DEFAULT_LR`. ``seed`` fixes the initial weights and the noise. ``stages``: iterations
    at which the drawn curve is recorded (default :func:`stage_iterations`). ``progress``: show a
    tqdm bar with the current cost (None: only on a terminal)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"curve: unknown optimizer {optimizer!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"curve: steps must be a non-negative integer, got {steps!r}")
    t = np.asarray(t, dtype=np.float64)
    xy = np.asarray(xy, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 1 or xy.shape != (len(t), 2):
        raise ValueError(f"curve: expected t of shape (N, 1) and xy of shape (N, 2), got "
                         f"{t.shape} and {xy.shape}")
    lr = DEFAULT_LR[optimizer] if lr is None else float(lr)
    model = make_network(seed) if model is None else model
    params = list(model.parameters())
    if optimizer == "sgd":
        opt: Any = NoisySteepestDescent(params, lr, noise=noise, seed=seed)
    else:
        opt = optim.Adam(params, lr=lr)
    stage_set = set(stage_iterations(steps) if stages is None else stages)
    dense_t = np.linspace(0.0, 1.0, 400)[:, None]
    inputs, targets = tg.Tensor(t), tg.Tensor(xy)
    costs = np.empty(steps + 1)
    drawn: list[tuple[int, np.ndarray]] = []
    update_every = max(1, steps // 200)
    with progress_bar(steps, f"curve ({optimizer})", progress) as bar:
        for i in range(steps + 1):
            if i in stage_set:
                with tg.no_grad():
                    drawn.append((i, model(dense_t).numpy()))
            if i == steps:  # the cost after the last step, without another update
                with tg.no_grad():
                    costs[i] = cost(model, inputs, targets).item()
                break
            opt.zero_grad()
            value = cost(model, inputs, targets)
            value.backward()
            opt.step()
            costs[i] = value.item()
            if (i + 1) % update_every == 0:
                bar.update(update_every)
                bar.set_postfix(cost=f"{costs[i]:.3e}", refresh=False)
    return CurveRun(optimizer=optimizer, lr=lr, model=model, costs=costs, stages=drawn)


# --- checking the gradients ---------------------------------------------------------------------
def _layers(model: nn.Sequential) -> list[nn.Linear]:
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if len(linears) != 3:
        raise ValueError("expected the 1-6-7-2 network of make_network()")
    return linears


def chain_rule_gradients(model: nn.Sequential, t: np.ndarray, xy: np.ndarray
                         ) -> dict[str, np.ndarray]:
    """The cost's Jacobians written out by hand, as in the course (rows are samples here):
    ``delta3 = 2 (a3 - y) sigma'(z3) / N``, ``J_W3 = delta3^T a2``, ``J_b3 = sum delta3``,
    ``delta2 = (delta3 W3) sigma'(z2)``, ... with ``sigma'(z) = a (1 - a)``. Keys match
    ``model.named_parameters()``."""
    (l1, l2, l3) = _layers(model)
    t, xy = np.asarray(t, dtype=np.float64), np.asarray(xy, dtype=np.float64)

    def sigmoid(z: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z))

    w1, b1, w2, b2, w3, b3 = (p.data for p in (l1.weight, l1.bias, l2.weight, l2.bias,
                                               l3.weight, l3.bias))
    a1 = sigmoid(t @ w1.T + b1)
    a2 = sigmoid(a1 @ w2.T + b2)
    a3 = sigmoid(a2 @ w3.T + b3)
    delta3 = 2.0 * (a3 - xy) * a3 * (1 - a3) / len(t)
    delta2 = (delta3 @ w3) * a2 * (1 - a2)
    delta1 = (delta2 @ w2) * a1 * (1 - a1)
    names = [name for name, _ in model.named_parameters()]
    values = [delta1.T @ t, delta1.sum(0), delta2.T @ a1, delta2.sum(0), delta3.T @ a2,
              delta3.sum(0)]
    return dict(zip(names, values))


def finite_difference_gradients(model: nn.Module, t: np.ndarray, xy: np.ndarray,
                                eps: float = 1e-6) -> dict[str, np.ndarray]:
    """d cost / d every parameter entry by central differences (the model is left unchanged)."""
    inputs, targets = tg.Tensor(t), tg.Tensor(xy)
    result = {}
    with tg.no_grad():
        for name, p in model.named_parameters():
            grad = np.empty_like(p.data)
            for index in np.ndindex(p.shape):
                original = p.data[index]
                p.data[index] = original + eps
                plus = cost(model, inputs, targets).item()
                p.data[index] = original - eps
                minus = cost(model, inputs, targets).item()
                p.data[index] = original
                grad[index] = (plus - minus) / (2 * eps)
            result[name] = grad
    return result


# --- pictures and files -------------------------------------------------------------------------
def plot_curve_runs(xy: np.ndarray, runs: Sequence[CurveRun], path: str | os.PathLike,
                    title: str = "") -> Path | None:
    """One panel per run with the target curve and the network's curve at the recorded stages,
    and a panel of the cost against iteration for all runs. None without matplotlib."""
    figure = figure_class()
    if figure is None:
        return None
    panels = len(runs) + 1
    fig = figure(figsize=(4.3 * panels, 4.4), layout="constrained")
    axes = fig.subplots(1, panels)
    from matplotlib import colormaps
    for ax, run in zip(axes, runs):
        ax.plot(xy[:, 0], xy[:, 1], "o", color="black", ms=2.5, label="target points")
        shades = colormaps["plasma"](np.linspace(0.8, 0.0, len(run.stages)))
        for (iteration, drawn), colour in zip(run.stages, shades):
            ax.plot(drawn[:, 0], drawn[:, 1], color=colour, lw=1.8 if iteration == run.steps
                    else 1.1, alpha=1.0 if iteration == run.steps else 0.8,
                    label=f"after {iteration} steps")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(f"{_label(run)}: cost {run.final_cost:.2e}", fontsize=10)
        ax.legend(loc="lower left", fontsize=7, frameon=False)
    cost_ax = axes[-1]
    for run in runs:
        cost_ax.plot(np.arange(len(run.costs)), run.costs, lw=1, label=_label(run))
    cost_ax.set_yscale("log")
    cost_ax.set_xlabel("iteration")
    cost_ax.set_ylabel("cost = SSE / N")
    cost_ax.set_title("cost against iteration", fontsize=10)
    cost_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return write_figure(fig, path, dpi=100)


def _label(run: CurveRun) -> str:
    if run.optimizer == "sgd":
        return f"noisy steepest descent (lr {run.lr:g})"
    return f"Adam (lr {run.lr:g})"


def write_cost_csv(runs: Sequence[CurveRun], path: str | os.PathLike) -> Path:
    """Write iteration and each run's cost as columns."""
    target = Path(path)
    length = max(len(run.costs) for run in runs)
    columns = [np.arange(length)]
    for run in runs:
        padded = np.full(length, np.nan)
        padded[:len(run.costs)] = run.costs
        columns.append(padded)
    header = ",".join(["iteration"] + [f"cost_{run.optimizer}" for run in runs])
    write_csv(target, lambda handle: np.savetxt(
        handle, np.column_stack(columns), delimiter=",", header=header, comments="",
        fmt=["%d"] + ["%.10g"] * len(runs)))
    return target
