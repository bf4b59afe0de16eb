"""The binary ufuncs (float_power, arctan2, hypot, fmax, fmin, logaddexp, logaddexp2, copysign,
mod, fmod) and the rounding ufuncs (sign, floor, ceil, trunc, rint): values against NumPy,
gradients against hand-derived formulas and PyTorch, gradcheck in both modes, second
derivatives, broadcasting, operands in either place, float32, conventions at edges, errors."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, unbroadcast

SX, SY = (2, 3), (3,)  # the operands' shapes: y broadcasts against x


def _away_from_zero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def _normal_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.standard_normal(SX), rng.standard_normal(SY)


def _positive_base(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.5, 2.0, SX), rng.standard_normal(SY)


def _distinct(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    values = rng.permutation(9) * 0.3 - 1.2  # no ties
    return values[:6].reshape(SX), values[6:]


def _signed(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return _away_from_zero(rng, SX), _away_from_zero(rng, SY)


def _quotient_off_integers(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = _away_from_zero(rng, SY)
    return (rng.integers(-3, 3, SX) + rng.uniform(0.2, 0.8, SX)) * y, y


# name -> (NumPy ufunc, PyTorch name, inputs, d out/dx, d out/dy as NumPy formulas in x, y, out)
BINARY: dict[str, tuple] = {
    "float_power": (np.float_power, "float_power", _positive_base,
                    lambda x, y, o: y * x ** (y - 1), lambda x, y, o: o * np.log(x)),
    "arctan2": (np.arctan2, "atan2", _normal_pair,
                lambda y, x, o: x / (x * x + y * y), lambda y, x, o: -y / (x * x + y * y)),
    "hypot": (np.hypot, "hypot", _normal_pair, lambda x, y, o: x / o, lambda x, y, o: y / o),
    "fmax": (np.fmax, "fmax", _distinct,
             lambda x, y, o: (x > y) * 1.0, lambda x, y, o: (y > x) * 1.0),
    "fmin": (np.fmin, "fmin", _distinct,
             lambda x, y, o: (x < y) * 1.0, lambda x, y, o: (y < x) * 1.0),
    "logaddexp": (np.logaddexp, "logaddexp", _normal_pair,
                  lambda x, y, o: np.exp(x) / (np.exp(x) + np.exp(y)),
                  lambda x, y, o: np.exp(y) / (np.exp(x) + np.exp(y))),
    "logaddexp2": (np.logaddexp2, "logaddexp2", _normal_pair,
                   lambda x, y, o: 2.0 ** x / (2.0 ** x + 2.0 ** y),
                   lambda x, y, o: 2.0 ** y / (2.0 ** x + 2.0 ** y)),
    "copysign": (np.copysign, "copysign", _signed,
                 lambda x, y, o: np.sign(x) * np.sign(y), lambda x, y, o: 0.0 * x * y),
    "mod": (np.mod, "remainder", _quotient_off_integers,
            lambda x, y, o: 1.0 + 0 * y, lambda x, y, o: -np.floor(x / y)),
    "fmod": (np.fmod, "fmod", _quotient_off_integers,
             lambda x, y, o: 1.0 + 0 * y, lambda x, y, o: -np.trunc(x / y)),
}
NAMES = list(BINARY)


def _inputs(name: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return BINARY[name][2](rng)


def _tg(name: str) -> Callable[..., Tensor]:
    return getattr(tg, name)


# --- values -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_binary_value_matches_numpy_via_tg_and_np(name, rng):
    ufunc = BINARY[name][0]
    x, y = _inputs(name, rng)
    want = ufunc(x, y)
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    got = _tg(name)(tx, ty)
    assert got.shape == want.shape and got.dtype == np.float64
    assert_close(got, want, rtol=1e-12, atol=0)
    via_numpy = ufunc(tx, ty)
    assert isinstance(via_numpy, Tensor) and via_numpy.requires_grad
    assert_close(via_numpy, want, rtol=1e-12, atol=0)
    assert not ufunc(Tensor(x), y).requires_grad


@pytest.mark.parametrize("name", NAMES)
def test_binary_operands_in_either_place(name, rng):
    """Tensors, arrays, Python numbers and lists in either place, broadcast as NumPy does; the
    gradient reaches the Tensor whatever the other operand is."""
    ufunc, _, _, dx, dy = BINARY[name]
    x, y = _inputs(name, rng)
    number = float(y[0])
    for a, b, tensor_first in [(x, number, True), (number, x, False), (x, y.tolist(), True)]:
        t = Tensor(a if tensor_first else b, requires_grad=True)
        out = _tg(name)(t, b) if tensor_first else _tg(name)(a, t)
        want = ufunc(np.asarray(a), np.asarray(b))
        assert_close(out, want, rtol=1e-12, atol=0)
        out.sum().backward()
        xa, ya = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        local = (dx if tensor_first else dy)(xa, ya, want)
        assert_close(t.grad, unbroadcast(np.broadcast_to(local, want.shape), t.shape),
                     rtol=1e-10, atol=1e-12)
    zero_d = _tg(name)(Tensor(np.array(x[0, 0])), np.array(y[0]))
    assert type(zero_d.data) is np.ndarray and zero_d.shape == ()


# --- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_binary_reverse_gradient_matches_hand_formula(name, rng):
    ufunc, _, _, dx, dy = BINARY[name]
    x, y = _inputs(name, rng)
    w = rng.standard_normal(SX)
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    _tg(name)(tx, ty).backward(w)
    out = ufunc(x, y)
    xb, yb = np.broadcast_arrays(x, y)
    assert_close(tx.grad, w * dx(xb, yb, out), rtol=1e-10, atol=1e-12)
    assert_close(ty.grad, unbroadcast(w * dy(xb, yb, out), SY), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_binary_forward_tangent_matches_hand_formula(name, rng):
    ufunc, _, _, dx, dy = BINARY[name]
    x, y = _inputs(name, rng)
    vx, vy = rng.standard_normal(SX), rng.standard_normal(SY)
    out, tangent = tg.jvp(_tg(name), (x, y), (vx, vy))
    xb, yb = np.broadcast_arrays(x, y)
    want = ufunc(x, y)
    assert_close(out, want, rtol=1e-12, atol=0)
    assert_close(tangent, dx(xb, yb, want) * vx + dy(xb, yb, want) * vy, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_binary_gradcheck_both_modes_and_second_derivatives(name, rng):
    x, y = _inputs(name, rng)
    inputs = (Tensor(x, requires_grad=True), Tensor(y, requires_grad=True))
    f = _tg(name)
    assert tg.gradcheck(f, inputs)
    assert tg.gradcheck(f, inputs, mode="fwd")
    assert tg.gradgradcheck(f, inputs)


@pytest.mark.parametrize("name", NAMES)
def test_binary_gradient_matches_torch(name, rng):
    torch = pytest.importorskip("torch")
    ufunc, torch_name, *_ = BINARY[name]
    x, y = _inputs(name, rng)
    w = rng.standard_normal(SX)
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    _tg(name)(tx, ty).backward(w)
    px, py = (torch.tensor(a, requires_grad=True) for a in (x, y))
    getattr(torch, torch_name)(px, py).backward(torch.tensor(w))
    assert_close(tx.grad, px.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(ty.grad, py.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_binary_float32_stays_float32(name, rng):
    x, y = (a.astype(np.float32) for a in _inputs(name, rng))
    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    out = _tg(name)(tx, ty)
    # float_power computes in float64, as np.float_power (and torch.float_power) do
    want_dtype = np.float64 if name == "float_power" else np.float32
    assert out.dtype == want_dtype == BINARY[name][0](x, y).dtype
    assert _tg(name)(tx, 2.0).dtype == want_dtype
    out.sum().backward()
    assert tx.grad.dtype == ty.grad.dtype == np.float32
    xb, yb = np.broadcast_arrays(x.astype(np.float64), y.astype(np.float64))
    want = BINARY[name][3](xb, yb, BINARY[name][0](xb, yb))
    assert_close(tx.grad, want, rtol=1e-5, atol=1e-6)


def test_float_power_of_float32_differentiates_in_float64():
    x = Tensor(np.array([1.1, 2.3], dtype=np.float32))
    _, tangent = tg.jvp(lambda a: tg.float_power(a, 3.3), (x,), (np.ones(2, np.float32),))
    assert tangent.dtype == np.float64
    x64 = x.data.astype(np.float64)
    assert_close(tangent, 3.3 * x64 ** 2.3, rtol=1e-12, atol=0)


# --- conventions at edges, as PyTorch -----------------------------------------------------------
nan, inf = np.nan, np.inf
EDGES = [
    # ties go to x entirely; a NaN operand gives the gradient to the other one; two NaNs: to x
    ("fmax", [1.0, 2.0, nan, nan, 3.0, 0.0, -0.0], [1.0, nan, 2.0, nan, 1.0, -0.0, 0.0]),
    ("fmin", [1.0, 2.0, nan, nan, 3.0, 0.0, -0.0], [1.0, nan, 2.0, nan, 1.0, -0.0, 0.0]),
    ("hypot", [0.0, 3.0, -0.0, 1e-300], [0.0, 4.0, 0.0, 0.0]),  # NaN at the origin
    ("arctan2", [0.0, 1.0, -0.0, 0.0, 1e-200], [0.0, 0.0, 0.0, -0.0, 1e-200]),  # 0 at origin
    ("copysign", [0.0, -0.0, 2.0, -2.0, 2.0, 0.0, inf], [1.0, 1.0, -1.0, -0.0, 0.0, -1.0, 1.0]),
    ("logaddexp", [1000.0, -1000.0, -inf, 3.0, inf], [-1000.0, 1000.0, -inf, 3.0, 1.0]),
    ("logaddexp2", [1000.0, -1000.0, -inf, 3.0, inf], [-1000.0, 1000.0, -inf, 3.0, 1.0]),
    # Python's and C's sign conventions; 1 // 0.1 is 9 (remainder) but trunc(1 / 0.1) is 10
    ("mod", [5.5, -5.5, 5.5, -5.5, 3.0, 1.0, -1.0, 0.0], [2.0, 2.0, -2.0, -2.0, 0.0, 0.1, 0.1,
                                                          -2.0]),
    ("fmod", [5.5, -5.5, 5.5, -5.5, 3.0, 1.0, -1.0, 0.0], [2.0, 2.0, -2.0, -2.0, 0.0, 0.1, 0.1,
                                                           -2.0]),
    ("float_power", [0.0, 0.0, 0.0, 2.0, -2.0, 0.0], [0.0, 2.0, 0.5, 0.5, 2.0, 1.0]),
]


@pytest.mark.parametrize("name, x, y", EDGES, ids=[e[0] for e in EDGES])
def test_binary_edges_match_torch(name, x, y):
    torch = pytest.importorskip("torch")
    ufunc, torch_name, *_ = BINARY[name]
    x, y = np.array(x), np.array(y)
    with np.errstate(all="ignore"):  # NumPy's own warnings at these points
        tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
        out = _tg(name)(tx, ty)
        out.sum().backward()
        want = ufunc(x, y)
        _, tangent = tg.jvp(lambda a: _tg(name)(a, y), (x,), (np.ones_like(x),))
    px, py = (torch.tensor(a, requires_grad=True) for a in (x, y))
    torch_out = getattr(torch, torch_name)(px, py)
    torch_out.sum().backward()
    np.testing.assert_array_equal(out.data, want)  # NumPy's values (NaN where NumPy has NaN)
    np.testing.assert_allclose(tx.grad.data, px.grad.numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(ty.grad.data, py.grad.numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(tangent.data, px.grad.numpy(), rtol=1e-12, atol=0)


def test_fmax_fmin_ties_give_everything_to_the_first_operand():
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    (tg.fmax(x, y) + 2 * tg.fmin(x, y)).sum().backward()
    assert_close(x.grad, [3.0, 3.0], 0, 0)
    assert_close(y.grad, [0.0, 0.0], 0, 0)


def test_logaddexp_is_stable_for_large_inputs():
    x = Tensor([1000.0, -1000.0, 800.0], requires_grad=True)
    y = Tensor([-1000.0, 1000.0, 800.0], requires_grad=True)
    out = tg.logaddexp(x, y)
    assert_close(out, [1000.0, 1000.0, 800.0 + np.log(2)], rtol=1e-15, atol=0)
    out.sum().backward()
    assert_close(x.grad, [1.0, 0.0, 0.5], rtol=0, atol=0)
    assert_close(y.grad, [0.0, 1.0, 0.5], rtol=0, atol=0)
    x2 = Tensor([1000.0, -1000.0], requires_grad=True)
    out2 = tg.logaddexp2(x2, np.array([-1000.0, 1000.0]))
    assert_close(out2, [1000.0, 1000.0], rtol=1e-15, atol=0)
    out2.sum().backward()
    assert_close(x2.grad, [1.0, 0.0], rtol=1e-15, atol=0)


def test_mod_names_and_python_sign_convention():
    assert np.mod is np.remainder and tg.remainder is tg.mod
    x = Tensor([5.5, -5.5, 5.5, -5.5], requires_grad=True)
    assert_close(np.mod(x, [2.0, 2.0, -2.0, -2.0]), [1.5, 0.5, -0.5, -1.5], 0, 0)
    assert_close(np.fmod(x, [2.0, 2.0, -2.0, -2.0]), [1.5, -1.5, 1.5, -1.5], 0, 0)


def test_mod_gradient_is_recomputed_by_jit_and_has_zero_second_derivative():
    def loss(x: Any, y: Any) -> Tensor:
        return (tg.mod(x, y) + tg.fmod(x, y)).sum()
    grad = tg.jit(tg.grad(loss, argnums=(0, 1)))
    for x, y in [([5.5, -3.2], [2.0, 0.7]), ([7.9, 1.1], [-1.5, 0.25])]:
        gx, gy = grad(np.array(x), np.array(y))
        x, y = np.array(x), np.array(y)
        assert_close(gx, [2.0, 2.0], 0, 0)
        assert_close(gy, -np.floor(x / y) - np.trunc(x / y), 0, 0)
    x, y = Tensor([5.5, -3.2], requires_grad=True), Tensor([2.0, 0.7], requires_grad=True)
    gx, gy = tg.autograd.grad(loss(x, y), [x, y], create_graph=True)
    second = tg.autograd.grad(gy.sum(), [x, y], allow_unused=True)
    for g in second:
        assert g is None or not np.any(g.data)


def test_hessian_of_arctan2_hypot_logaddexp_matches_torch(rng):
    torch = pytest.importorskip("torch")
    v = rng.standard_normal(2)

    def f(a: Any) -> Any:
        return tg.arctan2(a[0], a[1]) * tg.hypot(a[0], a[1]) + tg.logaddexp(a[0], 2 * a[1])

    def f_torch(a: Any) -> Any:
        return (torch.atan2(a[0], a[1]) * torch.hypot(a[0], a[1])
                + torch.logaddexp(a[0], 2 * a[1]))
    want = torch.autograd.functional.hessian(f_torch, torch.tensor(v)).numpy()
    assert_close(tg.hessian(f)(v), want, rtol=1e-10, atol=1e-12)


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_binary_bad_input_names_the_op(name):
    f = _tg(name)
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=f"^{name}: .*\\(3,\\) and \\(2,\\)"):
        f(x, np.ones(2))
    with pytest.raises(TypeError, match=f"^{name}: unsupported keyword argument\\(s\\) out"):
        f(x, 2.0, out=np.empty(3))
    with pytest.raises(TypeError, match=f"^{name}: unsupported operand of type str"):
        f(x, "2")
    with pytest.raises(TypeError, match="not differentiable"):
        BINARY[name][0](x, 2.0, out=np.empty(3))


# --- rounding -----------------------------------------------------------------------------------
ROUNDING = {"sign": (np.sign, "sign"), "floor": (np.floor, "floor"), "ceil": (np.ceil, "ceil"),
            "trunc": (np.trunc, "trunc"), "rint": (np.rint, "round")}  # torch.round: half to even
ROUND_NAMES = list(ROUNDING)
SPECIAL = np.array([-2.5, -1.5, -0.5, -0.0, 0.0, 0.5, 1.5, 2.5, 0.49, -0.51, 3.0, -inf, inf, nan,
                    1e300, -7.2])


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_values_match_numpy(name):
    ufunc = ROUNDING[name][0]
    t = Tensor(SPECIAL, requires_grad=True)
    for got in (getattr(tg, name)(t), ufunc(t)):
        assert isinstance(got, Tensor) and got.requires_grad
        np.testing.assert_array_equal(got.data, ufunc(SPECIAL))
        assert np.array_equal(np.signbit(got.data), np.signbit(ufunc(SPECIAL)))  # -0.0 kept
    scalar = getattr(tg, name)(np.float64(-1.5))
    assert type(scalar.data) is np.ndarray and scalar.data == ufunc(-1.5)


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_gradients_are_zero_in_both_modes_and_twice(name, rng):
    f = getattr(tg, name)
    x = rng.uniform(-3, 3, (2, 3))
    t = Tensor(x, requires_grad=True)
    out = f(t)
    out.backward(np.full(out.shape, inf))  # zeros, not inf * 0 (as PyTorch)
    np.testing.assert_array_equal(t.grad.data, np.zeros_like(x))
    _, tangent = tg.jvp(f, (x,), (rng.standard_normal(x.shape),))
    np.testing.assert_array_equal(tangent.data, np.zeros_like(x))
    (g,) = tg.autograd.grad((f(t) * t).sum(), t, create_graph=True)
    assert_close(g, np.asarray(ROUNDING[name][0](x)), 0, 0)  # d/dx f(x) x = f(x)
    (gg,) = tg.autograd.grad(g.sum(), t)
    np.testing.assert_array_equal(gg.data, np.zeros_like(x))


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_gradcheck_both_modes_and_second_derivatives(name, rng):
    x = rng.integers(-3, 3, (2, 3)) + rng.uniform(0.1, 0.4, (2, 3))  # away from jumps
    inputs = (Tensor(x, requires_grad=True),)
    f = getattr(tg, name)
    assert tg.gradcheck(f, inputs) and tg.gradcheck(f, inputs, mode="fwd")
    assert tg.gradgradcheck(lambda a: f(a) * a ** 2, inputs)


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_matches_torch_at_kinks(name):
    torch = pytest.importorskip("torch")
    x = np.array([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5, 0.3])
    t = Tensor(x, requires_grad=True)
    (getattr(tg, name)(t) * t).sum().backward()
    p = torch.tensor(x, requires_grad=True)
    (getattr(torch, ROUNDING[name][1])(p) * p).sum().backward()
    np.testing.assert_array_equal(t.grad.data, p.grad.numpy())


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_float32_and_jit(name, rng):
    f = getattr(tg, name)
    x = Tensor(rng.uniform(-3, 3, 5).astype(np.float32), requires_grad=True)
    out = f(x)
    assert out.dtype == np.float32
    (out * x).sum().backward()
    assert x.grad.dtype == np.float32
    assert_close(x.grad, out.data, 0, 0)
    jitted = tg.jit(tg.value_and_grad(lambda a: (f(a) * a).sum()))
    for a in (rng.uniform(-3, 3, 4), rng.uniform(-3, 3, 4)):
        value, grad = jitted(a)  # a replay rounds the new input
        assert_close(grad, ROUNDING[name][0](a), 0, 0)
        assert_close(value, np.sum(ROUNDING[name][0](a) * a), 1e-12, 0)


@pytest.mark.parametrize("name", ROUND_NAMES)
def test_rounding_bad_input_names_the_op(name):
    f = getattr(tg, name)
    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TypeError, match=f"^{name}: unsupported keyword argument\\(s\\) out"):
        f(x, out=np.empty(3))
    with pytest.raises(TypeError, match=f"^{name}: unsupported operand of type str"):
        f("x")
    with pytest.raises(TypeError, match="not differentiable"):
        ROUNDING[name][0](x, out=np.empty(3))
