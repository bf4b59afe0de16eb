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


def _backward_with_hook_returning(value: Any) -> None:
    h = X() * 2
    h.register_hook(lambda g: value)
    h.sum().backward()


def _backward_through_a_rule_returning(shape: tuple, grad: Any) -> None:
    op = tg.primitive("returns_a_shape", lambda x: x * 2.0, lambda g, out, x: grad)
    op(Tensor(np.ones(shape), requires_grad=True)).sum().backward()


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
    ("dot (2,3).(2,3)", lambda: tg.dot(X(), X()), ValueError, r"dot: .*\(2, 3\) and \(2, 3\)"),
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
    ("transpose (0,2) of 3-D", lambda: tg.zeros((2, 3, 4)).transpose(0, 2), ValueError,
     r"transpose: .*\(2, 3, 4\); to swap two axes, as torch.transpose does, use swapaxes\(0, 2\)"),
    ("transpose (0,0)", lambda: X().transpose(0, 0), ValueError, r"transpose: .*permutation"),
    ("transpose 'a'", lambda: X().transpose("a"), TypeError, r"transpose: axes must be integers"),
    ("swapaxes(0,5)", lambda: X().swapaxes(0, 5), ValueError, r"swapaxes: axis 5 is out of range"),
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
    ("x[1.5:]", lambda: X()[1.5:], TypeError, r"getitem: index slice\(1\.5, .*slice indices"),
    # --- empty arrays and zero-size axes ---------------------------------------------------
    ("mean of empty", lambda: E().mean(), ValueError, r"mean: .*\(0, 3\).*empty"),
    ("mean over an empty axis", lambda: E().mean(axis=0), ValueError, r"mean: .*empty"),
    ("max of empty", lambda: E().max(), ValueError, r"max: .*\(0, 3\).*zero-size"),
    ("min over an empty axis", lambda: E().min(axis=0), ValueError, r"min: .*\(0, 3\)"),
    ("logsumexp axis out of range", lambda: tg.logsumexp(tg.zeros((2, 3)), axis=5), ValueError,
     r"logsumexp: axis 5 is out of range for a tensor with 2 dimensions"),
    ("item() of empty", lambda: Tensor([]).item(), ValueError,
     r"item\(\): only one-element .*shape \(0,\)"),
    # --- methods -----------------------------------------------------------------------------
    ("item() of (2,3)", lambda: X().item(), ValueError, r"item\(\): .*shape \(2, 3\)"),
    ("float() of (2,3)", lambda: float(X()), ValueError, r"item\(\): .*shape \(2, 3\)"),
    ("len() of 0-d", lambda: len(Tensor(1.0)), TypeError, r"len\(\) of a 0-d Tensor"),
    ("bool() of (2,3)", lambda: bool(X()), ValueError, r"truth value .*\(2, 3\) is ambiguous"),
    ("register_hook(3)", lambda: (X() * 1).register_hook(3), TypeError,
     r"register_hook\(\): hook must be callable, got int"),
    ("hook returning a str", lambda: _backward_with_hook_returning("abc"), TypeError,
     r"register_hook: hook .* returned str; it must return None or a gradient of shape \(2, 3\)"),
    ("a rule's gradient of the input's size, other shape",
     lambda: _backward_through_a_rule_returning((3, 4), np.ones((4, 3))), ValueError,
     r"'returns_a_shape': the VJP rule for input 0 returned a gradient of shape \(4, 3\), "
     r"which does not sum to the input's shape \(3, 4\)"),
    ("a rule's 0-d gradient for a (1, 1) input",
     lambda: _backward_through_a_rule_returning((1, 1), np.ones(())), ValueError,
     r"'returns_a_shape': the VJP rule for input 0 returned a gradient of shape \(\), "),
    ("a rule's gradient with an axis more than its input and output",
     lambda: _backward_through_a_rule_returning((3,), np.ones((2, 3))), ValueError,
     r"'returns_a_shape': the VJP rule for input 0 returned a gradient of shape \(2, 3\) for "
     r"an input of shape \(3,\) \(the output has shape \(3,\)\)"),
    ("hook returning a wrong shape", lambda: _backward_with_hook_returning(np.ones(5)),
     ValueError, r"register_hook: hook .* returned a gradient of shape \(5,\), expected \(2, 3\)"),
    ("astype('bogus')", lambda: X().astype("bogus"), TypeError,
     r"astype: dtype='bogus' is not a NumPy dtype"),
    ("register_hook without grad", lambda: Tensor(1.0).register_hook(print), RuntimeError,
     r"register_hook\(\) on a tensor that does not require grad"),
    ("retain_grad without grad", lambda: Tensor(1.0).retain_grad(), RuntimeError,
     r"retain_grad\(\) on a tensor that does not require grad"),
    ("set_grad_enabled('no')", lambda: tg.set_grad_enabled("no"), TypeError,
     r"set_grad_enabled: mode must be a bool, got 'no'"),
    ("detect_anomaly('yes')", lambda: tg.detect_anomaly("yes"), TypeError,
     r"detect_anomaly: mode must be a bool"),
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
    ("np.spacing(x)", lambda: np.spacing(X()), TypeError,
     r"np.spacing has no differentiable counterpart.*tg.exp"),
    ("np.median(x)", lambda: np.median(X()), TypeError, r"np.median is not differentiable"),
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


