"""``tg.jit``: record a function once per input shape, then replay its NumPy calls.

Eager tinygrad_mv spends a few microseconds of Python per operation building Tensors and Nodes
and walking the tape. That is most of the cost at small and medium sizes (a 1,000-element
Rosenbrock gradient does ~20 µs of NumPy work and ~100 µs of bookkeeping). ``jit(f)`` runs ``f``
once with the tape's tracer switched on. Every primitive's forward function, every VJP rule the
reverse pass calls, and every array the reverse pass adds or reshapes is appended to a flat
program of NumPy calls. Later calls with inputs of the same shapes and dtypes run that program
directly: the same NumPy calls on the same kinds of arrays, so the results are the same, without
the Tensors, Nodes, heap and checks.

What is recorded is what the tape sees, as in ``jax.jit``. Python control flow and values read
outside tinygrad_mv operations are frozen at their first-call values. Two guards catch this:
  - ``item()``, ``float()``, ``bool()``, ``tolist()`` and ``numpy()`` raise :class:`JitError` while
    recording;
  - on the first call the program is checked against an eager run of ``f`` on slightly perturbed
    inputs. A result that differs means ``f`` reads values the tape cannot see (``.data``, NumPy
    on the data), and :class:`JitError` says so.
Tensors that ``f`` reads but does not receive as arguments (model parameters, data held by a
closure) are read again at every call, so updating ``p.data`` is seen. A change of their shape
or dtype records again.

Supported inside ``f``: every tinygrad_mv operation, ``tg.grad``, ``value_and_grad``, ``vjp``,
``jacobian``, ``hessian``, ``hvp`` and ``tg.autograd.grad``. Not supported (raises
:class:`JitError` while recording): ``backward()`` into ``.grad``, hooks and ``retain_grad``.
Under ``detect_anomaly``, and when an argument requires grad while recording is on, ``f`` runs
eagerly. Results are Tensors without a graph: ``jit`` goes outermost (``jit(grad(f))``).
A second derivative (``hessian``, ``hvp``, ``jvp``, nested ``grad``) through a piecewise operation
(``where``, ``relu``, ``abs``, ``clip``, ``maximum``/``minimum``, ``max``/``min``) raises
:class:`JitError`: in the ``create_graph`` pass their rules compute a mask with NumPy on
``.data``, outside any operation, so a replay would keep the first call's mask (and the
perturbed-input check rarely moves an input across a kink). Their values and first derivatives
are recorded with the masks recomputed at every call.
"""
from __future__ import annotations

import functools
import heapq
import operator
import threading
import warnings
from typing import Any, Callable

import numpy as np

from . import autograd, rules, versions
from .autograd import JitError, Node, _sum_to_shape
from .tensor import Tensor, _make

__all__ = ["jit", "JitError"]


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


