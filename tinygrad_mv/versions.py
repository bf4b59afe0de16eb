"""Version counters for in-place writes, kept off the hot path.

PyTorch gives every tensor a counter that each in-place write bumps, and every recorded operation
notes the counters of the values it saved. Here the same check costs nothing until something is
written in place: a write notes, for the memory it touched (the array that owns it, so views and
the arrays they view count as one), the sequence number it happened at, drawn from the same
counter that numbers the graph's nodes. A node whose number is smaller was recorded before the
write; backward asks only those nodes whether their rule reads a value that was written since.

Which saved values a rule reads is read off the rule itself, once per rule: the positional
parameters ``(g, out, *inputs)`` its code loads (a parameter read only for ``.shape``, ``.ndim``,
``.dtype`` or ``.size`` does not count). A rule that cannot be read this way (a builtin, a callable
object) is taken to read everything, so a check may refuse more than PyTorch would, never less.
"""
from __future__ import annotations

import dis
import functools
import itertools
import weakref
from typing import Any, Callable

import numpy as np

__all__ = ["sequence", "note_write", "last_write", "written_since", "rule_reads"]

# Numbers graph nodes and in-place writes alike, so "recorded before this write" is a comparison.
sequence = itertools.count()

# id(owner array) -> (weak reference to it, sequence number of its latest in-place write).
_writes: dict[int, tuple[Any, int]] = {}
# The sequence number of the latest in-place write anywhere (-1: none yet).
last_write = -1

_METADATA = frozenset({"shape", "ndim", "dtype", "size"})


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (NumPy points a view's ``base`` at its owner)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _forget(key: int) -> Callable[[Any], None]:
    return lambda _ref: _writes.pop(key, None)


def note_write(array: np.ndarray) -> None:
    """Record that ``array`` (and every view of its memory) was just written in place."""
    global last_write
    owner = _owner(array)
    key = id(owner)
    stamp = next(sequence)
    entry = _writes.get(key)
    if entry is not None and entry[0]() is owner:
        _writes[key] = (entry[0], stamp)
    else:
        _writes[key] = (weakref.ref(owner, _forget(key)), stamp)
    last_write = stamp


def written_since(value: Any, seq: int) -> bool:
    """True when ``value``'s memory was written in place after sequence number ``seq``."""
    if not isinstance(value, np.ndarray):
        return False
    owner = _owner(value)
    entry = _writes.get(id(owner))
    return entry is not None and entry[1] > seq and entry[0]() is owner


@functools.lru_cache(maxsize=4096)
def _loaded_parameters(code: Any) -> tuple[frozenset, bool]:
    """The parameter names ``code`` reads for their values, and whether it has ``*args`` that it
    reads (then every input beyond the named ones counts as read)."""
    read = set()
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE"):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            following = instructions[k + 1] if k + 1 < len(instructions) else None
            if (len(names) == 1 and following is not None and following.opname == "LOAD_ATTR"
                    and following.argval in _METADATA):
                continue  # x.shape: the shape is kept whatever happens to the values
            read.update(names)
    n_named = code.co_argcount
    star = None
    if code.co_flags & 0x04:  # CO_VARARGS: the name after the positional and keyword-only ones
        star = code.co_varnames[n_named + code.co_kwonlyargcount]
    return frozenset(read), star is not None and star in read


def rule_reads(rule: Callable, n_inputs: int) -> tuple[bool, ...]:
    """For a VJP or JVP rule ``rule(g, out, *inputs, **params)``: whether it reads ``out`` and
    each input's values, as a tuple of ``1 + n_inputs`` flags."""
    bound = 0
    while isinstance(rule, functools.partial):
        bound += len(rule.args)  # partial(rule, i): i fills the first parameter
        rule = rule.func
    code = getattr(rule, "__code__", None)
    if code is None:
        return (True,) * (1 + n_inputs)
    read, star_read = _loaded_parameters(code)
    names = code.co_varnames[:code.co_argcount]
    flags = []
    for position in range(1 + n_inputs):  # out, then the inputs; g comes first
        index = bound + 1 + position
        flags.append(names[index] in read if index < len(names) else star_read)
    return tuple(flags)
