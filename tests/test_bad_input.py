"""Bad input, table-driven: every public entry point with wrong types, wrong shapes, NaN/Inf,
empty arrays, zero-size axes and wrong dtypes.

Each row either expects a clear error (the type, and a pattern the message must match: it names
the operation or argument and says what was expected), or a documented correct result checked by
hand. An error must come from tinygrad_mv itself (possibly chaining NumPy's), never escape from
deep inside NumPy with an unrelated message.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

PACKAGE_DIR = os.path.dirname(tg.__file__)


def X() -> Tensor:
    return Tensor(np.arange(6.0).reshape(2, 3) + 1.0, requires_grad=True)


def V() -> Tensor:
    return Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)


def E() -> Tensor:
    """An empty (0, 3) tensor that requires grad."""
    return Tensor(np.ones((0, 3)), requires_grad=True)


def _twice(y: Tensor) -> None:
    y.backward()
    y.backward()


# (id, call, exception type, regex the message must match)
ERRORS: list[tuple[str, Callable[[], Any], type, str]] = [
    # --- the constructor -------------------------------------------------------------------
    ("Tensor(str)", lambda: Tensor("abc"), TypeError, r"Tensor: data must be numeric.*str"),
    ("Tensor(None)", lambda: Tensor(None), TypeError, r"Tensor: data must be numeric.*None"),
    ("Tensor(object)", lambda: Tensor(object()), TypeError, r"Tensor: data must be numeric"),
    ("Tensor(dict)", lambda: Tensor({1: 2}), TypeError, r"Tensor: data must be numeric.*dict"),
    ("Tensor(ragged)", lambda: Tensor([[1, 2], [3]]), TypeError, r"Tensor:.*ragged"),
    ("Tensor(mixed list)", lambda: Tensor([1, "a"]), TypeError, r"Tensor: data must be numeric"),
    ("Tensor(complex)", lambda: Tensor(1 + 2j), TypeError, r"Tensor:.*numeric.*complex"),
    ("Tensor(datetime)", lambda: Tensor(np.array(["2020-01-01"], dtype="datetime64[D]")),
     TypeError, r"Tensor: data must be numeric.*datetime64"),
    ("Tensor(dtype='abc')", lambda: Tensor(1.0, dtype="abc"), TypeError,
     r"Tensor: dtype='abc' is not a NumPy dtype"),
    ("Tensor(dtype=str)", lambda: Tensor(1.0, dtype=str), TypeError,
     r"Tensor: dtype=.* not supported.*float32"),
    ("Tensor(dtype=complex)", lambda: Tensor(1.0, dtype=complex), TypeError,
     r"Tensor: dtype=complex128 is not supported"),
    ("Tensor(dtype=float16)", lambda: Tensor(1.0, dtype=np.float16), TypeError,
     r"Tensor: dtype=float16 is not supported.*float32.*float64"),
    ("Tensor(int, requires_grad)", lambda: Tensor([1], dtype=np.int32, requires_grad=True),
     TypeError, r"requires_grad=True .*floating dtypes, not int32"),
    ("Tensor(bool, requires_grad)", lambda: Tensor([True], dtype=bool, requires_grad=True),
     TypeError, r"requires_grad=True .*floating dtypes, not bool"),
    ("tensor(int, requires_grad)", lambda: tg.tensor([1, 2], dtype=np.int64, requires_grad=True),
     TypeError, r"floating dtypes, not int64"),
    ("requires_grad off a non-leaf", lambda: setattr(X() * 2, "requires_grad", False),
     RuntimeError, r"requires_grad can only be turned off on a leaf.*detach"),
    # --- creation helpers --------------------------------------------------------------------
    ("zeros('a')", lambda: tg.zeros("a"), TypeError, r"shape must be integers, got \('a',\)"),
    ("zeros(2.5)", lambda: tg.zeros(2.5), TypeError, r"shape must be integers, got \(2\.5,\)"),
    ("zeros(-1)", lambda: tg.zeros(-1), ValueError, r"shape must not have negative dim.*-1"),
    ("ones(None)", lambda: tg.ones(None), TypeError, r"shape must be integers"),
    ("ones((2, 'a'))", lambda: tg.ones((2, "a")), TypeError, r"shape must be integers"),
    ("full(shape, 'x')", lambda: tg.full((2,), "x"), TypeError,
     r"full: value must be a real number, got str"),
    ("full(-1, 1)", lambda: tg.full(-1, 1.0), ValueError, r"negative dimensions"),
    ("arange('a')", lambda: tg.arange("a"), TypeError, r"arange: invalid arguments \('a',\)"),
    ("arange(step=0)", lambda: tg.arange(0, 1, 0), ValueError, r"arange: invalid arguments"),
    ("linspace(num=-1)", lambda: tg.linspace(0, 1, -1), ValueError,
     r"linspace: invalid arguments.*-1.*non-negative"),
    ("linspace(num=2.5)", lambda: tg.linspace(0, 1, 2.5), TypeError,
     r"linspace: invalid arguments.*integer"),
    ("linspace('a', 1)", lambda: tg.linspace("a", 1), TypeError, r"linspace: invalid arguments"),
    ("eye(-1)", lambda: tg.eye(-1), ValueError, r"eye: invalid arguments.*negative"),
    ("eye('a')", lambda: tg.eye("a"), TypeError, r"eye: invalid arguments"),
    ("randn(rng='x')", lambda: tg.randn(2, rng="x"), TypeError,
     r"rng must be a numpy.random.Generator.*got str"),
    ("randn(-1)", lambda: tg.randn(-1), ValueError, r"negative dimensions"),
    ("rand(2.5)", lambda: tg.rand(2.5), TypeError, r"shape must be integers"),
    ("zeros_like('a')", lambda: tg.zeros_like("a"), TypeError, r"Tensor: data must be numeric"),
    # --- operands of the wrong type --------------------------------------------------------
    ("exp('abc')", lambda: tg.exp("abc"), TypeError, r"unsupported operand of type str"),
    ("exp(None)", lambda: tg.exp(None), TypeError, r"unsupported operand of type NoneType"),
    ("exp(complex)", lambda: tg.exp(1 + 2j), TypeError, r"unsupported operand of type complex"),
    ("x + 'a'", lambda: X() + "a", TypeError, r"unsupported operand of type str"),
    ("'a' + x", lambda: "a" + X(), TypeError, r"unsupported operand of type str"),
    ("x - None", lambda: X() - None, TypeError, r"unsupported operand of type NoneType"),
    ("x * object()", lambda: X() * object(), TypeError, r"unsupported operand of type object"),
    ("x / {}", lambda: X() / {}, TypeError, r"unsupported operand of type dict"),
    ("x ** 'a'", lambda: X() ** "a", TypeError, r"unsupported operand of type str"),
    ("x + 1j", lambda: X() + 1j, TypeError, r"unsupported operand of type complex"),
    ("x + [1, 'a']", lambda: X() + [1, "a"], TypeError, r"data must be numeric"),
    ("x + complex array", lambda: X() + np.ones(3, dtype=complex), TypeError,
     r"unsupported operand: array of dtype complex128.*float32 or float64"),
    ("x + str array", lambda: X() + np.array(["a", "b", "c"]), TypeError,
     r"unsupported operand: array of dtype <U1"),
    ("maximum(x, 'a')", lambda: tg.maximum(X(), "a"), TypeError, r"unsupported operand"),
    ("where(c, 'a', x)", lambda: tg.where(np.ones(3, dtype=bool), "a", X()), TypeError,
     r"unsupported operand of type str"),
    ("where(str cond)", lambda: tg.where(np.array(["a"] * 3), X(), 0.0), TypeError,
     r"where: condition must be bool, got dtype <U1"),
    ("outer('a', x)", lambda: tg.outer("a", X()), TypeError, r"unsupported operand"),
    ("concatenate(['a'])", lambda: tg.concatenate(["a", "b"]), TypeError, r"numeric"),
    ("log_softmax('abc')", lambda: tg.log_softmax("abc"), TypeError, r"numeric"),
    ("clip('a', 1)", lambda: X().clip("a", 1), TypeError,
     r"clip: lo must be a number, a NumPy array or None, got str"),
    ("clip(hi=Tensor)", lambda: X().clip(0.0, Tensor(1.0)), TypeError,
     r"clip: hi must be .*tg.maximum"),
    ("astype(str)", lambda: X().astype(str), TypeError, r"astype: dtype=<U0 is not numeric"),
    # --- shapes ------------------------------------------------------------------------------
    ("add (2,3)+(4,)", lambda: X() + Tensor(np.ones(4)), ValueError,
     r"add: .*\(2, 3\) and \(4,\)"),
    ("mul (2,3)*(2,)", lambda: X() * np.ones(2), ValueError, r"mul: .*\(2, 3\) and \(2,\)"),
    ("maximum shapes", lambda: tg.maximum(X(), Tensor(np.ones(4))), ValueError,
     r"maximum: .*\(2, 3\) and \(4,\)"),
    ("where shapes", lambda: tg.where(np.ones(4, dtype=bool), X(), 0.0), ValueError,
     r"where: .*\(2, 3\).*\(4,\)"),
    ("matmul (2,3)@(2,3)", lambda: X() @ X(), ValueError, r"matmul: .*\(2, 3\) and \(2, 3\)"),
    ("matmul by a scalar", lambda: X() @ 2.0, ValueError, r"matmul: operands must be at least 1-D"),
    ("matmul(x, 'a')", lambda: tg.matmul(X(), "a"), (TypeError, ValueError), r"matmul|operand"),
    ("dot 3-D", lambda: tg.dot(Tensor(np.ones((2, 2, 2))), X()), ValueError,
     r"dot: operands of shapes \(2, 2, 2\) and \(2, 3\)"),
    ("dot (2,3).(2,3)", lambda: tg.dot(X(), X()), ValueError, r"\(2, 3\) and \(2, 3\)"),
    ("linear wrong weight", lambda: tg.linear(X(), Tensor(np.ones((4, 2)))), ValueError,
     r"linear: .*\(2, 3\) and \(4, 2\)"),
    ("linear wrong bias", lambda: tg.linear(X(), Tensor(np.ones((4, 3))), Tensor(np.ones(5))),
     ValueError, r"linear: .*\(5,\)"),
    ("concatenate shapes", lambda: tg.concatenate([X(), Tensor(np.ones((2, 4)))], axis=0),
     ValueError, r"concatenate: .*\(2, 3\) and \(2, 4\)"),
    ("concatenate([])", lambda: tg.concatenate([]), ValueError, r"concatenate: needs at least"),
    ("concatenate 0-d", lambda: tg.concatenate([Tensor(1.0), Tensor(2.0)]), ValueError,
     r"concatenate: .*dimensions"),
    ("stack shapes", lambda: tg.stack([X(), V()]), ValueError, r"stack: .*\(2, 3\) and \(3,\)"),
    ("stack([])", lambda: tg.stack([]), ValueError, r"stack: needs at least"),
    ("reshape size", lambda: X().reshape(4, 2), ValueError,
     r"reshape: .*\(2, 3\).*\(4, 2\).*size 6"),
    ("reshape two -1", lambda: X().reshape(-1, -1), ValueError, r"reshape: .*one unknown"),
    ("reshape 'a'", lambda: X().reshape("a"), TypeError, r"reshape: shape must be integers"),
    ("reshape empty (0,-1)", lambda: E().reshape(0, -1), ValueError, r"reshape: .*\(0, 3\)"),
    ("transpose (0,5)", lambda: X().transpose(0, 5), ValueError,
     r"transpose: axes \(0, 5\) are not a permutation"),
    ("transpose (0,0)", lambda: X().transpose(0, 0), ValueError, r"transpose: .*permutation"),
    ("transpose 'a'", lambda: X().transpose("a"), TypeError, r"transpose: axes must be integers"),
    ("swapaxes(0,5)", lambda: X().swapaxes(0, 5), ValueError, r"swapaxes: axis 5 is out of range"),
    ("squeeze non-1 axis", lambda: X().squeeze(0), ValueError,
     r"squeeze: axis 0 of shape \(2, 3\) has length 2"),
    ("squeeze(5)", lambda: X().squeeze(5), ValueError, r"squeeze: axis 5 is out of range"),
    ("unsqueeze(4)", lambda: X().unsqueeze(4), ValueError, r"unsqueeze: axis 4 is out of range"),
    ("unsqueeze('a')", lambda: X().unsqueeze("a"), TypeError, r"unsqueeze: axis must be an int"),
    ("broadcast_to (4,3)", lambda: X().broadcast_to((4, 3)), ValueError,
     r"broadcast_to: .*\(2, 3\).*\(4, 3\)"),
    ("broadcast_to fewer dims", lambda: X().broadcast_to((3,)), ValueError,
     r"broadcast_to: .*\(2, 3\).*\(3,\)"),
    ("broadcast_to 'a'", lambda: X().broadcast_to("a"), TypeError,
     r"broadcast_to: shape must be integers"),
    # --- axes ----------------------------------------------------------------------------------
    ("sum(axis=5)", lambda: X().sum(axis=5), ValueError,
     r"sum: axis 5 is out of range for a tensor with 2 dimensions"),
    ("sum(axis=-3)", lambda: X().sum(axis=-3), ValueError, r"sum: axis -3 is out of range"),
    ("sum(axis=(0, 0))", lambda: X().sum(axis=(0, 0)), ValueError, r"sum: repeated axis"),
    ("sum(axis='a')", lambda: X().sum(axis="a"), TypeError, r"sum: axis must be an int"),
    ("sum(axis=1.5)", lambda: X().sum(axis=1.5), TypeError, r"sum: axis must be an int.*1\.5"),
    ("sum(axis=(0, 'a'))", lambda: X().sum(axis=(0, "a")), TypeError, r"sum: axis must be"),
    ("mean(axis=5)", lambda: tg.mean(X(), axis=5), ValueError, r"mean: axis 5 is out of range"),
    ("max(axis=5)", lambda: X().max(axis=5), ValueError, r"max: axis 5 is out of range"),
    ("min(axis=2.0)", lambda: X().min(axis=2.0), TypeError, r"min: axis must be an int"),
    ("softmax(axis=3)", lambda: tg.softmax(X(), axis=3), ValueError,
     r"softmax: axis 3 is out of range"),
    ("log_softmax(axis='a')", lambda: tg.log_softmax(X(), axis="a"), TypeError,
     r"log_softmax: axis must be"),
    ("logsumexp(axis=3)", lambda: tg.logsumexp(X(), axis=3), ValueError,
     r"logsumexp: axis 3 is out of range"),
    ("stack(axis=5)", lambda: tg.stack([X(), X()], axis=5), ValueError,
     r"stack: axis 5 is out of range"),
    ("concatenate(axis=2)", lambda: tg.concatenate([X(), X()], axis=2), ValueError,
     r"concatenate: axis 2 is out of range"),
    # --- indexing ------------------------------------------------------------------------------
    ("x[5]", lambda: X()[5], IndexError, r"getitem: index 5 is invalid for shape \(2, 3\)"),
    ("x[1.5]", lambda: X()[1.5], IndexError, r"getitem: index 1\.5 is invalid"),
    ("x['a']", lambda: X()["a"], IndexError, r"getitem: index 'a' is invalid"),
    ("x[float array]", lambda: X()[np.array([0.5])], IndexError,
     r"getitem: index arrays must hold integers or bools"),
    ("x[mask of wrong shape]", lambda: X()[np.ones(4, dtype=bool)], IndexError,
     r"getitem: .*shape \(2, 3\).*boolean index"),
    ("x[0, 0, 0]", lambda: X()[0, 0, 0], IndexError, r"getitem: .*too many indices"),
    ("x[[0, 7]]", lambda: X()[np.array([0, 7])], IndexError, r"getitem: .*out of bounds"),
    # --- empty arrays and zero-size axes ---------------------------------------------------
    ("mean of empty", lambda: E().mean(), ValueError, r"mean: .*\(0, 3\).*empty"),
    ("mean over an empty axis", lambda: E().mean(axis=0), ValueError, r"mean: .*empty"),
    ("max of empty", lambda: E().max(), ValueError, r"max: .*\(0, 3\).*zero-size"),
    ("min over an empty axis", lambda: E().min(axis=0), ValueError, r"min: .*\(0, 3\)"),
    ("logsumexp of empty", lambda: tg.logsumexp(E()), ValueError, r"logsumexp: .*\(0, 3\)"),
    ("item() of empty", lambda: Tensor([]).item(), ValueError,
     r"item\(\): only one-element .*shape \(0,\)"),
    # --- methods -----------------------------------------------------------------------------
    ("item() of (2,3)", lambda: X().item(), ValueError, r"item\(\): .*shape \(2, 3\)"),
    ("float() of (2,3)", lambda: float(X()), ValueError, r"item\(\): .*shape \(2, 3\)"),
    ("len() of 0-d", lambda: len(Tensor(1.0)), TypeError, r"len\(\) of a 0-d Tensor"),
    ("bool() of (2,3)", lambda: bool(X()), ValueError, r"truth value .*\(2, 3\) is ambiguous"),
    ("register_hook(3)", lambda: (X() * 1).register_hook(3), TypeError,
     r"register_hook\(\): hook must be callable, got int"),
    ("register_hook without grad", lambda: Tensor(1.0).register_hook(print), RuntimeError,
     r"register_hook\(\) on a tensor that does not require grad"),
    ("retain_grad without grad", lambda: Tensor(1.0).retain_grad(), RuntimeError,
     r"retain_grad\(\) on a tensor that does not require grad"),
    # --- backward ----------------------------------------------------------------------------
    ("backward of (2,3) without gradient", lambda: (X() * 2).backward(), RuntimeError,
     r"backward\(\): grad can be implicitly created only for one-element.*\(2, 3\)"),
    ("backward gradient of wrong shape", lambda: (X() * 2).backward(gradient=np.ones(3)),
     ValueError, r"backward\(\): gradient has shape \(3,\) but the output has shape \(2, 3\)"),
    ("backward gradient 'abc'", lambda: (X() * 2).backward(gradient="abc"), TypeError,
     r"numeric.*str"),
    ("backward ragged gradient", lambda: (X() * 2).backward(gradient=[[1, 2], [3]]), TypeError,
     r"ragged"),
    ("backward without grad", lambda: Tensor(1.0).backward(), RuntimeError,
     r"backward\(\): this tensor does not require grad"),
    ("backward of int tensor", lambda: Tensor([1], dtype=np.int64).backward(), RuntimeError,
     r"does not require grad"),
    ("backward of an empty output", lambda: (E() * 2).backward(), RuntimeError,
     r"one-element outputs.*\(0, 3\)"),
    ("second backward", lambda: _twice((X() * 2).sum()), RuntimeError,
     r"second time.*retain_graph=True"),
    # --- tg.autograd.grad --------------------------------------------------------------------
    ("grad(outputs='a')", lambda: tg.autograd.grad("a", [X()]), TypeError,
     r"grad\(\): outputs must be Tensors, got str"),
    ("grad(inputs=['a'])", lambda: tg.autograd.grad(X().sum(), ["a"]), TypeError,
     r"grad\(\): inputs must be Tensors, got str"),
    ("grad(inputs=None)", lambda: tg.autograd.grad(X().sum(), None), TypeError,
     r"grad\(\): inputs must be a Tensor or a sequence of Tensors, got NoneType"),
    ("grad(outputs=[])", lambda: tg.autograd.grad([], [X()]), ValueError,
     r"grad\(\): outputs is empty"),
    ("grad grad_outputs count", lambda: tg.autograd.grad([X().sum()], [X()], [1.0, 2.0]),
     ValueError, r"grad\(\): 2 grad_outputs for 1 outputs"),
    ("grad grad_outputs shape", lambda: (lambda x: tg.autograd.grad(x * 2, [x], np.ones(3)))(
        X()), ValueError, r"grad\(\): gradient has shape \(3,\) but the output has shape"),
    ("grad of input without grad", lambda: tg.autograd.grad(X().sum(), [Tensor(1.0)]),
     RuntimeError, r"grad\(\): one of the inputs does not require grad"),
    ("grad of unused input", lambda: (lambda x: tg.autograd.grad(x.sum(), [x, V()]))(X()),
     RuntimeError, r"grad\(\): an input of shape \(3,\) was not used.*allow_unused=True"),
    # --- NumPy functions that would drop the graph -----------------------------------------
    ("np.sinh(x)", lambda: np.sinh(X()), TypeError,
     r"np.sinh has no differentiable counterpart.*tg.exp"),
    ("np.cumsum(x)", lambda: np.cumsum(X()), TypeError, r"np.cumsum is not differentiable"),
    ("np.exp(x, out=...)", lambda: np.exp(X(), out=np.empty((2, 3))), TypeError,
     r"np.exp.* is not differentiable"),
]


def _raised_inside_the_package(info: pytest.ExceptionInfo) -> bool:
    """The error was raised by tinygrad_mv code (it may chain NumPy's), not by NumPy itself."""
    return any(os.path.dirname(str(entry.path)).startswith(PACKAGE_DIR)
               for entry in info.traceback[-1:])


@pytest.mark.parametrize("call, error, pattern",
                         [pytest.param(c, e, p, id=i) for i, c, e, p in ERRORS])
def test_bad_input_raises_a_clear_error(call: Callable[[], Any], error: type,
                                        pattern: str) -> None:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert re.search(pattern, message, re.DOTALL), f"unclear message: {message!r}"
    assert _raised_inside_the_package(info) or not isinstance(info.value, (TypeError,
                                                                           ValueError)), (
        f"raised from {info.traceback[-1].path}, not from tinygrad_mv: {message!r}")


def test_table_ids_are_unique() -> None:
    ids = [row[0] for row in ERRORS]
    assert len(ids) == len(set(ids))


# --- documented correct results (checked by hand) --------------------------------------------

def _grad_of(fn: Callable[[Tensor], Tensor], x: Tensor) -> np.ndarray:
    fn(x).backward()
    return x.grad.data


def test_sum_of_empty_is_zero_and_its_gradient_is_empty() -> None:
    e = E()
    y = e.sum()
    assert y.item() == 0.0 and y.shape == ()
    y.backward()
    assert e.grad.shape == (0, 3)


def test_reductions_over_non_empty_axes_of_empty_arrays() -> None:
    e = E()
    assert e.sum(axis=0).shape == (3,) and np.all(e.sum(axis=0).data == 0)
    assert e.sum(axis=1).shape == (0,)
    assert e.max(axis=1).shape == (0,)
    assert e.mean(axis=1).shape == (0,)  # averaging 3 values, in each of 0 rows
    assert tg.logsumexp(e, axis=1).shape == (0,)
    (e.mean(axis=1).sum() + e.max(axis=1).sum() + e.sum(axis=0).sum()).backward()
    assert e.grad.shape == (0, 3)


def test_softmax_family_of_empty_arrays_is_empty() -> None:
    for shape, axis in [((0, 3), 0), ((0, 3), -1), ((3, 0), 1)]:
        x = Tensor(np.ones(shape), requires_grad=True)
        for fn in (tg.softmax, tg.log_softmax):
            y = fn(x, axis=axis)
            assert y.shape == shape
            y.sum().backward()
            assert x.grad.shape == shape


def test_empty_pieces_in_joins_indexing_and_matmul() -> None:
    e, x = E(), X()
    joined = tg.concatenate([e, x], axis=0)
    assert joined.shape == (2, 3)
    (joined * 2).sum().backward()
    assert e.grad.shape == (0, 3)
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 2.0))
    x = X()
    picked = x[np.zeros((2, 3), dtype=bool)]
    assert picked.shape == (0,)
    (picked.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    a = Tensor(np.ones((2, 0)), requires_grad=True)
    b = Tensor(np.ones((0, 4)), requires_grad=True)
    product = a @ b  # an empty inner dimension: a sum of nothing, zeros
    np.testing.assert_array_equal(product.data, np.zeros((2, 4)))
    product.sum().backward()
    assert a.grad.shape == (2, 0) and b.grad.shape == (0, 4)
    assert tg.stack([e, e]).shape == (2, 0, 3)


def test_nan_and_inf_data_propagate_as_in_numpy() -> None:
    t = Tensor([np.nan, np.inf, 1.0], requires_grad=True)
    np.testing.assert_array_equal(t.data, [np.nan, np.inf, 1.0])  # kept, not refused
    y = (t * 2.0).sum()
    assert np.isnan(y.item())
    y.backward()  # d(2t)/dt = 2 wherever t is: the gradient itself is finite
    np.testing.assert_array_equal(t.grad.data, [2.0, 2.0, 2.0])
    t = Tensor([np.nan, 1.0], requires_grad=True)
    m = t.max()
    assert np.isnan(m.item())  # NaN wins, as np.max
    m.backward()
    assert np.all(np.isnan(t.grad.data))  # loudly undefined, never a plausible wrong number
    t = Tensor([np.nan, 2.0], requires_grad=True)
    tg.exp(t).sum().backward()
    assert np.isnan(t.grad.data[0]) and t.grad.data[1] == pytest.approx(np.exp(2.0))


def test_nan_gradient_seed_propagates_and_detect_anomaly_names_it() -> None:
    x = V()
    (x * 3).backward(gradient=np.array([np.nan, 1.0, 1.0]))
    assert np.isnan(x.grad.data[0]) and x.grad.data[1] == 3.0
    x = V()
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match="'mul'"):
        (x * 3).backward(gradient=np.array([np.nan, 1.0, 1.0]))


