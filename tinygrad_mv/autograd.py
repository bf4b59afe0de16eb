"""The tape: graph nodes, grad modes and the reverse-mode engine.

Nothing here knows about a specific operation. An operation is made with :func:`primitive` from a
NumPy forward function and one vector-Jacobian product (VJP) rule per differentiable input; the
rules live in ``tinygrad_mv/ops``. A rule is called as ``rule(g, out, *inputs, **params)``.

Memory model: a node keeps the NumPy arrays its rule needs (``saved``), its parents (other nodes,
or leaf Tensors) and shape metadata. It never holds the intermediate Tensor objects themselves, so
releasing ``saved`` after backward frees every intermediate buffer while the graph's structure
stays drawable.

First-order backward calls the rules on plain NumPy arrays: no graph is recorded. With
``create_graph=True`` the same rules are called on Tensors rebuilt around the saved arrays (each
attached to the node that produced it), so the backward pass is itself recorded through NumPy's
``__array_ufunc__``/``__array_function__`` protocols and higher derivatives come for free.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import heapq
import sys
import traceback
import weakref
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np

from . import rules, versions

__all__ = [
    "Node", "primitive", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled",
]

# Per thread (and per asyncio task): a no_grad block in one thread never affects another.
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)
_anomaly: contextvars.ContextVar[bool] = contextvars.ContextVar("anomaly", default=False)
_sequence = versions.sequence  # shared with in-place writes: "recorded before a write" is a <
# The tokens of the grad-mode blocks entered in this thread/task, innermost last.
_mode_tokens: contextvars.ContextVar[tuple] = contextvars.ContextVar("mode_tokens", default=())
# Inside an optimizer's closure (optim.Newton): backward() keeps the graph unless told otherwise,
# so a PyTorch-style closure that calls loss.backward() leaves the loss differentiable again.
keep_graphs: contextvars.ContextVar[bool] = contextvars.ContextVar("keep_graphs", default=False)
# While tg.jit records a function: its tracer (tracing.py), told of every operation.
_tracer: Any = None


def _ndarray_result(fn: Callable) -> Callable:
    """``fn`` with its result as an ndarray (as apply makes it), for recorded programs."""
    return lambda *args: np.asarray(fn(*args))


class JitError(RuntimeError):
    """``tg.jit`` cannot record ``f`` once and replay it: the message says why. (Defined with the
    tape, which the recorder observes, so that operations can raise it.)"""


class _GradMode:
    """Context manager and decorator that sets a per-thread flag and restores it afterwards."""

    _var: contextvars.ContextVar[bool]
    _default: bool

    def __init__(self, mode: bool | None = None) -> None:
        if mode is not None and not isinstance(mode, (bool, int, np.bool_)):
            # bool("False") is True: a string would silently mean the opposite
            raise TypeError(f"{type(self).__name__}: mode must be a bool, got {mode!r}")
        self._value = self._default if mode is None else bool(mode)

    def __enter__(self) -> _GradMode:
        # The token is kept per thread/task, not on the instance: one instance (a module-level
        # ``NO_GRAD = tg.no_grad()``) may be entered by several threads at once.
        token = self._var.set(self._value)
        _mode_tokens.set(_mode_tokens.get() + (token,))
        return self

    def __exit__(self, *exc: object) -> None:
        stack = _mode_tokens.get()
        _mode_tokens.set(stack[:-1])
        self._var.reset(stack[-1])  # with-blocks nest, so the last token is this block's

    def __call__(self, fn: Callable) -> Callable:
        var, value = self._var, self._value

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = var.set(value)
            try:
                return fn(*args, **kwargs)
            finally:
                var.reset(token)
        return wrapper


class no_grad(_GradMode):
    """``with tg.no_grad():`` (or ``@tg.no_grad()``) records nothing on the tape, in this thread."""

    _var, _default = _grad_enabled, False

    def __init__(self) -> None:
        super().__init__()


class enable_grad(_GradMode):
    """Re-enables recording inside a ``no_grad`` block."""

    _var, _default = _grad_enabled, True

    def __init__(self) -> None:
        super().__init__()


class set_grad_enabled(_GradMode):
    """``with tg.set_grad_enabled(flag):`` records only when ``flag`` is true."""

    _var, _default = _grad_enabled, True

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)


class detect_anomaly(_GradMode):
    """``with tg.detect_anomaly():`` makes forward and backward raise ``FloatingPointError`` at the
    first operation that turns finite values into NaN or infinity, naming it, its shapes and where
    it was created."""

    _var, _default = _anomaly, True


def is_grad_enabled() -> bool:
    return _grad_enabled.get()


def is_anomaly_enabled() -> bool:
    return _anomaly.get()


class Node:
    """One recorded operation: its rule, the arrays the rule needs, and edges to its inputs.

    ``parents[i]`` is the Node that produced input i, the leaf Tensor itself, or None when input i
    needs no gradient (a constant).
    """

    __slots__ = ("op", "vjps", "parents", "saved", "params", "seq", "shape", "dtype", "out_ref",
                 "hooks", "retains_grad", "trace", "__weakref__")

    def __init__(self, op: str, vjps: Sequence[Callable], parents: tuple, saved: tuple,
                 params: dict, out: np.ndarray) -> None:
        self.op = op
        self.vjps = vjps
        self.parents = parents
        self.saved = saved
        self.params = params
        self.seq = next(_sequence)  # parents always have smaller numbers than their children
        self.shape = out.shape
        self.dtype = out.dtype
        self.out_ref: Callable[[], Any] | None = None
        self.hooks: list[Callable] | None = None
        self.retains_grad = False
        self.trace: str | None = None

    @property
    def released(self) -> bool:
        """True once a backward without ``retain_graph`` has freed the saved buffers."""
        return self.saved is None

    def __repr__(self) -> str:
        return f"<Node {self.op} shape={self.shape} seq={self.seq}>"


# The Tensor class is bound at the end of this module (tensor.py imports this one).
Tensor: Any = None
_make: Callable[..., Any] = None  # type: ignore[assignment]


def _shapes_text(datas: Iterable[Any]) -> str:
    return " and ".join(str(np.shape(d)) for d in datas)


def _operand(value: Any) -> Any:
    """A non-Tensor operand as the forward function takes it: Python numbers stay Python numbers
    (so float32 Tensors stay float32), arrays of integers or bools become float64. NumPy scalars
    count as Python numbers, as in PyTorch: ``x / np.sqrt(2)`` keeps a float32 ``x`` float32."""
    if isinstance(value, (float, int)):
        return value if type(value) is not np.float64 else float(value)  # a float subclass
    if isinstance(value, np.generic) and value.dtype.kind in "iub":
        return value.item()
    if isinstance(value, (np.ndarray, np.generic)):
        kind = value.dtype.kind
        if kind == "f":
            return value
        if kind in "iub":
            return np.asarray(value, dtype=np.float64)
        raise TypeError(f"unsupported operand: array of dtype {value.dtype}; tinygrad_mv "
                        "computes with float32 or float64")
    if isinstance(value, (list, tuple)):
        return Tensor(value).data
    raise TypeError(f"unsupported operand of type {type(value).__name__}: expected a Tensor, a "
                    "NumPy array or a Python number")


def _weak_to_float32(datas: list, weak: list[int], args: tuple) -> None:
    """Operands without a float dtype of their own (integer or bool arrays, lists, 0-d arrays)
    take float32 when every Tensor operand is float32, as in PyTorch, instead of promoting the
    result to float64."""
    dtypes = {a.data.dtype for a in args if isinstance(a, Tensor)}
    if dtypes == {np.dtype(np.float32)}:
        for i in weak:
            datas[i] = datas[i].astype(np.float32)


def _params_text(params: dict) -> str:
    if not params:
        return ""
    shown = {k: f"array of shape {v.shape}" if isinstance(v, np.ndarray) else v
             for k, v in params.items()}
    return f" with {shown}"


def _check_finite_forward(name: str, datas: Sequence[Any], out: np.ndarray) -> None:
    if out.dtype.kind != "f" or np.isfinite(out).all():
        return
    if all(np.isfinite(d).all() for d in datas if np.asarray(d).dtype.kind == "f"):
        raise FloatingPointError(
            f"detect_anomaly: forward of '{name}' produced NaN or infinity from finite inputs "
            f"(input shapes {_shapes_text(datas)}, output shape {out.shape})")


class Drawing(NamedTuple):
    """How graph pictures show an operation: the names of inputs whose order matters, the local
    derivative applied to each input ({0}, {1}, ... are the inputs' names), a short formula for
    its result, and whether it is commutative or elementwise (its inputs' gradients are summed
    back over broadcast axes)."""

    roles: tuple[str, ...] = ()
    local: tuple[str, ...] = ()
    formula: str | None = None
    commutative: bool = False
    elementwise: bool = False


# Every operation made by primitive(), in order of creation: what the pictures, the gradcheck
# command and the tests read about operations (name, rules, drawing, defining module).
OPS: list[Callable[..., Any]] = []
_BY_RULES: dict[int, Callable[..., Any]] = {}  # id(rules) -> operation (a node keeps its rules)
_NO_DRAWING = Drawing()


def op_of(node: Node) -> Callable[..., Any] | None:
    """The operation that recorded ``node`` (None for a node made outside primitive())."""
    return _BY_RULES.get(id(node.vjps))


def core_ops() -> dict[str, Callable[..., Any]]:
    """The operations defined in tinygrad_mv.ops, by name."""
    return {op.__name__: op for op in OPS if op.defined_in.startswith("tinygrad_mv.ops.")}


def primitive(name: str, forward: Callable[..., np.ndarray], *vjps: Callable,
              variadic: Callable | None = None, views: bool = False,
              drawing: Drawing | None = None) -> Callable[..., Any]:
    """Make a differentiable operation.

    ``forward(*arrays, **params)`` computes the value with NumPy. ``vjps[i](g, out, *inputs,
    **params)`` returns the gradient for input i given the gradient ``g`` of the output; it may
    return it in the broadcast (output) shape, the engine sums it back to the input's shape.
    A ``variadic`` rule ``variadic(i, g, out, *inputs, **params)`` serves any number of inputs.
    ``views=True``: the forward may return a view of an input (reshape, slicing), which the
    in-place machinery must know of; ``drawing`` says how pictures show it. Positional arguments
    are the differentiable operands; keyword arguments are static params. The operation is
    registered in :data:`OPS`.
    """
    if variadic is not None:
        vjps = _VariadicRules(variadic)  # type: ignore[assignment]
    plans: dict[int, rules.Reads] = {}  # what a node saves, per number of inputs

    def apply(*args: Any, **params: Any) -> Any:
        datas = []
        parents = []
        tracked = False
        weak = None
        for arg in args:
            if isinstance(arg, Tensor):
                datas.append(arg.data)
                if arg._requires_grad:
                    parents.append(arg._node or arg)
                    tracked = True
                    continue
            else:
                data = _operand(arg)
                if type(data) is np.ndarray and data is not arg and data.dtype == np.float64:
                    weak = (weak or []) + [len(datas)]  # made from ints, bools or a list
                elif type(arg) is np.ndarray and arg.ndim == 0 and arg.dtype == np.float64:
                    weak = (weak or []) + [len(datas)]  # a 0-d array counts as a number
                datas.append(data)
            parents.append(None)
        if weak is not None:
            _weak_to_float32(datas, weak, args)
        try:
            out = forward(*datas, **params) if params else forward(*datas)
        except ValueError as exc:
            raise ValueError(f"{name}: invalid for operand shapes {_shapes_text(datas)}"
                             f"{_params_text(params)}: {exc}") from exc
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        tracer = _tracer  # read once: another thread may end its recording meanwhile
        if tracer is not None:
            tracer.record_op(forward, params, args, datas, out)
        anomaly = _anomaly.get()
        if anomaly:
            _check_finite_forward(name, datas, out)
        if tracked and out.dtype.kind == "f" and _grad_enabled.get():
            # Large values no rule reads are not kept. (Only a one-input operation, such as a
            # reduction, has inputs larger than its output.)
            if out.size > _SMALL or len(datas) == 1 and datas[0].size > _SMALL:
                plan = plans.get(len(datas))
                if plan is None:
                    plan = plans[len(datas)] = rules.save_plan(vjps, len(datas))
                saved = rules.thin(datas, parents, out, plan)
            else:
                saved = (datas, out)
            node = Node(name, vjps, tuple(parents), saved, params, out)
            result = _new(Tensor)  # as _make, inlined: one Python call less per operation
            result.data = out
            result.grad = None
            result._node = node
            result._requires_grad = True
            result.name = None
            result._hooks = None
            node.out_ref = weakref.ref(result)  # values of tensors the user still holds
            if views and out.base is not None:
                versions.note_view(result)  # an in-place write to its base makes it stale
            if anomaly:
                node.trace = "".join(traceback.format_stack(limit=12)[:-1])
            return result
        return _make(out, None)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"Differentiable '{name}' (forward: {getattr(forward, '__name__', forward)})."
    apply.forward = forward  # type: ignore[attr-defined]
    apply.vjps = vjps  # type: ignore[attr-defined]
    apply.drawing = drawing or _NO_DRAWING  # type: ignore[attr-defined]
    # The module that defined it (read once, here): core operations live in tinygrad_mv.ops.
    apply.defined_in = sys._getframe(1).f_globals.get("__name__")  # type: ignore[attr-defined]
    OPS.append(apply)
    _BY_RULES[id(vjps)] = apply
    return apply


_SMALL = rules.KEEP_UNREAD_UP_TO
_new = object.__new__
_NO_CONTEXT = contextlib.nullcontext()  # reusable: it keeps no state


class _VariadicRules:
    """Indexable like a tuple of rules, for operations taking any number of inputs."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        return functools.partial(self.rule, i)


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------

class IndexedGrad:
    """A gradient that is zero except at ``index``, where it is ``values`` (repeated positions
    add up): what indexing's rule returns on arrays, so the engine can add it into a gradient
    buffer it owns instead of materialising a zero-filled array per slice."""

    __slots__ = ("values", "index", "full_shape", "unique")
    shape = None  # never equal to a real shape: the engine takes the slow path for it

    def __init__(self, values: np.ndarray, index: Any, full_shape: tuple, unique: bool) -> None:
        self.values = values
        self.index = index
        self.full_shape = full_shape
        self.unique = unique

    def add_into(self, buffer: np.ndarray) -> None:
        if self.unique:
            buffer[self.index] += self.values
        else:
            np.add.at(buffer, self.index, self.values)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = np.zeros(self.full_shape, dtype=dtype or self.values.dtype)
        if self.unique:
            full[self.index] = self.values
        else:
            np.add.at(full, self.index, self.values)
        return full


def scatter(values: np.ndarray, index: Any, full_shape: tuple, unique: bool) -> np.ndarray:
    """An :class:`IndexedGrad` as a full array (zeros elsewhere)."""
    return IndexedGrad(values, index, full_shape, unique).__array__()


def _sum_to_shape(g: Any, shape: tuple) -> Any:
    """Undo NumPy broadcasting: sum ``g`` over the axes along which ``shape`` was broadcast."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:  # the ufunc's own reduce skips ndarray.sum's Python wrapper
        g = (np.add.reduce(g, axis=axes, keepdims=True) if type(g) is np.ndarray else
             g.sum(axis=axes, keepdims=True))
    if lead or g.shape != shape:
        g = g.reshape(shape)
    return g


def _released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the saved buffers of '{node.op}' "
        "(and the rest of the graph) were freed by an earlier backward. Pass retain_graph=True to "
        "the first backward() or tg.autograd.grad() if you need to backward through it again.")


def check_versions(node: Node) -> None:
    """Refuse to run ``node``'s rules when a value they read was written in place after the node
    was recorded (call only for nodes older than ``versions.last_write``)."""
    datas, out = node.saved
    stale = None
    for i, parent in enumerate(node.parents):
        if parent is None or stale:
            continue
        reads = rules.rule_reads(node.vjps[i], len(datas))
        if reads[0] and versions.written_since(out, node.seq):
            stale = "its output"
        for k, data in enumerate(datas):
            if reads[k + 1] and versions.written_since(data, node.seq):
                stale = f"its input {k} (shape {np.shape(data)})"
                break
    if stale is None:
        return
    where = f"\nThe operation was created at:\n{node.trace}" if node.trace else (
        "\nWith tg.detect_anomaly() on, this message also says where the operation was created.")
    raise RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: '{node.op}' (output shape {node.shape}) saved {stale}, which was changed in "
        f"place after '{node.op}' was recorded, so its gradient would be computed from the new "
        f"values. Write out of place (y = y + 1) or clone the tensor before changing it.{where}")


def _check_finite_grad(node: Node, index: int, grad: Any, shape: tuple) -> None:
    data = grad.data if isinstance(grad, Tensor) else grad
    if np.isfinite(data).all():
        return
    where = f"\nThe operation was created at:\n{node.trace}" if node.trace else ""
    raise FloatingPointError(
        f"detect_anomaly: backward of '{node.op}' (output shape {node.shape}) produced NaN or "
        f"infinity in the gradient of its input {index} (shape {shape}).{where}")


def _run_hooks(hooks: list[Callable], grad: Any, create_graph: bool) -> Any:
    for hook in hooks:
        wrapped = grad if create_graph else _make(np.asarray(grad), None)
        result = hook(wrapped)
        if result is not None:
            shape = np.shape(grad)
            # A replacement must be a gradient of the same shape, not fail later deep in NumPy.
            try:
                kind = np.asarray(result.data if isinstance(result, Tensor) else result).dtype.kind
            except ValueError:  # a ragged list
                kind = "O"
            if kind not in "fiub":
                raise TypeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} "
                                f"returned {type(result).__name__}; it must return None or a "
                                f"gradient of shape {shape}")
            if create_graph:
                new = result if isinstance(result, Tensor) else Tensor(result)
            else:
                new = result.data if isinstance(result, Tensor) else np.asarray(result)
            if np.shape(new) != shape:
                raise ValueError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} "
                                 f"returned a gradient of shape {np.shape(new)}, expected {shape}")
            grad = new
    return grad


def _as_input(data: Any, parent: Any) -> Any:
    """A saved input as a Tensor attached to the graph (for ``create_graph``)."""
    if parent is None or type(data) is not np.ndarray:
        return data  # a constant, or a value no rule reads (None, an ArrayMeta)
    if type(parent) is Node:
        return _make(data, parent)
    return parent  # a leaf Tensor


def backward(outputs: Sequence[Any], grad_outputs: Sequence[Any], retain_graph: bool,
             create_graph: bool, inputs: Sequence[Any] | None = None) -> list[Any] | None:
    """Run reverse mode from ``outputs`` seeded with ``grad_outputs``.

    Without ``inputs``, gradients accumulate into the ``.grad`` of every leaf reached (and of
    tensors that called ``retain_grad``). With ``inputs``, nothing is written to ``.grad`` and the
    gradients of those tensors are returned (None for an input the outputs do not depend on).

    Nodes are visited in decreasing creation order (a heap keyed on the sequence number), which is
    a reverse topological order, iteratively: deep graphs never touch the recursion limit.
    """
    tracer = _tracer
    if tracer is not None:
        if not tracer.active():
            tracer = None
        elif not create_graph:
            return tracer.backward(outputs, grad_outputs, retain_graph, inputs)
    grads: dict[Node, Any] = {}
    leaf_grads: dict[int, list] = {}
    heap: list[tuple[int, Node]] = []
    captured: dict[int, Any] = {}
    capture_ids = None
    if inputs is not None:
        capture_ids = {id(t._node) if t._node is not None else id(t) for t in inputs}
    anomaly = _anomaly.get()
    last_write = versions.last_write
    # ids of the gradient arrays that this pass allocated and nothing else holds: contributions
    # are added into them in place (first-order only; popped gradients are handed to rules).
    owned: set[int] | None = None if create_graph else set()
    push = heapq.heappush
    pop = heapq.heappop

    for out, grad in zip(outputs, grad_outputs):
        target = out._node or out
        if type(target) is Node:
            if target in grads:
                grads[target] = grads[target] + grad
            else:
                grads[target] = grad
                push(heap, (-target.seq, target))
        elif id(target) in leaf_grads:  # the same leaf given twice: its seeds add up
            leaf_grads[id(target)][1] = leaf_grads[id(target)][1] + grad
        else:
            leaf_grads[id(target)] = [target, grad]

    # The rules record themselves only when create_graph asks for it.
    mode = _grad_enabled.set(create_graph)
    if tracer is not None:
        tracer.rule_passes += 1  # tg.jit records this pass: the rules run on Tensors
    # Outside anomaly mode, NumPy warns about overflow in backward as it does in forward (rules
    # whose infinities are results, such as sqrt at 0, silence their own); in anomaly mode the
    # engine names the operation instead.
    quiet = np.errstate(all="ignore") if anomaly else _NO_CONTEXT
    try:
        with quiet:
            while heap:
                node = pop(heap)[1]
                grad = grads.pop(node)
                if owned:
                    owned.discard(id(grad))
                if node.hooks:
                    grad = _run_hooks(node.hooks, grad, create_graph)
                if capture_ids is not None:
                    if id(node) in capture_ids:
                        captured[id(node)] = grad
                elif node.retains_grad:
                    tensor = node.out_ref() if node.out_ref is not None else None
                    if tensor is not None:
                        _accumulate(tensor, grad, create_graph)
                saved = node.saved
                if saved is None:
                    raise _released_error(node)
                if node.seq < last_write:
                    check_versions(node)
                datas, out = saved
                parents = node.parents
                if create_graph:
                    datas = [_as_input(d, p) for d, p in zip(datas, parents)]
                    if type(out) is np.ndarray:
                        out = _make(out, node)
                params = node.params
                vjps = node.vjps
                for i, parent in enumerate(parents):
                    if parent is None:
                        continue
                    input_grad = (vjps[i](grad, out, *datas, **params) if params else
                                  vjps[i](grad, out, *datas))
                    is_node = type(parent) is Node
                    if is_node:
                        shape, dtype = parent.shape, parent.dtype
                    else:
                        shape, dtype = parent.data.shape, parent.data.dtype
                    if input_grad.shape != shape:
                        if type(input_grad) is IndexedGrad:
                            if anomaly:
                                _check_finite_grad(node, i, input_grad.values, shape)
                            if is_node:
                                if parent not in grads:
                                    push(heap, (-parent.seq, parent))
                                grads[parent] = _add_indexed(grads.get(parent), input_grad,
                                                             shape, dtype, owned)
                            else:
                                entry = leaf_grads.get(id(parent))
                                if entry is None:
                                    entry = leaf_grads[id(parent)] = [parent, None]
                                entry[1] = _add_indexed(entry[1], input_grad, shape, dtype,
                                                        owned)
                            continue
                        input_grad = _sum_to_shape(input_grad, shape)
                    if input_grad.dtype is not dtype and input_grad.dtype != dtype:
                        input_grad = input_grad.astype(dtype)
                    if anomaly:
                        _check_finite_grad(node, i, input_grad, shape)
                    if is_node:
                        if parent in grads:
                            grads[parent] = _add(grads[parent], input_grad, owned)
                        else:
                            grads[parent] = input_grad
                            push(heap, (-parent.seq, parent))
                    else:
                        entry = leaf_grads.get(id(parent))
                        if entry is None:
                            leaf_grads[id(parent)] = [parent, input_grad]
                        else:
                            entry[1] = _add(entry[1], input_grad, owned)
                if not retain_graph:
                    node.saved = None

            for leaf, grad in leaf_grads.values():
                if leaf._hooks:
                    grad = _run_hooks(leaf._hooks, grad, create_graph)
                if capture_ids is not None:
                    captured[id(leaf)] = grad
                else:
                    # A gradient this pass allocated becomes .grad without a copy (unless a hook
                    # has seen it and may hold it).
                    fresh = bool(owned) and id(grad) in owned and not leaf._hooks
                    _accumulate(leaf, grad, create_graph, fresh)
    finally:
        _grad_enabled.reset(mode)
        if tracer is not None:
            tracer.rule_passes -= 1

    if inputs is None:
        return None
    results = []
    for t in inputs:
        key = id(t._node) if t._node is not None else id(t)
        results.append(captured.get(key))
    return results


def _add(total: Any, contribution: Any, owned: set[int] | None) -> Any:
    """``total + contribution``, written into ``total`` when this pass owns it."""
    if owned is None:
        return total + contribution
    if id(total) in owned:
        total += contribution
        return total
    total = total + contribution
    owned.add(id(total))
    return total


def _add_indexed(total: Any, indexed: IndexedGrad, shape: tuple, dtype: np.dtype,
                 owned: set[int] | None) -> np.ndarray:
    """``total`` (None for zeros) plus an indexed gradient, in a buffer this pass owns."""
    if total is not None and owned is not None and id(total) in owned:
        indexed.add_into(total)
        return total
    buffer = np.zeros(shape, dtype=dtype)
    indexed.add_into(buffer)
    if total is not None:
        buffer += total
    if owned is not None:
        owned.add(id(buffer))
    return buffer


def _accumulate(tensor: Any, grad: Any, create_graph: bool, fresh: bool = False) -> None:
    """Add ``grad`` into ``tensor.grad`` (a fresh array: never aliased with another gradient;
    ``fresh`` says ``grad`` is one already)."""
    if create_graph:
        grad = grad if isinstance(grad, Tensor) else Tensor(grad)
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
        return
    if isinstance(grad, Tensor):
        grad = grad.data
    dtype = tensor.data.dtype
    if tensor.grad is None:
        if fresh and grad.dtype == dtype and type(grad) is np.ndarray:
            tensor.grad = _make(grad, None)
        else:
            tensor.grad = _make(np.array(grad, dtype=dtype, copy=True), None)
    else:
        tensor.grad = _make(np.asarray(tensor.grad.data + grad, dtype=dtype), None)


def _seed(output: Any, grad_output: Any, create_graph: bool, what: str) -> Any:
    """The starting gradient for one output: ones for one-element outputs, else the given one."""
    if grad_output is None:
        if output.data.size != 1:
            raise RuntimeError(
                f"{what}: grad can be implicitly created only for one-element outputs, but the "
                f"output has shape {output.shape}; pass a gradient of that shape "
                f"(e.g. {what.split('(')[0]}(gradient=tg.ones({output.shape})))")
        seed = np.array(1, dtype=output.dtype)  # np.ones costs a microsecond more
        if output.data.ndim:
            seed = seed.reshape(output.shape)
        return Tensor(seed) if create_graph else seed
    if isinstance(grad_output, Tensor):
        seed_data = grad_output.data
    else:
        seed_data = Tensor(grad_output).data
    if seed_data.shape != output.shape:
        raise ValueError(f"{what}: gradient has shape {seed_data.shape} but the output has shape "
                         f"{output.shape}")
    seed_data = seed_data.astype(output.dtype, copy=False)
    if create_graph:
        return grad_output if isinstance(grad_output, Tensor) else Tensor(seed_data)
    return seed_data


def _as_tensor_list(values: Any, what: str) -> list[Any]:
    if isinstance(values, Tensor):
        return [values]
    try:
        values = list(values)  # any iterable: model.parameters() may be a generator
    except TypeError as exc:
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got "
                        f"{type(values).__name__}") from exc
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"{what} must be Tensors, got {type(v).__name__}")
    return values


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple of Tensors (one per input),
    without touching any ``.grad``. As ``torch.autograd.grad``."""
    outputs = _as_tensor_list(outputs, "grad(): outputs")
    inputs = _as_tensor_list(inputs, "grad(): inputs")
    if not outputs:
        raise ValueError("grad(): outputs is empty")
    if grad_outputs is None or isinstance(grad_outputs, Tensor) or not isinstance(
            grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad; create it with "
                               "requires_grad=True")
    for out in outputs:
        if not out._requires_grad:
            raise RuntimeError("grad(): an output does not require grad: it does not depend on "
                               "any tensor that requires grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(o, g, create_graph, "grad()") for o, g in zip(outputs, grad_outputs)]
    results = backward(outputs, seeds, retain_graph, create_graph, inputs=inputs)
    final = []
    for t, g in zip(inputs, results):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): an input of shape {t.shape} was not used in computing the outputs; "
                    "pass allow_unused=True to get None for it")
            final.append(None)
        elif isinstance(g, Tensor):
            final.append(g)
        else:
            copy = np.array(g, dtype=t.data.dtype, copy=True)
            tracer = _tracer
            if tracer is not None:
                tracer.record_copy(g, copy)
            final.append(_make(copy, None))
    return tuple(final)


from .tensor import Tensor, _make  # noqa: E402,F811  (tensor.py imports this module)
