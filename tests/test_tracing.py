"""Tests of ``tg.jit``: a recorded-and-replayed function must give what the eager function gives.

Every jitted result is compared with the same function run eagerly (to 1e-14 relative: the replay
runs the same NumPy calls), and the derivatives also with hand-derived formulas and with central
differences (conftest's ``fd_jacobian``, independent of the library). Replays are called with new
values of the same shapes (so a frozen value would show), and the safety checks must raise.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
import pytest
from conftest import assert_close, fd_jacobian
from functions import rosenbrock

import tinygrad_mv as tg
from tinygrad_mv import Tensor

TIGHT = 1e-14  # replay vs eager: the same NumPy calls, so equal up to rounding (in fact bitwise)


def values_of(result: Any) -> Any:
    """A result with every Tensor replaced by its array (structure kept), for comparisons."""
    if isinstance(result, Tensor):
        return result.data
    if isinstance(result, (tuple, list)):
        return type(result)(values_of(r) for r in result)
    if isinstance(result, dict):
        return {k: values_of(v) for k, v in result.items()}
    return result


def assert_same(actual: Any, expected: Any, rtol: float = TIGHT, what: str = "") -> None:
    """Same structure, and every array of the same shape and dtype and equal to ``rtol``."""
    if isinstance(expected, Tensor) or isinstance(actual, Tensor):
        assert isinstance(actual, Tensor), f"{what}: expected a Tensor, got {type(actual)}"
        assert isinstance(expected, Tensor), f"{what}: eager gave {type(expected)}"
        assert actual.shape == expected.shape, f"{what}: {actual.shape} != {expected.shape}"
        assert actual.dtype == expected.dtype, f"{what}: {actual.dtype} != {expected.dtype}"
        if actual.dtype.kind == "f":
            np.testing.assert_allclose(actual.data, expected.data, rtol=rtol, atol=0,
                                       equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(actual.data, expected.data, err_msg=what)
    elif isinstance(expected, (tuple, list)):
        assert type(actual) is type(expected) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, rtol, f"{what}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), what
        for k in expected:
            assert_same(actual[k], expected[k], rtol, f"{what}[{k!r}]")
    else:
        assert type(actual) is type(expected) and actual == expected, f"{what}: {actual!r}"


def check_replays(f: Callable, make_args: Callable[[np.random.Generator], tuple],
                  calls: int = 4, seed: int = 0) -> Any:
    """Call jit(f) on several random argument sets of one signature: one recording, and every
    result equal to eager f on the same arguments. Returns the jitted function."""
    jitted = tg.jit(f)
    rng = np.random.default_rng(seed)
    for call in range(calls):
        args = make_args(rng)
        expected = f(*[Tensor(a) if isinstance(a, np.ndarray) else a for a in args])
        assert_same(jitted(*args), expected, what=f"call {call}")
    assert jitted.recordings == 1
    return jitted


# --- functions and their hand-derived derivatives --------------------------------------------
def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    inner = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * inner - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * inner
    return g


def rosenbrock_np(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def two_outputs(x: Tensor) -> Tensor:
    """R^3 -> R^2: (x0 x1, sin(x2) + x0^2)."""
    return tg.stack([x[0] * x[1], tg.sin(x[2]) + x[0] ** 2])


def two_outputs_jacobian(x: np.ndarray) -> np.ndarray:
    return np.array([[x[1], x[0], 0.0], [2 * x[0], 0.0, np.cos(x[2])]])


def cubic(x: Tensor) -> Tensor:
    """sum x^3 + x0 x1 x2, Hessian diag(6x) + the off-diagonal products."""
    return (x ** 3).sum() + x[0] * x[1] * x[2]


def cubic_hessian(x: np.ndarray) -> np.ndarray:
    return np.diag(6 * x) + np.array([[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]])


# --- 1. correctness against eager, hand formulas and finite differences ------------------------
@pytest.mark.parametrize("n", [2, 10, 1000])
def test_grad_rosenbrock_matches_eager_hand_formula_and_fd(n: int) -> None:
    jitted = tg.jit(tg.grad(rosenbrock))
    rng = np.random.default_rng(n)
    for _ in range(3):
        x = rng.uniform(-1.5, 1.5, n)
        got = jitted(x)
        assert_same(got, tg.grad(rosenbrock)(x))
        assert_close(got, rosenbrock_grad(x), rtol=1e-13, atol=1e-12, what="hand formula")
        if n <= 10:  # central differences cost 2n evaluations
            assert_close(got, fd_jacobian(rosenbrock_np, x), rtol=1e-6, atol=1e-6, what="fd")
    assert jitted.recordings == 1


def test_grad_rosenbrock_numerical_jacobian_of_the_jitted_function() -> None:
    """tg.numerical_jacobian of the jitted function value agrees with its jitted gradient."""
    x = np.array([0.3, -0.7, 1.1, 0.4])
    value = tg.jit(rosenbrock)
    numeric = tg.numerical_jacobian(lambda t: value(t), x)
    assert_close(tg.jit(tg.grad(rosenbrock))(x), numeric, rtol=1e-6, atol=1e-6)


def tanh_net_loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, x: Tensor,
                  y: Tensor) -> Tensor:
    hidden = tg.tanh(tg.linear(x, w1, b1))
    return tg.mean((tg.linear(hidden, w2, b2) - y) ** 2)


def net_args(rng: np.random.Generator) -> tuple:
    return (rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((1, 4)),
            rng.standard_normal(1), rng.standard_normal((5, 3)), rng.standard_normal((5, 1)))


def test_grad_tanh_network_matches_eager_hand_backprop_and_fd() -> None:
    loss_grad = tg.grad(tanh_net_loss, argnums=(0, 1, 2, 3))
    jitted = check_replays(loss_grad, net_args, calls=3)
    w1, b1, w2, b2, x, y = net_args(np.random.default_rng(7))
    got = jitted(w1, b1, w2, b2, x, y)
    # hand back-propagation
    z = x @ w1.T + b1
    h = np.tanh(z)
    out = h @ w2.T + b2
    d_out = 2 * (out - y) / out.size
    d_w2, d_b2 = d_out.T @ h, d_out.sum(axis=0)
    d_z = (d_out @ w2) * (1 - h ** 2)
    d_w1, d_b1 = d_z.T @ x, d_z.sum(axis=0)
    for g, want in zip(got, (d_w1, d_b1, d_w2, d_b2)):
        assert_close(g, want, rtol=1e-12, atol=1e-14)

    def loss_np(w1_: np.ndarray) -> float:
        return float(np.mean((np.tanh(x @ w1_.T + b1) @ w2.T + b2 - y) ** 2))
    assert_close(got[0], fd_jacobian(loss_np, w1), rtol=1e-6, atol=1e-8)


def test_grad_tanh_network_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    args = net_args(np.random.default_rng(3))
    got = tg.jit(tg.grad(tanh_net_loss, argnums=(0, 1, 2, 3)))(*args)
    params = [torch.tensor(a, requires_grad=True) for a in args[:4]]
    x, y = (torch.tensor(a) for a in args[4:])
    hidden = torch.tanh(torch.nn.functional.linear(x, params[0], params[1]))
    loss = torch.mean((torch.nn.functional.linear(hidden, params[2], params[3]) - y) ** 2)
    loss.backward()
    for g, p in zip(got, params):
        assert_close(g, p.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_value_and_grad_two_array_arguments() -> None:
    def f(a: Tensor, b: Tensor) -> Tensor:
        return (a * b + tg.sin(a) * b ** 2).sum()

    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal(5), rng.standard_normal(5)

    jitted = check_replays(tg.value_and_grad(f, argnums=(0, 1)), make)
    a, b = make(np.random.default_rng(11))
    value, (ga, gb) = jitted(a, b)
    assert_close(value, np.sum(a * b + np.sin(a) * b ** 2), rtol=1e-13)
    assert_close(ga, b + np.cos(a) * b ** 2, rtol=1e-13)
    assert_close(gb, a + 2 * np.sin(a) * b, rtol=1e-13)


def test_jacobian_r3_to_r2() -> None:
    jitted = check_replays(tg.jacobian(two_outputs), lambda rng: (rng.standard_normal(3),))
    x = np.array([0.4, -1.2, 2.0])
    got = jitted(x)
    assert got.shape == (2, 3)
    assert_close(got, two_outputs_jacobian(x), rtol=1e-13, atol=1e-15)
    assert_close(got, fd_jacobian(lambda v: two_outputs(Tensor(v)), x), rtol=1e-6, atol=1e-8)


def test_hessian_create_graph_path() -> None:
    jitted = check_replays(tg.hessian(cubic), lambda rng: (rng.standard_normal(3),))
    x = np.array([0.5, -1.5, 2.0])
    got = jitted(x)
    assert_close(got, cubic_hessian(x), rtol=1e-13, atol=1e-14)
    assert_close(got, fd_jacobian(lambda v: tg.grad(cubic)(v), x), rtol=1e-6, atol=1e-7)


def test_hvp_and_jvp_and_vjp() -> None:
    hvp = check_replays(lambda x, v: tg.hvp(cubic, (x,), (v,)),
                        lambda rng: (rng.standard_normal(3), rng.standard_normal(3)))
    x, v = np.array([0.5, -1.5, 2.0]), np.array([1.0, 2.0, -0.5])
    assert_close(hvp(x, v), cubic_hessian(x) @ v, rtol=1e-13, atol=1e-14)

    jvp = check_replays(lambda x, v: tg.jvp(two_outputs, (x,), (v,))[1],
                        lambda rng: (rng.standard_normal(3), rng.standard_normal(3)))
    assert_close(jvp(x, v), two_outputs_jacobian(x) @ v, rtol=1e-13, atol=1e-14)

    vjp = check_replays(lambda x, u: tg.vjp(two_outputs, x)[1](u)[0],
                        lambda rng: (rng.standard_normal(3), rng.standard_normal(2)))
    u = np.array([0.3, -2.0])
    assert_close(vjp(x, u), u @ two_outputs_jacobian(x), rtol=1e-13, atol=1e-14)


def test_plain_forward() -> None:
    def f(x: Tensor, w: Tensor) -> Tensor:
        return tg.exp(-(x @ w) ** 2).sum(axis=0) + tg.log(1 + x ** 2).mean()

    jitted = check_replays(f, lambda rng: (rng.standard_normal((4, 3)),
                                           rng.standard_normal((3, 2))))
    x, w = np.arange(12.0).reshape(4, 3) / 10, np.ones((3, 2))
    assert_close(jitted(x, w), np.exp(-(x @ w) ** 2).sum(axis=0) + np.log(1 + x ** 2).mean(),
                 rtol=1e-14)


def test_broadcasting_gradients_are_summed_to_the_input_shapes() -> None:
    def f(x: Tensor, row: Tensor, col: Tensor) -> Tensor:
        return (tg.tanh(x + row) * col).sum()

    def make(rng: np.random.Generator) -> tuple:
        return rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((3, 1))

    jitted = check_replays(tg.grad(f, argnums=(0, 1, 2)), make)
    x, row, col = make(np.random.default_rng(5))
    gx, grow, gcol = jitted(x, row, col)
    t = np.tanh(x + row)
    assert_close(gx, (1 - t ** 2) * col, rtol=1e-13)
    assert_close(grow, ((1 - t ** 2) * col).sum(axis=0), rtol=1e-13)
    assert_close(gcol, t.sum(axis=1, keepdims=True), rtol=1e-13)
    assert gx.shape == (3, 4) and grow.shape == (4,) and gcol.shape == (3, 1)


def test_getitem_slices_and_integer_array_indices() -> None:
    index = np.array([0, 0, 2, 5])  # 0 twice: its gradient accumulates

    def f(x: Tensor) -> Tensor:
        return (x[1:4] ** 2).sum() + (x[index] * 3.0).sum() + x[::2, None].sum()

    jitted = check_replays(tg.grad(f), lambda rng: (rng.standard_normal(6),))
    x = np.array([1.0, -2.0, 0.5, 3.0, 4.0, -1.0])
    want = np.zeros(6)
    want[1:4] += 2 * x[1:4]
    np.add.at(want, index, 3.0)
    want[::2] += 1.0
    assert_close(jitted(x), want, rtol=1e-14)
    assert_close(jitted(x), fd_jacobian(lambda v: f(Tensor(v)), x), rtol=1e-6, atol=1e-8)


def test_where_mask_is_recomputed_when_inputs_cross_the_threshold() -> None:
    """where's condition is a keyword parameter of its primitive: the replay must take each
    call's mask, not keep the first call's in the recorded step (forward and gradient)."""
    def f(x: Tensor) -> Tensor:
        return tg.where(x > 0.5, x * x, -3.0 * x)

    forward, gradient = tg.jit(f), tg.jit(tg.grad(lambda x: f(x).sum()))
    first = np.array([1.0, -1.0, 2.0, 0.0])
    assert_close(forward(first), np.where(first > 0.5, first ** 2, -3 * first), rtol=0)
    rng = np.random.default_rng(1)
    for call in range(6):
        x = -first if call == 0 else rng.uniform(-2, 2, 4)  # every position crosses first
        assert_close(forward(x), np.where(x > 0.5, x ** 2, -3 * x), rtol=0, what=f"call {call}")
        assert_close(gradient(x), np.where(x > 0.5, 2 * x, -3.0), rtol=0, what=f"call {call}")
        assert_same(gradient(x), tg.grad(lambda t: f(t).sum())(x))
    assert forward.recordings == 1 and gradient.recordings == 1


def test_a_float_condition_of_where_follows_the_values() -> None:
    """A float condition becomes a mask (cond != 0) outside the primitive: the replay must
    recompute it, not keep the first call's zeros."""
    def f(x: Tensor) -> Tensor:
        return tg.where(tg.relu(x), x * 2.0, x * -1.0)  # relu(x) is 0 exactly where x <= 0

    jitted = tg.jit(f)
    for x in (np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, -4.0]), np.array([5.0, 1, 2])):
        assert_close(jitted(x), np.where(x > 0, 2 * x, -x), rtol=0)
    assert jitted.recordings == 1


