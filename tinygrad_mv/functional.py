"""JAX-style function transforms, thin wrappers over the one reverse-mode core.

Each transform takes a function of Tensors and returns a function. They compose
(``tg.jacobian(tg.grad(f))``) because a transform called on a Tensor that already requires grad
differentiates with ``create_graph=True``, so whoever tracks that Tensor can differentiate the
result again. Called on plain data, a transform records no graph for its result.

Costs, in units of one evaluation of f plus one reverse pass:
- ``grad``, ``value_and_grad``, ``vjp``: one each (``vjp_fn`` one reverse pass per call).
- ``jacobian``: one reverse pass per output element (m rows for f: R^n -> R^m).
- ``jvp``: the "double VJP" trick: a reverse pass with a symbolic cotangent u recorded
  (g(u) = J^T u is linear in u), then a reverse pass of g . v with respect to u gives J v:
  about three reverse passes, no forward mode needed.
- ``hvp``: grad with ``create_graph``, then the gradient of grad(f) . v: about 3-4x a gradient,
  and the Hessian is never formed.
- ``hessian``: ``jacobian(grad(f))``: n Hessian-vector products for n inputs.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import autograd
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "jvp", "vjp", "hvp"]


def _argnums_tuple(argnums: int | Sequence[int], nargs: int, name: str) -> tuple[int, ...]:
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

    A Tensor that already requires grad is used as it is (an outer transform or the user is
    tracking it): then the result must keep its graph, and ``nested`` is True.
    """
    args = list(args)
    nested = False
    for n in nums:
        a = args[n]
        if isinstance(a, Tensor) and a.requires_grad and autograd.is_grad_enabled():
            nested = True
            continue
        data = a.data if isinstance(a, Tensor) else Tensor(a).data
        if data.dtype.kind != "f":
            data = data.astype(np.float64)
        args[n] = Tensor(data, requires_grad=True)
    return args, nested


def _call(f: Callable, args: Sequence[Any], name: str) -> Tensor:
    with autograd.enable_grad():
        out = f(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: the function must return a Tensor, got {type(out).__name__} "
                        "(build the result with tinygrad_mv operations)")
    return out


def _scalar_output(out: Tensor, name: str) -> None:
    if out.size != 1:
        raise ValueError(f"{name}: the function must return a single element, but its output has "
                         f"shape {out.shape}; use tg.jacobian for vector outputs")


def _grads(out: Tensor, wrt: Sequence[Tensor], seed: Any, create_graph: bool) -> tuple:
    """d(out)/d(wrt) seeded with ``seed``; zeros where out does not depend on an input."""
    if not out.requires_grad:
        return tuple(Tensor(np.zeros(w.shape, dtype=w.dtype)) for w in wrt)
    found = autograd.grad(out, wrt, grad_outputs=seed, retain_graph=True,
                          create_graph=create_graph, allow_unused=True)
    return tuple(Tensor(np.zeros(w.shape, dtype=w.dtype)) if g is None else g
                 for g, w in zip(found, wrt))


def _finish(value: Tensor, nested: bool) -> Tensor:
    return value if nested else value.detach()


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``value_and_grad(f)(*args) -> (f(*args), df/dargs[argnums])`` for a one-element f."""
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        nums = _argnums_tuple(argnums, len(args), "value_and_grad")
        prepared, nested = _prepare(args, nums)
        out = _call(lambda *a: f(*a, **kwargs), prepared, "value_and_grad")
        _scalar_output(out, "value_and_grad")
        grads = _grads(out, [prepared[n] for n in nums], None, nested)
        grads = tuple(_finish(g, nested) for g in grads)
        return _finish(out, nested), grads[0] if isinstance(argnums, (int, np.integer)) else grads
    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``grad(f)(*args)``: the gradient of a one-element f with respect to ``args[argnums]`` (a
    tuple of gradients when ``argnums`` is a tuple). ``grad(grad(f))`` is the second derivative."""
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]
    return wrapped