@pytest.mark.parametrize("kind", [np.float16, np.longdouble])
def test_operands_of_other_float_dtypes_compute_in_float64_or_the_tensors_float32(kind) -> None:
    """A Tensor's data is float32 or float64: a half or long double operand is a number (a NumPy
    scalar) or becomes float64 (an array), as Tensor() makes it."""
    x = V()
    for operand in (kind(1.5), np.full(3, 1.5, dtype=kind)):
        for y in (x * operand, operand * x, x ** operand, x - operand):
            assert y.dtype == np.float64
        assert (Tensor(np.ones(3, dtype=np.float32)) * operand).dtype == np.float32
    (x ** kind(1.5)).sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.5 * x.data ** 0.5, rtol=1e-15)


def test_a_byte_swapped_float64_operand_is_float64_beside_a_float32_tensor() -> None:
    """Only operands without a float dtype of their own (ints, bools, lists, half) follow a
    float32 Tensor; a float64 array in the other byte order is float64, as in its own order."""
    a = Tensor(np.ones(3, np.float32))
    w = np.array([0.1, 0.2, 0.3])
    swapped = w.astype(w.dtype.newbyteorder())
    for y in (a + swapped, swapped * a, a - swapped):
        assert y.dtype == np.float64
    np.testing.assert_array_equal((a + swapped).data, (a + w).data)


def test_clip_bounds_of_other_float_dtypes_keep_the_tensors_dtype() -> None:
    x = V()
    assert x.clip(np.longdouble(0.0), np.longdouble(0.5)).dtype == np.float64
    assert x.clip(np.zeros(3, np.longdouble), None).dtype == np.float64
    assert Tensor(np.ones(3, np.float32)).clip(np.float16(0.0), None).dtype == np.float32


def test_an_index_whose_bound_raises_is_refused_naming_getitem() -> None:
    class Odd(TypeError):
        def __init__(self, code: int, detail: str) -> None:
            super().__init__(f"{code}: {detail}")

    class Bound:
        def __index__(self) -> int:
            raise Odd(7, "no bound")
    with pytest.raises(TypeError, match=r"getitem: index slice\(.*shape \(3,\): 7: no bound"):
        V()[Bound():]


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


# --- the rest of the library: models, losses, optimizers, files, transforms, checks, graphs ----

def _has(*names: str) -> bool:
    return all(hasattr(tg, n) for n in names)


def _linear() -> Any:
    return tg.nn.Linear(3, 2, rng=0)


def _quadratic(p: Tensor) -> Tensor:
    return (p * p).sum()


