"""Function transforms (grad, value_and_grad, jacobian, hessian, jvp, vjp, hvp, taylor) against
hand-derived derivatives from the course, central finite differences (conftest, independent of
tg.numerical_jacobian) and PyTorch where installed."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, autograd

from conftest import assert_close, fd_jacobian
from functions import F, F_jacobian, F_numpy, V0, rosenbrock2


# --- f(x, y, z) = x^2 y + y^3 sin z ------------------------------------------------------------
def f_xyz(x, y, z):
    return x ** 2 * y + y ** 3 * tg.sin(z)


def f_xyz_numpy(x, y, z):
    return x ** 2 * y + y ** 3 * np.sin(z)


def f_xyz_partials(x, y, z):
    """By hand: f_x = 2xy, f_y = x^2 + 3y^2 sin z, f_z = y^3 cos z."""
    return 2 * x * y, x ** 2 + 3 * y ** 2 * np.sin(z), y ** 3 * np.cos(z)


def f_xyz_hessian(x, y, z):
    return np.array([[2 * y, 2 * x, 0.0],
                     [2 * x, 6 * y * np.sin(z), 3 * y ** 2 * np.cos(z)],
                     [0.0, 3 * y ** 2 * np.cos(z), -y ** 3 * np.sin(z)]])


POINT = (1.3, -0.7, 0.4)


def test_partial_derivatives_of_course_function():
    partials = tg.grad(f_xyz, argnums=(0, 1, 2))(*POINT)
    assert isinstance(partials, tuple) and len(partials) == 3
    for got, want in zip(partials, f_xyz_partials(*POINT)):
        assert isinstance(got, Tensor) and got.shape == ()
        assert_close(got, want, rtol=1e-14, atol=1e-15)
    for k in range(3):
        def along(t, k=k):
            args = list(POINT)
            args[k] = t
            return f_xyz_numpy(*args)
        assert_close(partials[k], fd_jacobian(along, POINT[k]), what=f"partial {k}")


def test_gradient_of_course_function_with_vector_input():
    g = tg.grad(lambda v: f_xyz(v[0], v[1], v[2]))(np.array(POINT))
    assert g.shape == (3,)
    assert_close(g, np.array(f_xyz_partials(*POINT)), rtol=1e-14, atol=1e-15)
    assert_close(g, fd_jacobian(lambda v: f_xyz_numpy(*v), POINT))


def test_single_argnums_gives_a_tensor_and_value_and_grad_the_value():
    value, gy = tg.value_and_grad(f_xyz, argnums=1)(*POINT)
    assert isinstance(gy, Tensor)
    assert_close(value, f_xyz_numpy(*POINT), rtol=1e-15, atol=0)
    assert_close(gy, f_xyz_partials(*POINT)[1], rtol=1e-14, atol=0)
    assert not value.requires_grad and not gy.requires_grad  # plain inputs: nothing recorded


def test_negative_argnums_counts_from_the_end():
    assert_close(tg.grad(f_xyz, argnums=-1)(*POINT), f_xyz_partials(*POINT)[2], 1e-14, 0)


def test_hessian_of_course_function():
    h = tg.hessian(lambda v: f_xyz(v[0], v[1], v[2]))(np.array(POINT))
    assert h.shape == (3, 3)
    assert_close(h, f_xyz_hessian(*POINT), rtol=1e-13, atol=1e-14)


def test_grad_against_torch():
    torch = pytest.importorskip("torch")
    xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in POINT]
    (xs[0] ** 2 * xs[1] + xs[1] ** 3 * torch.sin(xs[2])).backward()
    ours = tg.grad(f_xyz, argnums=(0, 1, 2))(*POINT)
    for got, t in zip(ours, xs):
        assert_close(got, t.grad.numpy(), rtol=1e-14, atol=1e-15)


# --- a vector function R^3 -> R^2 (F of functions.py) ---------------------------------------------
def test_jacobian_of_vector_function():
    jac = tg.jacobian(F)(V0)
    assert jac.shape == (2, 3)
    assert_close(jac, F_jacobian(V0), rtol=1e-14, atol=1e-15)
    assert_close(jac, fd_jacobian(F_numpy, V0))


def test_jacobian_against_torch():
    torch = pytest.importorskip("torch")

    def F_torch(v):
        return torch.stack([v[0] * v[1] * v[2], v[0] ** 2 + torch.sin(v[1]) * torch.exp(v[2])])
    want = torch.autograd.functional.jacobian(F_torch, torch.tensor(V0))
    assert_close(tg.jacobian(F)(V0), want.numpy(), rtol=1e-14, atol=1e-15)


def test_jacobian_shape_is_output_shape_plus_input_shape(rng):
    x = rng.standard_normal((2, 3))
    w = rng.standard_normal((3, 4))
    jac = tg.jacobian(lambda a: tg.tanh(a @ w))(x)
    assert jac.shape == (2, 4, 2, 3)
    assert_close(jac, fd_jacobian(lambda a: np.tanh(a @ w), x))
    scalar_out = tg.jacobian(lambda a: (a ** 2).sum())(x)
    assert scalar_out.shape == (2, 3)
    assert_close(scalar_out, 2 * x, rtol=1e-15, atol=0)


def test_jacobian_with_several_argnums():
    jx, jy = tg.jacobian(lambda x, y: x * y, argnums=(0, 1))(np.array([1.0, 2.0]),
                                                            np.array([3.0, 4.0]))
    assert_close(jx, np.diag([3.0, 4.0]), 0, 0)
    assert_close(jy, np.diag([1.0, 2.0]), 0, 0)


def test_jacobian_of_function_not_depending_on_input_is_zero():
    jac = tg.jacobian(lambda x: tg.ones(2) * 3.0)(np.array([1.0, 2.0, 3.0]))
    assert_close(jac, np.zeros((2, 3)), 0, 0)


# --- Hessians -----------------------------------------------------------------------------------
def rosenbrock_hessian(x, y):
    """By hand: f_xx = 2 - 400 (y - x^2) + 800 x^2, f_xy = -400 x, f_yy = 200."""
    return np.array([[2 - 400 * (y - x ** 2) + 800 * x ** 2, -400 * x], [-400 * x, 200.0]])


@pytest.mark.parametrize("point", [(-1.0, 1.0), (1.0, 1.0), (0.3, -0.2)])
def test_rosenbrock_hessian(point):
    h = tg.hessian(rosenbrock2)(np.array(point))
    assert_close(h, rosenbrock_hessian(*point), rtol=1e-14, atol=1e-12)
    grad_numpy = tg.grad(rosenbrock2)
    assert_close(h, fd_jacobian(lambda v: grad_numpy(v).data, point), rtol=1e-6, atol=1e-5)


def test_n_dimensional_rosenbrock_hessian_against_torch(rng):
    torch = pytest.importorskip("torch")

    def rosen(x, lib):
        return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    x = rng.uniform(-1, 1, 6)
    want = torch.autograd.functional.hessian(lambda t: rosen(t, torch), torch.tensor(x))
    assert_close(tg.hessian(lambda t: rosen(t, tg))(x), want.numpy(), rtol=1e-13, atol=1e-12)


def test_quadratic_form_hessian_is_exactly_a_plus_a_transpose(rng):
    a = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    h = tg.hessian(lambda v: v @ (a @ v))(x)
    np.testing.assert_array_equal(h.data, a + a.T)
    assert_close(tg.grad(lambda v: v @ (a @ v))(x), (a + a.T) @ x, rtol=1e-14, atol=1e-15)


def test_jacobian_of_grad_equals_hessian(rng):
    x = rng.standard_normal(5)

    def f(v):
        return tg.exp(v).sum() * tg.sin(v[0] * v[3]) + (v ** 3).mean()
    assert_close(tg.jacobian(tg.grad(f))(x), tg.hessian(f)(x), rtol=1e-14, atol=1e-14)
    h = tg.hessian(f)(x)
    assert_close(h, h.T, rtol=1e-13, atol=1e-13, what="symmetry")


def test_grad_of_grad_is_second_derivative():
    d2 = tg.grad(tg.grad(lambda x: x ** 3 * tg.sin(x)))
    x = 0.7
    want = 6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x)
    assert_close(d2(x), want, rtol=1e-14, atol=1e-15)
    d3 = tg.grad(tg.grad(tg.grad(tg.exp)))
    assert_close(d3(0.3), np.exp(0.3), rtol=1e-15, atol=0)


def test_inputs_may_be_lists_arrays_numbers_or_tensors():
    f = tg.grad(lambda v: (v ** 2).sum())
    for x in ([1.0, 2.0], np.array([1.0, 2.0]), Tensor([1.0, 2.0]), np.array([1, 2])):
        g = f(x)
        assert isinstance(g, Tensor) and g.dtype == np.float64
        assert_close(g, [2.0, 4.0], 0, 0)


def test_float32_stays_float32():
    x = Tensor([0.5, 1.5], dtype=np.float32)
    g = tg.grad(lambda v: tg.exp(v).sum())(x)
    assert g.dtype == np.float32
    assert_close(g, np.exp(np.array([0.5, 1.5])), rtol=1e-6, atol=0)
    assert tg.hessian(lambda v: tg.exp(v).sum())(x).dtype == np.float32


def test_tracked_input_keeps_the_graph():
    x = Tensor(2.0, requires_grad=True)
    g = tg.grad(lambda t: t ** 3)(x)
    assert g.requires_grad  # the user tracks x: the gradient is differentiable
    g.backward()
    assert_close(x.grad, 12.0, 0, 0)  # d/dx 3x^2


def test_derivative_through_a_closure_is_recorded():
    # d/dy [d/dx (x y)] = 1: the inner gradient (= y) must stay differentiable in y.
    outer = tg.grad(lambda y: tg.grad(lambda x: x * y)(3.0))
    assert_close(outer(2.0), 1.0, 0, 0)
    outer2 = tg.grad(lambda y: tg.grad(lambda x: x ** 2 * y ** 3)(1.5))
    assert_close(outer2(2.0), 2 * 1.5 * 3 * 2.0 ** 2, rtol=1e-15, atol=0)


def test_derivative_is_partial_for_its_argument_slot():
    y = Tensor(2.0, requires_grad=True)
    # f(x) = x * y evaluated at x = y: df/dx = y, not d(y^2)/dy = 2y
    assert_close(tg.grad(lambda x: x * y)(y), 2.0, 0, 0)
    gx, gy = tg.grad(lambda a, b: a * b ** 2, argnums=(0, 1))(y, y)
    assert_close(gx, 4.0, 0, 0)
    assert_close(gy, 8.0, 0, 0)


def test_grad_inside_no_grad_still_works_and_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        g = tg.grad(lambda v: (v ** 2).sum())(x)
    assert not g.requires_grad
    assert_close(g, [2.0, 4.0], 0, 0)


def test_unused_argument_has_zero_gradient():
    gx, gy = tg.grad(lambda x, y: x * 2.0, argnums=(0, 1))(1.0, 5.0)
    assert_close(gx, 2.0, 0, 0)
    assert_close(gy, 0.0, 0, 0)


def test_kwargs_are_passed_through():
    g = tg.grad(lambda x, scale=1.0: (x * scale).sum())(np.ones(3), scale=4.0)
    assert_close(g, np.full(3, 4.0), 0, 0)


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "hessian"])
def test_non_scalar_output_names_its_shape(transform):
    fn = getattr(tg, transform)(lambda v: v * 2)
    with pytest.raises(ValueError, match=rf"{transform}.*single element.*\(3,\)"):
        fn(np.ones(3))


def test_hvp_of_non_scalar_output_names_its_shape():
    with pytest.raises(ValueError, match=r"hvp.*\(2, 2\)"):
        tg.hvp(lambda v: v * 2, (np.ones((2, 2)),), (np.ones((2, 2)),))


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian"])
def test_argnums_out_of_range_is_named(transform):
    fn = getattr(tg, transform)(lambda x, y: (x * y).sum(), argnums=2)
    with pytest.raises(ValueError, match=rf"{transform}: argnums=2 is out of range.*2 "):
        fn(1.0, 2.0)
    with pytest.raises(ValueError, match=r"argnums=\(0, -3\)"):
        getattr(tg, transform)(lambda x, y: x * y, argnums=(0, -3))(1.0, 2.0)


def test_hessian_argnums_must_be_in_range():
    with pytest.raises(ValueError, match="hessian: argnums=5"):
        tg.hessian(lambda x: x ** 2, argnums=5)(1.0)


def test_function_must_return_a_tensor():
    with pytest.raises(TypeError, match="grad: the function must return a Tensor, got float"):
        tg.grad(lambda x: 1.0)(2.0)


def test_primals_must_be_tuples_and_shapes_must_match():
    with pytest.raises(TypeError, match="jvp: primals must be a tuple"):
        tg.jvp(tg.sin, np.ones(2), (np.ones(2),))
    with pytest.raises(ValueError, match=r"hvp: tangent 0 has shape \(3,\).*\(2,\)"):
        tg.hvp(lambda v: v.sum(), (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="jvp: 1 primals but 2 tangents"):
        tg.jvp(tg.sin, (np.ones(2),), (np.ones(2), np.ones(2)))
    _, vjp_fn = tg.vjp(F, V0)
    with pytest.raises(ValueError, match=r"vjp: cotangent has shape \(3,\).*\(2,\)"):
        vjp_fn(np.ones(3))


# --- jvp, vjp, hvp ------------------------------------------------------------------------------
def test_jvp_is_jacobian_times_v(rng):
    v = rng.standard_normal(3)
    out, tangent = tg.jvp(F, (V0,), (v,))
    assert_close(out, F_numpy(V0), rtol=1e-15, atol=0)
    assert tangent.shape == (2,)
    assert_close(tangent, F_jacobian(V0) @ v, rtol=1e-14, atol=1e-15)


def test_jvp_with_several_primals_sums_the_directions(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    ta, tb = rng.standard_normal(3), rng.standard_normal(3)
    _, tangent = tg.jvp(lambda x, y: tg.sin(x) * y, (a, b), (ta, tb))
    assert_close(tangent, np.cos(a) * b * ta + np.sin(a) * tb, rtol=1e-14, atol=1e-15)


def test_jvp_of_identity_and_of_a_constant():
    _, t = tg.jvp(lambda x: x, (np.array([1.0, 2.0]),), (np.array([3.0, 4.0]),))
    assert_close(t, [3.0, 4.0], 0, 0)
    _, t = tg.jvp(lambda x: tg.ones(2), (np.array([1.0, 2.0]),), (np.array([3.0, 4.0]),))
    assert_close(t, [0.0, 0.0], 0, 0)


def test_jvp_against_torch(rng):
    torch = pytest.importorskip("torch")
    v = rng.standard_normal(3)

    def F_torch(x):
        return torch.stack([x[0] * x[1] * x[2], x[0] ** 2 + torch.sin(x[1]) * torch.exp(x[2])])
    _, want = torch.func.jvp(F_torch, (torch.tensor(V0),), (torch.tensor(v),))
    assert_close(tg.jvp(F, (V0,), (v,))[1], want.numpy(), rtol=1e-14, atol=1e-15)


def test_vjp_is_v_times_jacobian_and_reusable(rng):
    out, vjp_fn = tg.vjp(F, V0)
    assert_close(out, F_numpy(V0), rtol=1e-15, atol=0)
    for _ in range(2):
        u = rng.standard_normal(2)
        (pulled,) = vjp_fn(u)
        assert_close(pulled, u @ F_jacobian(V0), rtol=1e-14, atol=1e-15)


def test_vjp_with_several_primals():
    out, vjp_fn = tg.vjp(lambda x, y: x * y, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    gx, gy = vjp_fn(np.array([1.0, 10.0]))
    assert_close(gx, [3.0, 40.0], 0, 0)
    assert_close(gy, [1.0, 20.0], 0, 0)


def test_hvp_is_hessian_times_v(rng):
    a = rng.standard_normal((4, 4))
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(t):
        return tg.sin(t).sum() * (t @ (a @ t)) + tg.exp(t[0] * t[2])
    hv = tg.hvp(f, (x,), (v,))
    assert isinstance(hv, Tensor) and hv.shape == (4,)
    assert_close(hv, tg.hessian(f)(x).data @ v, rtol=1e-13, atol=1e-13)
    grad_f = tg.grad(f)
    assert_close(hv, fd_jacobian(lambda t: grad_f(t).data, x) @ v, rtol=1e-6, atol=1e-6)


def test_hvp_of_rosenbrock_matches_hand_hessian():
    v = np.array([0.3, -2.0])
    hv = tg.hvp(rosenbrock2, (np.array([-1.0, 1.0]),), (v,))
    assert_close(hv, rosenbrock_hessian(-1.0, 1.0) @ v, rtol=1e-14, atol=1e-12)


def test_hvp_with_several_primals_returns_a_tuple():
    hx, hy = tg.hvp(lambda x, y: x ** 2 * y, (2.0, 3.0), (1.0, 0.0))
    # H = [[2y, 2x], [2x, 0]] at (2, 3) times (1, 0) = (6, 4)
    assert_close(hx, 6.0, 0, 0)
    assert_close(hy, 4.0, 0, 0)


def _nodes_created(fn):
    start = next(autograd._sequence)
    fn()
    return next(autograd._sequence) - start


def test_hvp_cost_does_not_grow_with_n(rng):
    """hvp never forms the Hessian: the operations it records do not depend on n, and are a small
    multiple of those of one gradient (the Hessian would take n reverse passes)."""
    def f(t):
        return (tg.square(t[1:] - t[:-1] ** 2) * 100 + tg.square(1 - t[:-1])).sum()
    costs = {}
    for n in (10, 1000):
        x, v = rng.standard_normal(n), rng.standard_normal(n)
        costs[n] = _nodes_created(lambda x=x, v=v: tg.hvp(f, (x,), (v,)))
        grad_cost = _nodes_created(lambda x=x: tg.grad(f)(x))
    assert costs[10] == costs[1000]
    assert costs[1000] <= 6 * grad_cost


def test_hessian_cost_is_n_hessian_vector_products(rng):
    def f(t):
        return (tg.exp(t) * t).sum()
    small = _nodes_created(lambda: tg.hessian(f)(rng.standard_normal(3)))
    large = _nodes_created(lambda: tg.hessian(f)(rng.standard_normal(6)))
    hvp = _nodes_created(lambda: tg.hvp(f, (rng.standard_normal(6),), (np.ones(6),)))
    assert large - small <= 3 * hvp  # 3 more inputs: about 3 more reverse passes


# --- Taylor polynomials -------------------------------------------------------------------------
def test_taylor_coefficients_of_exp_and_sin():
    p = tg.taylor(tg.exp, 0.0, 6)
    assert p.order == 6
    assert_close(np.array([c.item() for c in p.coefficients]),
                 [1 / math.factorial(k) for k in range(7)], rtol=1e-15, atol=0)
    s = tg.taylor(tg.sin, 0.0, 7)
    assert_close(np.array([c.item() for c in s.coefficients]),
                 [0, 1, 0, -1 / 6, 0, 1 / 120, 0, -1 / 5040], rtol=1e-14, atol=1e-16)
    assert_close(np.array([d.item() for d in s.derivatives]), [0, 1, 0, -1, 0, 1, 0, -1],
                 rtol=0, atol=1e-15)


@pytest.mark.parametrize("fn, fn_numpy, derivative, x0", [
    (tg.exp, np.exp, lambda k, x: np.exp(x), 0.4),
    (tg.sin, np.sin, lambda k, x: np.sin(x + k * np.pi / 2), 0.9),
])
@pytest.mark.parametrize("order", [0, 1, 2, 3, 5])
def test_taylor_error_shrinks_like_first_omitted_term(fn, fn_numpy, derivative, x0, order):
    p = tg.taylor(fn, x0, order)
    for h in (0.1, 0.05, 0.025):
        error = abs(p(x0 + h).item() - fn_numpy(x0 + h))
        omitted = abs(derivative(order + 1, x0)) * h ** (order + 1) / math.factorial(order + 1)
        # Lagrange remainder: error / omitted term -> 1 as h -> 0 (within h * (next term) here)
        assert error == pytest.approx(omitted, rel=2.5 * h), (order, h)


def test_taylor_polynomial_evaluates_elementwise_and_is_differentiable():
    p = tg.taylor(tg.exp, 0.0, 3)
    xs = np.array([-0.2, 0.0, 0.5])
    assert_close(p(xs), 1 + xs + xs ** 2 / 2 + xs ** 3 / 6, rtol=1e-15, atol=0)
    assert_close(tg.grad(lambda t: p(t))(0.5), 1 + 0.5 + 0.5 ** 2 / 2, rtol=1e-15, atol=0)


def test_taylor_of_polynomial_is_exact_and_higher_coefficients_vanish():
    p = tg.taylor(lambda x: 3 * x ** 2 - x + 2, 1.0, 5)
    assert_close(np.array([c.item() for c in p.coefficients]), [4, 5, 3, 0, 0, 0], 1e-15, 0)
    assert_close(p(np.array([-1.0, 4.0])), [6.0, 46.0], rtol=1e-14, atol=0)


def g2d(v):
    return tg.exp(v[0]) * tg.sin(v[1])


def g2d_numpy(v):
    return np.exp(v[0]) * np.sin(v[1])


def test_taylor_2d_coefficients_are_value_gradient_half_hessian():
    x0 = np.array([0.2, 0.7])
    p = tg.taylor(g2d, x0, 2)
    e, s, c = np.exp(0.2), np.sin(0.7), np.cos(0.7)
    value, gradient, hessian = p.derivatives
    assert_close(value, e * s, rtol=1e-15, atol=0)
    assert_close(gradient, [e * s, e * c], rtol=1e-15, atol=0)
    assert_close(hessian, [[e * s, e * c], [e * c, -e * s]], rtol=1e-14, atol=0)
    assert_close(p.coefficients[2], np.asarray(hessian.data) / 2, 0, 0)


@pytest.mark.parametrize("order", [0, 1, 2])
def test_taylor_2d_error_shrinks_like_first_omitted_term(order):
    x0 = np.array([0.2, 0.7])
    direction = np.array([0.6, -0.8])
    p = tg.taylor(g2d, x0, order)
    errors = [abs(p(x0 + h * direction).item() - g2d_numpy(x0 + h * direction))
              for h in (0.04, 0.02, 0.01)]
    # halving the step divides the error by about 2^(order + 1)
    for big, small in zip(errors, errors[1:]):
        assert big / small == pytest.approx(2 ** (order + 1), rel=0.1)


def test_taylor_2d_evaluates_batches_of_points():
    x0 = np.array([0.2, 0.7])
    p = tg.taylor(g2d, x0, 2)
    points = x0 + np.array([[[0.0, 0.0], [0.1, 0.0]], [[0.0, -0.1], [0.05, 0.05]]])
    values = p(points)
    assert values.shape == (2, 2)
    for idx in np.ndindex(2, 2):
        assert_close(values.data[idx], p(points[idx]).item(), rtol=1e-15, atol=1e-16)
    with pytest.raises(ValueError, match=r"taylor: .*shape \(2,\).*got \(3,\)"):
        p(np.ones(3))


def test_taylor_errors():
    with pytest.raises(ValueError, match=r"taylor: order 3 needs a one-element x0.*\(2,\)"):
        tg.taylor(g2d, np.zeros(2), 3)
    with pytest.raises(ValueError, match="order must be a non-negative int"):
        tg.taylor(tg.exp, 0.0, -1)
    with pytest.raises(ValueError, match=r"taylor: .*single element.*\(2,\)"):
        tg.taylor(lambda v: v * 2, np.zeros(2), 1)


def test_jacobian_of_a_vjp_function_is_the_transposed_jacobian_and_records_nothing():
    _, vjp_fn = tg.vjp(F, V0)
    jac_t = tg.jacobian(lambda u: vjp_fn(u)[0])(np.zeros(2))
    assert_close(jac_t, F_jacobian(V0).T, rtol=1e-14, atol=1e-15)
    # the vjp's own input is private to it: no graph is kept for a result nobody can use
    assert not jac_t.requires_grad


def test_hessian_of_a_linear_function_is_zero():
    assert_close(tg.hessian(lambda v: (3 * v).sum())(np.ones(3)), np.zeros((3, 3)), 0, 0)
