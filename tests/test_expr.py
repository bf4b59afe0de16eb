"""The command line's expression language: good expressions give the right values and gradients
(checked against NumPy, hand-derived derivatives and central differences); anything outside the
whitelist is refused with an error naming the position, before anything is evaluated."""
from __future__ import annotations

import time

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv.expr import (
    FUNCTIONS, ExpressionError, parse_assignments, parse_expression,
)


def evaluate(text, **values):
    inputs = {name: tg.Tensor(v, requires_grad=True, name=name) for name, v in values.items()}
    out = parse_expression(text).evaluate(inputs)
    return out, inputs


def central_difference(text, values, name, eps=1e-6):
    def value_at(delta):
        shifted = dict(values)
        shifted[name] = np.asarray(values[name], dtype=float) + delta
        with tg.no_grad():
            return float(np.sum(parse_expression(text).evaluate(shifted).data))
    base = np.asarray(values[name], dtype=float)
    grad = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[index] = eps
        grad[index] = (value_at(step) - value_at(-step)) / (2 * eps)
    return grad


# --- good expressions ----------------------------------------------------------------------------

def test_value_and_gradients_of_the_example():
    text = "sin(x)*y + x**2"
    out, inputs = evaluate(text, x=1.0, y=2.0)
    assert out.item() == pytest.approx(np.sin(1.0) * 2.0 + 1.0)
    out.backward()
    # By hand: d/dx = cos(x) y + 2x, d/dy = sin(x).
    assert inputs["x"].grad.item() == pytest.approx(np.cos(1.0) * 2.0 + 2.0)
    assert inputs["y"].grad.item() == pytest.approx(np.sin(1.0))
    for name in ("x", "y"):
        assert inputs[name].grad.item() == pytest.approx(
            float(central_difference(text, {"x": 1.0, "y": 2.0}, name)), rel=1e-6)


def test_vectors_and_reductions():
    text = "sum(exp(x)*w) + mean(x)/2 - max(w)"
    x, w = np.array([0.1, 0.5, -0.3]), np.array([0.5, 0.2, 0.1])
    out, inputs = evaluate(text, x=x, w=w)
    assert out.item() == pytest.approx(np.sum(np.exp(x) * w) + np.mean(x) / 2 - np.max(w))
    out.backward()
    np.testing.assert_allclose(inputs["x"].grad.data, np.exp(x) * w + 1 / 6)
    np.testing.assert_allclose(inputs["x"].grad.data,
                               central_difference(text, {"x": x, "w": w}, "x"), rtol=1e-6)
    np.testing.assert_allclose(inputs["w"].grad.data,
                               central_difference(text, {"x": x, "w": w}, "w"), rtol=1e-6,
                               atol=1e-8)


@pytest.mark.parametrize("name", sorted(n for n, arity in FUNCTIONS.items() if arity == 1))
def test_every_one_argument_function_matches_numpy(name):
    x = np.array([0.3, 0.7, 1.2])
    reference = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.maximum(v, 0),
                 "logsumexp": lambda v: np.log(np.sum(np.exp(v))),
                 "abs": np.abs, "square": np.square}.get(name, getattr(np, name, None))
    out, _ = evaluate(f"{name}(x)", x=x)
    np.testing.assert_allclose(out.data, reference(x), rtol=1e-12)


def test_two_argument_functions_constants_and_precedence():
    out, _ = evaluate("maximum(x, y) + minimum(x, y) + dot(v, v)", x=1.0, y=3.0, v=[1.0, 2.0])
    assert out.item() == pytest.approx(3 + 1 + 5)
    assert evaluate("-x**2", x=3.0)[0].item() == -9.0          # ** binds tighter than unary -
    assert evaluate("2**-1 + +x", x=1.0)[0].item() == 1.5
    assert evaluate("pi*e + x/4", x=2.0)[0].item() == pytest.approx(np.pi * np.e + 0.5)
    assert parse_expression("  x * y ").variables == ("x", "y")
    assert parse_expression("sin(b) + a*b + pi").variables == ("b", "a")


def test_keep_names_intermediates():
    keep: list = []
    x = tg.Tensor(1.0, requires_grad=True, name="x")
    out = parse_expression("sin(x)*x + x").evaluate({"x": x}, keep=keep)
    assert [t.name for t in keep] == ["sin(x)", "sin(x)*x", "sin(x)*x + x"]
    assert keep[-1] is out
    long = parse_expression("sin(x) + cos(x) + tanh(x) + exp(x)").evaluate({"x": x}, keep=keep)
    assert long.name.endswith("...") and len(long.name) == 28


def test_missing_values_and_non_finite_results():
    with pytest.raises(ExpressionError, match="no value given for 'y'"):
        parse_expression("x + y").evaluate({"x": 1.0})
    with pytest.raises(ExpressionError, match=r"'log\(x - 1\)' is not finite") as info:
        parse_expression("2 + log(x - 1)").evaluate({"x": 1.0})
    assert info.value.position == 5