# (id, needed tg attributes, call, exception type, regex the message must match)
LIBRARY_ERRORS: list[tuple[str, tuple, Callable[[], Any], type, str]] = [
    # tg.nn
    ("Linear(-1, 2)", ("nn",), lambda: tg.nn.Linear(-1, 2), ValueError,
     r"Linear: in_features must be a positive integer, got -1"),
    ("Linear(2.5, 2)", ("nn",), lambda: tg.nn.Linear(2.5, 2), ValueError,
     r"Linear: in_features must be a positive integer, got 2\.5"),
    ("Linear(3, 'a')", ("nn",), lambda: tg.nn.Linear(3, "a"), (TypeError, ValueError),
     r"Linear: out_features must be a positive integer"),
    ("Linear(rng='x')", ("nn",), lambda: tg.nn.Linear(3, 2, rng="x"), TypeError,
     r"rng must be a numpy.random.Generator"),
    ("Linear on (4, 5)", ("nn",), lambda: _linear()(Tensor(np.ones((4, 5)))), ValueError,
     r"Linear\(in_features=3, out_features=2\): input of shape \(4, 5\)"),
    ("Sequential(3)", ("nn",), lambda: tg.nn.Sequential(3), TypeError,
     r"Sequential: item 0 is a int, not a tg.nn.Module"),
    ("MSELoss shapes", ("nn",), lambda: tg.nn.MSELoss()(Tensor(np.ones(3)), np.ones(4)),
     ValueError, r"mse_loss: prediction of shape \(3,\) and target of shape \(4,\)"),
    ("MSELoss (3,1) vs (3,)", ("nn",),
     lambda: tg.nn.MSELoss()(Tensor(np.ones((3, 1))), np.ones(3)), ValueError,
     r"mse_loss: .*\(3, 1\).*\(3,\).*no broadcasting"),
    ("MSELoss(reduction='avg')", ("nn",), lambda: tg.nn.MSELoss(reduction="avg"), ValueError,
     r"MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    ("SSELoss shapes", ("nn",), lambda: tg.nn.SSELoss()(Tensor(np.ones(3)), np.ones(4)),
     ValueError, r"sse_loss: .*\(3,\).*\(4,\)"),
    ("ChiSquaredLoss(sigma=0)", ("nn",),
     lambda: tg.nn.ChiSquaredLoss(sigma=0.0)(Tensor(np.ones(3)), np.zeros(3)), ValueError,
     r"chi_squared_loss: sigma must be positive"),
    ("ChiSquaredLoss sigma shape", ("nn",),
     lambda: tg.nn.ChiSquaredLoss(sigma=np.ones(4))(Tensor(np.ones(3)), np.zeros(3)),
     ValueError, r"chi_squared_loss: sigma of shape \(4,\)"),
    ("BCELoss prediction 1.5", ("nn",),
     lambda: tg.nn.BCELoss()(Tensor([1.5, 0.2]), np.array([1.0, 0.0])), ValueError,
     r"binary_cross_entropy: every prediction value must be a probability"),
    ("BCELoss target 2", ("nn",),
     lambda: tg.nn.BCELoss()(Tensor([0.5, 0.2]), np.array([2.0, 0.0])), ValueError,
     r"binary_cross_entropy: every target value must be a probability"),
    ("CrossEntropyLoss float targets", ("nn",),
     lambda: tg.nn.CrossEntropyLoss()(Tensor(np.ones((2, 3))), np.array([0.5, 1.0])),
     TypeError, r"cross_entropy: target must hold integer class indices"),
    ("CrossEntropyLoss class 3 of 3", ("nn",),
     lambda: tg.nn.CrossEntropyLoss()(Tensor(np.ones((2, 3))), np.array([0, 3])), ValueError,
     r"cross_entropy: target\[1\] = 3 is not a class index in \[0, 3\)"),
    ("CrossEntropyLoss class -1", ("nn",),
     lambda: tg.nn.CrossEntropyLoss()(Tensor(np.ones((2, 3))), np.array([0, -1])), ValueError,
     r"cross_entropy: target\[1\] = -1"),
    ("CrossEntropyLoss count", ("nn",),
     lambda: tg.nn.CrossEntropyLoss()(Tensor(np.ones((2, 3))), np.array([0, 1, 2])),
     ValueError, r"cross_entropy: logits of shape \(2, 3\) and target of shape \(3,\)"),
    ("CrossEntropyLoss empty batch", ("nn",),
     lambda: tg.nn.CrossEntropyLoss()(Tensor(np.ones((0, 3))), np.array([], dtype=int)),
     ValueError, r"cross_entropy: the mean over an empty batch"),
    ("Parameter('abc')", ("nn",), lambda: tg.nn.Parameter("abc"), TypeError,
     r"Tensor: data must be numeric, got str"),
    # tg.datasets
    ("curve('bogus')", ("datasets",), lambda: tg.datasets.curve("bogus"), ValueError,
     r"curve: unknown curve 'bogus'; choose one of"),
    ("curve(n=2.5)", ("datasets",), lambda: tg.datasets.curve("heart", 2.5), ValueError,
     r"curve: n must be an integer of at least 2, got 2\.5"),
    ("heights(n=-1)", ("datasets",), lambda: tg.datasets.heights(-1), ValueError,
     r"heights: n must be an integer of at least 2, got -1"),
    ("load_curve_csv(missing)", ("datasets",),
     lambda: tg.datasets.load_curve_csv("/nonexistent/curve.csv"), FileNotFoundError,
     r"/nonexistent/curve.csv"),
    # tg.optim
    ("SGD(lr=-1)", ("optim",), lambda: tg.optim.SGD(_linear().parameters(), lr=-1), ValueError,
     r"SGD: lr must be >= 0"),
    ("SGD(lr='a')", ("optim",), lambda: tg.optim.SGD(_linear().parameters(), lr="a"), TypeError,
     r"SGD: lr must be a number, got str"),
    ("SGD([])", ("optim",), lambda: tg.optim.SGD([], lr=0.1), ValueError,
     r"SGD: got an empty parameter list"),
    ("SGD([ndarray])", ("optim",), lambda: tg.optim.SGD([np.ones(3)], lr=0.1), TypeError,
     r"SGD: parameter 0 is a ndarray, not a Tensor"),
    ("SGD(Tensor)", ("optim",),
     lambda: tg.optim.SGD(Tensor(np.ones(3), requires_grad=True), lr=0.1), TypeError,
     r"SGD: params must be an iterable of Tensors"),
    ("SGD(nesterov, no momentum)", ("optim",),
     lambda: tg.optim.SGD(_linear().parameters(), lr=0.1, nesterov=True), ValueError,
     r"SGD: nesterov=True requires momentum > 0"),
    ("Adam(betas=(1.5, .9))", ("optim",),
     lambda: tg.optim.Adam(_linear().parameters(), betas=(1.5, 0.9)), ValueError,
     r"Adam: betas\[0\] must be in \[0.0, 1.0\), got 1.5"),
    ("Adam(lr=nan)", ("optim",), lambda: tg.optim.Adam(_linear().parameters(), lr=float("nan")),
     ValueError, r"Adam: lr must be >= 0.0, got nan"),
    ("Newton.step()", ("optim",), lambda: tg.optim.Newton(_linear().parameters()).step(),
     TypeError, r"Newton.step needs a closure"),
    ("Newton closure -> float", ("optim",),
     lambda: tg.optim.Newton(_linear().parameters()).step(lambda: 1.0), TypeError,
     r"Newton.step: closure\(\) must return the loss as a one-element Tensor, got float"),
    # tg.save / tg.load / load_state_dict (the files themselves: see the tests below)
    ("save(list)", ("save",), lambda: tg.save([1, 2], os.devnull), TypeError,
     r"tg.save: expected a dict of names to arrays"),
    ("save(object array)", ("save",),
     lambda: tg.save({"a": np.array([object()])}, os.devnull), TypeError,
     r"tg.save: 'a' has dtype object.*no pickled objects"),
    ("save(key 'a/b')", ("save",), lambda: tg.save({"a/b": np.ones(2)}, os.devnull), ValueError,
     r"tg.save: key 'a/b' is not a usable name"),
    ("load(missing)", ("load",), lambda: tg.load("/nonexistent/state.npz"), FileNotFoundError,
     r"tg.load: no such file: '/nonexistent/state.npz'"),
    ("load_state_dict(str)", ("nn",), lambda: _linear().load_state_dict("abc"), TypeError,
     r"load_state_dict: expected a mapping of names to arrays, got str"),
    ("load_state_dict missing key", ("nn",),
     lambda: _linear().load_state_dict({"weight": np.ones((2, 3))}), ValueError,
     r"load_state_dict for Linear: missing keys \['bias'\]; nothing was loaded"),
    ("load_state_dict unexpected key", ("nn",),
     lambda: _linear().load_state_dict({"weight": np.ones((2, 3)), "bias": np.ones(2),
                                        "extra": np.ones(1)}), ValueError,
     r"unexpected keys \['extra'\]; nothing was loaded"),
    ("load_state_dict shape", ("nn",),
     lambda: _linear().load_state_dict({"weight": np.ones((3, 3)), "bias": np.ones(2)}),
     ValueError, r"'weight': parameter shape \(2, 3\), given \(3, 3\); nothing was loaded"),
    ("load_state_dict strings", ("nn",),
     lambda: _linear().load_state_dict({"weight": np.full((2, 3), "a"), "bias": np.ones(2)}),
     TypeError, r"'weight' has non-numeric dtype"),
    # tg.optimize
    ("minimize(method='bogus')", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), method="bogus"), ValueError,
     r"minimize: unknown method 'bogus'"),
    ("minimize(x0='ab')", ("optimize",), lambda: tg.optimize.minimize(_quadratic, "ab"),
     TypeError, r"minimize: x0 must be a number or an array of numbers, got str"),
    ("minimize(vector f)", ("optimize",),
     lambda: tg.optimize.minimize(lambda p: p * p, np.ones(2)), ValueError,
     r"minimize: f must return a single element"),
    ("minimize(x0 with NaN)", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.array([np.nan, 1.0])), ValueError,
     r"minimize: x0 contains NaN or infinity"),
    ("minimize(max_iter=-1)", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), max_iter=-1), ValueError,
     r"minimize: max_iter must be an integer >= 0"),
    ("minimize(lr=-1)", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), lr=-1.0), ValueError,
     r"minimize: lr must be a positive number"),
    ("minimize(lr='0.1')", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), lr="0.1"), TypeError,
     r"minimize: lr must be a positive number, got str"),
    ("minimize(betas=(1, .999))", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), method="adam", betas=(1.0, 0.999)),
     ValueError, r"minimize: betas\[0\] must be in \[0.0, 1.0\), got 1.0"),
    ("minimize(betas=(.9, 1))", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), method="adam", betas=(0.9, 1.0)),
     ValueError, r"minimize: betas\[1\] must be in \[0.0, 1.0\), got 1.0"),
    ("minimize(eps=-1)", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), method="adam", eps=-1.0),
     ValueError, r"minimize: eps must be >= 0.0, got -1.0"),
    ("minimize(momentum=-1)", ("optimize",),
     lambda: tg.optimize.minimize(_quadratic, np.ones(2), method="momentum", momentum=-1.0),
     ValueError, r"minimize: momentum must be >= 0.0, got -1.0"),
    ("newton_raphson 2 -> 1", ("optimize",),
     lambda: tg.optimize.newton_raphson(lambda p: p.sum(), np.ones(2)), ValueError,
     r"newton_raphson: f maps 2 unknown\(s\) to 1 value\(s\)"),
    ("lagrange(constraints='x')", ("optimize",),
     lambda: tg.optimize.lagrange(_quadratic, "x", np.ones(2)), TypeError,
     r"lagrange: constraints must be a function"),
    ("least_squares_fit shapes", ("optimize",),
     lambda: tg.optimize.least_squares_fit(lambda x, p: p[0] * x, np.ones(3), np.ones(4),
                                           np.ones(1)), ValueError,
     r"least_squares_fit: model\(x, p\) returned shape \(3,\) but y has shape \(4,\)"),
    ("least_squares_fit(model=3)", ("optimize",),
     lambda: tg.optimize.least_squares_fit(3, np.ones(3), np.ones(3), np.ones(1)), TypeError,
     r"least_squares_fit: model must be a function model\(x, p\), got int"),
    ("least_squares_fit model -> ndarray", ("optimize",),
     lambda: tg.optimize.least_squares_fit(lambda x, p: np.ones(3), np.ones(3), np.ones(3),
                                           np.ones(1), jacobian="columns"), TypeError,
     r"least_squares_fit: model\(x, p\) must return a Tensor .* got ndarray"),
    ("least_squares_fit(y=strings)", ("optimize",),
     lambda: tg.optimize.least_squares_fit(lambda x, p: p[0] * x, np.ones(2), ["a", "b"],
                                           np.ones(1)), TypeError,
     r"least_squares_fit: y must be a number or an array of numbers, got list"),
    ("least_squares_fit(sigma=strings)", ("optimize",),
     lambda: tg.optimize.least_squares_fit(lambda x, p: p[0] * x, np.ones(2), np.ones(2),
                                           np.ones(1), sigma=["a", "b"]), TypeError,
     r"least_squares_fit: sigma must be a number or an array of numbers, got list"),
    ("least_squares_fit sigma 0", ("optimize",),
     lambda: tg.optimize.least_squares_fit(lambda x, p: p[0] * x, np.ones(3), np.ones(3),
                                           np.ones(1), sigma=np.zeros(3)), ValueError,
     r"least_squares_fit: every sigma must be positive"),
    # graphs
    ("draw_graph(3)", ("draw_graph",), lambda: tg.draw_graph(3), TypeError,
     r"expected a Tensor .*got int"),
    ("draw_graph(rankdir='XY')", ("draw_graph",),
     lambda: tg.draw_graph(Tensor(1.0, requires_grad=True) * 2, rankdir="XY"), ValueError,
     r"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got 'XY'"),
    ("graph_text('a')", ("graph_text",), lambda: tg.graph_text("a"), TypeError,
     r"expected a Tensor .*got str"),
    # checks and transforms
    ("gradcheck(eps=0)", ("gradcheck",),
     lambda: tg.gradcheck(lambda t: t * 2, Tensor(np.ones(2), requires_grad=True), eps=0),
     ValueError, r"gradcheck: eps must be a positive finite number, got 0"),
    ("gradcheck(f -> float)", ("gradcheck",),
     lambda: tg.gradcheck(lambda t: 3.0, Tensor(np.ones(2), requires_grad=True)), TypeError,
     r"must return a Tensor, got float"),
    ("numerical_jacobian(method='bogus')", ("numerical_jacobian",),
     lambda: tg.numerical_jacobian(lambda t: t * 2, Tensor(np.ones(2)), method="bogus"),
     ValueError, r"numerical_jacobian: method must be 'central' or 'forward', got 'bogus'"),
    ("taylor(order=-1)", ("taylor",), lambda: tg.taylor(lambda t: t.sin(), 1.0, -1), ValueError,
     r"taylor: order must be a non-negative int, got -1"),
    ("taylor(order 3, vector x0)", ("taylor",),
     lambda: tg.taylor(lambda t: t.sin().sum(), np.ones(2), 3), ValueError,
     r"taylor: order 3 needs a one-element x0"),
    ("value_and_grad(3)", ("value_and_grad",), lambda: tg.value_and_grad(3), TypeError,
     r"value_and_grad: the function to differentiate must be callable, got int"),
    ("grad(3)", ("grad",), lambda: tg.grad(3), TypeError,
     r"grad: the function to differentiate must be callable, got int"),
    ("jacobian(None)", ("jacobian",), lambda: tg.jacobian(None), TypeError,
     r"jacobian: the function to differentiate must be callable, got NoneType"),
    ("hessian('f')", ("hessian",), lambda: tg.hessian("f"), TypeError,
     r"hessian: the function to differentiate must be callable, got str"),
    ("vjp(3, x)", ("vjp",), lambda: tg.vjp(3, 1.0), TypeError,
     r"vjp: the function to differentiate must be callable"),
    ("grad(argnums='a')", ("grad",), lambda: tg.grad(_quadratic, argnums="a")(1.0), TypeError,
     r"grad: argnums must be an int or a tuple of ints, got 'a'"),
    ("grad(f -> float)", ("grad",), lambda: tg.grad(lambda t: 3.0)(1.0), TypeError,
     r"grad: the function must return a Tensor, got float"),
    ("grad(vector f)", ("grad",), lambda: tg.grad(lambda t: t * 2)(np.ones(3)), ValueError,
     r"grad: the function must return a single element.*\(3,\).*tg.jacobian"),
    ("grad(argnums=3)", ("grad",), lambda: tg.grad(_quadratic, argnums=3)(1.0), ValueError,
     r"grad: argnums=3 is out of range for a call with 1 positional argument"),
    ("grad(f)('abc')", ("grad",), lambda: tg.grad(_quadratic)("abc"), TypeError,
     r"numeric.*str"),
    ("hessian(argnums=(0, 2))", ("hessian",),
     lambda: tg.hessian(_quadratic, argnums=(0, 2))(1.0), ValueError,
     r"hessian: argnums=\(0, 2\) is out of range"),
    ("hessian(vector f)", ("hessian",), lambda: tg.hessian(lambda a: a * 2)(np.ones(2)),
     ValueError, r"hessian: the function must return a single element"),
    ("jvp(primals not tuple)", ("jvp",), lambda: tg.jvp(lambda a: a, 1.0, 1.0), TypeError,
     r"jvp: primals must be a tuple \(as in JAX\)"),
    ("jvp(count)", ("jvp",), lambda: tg.jvp(lambda a: a, (1.0,), (1.0, 2.0)), ValueError,
     r"jvp: 1 primals but 2 tangents"),
    ("jvp(tangent shape)", ("jvp",),
     lambda: tg.jvp(lambda a: a, (np.ones(2),), (np.ones(3),)), ValueError,
     r"jvp: tangent 0 has shape \(3,\) but its primal has shape \(2,\)"),
    ("vjp cotangent shape", ("vjp",), lambda: tg.vjp(lambda a: a * 2, np.ones(2))[1](np.ones(3)),
     ValueError, r"vjp: cotangent has shape \(3,\) but the output has shape \(2,\)"),
    ("hvp(vector f)", ("hvp",), lambda: tg.hvp(lambda a: a * 2, (np.ones(2),), (np.ones(2),)),
     ValueError, r"hvp: the function must return a single element"),
]


