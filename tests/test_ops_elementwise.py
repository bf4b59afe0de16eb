"""Elementwise operations: values, gradients against central differences and hand-derived
formulas, broadcasting, operand orders, dtypes and shape errors."""
from __future__ import annotations

import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, backward_grads, check_gradients, unbroadcast

# Shape pairs that exercise every broadcasting case: equal, scalar, missing leading axes, size-1
# axes on either side, both sides broadcast.
SHAPE_PAIRS = [
    ((), ()),
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((4,), ()),
    ((), (2, 2)),
    ((2, 1, 4), (3, 1)),
    ((1, 3), (2, 1)),
]


def _any(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, shape)


def _positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def _away_from_zero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    # |x| in [0.5, 2] with random signs: safe denominators, and kinks (relu, abs) far away
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# name -> (operator, NumPy reference, domain of a, domain of b,
#          hand-derived d/da and d/db as functions of (a, b) in the broadcast shape)
BINARY = {
    "add": (operator.add, np.add, _any, _any,
            lambda a, b: np.ones(np.broadcast(a, b).shape),
            lambda a, b: np.ones(np.broadcast(a, b).shape)),
    "sub": (operator.sub, np.subtract, _any, _any,
            lambda a, b: np.ones(np.broadcast(a, b).shape),
            lambda a, b: -np.ones(np.broadcast(a, b).shape)),
    "mul": (operator.mul, np.multiply, _any, _any,
            lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (operator.truediv, np.divide, _any, _away_from_zero,
            lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
    "pow": (operator.pow, np.power, _positive, _any,
            lambda a, b: b * a ** (b - 1), lambda a, b: a**b * np.log(a)),
}


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_operator_values_and_gradients(name, shapes, rng):
    op, reference, domain_a, domain_b, da, db = BINARY[name]
    a, b = domain_a(rng, shapes[0]), domain_b(rng, shapes[1])
    out, (ga, gb) = check_gradients(op, a, b)
    assert_close(out, reference(a, b), rtol=1e-15, atol=0, what="value")
    # Hand-derived: the broadcast local derivative times the cotangent, summed back to the shape.
    w = np.random.default_rng(0).standard_normal(out.shape)
    assert_close(ga, unbroadcast(w * da(a, b), shapes[0]), 1e-12, 1e-12, what="d/da")
    assert_close(gb, unbroadcast(w * db(a, b), shapes[1]), 1e-12, 1e-12, what="d/db")


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_operators_accept_every_operand_kind_in_both_orders(name, rng):
    op, reference, domain_a, domain_b, da, db = BINARY[name]
    a, b = domain_a(rng, (2, 3)), domain_b(rng, (2, 3))
    number_a, number_b = float(domain_a(rng, ())), float(domain_b(rng, ()))
    w = rng.standard_normal((2, 3))

    # Tensor on the left, constant (Python number, ndarray) on the right
    for const in (number_b, b):
        x = Tensor(a, requires_grad=True)
        out = op(x, const)
        assert isinstance(out, Tensor)
        assert_close(out, reference(a, const), 1e-15, 0)
        out.backward(w)
        assert_close(x.grad, w * da(a, const), 1e-12, 1e-12)

    # constant on the left, Tensor on the right: ndarray op Tensor also gives a Tensor
    for const in (number_a, a):
        y = Tensor(b, requires_grad=True)
        out = op(const, y)
        assert isinstance(out, Tensor), f"{type(const).__name__} {name} Tensor"
        assert_close(out, reference(const, b), 1e-15, 0)
        out.backward(w)
        assert_close(y.grad, w * db(const, b), 1e-12, 1e-12)

    # Tensor op Tensor where only one side requires grad
    x, y = Tensor(a, requires_grad=True), Tensor(b)
    op(x, y).backward(w)
    assert y.grad is None
    assert_close(x.grad, w * da(a, b), 1e-12, 1e-12)


def test_rpow_with_number_base(rng):
    x = rng.uniform(-1, 1, 5)
    out, (g,) = check_gradients(lambda t: 2.0 ** t, x)
    assert_close(out, 2.0**x, 1e-15, 0)
    w = np.random.default_rng(0).standard_normal(5)
    assert_close(g, w * 2.0**x * np.log(2.0), 1e-12, 1e-14)


@pytest.mark.parametrize("exponent", [2, 3, -1, 0.5, 1])
def test_pow_with_constant_exponent(exponent, rng):
    # negative bases are fine for integer exponents; 0.5 needs positive ones
    x = _positive(rng, (6,)) if exponent == 0.5 else _away_from_zero(rng, (6,))
    out, (g,) = check_gradients(lambda t: t**exponent, x)
    w = np.random.default_rng(0).standard_normal(6)
    assert_close(g, w * exponent * x ** (exponent - 1), 1e-12, 1e-14)


def test_pow_exponent_gradient_at_zero_base_is_zero():
    # d(0^y)/dy: the limit 0 for y > 0 (as PyTorch), not NaN from 0 * log 0
    base = Tensor([0.0, 2.0])
    y = Tensor([2.0, 3.0], requires_grad=True)
    (base**y).sum().backward()
    assert_close(y.grad, [0.0, 8.0 * np.log(2.0)], 1e-14, 0)


def test_pow_base_gradient_of_a_zero_exponent_is_zero_at_zero():
    # d(x^0)/dx = 0 everywhere, also at x = 0 where y x^(y-1) = 0 * inf (as PyTorch): constant and
    # Tensor exponents alike, and the second derivative of x^1 (which passes through x^0) is 0
    for exponent in (0, 0.0, Tensor([0.0, 0.0, 0.0]), np.zeros(3)):
        x = Tensor([0.0, 1.0, -2.0], requires_grad=True)
        (x**exponent).sum().backward()
        assert_close(x.grad, [0.0, 0.0, 0.0], 0, 0)
    assert tg.grad(tg.grad(lambda t: t**1))(0.0).item() == 0.0
    x = Tensor([0.0, 2.0], requires_grad=True)
    y = Tensor([0.0, 3.0], requires_grad=True)
    gx, gy = tg.autograd.grad((x**y).sum(), (x, y))
    assert_close(gx, [0.0, 12.0], 1e-15, 0)
    assert_close(gy, [0.0, 8.0 * np.log(2.0)], 1e-15, 0)
    # the Taylor series of a cubic about 0 reproduces it exactly
    assert abs(tg.taylor(lambda t: t**3 + t, 0.0, 4)(0.5).item() - 0.625) < 1e-15


# name -> (tg function, NumPy reference, hand-derived derivative, domain)
UNARY = {
    "exp": (tg.exp, np.exp, np.exp, _any),
    "log": (tg.log, np.log, lambda x: 1 / x, _positive),
    "sqrt": (tg.sqrt, np.sqrt, lambda x: 0.5 / np.sqrt(x), _positive),
    "sin": (tg.sin, np.sin, np.cos, _any),
    "cos": (tg.cos, np.cos, lambda x: -np.sin(x), _any),
    "tan": (tg.tan, np.tan, lambda x: 1 / np.cos(x) ** 2,
            lambda rng, shape: rng.uniform(-1.2, 1.2, shape)),
    "tanh": (tg.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2, _any),
    "sigmoid": (tg.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, _any),
    "relu": (tg.relu, lambda x: np.where(x > 0, x, 0.0), lambda x: (x > 0) * 1.0,
             _away_from_zero),
    "abs": (tg.abs, np.abs, np.sign, _away_from_zero),
    "square": (tg.square, lambda x: x * x, lambda x: 2 * x, _any),
    "neg": (operator.neg, lambda x: -x, lambda x: -np.ones_like(x), _any),
}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_values_and_gradients(name, shape, rng):
    fn, reference, derivative, domain = UNARY[name]
    x = domain(rng, shape)
    out, (g,) = check_gradients(fn, x)
    assert_close(out, reference(x), 1e-14, 1e-300, what="value")
    w = np.random.default_rng(0).standard_normal(shape)
    assert_close(g, w * derivative(x), 1e-12, 1e-14, what="hand-derived gradient")


@pytest.mark.parametrize("name", [n for n in UNARY if n != "neg"])
def test_unary_method_and_function_agree(name, rng):
    fn, _, derivative, domain = UNARY[name]
    x = domain(rng, (3,))
    t = Tensor(x, requires_grad=True)
    method = getattr(t, name)()
    assert_close(method, fn(Tensor(x)), 0, 0)
    method.sum().backward()
    assert_close(t.grad, derivative(x), 1e-12, 1e-14)
    assert_close(fn(x), fn(Tensor(x)), 0, 0)  # tg.f also takes plain arrays


def test_abs_operator_and_kinks_at_zero():
    # abs() and relu have a kink at 0; the gradient there is 0, as in PyTorch
    x = Tensor([-1.5, 0.0, 2.0], requires_grad=True)
    abs(x).sum().backward()
    assert_close(x.grad, [-1.0, 0.0, 1.0], 0, 0)
    x.grad = None
    tg.relu(x).sum().backward()
    assert_close(x.grad, [0.0, 0.0, 1.0], 0, 0)


@pytest.mark.parametrize("lo, hi", [(-0.5, 0.5), (-0.5, None), (None, 0.5), (0.3, 0.3)])
def test_clip(lo, hi, rng):
    # keep inputs off the boundaries, where the derivative jumps
    x = rng.uniform(-1, 1, (3, 4))
    for bound in (lo, hi):
        if bound is not None:
            x[np.abs(x - bound) < 0.05] += 0.1
    out, (g,) = check_gradients(lambda t: t.clip(lo, hi), x)
    assert_close(out, np.clip(x, lo, hi), 0, 0)
    inside = np.ones(x.shape, bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    w = np.random.default_rng(0).standard_normal(x.shape)
    assert_close(g, w * inside, 0, 0)
    assert_close(tg.clip(Tensor(x), lo, hi), out, 0, 0)


def test_clip_refuses_bad_bounds():
    with pytest.raises(ValueError, match="clip"):
        Tensor([1.0]).clip()
    with pytest.raises(ValueError, match="clip"):
        Tensor([1.0]).clip(1.0, -1.0)


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(name, shapes, rng):
    fn, reference = getattr(tg, name), getattr(np, name)
    a, b = _any(rng, shapes[0]), _any(rng, shapes[1])
    out, (ga, gb) = check_gradients(fn, a, b)
    assert_close(out, reference(a, b), 0, 0)
    a_wins = (a > b) if name == "maximum" else (a < b)
    w = np.random.default_rng(0).standard_normal(out.shape)
    assert_close(ga, unbroadcast(w * a_wins, shapes[0]), 1e-14, 1e-14)
    assert_close(gb, unbroadcast(w * ~a_wins, shapes[1]), 1e-14, 1e-14)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_share_and_take_numbers(name, rng):
    fn = getattr(tg, name)
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([1.0, 0.0, 5.0], requires_grad=True)
    fn(x, y).sum().backward()
    first = [0.5, 1.0, 0.0] if name == "maximum" else [0.5, 0.0, 1.0]
    assert_close(x.grad, first, 0, 0)
    assert_close(y.grad, 1 - np.array(first), 0, 0)

    data = rng.uniform(-1, 1, 6)
    for args, reference in [((x := Tensor(data, requires_grad=True), 0.2), (data, 0.2)),
                            ((0.2, x), (0.2, data)),
                            ((x, np.full(6, 0.2)), (data, np.full(6, 0.2)))]:
        x.grad = None
        out = fn(*args)
        assert isinstance(out, Tensor)
        assert_close(out, getattr(np, name)(*reference), 0, 0)
        out.sum().backward()
        assert_close(x.grad, (data > 0.2) if name == "maximum" else (data < 0.2), 0, 0)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_pass_the_gradient_of_a_nan_result_to_both_as_pytorch(name):
    # torch.maximum(x, y) where x or y is NaN: the gradient goes whole to each operand.
    fn = getattr(tg, name)
    nan = float("nan")
    x = Tensor([nan, 1.0, nan, 2.0], requires_grad=True)
    y = Tensor([1.0, nan, nan, 2.0], requires_grad=True)
    fn(x, y).sum().backward()
    assert x.grad.data.tolist() == [1.0, 1.0, 1.0, 0.5]
    assert y.grad.data.tolist() == [1.0, 1.0, 1.0, 0.5]


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((3,), (2, 3), ()),
                                    ((2, 1), (3,), (2, 3)), ((), (4,), (4,))], ids=str)
def test_where(shapes, rng):
    cond_shape, a_shape, b_shape = shapes
    cond = rng.random(cond_shape) > 0.5
    a, b = _any(rng, a_shape), _any(rng, b_shape)
    out, (ga, gb) = check_gradients(lambda x, y: tg.where(cond, x, y), a, b)
    assert_close(out, np.where(cond, a, b), 0, 0)
    w = np.random.default_rng(0).standard_normal(out.shape)
    assert_close(ga, unbroadcast(w * cond, a_shape), 1e-14, 1e-14)
    assert_close(gb, unbroadcast(w * ~cond, b_shape), 1e-14, 1e-14)


def test_where_condition_kinds_and_numbers(rng):
    data = _away_from_zero(rng, (5,))
    x = Tensor(data, requires_grad=True)
    # a bool Tensor from a comparison, a Python number in either slot, a 0/1 float condition
    out = tg.where(x > 0, x, 0.25)
    assert_close(out, np.where(data > 0, data, 0.25), 0, 0)
    out.sum().backward()
    assert_close(x.grad, data > 0, 0, 0)
    x.grad = None
    tg.where((data > 0).astype(float), 0.25, x).sum().backward()
    assert_close(x.grad, data <= 0, 0, 0)


def test_where_refuses_non_numeric_condition():
    with pytest.raises(TypeError, match="where"):
        tg.where(np.array(["a", "b"]), Tensor([1.0, 2.0]), 0.0)


OPS_FOR_DTYPE = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a**b), ("neg", lambda a, b: -a * b),
    ("number", lambda a, b: 2.0 * a - b / 3.0 + a**2),
    ("maximum", tg.maximum), ("minimum", tg.minimum),
    ("where", lambda a, b: tg.where(a.data > 1, a, b)),
    ("clip", lambda a, b: a.clip(0.7, 1.2) * b),
] + [(name, (lambda f: lambda a, b: f(a) * b)(UNARY[name][0]))
     for name in UNARY if name != "neg"]


