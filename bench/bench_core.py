"""Per-operation overhead of the engine, beside the same work written by hand in NumPy (and
PyTorch eager CPU when installed), in one run.

Measure: python -m pytest bench/bench_core.py --benchmark-enable --benchmark-columns=mean,ops
Goals: the network step at most 2.5x hand-written NumPy, the tiny graph at most 5x.
Compare within a group: pytest-benchmark prints each row's time relative to the fastest.
"""
import numpy as np
import pytest

import tinygrad_mv as tg

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 3))
B = RNG.standard_normal((3, 3))

N = 100
X = RNG.uniform(0.0, 1.0, (N, 1))
Y = RNG.uniform(-1.0, 1.0, (N, 2))
SHAPES = [(6, 1), (6,), (7, 6), (7,), (2, 7), (2,)]
PARAMS = [RNG.standard_normal(s) for s in SHAPES]


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_network_step(params, x=X, y=Y):
    """Forward and backward of the 1-6-7-2 sigmoid network by hand (cost = SSE / N)."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = _sigmoid(x @ w1.T + b1)
    a2 = _sigmoid(a1 @ w2.T + b2)
    a3 = _sigmoid(a2 @ w3.T + b3)
    cost = ((a3 - y) ** 2).sum() / len(x)
    d3 = 2.0 * (a3 - y) / len(x) * a3 * (1.0 - a3)
    d2 = (d3 @ w3) * a2 * (1.0 - a2)
    d1 = (d2 @ w2) * a1 * (1.0 - a1)
    return cost, [d1.T @ x, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0)]


def tinygrad_network_step(params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    for p in params:
        p.grad = None
    a1 = tg.sigmoid(tg.linear(x, w1, b1))
    a2 = tg.sigmoid(tg.linear(a1, w2, b2))
    a3 = tg.sigmoid(tg.linear(a2, w3, b3))
    cost = ((a3 - y) ** 2).sum() / len(x)
    cost.backward()
    return cost


def test_network_step_matches_hand_written():
    params = [tg.Tensor(p, requires_grad=True) for p in PARAMS]
    cost = tinygrad_network_step(params, tg.Tensor(X), tg.Tensor(Y))
    ref_cost, ref_grads = numpy_network_step(PARAMS)
    assert cost.item() == pytest.approx(ref_cost, rel=1e-13)
    for p, g in zip(params, ref_grads):
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-11, atol=1e-14)


@pytest.mark.benchmark(group="tiny graph ((a*b + a).sum()).backward(), 3x3")
def test_tiny_tinygrad(benchmark):
    a = tg.Tensor(A, requires_grad=True)
    b = tg.Tensor(B, requires_grad=True)

    def step():
        a.grad = b.grad = None
        ((a * b + a).sum()).backward()
    benchmark(step)
    np.testing.assert_allclose(a.grad.data, B + 1)


@pytest.mark.benchmark(group="tiny graph ((a*b + a).sum()).backward(), 3x3")
def test_tiny_numpy(benchmark):
    def step():
        value = (A * B + A).sum()
        g = np.ones_like(A)
        return value, g * B + g, g * A
    _, ga, gb = benchmark(step)
    np.testing.assert_allclose(ga, B + 1)


@pytest.mark.benchmark(group="tiny graph ((a*b + a).sum()).backward(), 3x3")
def test_tiny_torch(benchmark):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    a = torch.tensor(A, requires_grad=True)
    b = torch.tensor(B, requires_grad=True)

    def step():
        a.grad = b.grad = None
        ((a * b + a).sum()).backward()
    benchmark(step)
    np.testing.assert_allclose(a.grad.numpy(), B + 1)


@pytest.mark.benchmark(group="1-6-7-2 sigmoid network, 100 points, forward+backward")
def test_network_tinygrad(benchmark):
    params = [tg.Tensor(p, requires_grad=True) for p in PARAMS]
    x, y = tg.Tensor(X), tg.Tensor(Y)
    cost = benchmark(tinygrad_network_step, params, x, y)
    assert cost.item() == pytest.approx(numpy_network_step(PARAMS)[0], rel=1e-13)


@pytest.mark.benchmark(group="1-6-7-2 sigmoid network, 100 points, forward+backward")
def test_network_numpy(benchmark):
    cost, _ = benchmark(numpy_network_step, PARAMS)
    assert np.isfinite(cost)


@pytest.mark.benchmark(group="1-6-7-2 sigmoid network, 100 points, forward+backward")
def test_network_torch(benchmark):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    params = [torch.tensor(p, requires_grad=True) for p in PARAMS]
    x, y = torch.tensor(X), torch.tensor(Y)

    def step():
        for p in params:
            p.grad = None
        w1, b1, w2, b2, w3, b3 = params
        a1 = torch.sigmoid(torch.nn.functional.linear(x, w1, b1))
        a2 = torch.sigmoid(torch.nn.functional.linear(a1, w2, b2))
        a3 = torch.sigmoid(torch.nn.functional.linear(a2, w3, b3))
        cost = ((a3 - y) ** 2).sum() / len(x)
        cost.backward()
        return cost
    cost = benchmark(step)
    assert cost.item() == pytest.approx(numpy_network_step(PARAMS)[0], rel=1e-12)