@pytest.mark.parametrize("call, error, pattern", [
    pytest.param(c, e, p, id=i, marks=pytest.mark.skipif(
        not _has(*needs), reason=f"tg.{'/'.join(needs)} not available"))
    for i, needs, c, e, p in LIBRARY_ERRORS])
def test_library_bad_input_raises_a_clear_error(call: Callable[[], Any], error: type,
                                                pattern: str) -> None:
    test_bad_input_raises_a_clear_error(call, error, pattern)


def test_library_table_ids_are_unique() -> None:
    ids = [row[0] for row in ERRORS + [r[:1] + r[2:] for r in LIBRARY_ERRORS]]
    assert len(ids) == len(set(ids))


# --- files: a crash mid-save, pickles, and nothing half-loaded -------------------------------

_CRASHING_SAVE = """
import os, signal, sys
import numpy as np
import tinygrad_mv as tg

written = []
real_write = np.lib.format.write_array

def write_then_die(*args, **kwargs):
    real_write(*args, **kwargs)
    written.append(1)
    if len(written) == 2:  # two arrays are in the temporary file: the process dies, no cleanup
        os.kill(os.getpid(), signal.SIGKILL)

np.lib.format.write_array = write_then_die
tg.save({f"w{i}": np.full(1000, -1.0) for i in range(5)}, sys.argv[1])
"""