# --- arguments and results ----------------------------------------------------------------------
def _dynamic(value: Any) -> np.ndarray | None:
    """The array a dynamic argument stands for (None for a static one)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (np.ndarray, np.generic, list)):
        arr = np.asarray(value)
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind != "f":
            raise TypeError(f"jit: an argument has dtype {arr.dtype}; arrays must be numeric")
        return arr
    return None


def _flatten(result: Any, name: str) -> tuple[list[Tensor], Callable[[list[str], dict], str]]:
    """The Tensors in a result (a Tensor or tuples, lists and dicts of them, and constants), and
    a function writing the expression that rebuilds the same structure from the names of new
    arrays (constants go into the namespace given)."""
    leaves: list[Tensor] = []

    def walk(value: Any) -> Callable[[list[str], dict], str]:
        if isinstance(value, Tensor):
            index = len(leaves)
            leaves.append(value)
            return lambda names, ns: f"_tensor({names[index]})"
        if isinstance(value, (tuple, list)):
            parts = [walk(v) for v in value]
            open_, close = ("(", ",)") if isinstance(value, tuple) else ("[", "]")
            if type(value) not in (tuple, list):  # a namedtuple or a subclass: rebuilt by type
                def build(names: list[str], ns: dict, kind: type = type(value)) -> str:
                    ns[f"k{len(ns)}"] = kind
                    star = "*" if hasattr(kind, "_fields") else ""  # a namedtuple takes fields
                    return f"k{len(ns) - 1}({star}[{', '.join(p(names, ns) for p in parts)}])"
                return build
            return lambda names, ns: open_ + ", ".join(p(names, ns) for p in parts) + close
        if isinstance(value, dict):
            items = [(k, walk(v)) for k, v in value.items()]

            def build_dict(names: list[str], ns: dict) -> str:
                entries = []
                for k, p in items:
                    ns[f"k{len(ns)}"] = k
                    entries.append(f"k{len(ns) - 1}: {p(names, ns)}")
                return "{" + ", ".join(entries) + "}"
            return build_dict
        if value is None or isinstance(value, (str, bool, int, float)):
            def constant(names: list[str], ns: dict) -> str:
                ns[f"k{len(ns)}"] = value
                return f"k{len(ns) - 1}"
            return constant
        raise JitError(f"jit({name}): the function returned {type(value).__name__}; return "
                       "Tensors (or tuples, lists and dicts of them)")
    return leaves, walk(result)


def _plain_tensor(data: np.ndarray) -> Tensor:
    return _make(data, None)


def _own(array: Any) -> np.ndarray:
    """``array``, copied if it is a view of another array; a NumPy scalar (what arithmetic on
    0-d arrays returns) as a 0-d array, as eager results always are."""
    if type(array) is not np.ndarray:
        return np.array(array)
    return array if array.base is None else array.copy()


def _copy(array: Any) -> np.ndarray:
    return np.array(array, copy=True)


class _Program:
    """One recording compiled to a Python function of straight-line NumPy calls (each value in
    a local variable, deleted after its last use) that returns the result, plus the Tensors to
    read at each call."""

    def __init__(self, tracer: _Tracer, n_inputs: int, out_slots: list[int],
                 rebuild: Callable[[list[str], dict], str]) -> None:
        self.live = tracer.live
        tracer.program = _needed_steps(tracer.program, out_slots)
        self.steps = tracer.program
        self.run_values = _compile(tracer, n_inputs, out_slots, [s for s, *_ in tracer.live],
                                   rebuild)

    def run(self, arrays: list[np.ndarray]) -> Any:
        datas = []
        for _, tensor, shape, dtype in self.live:
            data = tensor.data
            if data.shape != shape or data.dtype != dtype:
                return None  # record again
            datas.append(data)
        return self.run_values(arrays, datas)


def _needed_steps(program: list, out_slots: list[int]) -> list:
    """The steps the results depend on: recording runs the whole function, but a gradient
    needs neither the loss value (unless it is returned) nor intermediates no rule reads."""
    needed = set(out_slots)
    kept = []
    for step in reversed(program):
        if step[2] in needed:
            kept.append(step)
            needed.update(step[1])
    kept.reverse()
    return kept


def _compile(tracer: _Tracer, n_inputs: int, out_slots: list[int], live_slots: list[int],
             rebuild: Callable[[list[str], dict], str]) -> Callable:
    namespace: dict[str, Any] = {}
    last_use: dict[int, int] = {}
    for index, (_, ins, _) in enumerate(tracer.program):
        for i in ins:
            last_use[i] = index
    keep = set(out_slots)

    def name(slot: int) -> str:
        if slot in tracer.constants:
            namespace[f"c{slot}"] = tracer.constants[slot]
            return f"c{slot}"
        return f"v{slot}"

    lines = ["def run(inputs, live):"]
    if n_inputs:
        lines.append("    " + "".join(f"v{i}, " for i in range(n_inputs)) + "= inputs")
    if live_slots:
        lines.append("    " + "".join(f"v{s}, " for s in live_slots) + "= live")
    for index, (fn, ins, out) in enumerate(tracer.program):
        namespace[f"f{index}"] = fn
        lines.append(f"    v{out} = f{index}({', '.join(name(i) for i in ins)})")
        dead = sorted({i for i in ins if last_use[i] == index and i not in keep
                       and i not in tracer.constants})
        if dead:
            lines.append("    del " + ", ".join(f"v{i}" for i in dead))
    outputs, returned = [], []
    shared = set(live_slots) | set(tracer.constants) | set(range(n_inputs))
    for slot in out_slots:
        # never hand out an input, a live Tensor's data, a constant, one array twice, or a view
        # (of an input, say: a reshape)
        text = name(slot)
        if slot in shared or slot in returned:
            text = f"_copy({text})"
        else:
            text = f"_own({text})"
        returned.append(slot)
        outputs.append(text)
    constants: dict[str, Any] = {}
    lines.append(f"    return {rebuild(outputs, constants)}")
    namespace.update(constants, _tensor=_plain_tensor, _own=_own, _copy=_copy)
    exec(compile("\n".join(lines), f"<tg.jit {tracer.name}>", "exec"), namespace)  # noqa: S102
    return namespace["run"]


def _perturbed(arr: np.ndarray) -> np.ndarray:
    step = np.asarray(2.0 ** -10, dtype=arr.dtype)
    return arr + (np.abs(arr) + 1) * step


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    scale = float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))
    return bool(np.allclose(a, b, rtol=1e-12, atol=1e-13 * scale, equal_nan=True))


_recording = threading.Lock()
_MANY_RECORDINGS = 16  # a warning then: usually a Python number that changes at every call


def _refuse_nested(name: str) -> None:
    tracer = autograd._tracer
    if tracer is not None and tracer.active():
        raise JitError(f"jit({name}): called while jit({tracer.name}) is being recorded; jit "
                       "only the outermost function")


class _Jitted:
    """What :func:`jit` returns: call it like ``f``."""

    def __init__(self, f: Callable) -> None:
        if not callable(f):
            raise TypeError(f"jit: the function must be callable, got {type(f).__name__}")
        self.f = f
        self.name = getattr(f, "__name__", type(f).__name__)
        self.programs: dict[tuple, _Program] = {}
        self.recordings = 0  # how many times f was recorded (once per new input signature)
        functools.update_wrapper(self, f, updated=())  # f.__dict__ could shadow programs, f, ...

    def _split(self, args: tuple) -> tuple[list[int], list[np.ndarray], tuple]:
        positions, arrays, key = [], [], []
        ndarray = np.ndarray
        for i, a in enumerate(args):
            kind = type(a)
            if kind is ndarray and a.dtype.kind == "f":  # the common case, first
                arr = a
            elif isinstance(a, Tensor):
                if a._requires_grad and autograd.is_grad_enabled():
                    return [], [], ()  # differentiated: run eagerly
                arr = a.data
            else:
                arr = _dynamic(a)
            if arr is None:
                try:
                    hash(a)
                except TypeError as exc:
                    raise TypeError(f"jit({self.name}): argument {i} of type "
                                    f"{type(a).__name__} is neither an array nor hashable (a "
                                    "static argument must be hashable)") from exc
                key.append((kind, a))
            else:
                positions.append(i)
                arrays.append(arr)
                key.append((arr.shape, arr.dtype))
        return positions, arrays, tuple(key)

    def _call_with(self, args: tuple, kwargs: dict, positions: list[int],
                   arrays: list[np.ndarray]) -> Any:
        call_args = list(args)
        for i, arr in zip(positions, arrays):
            call_args[i] = _make(arr, None)
        return self.f(*call_args, **kwargs)

    def _record(self, args: tuple, kwargs: dict, positions: list[int],
                arrays: list[np.ndarray]) -> _Program:
        tracer = _Tracer(self.name)
        # Record on private copies: slots are found by identity, so an array passed twice, or
        # also held by a closure, would otherwise become one slot for both.
        arrays = [arr.copy() for arr in arrays]
        for arr in arrays:
            tracer.new_slot(arr)
        _refuse_nested(self.name)
        with _recording:  # another thread's recording finishes first (one global tracer)
            autograd._tracer = tracer
            try:
                result = self._call_with(args, kwargs, positions, arrays)
            finally:
                autograd._tracer = None
        leaves, rebuild = _flatten(result, self.name)
        # t passed along: a Tensor f only returns (a parameter) is read at every call
        out_slots = [tracer.slot(t.data, t) for t in leaves]
        program = _Program(tracer, len(arrays), out_slots, rebuild)
        self.recordings += 1
        self._check(program, args, kwargs, positions, arrays)
        return program

    def _check(self, program: _Program, args: tuple, kwargs: dict, positions: list[int],
               arrays: list[np.ndarray]) -> None:
        """Replay and run eagerly on perturbed inputs: different results mean f depends on
        values the tape does not see."""
        moved = [_perturbed(a) for a in arrays]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                eager = self._call_with(args, kwargs, positions, moved)
            except Exception as exc:  # noqa: BLE001 - reported as a JitError below
                raise JitError(f"jit({self.name}): could not check the recording: the function "
                               f"raised on slightly perturbed inputs ({exc!r})") from exc
            replayed = program.run(moved)
        eager_leaves, _ = _flatten(eager, self.name)
        replay_leaves, _ = _flatten(replayed, self.name)
        if len(eager_leaves) != len(replay_leaves) or not all(
                _same(e.data, r.data) for e, r in zip(eager_leaves, replay_leaves)):
            raise JitError(
                f"jit({self.name}): the recorded program does not reproduce the function on "
                "other inputs: it depends on values read outside tinygrad_mv operations (.data, "
                "NumPy on the data, Python branches on values); call it without tg.jit")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        positions, arrays, key = self._split(args)
        if (args and not key) or autograd._anomaly.get():
            return self.f(*args, **kwargs)  # differentiated or checked: eager
        if kwargs:
            for key_name, value in kwargs.items():
                if isinstance(value, Tensor):
                    raise TypeError(f"jit({self.name}): keyword argument {key_name!r} is a "
                                    "Tensor; pass arrays and Tensors positionally (keyword "
                                    "arguments are static, part of the signature)")
            try:
                key += (tuple(sorted(kwargs.items())),)
                hash(key)
            except TypeError as exc:
                raise TypeError(f"jit({self.name}): keyword arguments must be hashable "
                                "(they are static)") from exc
        key += (autograd.is_grad_enabled(),)
        if autograd._tracer is not None:
            _refuse_nested(self.name)  # even with a program: replayed, f would be invisible
        program = self.programs.get(key)
        if program is not None:
            result = program.run(arrays)
            if result is not None:
                return result
        program = self._record(args, kwargs, positions, arrays)
        self.programs[key] = program
        if self.recordings == _MANY_RECORDINGS:
            warnings.warn(f"jit({self.name}) has been recorded {self.recordings} times: each new "
                          "signature records again. A Python number is a static argument (part "
                          "of the signature); pass values that change as arrays.",
                          RuntimeWarning, stacklevel=2)
        return program.run(arrays)


def jit(f: Callable) -> Callable:
    """``jit(f)``: ``f`` recorded once per input signature (shapes, dtypes, static arguments) and
    replayed as a flat program of NumPy calls, several times cheaper for small and medium arrays.
    Arrays and Tensors are dynamic arguments; other arguments are static (part of the
    signature). ``jit(tg.grad(f))`` compiles the forward and the reverse pass. See
    :mod:`tinygrad_mv.tracing` for what can be recorded and the checks."""
    return _Jitted(f)

