"""The tracer: what the tape does, as numbered slots of values and steps over them, with the
recorded first-order reverse pass."""
from __future__ import annotations

import functools
import heapq
import operator
import threading
from typing import Any, Callable

import numpy as np

from .. import autograd, rules, versions
from ..autograd import JitError, Node, _sum_to_shape
from ..tensor import Tensor


def _astype(g: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return g.astype(dtype)


def _add_in_place(total: np.ndarray, contribution: np.ndarray) -> np.ndarray:
    total += contribution
    return total


def _add_at(total: np.ndarray, values: np.ndarray, index: Any, unique: bool) -> np.ndarray:
    autograd.IndexedGrad(values, index, total.shape, unique).add_into(total)
    return total


def _scatter_onto(total: np.ndarray, values: np.ndarray, index: Any, full_shape: tuple,
                  unique: bool) -> np.ndarray:
    buffer = autograd.scatter(values, index, full_shape, unique)
    buffer += total
    return buffer


class _Tracer:
    """Turns what the tape does into a program over numbered slots of a value list."""

    def __init__(self, function_name: str) -> None:
        self.name = function_name
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
        if tensor is not None and tensor.data is value:
            slot = self.new_slot(value)
            self.live.append((slot, tensor, value.shape, value.dtype))
            return slot
        # A constant: frozen now (the caller may change its array afterwards).
        self.keep.append(value)
        frozen = value.copy() if isinstance(value, np.ndarray) else value
        slot = self.new_slot(frozen)
        self.slot_of[id(value)] = slot
        self.constants[slot] = frozen
        return slot

    def emit(self, fn: Callable, ins: tuple, result: Any) -> int:
        out = self.new_slot(result)
        self.program.append((fn, ins, out))
        return out

    def execute(self, fn: Callable, ins: tuple) -> int:
        """Run one step now and record it; a step on constants only is a constant itself."""
        result = fn(*[self.values[i] for i in ins])
        if all(i in self.constants for i in ins):
            slot = self.new_slot(result)
            self.constants[slot] = result
            return slot
        return self.emit(fn, ins, result)

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
                ins.append(self.slot(d, a))
                continue
            slot = self.slot_of.get(id(a))
            if d is not a and slot is not None and slot not in self.constants:
                # a recorded bool or integer array the primitive converted to float64
                ins.append(self.emit(autograd._operand, (slot,), d))
            else:
                ins.append(self.slot(d))
        fn, all_ins = self.bind(forward, params, tuple(ins))
        # (A NumPy scalar where eager made a 0-d array is the same value to every later step;
        # results are made arrays on the way out.)
        self.emit(fn, all_ins, out)

    def record_copy(self, source: Any, result: np.ndarray) -> None:
        """``result`` is a copy of ``source`` with the same dtype: in the program it is the same
        value (nothing in a program writes to its arrays; results that are inputs or constants
        are copied on the way out)."""
        if not self.active():
            return
        slot = self.slot_of.get(id(source))
        # getattr: a slot may hold a Python number (a scalar operand such as the 2.5 of x * 2.5)
        if slot is not None and getattr(self.values[slot], "dtype", None) == result.dtype:
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

    def refuse(self, what: str) -> None:
        if self.active():
            raise JitError(f"jit({self.name}): {what} reads a value while recording, so the "
                           "program would freeze it; keep the computation in tinygrad_mv "
                           "operations, or call the function without tg.jit")

    def backward(self, outputs: list, seeds: list, retain_graph: bool,
                 inputs: list | None) -> list:
        """The engine's first-order reverse pass, each step run and recorded (same order and
        the same NumPy calls as autograd.backward)."""
        if inputs is None:
            raise JitError(f"jit({self.name}): backward() into .grad is not supported inside a "
                           "jitted function; use tg.grad or tg.autograd.grad")
        grads: dict[Node, int] = {}
        leaf_grads: dict[int, list] = {}
        heap: list = []
        # Slots of gradient arrays this pass allocated and nothing else reads: contributions are
        # added into them in place (as the engine does); a popped gradient is handed to rules.
        owned: set[int] = set()

        def total(current: int | None, slot: int) -> int:
            if current is None:
                return slot
            if current in owned:
                result = self.execute(_add_in_place, (current, slot))
            else:
                result = self.execute(operator.add, (current, slot))
            if result not in self.constants:  # a folded constant is shared by every call
                owned.add(result)
            return result

        def total_indexed(current: int | None, indexed: Any, g: int, shape: tuple,
                          dtype: np.dtype) -> int:
            params = {"index": indexed.index, "unique": indexed.unique}
            if current is not None and current in owned:
                fn, ins = self.bind(_add_at, params, (current, g))
            else:
                params.update(full_shape=shape)
                if current is None:
                    fn, ins = self.bind(autograd.scatter, params, (g,))
                else:
                    fn, ins = self.bind(_scatter_onto, params, (current, g))
            result = self.execute(fn, ins)
            if self.values[result].dtype != dtype:
                result = self.execute(functools.partial(_astype, dtype=dtype), (result,))
            if result not in self.constants:
                owned.add(result)
            return result

        def send(target: Any, slot: int, indexed: Any = None, shape: Any = None,
                 dtype: Any = None) -> None:
            if type(target) is Node:
                current = grads.get(target)
                if current is None:
                    heapq.heappush(heap, (-target.seq, target))
                grads[target] = (total(current, slot) if indexed is None else
                                 total_indexed(current, indexed, slot, shape, dtype))
            else:
                entry = leaf_grads.setdefault(id(target), [target, None])
                entry[1] = (total(entry[1], slot) if indexed is None else
                            total_indexed(entry[1], indexed, slot, shape, dtype))

        for out, seed in zip(outputs, seeds):
            send(out._node or out, self.slot(seed))
        capture = {id(t._node) if t._node is not None else id(t) for t in inputs}
        captured: dict[int, int] = {}
        while heap:
            node = heapq.heappop(heap)[1]
            slot = grads.pop(node)
            owned.discard(slot)
            if node.hooks or node.retains_grad:
                raise JitError(f"jit({self.name}): hooks and retain_grad are not supported "
                               f"inside a jitted function (on '{node.op}')")
            if id(node) in capture:
                captured[id(node)] = slot
            if node.saved is None:
                raise autograd._released_error(node)
            if node.seq < versions.last_write:
                autograd.check_versions(node)
            datas, out = node.saved
            values = (out, *datas)
            for i, parent in enumerate(node.parents):
                if parent is None:
                    continue
                # The rule's step reads only what the rule reads: the values it ignores are
                # constants (None, or an ArrayMeta for a shape), so unneeded forward steps drop.
                uses = rules.rule_uses(node.vjps[i], len(datas))
                ins = tuple(self.slot(v) if use == rules.READ else
                            self.constant(rules.ArrayMeta(v) if use == rules.META
                                          and isinstance(v, np.ndarray) else
                                          v if use == rules.META else None)
                            for v, use in zip(values, uses))
                fn, rule_ins = self.bind(node.vjps[i], node.params, (slot,) + ins)
                g = self.execute(fn, rule_ins)
                if self.values[g] is self.values[slot] and self.program and \
                        self.program[-1][2] == g:
                    self.program.pop()  # the rule hands g on unchanged (add's): no step
                    self.slot_of[id(self.values[slot])] = slot
                    g = slot
                if type(parent) is Node:
                    shape, dtype = parent.shape, parent.dtype
                else:
                    shape, dtype = parent.data.shape, parent.data.dtype
                indexed = self.values[g]
                if type(indexed) is autograd.IndexedGrad:
                    if indexed.values is self.values[slot]:
                        # The rule handed g on at an index: add g there, no step for the rule.
                        self.program.pop()
                        send(parent, slot, indexed, shape, dtype)
                    else:
                        send(parent, self.execute(np.asarray, (g,)))
                    continue
                if self.values[g].shape != shape:
                    g = self.execute(functools.partial(_sum_to_shape, shape=shape), (g,))
                if self.values[g].dtype != dtype:
                    g = self.execute(functools.partial(_astype, dtype=dtype), (g,))
                send(parent, g)
            if not retain_graph:
                node.saved = None
        for leaf, slot in leaf_grads.values():
            if leaf._hooks:
                raise JitError(f"jit({self.name}): hooks are not supported inside a jitted "
                               "function")
            captured[id(leaf)] = slot
        results = []
        for t in inputs:
            slot = captured.get(id(t._node) if t._node is not None else id(t))
            results.append(None if slot is None else self.values[slot])
        return results
