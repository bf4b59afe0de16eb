"""JAX-style function transforms, thin wrappers over the one reverse-mode core.

Each transform takes a function of Tensors and returns a function. They compose
(``tg.jacobian(tg.grad(f))``) because a transform differentiates with ``create_graph=True``
whenever someone else tracks the result: when it is called on a Tensor that already requires grad,
or when f reaches such a Tensor through a closure (``grad(lambda y: grad(lambda x: x * y)(3.0))``
is 1, as in JAX). Otherwise (plain data) it records no graph for its result. A derivative is
always the partial one for its argument slot: each differentiated argument enters f through a
node of its own, even when the same Tensor is passed twice or also captured by f.

Costs, in units of one evaluation of f plus one reverse pass:
- ``grad``, ``value_and_grad``, ``vjp``: one each (``vjp_fn`` one reverse pass per call).
- ``jacobian``: one reverse pass per output element (m rows for f: R^n -> R^m).
- ``jvp_by_reverse``: the "double VJP" trick: a reverse pass with a symbolic cotangent u
  recorded (g(u) = J^T u is linear in u), then a reverse pass of g . v with respect to u gives
  J v: about three reverse passes. ``tg.jvp`` is true forward mode (forward_mode.py) and falls
  back on this where tangents cannot be carried.
- ``hvp_by_reverse`` and ``hessian_by_reverse``: reverse over reverse (the gradient of
  grad(f) . v; the Jacobian of grad f), what ``tg.hvp`` and ``tg.hessian`` (forward over reverse,
  forward_mode.py) use inside other transforms and while an ONNX export records.
- ``taylor``: for a one-element x0, derivative k is one reverse pass over the recorded graph of
  derivative k-1 (that graph grows with k); for a vector x0, a gradient and a Hessian.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from .tensor import _FLOATS, Tensor, _make

__all__ = ["grad", "value_and_grad", "jacobian", "hessian_by_reverse", "jvp_by_reverse", "vjp",
           "hvp_by_reverse", "taylor", "TaylorPolynomial"]


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
    if isinstance(argnums, (str, bytes)) or not isinstance(argnums, (int, np.integer, tuple, list)):
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if not nums:
        raise ValueError(f"{name}: argnums is empty")
    for n in nums:
        if not isinstance(n, (int, np.integer)) or not -nargs <= n < nargs:
            raise ValueError(f"{name}: argnums={argnums!r} is out of range for a call with "
                             f"{nargs} positional argument(s)")
    return tuple(int(n) % nargs for n in nums)


def _prepare(args: Sequence[Any], nums: tuple[int, ...]) -> tuple[list[Any], bool]:
    """Arguments with the differentiated ones as Tensors that require grad.

    A Tensor that already requires grad (an outer transform or the user is tracking it) enters
    through an identity node of its own: the result must then keep its graph (``nested`` is
    True), and the derivative is the partial one for that argument slot even when ``f`` also
    reaches the same Tensor another way (a closure, or the same Tensor in two slots).
    """
    from .forward import current
    from .ops import reshape
    args = list(args)
    nested = False
    level = None if autograd._forward is None else current()
    for n in nums:
        a = args[n]
        if isinstance(a, Tensor) and a.requires_grad and autograd.is_grad_enabled():
            nested = True
            args[n] = reshape(a, a.shape)
            continue
        # Tensor() copies and turns integer or bool data into float64.
        args[n] = Tensor(a, requires_grad=True)
        if level is not None and isinstance(a, Tensor) and level.carries(a):
            # forward over reverse (jvp of a gradient): the derivative is recorded, so that
            # the tangents flow through the backward pass's operations too
            level.copy_tangents(a, args[n])
            nested = True
    return args, nested


# Leaves made by a vjp that has returned (its vjp_fn keeps them): no one else can differentiate
# with respect to them, so depending on them is no reason to record a derivative. Keyed by id,
# holding the Tensor weakly: Tensor's == is elementwise, so it cannot go in a set.
_escaped_leaves: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _depends_on_others(out: Tensor, inputs: Sequence[Tensor]) -> bool:
    """True when ``out`` also depends on a tracked Tensor that is not one of ``inputs`` (a Tensor
    an outer transform or the user differentiates, reached through a closure). The derivative must
    then be recorded (``create_graph``) so that whoever tracks that Tensor can differentiate it.
    Called only when no input is nested, so every input is a fresh leaf."""
    if not out.requires_grad or not autograd.is_grad_enabled():
        return False
    own = {id(t) for t in inputs}
    node = out.grad_fn
    if node is None:
        return id(out) not in own and _escaped_leaves.get(id(out)) is not out
    node_type = autograd.Node
    seen = {id(node)}
    stack = [node]
    while stack:  # iterative: graphs may be deeper than the recursion limit
        for parent in stack.pop().parents:
            if parent is None:
                continue
            key = id(parent)
            if type(parent) is node_type:
                if key not in seen:
                    seen.add(key)
                    stack.append(parent)
            elif key not in own and _escaped_leaves.get(key) is not parent:
                return True
    return False


def _call(f: Callable, args: Sequence[Any], name: str) -> Tensor:
    _check_callable(f, name)
    if autograd._grad_enabled.get():
        out = f(*args)
    else:
        with autograd.enable_grad():
            out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a Tensor, got {type(out).__name__} "
                        "(build the result with tinygrad_mv operations)")
    return out


def _evaluate(f: Callable, args: Sequence[Any], nums: tuple[int, ...],
              name: str) -> tuple[list[Any], Tensor, bool]:
    """(prepared arguments, f(*prepared), nested): ``nested`` says the derivatives must be
    recorded and returned attached to the graph."""
    prepared, nested = _prepare(args, nums)
    out = _call(f, prepared, name)
    if not nested and autograd._forward is not None and out.requires_grad:
        # forward over reverse through a constant (a closure or another argument carrying a
        # tangent, fwAD.make_dual): the derivative is recorded so that the tangent flows into it
        from .forward import current
        level = current()
        nested = level is not None and level.carries(out)
    if not nested:
        nested = _depends_on_others(out, [prepared[n] for n in nums])
    return prepared, out, nested


def _scalar_output(out: Tensor, name: str) -> None:
    if out.size != 1:
        raise ValueError(f"{name}: the function must return a single element, but its output has "
                         f"shape {out.shape}; use tg.jacobian for vector outputs")


def _grads(out: Tensor, wrt: Sequence[Tensor], seed: Any, create_graph: bool,
           retain_graph: bool = True) -> tuple:
    """d(out)/d(wrt) seeded with ``seed``; zeros where out does not depend on an input.

    ``retain_graph=False`` for a last pass frees each saved buffer as soon as the pass is done
    with it: at large n, keeping them all to the end costs more time than the arithmetic."""
    if not out.requires_grad:
        return tuple(Tensor(np.zeros(w.shape, dtype=w.dtype)) for w in wrt)
    found = autograd.grad(out, wrt, grad_outputs=seed, retain_graph=retain_graph or create_graph,
                          create_graph=create_graph, allow_unused=True)
    return tuple(Tensor(np.zeros(w.shape, dtype=w.dtype)) if g is None else g
                 for g, w in zip(found, wrt))


def _finish(value: Tensor, nested: bool) -> Tensor:
    return value if nested else value.detach()


def _single(argnums: int | Sequence[int]) -> bool:
    return isinstance(argnums, (int, np.integer))


def _check_callable(f: Any, name: str) -> None:
    # Refuse at transform time, naming the transform: calling it later would only say
    # "'int' object is not callable".
    if not callable(f):
        raise TypeError(f"{name}: the function to differentiate must be callable, got "
                        f"{type(f).__name__}")


def _named(wrapped: Callable, transform: str, f: Callable) -> Callable:
    """Name a transformed function after what it computes (``grad(rosenbrock)``), for errors
    and reprs."""
    wrapped.__name__ = wrapped.__qualname__ = f"{transform}({getattr(f, '__name__', 'f')})"
    return wrapped


def _value_and_grad(f: Callable, argnums: int | Sequence[int], name: str) -> Callable:
    _check_callable(f, name)

    def wrapped(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        nums = _argnums_tuple(argnums, len(args), name)
        prepared, out, nested = _evaluate(lambda *a: f(*a, **kwargs), args, nums, name)
        _scalar_output(out, name)
        grads = _grads(out, [prepared[n] for n in nums], None, nested, retain_graph=False)
        grads = tuple(_finish(g, nested) for g in grads)
        return _finish(out, nested), grads[0] if _single(argnums) else grads
    return _named(wrapped, name, f)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])`` for a one-element f."""
    return _value_and_grad(f, argnums, "value_and_grad")