@pytest.mark.skipif(not _has("save", "load") or os.name != "posix", reason="needs tg.save, POSIX")
def test_a_process_killed_mid_save_leaves_the_old_checkpoint(tmp_path: Any) -> None:
    import signal
    import subprocess
    import sys

    path = tmp_path / "model.npz"
    good = {f"w{i}": np.full(1000, float(i)) for i in range(5)}
    tg.save(good, path)
    script = tmp_path / "crash.py"
    script.write_text(_CRASHING_SAVE)
    proc = subprocess.run([sys.executable, str(script), str(path)], capture_output=True,
                          timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    loaded = tg.load(path)  # the good checkpoint, whole and unchanged
    assert sorted(loaded) == sorted(good)
    for key, value in good.items():
        np.testing.assert_array_equal(loaded[key], value)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("model.npz", "crash.py")]
    assert all(name.startswith(".") for name in leftovers), leftovers  # hidden temporaries only
    tg.save(good, path)  # and saving again works


@pytest.mark.skipif(not _has("load"), reason="needs tg.load")
def test_load_refuses_a_pickled_object_array(tmp_path: Any) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(path, evil=np.array([{"code": "runs on load"}], dtype=object), ok=np.ones(2))
    with pytest.raises(ValueError, match=r"tg.load: .*pickled.npz"):
        tg.load(path)


