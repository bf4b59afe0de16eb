"""Forward-mode transforms: ``jvp``, ``linearize``, ``jacfwd``, and ``jacrev`` beside them.

``jvp(f, primals, tangents)`` runs ``f`` once with each value's tangent carried beside it
(forward.py): no tape, no backward pass, and it works under ``tg.no_grad()``. Its cost is a small
constant times one evaluation of f. A gradient taken inside f (``jvp(grad(f), ...)``, forward
over reverse) is recorded, and the tangents ride through its backward pass's operations. While
``tg.jit`` or an ONNX export records, the tangent rules run on Tensors, as operations it records.
Where tangents cannot be carried (a ``backward()`` on arrays inside f), it computes the same J v
by two reverse passes (functional.jvp_by_reverse).

``hessian`` and ``hvp`` are forward over reverse on a recorded gradient: one pass of forward
rules through the recorded graph (``_sweep``; for the Hessian every basis direction at once,
stacked as for jacfwd; while tg.jit records, each rule call a step of the replay), reverse over
reverse where that cannot serve (inside other transforms, an ONNX export, an op without forward
rules).

``jacfwd`` builds a Jacobian from its columns in one forward pass: the basis tangents ride on a
leading axis (each operation's ``batching`` says how its rules take it; one batch element at a
time where it does not), as operations where something outside differentiates or records them.
``jacrev`` builds it row by row (one reverse pass per output element). Forward mode is cheap
when inputs are few, reverse when outputs are; both give shape ``f(x).shape + x.shape``.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from . import autograd, functional
from .forward import Level, ReverseInside, batched_rule, current, fit_batch
from .ops import reshape
from .tensor import Tensor, _make

__all__ = ["jvp", "linearize", "jacfwd", "jacrev", "hessian", "hvp"]


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """``(f(*primals), J @ tangents)`` by forward mode; ``primals`` and ``tangents`` are tuples."""
    primals, tangents = functional._primals_and_tangents(primals, tangents, "jvp")
    tracer = autograd._tracer
    try:
        # While tg.jit or an export records, the tangent rules run as operations it records.
        return _forward_jvp(f, primals, tangents,
                            on_tensors=tracer is not None and tracer.active())
    except ReverseInside:
        return functional.jvp_by_reverse(f, primals, tangents)


def _forward_jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Tensor],
                 on_tensors: bool = False) -> tuple[Tensor, Tensor]:
    grad_on = autograd._grad_enabled.get()
    outer = current()  # an enclosing jvp: the results keep its tangents
    nested = outer is not None
    if grad_on and not nested:
        for x in (*primals, *tangents):
            if isinstance(x, Tensor) and x._requires_grad:
                nested = True
                break
    with Level(refuse_reverse=True, record=nested, on_tensors=on_tensors) as level:
        inputs = []
        for p, t in zip(primals, tangents):
            if isinstance(p, Tensor) and (p._requires_grad and grad_on or outer is not None):
                # An identity operation of its own: the result keeps p's graph, and an outer
                # level's tangent of p.
                x = reshape(p, p.shape)
            else:  # a copy: an in-place write inside f leaves the caller's array alone
                x = Tensor(p)
            tangent = t if on_tensors or nested and t._requires_grad else t._data
            if tangent.dtype != x._data.dtype:
                tangent = tangent.astype(x._data.dtype)
            level.set(x, tangent)
            inputs.append(x)
        out = functional._call(f, inputs, "jvp")
        tangent_out = level.tangent(out)
    if tangent_out is None:  # f does not depend on the primals
        tangent_out = Tensor(np.zeros(out.shape, dtype=out.dtype))
    elif not isinstance(tangent_out, Tensor):
        # A copy: a rule may hand on an array someone holds (the caller's tangent, a view of it,
        # an operand, the value).
        return out if nested else out.detach(), _make(np.array(tangent_out), None)
    if nested:
        return out, tangent_out
    return out.detach(), tangent_out.detach()


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
    """``jacfwd(f)(*args)``: the Jacobian by forward mode, one tangent per input element, all in
    one batched pass; shape ``f(x).shape + x.shape`` (a tuple when ``argnums`` is a tuple)."""
    functional._check_callable(f, "jacfwd")

    def jacobian(*args: Any) -> Any:
        from .ops import stack
        nums = functional._argnums_tuple(argnums, len(args), "jacfwd")
        args = [a if isinstance(a, Tensor) else Tensor(a) for a in args]
        try:
            blocks = _batched_jacobian(f, args, nums)
            return blocks[0] if functional._single(argnums) else tuple(blocks)
        except ReverseInside:  # f takes a gradient on arrays: column by column below
            pass
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


def _batched_jacobian(f: Callable, args: Sequence[Tensor], nums: Sequence[int]) -> list[Tensor]:
    """Every column of the Jacobian in one forward pass: the tangents of the inputs in ``nums``
    are the rows of an identity matrix, stacked on a leading axis. Inside another transform, or
    while a tracer records, the tangents are operations like any others (as in ``jvp``)."""
    from .ops import reshape
    tracer = autograd._tracer
    on_tensors = tracer is not None and tracer.active()
    grad_on = autograd.is_grad_enabled()
    outer = current()
    nested = outer is not None or grad_on and any(a.requires_grad for a in args)
    sizes = [args[n].size for n in nums]
    total = sum(sizes)
    with Level(refuse_reverse=True, record=nested, on_tensors=on_tensors, batch=total) as level:
        # An identity operation of its own keeps the input's graph and an outer level's tangent.
        inputs = [reshape(a, a.shape) if a.requires_grad and grad_on or outer is not None
                  else Tensor(a) for a in args]
        start = 0
        bases: dict[int, np.ndarray] = {}
        for n, size in zip(nums, sizes):
            # (an argument named twice in argnums gets both blocks' directions, as in jacrev)
            basis = bases.setdefault(n, np.zeros((total, size), dtype=args[n].dtype))
            basis[start:start + size] = np.eye(size, dtype=args[n].dtype)
            start += size
        for n, basis in bases.items():
            stacked = basis.reshape((total,) + args[n].shape)
            level.set(inputs[n], Tensor(stacked) if on_tensors else stacked)
        out = functional._call(f, inputs, "jacfwd")
        tangents = level.tangent(out)
    if tangents is None:  # f does not depend on the inputs
        tangents = np.zeros((total,) + out.shape, dtype=out.dtype)
    columns = np.moveaxis(tangents, 0, -1)  # out.shape + (total,); an operation on a Tensor
    blocks, start = [], 0
    for n, size in zip(nums, sizes):
        block = columns[..., start:start + size].reshape(out.shape + args[n].shape)
        if not isinstance(block, Tensor):
            block = Tensor(np.array(block, order="C"))  # (ascontiguousarray makes 0-d 1-d)
        blocks.append(functional._finish(block, nested))
        start += size
    return blocks


def jacrev(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``jacrev(f)(*args)``: the Jacobian by reverse mode, one cotangent per output element (the
    same as ``tg.jacobian``)."""
    return functional._jacobian(f, argnums, "jacrev")


