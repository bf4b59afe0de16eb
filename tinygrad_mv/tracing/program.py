"""Arguments and results of a recorded function, the steps its results need, and the
straight-line Python function they compile to."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from ..autograd import JitError
from ..ops.shape import _index
from ..tensor import _FLOATS, Tensor, _make, _working_float
from . import optimizer, signs
from .recorder import _add_at, _scatter_new, _Tracer


# --- arguments and results ----------------------------------------------------------------------
def _dynamic(value: Any) -> np.ndarray | None:
    """The array a dynamic argument stands for (None for a static one); TypeError saying what
    is wrong with one that is no numeric array."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (np.ndarray, np.generic, list)):
        try:
            arr = np.asarray(value)
        except ValueError as exc:  # a ragged list (of Tensors of several shapes, say)
            raise TypeError(f"a list that is not a rectangular array ({exc}); pass arrays and "
                            "Tensors as separate arguments") from exc
        if arr.dtype.kind in "iubf" and arr.dtype not in _FLOATS:
            arr = arr.astype(_working_float(arr.dtype))  # as Tensor() makes it
        elif arr.dtype.kind != "f":
            raise TypeError(f"dtype {arr.dtype}; arrays must be numeric")
        return arr
    return None


def _flatten(result: Any, name: str) -> tuple[list[Tensor], Callable[[list[str], dict], str]]:
    """The Tensors in a result (a Tensor or tuples, lists and dicts of them, and constants), and
    a function writing the expression that rebuilds the same structure from expressions making
    the Tensors (constants go into the namespace given)."""
    leaves: list[Tensor] = []

    def walk(value: Any) -> Callable[[list[str], dict], str]:
        if isinstance(value, Tensor):
            index = len(leaves)
            leaves.append(value)
            return lambda names, ns: names[index]  # an expression making the Tensor
        if isinstance(value, (tuple, list)):
            parts = [walk(v) for v in value]
            if isinstance(value, tuple):
                open_, close = "(", ",)" if parts else ")"  # (an empty tuple is (), not (,))
            else:
                open_, close = "[", "]"
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


def _owned_tensor(array: Any) -> Tensor:
    """A result as a Tensor owning its array: a view (of an input, say: a reshape) is copied, and
    a NumPy scalar (what arithmetic on 0-d arrays gives) becomes a 0-d array, as eager results
    always are."""
    if type(array) is not np.ndarray:
        array = np.array(array)
    elif array.base is not None:
        array = array.copy()
    tensor = _new(Tensor)  # as _make, inlined
    tensor._data = array
    tensor.grad = tensor._node = tensor.name = tensor._hooks = None
    tensor._requires_grad = False
    return tensor


_new = object.__new__


def _copy(array: Any) -> np.ndarray:
    return np.array(array, copy=True)


class _Program:
    """One recording compiled to a Python function of straight-line NumPy calls (each value in
    a local variable, deleted after its last use) that returns the result, plus the Tensors to
    read at each call."""

    def __init__(self, tracer: _Tracer, n_inputs: int, out_slots: list[int],
                 rebuild: Callable[[list[str], dict], str], c_order: bool = True) -> None:
        self.live = tracer.live
        # The live Tensors' memory layout at the recording: a call that finds another records
        # again (out= buffers are planned for the layouts recorded).
        self.live_order = [t._data.flags.c_contiguous for _, t, *_ in tracer.live]
        live_slots = [s for s, *_ in tracer.live]
        protected = set(range(n_inputs)) | set(live_slots) | set(tracer.constants)
        out_slots = _optimize(tracer, _needed_steps(tracer.program, out_slots), out_slots,
                              c_order)
        self.steps = tracer.program
        protected |= set(out_slots)
        # step index -> the dying temporary its ufunc writes into. Planned from the recorded
        # layouts, which are the replay's only when the arguments are C-ordered (the recording
        # runs on C-ordered copies; the signature tells C-ordered arguments apart).
        self.buffers = (optimizer.plan_buffers(self.steps, tracer.values, protected)
                        if c_order else {})
        # run(arrays): the result, or None where a live Tensor's data changed shape, dtype or
        # memory order (then record again). It reads and checks the live Tensors itself.
        self.run = _compile(tracer, n_inputs, out_slots, self.live, self.live_order, rebuild,
                            self.buffers)


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


def _optimize(tracer: _Tracer, program: list, out_slots: list[int],
              c_order: bool) -> list[int]:
    """Rewrites ``tracer.program`` (``program``, the needed steps) by optimizer's passes; the
    result slots, some now stood for by others. (Products with one are dropped only for
    C-ordered arguments: the layouts recorded are the replay's then.)"""
    program = optimizer.expand_rules(tracer, program)
    rewrites = [lambda p: optimizer.merge_common(p, tracer.values),
                lambda p: signs.fold_negations(p, tracer.values, tracer.constants,
                                               tracer.new_slot, tracer.constant, out_slots)]
    if c_order:
        rewrites.insert(0, lambda p: optimizer.drop_unit_products(p, tracer.values,
                                                                  tracer.constants))
    for rewrite in rewrites:
        program, remap = rewrite(program)
        out_slots = [remap.get(s, s) for s in out_slots]
    tracer.program = _needed_steps(program, out_slots)
    return out_slots


# Arithmetic written as operators: the same ufunc on arrays, and NumPy's scalar arithmetic (the
# same IEEE operation, ten times cheaper than a ufunc call) on the 0-d values of a chain of
# scalars, such as a loss divided by N or a gradient summed to a 0-d parameter.
_OPERATORS: dict[Any, str] = {np.add: "{} + {}", np.subtract: "{} - {}", np.multiply: "{} * {}",
                              np.true_divide: "{} / {}", np.negative: "-{}",
                              np.matmul: "{} @ {}"}
