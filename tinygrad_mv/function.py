"""``tg.autograd.Function``, as PyTorch's: an operation of your own, written as a class.

    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):                  # Tensors in, a Tensor out; nothing is recorded
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):       # one gradient per input of forward (or None)
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x ** 2

        @staticmethod
        def jvp(ctx, x_tangent):              # optional: forward mode
            (x,) = ctx.saved_tensors
            return x_tangent * 3 * x ** 2

    y = Cube.apply(x)

Each subclass becomes one primitive (autograd.primitive) whose forward calls ``forward`` and whose
rules call ``backward`` and ``jvp``; the call's ``ctx`` travels as the primitive's parameter, so
backward, the transforms, forward mode and the pictures treat it as any other operation. A rule
written with Tensor operations gives higher derivatives too. ``tg.jit`` refuses it (ctx carries
values outside any operation): ``tg.primitive`` is the replayable form.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd
from .autograd import primitive
from .tensor import Tensor, _make

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """What ``forward`` leaves for ``backward`` and ``jvp``: ``save_for_backward(*tensors)`` and
    ``saved_tensors``, and any attribute set on it."""

    def __init__(self) -> None:
        self.saved_tensors: tuple = ()
        # as PyTorch's: for each input of forward, whether a gradient is needed for it
        self.needs_input_grad: tuple[bool, ...] = ()
        self._inputs: tuple = ()
        self._grads: tuple[Any, tuple] | None = None  # (g, the gradients for it)
        self._last = -1  # the last input that needs a gradient: a pass is done with it there

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors


def _as_tensor(value: Any) -> Any:
    return value if isinstance(value, Tensor) else _make(np.asarray(value), None)


def _like(result: Any, reference: Any) -> Any:
    """A rule's result as the engine passed its gradient: an array, or a Tensor when recording."""
    if result is None:
        return None
    if isinstance(reference, Tensor):
        return result if isinstance(result, Tensor) else Tensor(result)
    return result._data if isinstance(result, Tensor) else np.asarray(result)


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, grad_output)``
    (and optionally ``jvp(ctx, *tangents)``); call ``MyFunction.apply(*args)``.

    ``forward`` receives Tensors, records nothing and returns a Tensor; ``backward`` returns
    one gradient per input of ``forward`` (None for an input without one: it gets zeros).
    ``ctx.save_for_backward(*tensors)`` keeps values for ``ctx.saved_tensors``, and
    ``ctx.needs_input_grad`` says, per input, whether a gradient is wanted, as PyTorch's."""

    _op: Any = None

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function subclass defines forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Any) -> Any:
        raise NotImplementedError("a Function subclass defines backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on ``args`` and record it as one operation (named after the class)."""
        autograd.refuse_replay(
            f"the Function '{cls.__name__}' cannot be replayed: its ctx carries values from "
            "forward to backward outside any operation; write it with tg.primitive (rules of "
            "the operation's values), or call without tg.jit")
        op = cls.__dict__.get("_op")
        if op is None:
            op = cls._op = _make_op(cls)
        ctx = FunctionCtx()
        ctx._inputs = args
        recording = autograd.is_grad_enabled()
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad
                                     for a in args)
        ctx._last = max((k for k, a in enumerate(args) if isinstance(a, Tensor)
                         and a.requires_grad), default=-1)
        return op(*args, ctx=ctx)


def _make_op(cls: type) -> Any:
    name = cls.__name__

    def forward(*arrays: Any, ctx: FunctionCtx) -> np.ndarray:
        inputs = [a if isinstance(a, Tensor) and a._data is d else _as_tensor(d)
                  for a, d in zip(ctx._inputs, arrays)] if ctx._inputs else list(arrays)
        ctx._grads = None
        with autograd.no_grad():
            out = cls.forward(ctx, *inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}.forward must return a Tensor, got {type(out).__name__}")
        return out._data

    def vjp(i: int, g: Any, out: Any, *inputs: Any, ctx: FunctionCtx) -> Any:
        # One backward call serves the node's inputs, which the engine asks for one after
        # another with the same g; the next pass calls it again (even with the same array g,
        # written in place since)
        if ctx._grads is None or ctx._grads[0] is not g:
            grads = cls.backward(ctx, g if isinstance(g, Tensor) else _make(g, None))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(inputs):
                raise ValueError(f"{name}.backward returned {len(grads)} gradient(s) for "
                                 f"{len(inputs)} input(s) of forward")
            ctx._grads = (g, grads)
        grad = ctx._grads[1][i]
        if i >= ctx._last:
            ctx._grads = None
        if grad is None:  # no gradient for this input: zeros in its shape (g's may not sum to it)
            zeros = np.zeros(np.shape(inputs[i]), dtype=g.dtype)
            return _make(zeros, None) if isinstance(g, Tensor) else zeros
        return _like(grad, g)

    def jvp(i: int, t: Any, out: Any, *inputs: Any, ctx: FunctionCtx) -> Any:
        rule = cls.__dict__.get("jvp") or getattr(cls, "jvp", None)
        if rule is None:
            raise NotImplementedError(f"forward mode: the Function '{name}' has no jvp(ctx, "
                                      "*tangents)")
        tangents = [t if k == i else np.zeros(np.shape(x)) for k, x in enumerate(inputs)]
        return _like(rule(ctx, *[_as_tensor(v) for v in tangents]), t)

    return primitive(name, forward, variadic=vjp, jvps=jvp)