def test_transformed_functions_are_named_after_what_they_compute() -> None:
    def rosen(x: Tensor) -> Tensor:
        return (x * x).sum()

    assert tg.grad(rosen).__name__ == "grad(rosen)"
    assert tg.hessian(rosen).__name__ == "hessian(rosen)"
    with pytest.raises(tg.JitError, match=r"jit\(grad\(reads\)\): item\(\)"):
        tg.jit(tg.grad(reads))(np.ones(2))


def reads(x: Tensor) -> Tensor:
    return (x * float(x.sum())).sum()


def test_boolean_mask_index_from_a_comparison_follows_the_values() -> None:
    """A bool mask made by a comparison, used as an index (a param of getitem)."""
    def f(x: Tensor) -> Tensor:
        return x[x > 0].sum() * 2

    jitted = tg.jit(f)
    for x in (np.array([1.0, -2.0, 3.0]), np.array([-1.0, 2.0, 4.0]), np.array([-5.0, -1, 2])):
        assert_close(jitted(x), 2 * x[x > 0].sum(), rtol=1e-15)
    assert jitted.recordings == 1


PIECEWISE = {
    "where": lambda x: tg.where(x > 0, x ** 3, -(x ** 2)).sum(),
    "relu": lambda x: (tg.relu(x) ** 3).sum(),
    "abs": lambda x: (tg.abs(x) ** 3 * x).sum(),
    "clip": lambda x: (tg.clip(x, -0.5, 0.5) ** 3 + x ** 2).sum(),
    "maximum": lambda x: (tg.maximum(x, 0.1 * x) ** 3).sum(),
}