# --- forward over reverse on a recorded gradient ------------------------------------------------
class _CannotSweep(Exception):
    """The recorded graph lacks a value a forward rule reads (or an operation has none)."""


def _graph(root: Any) -> list:
    """The nodes of the graph that ends at ``root``, in creation order."""
    node_type = autograd.Node
    seen = {id(root)}
    stack, nodes = [root], []
    while stack:
        node = stack.pop()
        nodes.append(node)
        for parent in node.parents:
            if type(parent) is node_type and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    nodes.sort(key=lambda n: n.seq)
    return nodes


def _plan(nodes: list) -> list:
    """For each node, its saved values and the forward rule of each recorded input; raises
    _CannotSweep when the tape freed or never kept a value a forward rule reads."""
    from . import rules
    plan = []
    for node in nodes:
        op = autograd.op_of(node)
        if node.saved is None or op is None or op.jvps is None:
            raise _CannotSweep
        datas, out = node.saved
        edges = []
        for i, parent in enumerate(node.parents):
            if parent is None:
                continue
            rule = op.jvps[i]
            uses = rules.rule_uses(rule, len(datas))
            if any(use == rules.READ and (v is None or isinstance(v, rules.ArrayMeta))
                   for use, v in zip(uses, (out, *datas))):
                raise _CannotSweep  # a large value the tape did not keep
            edges.append((id(parent), rule))
        plan.append((node, op.batching, datas, out, edges))
    return plan


