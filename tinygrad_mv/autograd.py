"""The tape: graph nodes, grad modes, and the operations (primitives) that record them.

Nothing here knows about a specific operation. An operation is made with :func:`primitive` from a
NumPy forward function and one vector-Jacobian product (VJP) rule per differentiable input; the
rules live in ``tinygrad_mv/ops``. A rule is called as ``rule(g, out, *inputs, **params)``.

Memory model: a node keeps the NumPy arrays its rules read (``saved``; rules.py reads which),
its parents (other nodes, or leaf Tensors) and shape metadata. It never holds the intermediate
Tensor objects themselves, so releasing ``saved`` after backward frees every intermediate buffer
while the graph's structure stays drawable. The reverse walk is engine.py's (re-exported here:
``tg.autograd.grad``, ``backward``).
"""
from __future__ import annotations

import contextvars
import functools
import sys
import traceback
from threading import get_ident
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
# While tg.jit records a function: its tracer (tracing/recorder.py), told of every operation.
_tracer: Any = None
# While forward mode runs: {thread id: its innermost level, which carries tangents} (forward.py);
# None when no thread runs forward mode.
_forward: Any = None


def _ndarray_result(fn: Callable) -> Callable:
    """``fn`` with its result as an ndarray (as apply makes it), for recorded programs; the
    function it wraps stays readable (``.wrapped``: what ONNX export maps)."""
    def call(*args: Any) -> np.ndarray:
        return np.asarray(fn(*args))
    call.wrapped = fn  # type: ignore[attr-defined]
    return call


class JitError(RuntimeError):
    """``tg.jit`` cannot record ``f`` once and replay it: the message says why. (Defined with the
    tape, which the recorder observes, so that operations can raise it.)"""


def refuse_replay(why: str) -> None:
    """Raise JitError saying ``why`` when tg.jit is recording in this thread."""
    tracer = _tracer
    if tracer is not None and tracer.active():
        raise JitError(f"jit({tracer.name}): {why}")


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


class _NoArgumentMode(_GradMode):
    """A mode without arguments, which also decorates without parentheses (``@tg.no_grad``), as
    PyTorch's."""

    def __new__(cls, fn: Callable | None = None) -> Any:
        if fn is None:
            return super().__new__(cls)
        if not callable(fn):
            raise TypeError(f"{cls.__name__}() takes no arguments, got {fn!r}")
        return cls()(fn)

    def __init__(self, fn: Callable | None = None) -> None:
        super().__init__()


class no_grad(_NoArgumentMode):
    """``with tg.no_grad():`` (or ``@tg.no_grad()``) records nothing on the tape, in this thread."""

    _var, _default = _grad_enabled, False


class enable_grad(_NoArgumentMode):
    """Re-enables recording inside a ``no_grad`` block."""

    _var, _default = _grad_enabled, True


class set_grad_enabled(_GradMode):
    """``with tg.set_grad_enabled(flag):`` records only when ``flag`` is true. As PyTorch's, it
    takes effect when called: ``tg.set_grad_enabled(False)`` alone switches recording off (in
    this thread) until ``tg.set_grad_enabled(True)``; the with-block restores the mode it found."""

    _var, _default = _grad_enabled, True

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._previous = self._var.get()
        self._var.set(self._value)

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self._var.set(self._previous)

    def __call__(self, fn: Callable) -> Callable:
        self._var.set(self._previous)  # decorating changes nothing outside the function
        return super().__call__(fn)


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

    # kept_constants: {input: (shape, dtype, weak reference)} of the constant arrays, set only
    # when backward releases ``saved`` (pictures still show them)
    __slots__ = ("op", "vjps", "parents", "saved", "params", "seq", "shape", "dtype", "out_ref",
                 "hooks", "retains_grad", "trace", "kept_constants", "__weakref__")

    def __init__(self, op: str, vjps: Sequence[Callable], parents: tuple, saved: tuple,
                 params: dict, out: np.ndarray) -> None:
        # (primitive's apply makes its nodes inline, setting the same slots: keep both in step)
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
            if value.dtype in _FLOATS:  # float32, float64 (native byte order)
                return value
            # float16, long double, byte-swapped: a number, or the dtype Tensor() makes
            return (float(value) if isinstance(value, np.generic) else
                    value.astype(_working_float(value.dtype)))
        if kind in "iub":
            return np.asarray(value, dtype=np.float64)
        raise TypeError(f"unsupported operand: array of dtype {value.dtype}; tinygrad_mv "
                        "computes with float32 or float64")
    if isinstance(value, (list, tuple)):
        return Tensor(value).data
    raise TypeError(f"unsupported operand of type {type(value).__name__}: expected a Tensor, a "
                    "NumPy array or a Python number")