PIECEWISE.update({
    "max": lambda x: (x.max() ** 3 + x ** 2).sum(),
    "pow_masks": lambda x: ((tg.relu(x) + 1) ** (x * x + 1) + (x * x + 1) ** (x * (x > 0))).sum(),
})


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_second_derivatives_through_piecewise_operations_replay_with_new_masks(name: str) -> None:
    """In the create_graph pass these rules' masks are recorded comparisons, so every replay
    recomputes them, for hessian, hvp and jvp, on inputs on both sides of each kink (masks
    computed with NumPy on .data would keep the first call's, wrong once an input crosses)."""
    f = PIECEWISE[name]
    sides = [np.array([1.5, -1.5, 0.25]), np.array([-1.5, 1.5, -0.25]),
             np.array([0.25, 1.5, -1.5]), np.array([-0.2, -0.7, 1.1])]
    hessian = tg.jit(tg.hessian(f))
    hvp = tg.jit(lambda x, v: tg.hvp(f, (x,), (v,)))
    jvp = tg.jit(lambda x, v: tg.jvp(tg.grad(f), (x,), (v,)))
    v = np.array([0.3, -1.0, 2.0])
    for x in sides:
        expected = tg.hessian(f)(x)
        assert_same(hessian(x), expected, what=f"hessian at {x}")
        assert_same(hvp(x, v), tg.hvp(f, (x,), (v,)), what=f"hvp at {x}")
        assert_same(jvp(x, v), tg.jvp(tg.grad(f), (x,), (v,)), what=f"jvp at {x}")
        assert_close(expected, fd_jacobian(lambda u: tg.grad(f)(u), x), rtol=1e-6, atol=1e-6)
    assert hessian.recordings == hvp.recordings == jvp.recordings == 1


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_jitted_jvp_records_forward_rules_with_new_masks(name: str, monkeypatch) -> None:
    """tg.jit of tg.jvp records the forward rules themselves (no reverse pass), as operations:
    a replay recomputes each piecewise rule's mask from the new inputs."""
    from tinygrad_mv import functional

    def no_reverse(*args: Any) -> Any:
        raise AssertionError("tg.jvp fell back on two reverse passes under tg.jit")
    monkeypatch.setattr(functional, "jvp_by_reverse", no_reverse)
    f = PIECEWISE[name]
    jvp = tg.jit(lambda x, v: tg.jvp(f, (x,), (v,)))
    v = np.array([0.3, -1.0, 2.0])
    for x in (np.array([1.5, -1.5, 0.25]), np.array([-1.5, 1.5, -0.25]),
              np.array([0.25, 1.5, -1.5])):
        out, tangent = jvp(x, v)
        assert_same((out, tangent), tg.jvp(f, (x,), (v,)), what=f"jvp at {x}")
        expected = (f(Tensor(x + 1e-6 * v)).item() - f(Tensor(x - 1e-6 * v)).item()) / 2e-6
        assert_close(tangent.data, expected, rtol=1e-5, atol=1e-6)
    assert jvp.recordings == 1


SMOOTH = {
    "logsumexp": lambda x: tg.logsumexp(x * np.array([0.3, -1.0, 2.0])),
    "log_softmax": lambda x: (tg.log_softmax(x) * np.array([0.3, -1.0, 2.0])).sum(),
    "sigmoid": lambda x: tg.sigmoid(x * x).sum(),
    "pow_tensor": lambda x: ((x * x + 1) ** (x * 0.1 + 1)).sum(),
    "broadcast_outer": lambda x: ((x.reshape(3, 1) * x.reshape(1, 3)) ** 2).sum() / (1 + x[0] ** 2),
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_hessians_of_smooth_functions_replay(name: str) -> None:
    """The refusal above must not catch smooth operations (some use max or masks in their
    forward, never in their rules)."""
    f = SMOOTH[name]
    jitted = check_replays(tg.hessian(f), lambda rng: (rng.uniform(-2, 2, 3),), calls=3)
    x = np.array([0.7, -0.4, 1.1])
    assert_close(jitted(x), fd_jacobian(lambda v: tg.grad(f)(v), x), rtol=1e-6, atol=1e-6)


def test_first_derivatives_through_piecewise_operations_follow_the_masks() -> None:
    for name, f in PIECEWISE.items():
        jitted = tg.jit(tg.grad(f))
        jitted(np.array([1.5, -1.5, 0.25]))
        for x in (np.array([-1.5, 1.5, -0.25]), np.array([0.25, 1.5, -1.5])):
            assert_same(jitted(x), tg.grad(f)(x), what=name)
            assert_close(jitted(x), fd_jacobian(lambda v, f=f: f(Tensor(v)), x), what=name)
        assert jitted.recordings == 1


def test_isnan_bool_ufunc_path_is_recomputed() -> None:
    def f(x: Tensor) -> tuple:
        nan = np.isnan(x)
        return nan, tg.where(nan, 0.0, x) * 2

    jitted = tg.jit(f)
    for x in (np.array([1.0, np.nan, 3.0]), np.array([np.nan, 2.0, np.nan]), np.ones(3)):
        mask, cleaned = jitted(x)
        assert mask.dtype == np.bool_
        np.testing.assert_array_equal(mask.data, np.isnan(x))
        np.testing.assert_array_equal(cleaned.data, np.where(np.isnan(x), 0.0, x) * 2)
    assert jitted.recordings == 1


def test_float32_inputs_keep_their_dtype() -> None:
    def f(x: Tensor) -> Tensor:
        return (tg.tanh(x) * x / np.sqrt(2.0)).sum()

    jitted = check_replays(tg.grad(f), lambda rng: (rng.standard_normal(7).astype(np.float32),))
    x = np.linspace(-1, 1, 7, dtype=np.float32)
    got = jitted(x)
    assert got.dtype == np.float32
    assert_close(got, (np.tanh(x) + x * (1 - np.tanh(x) ** 2)) / np.sqrt(2.0), rtol=1e-5)
    jitted(x.astype(np.float64))  # another dtype is another signature
    assert jitted.recordings == 2


def test_integer_and_list_inputs_become_float64() -> None:
    jitted = tg.jit(lambda x: x / 2)
    got = jitted(np.array([1, 2, 3]))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got.data, [0.5, 1.0, 1.5])
    np.testing.assert_array_equal(jitted([4, 5, 7]).data, [2.0, 2.5, 3.5])
    assert jitted.recordings == 1  # an int array and a list of ints: both float64 of shape (3,)
    g = tg.jit(tg.grad(lambda x: (x ** 2).sum()))(np.array([1, -2]))
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g.data, [2.0, -4.0])


def test_structured_results_with_python_constants() -> None:
    def f(x: Tensor) -> dict:
        return {"double": x * 2, "pair": (x.sum(), 3, None), "name": "f", "items": [x - 1]}

    jitted = check_replays(f, lambda rng: (rng.standard_normal(3),))
    got = jitted(np.array([1.0, 2.0, 3.0]))
    assert got["name"] == "f" and got["pair"][1] == 3 and got["pair"][2] is None
    np.testing.assert_array_equal(got["items"][0].data, [0.0, 1.0, 2.0])
    assert isinstance(got["pair"], tuple) and isinstance(got["items"], list)


def test_empty_containers_in_a_result() -> None:
    """An empty tuple, list or dict in the result is rebuilt as it was (the compiled return
    statement wrote (,) for the tuple: a SyntaxError)."""
    def f(x: Tensor) -> tuple:
        return (), [()], {}, (x * 2, ())

    got = tg.jit(f)(np.ones(2))
    assert got[:3] == ((), [()], {}) and got[3][1] == ()
    np.testing.assert_array_equal(got[3][0].data, [2.0, 2.0])


def test_a_python_number_used_as_operand_and_as_tensor_data() -> None:
    """The number 2.5 is both an operand and a Tensor's data: the recording must give
    Tensor(2.5) a slot that knows its dtype, not one holding a Python float."""
    scale = 2.5
    jitted = tg.jit(lambda x: x * scale + Tensor(scale))
    for x in (np.ones(2), np.array([3.0, -1.0])):
        np.testing.assert_array_equal(jitted(x).data, x * 2.5 + 2.5)
    assert jitted.recordings == 1


# --- 2. replay happens, signatures ----------------------------------------------------------
def test_one_recording_per_signature_and_results_follow_values() -> None:
    jitted = tg.jit(tg.grad(rosenbrock))
    rng = np.random.default_rng(2)
    for _ in range(5):
        x = rng.standard_normal(4)
        assert_same(jitted(x), tg.grad(rosenbrock)(x))
    assert jitted.recordings == 1
    y = rng.standard_normal(6)
    assert_same(jitted(y), tg.grad(rosenbrock)(y))
    assert jitted.recordings == 2
    for _ in range(3):  # both signatures keep working, with no new recording
        x, y = rng.standard_normal(4), rng.standard_normal(6)
        assert_close(jitted(x), rosenbrock_grad(x), rtol=1e-13, atol=1e-13)
        assert_close(jitted(y), rosenbrock_grad(y), rtol=1e-13, atol=1e-13)
    assert jitted.recordings == 2