@pytest.mark.parametrize("name, fn", OPS_FOR_DTYPE, ids=[n for n, _ in OPS_FOR_DTYPE])
def test_float32_stays_float32_float64_is_default(name, fn, rng):
    a, b = _positive(rng, (2, 3)), _positive(rng, (3,))
    out32, grads32 = backward_grads(fn, a, b, dtype=np.float32)
    assert out32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads32)
    out64, grads64 = backward_grads(fn, a.tolist(), b.tolist(), dtype=None)  # lists: float64
    assert out64.dtype == np.float64
    assert all(g.dtype == np.float64 for g in grads64)
    # float32 results agree with float64 ones to float32 precision
    assert_close(out32, out64.data.astype(np.float32), 1e-5, 1e-6)
    for g32, g64 in zip(grads32, grads64):
        assert_close(g32, g64.astype(np.float32), 1e-4, 1e-5)


BINARY_FNS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
    "pow": operator.pow, "maximum": tg.maximum, "minimum": tg.minimum,
    "where": lambda a, b: tg.where(np.ones(a.shape, bool), a, b),
}


@pytest.mark.parametrize("name", list(BINARY_FNS))
def test_shape_mismatch_names_operation_and_both_shapes(name):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones(4))
    with pytest.raises(ValueError) as info:
        BINARY_FNS[name](a, b)
    message = str(info.value)
    assert name in message or {"div": "divide", "pow": "power"}.get(name, name) in message
    assert "(2, 3)" in message and "(4,)" in message


