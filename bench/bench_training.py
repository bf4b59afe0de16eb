"""One training step of the course's 1-6-7-2 sigmoid network (forward, backward, SGD update) on
100 points, cost = SSE / N: tinygrad_mv's nn + optim beside the same step written by hand in
NumPy and (when installed) PyTorch eager CPU, in one run.

Measure: python -m pytest bench/bench_training.py --benchmark-enable --benchmark-columns=mean,ops
Goal: the tinygrad_mv step at most 2.5x the hand-written NumPy step.
"""
import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import nn

GROUP = "training step: 1-6-7-2 sigmoid network, 100 points, SSE/N, SGD"
N = 100
LR = 0.5
RNG = np.random.default_rng(0)
X = RNG.uniform(0.0, 1.0, (N, 1))
Y = RNG.uniform(0.0, 1.0, (N, 2))


def make_model():
    return nn.Sequential(nn.Linear(1, 6, rng=1), nn.Sigmoid(), nn.Linear(6, 7, rng=2),
                         nn.Sigmoid(), nn.Linear(7, 2, rng=3), nn.Sigmoid())


def start_arrays():
    return [p.data.copy() for p in make_model().parameters()]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_training_step(params, x=X, y=Y, lr=LR):
    """The step by hand: forward, the chain rule backwards, and p -= lr * grad in place."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = _sigmoid(x @ w1.T + b1)
    a2 = _sigmoid(a1 @ w2.T + b2)
    a3 = _sigmoid(a2 @ w3.T + b3)
    n = len(x)
    cost = ((a3 - y) ** 2).sum() / n
    d3 = 2.0 * (a3 - y) / n * a3 * (1.0 - a3)
    d2 = (d3 @ w3) * a2 * (1.0 - a2)
    d1 = (d2 @ w2) * a1 * (1.0 - a1)
    grads = (d1.T @ x, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0))
    for p, g in zip(params, grads):
        p -= lr * g
    return cost


def tinygrad_training_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    cost = loss_fn(model(x), y) / N
    cost.backward()
    optimizer.step()
    return cost


def _tinygrad_setup():
    model = make_model()
    return model, tg.optim.SGD(model.parameters(), lr=LR), nn.SSELoss(), tg.Tensor(X), tg.Tensor(Y)


def test_steps_agree_over_several_iterations():
    ours = _tinygrad_setup()
    by_hand = start_arrays()
    for _ in range(5):
        cost = tinygrad_training_step(*ours)
        ref = numpy_training_step(by_hand)
        assert cost.item() == pytest.approx(ref, rel=1e-12)
    for p, q in zip(ours[0].parameters(), by_hand):
        np.testing.assert_allclose(p.data, q, rtol=1e-11, atol=1e-13)


@pytest.mark.benchmark(group=GROUP)
def test_training_step_tinygrad(benchmark):
    setup = _tinygrad_setup()
    cost = benchmark(tinygrad_training_step, *setup)
    assert np.isfinite(cost.item())


@pytest.mark.benchmark(group=GROUP)
def test_training_step_numpy(benchmark):
    cost = benchmark(numpy_training_step, start_arrays())
    assert np.isfinite(cost)


@pytest.mark.benchmark(group=GROUP)
def test_training_step_torch(benchmark):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(1, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 7),
                                torch.nn.Sigmoid(), torch.nn.Linear(7, 2),
                                torch.nn.Sigmoid()).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in make_model().state_dict().items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = torch.tensor(X), torch.tensor(Y)

    def step():
        optimizer.zero_grad()
        cost = ((model(x) - y) ** 2).sum() / N
        cost.backward()
        optimizer.step()
        return cost
    first = step().item()
    assert first == pytest.approx(numpy_training_step(start_arrays()), rel=1e-12)
    cost = benchmark(step)
    assert np.isfinite(cost.item())