def _grad(f: Callable, argnums: int | Sequence[int], name: str) -> Callable:
    vg = _value_and_grad(f, argnums, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]
    return _named(wrapped, name, f)


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``grad(f)(*args)``: the gradient of a one-element f with respect to ``args[argnums]`` (a
    tuple of gradients when ``argnums`` is a tuple). ``grad(grad(f))`` is the second derivative."""
    return _grad(f, argnums, "grad")


def _jacobian(f: Callable, argnums: int | Sequence[int], name: str) -> Callable:
    _check_callable(f, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), name)
        prepared, out, nested = _evaluate(lambda *a: f(*a, **kwargs), args, nums, name)
        wrt = [prepared[n] for n in nums]
        rows: list[list[Tensor]] = [[] for _ in wrt]
        seed = np.zeros(out.size, dtype=out.dtype)
        for i in range(out.size):  # row i of J is the VJP with the i-th unit vector
            seed[i] = 1
            last = i == out.size - 1
            for k, g in enumerate(_grads(out, wrt, seed.reshape(out.shape), nested, not last)):
                rows[k].append(g)
            seed[i] = 0
        from .ops import reshape, stack
        jacs = []
        for k, w in enumerate(wrt):
            if rows[k]:
                jac = reshape(stack(rows[k], axis=0), out.shape + w.shape)
            else:
                jac = Tensor(np.zeros(out.shape + w.shape, dtype=w.dtype))
            jacs.append(_finish(jac, nested))
        return jacs[0] if _single(argnums) else tuple(jacs)
    return _named(wrapped, name, f)


def jacobian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``jacobian(f)(*args)`` of shape ``f(x).shape + x.shape``, one reverse pass per output
    element (a tuple of Jacobians when ``argnums`` is a tuple)."""
    return _jacobian(f, argnums, "jacobian")