def test_integer_and_bool_data_become_float64() -> None:
    for data in ([1, 2], np.array([1, 2], dtype=np.int8), np.array([True, False]),
                 np.array([1, 2], dtype=np.uint16), np.array([1.0, 2.0], dtype=np.float16)):
        t = Tensor(data, requires_grad=True)
        assert t.dtype == np.float64
    forced = Tensor([1, 2], dtype=np.int64)
    assert forced.dtype == np.int64 and not forced.requires_grad
    x = V()
    y = (x * forced[0] + tg.exp(forced)[1]).sum()  # integer constants in a float graph
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


def test_mixed_float32_and_float64_gradients_keep_each_dtype() -> None:
    a = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(3), requires_grad=True)
    y = (a * b).sum()
    assert y.dtype == np.float64  # NumPy promotion
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_python_bool_and_int_operands_are_numbers() -> None:
    x = V()
    np.testing.assert_array_equal((x + True).data, x.data + 1)
    np.testing.assert_array_equal((x * 2).data, x.data * 2)


def test_clip_with_array_bounds() -> None:
    x = V()
    y = x.clip(np.array([0.0, 2.5, 0.0]), np.array([0.5, 3.0, 5.0]))
    np.testing.assert_array_equal(y.data, [0.5, 2.5, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])  # only x inside its bounds
    with pytest.raises(ValueError, match="clip: lo=.* is greater than hi"):
        x.clip(np.array([0.0, 3.0, 0.0]), np.array([1.0, 2.0, 1.0]))


def test_grad_with_no_inputs_is_an_empty_tuple() -> None:
    assert tg.autograd.grad(X().sum(), []) == ()


def test_grad_accepts_a_generator_of_inputs() -> None:
    params = [V(), V()]
    grads = tg.autograd.grad((params[0] * params[1]).sum(), (p for p in params))
    np.testing.assert_array_equal(grads[0].data, params[1].data)


def test_float_index_tensor_with_integral_values_indexes() -> None:
    x = X()
    picked = x[Tensor([1.0, 0.0])]  # a Tensor index holds floats; integral ones are accepted
    np.testing.assert_array_equal(picked.data, x.data[[1, 0]])