@pytest.mark.skipif(not _has("nn"), reason="needs tg.nn")
@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape", "dtype"])
def test_load_state_dict_refusal_leaves_every_parameter_untouched(damage: str) -> None:
    model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=0), tg.nn.Tanh(), tg.nn.Linear(4, 2, rng=1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: v + 100.0 for k, v in model.state_dict().items()}  # valid values to load...
    last = list(state)[-1]
    if damage == "missing":
        del state[last]
    elif damage == "unexpected":
        state["3.weight"] = np.ones((2, 4))
    elif damage == "shape":
        state[last] = np.ones(7)  # ...but the last one is wrong: nothing may be half-loaded
    else:
        state[last] = np.array(["x"] * state[last].size)
    with pytest.raises((ValueError, TypeError), match=r"load_state_dict.*nothing was loaded"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        assert value.tobytes() == before[key].tobytes(), f"{key} was changed by a refused load"


@pytest.mark.skipif(not _has("nn", "save", "load"), reason="needs tg.nn, tg.save, tg.load")
def test_a_checkpoint_of_another_model_is_refused_naming_the_keys(tmp_path: Any) -> None:
    small = tg.nn.Linear(3, 2, rng=0)
    other = tg.nn.Sequential(tg.nn.Linear(3, 2, rng=0))
    tg.save(other.state_dict(), tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"missing keys \['weight', 'bias'\].*unexpected keys"):
        small.load_state_dict(tg.load(tmp_path / "other.npz"))


# --- every elementwise op, reduction and binary op, systematically ---------------------------

UNARY_OPS = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "square",
             "log_sigmoid"]
