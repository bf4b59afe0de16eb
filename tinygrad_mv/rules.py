"""What a rule reads: which of ``(out, *inputs)`` a VJP rule ``rule(g, out, *inputs, **params)``
needs, read off the rule's own code once per rule, as PyTorch's code generator reads the saved
variables off each derivative formula.

Two uses: a node saves only the values its rules read (a large intermediate result that no
rule needs is freed as soon as the user drops it, instead of living until backward), and the
version check (versions.py) asks only about values a rule reads. A parameter read only for
``.shape``, ``.ndim``, ``.dtype`` or ``.size`` needs no values: the node keeps an
:class:`ArrayMeta` in its place. A rule that cannot be read (a builtin, a callable object) is
taken to read everything.
"""
from __future__ import annotations

import dis
import functools
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["ArrayMeta", "Reads", "rule_reads", "save_plan"]

_METADATA = frozenset({"shape", "ndim", "dtype", "size"})
# Flags per value: not used at all, used for its metadata only, or read.
UNUSED, META, READ = 0, 1, 2


class ArrayMeta:
    """What a rule that reads only ``.shape``/``.dtype`` needs of an array, without its memory."""

    __slots__ = ("shape", "dtype", "ndim", "size")

    def __init__(self, array: np.ndarray) -> None:
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim
        self.size = array.size

    def __repr__(self) -> str:
        return f"ArrayMeta(shape={self.shape}, dtype={self.dtype})"


@functools.lru_cache(maxsize=4096)
def _parameter_uses(code: Any) -> tuple[dict, int]:
    """For each parameter name ``code`` loads: READ or META (loaded only to read its metadata);
    and the use of its ``*args`` parameter (UNUSED when it has none)."""
    uses: dict[str, int] = {}
    instructions = list(dis.get_instructions(code))
    for k, ins in enumerate(instructions):
        if not (ins.opname.startswith("LOAD_FAST") or ins.opname in ("LOAD_DEREF", "LOAD_CLOSURE")):
            continue
        names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
        following = instructions[k + 1] if k + 1 < len(instructions) else None
        use = READ
        if (len(names) == 1 and following is not None and following.opname == "LOAD_ATTR"
                and following.argval in _METADATA):
            use = META  # x.shape: kept whatever happens to the values
        for name in names:
            uses[name] = max(uses.get(name, UNUSED), use)
    star_use = UNUSED
    if code.co_flags & 0x04:  # CO_VARARGS: the name after the positional and keyword-only ones
        star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
        star_use = uses.get(star, UNUSED)
    return uses, star_use


def rule_uses(rule: Callable, n_inputs: int) -> tuple[int, ...]:
    """UNUSED, META or READ for ``out`` and each input of a rule ``rule(g, out, *inputs)``."""
    bound = 0
    while isinstance(rule, functools.partial):
        bound += len(rule.args)  # partial(rule, i): i fills the first parameter
        rule = rule.func
    code = getattr(rule, "__code__", None)
    if code is None:
        return (READ,) * (1 + n_inputs)
    uses, star_use = _parameter_uses(code)
    names = code.co_varnames[:code.co_argcount]
    flags = []
    for position in range(1 + n_inputs):  # out, then the inputs; g comes first
        index = bound + 1 + position
        flags.append(uses.get(names[index], UNUSED) if index < len(names) else star_use)
    return tuple(flags)


def rule_reads(rule: Callable, n_inputs: int) -> tuple[bool, ...]:
    """Whether ``rule`` reads the values of ``out`` and of each input."""
    return tuple(use == READ for use in rule_uses(rule, n_inputs))


class Reads(NamedTuple):
    """What a node must save: READ, META or UNUSED for its output and for each input."""

    out: int
    inputs: tuple[int, ...]
    # The inputs some rule does not read (their values may be dropped when large).
    unread: tuple[int, ...]


def save_plan(rules: Any, n_inputs: int, needed: tuple[bool, ...] | None = None) -> Reads:
    """The union of what the rules of the inputs that need a gradient read (``needed``; every
    input when None): a constant operand's rule never runs (2 in x ** 2: x ** 2 itself is not
    read)."""
    out = UNUSED
    inputs = [UNUSED] * n_inputs
    for i in range(n_inputs):
        if needed is not None and not needed[i]:
            continue
        uses = rule_uses(rules[i], n_inputs)
        out = max(out, uses[0])
        inputs = [max(a, b) for a, b in zip(inputs, uses[1:])]
    return Reads(out, tuple(inputs), tuple(i for i, u in enumerate(inputs) if u != READ))


# Values no rule reads are still kept while small, so that graph pictures can show them after
# backward(retain_graph=True); larger ones are freed as soon as the user drops them.
KEEP_UNREAD_UP_TO = 65_536  # elements


def thin(datas: list, parents: tuple, out: np.ndarray, plan: Reads) -> tuple[list, Any]:
    """What a node saves: ``(datas, out)`` without the large values no rule reads (None, or an
    ArrayMeta where a rule reads the shape); constants stay (pictures show them, and they cost
    no memory here)."""
    for i in plan.unread:
        data = datas[i]
        if parents[i] is not None and data.size > KEEP_UNREAD_UP_TO:
            datas[i] = ArrayMeta(data) if plan.inputs[i] == META else None
    if plan.out != READ and out.size > KEEP_UNREAD_UP_TO:
        out = ArrayMeta(out) if plan.out == META else None
    return datas, out
