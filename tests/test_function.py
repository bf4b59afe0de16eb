"""tg.autograd.Function, as PyTorch's: forward/backward/jvp written as a class."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, fd_grads


class Cube(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x ** 2

    @staticmethod
    def jvp(ctx, x_tangent):
        (x,) = ctx.saved_tensors
        return x_tangent * 3 * x ** 2


class ScaledProduct(tg.autograd.Function):
    """a * b * scale, with a gradient for a only (None for b)."""

    @staticmethod
    def forward(ctx, a, b, scale=2.0):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * b * ctx.scale, None


def test_backward_and_higher_derivatives_use_the_rules(rng):
    x0 = rng.standard_normal(4)
    x = Tensor(x0, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.op == "Cube"
    assert_close(y.data, x0 ** 3, rtol=1e-15, atol=0)
    (y * Tensor(np.arange(4.0))).sum().backward()
    assert_close(x.grad.data, 3 * x0 ** 2 * np.arange(4.0), rtol=1e-14, atol=0)
    second = tg.grad(lambda t: tg.grad(lambda u: Cube.apply(u).sum())(t).sum())(x0)
    assert_close(second.data, 6 * x0, rtol=1e-14, atol=0)
    assert_close(tg.grad(lambda t: Cube.apply(t).sum())(x0).data,
                 fd_grads(lambda t: (t ** 3).sum(), [x0])[0])


def test_forward_mode_uses_jvp_and_refuses_without_it(rng):
    x0, v = rng.standard_normal(3), rng.standard_normal(3)
    _, tangent = tg.jvp(Cube.apply, (x0,), (v,))
    assert_close(tangent.data, 3 * x0 ** 2 * v, rtol=1e-14, atol=0)
    assert tg.gradcheck(Cube.apply, (Tensor(x0, requires_grad=True),), mode="fwd")
    assert tg.gradcheck(Cube.apply, (Tensor(x0, requires_grad=True),))
    with pytest.raises(NotImplementedError, match="ScaledProduct"):
        tg.jvp(lambda a: ScaledProduct.apply(a, Tensor(x0)), (x0,), (v,))


def test_a_none_gradient_gives_zeros_and_saved_attributes_reach_backward(rng):
    a0, b0 = rng.standard_normal(3), rng.standard_normal(3)
    a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    ScaledProduct.apply(a, b).sum().backward()  # ctx.scale = 2.0 reaches backward
    assert_close(a.grad.data, 2.0 * b0, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(b.grad.data, np.zeros(3))


def test_mistakes_are_named():
    class NotATensor(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return 3.0

        @staticmethod
        def backward(ctx, g):
            return g

    class TwoGradients(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="NotATensor.forward must return a Tensor"):
        NotATensor.apply(x)
    with pytest.raises(ValueError, match="TwoGradients.backward returned 2 gradient"):
        TwoGradients.apply(x).sum().backward()
    with pytest.raises(tg.JitError, match="Cube"):
        tg.jit(tg.grad(lambda t: Cube.apply(t).sum()))(np.ones(2))


def test_a_retained_graph_backward_twice_uses_each_passs_gradient():
    """The gradients a Function computes for one pass are not reused by the next (whose g may
    be a new array at a freed one's address)."""
    class Double(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Double.apply(x)
    seed = Tensor([1.0, 1.0])  # handed to the rules as it is: the same array at every pass
    for k in range(1, 5):
        x.grad = None
        seed.data[:] = k
        y.backward(gradient=seed, retain_graph=True)
        np.testing.assert_array_equal(x.grad.data, [2.0 * k, 2.0 * k])
    for k in range(1, 30):  # a new array each pass, perhaps at a freed one's address
        x.grad = None
        y.backward(gradient=np.array([float(k), float(k)]), retain_graph=True)
        np.testing.assert_array_equal(x.grad.data, [2.0 * k, 2.0 * k])
    b = Tensor([3.0], requires_grad=True)  # two inputs: one backward call serves both
    calls = []

    class Product(tg.autograd.Function):
        @staticmethod
        def forward(ctx, u, v):
            ctx.save_for_backward(u, v)
            return u * v

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            u, v = ctx.saved_tensors
            return g * v, g * u
    Product.apply(x, b).sum().backward()
    assert len(calls) == 1
    np.testing.assert_array_equal(b.grad.data, [3.0])


class _Linear(tg.autograd.Function):
    """x @ w with a gradient for x only: w's shape is not the output's."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        ctx.seen = ctx.needs_input_grad
        return x @ w

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        return grad_output @ w.T, None


def test_a_none_gradient_is_zeros_in_the_inputs_shape_and_needs_input_grad_is_set():
    # the zeros take the input's shape: g * 0, in the output's shape (2, 4), would not sum to
    # w's (3, 4)
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    _Linear.apply(x, w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 4.0))
    np.testing.assert_array_equal(w.grad.data, np.zeros((3, 4)))
    hessian = tg.hessian(lambda v: (_Linear.apply(Tensor(np.ones((2, 3))), v) ** 2).sum())
    assert hessian(np.ones((3, 4))).shape == (3, 4, 3, 4)
    ctx_inputs = []
    for args in [(x, Tensor(np.ones((3, 4)))), (Tensor(np.ones((2, 3))), w)]:
        out = _Linear.apply(*args)
        ctx_inputs.append(out.grad_fn.params["ctx"].seen)
    assert ctx_inputs == [(True, False), (False, True)]  # as PyTorch's ctx.needs_input_grad
