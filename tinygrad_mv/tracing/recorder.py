"""The tracer: what the tape does, as numbered slots of values and steps over them, with the
recorded first-order reverse pass."""
from __future__ import annotations

import functools
import operator
import threading
import types
from typing import Any, Callable

import numpy as np

from .. import autograd, rules
from ..autograd import JitError, Node
from ..engine import _sum_to_shape
from ..indexed import IndexedGrad
from ..observer import Observer
from ..tensor import Tensor


def _add_in_place(total: np.ndarray, contribution: np.ndarray) -> np.ndarray:
    total += contribution
    return total


def _values_of(indexed: IndexedGrad) -> np.ndarray:
    return indexed.values


def _scatter_new(values: np.ndarray, index: Any, full_shape: tuple, unique: bool,
                 dtype: np.dtype) -> np.ndarray:
    buffer = np.zeros(full_shape, dtype=dtype)
    IndexedGrad(values, index, full_shape, unique).add_into(buffer)
    return buffer


def _as_eager(fn: Callable) -> Callable:
    """A user's operation (tg.primitive's forward or rules) as eager calls it: with 0-d arrays
    where the replay has NumPy scalars (what NumPy gives back for 0-d values), so that code
    written for arrays (``y = x.copy(); y[...] = ...``) replays. The project's own functions and
    NumPy's take either."""
    func = fn.func if isinstance(fn, functools.partial) else fn
    if not isinstance(func, types.FunctionType) or (func.__module__ or "").startswith(
            ("tinygrad_mv.", "numpy")):
        return fn
    return functools.partial(_on_arrays, fn)


def _on_arrays(fn: Callable, *values: Any, **params: Any) -> Any:
    return fn(*[np.asarray(v) if isinstance(v, np.generic) else v for v in values], **params)


def _converted(value: Any, dtype: np.dtype) -> Any:
    """An operand as a primitive converted it: autograd._operand, then float32 where it was weak
    beside float32 Tensors."""
    data = autograd._operand(value)  # (a number for a NumPy scalar, a replay's 0-d value)
    if type(data) is not np.ndarray or data.dtype != dtype:
        data = np.asarray(data, dtype=dtype)
    return data


def _cast(value: Any, dtype: np.dtype) -> np.ndarray:
    return np.asarray(value).astype(dtype)


def _add_at(total: np.ndarray, values: np.ndarray, index: Any, unique: bool) -> np.ndarray:
    if type(total) is not np.ndarray:  # a 0-d total, as a replay has it: a NumPy scalar
        total = np.array(total)
    IndexedGrad(values, index, total.shape, unique).add_into(total)
    return total


def _add_at_copy(total: Any, values: np.ndarray, index: Any, unique: bool) -> np.ndarray:
    """``_add_at`` into a copy of ``total`` (a constant of the program, never written): the
    values added in eager's order, onto the total (not the total onto them)."""
    return _add_at(np.array(total, copy=True), values, index, unique)


def _scatter_onto(total: np.ndarray, values: np.ndarray, index: Any, full_shape: tuple,
                  unique: bool, dtype: np.dtype) -> np.ndarray:
    buffer = _scatter_new(values, index, full_shape, unique, dtype)
    buffer += total
    return buffer


def _summing(source: tuple, shape: tuple) -> Callable:
    """Summing a gradient of shape ``source`` back to ``shape``, with the axes worked out once,
    at recording: one ufunc reduce per replay."""
    lead = len(source) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and source[lead + i] != 1)
    if not lead and all(source[i] == n or i in axes for i, n in enumerate(shape)):
        return functools.partial(np.add.reduce, axis=axes, keepdims=True)
    if len(axes) == lead:  # only leading axes go (a NumPy scalar, as arithmetic gives, for ())
        return functools.partial(np.add.reduce, axis=axes)
    return functools.partial(_sum_to_shape, shape=shape)


