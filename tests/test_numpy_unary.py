"""The unary NumPy ufuncs of tinygrad_mv.ops.unary (exp2 ... positive): values against NumPy,
first and second derivatives against hand formulas and PyTorch, forward mode, float32, bad input,
and the edges of each domain against PyTorch."""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

LN2, LN10 = math.log(2.0), math.log(10.0)


class Spec(NamedTuple):
    domain: tuple  # (lo, hi, both signs) for random inputs where every derivative exists
    d1: Callable[[np.ndarray], np.ndarray]  # f'(x), written independently of the rules
    d2: Callable[[np.ndarray], np.ndarray] | None  # f''(x); None for linear and piecewise ones
    torch: Any  # torch function name, or a callable (torch, x) -> y


def _torch_cbrt(torch: Any, x: Any) -> Any:  # torch has no cbrt
    return torch.sign(x) * torch.abs(x) ** (1 / 3)


SPECS = {
    "exp2": Spec((-2, 2, False), lambda x: 2 ** x * LN2, lambda x: 2 ** x * LN2 ** 2, "exp2"),
    "expm1": Spec((-2, 2, False), np.exp, np.exp, "expm1"),
    "log2": Spec((0.3, 3, False), lambda x: 1 / (x * LN2), lambda x: -1 / (x ** 2 * LN2), "log2"),
    "log10": Spec((0.3, 3, False), lambda x: 1 / (x * LN10), lambda x: -1 / (x ** 2 * LN10),
                  "log10"),
    "log1p": Spec((-0.6, 3, False), lambda x: 1 / (1 + x), lambda x: -1 / (1 + x) ** 2, "log1p"),
    "cbrt": Spec((0.3, 2, True), lambda x: 1 / (3 * np.abs(x) ** (2 / 3)),
                 lambda x: -2 / 9 * np.sign(x) * np.abs(x) ** (-5 / 3), _torch_cbrt),
    "reciprocal": Spec((0.3, 2, True), lambda x: -1 / x ** 2, lambda x: 2 / x ** 3, "reciprocal"),
    "arcsin": Spec((-0.9, 0.9, False), lambda x: 1 / np.sqrt(1 - x ** 2),
                   lambda x: x / (1 - x ** 2) ** 1.5, "asin"),
    "arccos": Spec((-0.9, 0.9, False), lambda x: -1 / np.sqrt(1 - x ** 2),
                   lambda x: -x / (1 - x ** 2) ** 1.5, "acos"),
    "arctan": Spec((-3, 3, False), lambda x: 1 / (1 + x ** 2),
                   lambda x: -2 * x / (1 + x ** 2) ** 2, "atan"),
    "sinh": Spec((-2, 2, False), lambda x: (np.exp(x) + np.exp(-x)) / 2,
                 lambda x: (np.exp(x) - np.exp(-x)) / 2, "sinh"),
    "cosh": Spec((-2, 2, False), lambda x: (np.exp(x) - np.exp(-x)) / 2,
                 lambda x: (np.exp(x) + np.exp(-x)) / 2, "cosh"),
    "arcsinh": Spec((-3, 3, False), lambda x: 1 / np.sqrt(x ** 2 + 1),
                    lambda x: -x / (x ** 2 + 1) ** 1.5, "asinh"),
    "arccosh": Spec((1.1, 4, False), lambda x: 1 / np.sqrt(x ** 2 - 1),
                    lambda x: -x / (x ** 2 - 1) ** 1.5, "acosh"),
    "arctanh": Spec((-0.9, 0.9, False), lambda x: 1 / (1 - x ** 2),
                    lambda x: 2 * x / (1 - x ** 2) ** 2, "atanh"),
    "deg2rad": Spec((-200, 200, False), lambda x: np.full_like(x, np.pi / 180), None, "deg2rad"),
    "radians": Spec((-200, 200, False), lambda x: np.full_like(x, np.pi / 180), None, "deg2rad"),
    "rad2deg": Spec((-4, 4, False), lambda x: np.full_like(x, 180 / np.pi), None, "rad2deg"),
    "degrees": Spec((-4, 4, False), lambda x: np.full_like(x, 180 / np.pi), None, "rad2deg"),
    "fabs": Spec((0.3, 2, True), np.sign, None, "abs"),
    "positive": Spec((-2, 2, False), np.ones_like, None, "positive"),
}
NAMES = list(SPECS)
NONLINEAR = [n for n in NAMES if SPECS[n].d2 is not None]