def test_static_arguments_are_part_of_the_signature() -> None:
    def f(x: Tensor, power: int, *, shift: float = 0.0) -> Tensor:
        return (x + shift) ** power

    jitted = tg.jit(f)
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(jitted(x, 2).data, x ** 2)
    np.testing.assert_array_equal(jitted(x, 3).data, x ** 3)
    assert jitted.recordings == 2
    np.testing.assert_array_equal(jitted(x + 1, 2).data, (x + 1) ** 2)
    assert jitted.recordings == 2
    np.testing.assert_array_equal(jitted(x, 2, shift=1.0).data, (x + 1) ** 2)
    np.testing.assert_array_equal(jitted(x, 2, shift=2.0).data, (x + 2) ** 2)
    assert jitted.recordings == 4


def test_equal_static_arguments_of_other_types_or_signs_are_other_signatures() -> None:
    """0.0 == -0.0 and 2 == 2.0 == True, as positional or keyword arguments and in tuples, yet f
    gives other results for them (zeros' signs, a branch on the type): each records its own."""
    def f(x: Tensor, scales: Any, *, rows: Any = 1) -> Tensor:
        for scale in scales if type(scales) is tuple else (scales,):
            x = x * scale
        return x.reshape(rows, -1) if type(rows) is int else x * 10

    jitted = tg.jit(f)
    x = np.array([1.0, 2.0])
    for scales, rows in [(0.0, 1), (-0.0, 1), (1.0, 1), (1, 1), (True, 1), ((0.0,), 1),
                         ((-0.0,), 1), (1.0, 2), (1.0, 2.0), (1.0, True)]:
        expected, result = f(Tensor(x), scales, rows=rows), jitted(x, scales, rows=rows)
        assert result.shape == expected.shape, (scales, rows)
        np.testing.assert_array_equal(result.data, expected.data)
        np.testing.assert_array_equal(np.signbit(result.data), np.signbit(expected.data))


def test_grad_mode_is_part_of_the_signature() -> None:
    jitted = tg.jit(lambda x: x * 3)
    x = np.ones(2)
    jitted(x)
    with tg.no_grad():
        np.testing.assert_array_equal(jitted(x + 1).data, [6.0, 6.0])
    assert jitted.recordings == 2
    gradient = tg.jit(tg.grad(rosenbrock))  # grad turns recording on for itself
    with tg.no_grad():
        y = np.array([0.2, -0.3, 0.9])
        assert_close(gradient(y), rosenbrock_grad(y), rtol=1e-13)
        assert_close(gradient(y + 1), rosenbrock_grad(y + 1), rtol=1e-13)
    assert gradient.recordings == 1


def test_second_call_with_identical_inputs_is_bitwise_identical() -> None:
    jitted = tg.jit(tg.value_and_grad(tanh_net_loss, argnums=(0, 1, 2, 3)))
    args = net_args(np.random.default_rng(9))
    first, second = jitted(*args), jitted(*args)
    assert jitted.recordings == 1
    assert values_of(first[0]).tobytes() == values_of(second[0]).tobytes()
    for a, b in zip(first[1], second[1]):
        assert a.data.tobytes() == b.data.tobytes()
    eager = tg.value_and_grad(tanh_net_loss, argnums=(0, 1, 2, 3))(*args)
    for a, b in zip(second[1], eager[1]):  # the same NumPy calls: bitwise equal to eager too
        assert a.data.tobytes() == b.data.tobytes()


def test_the_same_array_passed_twice_is_two_arguments() -> None:
    """An array given for both a and b is still two argument slots: later calls with two
    different arrays must not use b for a as well."""
    jitted = tg.jit(lambda a, b: a - 2 * b)
    x, y = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    np.testing.assert_array_equal(jitted(x, x).data, -x)
    np.testing.assert_array_equal(jitted(x, y).data, x - 2 * y)
    np.testing.assert_array_equal(jitted(y, x).data, y - 2 * x)
    assert jitted.recordings == 1


def test_an_argument_also_held_by_the_closure() -> None:
    """The closure's Tensor passed as the argument is recorded as two slots, an argument and a
    constant, so later calls with other arguments keep the closure's value (a constant array
    passed as the argument likewise)."""
    param = Tensor(np.array([1.0, 2.0]))
    constant = np.array([3.0, -1.0])
    jitted = tg.jit(lambda a: a * param + a * constant)
    np.testing.assert_array_equal(jitted(param).data, param.data ** 2 + param.data * constant)
    other = np.array([5.0, 7.0])
    np.testing.assert_array_equal(jitted(other).data, other * param.data + other * constant)
    np.testing.assert_array_equal(jitted(constant).data, constant * param.data + constant ** 2)
    assert jitted.recordings == 1


def test_a_function_of_no_arguments_reads_its_closure() -> None:
    param = Tensor(np.array([1.0, 2.0]))
    jitted = tg.jit(lambda: (param * param).sum())
    assert jitted().data == 5.0
    param.data = np.array([3.0, 4.0])
    assert jitted().data == 25.0
    assert jitted.recordings == 1


def test_python_numbers_are_static_arguments() -> None:
    """A Python float is static (as in jax.jit with static arguments): each value is its own
    signature, and each result is right."""
    jitted = tg.jit(tg.grad(lambda x: x ** 3))
    assert [jitted(v).data.item() for v in (1.0, 2.0, 1.0)] == [3.0, 12.0, 3.0]
    assert jitted.recordings == 2
    # a 0-d array is dynamic: one recording for all values
    dynamic = tg.jit(tg.grad(lambda x: x ** 3))
    assert [dynamic(np.array(v)).data.item() for v in (1.0, 2.0, 4.0)] == [3.0, 12.0, 48.0]
    assert dynamic.recordings == 1


# --- 4. safety --------------------------------------------------------------------------------
def reads_item(x: Tensor) -> Tensor:
    return x * x.sum().item()


def reads_float(x: Tensor) -> Tensor:
    return x * float(x.sum())


def branches_on_value(x: Tensor) -> Tensor:
    if x.sum() > 0:
        return x
    return -x


def reads_tolist(x: Tensor) -> Tensor:
    return x * len(x.tolist())


def reads_numpy(x: Tensor) -> Tensor:
    return x * x.numpy()


@pytest.mark.parametrize("f, what", [(reads_item, "item()"), (reads_float, "item()"),
                                     (branches_on_value, "bool()"), (reads_tolist, "tolist()"),
                                     (reads_numpy, "numpy()")])
def test_reading_values_while_recording_raises_naming_the_function(f: Callable,
                                                                   what: str) -> None:
    jitted = tg.jit(f)
    with pytest.raises(tg.JitError, match=rf"jit\({f.__name__}\).*{what}"):
        jitted(np.array([1.0, 2.0]))
    assert f(Tensor([1.0, 2.0])) is not None  # eagerly the same function works
    assert tg.autograd._tracer is None  # the failed recording left no tracer behind
    assert tg.jit(lambda x: x * 2)(np.ones(2)).data.tolist() == [2.0, 2.0]


def test_numpy_on_the_data_is_caught_by_the_perturbed_check() -> None:
    def numpy_on_data(x: Tensor) -> Tensor:
        return Tensor(np.sin(x.data)) * x

    jitted = tg.jit(numpy_on_data)
    for _ in range(2):  # nothing is kept from a failed recording
        with pytest.raises(tg.JitError, match=r"jit\(numpy_on_data\).*does not reproduce"):
            jitted(np.array([0.5, 1.0]))
    assert not jitted.programs


def test_a_number_returned_from_the_data_is_caught_by_the_perturbed_check() -> None:
    """A Python number in the result computed from .data was returned frozen at every call (the
    check compared the Tensors only); a constant one still replays."""
    for f in (lambda x: (x * 2, float(x.data.sum())), lambda x: {"total": x.data.sum()}):
        with pytest.raises(tg.JitError, match="does not reproduce"):
            tg.jit(f)(np.array([1.0, 2.0]))
    jitted = tg.jit(lambda x: (x * 2, x.shape[0] / 3, float("nan")))
    jitted(np.ones(3))
    result = jitted(np.zeros(3))
    assert result[1] == 1.0 and np.isnan(result[2]) and jitted.recordings == 1


