"""The floor tapes of bench/bench_floor.py compute what they time: each primitive's rules against
central differences (broadcasting included), the forward-mode duals against the reverse tape, and
the workloads' floors against the yardstick's NumPy by hand (../shared/tools/workloads.py) to
1e-12 relative."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bench_floor as bf  # noqa: E402
from conftest import fd_grads  # noqa: E402

rng = np.random.default_rng(7)
M, V, S, C = rng.uniform(0.5, 1.5, (6, 5)), rng.uniform(0.5, 1.5, (6, 1)), np.array(1.3), 2.5
N = rng.standard_normal((5, 3))


def _exp(a):
    return np.exp(a) if isinstance(a, np.ndarray) else a.exp()


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a)) if isinstance(a, np.ndarray) else a.sigmoid()


# name -> (function of the inputs, written with the operators the workloads use; inputs)
CASES = {
    "add broadcast": (lambda a, b: a + b, (M, V)),
    "radd number": (lambda a: C + a, (M,)),
    "sub broadcast": (lambda a, b: a - b, (V, M)),
    "rsub number": (lambda a: C - a, (M,)),
    "mul 0-d": (lambda a, s: a * s, (M, S)),
    "rmul number": (lambda a: C * a, (M,)),
    "div broadcast": (lambda a, b: a / b, (M, V)),
    "div 0-d by 0-d": (lambda s, t: s / t, (S, S + 0.5)),
    "rdiv number": (lambda a: C / a, (M,)),
    "neg": (lambda a: -a, (M,)),
    "pow": (lambda a: a ** 3, (M,)),
    "pow 0-d": (lambda s: s ** 2, (S,)),
    "exp": (_exp, (M,)),
    "sigmoid": (_sigmoid, (M,)),
    "matmul": (lambda a, b: a @ b, (M, N)),
    "slices": (lambda a: a[1:] * a[:-1] + a[2:4].sum(), (M,)),
    "sum": (lambda a: a.sum() * a, (M,)),
    "array constant + 0-d": (lambda s: M + s, (S,)),
    "0-d - array constant": (lambda s: s - M, (S,)),
}
# the operations the dual numbers have (those of Rosenbrock's function, W5)
DUAL = [k for k in CASES if k.split()[0] in ("add", "radd", "sub", "rsub", "mul", "rmul", "neg",
                                             "pow", "slices", "sum", "array", "0-d")]


@pytest.mark.parametrize("name", CASES)
def test_a_primitive_gradient_against_central_differences(name):
    f, arrays = CASES[name]
    w = np.random.default_rng(1).standard_normal(np.shape(f(*arrays)))  # a random cotangent
    leaves = [bf._Value(np.array(a, dtype=float), requires_grad=True) for a in arrays]
    (f(*leaves) * w).sum().backward()
    want = fd_grads(lambda *xs: np.sum(f(*xs) * w), arrays)
    for leaf, g in zip(leaves, want):
        assert np.shape(leaf.grad) == np.shape(g)
        np.testing.assert_allclose(leaf.grad, g, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", DUAL)
def test_a_primitive_jvp_against_the_reverse_tape(name):
    f, arrays = CASES[name]
    r = np.random.default_rng(2)
    w = r.standard_normal(np.shape(f(*arrays)))
    vs = [r.standard_normal(np.shape(a)) for a in arrays]
    leaves = [bf._Value(np.array(a, dtype=float), requires_grad=True) for a in arrays]
    (f(*leaves) * w).sum().backward()
    out = f(*[bf._Dual(np.array(a, dtype=float), v) for a, v in zip(arrays, vs)])
    np.testing.assert_allclose(out.v, f(*arrays), rtol=1e-15)
    assert np.shape(out.t) == np.shape(out.v)
    want = sum(np.sum(leaf.grad * v) for leaf, v in zip(leaves, vs))
    np.testing.assert_allclose(np.sum(out.t * w), want, rtol=1e-12)


def test_the_minimal_tape_computes_the_gradient():
    a, b = bf._Value(bf.A0.copy(), requires_grad=True), bf._Value(bf.B0.copy(), requires_grad=True)
    bf.minimal_step(a, b)
    np.testing.assert_allclose(a.grad, bf.B0 + 1.0, rtol=1e-15)
    np.testing.assert_allclose(b.grad, bf.A0, rtol=1e-15)


def test_constants_get_no_gradient_and_record_nothing():
    c, x = bf._Value(M), bf._Value(M.copy(), requires_grad=True)
    assert (c * 2.0 + c).tape is None
    ((c * x).sum()).backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, M)


def _rosen_grad(x):  # the analytic gradient, independent of the yardstick
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n", [10, 10_000])
def test_the_rosenbrock_floors_against_the_analytic_gradient(n):
    x, v = bf.rosen_inputs(n)
    f = np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    _close([bf.floor_grad(x)()], [_rosen_grad(x)])
    _close(bf.floor_jvp(x, v)(), [f, _rosen_grad(x) @ v])
    _close(bf.numpy_jvp(x, v)(), [f, _rosen_grad(x) @ v])
    _close(bf.tape_by_hand(x)(), [f, _rosen_grad(x)])


def _workloads():
    return bf.yardstick() or pytest.skip(f"the yardstick workloads.py is not in {bf.TOOLS}")


@pytest.mark.parametrize("n", [10, 10_000])
def test_the_rosenbrock_floors_against_the_yardstick(n):
    wl = _workloads()
    x, v = bf.rosen_inputs(n)
    _close([bf.floor_grad(x)()], [wl.rosen_grad_np(x)])
    _close(bf.floor_jvp(x, v)(), [wl.rosen_np(x), wl.rosen_grad_np(x) @ v])


@pytest.mark.parametrize("w", ["W1", "W2"])
def test_the_floor_steps_follow_the_yardsticks_numpy_by_hand(w):
    wl = _workloads()
    problem, by_hand, floor = {"W1": (wl.w1_problem, wl.w1_numpy, bf.floor_w1),
                               "W2": (wl.w2_problem, wl.w2_numpy, bf.floor_w2)}[w]
    ref_step, ref_read = by_hand()
    step, read = floor(*problem())
    before = read()
    for _ in range(3):
        ref_step()
        step()
    assert not np.allclose(read()[0], before[0])  # the steps moved the parameters
    _close(read(), ref_read())


def test_w1_by_hand_with_the_engines_numerics_is_the_replay_bit_for_bit():
    """bench/bench_jit_floor.py's 'same numerics' column is the replay's arithmetic: the loss and
    the six gradients by hand equal tg.jit's (and eager's) bit for bit."""
    import bench_jit_floor as bj
    import tinygrad_mv as tg

    W = bf.yardstick()
    if W is None:
        pytest.skip("the yardstick (shared/tools/workloads.py) is not found")
    x, y, ps, _ = W.w1_problem()
    xt, yt = tg.Tensor(x), tg.Tensor(y)

    def loss(W1, b1, W2, b2, W3, b3):
        a1 = (W1 @ xt + b1).sigmoid()
        a2 = (W2 @ a1 + b2).sigmoid()
        a3 = (W3 @ a2 + b3).sigmoid()
        return ((a3 - yt) ** 2).sum() / x.shape[1]

    value_and_grad = tg.value_and_grad(loss, argnums=tuple(range(6)))
    jitted = tg.jit(value_and_grad)
    for scale in (1.0, 3.0):  # the recording, then a replay on other values
        args = [p * scale for p in ps]
        value, grads = bj.w1_same_numerics(x, y, args)
        for results in (jitted(*args), value_and_grad(*args)):
            assert results[0].data.tobytes() == np.asarray(value).tobytes()
            for got, want in zip(results[1], grads):
                assert got.data.tobytes() == want.tobytes()