def test_sqrt_at_zero_has_infinite_gradient_without_warnings():
    # d sqrt(x)/dx = 1 / (2 sqrt x) is +inf at 0: a result, not an accident to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = Tensor([4.0, 0.0], requires_grad=True)
        tg.sqrt(x).sum().backward()
    assert x.grad.data[0] == 0.25
    assert np.isposinf(x.grad.data[1])


@pytest.mark.parametrize("scalar", [np.float64(2.0), np.sqrt(2.0), np.int64(3), np.float32(0.5),
                                    2.0, 3], ids=lambda s: type(s).__name__)
def test_numpy_scalars_act_as_python_numbers_for_dtype(scalar):
    # as in PyTorch: x / np.sqrt(n) keeps a float32 x float32 (np.float64 subclasses float)
    data = np.array([1.0, 2.0])
    for dtype in (np.float32, np.float64):
        x = Tensor(data, requires_grad=True, dtype=dtype)
        for out in (x * scalar, scalar * x, x / scalar, scalar - x, x**scalar,
                    tg.maximum(x, scalar)):
            assert out.dtype == dtype, (type(scalar).__name__, dtype)
        (x * scalar).sum().backward()
        assert x.grad.dtype == dtype
        assert_close(x.grad, np.full(2, float(scalar)), 1e-7, 0)