BINARY_OPS = ["add", "sub", "mul", "div", "power", "maximum", "minimum", "matmul"]
REDUCTIONS = ["sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax"]
BAD_OPERANDS = [("str", "abc", "str"), ("None", None, "NoneType"), ("complex", 1 + 2j, "complex"),
                ("object", object(), "object"), ("complex array", np.ones(2, complex), "complex")]


def _op(name: str) -> Callable:
    if not hasattr(tg, name):
        pytest.skip(f"tg.{name} not available")
    return getattr(tg, name)


@pytest.mark.parametrize("name", UNARY_OPS)
@pytest.mark.parametrize("label, operand, named", BAD_OPERANDS, ids=[b[0] for b in BAD_OPERANDS])
def test_every_unary_op_refuses_non_numeric_operands(name: str, label: str, operand: Any,
                                                     named: str) -> None:
    with pytest.raises(TypeError, match=f"unsupported operand.*{named}"):
        _op(name)(operand)


@pytest.mark.parametrize("name", BINARY_OPS)
@pytest.mark.parametrize("label, operand, named", BAD_OPERANDS, ids=[b[0] for b in BAD_OPERANDS])
def test_every_binary_op_refuses_non_numeric_operands(name: str, label: str, operand: Any,
                                                      named: str) -> None:
    fn = _op(name)
    for args in ((V(), operand), (operand, V())):
        with pytest.raises((TypeError, ValueError), match=f"unsupported operand.*{named}|matmul"):
            fn(*args)