def test_random_numbers_made_inside_are_caught_by_the_perturbed_check() -> None:
    with pytest.raises(tg.JitError, match="does not reproduce"):
        tg.jit(lambda x: x + tg.randn(2))(np.ones(2))


def test_an_error_inside_the_function_propagates_and_leaves_no_recording_behind() -> None:
    def mismatched(x: Tensor) -> Tensor:
        return x @ tg.ones((3, 3))

    jitted = tg.jit(mismatched)
    with pytest.raises(ValueError, match="matmul"):
        jitted(np.ones(2))
    assert tg.autograd._tracer is None and jitted.recordings == 0
    np.testing.assert_array_equal(jitted(np.ones(3)).data, [3.0, 3.0, 3.0])
    assert jitted.recordings == 1


def test_backward_inside_raises() -> None:
    def uses_backward(x: Tensor) -> Tensor:
        y = Tensor(x, requires_grad=True)
        (y * y).sum().backward()
        return y.grad

    with pytest.raises(tg.JitError, match=r"jit\(uses_backward\).*backward\(\)"):
        tg.jit(uses_backward)(np.ones(3))


def test_hooks_and_retain_grad_inside_raise() -> None:
    def with_retain_grad(x: Tensor) -> Tensor:
        def f(t: Tensor) -> Tensor:
            middle = t * 2
            middle.retain_grad()
            return middle.sum()
        return tg.grad(f)(x)

    with pytest.raises(tg.JitError, match=r"jit\(with_retain_grad\).*retain_grad"):
        tg.jit(with_retain_grad)(np.ones(3))


def test_results_must_be_tensors_or_constants() -> None:
    def returns_object(x: Tensor) -> tuple:
        return x, object()

    with pytest.raises(tg.JitError, match=r"jit\(returns_object\).*object"):
        tg.jit(returns_object)(np.ones(2))
    ok = tg.jit(lambda x: (x + 1, "label"))(np.ones(2))
    assert ok[1] == "label"


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="callable.*int"):
        tg.jit(3)

    def scaled(x: Tensor, options: Any) -> Tensor:
        return x * 2

    with pytest.raises(TypeError, match=r"jit\(scaled\): argument 1 of type dict"):
        tg.jit(scaled)(np.ones(2), {"a": 1})
    with pytest.raises(TypeError, match=r"jit\(scaled\): keyword arguments must be hashable"):
        tg.jit(scaled)(np.ones(2), 1, extra=[1])
    with pytest.raises(TypeError, match=r"jit\(scaled\): argument 0 has dtype <U1"):
        tg.jit(scaled)(np.array(["a", "b"]), 1)
    # a list of Tensors of two shapes: NumPy's ValueError naming neither jit nor the argument
    with pytest.raises(TypeError, match=r"jit\(scaled\): argument 0 has a list that is not a "
                       r"rectangular array.*separate arguments"):
        tg.jit(scaled)([Tensor(np.ones(3)), Tensor(np.ones(2))], 1)


# --- 5. Tensors read through a closure ----------------------------------------------------------
def test_closure_parameters_are_read_at_every_call() -> None:
    weight = Tensor(np.array([1.0, 2.0, 3.0]))
    loss_grad = tg.jit(tg.grad(lambda x: (tg.tanh(x * weight) ** 2).sum()))
    x = np.array([0.1, -0.2, 0.3])

    def expected() -> np.ndarray:
        t = np.tanh(x * weight.data)
        return 2 * t * (1 - t ** 2) * weight.data

    assert_close(loss_grad(x), expected(), rtol=1e-14)
    weight.data = np.array([-1.0, 0.5, 4.0])  # rebound, same shape
    assert_close(loss_grad(x), expected(), rtol=1e-14)
    weight.data[1] = 7.0  # changed in place
    assert_close(loss_grad(x), expected(), rtol=1e-14)
    assert loss_grad.recordings == 1
    weight.data = np.array([2.0])  # another shape (broadcast): recorded again
    assert_close(loss_grad(x), expected(), rtol=1e-14)
    assert loss_grad.recordings == 2
    weight.data = np.array([2.0], dtype=np.float32)  # another dtype: recorded again
    assert_close(loss_grad(x), expected(), rtol=1e-7)
    assert loss_grad.recordings == 3


def test_a_returned_closure_tensor_follows_its_data() -> None:
    """A Tensor f only returns (used in no operation) is read at every call, not frozen."""
    param = Tensor(np.ones(2))
    jitted = tg.jit(lambda x: (x * 2, param))
    jitted(np.ones(2))
    param.data = np.array([5.0, 6.0])
    np.testing.assert_array_equal(jitted(np.ones(2))[1].data, [5.0, 6.0])
    assert jitted.recordings == 1


_closure = Tensor(np.array([0.5, -1.0, 2.0]))
_READ_OUTSIDE_OPERATIONS: dict[str, Callable] = {
    # the closure's Tensor reaches f other than as an operation's operand: copied, detached,
    # compared, tested by a ufunc, sorted, as a condition, an index, a cotangent, a tangent, or
    # the point a transform differentiates at (it does not require grad)
    "Tensor()": lambda x: x * Tensor(_closure),
    "Parameter()": lambda x: x * tg.nn.Parameter(_closure),
    "detach": lambda x: x * _closure.detach(),
    "compared": lambda x: x * (_closure > 0),
    "inverted": lambda x: x * ~(_closure > 0),
    "ufunc test": lambda x: x * np.signbit(_closure),
    "sorted": lambda x: x * np.sort(_closure),
    "where": lambda x: tg.where(_closure > 0, x, -x),
    "index": lambda x: x[(_closure > 0).astype(np.int64)],
    "grad at": lambda x: tg.grad(lambda c: (c * c * x).sum())(_closure),
    "jvp at": lambda x: tg.jvp(lambda c: c * c * x, (_closure,), (x,))[1],
    "hessian at": lambda x: tg.hessian(lambda c: (c ** 3 * x).sum())(_closure),
    "jacfwd at": lambda x: tg.jacfwd(lambda c: c * c * x)(_closure),
    "vjp cotangent": lambda x: tg.vjp(lambda z: z * z, x)[1](_closure)[0],
    "hvp tangent": lambda x: tg.hvp(lambda z: (z ** 3).sum(), (x,), (_closure,)),
}


@pytest.mark.parametrize("name", _READ_OUTSIDE_OPERATIONS)
def test_a_closure_tensor_read_outside_operations_follows_its_data(name: str) -> None:
    """A Tensor f closes over is read at every call however f uses it: p.data = ... and
    p.data[...] = ... are seen (each way above replayed the first call's values)."""
    f = _READ_OUTSIDE_OPERATIONS[name]
    jitted = tg.jit(f)
    rng = np.random.default_rng(7)
    try:
        for change in range(3):
            x = rng.standard_normal(3)
            np.testing.assert_array_equal(jitted(x).data, f(Tensor(x)).data)
            if change == 0:
                _closure.data = np.array([-2.0, 3.0, -0.25])  # rebound
            else:
                _closure.data[...] = [1.5, -0.5, 0.75]  # in place
        assert jitted.recordings == 1
    finally:
        _closure.data = np.array([0.5, -1.0, 2.0])


def test_a_module_is_jitted_and_follows_its_parameters() -> None:
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.Tanh(), tg.nn.Linear(4, 1))
    jitted = tg.jit(model)
    x = np.random.default_rng(4).standard_normal((5, 3))
    assert_same(jitted(x), model(Tensor(x)))
    for p in model.parameters():  # an optimizer step, in place and rebound
        p.data = p.data * 0.5 + 0.1
    assert_same(jitted(x), model(Tensor(x)))
    assert jitted.recordings == 1 and not jitted(x).requires_grad


def test_the_functions_attributes_do_not_shadow_the_wrappers() -> None:
    """f's own attributes (copied by update_wrapper) must not replace the wrapper's."""
    def doubled(t: Tensor) -> Tensor:
        """Twice t."""
        return t * 2

    doubled.programs = "not a dict"
    doubled.recordings = -1
    jitted = tg.jit(doubled)
    np.testing.assert_array_equal(jitted(np.ones(2)).data, [2.0, 2.0])
    assert jitted.recordings == 1
    assert jitted.__name__ == "doubled" and jitted.__doc__ == "Twice t."


