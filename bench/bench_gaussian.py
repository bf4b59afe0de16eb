"""One steepest-descent step of the Gaussian fit beside the same step written by hand
with the analytic derivatives in NumPy, and PyTorch eager CPU when installed, in one run.

A step: the normal density at the 33 bin centres of the heights histogram, chi-squared, its
gradient with respect to (mu, sigma), and the update (mu, sigma) -= lr * gradient.
tinygrad_mv runs it as the application does (tinygrad_mv.apps.gaussian.steepest_descent_step: the
fused gaussian_pdf operation, whose local derivatives are the course's df/dmu and df/dsigma, chained
by reverse mode through the cost, recorded once by tg.jit and replayed); the "eager" row is the same
step without tg.jit (tape built and walked every step); the composed row builds the density from
elementary operations, eagerly.

Measure: python -m pytest bench/bench_gaussian.py --benchmark-enable --benchmark-columns=mean,ops
or:      python bench/bench_gaussian.py   (prints the ratios to hand-written NumPy)
Goal: tinygrad_mv at most 2.5x the hand-written NumPy step (PyTorch eager: 8.4-9.3x).
"""
import math
import timeit

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import datasets
from tinygrad_mv.apps import gaussian

X, Y, _ = gaussian.histogram(datasets.heights())
MU0, SIGMA0, LR = 155.0, 6.0, 700.0
GROUP = f"gaussian fit: one steepest-descent step ({len(X)} bins)"
_SQRT_2PI = math.sqrt(2 * math.pi)


def numpy_step(mu: float, sigma: float, lr: float = LR, x=X, y=Y):
    """The step by hand: f, chi^2 = sum (y - f)^2, and d chi^2/dp = -2 sum (y - f) df/dp."""
    z = (x - mu) / sigma
    f = np.exp(-0.5 * z * z) / (sigma * _SQRT_2PI)
    residual = y - f
    cost = residual @ residual
    weighted = -2.0 * residual * f / sigma
    d_mu = weighted @ z                    # df/dmu = f (x - mu) / sigma^2 = f z / sigma
    d_sigma = weighted @ (z * z - 1.0)     # df/dsigma = f (z^2 - 1) / sigma
    return cost, mu - lr * d_mu, sigma - lr * d_sigma


Y_TENSOR = tg.Tensor(Y)  # as fit_gaussian holds the histogram


def tinygrad_step(mu: tg.Tensor, sigma: tg.Tensor) -> float:
    return gaussian.steepest_descent_step(X, Y_TENSOR, mu, sigma, LR)


def _eager_step(model, mu: tg.Tensor, sigma: tg.Tensor) -> float:
    """The step without tg.jit: the tape is built and walked every time."""
    cost = gaussian.chi_squared(model, X, Y_TENSOR, mu, sigma)
    grad_mu, grad_sigma = tg.autograd.grad(cost, (mu, sigma))
    mu.data = mu.data - LR * grad_mu.data
    sigma.data = sigma.data - LR * grad_sigma.data
    return float(cost.data)


def tinygrad_eager_step(mu: tg.Tensor, sigma: tg.Tensor) -> float:
    return _eager_step(gaussian.gaussian_pdf, mu, sigma)


def tinygrad_composed_step(mu: tg.Tensor, sigma: tg.Tensor) -> float:
    return _eager_step(gaussian.gaussian_pdf_composed, mu, sigma)


def _leaves():
    return tg.Tensor(MU0, requires_grad=True), tg.Tensor(SIGMA0, requires_grad=True)


def test_steps_agree():
    ref_cost, ref_mu, ref_sigma = numpy_step(MU0, SIGMA0)
    for step in STEPS.values():
        mu, sigma = _leaves()
        assert step(mu, sigma) == pytest.approx(ref_cost, rel=1e-14)
        assert mu.item() == pytest.approx(ref_mu, rel=1e-13)
        assert sigma.item() == pytest.approx(ref_sigma, rel=1e-13)


STEPS = {"jit": tinygrad_step, "eager": tinygrad_eager_step, "composed": tinygrad_composed_step}


@pytest.mark.parametrize("version", list(STEPS))
@pytest.mark.benchmark(group=GROUP)
def test_gaussian_step_tinygrad(benchmark, version):
    mu, sigma = _leaves()
    run = STEPS[version]

    def step():  # from the same point every time, so every round does the same work
        mu.data, sigma.data = np.asarray(MU0), np.asarray(SIGMA0)
        return run(mu, sigma)
    assert benchmark(step) == pytest.approx(numpy_step(MU0, SIGMA0)[0], rel=1e-14)


@pytest.mark.benchmark(group=GROUP)
def test_gaussian_step_numpy(benchmark):
    cost, _, _ = benchmark(numpy_step, MU0, SIGMA0)
    assert np.isfinite(cost)


def _torch_step(torch, reset=True):
    x, y = torch.tensor(X), torch.tensor(Y)
    mu = torch.tensor(MU0, dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor(SIGMA0, dtype=torch.float64, requires_grad=True)

    def step():
        if reset:
            with torch.no_grad():
                mu.fill_(MU0)
                sigma.fill_(SIGMA0)
        z = (x - mu) / sigma
        f = torch.exp(-0.5 * z * z) / (sigma * _SQRT_2PI)
        cost = ((y - f) ** 2).sum()
        grad_mu, grad_sigma = torch.autograd.grad(cost, (mu, sigma))
        with torch.no_grad():
            mu.sub_(LR * grad_mu)
            sigma.sub_(LR * grad_sigma)
        return cost.item()
    return step


@pytest.mark.benchmark(group=GROUP)
def test_gaussian_step_torch(benchmark):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    assert benchmark(_torch_step(torch)) == pytest.approx(numpy_step(MU0, SIGMA0)[0], rel=1e-12)


def _best_times(rows: dict, number: int = 500, rounds: int = 20) -> dict:
    """The best time per call of each row, the rows interleaved round by round so that a busy
    moment on the machine affects them alike."""
    best = {name: math.inf for name in rows}
    for _ in range(rounds):
        for name, fn in rows.items():
            best[name] = min(best[name], timeit.timeit(fn, number=number) / number)
    return best


def main() -> None:
    mu, sigma = _leaves()  # the steps walk along the path: the same work every step
    rows = {
        "numpy (hand-written, analytic)": lambda: numpy_step(MU0, SIGMA0),
        "tinygrad_mv (fused gaussian_pdf)": lambda: tinygrad_step(mu, sigma),
        "tinygrad_mv eager (no tg.jit)": lambda: tinygrad_eager_step(mu, sigma),
        "tinygrad_mv (composed from ops)": lambda: tinygrad_composed_step(mu, sigma),
    }
    try:
        import torch
        torch.set_num_threads(1)
        rows["torch eager CPU"] = _torch_step(torch, reset=False)
    except ImportError:
        pass
    times = _best_times(rows)
    base = times["numpy (hand-written, analytic)"]
    print(GROUP)
    for name, seconds in times.items():
        print(f"  {name:34s} {seconds * 1e6:8.1f} us   {seconds / base:5.2f}x numpy")


if __name__ == "__main__":
    main()