def hessian_by_reverse(f: Callable, argnums: int = 0) -> Callable:
    """The Hessian as the Jacobian of the gradient (reverse over reverse): what ``tg.hessian``
    (forward over reverse, forward_mode.py) uses inside other transforms and while an ONNX
    export records."""
    return _jacobian(_grad(f, argnums, "hessian"), argnums, "hessian")


def _tuple_arg(value: Any, name: str, what: str) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}: {what} must be a tuple (as in JAX), e.g. (x,), got "
                        f"{type(value).__name__}")
    return tuple(value)


def vjp(f: Callable, *primals: Any) -> tuple[Tensor, Callable]:
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns a tuple with
    cotangent^T J for each primal, and may be called again."""
    nums = tuple(range(len(primals)))
    prepared, out, nested = _evaluate(f, primals, nums, "vjp")

    def vjp_fn(cotangent: Any) -> tuple:
        seed = cotangent if isinstance(cotangent, Tensor) else Tensor(cotangent)
        if seed.shape != out.shape:
            raise ValueError(f"vjp: cotangent has shape {seed.shape} but the output has shape "
                             f"{out.shape}")
        cot_nested = nested or (seed.requires_grad and autograd.is_grad_enabled())
        grads = _grads(out, prepared, seed, cot_nested)
        return tuple(_finish(g, cot_nested) for g in grads)

    if not nested:
        for leaf in prepared:
            _escaped_leaves[id(leaf)] = leaf
    return _finish(out, nested), vjp_fn


def _primals_and_tangents(primals: Any, tangents: Any, name: str) -> tuple[tuple, list[Tensor]]:
    primals = _tuple_arg(primals, name, "primals")
    tangents = _tuple_arg(tangents, name, "tangents")
    if len(primals) != len(tangents):
        raise ValueError(f"{name}: {len(primals)} primals but {len(tangents)} tangents")
    # A float array is wrapped, not copied: tangents are only read (a jvp's rules make new
    # arrays), and a copy of a large one is a pass over memory of its own.
    tangents = [t if isinstance(t, Tensor) else
                _make(t, None) if type(t) is np.ndarray and t.dtype in _FLOATS else Tensor(t)
                for t in tangents]
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if np.shape(p._data if isinstance(p, Tensor) else p) != t.shape:
            raise ValueError(f"{name}: tangent {i} has shape {t.shape} but its primal has shape "
                             f"{np.shape(p._data if isinstance(p, Tensor) else p)}")
    return primals, tangents


def _dot_all(vectors: Sequence[Tensor], tangents: Sequence[Tensor]) -> Tensor | None:
    """sum_i <vectors[i], tangents[i]> as one recorded scalar."""
    total = None
    for g, t in zip(vectors, tangents):
        term = (g * t).sum()
        total = term if total is None else total + term
    return total


def jvp_by_reverse(f: Callable, primals: Sequence[Any],
                   tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``(f(primals), J @ tangents)`` by the double-VJP trick (see the module docstring): about
    three reverse passes. ``tg.jvp`` (forward_mode.py) uses it where tangents cannot be carried
    forward: through a reverse pass inside ``f``, and while ``tg.jit`` records."""
    primals, tangents = _primals_and_tangents(primals, tangents, "jvp")
    nums = tuple(range(len(primals)))
    prepared, out, nested = _evaluate(f, primals, nums, "jvp")
    zero = Tensor(np.zeros(out.shape, dtype=out.dtype))
    if not out.requires_grad:
        return _finish(out, nested), zero
    # u is a dummy cotangent: J^T u is linear in u, so d<J^T u, v>/du = J v whatever u's value.
    u = Tensor(np.zeros(out.shape, dtype=out.dtype), requires_grad=True)
    with autograd.enable_grad():
        total = _dot_all(_grads(out, prepared, u, True), tangents)
    if total is None or not total.requires_grad:
        return _finish(out, nested), zero
    (tangent_out,) = _grads(total, [u], None, nested)
    return _finish(out, nested), _finish(tangent_out, nested)