def test_a_namedtuple_result_keeps_its_type() -> None:
    from collections import namedtuple
    pair = namedtuple("pair", "twice plus_one")
    jitted = tg.jit(lambda t: pair(t * 2, t + 1))
    got = jitted(np.array([1.0, 3.0]))
    assert type(got) is pair
    np.testing.assert_array_equal(got.twice.data, [2.0, 6.0])
    np.testing.assert_array_equal(got.plus_one.data, [2.0, 4.0])


# --- 6. results own their arrays ----------------------------------------------------------------
def test_identity_returns_a_copy() -> None:
    x = np.array([1.0, 2.0])
    got = tg.jit(lambda t: t)(x)
    np.testing.assert_array_equal(got.data, x)
    assert not np.shares_memory(got.data, x)


def test_mutating_a_result_changes_neither_inputs_nor_later_results() -> None:
    """Results are never views of the caller's arrays (a reshape of the input) nor a closure
    Tensor's data as is: writing into one changes nothing else."""
    param = Tensor(np.array([1.0, 2.0, 3.0]))
    x = np.arange(6.0)

    def f(t: Tensor) -> tuple:
        doubled = t * 2
        return (t.reshape(2, 3), doubled, doubled, t[1:], param * 1.0, param, tg.ones(2),
                doubled.reshape(3, 2))

    jitted = tg.jit(f)
    first = jitted(x)
    arrays = [r.data for r in first]
    for i, a in enumerate(arrays):  # no result shares memory with the input, param or another
        assert not np.shares_memory(a, x), f"result {i} aliases the input"
        assert not np.shares_memory(a, param.data), f"result {i} aliases the parameter"
        for j in range(i):
            assert not np.shares_memory(a, arrays[j]), f"results {j} and {i} share memory"
    for a in arrays:
        a[...] = -99.0
    np.testing.assert_array_equal(x, np.arange(6.0))
    np.testing.assert_array_equal(param.data, [1.0, 2.0, 3.0])
    assert_same(jitted(x), f(Tensor(np.arange(6.0))))


# --- 7. eager fallbacks -----------------------------------------------------------------------
def test_an_argument_requiring_grad_runs_eagerly_and_is_differentiable() -> None:
    jitted = tg.jit(lambda t: (t ** 3).sum())
    x = Tensor([1.0, -2.0], requires_grad=True)
    out = jitted(x)
    assert out.requires_grad and jitted.recordings == 0
    out.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 12.0])
    with tg.no_grad():  # without recording, the same Tensor is a plain input
        assert not jitted(x).requires_grad
    assert jitted.recordings == 1


def test_detect_anomaly_runs_eagerly() -> None:
    jitted = tg.jit(tg.grad(rosenbrock))
    x = np.array([0.5, 1.5, -0.5])
    with tg.detect_anomaly():
        got = jitted(x)
    assert jitted.recordings == 0
    assert_close(got, rosenbrock_grad(x), rtol=1e-13)


def test_a_jitted_function_inside_grad_runs_eagerly() -> None:
    inner = tg.jit(lambda t: tg.sin(t) * t)
    outer = tg.jit(tg.grad(lambda t: inner(t).sum()))
    x = np.array([0.3, 1.2])
    assert_close(outer(x), np.cos(x) * x + np.sin(x), rtol=1e-14)
    assert outer.recordings == 1 and inner.recordings == 0


# --- 8. threads -------------------------------------------------------------------------------
def test_another_threads_operations_are_not_recorded() -> None:
    """While thread A is inside its recording, thread B computes eagerly and calls a jitted
    function of its own for the first time (without a JitError); A's program must hold only
    A's operations."""
    started, proceed = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def slow(x: Tensor) -> Tensor:
        y = tg.exp(x) * 2
        if not started.is_set():  # only during the recording
            started.set()
            assert proceed.wait(10)
        return y.sum()

    def quiet(x: Tensor) -> Tensor:
        return tg.exp(x) * 2  # same operations as slow's, minus the sum

    reference = tg.jit(quiet)
    reference(np.ones(3))
    jitted = tg.jit(slow)
    results: dict[str, Any] = {}

    def run_a() -> None:
        try:
            results["a"] = jitted(np.ones(3))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    def run_b() -> None:
        try:
            assert started.wait(10)
            for _ in range(5):
                (Tensor(np.ones(4)) * 3 + 1).sum()
                tg.grad(rosenbrock)(np.ones(4))
            proceed.set()
            results["b"] = tg.jit(lambda t: t - 1)(np.ones(2))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
            proceed.set()

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not failures, failures
    assert_close(results["a"], 6 * np.e, rtol=1e-14)
    np.testing.assert_array_equal(results["b"].data, [0.0, 0.0])
    (program,) = jitted.programs.values()
    (reference_program,) = reference.programs.values()
    assert len(program.steps) == len(reference_program.steps) + 1  # + the sum, nothing of B's
    assert_close(jitted(np.zeros(3)), 6.0, rtol=1e-15)


# --- 9. nested jit ----------------------------------------------------------------------------
def test_jit_inside_a_recording_raises() -> None:
    inner = tg.jit(lambda t: t * 2)

    def outer_fn(x: Tensor) -> Tensor:
        return inner(x) + 1

    with pytest.raises(tg.JitError, match=r"jit\(<lambda>\).*jit\(outer_fn\).*outermost"):
        tg.jit(outer_fn)(np.ones(2))
    inner(np.ones(2))  # inner now has a program: replaying it unseen must raise all the same
    assert inner.recordings == 1
    with pytest.raises(tg.JitError, match="outermost"):
        tg.jit(outer_fn)(np.ones(2))
    assert tg.autograd._tracer is None


def test_a_changing_python_number_records_again_and_warns_once_it_adds_up() -> None:
    jitted = tg.jit(lambda x, scale: (x * scale).sum())
    x = np.arange(3.0)
    for k in range(15):
        assert_close(jitted(x, float(k)), 3.0 * k, rtol=0)
    with pytest.warns(RuntimeWarning, match="recorded 16 times"):
        assert_close(jitted(x, 15.0), 45.0, rtol=0)
    assert jitted.recordings == 16
    jitted(x, 3.0)  # a known signature: replayed, no new recording
    assert jitted.recordings == 16


def test_a_tensor_keyword_argument_is_refused() -> None:
    jitted = tg.jit(lambda x, w=None: (x * w).sum())
    with pytest.raises(TypeError, match="keyword argument 'w' is a Tensor"):
        jitted(np.ones(2), w=Tensor([1.0, 2.0]))


@pytest.mark.parametrize("f", [
    lambda x, y: (x * y).sum() + (x + x).sum(),
    lambda x, y: (x + x).sum() + (x * y).sum(),
    lambda x, y: ((x + x + x) * 1.0).sum() + (x * y).sum(),
    lambda x, y: (x * y).sum() + ((x + x + x) * 1.0).sum(),
], ids=["mixed-first", "constants-first", "three-constants-first", "three-constants-last"])
def test_gradients_that_are_partly_constant_replay(f) -> None:
    """The engine adds contributions in place into buffers it allocated; one made of constant
    contributions is folded into a constant of the program, which a later, varying contribution
    must not be added into (every replay would add it again)."""
    check_replays(tg.grad(f, argnums=(0, 1)),
                  lambda rng: (rng.standard_normal(3), rng.standard_normal(3)), calls=4)


def test_a_shape_that_depends_on_the_values_is_named_when_a_replay_fails() -> None:
    """x[x > 0] selects as many values as are positive: a replay recorded for three cannot run
    on four, and says why (not NumPy's broadcast error); the same count replays."""
    f = tg.grad(lambda x: (x[x > 0].sin() * 2.0).sum())
    jitted = tg.jit(f)
    jitted(np.array([1.0, -2.0, 3.0, 4.0]))
    x = np.array([-1.0, 2.0, 3.0, 4.0])  # three positive, elsewhere: replays
    np.testing.assert_array_equal(jitted(x).data, f(x).data)
    with pytest.raises(tg.JitError, match="x > 0"):
        jitted(np.array([1.0, 2.0, 3.0, 4.0]))


