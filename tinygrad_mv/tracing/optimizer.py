"""Rewrites of a recorded program before it is compiled, each exact (a replay stays bitwise equal
to the eager run):

- common rules expanded into the ufunc calls they make (``g * (2 * x)`` for ``x ** 2``), so the
  passes below see through them and a replay makes no Python call for them;
- products with a constant all-ones factor dropped (``1.0 * v`` is ``v``, bit for bit);
- common subexpressions merged (``t[:-1]`` taken for values and again for tangents);
- buffers reused: an elementwise ufunc writes into a temporary input that dies there (``out=``),
  as fresh memory costs page faults at every call.

What the recording saw (``tracer.values``: shapes, dtypes, which arrays are views) decides each
rewrite once; a rewrite whose result the recorded value does not confirm is not made.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy as np

from ..ops import elementwise as ew
from ..ops import linalg
from .recorder import _add_at, _add_in_place, _Tracer

Step = tuple[Callable, tuple, int]
_NO = object()  # a value that cannot be part of a merge key


# --- what a step does to memory -----------------------------------------------------------------
def _root(value: Any) -> Any:
    """The array owning ``value``'s memory (``value`` itself when it is not a view)."""
    if isinstance(value, np.ndarray) and value.base is not None:
        return value.base
    return value


def _in_place(step: Step, values: list) -> bool:
    """Whether a step may write into one of its inputs: the recorder's accumulations, a step with
    ``out=``, or any step whose result is one of its inputs (taken as written: it may be)."""
    fn, ins, out = step
    func = fn.func if isinstance(fn, functools.partial) else fn
    if func is _add_in_place or func is _add_at:
        return True
    if isinstance(fn, functools.partial) and "out" in fn.keywords:
        return True
    return any(values[out] is values[i] for i in ins)


def _written_roots(program: list[Step], values: list) -> set[int]:
    """ids of the arrays owning memory that some step writes in place: their slots may change
    after they are made, so they are never merged or stood in for."""
    return {id(_root(values[i])) for step in program if _in_place(step, values)
            for i in step[1]}


# --- common subexpressions ----------------------------------------------------------------------
def _freeze(value: Any) -> Any:
    """A hashable stand-in for a step's static argument, equal only for equal arguments (1, 1.0
    and True stay apart; a slice is unhashable on Python 3.11); _NO for anything else."""
    kind = type(value)
    if value is None or value is Ellipsis or kind in (bool, int, str):
        return (kind, value)
    if kind is float:
        return (kind, value.hex())
    if isinstance(value, np.generic):
        return (kind, value.tobytes())
    if kind is np.dtype or isinstance(value, np.dtype):
        return (np.dtype, value.str, value.name)
    if kind is slice:
        parts = (_freeze(value.start), _freeze(value.stop), _freeze(value.step))
        return _NO if _NO in parts else (slice, *parts)
    if kind is tuple:
        items = tuple(_freeze(v) for v in value)
        return _NO if any(i is _NO for i in items) else (tuple, *items)
    if kind is type:
        return (type, value)
    return _NO


def _fn_key(fn: Callable) -> Any:
    if isinstance(fn, functools.partial):
        func, args = _fn_key(fn.func), _freeze(fn.args)
        keywords = _freeze(tuple(sorted(fn.keywords.items())))
        if func is _NO or args is _NO or keywords is _NO:
            return _NO
        return (functools.partial, func, args, keywords)
    try:
        hash(fn)
    except TypeError:
        return _NO
    return ("fn", fn)