def hvp_by_reverse(prepared: list, out: Tensor, nested: bool, grads: tuple,
                   tangents: Sequence[Tensor]) -> Any:
    """Hessian-vector products as the gradient of grad(f) . v (reverse over reverse), from a
    recorded gradient: what ``tg.hvp`` (forward over reverse, forward_mode.py) uses inside
    other transforms and while an ONNX export records."""
    with autograd.enable_grad():
        total = _dot_all(grads, tangents)
    if total is None or not total.requires_grad:
        result = tuple(Tensor(np.zeros(p.shape, dtype=p.dtype)) for p in prepared)
    else:
        result = tuple(_finish(h, nested) for h in _grads(total, prepared, None, nested))
    return result[0] if len(result) == 1 else result


class TaylorPolynomial:
    """The Taylor polynomial of f about x0, returned by :func:`taylor`; call it to evaluate.

    ``derivatives[k]`` is the k-th derivative at x0 (for a vector x0: the value, the gradient and
    the Hessian) and ``coefficients[k] = derivatives[k] / k!``, so that
    ``p(x) = sum_k coefficients[k] (x - x0)^k`` (for a vector x0: ``c0 + c1 . d + d^T c2 d`` with
    ``d = x - x0``). Evaluation records on the tape like any operation, so p can be
    differentiated too.
    """

    def __init__(self, x0: np.ndarray, derivatives: Sequence[Tensor]) -> None:
        self.x0 = x0
        self.order = len(derivatives) - 1
        self.derivatives = tuple(derivatives)
        self.coefficients = tuple(d / float(math.factorial(k))
                                  for k, d in enumerate(self.derivatives))
        self.scalar = x0.size == 1

    def __call__(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.scalar:  # elementwise over any shape of x: Horner's rule
            d = x - self.x0.reshape(())
            result = self.coefficients[-1].reshape(()) + d * 0
            for c in self.coefficients[-2::-1]:
                result = result * d + c.reshape(())
            return result
        n, shape = self.x0.size, self.x0.shape
        if x.shape[x.ndim - len(shape):] != shape:
            raise ValueError(f"taylor: the polynomial is about a point of shape {shape}, so x must "
                             f"have shape {shape} or (..., {', '.join(map(str, shape))}), got "
                             f"{x.shape}")
        batch = x.shape[:x.ndim - len(shape)]
        flat = (x - self.x0).reshape(-1, n)
        result = self.coefficients[0].reshape(()) + flat.sum(axis=-1) * 0
        if self.order >= 1:
            result = result + flat @ self.coefficients[1].reshape(n)
        if self.order >= 2:
            result = result + ((flat @ self.coefficients[2].reshape(n, n)) * flat).sum(axis=-1)
        return result.reshape(batch)

    def __repr__(self) -> str:
        kind = "scalar" if self.scalar else f"shape {self.x0.shape}"
        return f"<TaylorPolynomial of order {self.order} about x0 ({kind})>"


def taylor(f: Callable, x0: Any, order: int) -> TaylorPolynomial:
    """The Taylor polynomial of a one-element ``f`` about ``x0``, of degree ``order``.

    For a one-element x0, any order: the derivatives come from repeated reverse mode
    (``create_graph`` on the previous derivative, one chain, so derivative k costs one reverse
    pass over the graph of derivative k-1). For any other shape of x0, orders 0-2 (value,
    gradient, Hessian). The result is a :class:`TaylorPolynomial`; its coefficients are constants
    (detached).
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 0:
        raise ValueError(f"taylor: order must be a non-negative int, got {order!r}")
    x = Tensor(x0, requires_grad=True)
    if x.size != 1 and order > 2:
        raise ValueError(f"taylor: order {order} needs a one-element x0; for x0 of shape "
                         f"{x.shape} orders 0, 1 and 2 (value, gradient, Hessian) are supported")
    out = _call(f, [x], "taylor")
    _scalar_output(out, "taylor")
    if x.size != 1:
        derivatives = [out.detach().reshape(())]
        if order >= 1:
            derivatives.append(grad(f)(x.detach()))
        if order == 2:
            derivatives.append(hessian_by_reverse(f)(x.detach()))
        return TaylorPolynomial(x._data, derivatives)
    derivatives = [out.detach()]
    current = out
    with autograd.enable_grad():
        for k in range(1, order + 1):
            (current,) = _grads(current.reshape(()), [x], None, k < order)
            derivatives.append(current.detach())
    return TaylorPolynomial(x._data, derivatives)