# --- 9. finding the program: the last one replayed is checked first -------------------------
def gaussian_chi2(mu: Tensor, sig: Tensor) -> Tensor:
    x = Tensor(np.linspace(150.0, 190.0, 9))
    return ((0.02 - tg.exp(-((x - mu) ** 2) / (2 * sig ** 2)) / sig) ** 2).sum()


def test_number_arguments_replay_bitwise_as_eager() -> None:
    """0-d arguments (each replayed as a NumPy scalar) and the NumPy scalars that arithmetic on
    them gives back run the program recorded for 0-d arrays, bit for bit as eagerly."""
    f = tg.value_and_grad(gaussian_chi2, argnums=(0, 1))
    jitted = tg.jit(f)
    for mu, sig in ((165.0, 6.0), (171.5, 4.25), (160.0, 9.0)):
        for args in ((np.array(mu), np.array(sig)), (np.float64(mu), np.float64(sig)),
                     (np.array(mu), np.float64(sig))):
            value, grads = jitted(*args)
            want_value, want_grads = f(np.array(mu), np.array(sig))
            for got, want in zip((value, *grads), (want_value, *want_grads)):
                assert type(got.data) is np.ndarray and got.shape == ()
                assert got.data.tobytes() == want.data.tobytes()
    assert jitted.recordings == 1


@pytest.mark.parametrize("f", [
    lambda s: (s * Tensor(np.arange(4.0)) + s ** 2).sum(),
    lambda s: s * 3.0,
    lambda s: s,
], ids=["used-twice", "scalar-result", "identity"])
def test_a_single_number_argument_replays_as_eager(f: Callable) -> None:
    jitted = tg.jit(tg.value_and_grad(f))
    for s in (0.5, -2.0, 3.0):
        arg = np.array(s)
        value, grad = jitted(arg)
        want_value, want_grad = tg.value_and_grad(f)(np.array(s))
        assert value.data.tobytes() == want_value.data.tobytes()
        assert grad.data.tobytes() == want_grad.data.tobytes()
        assert type(value.data) is np.ndarray and value.data is not arg and arg == s
    assert jitted.recordings == 1


def test_a_change_of_memory_order_or_dtype_between_calls_finds_its_own_program() -> None:
    jitted = tg.jit(tg.grad(lambda m: (m.T @ m).sum()))
    c_order = np.arange(6.0).reshape(2, 3) / 7
    f_order = np.asfortranarray(c_order + 1)
    big_endian = (c_order + 2).astype(">f8")
    single = (c_order + 3).astype(np.float32)
    for _ in range(2):
        for m in (c_order, f_order, big_endian, single, c_order):
            want = tg.grad(lambda t: (t.T @ t).sum())(m)
            got = jitted(m)
            assert got.dtype == want.dtype and np.array_equal(got.data, want.data)
    # A byte-swapped float64 is converted to float64 in native order, as Tensor() does: it
    # replays C order's program.
    assert jitted.recordings == 3


@pytest.mark.parametrize("swapped", [">f8", ">f4"] if np.little_endian else ["<f8", "<f4"])
def test_a_byte_swapped_argument_computes_in_native_order_as_eagerly(swapped: str) -> None:
    x = np.arange(5.0).astype(swapped)
    for f in (lambda t: t[1:], lambda t: t * 2.0, lambda t: t.reshape(5, 1)):
        want = f(Tensor(x))
        got = tg.jit(f)(x)
        assert want.dtype == got.dtype == np.dtype(swapped).newbyteorder("=")
        assert want.data.dtype.isnative and got.data.dtype.isnative
        np.testing.assert_array_equal(got.data, want.data)


def replays_bitwise(f: Callable, *arg_sets: tuple) -> None:
    """f's jit replays equal its eager results bit for bit (values, dtypes, ndarray data)."""
    jitted = tg.jit(f)
    for args in arg_sets:
        want = f(*[Tensor(a) for a in args])
        got = jitted(*args)
        want, got = (want if isinstance(want, tuple) else (want,)), (
            got if isinstance(got, tuple) else (got,))
        for w, g in zip(want, got):
            assert type(g.data) is np.ndarray and g.dtype == w.dtype
            assert g.data.tobytes() == w.data.tobytes(), (args, g.data, w.data)
    assert jitted.recordings == 1