def _weak_to_float32(datas: list, weak: list[int], args: tuple) -> None:
    """Operands without a float dtype of their own (integer or bool arrays and Tensors, lists,
    0-d arrays) take float32 when every floating Tensor operand is float32, as in PyTorch,
    instead of promoting the result to float64."""
    dtypes = {a._data.dtype for a in args if isinstance(a, Tensor) and a._data.dtype.kind == "f"}
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
              drawing: Drawing | None = None, jvps: Any = None) -> Callable[..., Any]:
    """Make a differentiable operation.

    ``forward(*arrays, **params)`` computes the value with NumPy. ``vjps[i](g, out, *inputs,
    **params)`` returns the gradient for input i given the gradient ``g`` of the output; it may
    return it in the broadcast (output) shape, the engine sums it back to the input's shape.
    A ``variadic`` rule ``variadic(i, g, out, *inputs, **params)`` serves any number of inputs.
    ``jvps[i](t, out, *inputs, **params)`` returns input i's contribution to the output's
    tangent given input i's tangent ``t`` (forward mode; ``jvps`` may be a variadic rule
    ``jvps(i, t, out, *inputs, **params)`` when ``variadic`` is given; None: no forward mode).
    ``views=True``: the forward may return a view of an input (reshape, slicing), which the
    in-place machinery must know of; ``drawing`` says how pictures show it. Positional arguments
    are the differentiable operands; keyword arguments are static params. The operation is
    registered in :data:`OPS`.
    """
    if variadic is not None:
        vjps = _VariadicRules(variadic)  # type: ignore[assignment]
        if jvps is not None:
            jvps = _VariadicRules(jvps)
    plans: dict[tuple, rules.Reads] = {}  # what a node saves, per inputs needing a gradient

    def apply(*args: Any, **params: Any) -> Any:
        datas = []
        parents = []
        tracked = False
        weak = None
        for arg in args:
            if isinstance(arg, Tensor):
                datas.append(arg._data)
                if arg._requires_grad:
                    parents.append(arg._node or arg)
                    tracked = True
                    continue
                if arg._data.dtype.kind != "f":  # an integer or bool Tensor, as an array of them
                    weak = (weak or []) + [len(datas) - 1]
            else:
                kind = type(arg)
                if kind is float or kind is int:  # a Python number, as _operand keeps it
                    datas.append(arg)
                    parents.append(None)
                    continue
                data = _operand(arg)
                if (type(data) is np.ndarray and data is not arg and data.dtype == np.float64
                        and not (type(arg) is np.ndarray and arg.dtype.char == "d")):
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
                needed = tuple(p is not None for p in parents)
                plan = plans.get(needed)
                if plan is None:
                    plan = plans[needed] = rules.save_plan(vjps, len(datas), needed)
                saved = rules.thin(datas, parents, out, plan)
            else:
                saved = (datas, out)
            node = _new(Node)  # as Node(...), inlined: one Python call less per operation
            node.op = name
            node.vjps = vjps
            node.parents = tuple(parents)
            node.saved = saved
            node.params = params
            node.seq = next(_sequence)
            node.shape = out.shape
            node.dtype = out.dtype
            node.hooks = node.trace = None
            node.retains_grad = False
            result = _new(Tensor)  # as _make, inlined: one Python call less per operation
            result._data = out
            result.grad = None
            result._node = node
            result._requires_grad = True
            result.name = None
            result._hooks = None
            node.out_ref = ref = weakref.ref(result)  # values of tensors the user still holds
            if views and out.base is not None:
                versions.note_view(ref)  # an in-place write to its base makes it stale
            if anomaly:
                node.trace = "".join(traceback.format_stack(limit=12)[:-1])
        else:
            result = _make(out, None)
        levels = _forward  # forward mode: the innermost level carries tangents (forward.py)
        if levels is not None:
            level = levels.get(get_ident())
            if level is not None:
                level.propagate(apply, args, datas, params, result)
        return result

    apply.__name__ = apply.__qualname__ = name
    defined_in = sys._getframe(1).f_globals.get("__name__")
    apply.__doc__ = (f"The differentiable operation ``{name}``: NumPy's value, with its gradient "
                     f"(reverse mode) and tangent (forward mode) from the rules in "
                     f"``{defined_in}``.")
    apply.__module__ = defined_in or __name__
    apply.forward = forward  # type: ignore[attr-defined]
    apply.vjps = vjps  # type: ignore[attr-defined]
    apply.jvps = jvps  # type: ignore[attr-defined]
    # How forward rules take tangents with leading batch axes (tg.jacfwd's one pass):
    # "elementwise" (lined up with the operands), "trailing" (the rules act on the trailing
    # axes), None (one batch element at a time).
    apply.batching = None  # type: ignore[attr-defined]
    apply.drawing = drawing or _NO_DRAWING  # type: ignore[attr-defined]
    # The module that defined it (read once, here): core operations live in tinygrad_mv.ops.
    apply.defined_in = defined_in  # type: ignore[attr-defined]
    OPS.append(apply)
    _BY_RULES[id(vjps)] = apply
    return apply


_SMALL = rules.KEEP_UNREAD_UP_TO
_new = object.__new__


class _VariadicRules:
    """Indexable like a tuple of rules, for operations taking any number of inputs."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        return functools.partial(self.rule, i)


from .tensor import (  # noqa: E402,F811  (tensor.py imports this module)
    _FLOATS, Tensor, _make, _working_float,
)
from .indexed import IndexedGrad, scatter  # noqa: E402,F401  (re-exported for the rules)
from .engine import (  # noqa: E402,F401  (the engine, re-exported: tg.autograd.backward, ...)
    _accumulate, _released_error, _sum_to_shape, backward, check_versions,
)
from .gradients import _seed, grad  # noqa: E402,F401  (tg.autograd.grad)
from .function import Function, FunctionCtx  # noqa: E402,F401  (tg.autograd.Function)
