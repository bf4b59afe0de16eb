"""numerical_jacobian, gradcheck and gradgradcheck: against hand-derived Jacobians, on
deliberately wrong rules, and over the whole core operation set."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor
from tinygrad_mv.autograd import primitive
from tinygrad_mv.commands.gradcheck import op_cases, ops_exercised
from tinygrad_mv.ops._util import value

from conftest import assert_close
from functions import F, F_jacobian, V0


# A sine whose derivative rule is off by 1 %: gradcheck must notice.
bad_sin = primitive("bad_sin", np.sin, lambda g, out, x: g * np.cos(x) * 1.01)
# x^3 whose rule is right in value but reads x as a constant: first derivatives are right, the
# recorded backward pass is wrong (d/dx of 3 x value(x) is 3 value(x), not 6x).
half_cube = primitive("half_cube", lambda x: x ** 3, lambda g, out, x: g * 3 * x * value(x))


# --- numerical_jacobian -------------------------------------------------------------------------
def test_numerical_jacobian_central_matches_hand_jacobian():
    jac = tg.numerical_jacobian(F, V0)
    assert isinstance(jac, Tensor) and jac.shape == (2, 3) and jac.dtype == np.float64
    assert_close(jac, F_jacobian(V0), rtol=1e-8, atol=1e-9)


def test_forward_differences_are_first_order_and_central_second_order():
    f = tg.exp  # f' = f'' = f''' = e^x: forward error ~ eps/2 e^x, central ~ eps^2/6 e^x
    x = np.array([0.3])
    for eps in (1e-2, 1e-3):
        forward = tg.numerical_jacobian(f, x, eps=eps, method="forward").item()
        central = tg.numerical_jacobian(f, x, eps=eps, method="central").item()
        assert forward - np.exp(0.3) == pytest.approx(eps / 2 * np.exp(0.3), rel=0.01)
        assert central - np.exp(0.3) == pytest.approx(eps ** 2 / 6 * np.exp(0.3), rel=0.01)


def test_numerical_jacobian_shapes_and_kinds_of_input():
    seen = []

    def spy(a):
        seen.append(type(a))
        return a[..., :2] * 2.0
    x = np.arange(6.0).reshape(3, 2)
    jac = tg.numerical_jacobian(spy, x)
    assert jac.shape == (3, 2, 3, 2)
    assert_close(jac, 2 * np.eye(6).reshape(3, 2, 3, 2), rtol=1e-9, atol=1e-9)
    assert set(seen) == {np.ndarray}  # an ndarray goes to f as an ndarray (NumPy speed)
    seen.clear()
    tg.numerical_jacobian(spy, Tensor(x))
    assert set(seen) == {Tensor}
    assert_close(tg.numerical_jacobian(lambda t: t * t, 3.0), 6.0, rtol=1e-9, atol=0)
    assert_close(tg.numerical_jacobian(lambda t: (t ** 2).sum(), [1.0, 2.0]), [2.0, 4.0],
                 rtol=1e-9, atol=1e-9)


def test_numerical_jacobian_records_nothing_and_leaves_x_alone():
    x = Tensor([1.0, 2.0], requires_grad=True)
    outputs = []
    jac = tg.numerical_jacobian(lambda t: outputs.append(t * 3) or t * 3, x)
    assert not any(o.requires_grad for o in outputs)
    assert_close(x, [1.0, 2.0], 0, 0)
    assert_close(jac, 3 * np.eye(2), rtol=1e-9, atol=1e-9)


def test_numerical_jacobian_bad_arguments():
    with pytest.raises(ValueError, match="method must be 'central' or 'forward'.*'backward'"):
        tg.numerical_jacobian(tg.exp, np.ones(2), method="backward")
    with pytest.raises(ValueError, match="eps must be a positive"):
        tg.numerical_jacobian(tg.exp, np.ones(2), eps=0.0)


# --- gradcheck ----------------------------------------------------------------------------------
def test_gradcheck_passes_on_correct_functions(rng):
    assert tg.gradcheck(F, (Tensor(V0, requires_grad=True),)) is True
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    assert tg.gradcheck(lambda x, y: tg.softmax(x * y, axis=0), (a, b)) is True
    assert tg.gradcheck(lambda x: tg.logsumexp(x, axis=1), Tensor(a)) is True


def test_gradcheck_catches_a_wrong_gradient_and_names_the_worst_entry():
    x = np.array([0.3, 1.2, -0.4])
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda t: bad_sin(t) * 2.0, (x,))
    err = info.value
    # d/dx 2 sin x = 2 cos x; the rule gives 1 % more, largest where |cos x| is largest
    worst = int(np.argmax(np.abs(np.cos(x))))
    assert err.input_index == 0 and err.index == (worst,) and err.output_index == (worst,)
    assert err.analytic == pytest.approx(2.02 * np.cos(x[worst]), rel=1e-12)
    assert err.numerical == pytest.approx(2 * np.cos(x[worst]), rel=1e-8)
    assert (err.atol, err.rtol) == (1e-5, 1e-3)
    message = str(err)
    for part in ("input 0", f"input index ({worst},)", "analytic", "numerical",
                 f"{err.analytic!r}", "atol=1e-05", "rtol=0.001"):
        assert part in message, part


def test_gradcheck_names_the_right_input_among_several():
    x, y = np.array([0.5, 0.1]), np.array([0.7, -0.2])
    with pytest.raises(tg.GradcheckError, match="input 1") as info:
        tg.gradcheck(lambda a, b: a * bad_sin(b), (x, y))
    assert info.value.input_index == 1


def test_gradcheck_fwd_mode_message_names_forward_mode():
    # the analytic Jacobian of mode="fwd" comes from forward mode: the message must say so
    sq = primitive("sq_bad_jvp", np.square, lambda g, out, x: g * 2 * x,
                   jvps=(lambda t, out, x: t * x,))
    x = np.array([0.5, 1.5])
    assert tg.gradcheck(sq, (x,))
    with pytest.raises(tg.GradcheckError, match=r"analytic \(forward mode\)") as info:
        tg.gradcheck(sq, (x,), mode="fwd")
    assert "reverse mode" not in str(info.value)
    assert info.value.comparison.mode == "fwd"


def test_gradcheck_takes_a_tuple_of_outputs_and_names_the_wrong_one():
    # as torch.autograd.gradcheck: each output of a tuple is checked against the inputs
    x, y = np.array([0.3, 1.2]), np.array([0.7])
    assert tg.gradcheck(lambda a, b: (a * b, tg.sin(a).sum()), (x, y)) is True
    assert tg.gradcheck(lambda a, b: [a * b, tg.sin(a).sum()], (x, y), mode="fwd") is True
    with pytest.raises(tg.GradcheckError, match=r"output 1 \(shape \(\)\)") as info:
        tg.gradcheck(lambda a, b: (a * b, bad_sin(a).sum() * b[0]), (x, y))
    assert info.value.output == 1 and info.value.input_index == 0
    assert tg.gradcheck(lambda a: (a * 2, bad_sin(a)), (x,), raise_exception=False) is False
    with pytest.raises(TypeError, match="must return a Tensor, got a tuple whose item 1 is a "
                                        "float"):
        tg.gradcheck(lambda a: (a * 2, 3.0), (x,))


def test_gradcheck_returns_false_when_asked_not_to_raise():
    assert tg.gradcheck(bad_sin, (np.array([0.2]),), raise_exception=False) is False
    assert tg.gradcheck(tg.sin, (np.array([0.2]),), raise_exception=False) is True


def test_gradcheck_tolerances_decide():
    # a 1 % error passes with rtol = 2 %
    assert tg.gradcheck(bad_sin, (np.array([0.2]),), rtol=0.02)


def test_gradcheck_checks_only_inputs_that_require_grad():
    x = Tensor([0.5], requires_grad=True)
    wrong_but_constant = Tensor([0.3])
    assert tg.gradcheck(lambda a, b: a * bad_sin(b), (x, wrong_but_constant))
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda a, b: a * bad_sin(b), (x, Tensor([0.3], requires_grad=True)))


def test_gradcheck_warns_for_float32():
    x = Tensor([0.5, 1.0], dtype=np.float32, requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32; finite differences need float64"):
        tg.gradcheck(lambda t: t * 2.0, x, eps=1e-2, atol=1e-3)


def test_gradcheck_float64_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradcheck(tg.exp, (np.array([0.5]),))


def test_gradcheck_reports_non_finite_entries():
    # sqrt at 0: reverse mode gives inf, central differences NaN (sqrt of -eps)
    with pytest.raises(tg.GradcheckError, match=r"input index \(0,\)") as info:
        tg.gradcheck(tg.sqrt, (np.array([0.0, 1.0]),))
    assert info.value.analytic == np.inf and np.isnan(info.value.numerical)


# --- gradgradcheck -----------------------------------------------------------------------------
def test_gradgradcheck_passes_on_correct_second_derivatives(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    assert tg.gradgradcheck(lambda a, b: tg.sin(a) * b ** 2, (x, y)) is True
    assert tg.gradgradcheck(F, (V0,), grad_outputs=np.array([1.0, -2.0])) is True


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = np.array([0.5, -1.5])
    assert tg.gradcheck(half_cube, (x,))  # first derivatives are right
    with pytest.raises(tg.GradcheckError, match="second derivatives") as info:
        tg.gradgradcheck(half_cube, (x,), grad_outputs=np.ones(2))
    err = info.value
    worst = 1  # |x| largest: analytic 3x, numerical 6x
    assert err.index == (worst,)
    assert err.analytic == pytest.approx(3 * x[worst], rel=1e-12)
    assert err.numerical == pytest.approx(6 * x[worst], rel=1e-6)
    assert tg.gradgradcheck(half_cube, (x,), raise_exception=False) is False


def test_gradgradcheck_takes_a_tuple_of_outputs():
    x, y = np.array([0.5, -1.5]), np.array([0.7])
    assert tg.gradgradcheck(lambda a, b: (a * a * b, tg.sin(a).sum()), (x, y)) is True
    assert tg.gradgradcheck(lambda a, b: (a * a * b, tg.sin(a).sum()), (x, y),
                            grad_outputs=(np.ones(2), 2.0)) is True
    with pytest.raises(tg.GradcheckError, match="second derivatives"):
        tg.gradgradcheck(lambda a: (a * 2, half_cube(a)), (x,))
    with pytest.raises(ValueError, match="2 outputs, so grad_outputs must be a tuple of 2"):
        tg.gradgradcheck(lambda a: (a * 2, a.sum()), (x,), grad_outputs=np.ones(2))
    with pytest.raises(ValueError, match=r"grad_outputs\[1\] has shape \(2,\).*\(\)"):
        tg.gradgradcheck(lambda a: (a * 2, a.sum()), (x,), grad_outputs=(np.ones(2),) * 2)


def test_gradgradcheck_bad_grad_outputs_shape():
    with pytest.raises(ValueError, match=r"grad_outputs has shape \(3,\).*\(2,\)"):
        tg.gradgradcheck(F, (V0,), grad_outputs=np.ones(3))


# --- the whole core operation set ---------------------------------------------------------------
CASES = op_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_gradcheck_and_gradgradcheck_pass_on_every_core_op(case):
    assert tg.gradcheck(case.fn, case.inputs)
    assert tg.gradgradcheck(case.fn, case.inputs)


def _core_primitive_names() -> set[str]:
    """Every primitive defined under tinygrad_mv/ops, from the registry primitive() fills."""
    return set(tg.autograd.core_ops())


def test_the_cases_exercise_every_core_primitive():
    defined = _core_primitive_names()
    assert {"add", "matmul", "sum", "getitem", "scatter_add", "stack"} <= defined
    exercised = set().union(*(ops_exercised(c) for c in CASES))
    missing = defined - exercised
    assert not missing, f"add gradcheck cases (tinygrad_mv/commands/gradcheck.py) for {missing}"


def test_astype_method_is_differentiable_twice():
    # the dtype is a parameter of astype's primitive, not an operand to differentiate
    x = Tensor([0.5, 2.0], requires_grad=True)
    y = (x.astype(np.float32) * 3.0).astype(np.float64)
    assert y.dtype == np.float64
    (g,) = tg.autograd.grad((y * x).sum(), x, create_graph=True)
    assert_close(g, 6 * x.data, rtol=1e-6, atol=0)
    (gg,) = tg.autograd.grad(g.sum(), x)
    assert_close(gg, [6.0, 6.0], rtol=1e-6, atol=0)