class _Tracer(Observer):
    """Turns what the tape does into a program over numbered slots of a value list: the
    primitives tell it of each forward, and it observes the engine's reverse walk."""

    def __init__(self, function_name: str, c_order: bool = True) -> None:
        self.name = function_name
        # Whether the arguments are C-ordered (the recording runs on C-ordered copies of them):
        # only then are the replay's values laid out as the recording's.
        self.c_order = c_order
        self.thread = threading.get_ident()
        self.slot_of: dict[int, int] = {}  # id(array or number) -> slot
        self.values: list[Any] = []        # the value of every slot during recording
        self.keep: list[Any] = []          # keeps recorded objects alive, so ids stay unique
        self.constants: dict[int, Any] = {}
        self.live: list[tuple[int, Tensor, tuple, np.dtype]] = []  # Tensors read at every call
        self.program: list[tuple[Callable, tuple, int]] = []
        # How many create_graph passes of the engine are running (rules on Tensors): an array
        # that no operation made appearing then is a mask computed from .data.
        self.rule_passes = 0

    def active(self) -> bool:
        return threading.get_ident() == self.thread

    def new_slot(self, value: Any) -> int:
        slot = len(self.values)
        self.values.append(value)
        self.slot_of[id(value)] = slot
        self.keep.append(value)
        return slot

    def slot(self, value: Any, tensor: Tensor | None = None) -> int:
        found = self.slot_of.get(id(value))
        if found is not None:
            return found
        if tensor is None and isinstance(value, np.ndarray) and self.rule_passes:
            # A rule made this array with NumPy on .data (a mask of relu, abs, clip, max,
            # where): frozen, a replay would keep the first call's mask. (Seeds are Tensors.)
            raise JitError(f"jit({self.name}): a second derivative through a piecewise "
                           "operation (where, relu, abs, clip, maximum, max, ...) cannot be "
                           "recorded: its rule computes a mask outside any operation; call the "
                           "function without tg.jit")
        if tensor is not None and tensor._data is value:
            slot = self.new_slot(value)
            self.live.append((slot, tensor, value.shape, value.dtype))
            return slot
        # A constant: frozen now (the caller may change its array afterwards).
        self.keep.append(value)
        frozen = _frozen(value)
        slot = self.new_slot(frozen)
        self.slot_of[id(value)] = slot
        self.constants[slot] = frozen
        return slot

    def emit(self, fn: Callable, ins: tuple, result: Any) -> int:
        out = self.new_slot(result)
        self.program.append((fn, ins, out))
        return out

    def constant(self, value: Any) -> int:
        slot = self.new_slot(value)
        self.constants[slot] = value
        return slot

    # --- hooks called by the tape and Tensor -------------------------------------------------
    def bind(self, fn: Callable, params: dict, ins: tuple) -> tuple[Callable, tuple]:
        """``fn`` with its keyword params bound, and its input slots. A param holding a recorded
        array (a where's condition, an index made by a comparison) becomes an input of the step:
        frozen into the step, a replay would reuse the first call's mask."""
        dynamic = []  # (param name, position in a tuple param or None, slot)
        for name, value in params.items():
            items = value if type(value) is tuple else (value,)
            for j, item in enumerate(items):
                slot = self.slot_of.get(id(item)) if isinstance(item, np.ndarray) else None
                if slot is not None and slot not in self.constants:
                    dynamic.append((name, j if type(value) is tuple else None, slot))
        if not dynamic:
            return (functools.partial(fn, **params) if params else fn), ins
        n = len(ins)

        def step(*values: Any) -> Any:
            bound = dict(params)
            parts: dict[str, list] = {}
            for (name, j, _), value in zip(dynamic, values[n:]):
                if j is None:
                    bound[name] = value
                else:
                    parts.setdefault(name, list(params[name]))[j] = value
            bound.update((name, tuple(items)) for name, items in parts.items())
            return fn(*values[:n], **bound)
        return step, ins + tuple(slot for *_, slot in dynamic)

    def record_op(self, forward: Callable, params: dict, args: tuple, datas: list,
                  out: Any) -> None:
        if not self.active():
            return
        ins = []
        for d, a in zip(datas, args):
            if isinstance(a, Tensor):
                if d is a._data:
                    ins.append(self.slot(d, a))
                else:  # an integer or bool Tensor the primitive made float32
                    ins.append(self.emit(functools.partial(_cast, dtype=d.dtype),
                                         (self.slot(a._data, a),), d))
                continue
            slot = self.slot_of.get(id(a))
            if d is not a and slot is not None and slot not in self.constants:
                # a recorded array the primitive converted (bools, integers, half precision: to
                # float64, or to float32 beside float32 Tensors)
                convert = (functools.partial(_converted, dtype=d.dtype)
                           if isinstance(d, np.ndarray) else autograd._operand)
                ins.append(self.emit(convert, (slot,), d))
            else:
                ins.append(self.slot(d))
        fn, all_ins = self.bind(_as_eager(forward), params, tuple(ins))
        # (A NumPy scalar where eager made a 0-d array is the same value to every later step;
        # results are made arrays on the way out.)
        self.emit(fn, all_ins, out)

    def read(self, tensor: Tensor) -> None:
        """``tensor``'s data is about to be used outside an operation (compared, sorted, copied by
        Tensor(), shared by detach()): a Tensor ``f`` closes over (a parameter) becomes a value
        read at every call, as an operation's operand does, not a constant frozen now."""
        if self.active() and id(tensor._data) not in self.slot_of:
            self.slot(tensor._data, tensor)

    def record_copy(self, source: Any, result: np.ndarray) -> None:
        """``result`` is a copy of ``source`` with the same dtype: in the program it is the same
        value (nothing in a program writes to its arrays; results that are inputs or constants
        are copied on the way out)."""
        if not self.active():
            return
        slot = self.slot_of.get(id(source))
        value = None if slot is None else self.values[slot]
        # The source stands for its copy where both are laid out alike: a copy of a reversed,
        # strided or broadcast view is C-ordered, and a sum or matmul adds in another order on it.
        # (A slot may hold a Python number: the 2.5 of x * 2.5.) Arguments not in C order are
        # recorded on C-ordered copies: a replay's may be reversed, so it makes the copy too.
        if getattr(value, "dtype", None) == result.dtype and (
                not isinstance(value, np.ndarray)
                or self.c_order and value.strides == result.strides):
            self.keep.append(result)
            self.slot_of[id(result)] = slot
        elif slot is not None:
            self.emit(functools.partial(np.array, dtype=result.dtype, copy=True), (slot,), result)

    def record_call(self, fn: Callable, args: tuple, result: Any) -> None:
        """A NumPy call made outside the primitives (a copy, a comparison) on recorded values."""
        if not self.active():
            return
        if not any(id(a) in self.slot_of for a in args):
            return  # on constants only: its result is a constant too
        self.emit(fn, tuple(self.slot(a) for a in args), result)

    # --- the engine's first-order walk, observed (observer.Observer) --------------------------
    def begin(self, inputs: Any) -> None:
        if inputs is None:
            raise JitError(f"jit({self.name}): backward() into .grad is not supported inside a "
                           "jitted function; use tg.grad or tg.autograd.grad")

    def visit(self, node: Node, grad: Any) -> None:
        if node.hooks or node.retains_grad:
            raise JitError(f"jit({self.name}): hooks and retain_grad are not supported "
                           f"inside a jitted function (on '{node.op}')")

    def leaf(self, leaf: Any) -> None:
        if leaf._hooks:
            raise JitError(f"jit({self.name}): hooks are not supported inside a jitted function")

    def edge(self, node: Node, i: int, contribution: Any) -> None:
        pass

    def rule(self, node: Node, i: int, grad: Any, out: Any, datas: Any, result: Any) -> None:
        if result is grad:
            return  # the rule hands g on unchanged (add's): the same value, no step
        if type(result) is IndexedGrad and result.values is grad:
            return  # g is added at its index when it is accumulated: no step for the rule
        # The rule's step reads only what the rule reads: the values it ignores are constants
        # (None, or an ArrayMeta for a shape), so forward steps nothing needs are dropped.
        uses = rules.rule_uses(node.vjps[i], len(datas))
        ins = tuple(self.slot(v) if use == rules.READ else
                    self.constant(rules.ArrayMeta(v) if use == rules.META
                                  and isinstance(v, np.ndarray) else
                                  v if use == rules.META else None)
                    for v, use in zip((out, *datas), uses))
        fn, rule_ins = self.bind(_as_eager(node.vjps[i]), node.params,
                                 (self.slot(grad),) + ins)
        self.record(fn, rule_ins, result)

    records_calls = True

    def forward_rule(self, rule: Callable, params: dict, args: tuple, result: Any) -> None:
        if result is args[0]:
            return  # the rule hands the tangent on unchanged: the same value, no step
        fn, ins = self.bind(_as_eager(rule), params, tuple(self.slot(a) for a in args))
        self.record(fn, ins, result)

    def step(self, fn: Callable, args: tuple, result: Any) -> None:
        if isinstance(fn, functools.partial) and fn.func is _sum_to_shape and len(args) == 1:
            fn = _summing(np.shape(args[0]), fn.keywords["shape"])
        self.record(fn, tuple(self.slot(a) for a in args), result)

    def added(self, total: Any, contribution: Any, result: Any) -> None:
        total_slot = self.slot(total)
        # In place only into a value this program makes at every call, never into a constant
        # (shared by every call) or an argument.
        in_place = result is total and total_slot not in self.constants
        self.record(_add_in_place if in_place else operator.add,
                    (total_slot, self.slot(contribution)), result)

    def added_indexed(self, total: Any, indexed: IndexedGrad, result: Any, shape: tuple,
                      dtype: np.dtype) -> None:
        found = self.slot_of.get(id(indexed.values))
        values = found if found is not None else self.record(
            _values_of, (self.slot(indexed),), indexed.values)
        params = {"index": indexed.index, "unique": indexed.unique}
        if total is None:
            fn, ins = self.bind(_scatter_new, {**params, "full_shape": shape, "dtype": dtype},
                                (values,))
        elif result is total:  # added in place: into a copy where the total is a constant
            fn, ins = self.bind(_add_at if self.slot(total) not in self.constants else
                                _add_at_copy, params, (self.slot(total), values))
        else:
            fn, ins = self.bind(_scatter_onto, {**params, "full_shape": shape, "dtype": dtype},
                                (self.slot(total), values))
        self.record(fn, ins, result)

    def record(self, fn: Callable, ins: tuple, result: Any) -> int:
        """A step the engine just ran, giving ``result``; on constants only, a constant (a copy:
        the engine may add into ``result`` in place later)."""
        if all(i in self.constants for i in ins):
            slot = self.constant(_frozen(result))
            self.slot_of[id(result)] = slot  # the engine's object stands for the constant
            self.keep.append(result)
            return slot
        return self.emit(fn, ins, result)


def _frozen(value: Any) -> Any:
    """A copy of a constant the recording keeps, laid out as the engine's value: a broadcast (a
    sum's gradient: zero strides) stays one, as NumPy's matmul rounds differently on it than on
    a filled array, and the replay must give the eager bits."""
    if not isinstance(value, np.ndarray):
        return value
    if value.size > 1 and 0 in value.strides:
        one = tuple(slice(0, 1) if step == 0 else slice(None) for step in value.strides)
        return np.broadcast_to(value[one].copy(), value.shape)
    return value.copy()