def _sweep(plan: list, root: Any, leaves: Sequence[Tensor], tangents: Sequence[Any],
           batch: int | None = None, tracer: Any = None) -> Any:
    """The tangent of ``root`` (a node) when ``leaves`` carry ``tangents``: each recorded
    operation's forward rule, in creation order, over the graph already recorded (no new tape).
    ``batch=n``: each tangent is n directions stacked on a leading axis, all swept in one pass.
    None when root does not depend on the leaves. ``tracer`` (tg.jit recording): every call is
    told to it as a step, so that a replay makes the calls this sweep makes eagerly."""
    carried: dict[int, Any] = {id(leaf): t for leaf, t in zip(leaves, tangents)}
    for node, batching, datas, out, edges in plan:
        total = None
        for parent, rule in edges:
            t = carried.get(parent)
            if t is None:
                continue
            params = node.params
            if batch is not None:  # (rule and batching bound first: params keep their names)
                rule = functools.partial(_batched, rule, batching)
            c = rule(t, out, *datas, **params)
            if tracer is not None:
                tracer.forward_rule(rule, params, (t, out, *datas), c)
            if total is None:
                total = c
            else:
                added = total + c
                if tracer is not None:
                    tracer.step(operator.add, (total, c), added)
                total = added
        if total is None:
            continue
        fitted = _fit_sweep(total, node.shape, node.dtype, batch)
        if tracer is not None and fitted is not total:
            tracer.step(functools.partial(_fit_sweep, shape=node.shape, dtype=node.dtype,
                                          batch=batch), (total,), fitted)
        carried[id(node)] = fitted
    return carried.get(id(root))


def _batched(rule: Callable, batching: str | None, t: Any, out: Any, /, *datas: Any,
             **params: Any) -> Any:
    """One forward rule on stacked tangents (batched_rule), called as the rules are once
    ``rule`` and ``batching`` are bound."""
    return batched_rule(batching, rule, t, out, datas, params)


class _Like(NamedTuple):
    """A value's shape and dtype (what fit_batch reads of it)."""

    shape: tuple
    dtype: np.dtype


def _fit_sweep(total: Any, shape: tuple, dtype: np.dtype, batch: int | None) -> Any:
    """A swept tangent in its value's shape and dtype (after one batch axis, if any)."""
    if batch is not None:
        return fit_batch(total, _Like(shape, dtype), batch)
    if total.shape != shape:
        total = np.broadcast_to(total, shape)
    return np.asarray(total, dtype=dtype)


def _sweep_mode(nested: bool) -> str | None:
    """How tangents may be swept through a recorded gradient: "arrays" for a result nobody
    differentiates or records further, "recorded" while tg.jit records (each call a step);
    None inside another transform or forward-mode level, or for a recorder of operations only
    (ONNX export): reverse over reverse then."""
    if nested or current() is not None:
        return None
    tracer = autograd._tracer
    if tracer is None or not tracer.active():
        return "arrays"
    return "recorded" if tracer.records_calls else None


