"""Negations folded away from a recorded program, exactly.

Reverse mode makes many negations: the rules of ``a - b``, ``-x`` and a quotient's denominator
each hand on ``-g``. Negation is exact in IEEE arithmetic, and so is moving it through the
operations that follow: ``(-a) * b == -(a * b)``, ``(-a) / b == -(a / b)``,
``a + (-b) == a - b`` and ``(-a) - (-b) == b - a``, zeros' signs included. So a negation need
not be a pass over memory of its own: this pass keeps it aside, carried with the value it
negates, until two meet and cancel, an addition absorbs it, or a step that is not one of those
needs the value itself (then the negation is made there).

Each rewritten step is run on the recorded values and kept only if its result is the recording's
(negated where the sign is still carried), bit for bit, with the recorded layout; a value that
some step writes in place is never stood in for. Exact for every number, zeros' signs included;
not for a NaN's sign bit, which IEEE 754 leaves to the operation (an invalid one such as
``inf * 0`` gives the machine's default NaN whatever its operands' signs): where a later call
makes a NaN, its sign bit may differ from the eager one's, the NaN itself stays.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from .optimizer import (Step, _in_place, _root, _same_value, _sigmoid_slope, _twice_times,
                        _written_roots)

__all__ = ["fold_negations"]

_PRODUCTS = (np.multiply, np.true_divide)
# Rules whose last operation multiplies by their first argument, g: f(-g, x) == -f(g, x)
_TIMES_G = (_twice_times, _sigmoid_slope)
_SUMS = (np.add, operator.add)


def _float(value: Any) -> bool:
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind == "f"


def fold_negations(program: list[Step], values: list, constants: dict,
                   new_slot: Callable[[Any], int], new_constant: Callable[[Any], int],
                   results: list[int]) -> tuple[list[Step], dict[int, int]]:
    """The program with its negations carried aside (see the module's docstring), and the slots
    dropped -> the slots standing for them (``--x`` is ``x``). A negation meeting a product or
    quotient with a constant, or with a single number, goes into that factor instead
    (``(-a) / b == a / (-b)``): negated once at compile time, or one scalar operation."""
    written = _written_roots(program, values)
    negated: dict[int, int] = {}  # slot -> the slot whose negation it is (no step makes it)
    remap: dict[int, int] = {}
    kept: list[Step] = []
    reads: dict[int, int] = {}  # slot -> how many steps read it
    for _, ins, _ in program:
        for i in ins:
            reads[i] = reads.get(i, 0) + 1
    made_at: dict[int, int] = {}  # slot -> the index in kept of the step making it
    read_through: set[int] = set()  # slots a rewritten step reads in place of their negations

    def make(slot: int) -> int:
        """``slot`` with its value made (a carried negation written as a step, or put into the
        constant factor of the product that made what it negates, if nothing else reads that)."""
        base = negated.pop(slot, None)
        if base is None:
            return slot
        at = made_at.get(base)
        if (at is not None and reads.get(base) == 1 and base not in results
                and base not in remap.values() and base not in read_through):
            fn, ins, _ = kept[at]
            flipped = _negated_factor(fn, ins, slot, values, constants, new_constant)
            if flipped is not None:  # -(c * y) is (-c) * y: the product makes slot itself
                kept[at] = flipped
                return slot
        kept.append((np.negative, (base,), slot))
        return slot

    def free(slot: int) -> bool:
        return _float(values[slot]) and id(_root(values[slot])) not in written

    for fn, ins, out in program:
        ins = tuple(remap.get(i, i) for i in ins)
        step = (fn, ins, out)
        if (fn is np.negative and len(ins) == 1 and not _in_place(step, values)
                and free(ins[0]) and free(out)):
            if ins[0] in negated:
                remap[out] = negated[ins[0]]  # --x is x
            else:
                negated[out] = ins[0]
            continue
        rewritten = None
        if any(i in negated for i in ins) and free(out) and not _in_place(step, values):
            rewritten = _into_factor(fn, ins, out, values, constants, negated, new_slot,
                                     new_constant, kept, free)
            if rewritten is None:
                rewritten = _rewrite(fn, ins, out, values, negated, new_slot)
        if rewritten is None:
            made = tuple(make(i) for i in ins)
            made_at[out] = len(kept)
            kept.append((fn, made, out))
            continue
        new_fn, new_ins, slot, sign = rewritten
        read_through.update(new_ins)
        made_at[slot] = len(kept)
        kept.append((new_fn, new_ins, slot))
        if sign:
            negated[out] = slot
    for slot in results:
        make(remap.get(slot, slot))
    return kept, remap


def _into_factor(fn: Callable, ins: tuple, out: int, values: list, constants: dict,
                 negated: dict[int, int], new_slot: Callable[[Any], int],
                 new_constant: Callable[[Any], int], kept: list[Step],
                 free: Callable[[int], bool]) -> tuple[Callable, tuple, int, bool] | None:
    """A product or quotient with one negated operand, the negation put into the other operand
    where that is a constant or a single number: (function, inputs, ``out``, False), the
    number's negation appended to ``kept``; or None."""
    if fn not in _PRODUCTS or len(ins) != 2 or (ins[0] in negated) == (ins[1] in negated):
        return None
    k = 0 if ins[0] in negated else 1
    other = ins[1 - k]
    value = values[other]
    if other in constants:
        negative = _negated_constant(value)
        if negative is None:
            return None
        flipped = new_constant(negative)
        step = None
    elif np.ndim(value) == 0 and free(other):
        flipped = new_slot(np.negative(value))
        step = (np.negative, (other,), flipped)
    else:
        return None
    new_ins = [0, 0]
    new_ins[k], new_ins[1 - k] = negated[ins[k]], flipped
    try:
        with np.errstate(all="ignore"):
            result = fn(*(values[i] for i in new_ins))
    except Exception:  # noqa: BLE001 - the step is kept as it is
        return None
    if not _agrees(result, values[out]):
        return None
    if step is not None:
        kept.append(step)
    return fn, tuple(new_ins), out, False


def _negated_factor(fn: Callable, ins: tuple, target: int, values: list, constants: dict,
                    new_constant: Callable[[Any], int]) -> Step | None:
    """A product or quotient with a constant operand, that constant negated, writing ``target``
    (the negation of what the step made), if it gives the recorded value; or None."""
    if fn not in _PRODUCTS or len(ins) != 2:
        return None
    for k, other in enumerate(ins):
        value = values[other]
        negative = _negated_constant(value) if other in constants else None
        if negative is not None:
            new_ins = list(ins)
            new_ins[k] = new_constant(negative)
            try:
                with np.errstate(all="ignore"):
                    result = fn(*(values[i] for i in new_ins))
            except Exception:  # noqa: BLE001 - the negation is made as a step instead
                return None
            return (fn, tuple(new_ins), target) if _agrees(result, values[target]) else None
    return None


def _negated_constant(value: Any) -> Any:
    """A constant's negation, or None where that is not one: a Python int 0 is its own
    negation (-0 == 0 has no sign), so x * 0 would stand for (-x) * 0 with the zeros' signs
    flipped (the recording cannot tell where x was only infinities, or 0 / x at x = 0)."""
    if _float(value):
        return np.negative(value)
    if type(value) is float or (type(value) is int and value != 0):
        return -value
    return None


def _rewrite(fn: Callable, ins: tuple, out: int, values: list, negated: dict[int, int],
             new_slot: Callable[[Any], int]) -> tuple[Callable, tuple, int, bool] | None:
    """A step on the carried values instead of their negations: (function, inputs, the slot it
    writes, whether that slot holds the negation of ``out``'s value), or None."""
    flips = [i in negated for i in ins]
    bases = tuple(negated.get(i, i) for i in ins)
    if fn in _PRODUCTS and len(ins) == 2:
        new_fn, new_ins, sign = fn, bases, flips[0] != flips[1]
    elif fn in _TIMES_G and flips == [True, False]:
        new_fn, new_ins, sign = fn, bases, True
    elif fn in _SUMS and len(ins) == 2 and flips != [True, True]:
        a, b = bases
        if flips[0]:
            new_fn, new_ins, sign = np.subtract, (b, a), False   # -a + b == b - a
        else:
            new_fn, new_ins, sign = np.subtract, (a, b), False   # a + -b == a - b
    elif fn is np.subtract and len(ins) == 2 and flips != [True, False]:
        a, b = bases
        if flips[0]:
            new_fn, new_ins, sign = np.subtract, (b, a), False   # -a - -b == b - a
        else:
            new_fn, new_ins, sign = np.add, (a, b), False   # a - -b == a + b
    else:
        # Not -(a + b) for -a + -b, nor a sum's negation for the sum of negations: where the
        # terms cancel exactly those give -0 where the recording has +0.
        return None
    try:
        with np.errstate(all="ignore"):
            result = new_fn(*(values[i] for i in new_ins))
    except Exception:  # noqa: BLE001 - the step is kept as it is
        return None
    return (new_fn, new_ins, new_slot(result) if sign else out, sign) if _agrees(
        np.negative(result) if sign else result, values[out]) else None


def _agrees(value: Any, recorded: Any) -> bool:
    """Whether a rewritten step gives the recorded value, bit for bit (zeros' signs too), laid
    out as recorded (a NumPy scalar standing for a 0-d array, as arithmetic on 0-d arrays
    gives)."""
    if np.ndim(recorded) == 0:
        if not (np.ndim(value) == 0 and isinstance(value, (np.ndarray, np.generic))):
            return False
        value, recorded = np.asarray(value), np.asarray(recorded)
    elif not (type(value) is type(recorded) and value.strides == recorded.strides):
        return False
    return (_same_value(value, recorded)
            and np.array_equal(np.signbit(value), np.signbit(recorded)))