def sample(name: str, shape: tuple = (2, 3), seed: int = 0, dtype: Any = np.float64) -> np.ndarray:
    lo, hi, signed = SPECS[name].domain
    rng = np.random.default_rng(seed + NAMES.index(name))
    x = rng.uniform(lo, hi, shape)
    if signed:
        x = x * rng.choice([-1.0, 1.0], shape)
    return np.asarray(x, dtype=dtype)


def torch_fn(name: str) -> Callable:
    torch = pytest.importorskip("torch")
    fn = SPECS[name].torch
    return (lambda x: fn(torch, x)) if callable(fn) else getattr(torch, fn)


def torch_grad(name: str, x: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch_fn(name)(xt)
    y.backward(torch.ones_like(y) if w is None else torch.tensor(w, dtype=torch.float64))
    return xt.grad.numpy()


# --- values ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3), ()], ids=["2x3", "0-d"])
@pytest.mark.parametrize("name", NAMES)
def test_value_matches_numpy_via_tg_and_np(name: str, shape: tuple) -> None:
    x = sample(name, shape)
    ufunc = getattr(np, name)
    for y in (getattr(tg, name)(Tensor(x, requires_grad=True)),
              ufunc(Tensor(x, requires_grad=True))):
        assert isinstance(y, Tensor) and y.requires_grad
        assert type(y.data) is np.ndarray and y.shape == shape
        np.testing.assert_allclose(y.data, ufunc(x), rtol=1e-12, atol=0)
    plain = ufunc(Tensor(x))  # no grad: still a Tensor, recording nothing
    assert isinstance(plain, Tensor) and not plain.requires_grad
    np.testing.assert_allclose(plain.data, ufunc(x), rtol=1e-12, atol=0)


# --- reverse mode ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_hand_formula(name: str) -> None:
    x = sample(name)
    w = np.random.default_rng(1).standard_normal(x.shape)
    t = Tensor(x, requires_grad=True)
    (getattr(np, name)(t) * w).sum().backward()
    np.testing.assert_allclose(t.grad.data, w * SPECS[name].d1(x), rtol=1e-10, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_torch(name: str) -> None:
    x = sample(name)
    w = np.random.default_rng(2).standard_normal(x.shape)
    t = Tensor(x, requires_grad=True)
    (getattr(tg, name)(t) * w).sum().backward()
    np.testing.assert_allclose(t.grad.data, torch_grad(name, x, w), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", NONLINEAR)
def test_second_derivative_matches_hand_formula(name: str) -> None:
    x = sample(name, (4,))
    t = Tensor(x, requires_grad=True)
    (g,) = tg.autograd.grad(getattr(tg, name)(t).sum(), t, create_graph=True)
    np.testing.assert_allclose(g.data, SPECS[name].d1(x), rtol=1e-10)
    (gg,) = tg.autograd.grad(g.sum(), t)
    np.testing.assert_allclose(gg.data, SPECS[name].d2(x), rtol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_forward_gradcheck_and_gradgradcheck(name: str) -> None:
    fn = getattr(tg, name)
    # linear and piecewise-linear ops have a constant slope: times x, the second check bites
    f = fn if name in NONLINEAR else (lambda a: fn(a) * a)
    x = Tensor(sample(name, (3,)), requires_grad=True)
    assert tg.gradcheck(f, (x,))
    assert tg.gradcheck(f, (x,), mode="fwd")
    assert tg.gradgradcheck(f, (x,))


# --- forward mode ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_jvp_tangent_is_the_slope_times_the_tangent(name: str) -> None:
    x = sample(name)
    v = np.random.default_rng(3).standard_normal(x.shape)
    out, tangent = tg.jvp(getattr(tg, name), (x,), (v,))
    np.testing.assert_allclose(out.data, getattr(np, name)(x), rtol=1e-12, atol=0)
    np.testing.assert_allclose(tangent.data, SPECS[name].d1(x) * v, rtol=1e-10, atol=0)


# --- dtypes and numbers ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name: str) -> None:
    x = sample(name, dtype=np.float32)
    t = Tensor(x, requires_grad=True)
    y = getattr(np, name)(t)
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.data, SPECS[name].d1(x.astype(np.float64)), rtol=1e-5)
    _, tangent = tg.jvp(getattr(tg, name), (x,), (np.ones_like(x),))
    assert tangent.dtype == np.float32
    if name in NONLINEAR:
        (g,) = tg.autograd.grad(getattr(tg, name)(t).sum(), t, create_graph=True)
        (gg,) = tg.autograd.grad(g.sum(), t)
        assert g.dtype == gg.dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_rules_compute_in_float32(name: str) -> None:
    # the engine casts gradients back to the input's dtype; the rules themselves must not
    # promote either (a NumPy float64 constant such as np.log(2) would)
    x = sample(name, dtype=np.float32)
    y = getattr(tg, name)(Tensor(x, requires_grad=True))
    op = tg.autograd.op_of(y._node)
    g = np.ones_like(x)
    assert op.vjps[0](g, y.data, x).dtype == np.float32
    assert op.jvps[0](g, y.data, x).dtype == np.float32


def test_integer_numbers_and_arrays_are_taken_as_floats() -> None:
    assert tg.reciprocal(2).data == 0.5 and tg.reciprocal(2).dtype == np.float64
    assert tg.reciprocal(np.int64(4)).data == 0.25
    np.testing.assert_array_equal(tg.reciprocal(np.array([2, 4])).data, [0.5, 0.25])
    assert tg.positive(3).dtype == np.float64 and tg.positive(True).data == 1.0
    np.testing.assert_allclose(tg.cbrt([-8, 27]).data, [-2.0, 3.0], rtol=1e-15)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_bad_input_names_the_op(name: str) -> None:
    fn = getattr(tg, name)
    t = Tensor(sample(name, (2,)), requires_grad=True)
    with pytest.raises(TypeError, match=name):
        fn(t, out=np.empty(2))
    with pytest.raises(TypeError, match=name):
        fn(t, t)
    with pytest.raises(TypeError, match=rf"{name}: expected a Tensor"):
        fn("0.5")
    with pytest.raises(TypeError, match=rf"{name}: expected real numbers.*complex"):
        fn(np.array([1j]))
    with pytest.raises(TypeError, match=rf"np\.{name}\.__call__ with \['out'\]"):
        getattr(np, name)(t, out=np.empty(2))


# --- edges of the domains: NumPy's values and warnings, torch's gradients ----------------------
def _recorded_warnings(fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, sorted(str(w.message) for w in caught)


EDGES = [
    # (name, inputs, torch function when it differs from the op's own)
    ("cbrt", [0.0, -0.0], lambda torch, x: torch.pow(x, 1 / 3)),  # slope +inf at ±0
    ("fabs", [0.0, -0.0, 2.0, -2.0], None),  # 0 at 0, as torch.abs
    ("reciprocal", [0.0, -0.0], None),  # inf / -inf, both with slope -inf
    ("arcsin", [1.0, -1.0, 2.0, -2.0], None),  # inf at ±1, NaN outside
    ("arccos", [1.0, -1.0, 2.0], None),
    ("arccosh", [1.0, 0.5, -2.0], None),  # inf at 1, NaN within (-1, 1), torch's value at -2
    ("arctanh", [1.0, -1.0, 2.0], None),  # ±inf values with slope inf, torch's value at 2
    ("log1p", [-1.0, -2.0], None),
    ("log2", [0.0, -0.0, -1.0], None),
    ("log10", [0.0, -1.0], None),
]


@pytest.mark.parametrize("name, values, reference", EDGES, ids=[e[0] for e in EDGES])
def test_edges_keep_numpy_values_and_follow_torch_gradients(name: str, values: list,
                                                            reference: Any) -> None:
    torch = pytest.importorskip("torch")
    x = np.array(values)
    t = Tensor(x, requires_grad=True)
    ufunc = getattr(np, name)
    y, got_warnings = _recorded_warnings(lambda: getattr(tg, name)(t))
    expected, numpy_warnings = _recorded_warnings(lambda: ufunc(x))
    assert got_warnings == numpy_warnings  # NumPy's RuntimeWarnings, no more, no fewer
    np.testing.assert_array_equal(y.data, expected)
    y.backward(np.ones_like(x))  # warnings are errors in this suite: backward stays quiet
    if reference is None:
        want = torch_grad(name, x)
    else:
        xt = torch.tensor(x, requires_grad=True)
        reference(torch, xt).sum().backward()
        want = xt.grad.numpy()
    np.testing.assert_allclose(t.grad.data, want, rtol=1e-12, equal_nan=True)


def test_out_of_domain_is_nan_with_numpy_warning_and_nan_gradient_as_torch() -> None:
    torch = pytest.importorskip("torch")
    t = Tensor([2.0], requires_grad=True)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        y = np.arcsin(t)
    assert np.isnan(y.data).all()
    y.sum().backward()
    xt = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    torch.asin(xt).sum().backward()
    assert np.isnan(t.grad.data).all() and torch.isnan(xt.grad).all()


# --- identities and sharing --------------------------------------------------------------------
def test_positive_is_recorded_as_its_own_op_and_copies() -> None:
    t = Tensor([1.0, -2.0], requires_grad=True)
    for y in (tg.positive(t), np.positive(t)):
        assert y is not t and y._node.op == "positive"
        assert not np.shares_memory(y.data, t.data)
        np.testing.assert_array_equal(y.data, t.data)


@pytest.mark.parametrize("alias, name", [("degrees", "rad2deg"), ("radians", "deg2rad")])
def test_angle_aliases_share_one_primitive(alias: str, name: str) -> None:
    t = Tensor([0.5, 90.0], requires_grad=True)
    a, b = getattr(tg, alias)(t), getattr(np, alias)(t)
    assert a._node.op == b._node.op == name == getattr(tg, name)(t)._node.op
    np.testing.assert_array_equal(a.data, getattr(np, name)(t.data))


def _ops_in_graph(t: Tensor) -> set[str]:
    ops, stack = set(), [t._node]
    while stack:
        node = stack.pop()
        if isinstance(node, tg.autograd.Node):
            ops.add(node.op)
            stack.extend(node.parents)
    return ops


@pytest.mark.parametrize("name, slope_op", [("sinh", "cosh"), ("cosh", "sinh")])
def test_hyperbolic_gradients_are_recorded_with_each_other(name: str, slope_op: str) -> None:
    t = Tensor([0.3, -1.2], requires_grad=True)
    (g,) = tg.autograd.grad(getattr(tg, name)(t).sum(), t, create_graph=True)
    assert slope_op in _ops_in_graph(g)


# --- the logistic slope as courses write it ----------------------------------------------------
def test_cosh_sigmoid_slope_equals_sigmoid_times_one_minus_sigmoid() -> None:
    z_values = np.linspace(-6.0, 6.0, 13)
    z = Tensor(z_values, requires_grad=True)
    slope = np.cosh(z / 2) ** (-2) / 4
    assert isinstance(slope, Tensor) and slope.requires_grad
    s = tg.sigmoid(z)
    np.testing.assert_allclose(slope.data, (s * (1 - s)).data, rtol=1e-12)
    slope.sum().backward()
    # d/dz s(1 - s) = s(1 - s)(1 - 2s)
    sv = s.data
    np.testing.assert_allclose(z.grad.data, sv * (1 - sv) * (1 - 2 * sv), rtol=1e-9, atol=1e-15)
    assert tg.gradcheck(lambda a: np.cosh(a / 2) ** (-2) / 4, (Tensor(z_values[::3],
                                                                      requires_grad=True),))


def test_cosh_sigmoid_slope_gradient_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    z_values = np.linspace(-6.0, 6.0, 13)
    z = Tensor(z_values, requires_grad=True)
    (np.cosh(z / 2) ** (-2) / 4).sum().backward()
    zt = torch.tensor(z_values, requires_grad=True)
    (torch.sigmoid(zt) * (1 - torch.sigmoid(zt))).sum().backward()
    np.testing.assert_allclose(z.grad.data, zt.grad.numpy(), rtol=1e-9, atol=1e-15)