@pytest.mark.parametrize("operand", [np.array([1, 2, 3]), np.array([True, False, True]),
                                     [1.0, 2.0, 3.0], [1, 2, 3], np.array(2.0)],
                         ids=["int-array", "bool-array", "float-list", "int-list", "0-d"])
def test_operands_without_a_float_dtype_follow_a_float32_tensor(operand):
    # as in PyTorch (float32 + int64 is float32; a 0-d tensor does not promote): integer and bool
    # arrays, lists and 0-d arrays take float32 beside float32 Tensors, float64 beside float64
    expected = np.asarray(operand, dtype=np.float64)
    for dtype in (np.float32, np.float64):
        x = Tensor([0.5, 1.5, 2.5], requires_grad=True, dtype=dtype)
        for out in (x * operand, operand * x, x + operand, operand - x, operand / x,
                    tg.maximum(x, operand), tg.where(np.array([True, False, True]), x, operand)):
            assert out.dtype == dtype, (operand, dtype)
        (x * operand).sum().backward()
        assert x.grad.dtype == dtype
        assert_close(x.grad, np.broadcast_to(expected, (3,)), 0, 0)
    # a float64 array is a float64 operand: the result is float64, as NumPy and PyTorch
    assert (Tensor([1.0], dtype=np.float32) + np.ones(1)).dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(["add", "sub", "mul", "div", "pow"]),
       seed=st.integers(0, 2**16))
def test_any_broadcast_pair_against_differences(shapes, name, seed):
    # property: for every pair of broadcastable shapes the result has NumPy's broadcast shape and
    # each input gets a gradient of its own shape that matches central differences
    op, reference, domain_a, domain_b, da, db = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = domain_a(rng, shapes.input_shapes[0]), domain_b(rng, shapes.input_shapes[1])
    out, (ga, gb) = check_gradients(op, a, b, seed=seed)
    assert out.shape == shapes.result_shape
    assert_close(out, reference(a, b), 1e-15, 0)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    assert_close(ga, unbroadcast(w * da(a, b), a.shape), 1e-12, 1e-12)
    assert_close(gb, unbroadcast(w * db(a, b), b.shape), 1e-12, 1e-12)