@pytest.mark.parametrize("exponent", [0.5, -0.5, 1.5, 3.0, 4.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_powers_of_a_number_replay_bitwise(exponent: float, dtype: type) -> None:
    """A 0-d value raised to a power takes NumPy's array path in the replay as eagerly (a NumPy
    scalar's own ** is C's pow, which differs in the last bit, and for -0.0 and -inf)."""
    values = [np.array(v, dtype) for v in (0.7, 0.3, 2.5, -0.0) if v or exponent > 0]
    replays_bitwise(tg.grad(lambda x: x ** exponent), *[(v,) for v in values])
    replays_bitwise(tg.grad(lambda x: (tg.abs(x) + 0.5) ** exponent), *[(v,) for v in values])
    replays_bitwise(tg.hessian(lambda x: x ** exponent), *[(v,) for v in values[:3]])


def test_a_number_exponent_of_zero_has_slope_zero_in_the_replay() -> None:
    g = tg.grad(lambda x, s: (x ** s).sum())
    x, s = np.array([-2.0, np.inf], np.float32), np.array(0.0, np.float32)
    np.testing.assert_array_equal(tg.jit(g)(x, s).data, [0.0, 0.0])
    replays_bitwise(g, (x, s), (x + 1, s))


@pytest.mark.parametrize("f", [
    lambda s: s[None][0] + s[None][0] + s * s,
    lambda s: s * s + s[None][0],
    lambda s: s * s + s * 3.0 + s[...],
], ids=["two-slices-first", "product-first", "ellipsis-last"])
def test_indexed_gradients_add_into_a_number_gradient(f: Callable) -> None:
    """A slice's gradient added to a 0-d gradient that a rule gave as a NumPy scalar, eagerly
    and in the replay (a NumPy scalar cannot be added into in place)."""
    t = Tensor(np.array(1.5), requires_grad=True)
    f(t).backward()
    assert type(t.grad.data) is np.ndarray
    np.testing.assert_allclose(t.grad.data, fd_grad(f, 1.5), rtol=1e-6)
    replays_bitwise(tg.grad(f), (np.array(1.5),), (np.array(-2.0),))


def fd_grad(f: Callable, x: float, h: float = 1e-6) -> float:
    return (f(Tensor(np.array(x + h))).item() - f(Tensor(np.array(x - h))).item()) / (2 * h)


@pytest.mark.parametrize("f, dtype", [
    (lambda x, h: x * h.data, np.float64),
    (lambda x, h: x * (x > 2).data + h, np.float32),
], ids=["half-argument", "bool-mask-operand"])
def test_arrays_a_primitive_converts_replay_converted_as_eagerly(f: Callable, dtype) -> None:
    """A bool array read from .data, which a primitive converts (to float32 beside a float32
    Tensor), is converted the same way in the replay (float64 there would be a false
    JitError); a half-precision argument is float64, as Tensor() makes it."""
    jitted = tg.jit(f)
    for s in (0.0, 1.0, 2.5):
        x = np.arange(1.0, 5.0, dtype=np.float32) + s
        h = np.full(4, 1.5 + s, np.float16 if dtype == np.float64 else np.float32)
        want = f(Tensor(x), Tensor(h))
        got = jitted(x, h)
        assert got.dtype == want.dtype == dtype
        assert got.data.tobytes() == want.data.tobytes()


def test_gradients_at_repeated_positions_onto_a_constant_add_in_eagers_order() -> None:
    """x[[0, 0]] taken twice: the second's gradient (constant ones) is the running total the
    first's values are added onto, in place eagerly; the replay adds onto a copy of it in the
    same order (the total added onto the values would be one ulp off)."""
    def f(x: Tensor) -> Tensor:
        return tg.exp(x[np.array([0, 0])]).sum() + x[np.array([0, 0])].sum()
    g = tg.grad(f)
    jitted = tg.jit(g)
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.standard_normal(3)
        assert jitted(x).data.tobytes() == g(x).data.tobytes()


@pytest.mark.parametrize("kind", [np.float16, np.longdouble])
def test_arguments_of_other_float_dtypes_are_float64_as_tensor_makes_them(kind) -> None:
    jitted = tg.jit(lambda x: x * 2)
    for _ in range(2):
        got = jitted(np.full(3, 1.5, kind))
        assert got.dtype == Tensor(np.full(3, 1.5, kind)).dtype == np.float64
        np.testing.assert_array_equal(got.data, [3.0, 3.0, 3.0])


@pytest.mark.parametrize("f", [
    lambda x, s: x * s.data,
    lambda x, s: x * (s * 2.0).sum().data,
], ids=["number-argument", "number-result"])
def test_a_number_read_from_data_beside_float32_replays_as_eagerly(f: Callable) -> None:
    """A 0-d float64 value read from .data is converted to float32 beside a float32 Tensor; the
    replay, where it is a NumPy scalar, converts it the same way."""
    jitted = tg.jit(f)
    for v in (0.5, -1.25, 3.0):
        x, s = np.arange(3, dtype=np.float32) + v, np.array(v)
        want, got = f(Tensor(x), Tensor(s)), jitted(x, s)
        assert got.dtype == want.dtype == np.float32
        assert got.data.tobytes() == want.data.tobytes()


def _doubled(x: np.ndarray) -> np.ndarray:
    y = x.copy()  # written for arrays: a NumPy scalar cannot be written into
    y[...] = 2 * x
    return y


_DOUBLED = tg.primitive("doubled", _doubled, lambda g, out, x: 2 * g,
                        jvps=(lambda t, out, x: 2 * t,))


@pytest.mark.parametrize("f, make_arg", [
    (lambda s: _DOUBLED(s) * 3.0, np.array),
    (lambda v: _DOUBLED(v.sum()) * 3.0, lambda v: np.full(3, v)),
], ids=["number-argument", "number-intermediate"])
def test_a_users_operation_on_numbers_replays_with_0d_arrays_as_eagerly(f: Callable,
                                                                        make_arg) -> None:
    """Eagerly a tg.primitive's forward gets 0-d arrays; the replay, where 0-d values are NumPy
    scalars, hands it 0-d arrays too (a forward that assigns items fails on a scalar)."""
    transforms = [lambda x, t: tg.value_and_grad(f)(x), lambda x, t: tg.jvp(f, (x,), (t,))]
    for transform in transforms:
        jitted = tg.jit(transform)
        for v in (1.5, -2.0, 4.0):
            x = make_arg(v)
            got, want = jitted(x, np.ones_like(x)), transform(x, np.ones_like(x))
            for g, w in zip(got, want):
                assert g.data.tobytes() == w.data.tobytes()


@pytest.mark.parametrize("f, n", [
    (lambda x: tg.Tensor(x[::-1]) @ tg.Tensor(x[::-1]), 12),
    (lambda x: tg.Tensor(x[::2]).sum(), 13),
    (lambda x: tg.grad(lambda t: (t * t.sum()).sum())(tg.broadcast_to(x, (3, 3))), 3),
], ids=["reversed", "strided", "broadcast"])
def test_a_copy_of_a_view_replays_in_the_copys_layout(f: Callable, n: int) -> None:
    """Tensor(view) and tg.grad's copy of its input are C-ordered copies eagerly; the replay
    reads them as such, not as the view (a sum or matmul adds in another order on it: one ulp
    off, or a false JitError)."""
    jitted = tg.jit(f)
    for seed in range(12):
        x = np.random.default_rng(seed).standard_normal(n)
        assert jitted(x).data.tobytes() == f(Tensor(x)).data.tobytes()


def test_tg_grads_copy_of_a_reversed_argument_replays_in_the_copys_layout() -> None:
    """An argument not in C order is recorded on a C-ordered copy, where tg.grad's copy of it
    has the layout of its source: the replay took the argument itself for that copy, and with
    a reversed view summed in another order than eagerly (one ulp off)."""
    f = tg.grad(lambda x: (x * x).sum() * x.sum())
    jitted = tg.jit(f)
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal((300, 200))
        for arg in (x[::-1], np.asfortranarray(x), x[:, ::-1]):
            want = f(Tensor(arg))
            assert jitted(arg).data.tobytes() == want.data.tobytes()
    assert jitted.recordings == 1


def test_numpy_functions_that_read_only_a_shape_replay():
    jitted = tg.jit(lambda x: x * np.ones_like(x) + np.full_like(x, 2.0) + np.zeros_like(x))
    for x in (np.array([1.0, 2.0]), np.array([5.0, -1.0])):
        np.testing.assert_array_equal(jitted(x).data, x + 2.0)
    assert jitted.recordings == 1
    with pytest.raises(tg.JitError, match="np.full_like reads a Tensor's values"):
        tg.jit(lambda x: np.full_like(x, x[0]) * x)(np.array([1.0, 2.0]))


@pytest.mark.parametrize("f", [
    lambda x: (abs(x) + 0.1) ** x,
    lambda x: 2.0 ** x,
    lambda x: np.float_power(abs(x) + 0.1, x),
], ids=["tensor-base", "number-base", "float_power"])
def test_a_jitted_jvp_through_a_power_in_its_exponent_is_bitwise_eager(f: Callable) -> None:
    """The slope in the exponent, t x^y log x, was grouped (t x^y) log x on arrays (eager jvp)
    and t (x^y log x) on Tensors (tg.jit records the rules as operations): one ulp apart."""
    jitted = tg.jit(lambda x, v: tg.jvp(f, (x,), (v,)))
    rng = np.random.default_rng(1)
    for _ in range(4):
        x, v = rng.normal(size=16), rng.normal(size=16)
        for got, want in zip(jitted(x, v), tg.jvp(f, (Tensor(x),), (Tensor(v),))):
            assert got.data.tobytes() == want.data.tobytes()


@pytest.mark.parametrize("f", [
    lambda x: (np.trace(x.reshape(3, 3), 1) * x).sum(),
    lambda x: (np.trace(x.reshape(1, 3, 3), axis1=2, axis2=1) * x).sum(),
    lambda x: (np.linalg.slogdet(x.reshape(3, 3))[1] * x).sum(),
    lambda x: (np.einsum("ii->i", x.reshape(3, 3)) ** 2).sum(),
    lambda x: (np.einsum("ij->", x.reshape(3, 3)) * x).sum(),
], ids=["trace", "trace-3d", "slogdet", "einsum-diagonal", "einsum-sum"])
def test_rules_with_constants_of_their_own_replay_second_derivatives_and_tangents(f) -> None:
    """These rules multiply by an identity or ones made with NumPy; on Tensors (a Hessian, a
    recorded jvp) tg.jit must take that array for a constant, not for a mask read from the
    data."""
    hessian = tg.jit(tg.hessian(f))
    hvp = tg.jit(lambda x, v: tg.hvp(f, (x,), (v,)))
    jvp = tg.jit(lambda x, v: tg.jvp(f, (x,), (v,)))
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, v = rng.normal(size=9), rng.normal(size=9)
        pairs = [(hessian(x), tg.hessian(f)(x)), (hvp(x, v), tg.hvp(f, (x,), (v,))),
                 *zip(jvp(x, v), tg.jvp(f, (x,), (v,)))]
        for got, want in pairs:
            assert got.data.tobytes() == want.data.tobytes()
    assert hessian.recordings == hvp.recordings == jvp.recordings == 1


@pytest.mark.parametrize("ord", [1, 3, 0.5])
def test_a_jitted_jvp_of_a_float32_norm_sums_in_float32_as_eagerly(ord: float) -> None:
    """On Tensors the norm's slope takes its signs in x's dtype: signs from comparisons would be
    float64, the recorded tangent summed in float64, not eager's float32 bits, and the check on
    perturbed inputs would refuse the function."""
    def f(x: Tensor) -> Tensor:
        return np.linalg.norm(x.reshape(3, 3), ord=ord, axis=1)
    jitted = tg.jit(lambda x, v: tg.jvp(f, (x,), (v,)))
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, v = rng.normal(size=(2, 9)).astype(np.float32)
        for got, want in zip(jitted(x, v), tg.jvp(f, (Tensor(x),), (Tensor(v),))):
            assert got.dtype == np.float32
            assert got.data.tobytes() == want.data.tobytes()
