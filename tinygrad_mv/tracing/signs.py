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
some step writes in place is never stood in for.
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


def fold_negations(program: list[Step], values: list,
                   new_slot: Callable[[Any], int], results: list[int]
                   ) -> tuple[list[Step], dict[int, int]]:
    """The program with its negations carried aside (see the module's docstring), and the slots
    dropped -> the slots standing for them (``--x`` is ``x``)."""
    written = _written_roots(program, values)
    negated: dict[int, int] = {}  # slot -> the slot whose negation it is (no step makes it)
    remap: dict[int, int] = {}
    kept: list[Step] = []

    def make(slot: int) -> int:
        """``slot`` with its value made (a carried negation written as a step)."""
        base = negated.pop(slot, None)
        if base is not None:
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
            rewritten = _rewrite(fn, ins, out, values, negated, new_slot)
        if rewritten is None:
            kept.append((fn, tuple(make(i) for i in ins), out))
            continue
        new_fn, new_ins, slot, sign = rewritten
        kept.append((new_fn, new_ins, slot))
        if sign:
            negated[out] = slot
    for slot in results:
        make(remap.get(slot, slot))
    return kept, remap


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