# --- refused -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, reason, position", [
    ("__import__('os')", "unknown function '__import__'", 1),
    ("__import__", "names starting with '_'", 1),
    ("x.__class__", "attribute access ('.__class__')", 2),
    ("sin(x).real", "attribute access ('.real')", 7),
    ("().__class__.__bases__[0]", "is not allowed", None),
    ("open('/etc/passwd')", "unknown function 'open'", 1),
    ("eval('1')", "unknown function 'eval'", 1),
    ("exec", "unknown name 'exec'", 1),
    ("lambda: 1", "lambda is not allowed", 1),
    ("[v for v in x]", "a comprehension", 1),
    ("x if x else 1", "a conditional expression", 1),
    ("x < 1", "a comparison", 1),
    ("x and 1", "'and'/'or'", 1),
    ("x[0]", "indexing", 1),
    ("'text'", "not strings", 1),
    ("x + 1j", "only numbers", 5),
    ("True + x", "only numbers", 1),
    ("x ** 1000", "exponent 1000 is too large", 6),
    ("x ** -1e6", "exponent 1000000.0 is too large", 6),
    ("10000000000000000000 * x", "numbers larger than 1e+15", 1),
    ("1e400 * x", "too large", 1),
    ("x // 2", "operator '//'", 6),
    ("x ^ 2", "for powers write **", 5),
    ("x @ x", "use dot(a, b)", 5),
    ("sin(x, x)", "sin() takes 1 argument, got 2", 1),
    ("max(x, 1)", "use maximum(a, b)", 1),
    ("sin(x=1)", "no keyword arguments", 5),
    ("sin(*x)", "unpacking", 5),
    ("(y := 2)", "':=' assignment", 2),
    ("f'{x}'", "an f-string", 1),
    ("sin + 1", "'sin' is a function", 1),
    ("x +* 2", "invalid syntax", 4),
    ("import os", "invalid syntax", 1),
    ("x; y", "invalid syntax", 2),
    ("", "empty", None),
    ("x\n+ y", "single line", 2),
    ("x" + " + x" * 200, "characters long", None),
    ("sin(" * 80 + "x" + ")" * 80, "nested too deeply", None),
    ("(" + "+".join(["-x"] * 51) + ")*(" + "+".join(["-x"] * 51) + ")", "too large", None),
])
def test_refused_with_position(text, reason, position):
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, variables=["x"])
    assert reason in str(info.value)
    if position is not None:
        assert info.value.position == position
        assert f"at position {position}" in str(info.value)
        if len(text) <= 120 and "\n" not in text:
            assert str(info.value).endswith("\n  " + " " * (position - 1) + "^")


def test_parentheses_alone_do_not_nest():
    assert parse_expression("(" * 80 + "x" + ")" * 80).evaluate({"x": 2.0}) == 2.0


def test_huge_digit_strings_and_towers_are_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(ExpressionError):
        parse_expression("9" * 400)
    with pytest.raises(ExpressionError, match="not finite"):
        parse_expression("9**9**9**9").evaluate({})
    with pytest.raises(ExpressionError, match="not finite"):
        parse_expression("x**x**x**x").evaluate({"x": 9.0})
    assert time.perf_counter() - start < 1.0    # floats overflow; no big-integer arithmetic


def test_unknown_names_with_a_variable_list():
    with pytest.raises(ExpressionError, match=r"unknown name 'z' \(inputs given: x, y;") as info:
        parse_expression("x*y + z", variables=["x", "y"])
    assert info.value.position == 7
    assert parse_expression("x*y + z").variables == ("x", "y", "z")
    with pytest.raises(ExpressionError, match="must be a string"):
        parse_expression(3)


# --- --at assignments ----------------------------------------------------------------------------

def test_assignments():
    values = parse_assignments("x=1.0, y=[1, 2,3],z=-2e-3")
    assert values["x"].shape == () and values["x"] == 1.0
    np.testing.assert_array_equal(values["y"], [1.0, 2.0, 3.0])
    assert values["z"] == -0.002 and values["y"].dtype == np.float64


@pytest.mark.parametrize("text, reason, position", [
    ("x", "expected name=value", 1),
    ("x=1,,y", "expected name=value, got 'y'", 6),
    ("x=abc", "'abc' is not a number", 3),
    ("x=nan", "not a finite number", 3),
    ("x=1e300", "not a finite number", 3),
    ("x=[1,[2]]", "flat vectors", 6),
    ("x=[1,2", "unclosed '['", 6),
    ("x=1]", "unbalanced ']'", 4),
    ("x=[]", "the vector is empty", 3),
    ("x=1,x=2", "'x' is given twice", 5),
    ("sin=1", "function or constant name", 1),
    ("__import__=1", "expected name=value", 1),
    ("", "no inputs given", None),
])
def test_bad_assignments(text, reason, position):
    with pytest.raises(ExpressionError) as info:
        parse_assignments(text)
    assert reason in str(info.value)
    assert info.value.position == position