@pytest.mark.parametrize("name", [n for n in BINARY_OPS if n != "matmul"])
def test_every_binary_op_names_itself_and_both_shapes(name: str) -> None:
    label = {"power": "pow"}.get(name, name)
    with pytest.raises(ValueError, match=rf"{label}: .*\(2, 3\) and \(4,\)"):
        _op(name)(X(), Tensor(np.ones(4)))


@pytest.mark.parametrize("name", UNARY_OPS)
def test_every_unary_op_on_empty_nan_int_and_float32(name: str) -> None:
    fn = _op(name)
    e = E()  # empty: an empty result, and an empty gradient
    y = fn(e)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert e.grad.shape == (0, 3)
    t = Tensor([np.nan, 0.5], requires_grad=True)  # NaN: propagates, no exception
    y = fn(t)
    assert np.isnan(y.data[0]) and np.isfinite(y.data[1])
    y.sum().backward()
    assert np.isfinite(t.grad.data[1])
    ints = Tensor([1, 2], dtype=np.int64)  # integer data: no graph; dtype as NumPy and PyTorch:
    y = fn(ints)  # integer-valued ops keep int64, the others compute in float64
    expected = np.int64 if name in ("relu", "abs", "square") else np.float64
    assert y.dtype == expected and not y.requires_grad
    f32 = Tensor(np.array([0.5, 2.0], dtype=np.float32), requires_grad=True)
    y = fn(f32)
    y.sum().backward()
    assert y.dtype == np.float32 and f32.grad.dtype == np.float32


@pytest.mark.parametrize("name", REDUCTIONS)
def test_every_reduction_names_itself_for_bad_axes(name: str) -> None:
    fn = _op(name)
    with pytest.raises(ValueError, match=f"{name}: axis 5 is out of range"):
        fn(X(), axis=5)
    with pytest.raises(TypeError, match=f"{name}: axis must be an int"):
        fn(X(), axis=1.5)
    with pytest.raises(TypeError, match=f"{name}: axis must be an int"):
        fn(X(), axis="a")
    if name not in ("softmax", "log_softmax"):
        with pytest.raises(ValueError, match=f"{name}: repeated axis"):
            fn(X(), axis=(1, -1))


def test_requires_grad_must_be_a_bool() -> None:
    for bad in ("yes", "no", 1, None, [True]):
        with pytest.raises(TypeError, match="requires_grad"):
            Tensor([1.0], requires_grad=bad)
    assert Tensor([1.0], requires_grad=np.bool_(True)).requires_grad


@pytest.mark.parametrize("call", [
    lambda: tg.optimize.minimize(3, [0.0]),
    lambda: tg.optimize.newton_raphson("f", 1.0),
    lambda: tg.optimize.lagrange(None, [lambda x: x.sum()], [1.0, 1.0]),
    lambda: tg.gradcheck(1, (Tensor([1.0], requires_grad=True),)),
    lambda: tg.gradgradcheck(1, (Tensor([1.0], requires_grad=True),)),
])
def test_checks_and_solvers_name_a_non_callable_function(call) -> None:
    with pytest.raises(TypeError, match=r"(minimize|newton_raphson|lagrange|gradcheck|"
                                        r"gradgradcheck): f must be"):
        call()


@pytest.mark.parametrize("kwargs", [{"tol": -1.0}, {"tol": "small"}, {"max_iter": -1},
                                    {"max_iter": 2.5}])
def test_solvers_refuse_impossible_stopping_rules(kwargs) -> None:
    square = lambda x: x * x - 2.0  # noqa: E731
    with pytest.raises(ValueError, match="newton_raphson: (tol|max_iter)"):
        tg.optimize.newton_raphson(square, 1.0, **kwargs)
    with pytest.raises(ValueError, match="minimize: (tol|max_iter)"):
        tg.optimize.minimize(lambda x: (x * x).sum(), [1.0], **kwargs)
