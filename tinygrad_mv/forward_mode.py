"""Forward-mode transforms: ``jvp``, ``linearize``, ``jacfwd``, and ``jacrev`` beside them.

``jvp(f, primals, tangents)`` runs ``f`` once with each value's tangent carried beside it
(forward.py): no tape, no backward pass, and it works under ``tg.no_grad()``. Its cost is a small
constant times one evaluation of f. Where tangents cannot be carried, it computes the same J v by
two reverse passes (functional.jvp_by_reverse): when ``f`` takes a gradient itself
(forward-over-reverse, ``jvp(grad(f), ...)``), and while ``tg.jit`` records (the replay is made of
the reverse pass's NumPy calls).

``jacfwd`` builds a Jacobian column by column (one forward pass per input element, cheap when
inputs are few), ``jacrev`` row by row (one reverse pass per output element, cheap when outputs
are few); both give shape ``f(x).shape + x.shape``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import autograd, functional
from .forward import Level, ReverseInside, current
from .tensor import Tensor

__all__ = ["jvp", "linearize", "jacfwd", "jacrev"]


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J @ tangents)`` by forward mode; ``primals`` and ``tangents`` are tuples."""
    primals, tangents = functional._primals_and_tangents(primals, tangents, "jvp")
    tracer = autograd._tracer
    if tracer is not None and tracer.active():
        return functional.jvp_by_reverse(f, primals, tangents)
    try:
        return _forward_jvp(f, primals, tangents)
    except ReverseInside:
        return functional.jvp_by_reverse(f, primals, tangents)


def _forward_jvp(f: Callable, primals: Sequence[Any],
                 tangents: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    from .ops import reshape
    grad_on = autograd.is_grad_enabled()
    outer = current()  # an enclosing jvp: the results keep its tangents
    nested = outer is not None or grad_on and any(isinstance(x, Tensor) and x.requires_grad
                                                  for x in (*primals, *tangents))
    with Level(refuse_reverse=True) as level:
        inputs = []
        for p, t in zip(primals, tangents):
            if isinstance(p, Tensor) and (p.requires_grad and grad_on or outer is not None):
                # An identity operation of its own: the result keeps p's graph, and an outer
                # level's tangent of p.
                x = reshape(p, p.shape)
            else:
                x = Tensor(p.data if isinstance(p, Tensor) else p)
            tangent = t if nested and t.requires_grad else t.data
            if tangent.dtype != x.dtype:
                tangent = tangent.astype(x.dtype)
            level.set(x, tangent)
            inputs.append(x)
        out = functional._call(f, inputs, "jvp")
        tangent_out = level.tangent(out)
    if tangent_out is None:  # f does not depend on the primals
        tangent_out = Tensor(np.zeros(out.shape, dtype=out.dtype))
    elif not isinstance(tangent_out, Tensor):
        tangent_out = Tensor(np.asarray(tangent_out))
    return functional._finish(out, nested), functional._finish(tangent_out, nested)


def linearize(f: Callable, *primals: Any) -> tuple[Tensor, Callable]:
    """``out, f_jvp = linearize(f, *primals)``: ``f_jvp(*tangents)`` returns ``J @ tangents`` at
    the primals, and may be called many times (each call is one forward-mode pass)."""
    functional._check_callable(f, "linearize")
    if not primals:
        raise TypeError("linearize: give the point as positional arguments: linearize(f, x)")
    point = tuple(p if isinstance(p, Tensor) else Tensor(p) for p in primals)
    out = functional._call(f, point, "linearize").detach()

    def f_jvp(*tangents: Any) -> Tensor:
        if len(tangents) != len(point):
            raise TypeError(f"linearize: f_jvp takes {len(point)} tangent(s), one per primal, "
                            f"got {len(tangents)}")
        return jvp(f, point, tangents)[1]
    return out, f_jvp


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``jacfwd(f)(*args)``: the Jacobian by forward mode, one tangent per input element; shape
    ``f(x).shape + x.shape`` (a tuple when ``argnums`` is a tuple)."""
    functional._check_callable(f, "jacfwd")

    def jacobian(*args: Any) -> Any:
        from .ops import reshape, stack
        nums = functional._argnums_tuple(argnums, len(args), "jacfwd")
        args = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        blocks = []
        for n in nums:
            x = args[n]
            columns = []
            out = None
            for k in range(x.size):
                basis = np.zeros(x.size, dtype=x.dtype)
                basis[k] = 1
                tangents = [basis.reshape(x.shape) if m == n else np.zeros(a.shape, a.dtype)
                            for m, a in enumerate(args)]
                out, column = jvp(f, tuple(args), tuple(tangents))
                columns.append(column)
            if out is None:  # an empty input: f still fixes the output's shape
                out = functional._call(f, args, "jacfwd")
                blocks.append(Tensor(np.zeros(out.shape + x.shape, dtype=out.dtype)))
                continue
            # Joined with operations: a jacfwd inside another transform keeps its graph and
            # tangents (jacfwd(jacfwd(f)) is the Hessian).
            blocks.append(reshape(stack(columns, axis=-1), out.shape + x.shape))
        return blocks[0] if functional._single(argnums) else tuple(blocks)
    return functional._named(jacobian, "jacfwd", f)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``jacrev(f)(*args)``: the Jacobian by reverse mode, one cotangent per output element (the
    same as ``tg.jacobian``)."""
    return functional._jacobian(f, argnums, "jacrev")