def jacobian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``jacobian(f)(*args)`` of shape ``f(x).shape + x.shape``, one reverse pass per output
    element (a tuple of Jacobians when ``argnums`` is a tuple)."""
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums_tuple(argnums, len(args), "jacobian")
        prepared, nested = _prepare(args, nums)
        out = _call(lambda *a: f(*a, **kwargs), prepared, "jacobian")
        wrt = [prepared[n] for n in nums]
        rows: list[list[Tensor]] = [[] for _ in wrt]
        for i in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[i] = 1
            for k, g in enumerate(_grads(out, wrt, seed.reshape(out.shape), nested)):
                rows[k].append(g)
        from .ops import reshape, stack
        jacs = []
        for k, w in enumerate(wrt):
            if rows[k]:
                jac = reshape(stack(rows[k], axis=0), out.shape + w.shape)
            else:
                jac = Tensor(np.zeros(out.shape + w.shape, dtype=w.dtype))
            jacs.append(_finish(jac, nested))
        return jacs[0] if isinstance(argnums, (int, np.integer)) else tuple(jacs)
    return wrapped


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """``hessian(f)(*args)`` of shape ``x.shape + x.shape`` for a one-element f: the Jacobian of
    the gradient, n Hessian-vector products for n inputs."""
    if not isinstance(argnums, (int, np.integer)):
        raise ValueError("hessian: argnums must be a single int")
    return jacobian(grad(f, argnums), argnums)


def _tuple_arg(value: Any, name: str, what: str) -> tuple:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name}: {what} must be a tuple (as in JAX), e.g. (x,), got "
                        f"{type(value).__name__}")
    return tuple(value)


def vjp(f: Callable, *primals: Any) -> tuple[Tensor, Callable]:
    """``out, vjp_fn = vjp(f, *primals)``; ``vjp_fn(cotangent)`` returns a tuple with
    cotangent^T J for each primal, and may be called again."""
    nums = tuple(range(len(primals)))
    prepared, nested = _prepare(primals, nums)
    out = _call(f, prepared, "vjp")

    def vjp_fn(cotangent: Any) -> tuple:
        seed = cotangent if isinstance(cotangent, Tensor) else Tensor(cotangent)
        if seed.shape != out.shape:
            raise ValueError(f"vjp: cotangent has shape {seed.shape} but the output has shape "
                             f"{out.shape}")
        cot_nested = nested or seed.requires_grad
        grads = _grads(out, prepared, seed, cot_nested)
        return tuple(_finish(g, cot_nested) for g in grads)

    return _finish(out, nested), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``(f(primals), J @ tangents)`` by the double-VJP trick (see the module docstring)."""
    primals = _tuple_arg(primals, "jvp", "primals")
    tangents = _tuple_arg(tangents, "jvp", "tangents")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(range(len(primals)))
    prepared, nested = _prepare(primals, nums)
    tangents = [t if isinstance(t, Tensor) else Tensor(t) for t in tangents]
    for p, t in zip(prepared, tangents):
        if p.shape != t.shape:
            raise ValueError(f"jvp: a tangent has shape {t.shape} but its primal has shape "
                             f"{p.shape}")
    out = _call(f, prepared, "jvp")
    if not out.requires_grad:
        return _finish(out, nested), Tensor(np.zeros(out.shape, dtype=out.dtype))
    u = Tensor(np.zeros(out.shape, dtype=out.dtype), requires_grad=True)
    with autograd.enable_grad():
        pulled = _grads(out, prepared, u, True)  # J^T u, recorded as a function of u
        total = None
        for g, t in zip(pulled, tangents):
            term = (g * t).sum()
            total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return _finish(out, nested), Tensor(np.zeros(out.shape, dtype=out.dtype))
    (tangent_out,) = _grads(total, [u], None, nested)
    return _finish(out, nested), _finish(tangent_out, nested)


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian of a one-element f times ``tangents``, without forming the Hessian: the gradient
    of grad(f) . v. Returns a Tensor for one primal, a tuple for several."""
    primals = _tuple_arg(primals, "hvp", "primals")
    tangents = _tuple_arg(tangents, "hvp", "tangents")
    if len(primals) != len(tangents):
        raise ValueError(f"hvp: {len(primals)} primals but {len(tangents)} tangents")
    nums = tuple(range(len(primals)))
    prepared, nested = _prepare(primals, nums)
    tangents = [t if isinstance(t, Tensor) else Tensor(t) for t in tangents]
    for p, t in zip(prepared, tangents):
        if p.shape != t.shape:
            raise ValueError(f"hvp: a tangent has shape {t.shape} but its primal has shape "
                             f"{p.shape}")
    out = _call(f, prepared, "hvp")
    _scalar_output(out, "hvp")
    with autograd.enable_grad():
        grads = _grads(out, prepared, None, True)
        total = None
        for g, t in zip(grads, tangents):
            term = (g * t).sum()
            total = term if total is None else total + term
    if total is None or not total.requires_grad:
        result = tuple(Tensor(np.zeros(p.shape, dtype=p.dtype)) for p in prepared)
    else:
        result = tuple(_finish(h, nested) for h in _grads(total, prepared, None, nested))
    return result[0] if len(result) == 1 else result