_ARITY = {fn: 1 if fn is np.negative else 2 for fn in _OPERATORS}


def _number(value: Any) -> bool:
    """Whether a recorded value may be a NumPy scalar in a replay (which nothing writes into)."""
    return type(value) is not np.ndarray or value.ndim == 0


def _inline(fn: Any, ins: list[str], out: str, index: int, namespace: dict,
            first_a_number: bool = False) -> list[str] | None:
    """Lines doing what a helper step does, written out: indexing, writing a gradient at an
    index (positions unique), the rules of x ** 2 and sigmoid, sigmoid. The same NumPy
    operations on the same operands in the same order, without the helper's Python calls (three
    for an IndexedGrad's round trip)."""
    if fn is optimizer._twice_times:  # g * (2 * x), into the new array
        return [f"{out} = 2 * {ins[1]}", f"_multiply({ins[0]}, {out}, {out})"]
    if fn is optimizer._sigmoid_slope:  # g * (out * (1 - out)), into one new array
        g, value = ins
        return [f"{out} = 1 - {value}", f"_multiply({value}, {out}, {out})",
                f"_multiply({g}, {out}, {out})"]
    if fn is optimizer._sigmoid64:
        x = ins[0]
        return [f"{out} = _negative({x}, order='C')",
                f"_minimum({out}, 709.0, out={out})", f"_exp({out}, {out})", f"{out} += 1",
                f"_reciprocal({out}, {out})"]
    if fn is optimizer._TRANSPOSE:
        return [f"{out} = {ins[0]}.swapaxes(-1, -2)"]
    if type(fn) is not functools.partial or fn.args:
        return None
    func, keywords = fn.func, fn.keywords
    if func is _index and set(keywords) == {"index"}:
        namespace[f"i{index}"] = keywords["index"]
        return [f"{out} = {ins[0]}[i{index}]"]
    if func is _scatter_new and keywords.get("unique") is True:
        namespace[f"i{index}"] = keywords["index"]
        namespace[f"s{index}"] = keywords["full_shape"]
        namespace[f"d{index}"] = keywords["dtype"]
        return [f"{out} = _zeros(s{index}, d{index})", f"{out}[i{index}] += {ins[0]}"]
    if func is _add_at and keywords.get("unique") is True and not first_a_number:  # as helper
        namespace[f"i{index}"] = keywords["index"]
        return [f"{out} = {ins[0]}", f"{out}[i{index}] += {ins[1]}"]
    return None


def _compile(tracer: _Tracer, n_inputs: int, out_slots: list[int], live: list,
             live_order: list[bool], rebuild: Callable[[list[str], dict], str],
             buffers: dict[int, int] | None = None) -> Callable:
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

    live_slots = [slot for slot, *_ in live]
    lines = ["def run(inputs):"]
    if n_inputs:
        lines.append("    " + "".join(f"v{i}, " for i in range(n_inputs)) + "= inputs")
        # A 0-d argument as a NumPy scalar: the same IEEE arithmetic (what NumPy gives back for
        # any operation on 0-d arrays), without a ufunc call for each operation on it.
        lines += [f"    v{i} = v{i}[()]" for i in range(n_inputs)
                  if i in last_use and np.ndim(tracer.values[i]) == 0]
    for k, ((slot, tensor, shape, dtype), c_order) in enumerate(zip(live, live_order)):
        namespace.update({f"L{k}": tensor, f"S{k}": shape, f"D{k}": dtype})
        lines += [f"    v{slot} = L{k}._data",
                  f"    if v{slot}.shape != S{k} or v{slot}.dtype != D{k} or "
                  f"v{slot}.flags.c_contiguous is not {c_order}:",
                  "        return None"]
    for index, (fn, ins, out) in enumerate(tracer.program):
        into = ""
        if buffers and index in buffers:  # out= as the ufunc's last positional argument, which
            # parses faster; np.minimum and np.maximum deprecate it
            into = (f", out=v{buffers[index]}" if fn in (np.minimum, np.maximum)
                    else f", v{buffers[index]}")
        operator = _OPERATORS.get(fn) if not into and len(ins) == _ARITY.get(fn) else None
        if operator is not None and all(  # Python numbers only: Python's arithmetic, not NumPy's
                i in tracer.constants and type(tracer.constants[i]) in (bool, int, float)
                for i in ins):
            operator = None
        inline = None if into else _inline(fn, [name(i) for i in ins], f"v{out}", index,
                                           namespace, ins and _number(tracer.values[ins[0]]))
        if operator is not None:
            lines.append(f"    v{out} = {operator.format(*(name(i) for i in ins))}")
        elif inline is not None:
            lines.extend("    " + line for line in inline)
        else:
            namespace[f"f{index}"] = fn
            lines.append(f"    v{out} = f{index}({', '.join(name(i) for i in ins)}{into})")
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
            text = f"_tensor(_copy({text}))"
        else:
            text = f"_owned_tensor({text})"
        returned.append(slot)
        outputs.append(text)
    constants: dict[str, Any] = {}
    lines.append(f"    return {rebuild(outputs, constants)}")
    namespace.update(constants, _tensor=_plain_tensor, _copy=_copy, _owned_tensor=_owned_tensor,
                     _zeros=np.zeros, _multiply=np.multiply,
                     _negative=np.negative, _minimum=np.minimum, _exp=np.exp,
                     _reciprocal=np.reciprocal)
    exec(compile("\n".join(lines), f"<tg.jit {tracer.name}>", "exec"), namespace)  # noqa: S102
    return namespace["run"]
