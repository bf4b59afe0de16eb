"""Forward mode against reverse mode: the cost of a Jacobian-vector product, and of whole
Jacobians built column by column (jacfwd) or row by row (jacrev) for tall and wide maps.

Measure: python -m pytest bench/bench_forward_mode.py --benchmark-enable --benchmark-columns=mean
Groups: "jvp, Rosenbrock n = 1e4" compares tg.jvp (eager and under tg.jit) and the forward
over reverse Hessian-vector product with one NumPy evaluation of f; "R^4 -> R^2000" and
"R^2000 -> R^4" compare jacfwd with jacrev (forward mode wins the first by the ratio of outputs
to inputs, reverse mode the second). Printed as ratios by: python bench/bench_forward_mode.py
In the plain test run each case runs once and its result is checked.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import tinygrad_mv as tg

N = 10_000
RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, N)
V = RNG.standard_normal(N)
A_TALL = RNG.standard_normal((2000, 4))  # R^4 -> R^2000
A_WIDE = RNG.standard_normal((4, 2000))  # R^2000 -> R^4


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def rosenbrock_numpy(x: np.ndarray) -> float:
    return float(np.sum((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2))


def rosenbrock_jvp_by_hand(x: np.ndarray, v: np.ndarray) -> float:
    a, b = x[:-1], x[1:]
    da = -2 * (1 - a) - 400 * a * (b - a * a)
    db = 200 * (b - a * a)
    return float(da @ v[:-1] + db @ v[1:])


def rosenbrock_jvp_numpy(x: np.ndarray, v: np.ndarray) -> float:
    """The floor for an eager jvp: value and tangent by hand in NumPy, the way tg.jvp computes
    them (each operation's value, then its tangent)."""
    a, da = x[:-1], v[:-1]
    s = x[1:] - a * a
    ds = v[1:] - 2 * a * da
    np.sum((1 - a) ** 2 + 100 * s * s)
    return float(np.sum(-2 * (1 - a) * da + 200 * s * ds))


def tall(x):
    return tg.tanh(tg.matmul(A_TALL, x))


def wide(x):
    return tg.tanh(tg.matmul(A_WIDE, x))


JITTED_JVP = tg.jit(lambda x, v: tg.jvp(rosenbrock, (x,), (v,))[1])
CASES = {
    ("jvp, Rosenbrock n = 1e4", "numpy f"): lambda: rosenbrock_numpy(X),
    ("jvp, Rosenbrock n = 1e4", "jvp by hand in NumPy"): lambda: rosenbrock_jvp_numpy(X, V),
    ("jvp, Rosenbrock n = 1e4", "jvp"): lambda: tg.jvp(rosenbrock, (X,), (V,))[1],
    ("jvp, Rosenbrock n = 1e4", "jvp under tg.jit"): lambda: JITTED_JVP(X, V),
    ("jvp, Rosenbrock n = 1e4", "hvp (forward over reverse)"): lambda: tg.hvp(rosenbrock, (X,),
                                                                              (V,)),
    ("R^4 -> R^2000", "jacfwd"): lambda: tg.jacfwd(tall)(X[:4]),
    ("R^4 -> R^2000", "jacrev"): lambda: tg.jacrev(tall)(X[:4]),
    ("R^2000 -> R^4", "jacfwd"): lambda: tg.jacfwd(wide)(X[:2000]),
    ("R^2000 -> R^4", "jacrev"): lambda: tg.jacrev(wide)(X[:2000]),
}


def _check(group: str, method: str, result) -> None:
    if method == "numpy f":
        return
    if group.startswith("jvp") and method != "hvp (forward over reverse)":
        assert float(np.asarray(result)) == pytest.approx(rosenbrock_jvp_by_hand(X, V),
                                                          rel=1e-10)
    elif group.startswith("R^4"):
        slope = 1 - np.tanh(A_TALL @ X[:4]) ** 2
        np.testing.assert_allclose(np.asarray(result), slope[:, None] * A_TALL, rtol=1e-12)
    elif group.startswith("R^2000"):
        slope = 1 - np.tanh(A_WIDE @ X[:2000]) ** 2
        np.testing.assert_allclose(np.asarray(result), slope[:, None] * A_WIDE, rtol=1e-12)


@pytest.mark.parametrize("group, method", list(CASES), ids=[f"{g}: {m}" for g, m in CASES])
def test_forward_mode_cost(benchmark, group, method):
    benchmark.group = group
    result = benchmark(CASES[(group, method)])
    _check(group, method, result)


def _medians(fns: dict, repeats: int = 31) -> dict:
    """Median seconds per call, the callables interleaved (a noisy machine slows them alike)."""
    times: dict = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: float(np.median(t)) for key, t in times.items()}


if __name__ == "__main__":
    JITTED_JVP(X, V)  # record once
    seconds = _medians(CASES)
    f = seconds[("jvp, Rosenbrock n = 1e4", "numpy f")]
    for (group, method), s in seconds.items():
        if group.startswith("jvp") and method != "numpy f":
            print(f"{group}: {method:28s} {s / f:6.2f}x one NumPy f")
    for group in ("R^4 -> R^2000", "R^2000 -> R^4"):
        fwd, rev = seconds[(group, "jacfwd")], seconds[(group, "jacrev")]
        faster, ratio = ("jacfwd", rev / fwd) if fwd < rev else ("jacrev", fwd / rev)
        print(f"{group}: jacfwd {fwd * 1e3:8.2f} ms, jacrev {rev * 1e3:8.2f} ms: {faster} "
              f"{ratio:.0f}x faster")