def _same_value(a: Any, b: Any) -> bool:
    """Whether two recorded results are the same value, bit for bit (guards against a step that
    is not a function of its inputs: a random draw)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.ndarray, np.generic)):
        return (a.dtype == b.dtype and a.shape == b.shape and a.dtype.kind in "biuf"
                and np.array_equal(a, b, equal_nan=True))
    if type(a) in (int, float, bool):
        return a == b or a != a and b != b
    return False


def merge_common(program: list[Step], values: list) -> tuple[list[Step], dict[int, int]]:
    """The program with each step that repeats an earlier one (same function, same static
    arguments, same input slots) dropped, and the slots dropped -> the slots standing for them.
    An in-place step forgets what was seen before it (it may change any of it)."""
    written = _written_roots(program, values)
    seen: dict[Any, int] = {}
    remap: dict[int, int] = {}
    kept = []
    for fn, ins, out in program:
        ins = tuple(remap.get(i, i) for i in ins)
        if _in_place((fn, ins, out), values):
            seen.clear()
        elif id(_root(values[out])) not in written:
            key = _fn_key(fn)
            if key is not _NO:
                key = (key, ins)
                first = seen.setdefault(key, out)
                if first != out and _same_value(values[first], values[out]):
                    remap[out] = first
                    continue
        kept.append((fn, ins, out))
    return kept, remap


# --- products with one ----------------------------------------------------------------------
def _all_ones(value: Any) -> bool:
    if type(value) in (int, float):
        return value == 1
    return (isinstance(value, np.ndarray) and value.dtype.kind == "f"
            and bool(np.all(value == 1)))


def drop_unit_products(program: list[Step], values: list,
                       constants: dict) -> tuple[list[Step], dict[int, int]]:
    """``multiply(ones, v)`` (and ``v / 1``) is ``v`` when it has ``v``'s shape and dtype: the
    step goes, its slot stands for ``v``'s (unless either is written in place later). Where
    later steps read the product (a matmul or a sum rounds by memory layout), ``v`` must also be
    laid out as the product is (not a reversed or broadcast view). (Called for C-ordered
    arguments only: then the layouts recorded are the replay's.)"""
    written = _written_roots(program, values)
    read = {i for _, ins, _ in program for i in ins}
    remap: dict[int, int] = {}
    kept = []
    for fn, ins, out in program:
        ins = tuple(remap.get(i, i) for i in ins)
        other = _unit_operand(fn, ins, values, constants)
        if (other is not None and type(values[other]) is np.ndarray
                and type(values[out]) is np.ndarray
                and values[other].shape == values[out].shape
                and values[other].dtype == values[out].dtype
                and not {id(_root(values[out])), id(_root(values[other]))} & written
                and (out not in read or values[other].strides == values[out].strides)):
            remap[out] = other
            continue
        kept.append((fn, ins, out))
    return kept, remap



def _unit_operand(fn: Callable, ins: tuple, values: list, constants: dict) -> int | None:
    """The slot a product or quotient by a constant one returns, or None."""
    if len(ins) != 2:
        return None
    a, b = ins
    if fn is np.multiply:
        if a in constants and _all_ones(constants[a]):
            return b
        if b in constants and _all_ones(constants[b]):
            return a
    if fn is np.true_divide and b in constants and _all_ones(constants[b]):
        return a
    return None


# --- rules expanded into ufunc calls ------------------------------------------------------------
# Each takes the rule step's input slots (g, out, *operands), the recorded values and a function
# making a constant slot, and gives the calls the rule makes: (function, argument slots), the last
# one the rule's result, an argument -1 - k the result of call k. (No more calls than the rule
# makes NumPy steps: two-call rules become one helper, with one new array instead of two.)
Calls = list[tuple[Callable, tuple]]


def _sigmoid_slope(g: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``g * (out * (1 - out))``, sigmoid's rule, with one new array instead of three."""
    t = np.subtract(1, out)
    np.multiply(out, t, out=t)
    return np.multiply(g, t, out=t)


def _twice_times(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g * (2 * x)``, the rule of ``x ** 2``, with one new array instead of two."""
    t = np.multiply(2, x)
    return np.multiply(g, t, out=t)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    """The sigmoid's forward (ops/elementwise.py) on a float64 array, its checks made once at the
    recording."""
    t = np.negative(x, order="C")  # C order whatever x's: a later sum adds in one order
    np.minimum(t, 709.0, out=t)
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


def _sigmoid_calls(ins: tuple, values: list, const: Callable[[Any], int],
                   constants: dict) -> Calls | None:
    x = values[ins[0]]
    if type(x) is not np.ndarray or x.dtype != np.float64 or x.ndim == 0:
        return None
    return [(_sigmoid64, ins)]


_TRANSPOSE = operator.methodcaller("swapaxes", -1, -2)


def _matmul_calls(i: int) -> Callable[[tuple, list, Callable, dict], Calls | None]:
    """matmul's rule for input i as its two calls, where both operands are matrices (or stacks):
    ``g @ yᵀ`` and ``xᵀ @ g``."""
    def calls(ins: tuple, values: list, const: Callable[[Any], int],
              constants: dict) -> Calls | None:
        g, _, x, y = ins
        if np.ndim(values[x]) < 2 or np.ndim(values[y]) < 2:
            return None
        if i == 0:
            return [(_TRANSPOSE, (y,)), (np.matmul, (g, -1))]
        return [(_TRANSPOSE, (x,)), (np.matmul, (-1, g))]
    return calls


def _pow_dbase_calls(ins: tuple, values: list, const: Callable[[Any], int],
                     constants: dict) -> Calls | None:
    g, _, x, y = ins
    exponent = values[y]
    if y not in constants or type(exponent) not in (int, float) or exponent != 2:
        return None  # only x ** 2: g * (2 * x)
    if g in constants and _all_ones(values[g]) and np.shape(values[g]) == np.shape(values[x]):
        return [(np.multiply, (const(2), x))]  # a sum's gradient: g is constant ones
    if np.ndim(values[x]) == 0:  # numbers: NumPy scalars, which cannot take out=
        return [(np.multiply, (const(2), x)), (np.multiply, (g, -1))]
    return [(_twice_times, (g, x))]


def _power_calls(ins: tuple, values: list, const: Callable[[Any], int],
                 constants: dict) -> Calls | None:
    x, y = ins
    if (y not in constants or type(values[x]) is not np.ndarray
            or type(values[y]) not in (int, float) or values[y] != 2):
        return None
    return [(np.square, (x,))]  # what NumPy's x ** 2 calls


_EXPANSIONS: dict[Callable, Callable[[tuple, list, Callable, dict], Calls | None]] = {
    ew.neg.vjps[0]: lambda ins, v, c, k: [(np.negative, (ins[0],))],
    ew.sub.vjps[1]: lambda ins, v, c, k: [(np.negative, (ins[0],))],
    ew.mul.vjps[0]: lambda ins, v, c, k: [(np.multiply, (ins[0], ins[3]))],
    ew.mul.vjps[1]: lambda ins, v, c, k: [(np.multiply, (ins[0], ins[2]))],
    ew.div.vjps[0]: lambda ins, v, c, k: [(np.true_divide, (ins[0], ins[3]))],
    ew.div.vjps[1]: lambda ins, v, c, k: [(np.negative, (ins[0],)), (np.multiply, (-1, ins[1])),
                                          (np.true_divide, (-2, ins[3]))],
    ew.exp.vjps[0]: lambda ins, v, c, k: [(np.multiply, (ins[0], ins[1]))],
    ew.sigmoid.vjps[0]: lambda ins, v, c, k: [(_sigmoid_slope, (ins[0], ins[1]))],
    ew._pow_dbase: _pow_dbase_calls,
    ew._sigmoid: _sigmoid_calls,
    linalg._matmul_dx: _matmul_calls(0),
    linalg._matmul_dy: _matmul_calls(1),
    ew.power.forward: _power_calls,  # type: ignore[attr-defined]
}


def expand_rules(tracer: _Tracer, program: list[Step]) -> list[Step]:
    """The program with each rule of _EXPANSIONS written as its calls, when the calls give
    the recorded result bit for bit (and type, shape, dtype: a replay runs them as recorded)."""
    values = tracer.values
    expanded: list[Step] = []
    for fn, ins, out in program:
        make = _EXPANSIONS.get(fn) if _hashable(fn) else None
        steps = (_expand(tracer, make(ins, values, tracer.constant, tracer.constants), out)
                 if make else None)
        expanded.extend(steps or [(fn, ins, out)])
    return expanded


def _hashable(fn: Callable) -> bool:
    try:
        hash(fn)
    except TypeError:
        return False
    return True


def _expand(tracer: _Tracer, calls: Calls | None, out: int) -> list[Step] | None:
    if calls is None:
        return None
    values, slots, steps = tracer.values, [], []
    try:
        with np.errstate(all="ignore"):
            for i, (call, args) in enumerate(calls):
                ins = tuple(slots[-1 - a] if a < 0 else a for a in args)
                result = call(*(values[a] for a in ins))
                slot = out if i == len(calls) - 1 else tracer.new_slot(result)
                slots.append(slot)
                steps.append((call, ins, slot))
    except Exception:  # noqa: BLE001 - the rule is kept as it is
        return None
    recorded = values[out]
    if _scalar_for_0d(result, recorded):
        return steps if _same_value(result, recorded[()]) else None
    if not (type(result) is type(recorded) and _same_value(result, recorded)
            and getattr(result, "strides", None) == getattr(recorded, "strides", None)):
        return None
    return steps


def _scalar_for_0d(value: Any, recorded: Any) -> bool:
    """A NumPy scalar where the recording kept a 0-d array (an operation's result is always an
    array; arithmetic on 0-d arrays gives scalars, as a replay's steps do): the same number."""
    return (isinstance(value, np.generic) and type(recorded) is np.ndarray and recorded.ndim == 0
            and value.dtype == recorded.dtype)


# --- buffer reuse -------------------------------------------------------------------------------
def _elementwise(fn: Callable, ins: tuple) -> bool:
    return (isinstance(fn, np.ufunc) and fn.signature is None and fn.nout == 1
            and fn.nin == len(ins))


def _makes_fresh(fn: Callable) -> bool:
    """Whether a step's result is an array it made (no ufunc without ``out=`` hands back an
    input, a view or a cached array; nor do these rules)."""
    return isinstance(fn, np.ufunc) or (_hashable(fn) and fn in _FRESH)


def _reduces(fn: Callable) -> bool:
    """Whether a step is a ufunc's reduce (a partial of ``np.add.reduce``, say)."""
    func = fn.func if isinstance(fn, functools.partial) else fn
    return isinstance(getattr(func, "__self__", None), np.ufunc) and func.__name__ == "reduce"


_FRESH = {ew._sigmoid, _sigmoid64, _sigmoid_slope, _twice_times, *_EXPANSIONS}


def plan_buffers(program: list[Step], values: list, protected: set[int]) -> dict[int, int]:
    """step index -> an input slot the step's ufunc writes its result into (``out=``): a
    temporary the program made (not ``protected``: an argument, a live Tensor's data, a constant
    or a result), dying at this step, owning its memory, with no other slot viewing it, and of
    the result's shape, dtype and strides (so the values are those of a new array, bit for
    bit)."""
    last_use: dict[int, int] = {}
    for index, (_, ins, _) in enumerate(program):
        for i in ins:
            last_use[i] = index
    owners: dict[int, int] = {}  # id of an owning array -> how many slots show its memory
    for slot in {s for _, ins, out in program for s in (*ins, out)}:
        owners[id(_root(values[slot]))] = owners.get(id(_root(values[slot])), 0) + 1
    # A step that made a view at the recording views its inputs' memory in the replay, whichever
    # array it viewed then (two equal steps merged into one: the view was of the other's result;
    # a copy the recording gave its source's slot). A reduction makes a new array in the replay
    # (eagerly a gradient summed to a shape is a reshaped view of the sum).
    for fn, ins, out in program:
        if (isinstance(values[out], np.ndarray) and values[out].base is not None
                and not _makes_fresh(fn) and not _reduces(fn)):
            for k in set(ins):
                owners[id(_root(values[k]))] = owners.get(id(_root(values[k])), 0) + 1
    written = _written_roots(program, values)
    fresh = {out for fn, _, out in program if _makes_fresh(fn)} - protected
    plan: dict[int, int] = {}
    for index, (fn, ins, out) in enumerate(program):
        if not _elementwise(fn, ins) or not _is_new_array(values[out]):
            continue
        for k in ins:
            if k in fresh and last_use[k] == index and _fits(values[k], values[out]) \
                    and owners[id(values[k])] == 1 and id(values[k]) not in written:
                plan[index] = k
                break
    return plan


def _is_new_array(value: Any) -> bool:
    return type(value) is np.ndarray and value.base is None and value.ndim > 0


def _fits(buffer: Any, result: np.ndarray) -> bool:
    return (_is_new_array(buffer) and buffer.shape == result.shape
            and buffer.dtype == result.dtype and buffer.strides == result.strides
            and buffer.flags.writeable)