def _recorded_gradient(f: Callable, args: Sequence[Any], nums: tuple[int, ...],
                       name: str) -> tuple[list, Tensor, bool, tuple]:
    prepared, out, nested = functional._evaluate(f, args, nums, name)
    functional._scalar_output(out, name)
    with autograd.enable_grad():
        grads = functional._grads(out, [prepared[n] for n in nums], None, True)
    return prepared, out, nested, grads


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """Hessian of a one-element f times ``tangents``, without forming the Hessian, by forward over
    reverse: the gradient is recorded once, then the tangents are carried through it (one
    forward-rule pass). Returns a Tensor for one primal, a tuple for several."""
    primals, tangents = functional._primals_and_tangents(primals, tangents, "hvp")
    nums = tuple(range(len(primals)))
    prepared, out, nested, grads = _recorded_gradient(f, primals, nums, "hvp")
    mode = _sweep_mode(nested)
    if mode is not None:
        tracer = autograd._tracer if mode == "recorded" else None
        if tracer is not None:  # tangents a closure holds are read at each call
            for t in tangents:
                tracer.read(t)
        try:
            plan = _plan(_graph_of_all([g._node for g in grads]))
            result = []
            for g, p in zip(grads, prepared):
                t = None if g._node is None else _sweep(plan, g._node, prepared,
                                                        [t._data for t in tangents], tracer=tracer)
                # (Tensor copies, and a tracer sees the copy or the cast)
                result.append(Tensor(np.zeros(p.shape, dtype=p.dtype)) if t is None else
                              Tensor(t, dtype=p.dtype))
            return result[0] if len(result) == 1 else tuple(result)
        except _CannotSweep:
            pass
    return functional.hvp_by_reverse(prepared, out, nested, grads, tangents)


def _graph_of_all(roots: Sequence[Any]) -> list:
    nodes: dict[int, Any] = {}
    for root in roots:
        if root is not None:
            for node in _graph(root):
                nodes[id(node)] = node
    return sorted(nodes.values(), key=lambda n: n.seq)


def _columns(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Swept rows (one per direction, first axis) as the Jacobian's columns, in ``shape``."""
    return np.ascontiguousarray(np.moveaxis(rows, 0, -1)).reshape(shape)


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``hessian(f)(*args)`` of shape ``x.shape + x.shape`` for a one-element f, by forward over
    reverse: the gradient is recorded once, then one forward-rule pass through it carries every
    input element's basis direction at once (a stack of columns). With a tuple ``argnums``, as
    JAX: a tuple of tuples of blocks, block ``[i][j]`` of shape ``x_i.shape + x_j.shape``."""
    functional._check_callable(f, "hessian")
    if not functional._single(argnums):
        return _hessian_blocks(f, argnums)
    by_reverse = functional.hessian_by_reverse(f, argnums)

    def hessian_of(*args: Any) -> Tensor:
        nums = functional._argnums_tuple(argnums, len(args), "hessian")
        prepared, out, nested, (g,) = _recorded_gradient(f, args, nums, "hessian")
        x = prepared[nums[0]]
        mode = _sweep_mode(nested)
        if mode is not None and g._node is None:  # a gradient that is constant in x
            return Tensor(np.zeros(g.shape + x.shape, dtype=g.dtype))
        if mode is not None:
            tracer = autograd._tracer if mode == "recorded" else None
            try:
                plan = _plan(_graph(g._node))
                basis = np.eye(x.size, dtype=x.dtype).reshape((x.size,) + x.shape)
                rows = _sweep(plan, g._node, [x], [basis], batch=x.size,
                              tracer=tracer)  # (n,) + g.shape
                if rows is None:
                    return Tensor(np.zeros(g.shape + x.shape, dtype=g.dtype))
                shape = g.shape + x.shape
                columns = _columns(rows, shape)
                if tracer is not None:
                    tracer.step(functools.partial(_columns, shape=shape), (rows,), columns)
                return Tensor(columns)
            except _CannotSweep:
                pass
        return by_reverse(*args)
    return functional._named(hessian_of, "hessian", f)


def _hessian_blocks(f: Callable, argnums: Sequence[int]) -> Callable:
    """The Hessian over several arguments: block [i][j] is the jacobian (forward mode) in
    argument j of the gradient in argument i."""
    def blocks(*args: Any) -> tuple:
        nums = functional._argnums_tuple(argnums, len(args), "hessian")
        return tuple(tuple(jacfwd(functional.grad(f, argnums=i), argnums=j)(*args)
                           for j in nums) for i in nums)
    return functional._named(blocks, "hessian", f)
