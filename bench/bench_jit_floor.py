"""Where a tg.jit step's time goes, against NumPy by hand: the yardstick's W1 and W2 (../shared/
tools/workloads.py) taken apart, each column one cost more than the one before, interleaved in one
process with the yardstick's median_us, as ratios to its NumPy step:

- numpy: the yardstick's step by hand;
- same numerics: W1 by hand with the engine's numerics (the overflow-safe sigmoid, the loss
  value that value_and_grad returns), bit for bit the replay's results (tests/
  test_floor_tapes.py); W2 by hand computing the chi-squared value too;
- replay: the recorded program alone (``jitted.replay(...)``), the update reading ``.data``;
- call: the jitted function called as a user calls it (finding the program, checking the
  arguments), the update reading ``.data``;
- user step: the yardstick's step, which converts each gradient with ``np.asarray``.

    PYTHONPATH=. python bench/bench_jit_floor.py
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # one thread, as the yardstick runs (before NumPy is imported)
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_k, "1")

from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tinygrad_mv as tg  # noqa: E402
from bench_floor import yardstick  # noqa: E402


def sigmoid_as_the_engine(z: np.ndarray) -> np.ndarray:
    """ops/elementwise.py's sigmoid on float64: exp's argument clamped, so no input overflows."""
    t = np.negative(z, order="C")
    np.minimum(t, 709.0, out=t)
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


def w1_same_numerics(x: np.ndarray, y: np.ndarray, ps: list) -> tuple:
    """W1's loss and gradients by hand, with the NumPy calls tg.jit replays, in its order."""
    n = x.shape[1]
    W1, b1, W2, b2, W3, b3 = ps
    a1 = sigmoid_as_the_engine(W1 @ x + b1)
    a2 = sigmoid_as_the_engine(W2 @ a1 + b2)
    a3 = sigmoid_as_the_engine(W3 @ a2 + b3)
    r = a3 - y
    loss = np.add.reduce(np.square(r), axis=None) / n
    d3 = 2 * r
    np.multiply(1.0 / n, d3, out=d3)
    slope = 1 - a3
    np.multiply(a3, slope, out=slope)
    np.multiply(d3, slope, out=slope)
    d3 = slope
    d2 = W3.swapaxes(-1, -2) @ d3
    slope = 1 - a2
    np.multiply(a2, slope, out=slope)
    np.multiply(d2, slope, out=slope)
    d2 = slope
    d1 = W2.swapaxes(-1, -2) @ d2
    slope = 1 - a1
    np.multiply(a1, slope, out=slope)
    np.multiply(d1, slope, out=slope)
    d1 = slope
    sums = [np.add.reduce(d, axis=(1,), keepdims=True) for d in (d1, d2, d3)]
    return loss, (d1 @ x.swapaxes(-1, -2), sums[0], d2 @ a1.swapaxes(-1, -2), sums[1],
                  d3 @ a2.swapaxes(-1, -2), sums[2])


def w1_steps(W) -> dict[str, Callable[[], None]]:
    x, y, ps0, lr = W.w1_problem()
    n = x.shape[1]
    xt, yt = tg.Tensor(x), tg.Tensor(y)

    def loss(W1, b1, W2, b2, W3, b3):
        a1 = (W1 @ xt + b1).sigmoid()
        a2 = (W2 @ a1 + b2).sigmoid()
        a3 = (W3 @ a2 + b3).sigmoid()
        return ((a3 - yt) ** 2).sum() / n

    jitted = tg.jit(tg.value_and_grad(loss, argnums=(0, 1, 2, 3, 4, 5)))
    jitted(*ps0)
    run = jitted.replay(*ps0)
    steps: dict[str, Callable[[], None]] = {"numpy": W.w1_numpy()[0]}
    ps = [p.copy() for p in ps0]

    def same_numerics() -> None:
        for p, g in zip(ps, w1_same_numerics(x, y, ps)[1]):
            p -= lr * g

    def replay() -> None:
        for p, g in zip(ps, run(ps)[1]):
            p -= lr * g.data

    def call() -> None:
        for p, g in zip(ps, jitted(*ps)[1]):
            p -= lr * g.data

    steps.update({"same numerics": same_numerics, "replay": replay, "call": call,
                  "user step": W.w1_tg(tg, True)[0]})
    return steps


def w2_steps(W) -> dict[str, Callable[[], None]]:
    x, y, mu0, sig0, lr = W.w2_problem()
    xt, yt = tg.Tensor(x), tg.Tensor(y)
    c = float(np.sqrt(2 * np.pi))

    def chi2(mu, sig):
        f = tg.exp(-((xt - mu) ** 2) / (2 * sig ** 2)) / (c * sig)
        return ((yt - f) ** 2).sum()

    jitted = tg.jit(tg.value_and_grad(chi2, argnums=(0, 1)))
    p = [np.array(mu0), np.array(sig0)]
    jitted(*p)
    run = jitted.replay(*p)
    q = [np.float64(mu0), np.float64(sig0)]

    def with_value() -> None:
        mu, sig = q
        f = np.exp(-((x - mu) ** 2) / (2 * sig ** 2)) / (c * sig)
        r = y - f
        np.sum(r * r)
        gmu = -2.0 * np.sum(r * f * (x - mu) / sig ** 2)
        gsig = -2.0 * np.sum(r * f * ((x - mu) ** 2 / sig ** 3 - 1.0 / sig))
        q[0], q[1] = mu - lr * gmu, sig - lr * gsig

    def replay() -> None:
        _, (gm, gs) = run(p)
        p[0], p[1] = p[0] - lr * gm.data, p[1] - lr * gs.data

    def call() -> None:
        _, (gm, gs) = jitted(*p)
        p[0], p[1] = p[0] - lr * gm.data, p[1] - lr * gs.data

    return {"numpy": W.w2_numpy()[0], "same numerics": with_value, "replay": replay,
            "call": call, "user step": W.w2_tg(tg, True)[0]}


@pytest.mark.parametrize("column", ["same numerics", "replay", "call", "user step"])
def test_w1_step(benchmark, column: str) -> None:
    W = yardstick()
    if W is None:
        pytest.skip("the yardstick (shared/tools/workloads.py) is not found")
    benchmark(w1_steps(W)[column])


def main() -> int:
    W = yardstick()
    if W is None:
        print("the yardstick (shared/tools/workloads.py) is not found")
        return 1
    columns = ["numpy", "same numerics", "replay", "call", "user step"]
    print(f"{'':4}" + "".join(f"{c:>16}" for c in columns))
    for name, make in (("W1", w1_steps), ("W2", w2_steps)):
        times = W.median_us(make(W), 0.2, 15)
        print(f"{name:4}" + "".join(f"{times[c] / times['numpy']:>15.2f}x" for c in columns)
              + f"   (numpy {times['numpy']:.1f} us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
