"""Property-based gradient tests: random expression graphs over the whole op set.

Hypothesis builds a random program (a straight-line list of operations over a pool of values, so
intermediate results are reused and graphs have diamonds), with shapes that broadcast, random
axes (negative ones and keepdims included) and inputs inside each operation's domain. For each
program we check, against an independent NumPy evaluation of the same program:

- the forward values;
- reverse-mode vector-Jacobian products against central finite differences of the NumPy program;
- Hessian-vector products from ``create_graph=True`` against central differences of the gradient;
- float32 inputs keep float32 through the forward and the gradients.

A failing program is printed as readable code (``repr(program)``), and hypothesis shrinks it to the
fewest steps that still fail, so the last line of the falsifying example names the broken op.

Budget: a fixed seed (``derandomize``) and a few hundred examples in total. Run thousands with
``TINYGRAD_MV_HYPOTHESIS_PROFILE=nightly python -m pytest tests/test_property.py``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

import tinygrad_mv as tg
from tinygrad_mv import Tensor

# --- budget ------------------------------------------------------------------------------------
_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                      HealthCheck.data_too_large])
# CI: the same examples on every run (no example database replaying earlier local failures).
settings.register_profile("tinygrad_mv.ci", derandomize=True, database=None, **_COMMON)
settings.register_profile("tinygrad_mv.nightly", derandomize=False, **_COMMON)
PROFILE = os.environ.get("TINYGRAD_MV_HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "nightly"):
    raise ValueError(f"TINYGRAD_MV_HYPOTHESIS_PROFILE={PROFILE!r}: expected 'ci' or 'nightly'")
_SCALE = 20 if PROFILE == "nightly" else 1
MAX_STEPS = 12 if PROFILE == "nightly" else 8
LONG_STEPS = 40 if PROFILE == "nightly" else 25


def budget(examples: int) -> settings:
    """Settings for one property: ``examples`` in CI, twenty times more in the nightly profile."""
    return settings(settings.get_profile(f"tinygrad_mv.{PROFILE}"),
                    max_examples=examples * _SCALE)


# Keep sizes small: finite differences cost two evaluations per input element.
MAX_SIZE = 36
MAX_NDIM = 4
KINK_MARGIN = 1e-2   # distance kept from kinks (abs, relu, clip, max ties, where conditions)
POSITIVE_FLOOR = 5e-2  # smallest input of log, sqrt, pow bases and denominators
MAGNITUDE_CAP = 1e3  # larger intermediates make finite differences meaningless


class Reject(Exception):
    """The program left an operation's domain at the sampled point: not a valid example."""


@dataclass
class Var:
    name: str
    shape: tuple
    positive: bool  # known positive by construction (for log, sqrt, pow bases)


@dataclass
class Step:
    out: str
    op: str
    args: tuple  # names of pool values (str) or constants (float / np.ndarray)
    params: dict
    text: str


@dataclass
class Program:
    leaves: list = field(default_factory=list)     # (name, shape, positive)
    constants: dict = field(default_factory=dict)  # name -> np.ndarray
    steps: list = field(default_factory=list)
    seed: int = 0

    @property
    def output(self) -> str:
        return self.steps[-1].out

    def __repr__(self) -> str:
        lines = [f"# seed={self.seed}"]
        for name, shape, positive in self.leaves:
            lines.append(f"{name} = leaf{shape}{'  # positive' if positive else ''}")
        for name, value in self.constants.items():
            lines.append(f"{name} = constant{value.shape}")
        lines += [s.text for s in self.steps]
        return "\n" + "\n".join(lines)

    def values(self, dtype: Any = np.float64) -> dict:
        """Leaf values from the seed, away from zero (the kink of abs and relu) and O(1)."""
        rng = np.random.default_rng(self.seed)
        out = {}
        for name, shape, positive in self.leaves:
            magnitude = rng.uniform(0.3, 1.5, size=shape)
            sign = 1.0 if positive else rng.choice([-1.0, 1.0], size=shape)
            out[name] = np.asarray(magnitude * sign, dtype=dtype)
        return out


# --- the op table: one entry per operation, a tinygrad_mv and a NumPy implementation ----------

def _np_max_check(x: np.ndarray, axis: Any, **_: Any) -> None:
    """No near-ties among the extreme values of a max/min reduction."""
    axes = tuple(range(x.ndim)) if axis is None else (
        (axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(a % x.ndim for a in axes)
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    flat = np.sort(moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,)), axis=-1)
    if flat.shape[-1] > 1:
        if np.min(flat[..., -1] - flat[..., -2]) < KINK_MARGIN:
            raise Reject
        if np.min(flat[..., 1] - flat[..., 0]) < KINK_MARGIN:
            raise Reject


def _away(x: np.ndarray, point: float) -> None:
    if np.min(np.abs(np.asarray(x) - point)) < KINK_MARGIN:
        raise Reject


def _at_least(x: Any, floor: float) -> None:
    if np.min(x) < floor:
        raise Reject


def _positive(x: Any) -> None:
    _at_least(x, POSITIVE_FLOOR)


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    # Straightforward formula: values are capped, so no overflow in the oracle.
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.log1p(np.exp(-x))


def _np_linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = np.matmul(x, w.T)
    return y if b is None else y + b


@dataclass
class OpSpec:
    tg: Callable
    np: Callable
    check: Callable | None = None  # raises Reject outside the domain (at the sampled point)


def _unary(tg_fn: Callable, np_fn: Callable, check: Callable | None = None) -> OpSpec:
    return OpSpec(tg_fn, np_fn, check)


OPS: dict[str, OpSpec] = {
    "neg": _unary(lambda a: -a, np.negative),
    "exp": _unary(tg.exp, np.exp),
    "log": _unary(tg.log, np.log, _positive),
    "sqrt": _unary(tg.sqrt, np.sqrt, _positive),
    "sin": _unary(tg.sin, np.sin),
    "cos": _unary(tg.cos, np.cos),
    "tan": _unary(tg.tan, np.tan, lambda x: _at_least(np.abs(np.cos(x)), 0.2)),
    "tanh": _unary(lambda a: a.tanh(), np.tanh),
    "sigmoid": _unary(tg.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "relu": _unary(tg.relu, lambda x: np.maximum(x, 0), lambda x: _away(x, 0.0)),
    "abs": _unary(lambda a: abs(a), np.abs, lambda x: _away(x, 0.0)),
    "square": _unary(tg.square, np.square),
    "clip": OpSpec(lambda a, lo, hi: a.clip(lo, hi), lambda x, lo, hi: np.clip(x, lo, hi),
                   lambda x, lo, hi: (_away(x, lo) if lo is not None else None,
                                      _away(x, hi) if hi is not None else None)),
    "add": OpSpec(lambda a, b: a + b, np.add),
    "sub": OpSpec(lambda a, b: a - b, np.subtract),
    "mul": OpSpec(lambda a, b: a * b, np.multiply),
    "div": OpSpec(lambda a, b: a / b, np.true_divide,
                  lambda a, b: _at_least(np.abs(b), POSITIVE_FLOOR)),
    "pow": OpSpec(lambda a, b: a ** b, np.power, lambda a, b: _positive(a)),
    "pow_int": OpSpec(lambda a, b: a ** b, np.power),  # integer exponent, any base
    "maximum": OpSpec(tg.maximum, np.maximum, lambda a, b: _away(np.subtract(a, b), 0.0)),
    "minimum": OpSpec(tg.minimum, np.minimum, lambda a, b: _away(np.subtract(a, b), 0.0)),
    "where": OpSpec(lambda c, a, b: tg.where(c > 0, a, b),
                    lambda c, a, b: np.where(c > 0, a, b), lambda c, a, b: _away(c, 0.0)),
    "sum": OpSpec(lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims), np.sum),
    "mean": OpSpec(lambda a, axis, keepdims: tg.mean(a, axis=axis, keepdims=keepdims), np.mean),
    "max": OpSpec(lambda a, axis, keepdims: a.max(axis=axis, keepdims=keepdims), np.max,
                  lambda x, axis, keepdims: _np_max_check(x, axis)),
    "min": OpSpec(lambda a, axis, keepdims: tg.min(a, axis=axis, keepdims=keepdims), np.min,
                  lambda x, axis, keepdims: _np_max_check(x, axis)),
    "logsumexp": OpSpec(tg.logsumexp, _np_logsumexp),
    "softmax": OpSpec(lambda a, axis: tg.softmax(a, axis=axis), _np_softmax),
    "log_softmax": OpSpec(lambda a, axis: tg.log_softmax(a, axis=axis),
                          lambda x, axis: np.log(_np_softmax(x, axis))),
    "reshape": OpSpec(lambda a, shape: a.reshape(*shape), lambda x, shape: np.reshape(x, shape)),
    "flatten": OpSpec(lambda a: a.flatten(), np.ravel),
    "transpose": OpSpec(lambda a, axes: a.transpose(tuple(axes)), np.transpose),
    "T": OpSpec(lambda a: a.T, lambda x: x.T),
    "swapaxes": OpSpec(lambda a, a1, a2: a.swapaxes(a1, a2), np.swapaxes),
    "squeeze": OpSpec(lambda a, axis: a.squeeze(axis), lambda x, axis: np.squeeze(x, axis)),
    "unsqueeze": OpSpec(lambda a, axis: tg.unsqueeze(a, axis), np.expand_dims),
    "broadcast_to": OpSpec(lambda a, shape: a.broadcast_to(shape), np.broadcast_to),
    "getitem": OpSpec(lambda a, index: a[index], lambda x, index: x[index]),
    "concatenate": OpSpec(lambda *xs, axis: tg.concatenate(list(xs), axis=axis),
                          lambda *xs, axis: np.concatenate(xs, axis=axis)),
    "stack": OpSpec(lambda *xs, axis: tg.stack(list(xs), axis=axis),
                    lambda *xs, axis: np.stack(xs, axis=axis)),
    "matmul": OpSpec(lambda a, b: a @ b, np.matmul),
    "dot": OpSpec(tg.dot, np.dot),
    "outer": OpSpec(tg.outer, np.outer),
    "linear": OpSpec(tg.linear, _np_linear),
}
# NumPy spellings on Tensors (__array_ufunc__ / __array_function__) must record the same graph.
OPS.update({
    "np.exp": OpSpec(lambda a: np.exp(a), np.exp),
    "np.sin": OpSpec(lambda a: np.sin(a), np.sin),
    "np.tanh": OpSpec(lambda a: np.tanh(a), np.tanh),
    "np.square": OpSpec(lambda a: np.square(a), np.square),
    "np.maximum": OpSpec(lambda a, b: np.maximum(a, b), np.maximum,
                         lambda a, b: _away(np.subtract(a, b), 0.0)),
    "np.multiply": OpSpec(lambda a, b: np.multiply(a, b), np.multiply),
    "np.sum": OpSpec(lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims), np.sum),
    "np.mean": OpSpec(lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims),
                      np.mean),
    "np.transpose": OpSpec(lambda a: np.transpose(a), np.transpose),
})
if hasattr(tg, "log_sigmoid"):
    OPS["log_sigmoid"] = _unary(tg.log_sigmoid, _np_log_sigmoid)


# --- generating programs ----------------------------------------------------------------------

class Builder:
    """Accumulates a program while hypothesis draws choices."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw
        self.program = Program()
        self.pool: list[Var] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def leaf(self, shape: tuple, positive: bool = False) -> Var:
        var = Var(self.fresh("x"), tuple(shape), positive)
        self.program.leaves.append((var.name, var.shape, positive))
        self.pool.append(var)
        return var

    def constant(self, shape: tuple) -> str:
        name = self.fresh("k")
        rng = np.random.default_rng(self.count)
        self.program.constants[name] = rng.uniform(-1.5, 1.5, size=shape)
        return name

    def pick(self, accept: Callable[[Var], bool] = lambda v: True) -> Var | None:
        """A pool value, the most recent first (shrinks toward chains), reuse allowed."""
        options = [v for v in reversed(self.pool) if accept(v)]
        if not options:
            return None
        return options[self.draw(st.integers(0, len(options) - 1))]

    def step(self, op: str, args: tuple, params: dict, text: str,
             positive: bool = False) -> Var | None:
        shape = _shape_of(self.program, self.pool, op, args, params)
        if shape is None or int(np.prod(shape)) > MAX_SIZE or len(shape) > MAX_NDIM:
            return None
        if int(np.prod(shape)) == 0:
            return None
        name = self.fresh("v")
        self.program.steps.append(Step(name, op, args, params, f"{name} = {text}"))
        var = Var(name, shape, positive)
        self.pool.append(var)
        return var

    def positive_var(self) -> Var:
        """A value known to be positive, making one with exp() when the pool has none."""
        var = self.pick(lambda v: v.positive) if self.draw(st.booleans()) else None
        if var is not None:
            return var
        base = self.pick()
        made = self.step("exp", (base.name,), {}, f"tg.exp({base.name})", positive=True)
        return made if made is not None else self.leaf(base.shape, positive=True)


def _shape_of(program: Program, pool: list, op: str, args: tuple, params: dict) -> tuple | None:
    """The result shape, from NumPy on placeholder values (None when NumPy refuses)."""
    shapes = {v.name: v.shape for v in pool}
    placeholders = []
    for a in args:
        if isinstance(a, str):
            # distinct values: a square placeholder is an invertible matrix
            shape = shapes[a] if a in shapes else program.constants[a].shape
            placeholders.append(np.random.default_rng(0).uniform(0.5, 1.0, shape))
        else:
            placeholders.append(a)
    try:
        with np.errstate(all="ignore"):
            return np.shape(OPS[op].np(*placeholders, **params))
    except (ValueError, IndexError, TypeError):
        return None


def _broadcastable_shape(draw: Callable, shape: tuple) -> tuple:
    """A shape that broadcasts against ``shape``: leading axes dropped, some set to 1, maybe one
    new leading axis."""
    drop = draw(st.integers(0, len(shape)))
    out = [n if not draw(st.booleans()) else 1 for n in shape[drop:]]
    if len(shape) < MAX_NDIM and draw(st.integers(0, 4)) == 0:
        out = [2] + out
    return tuple(out)


def _second_operand(b: Builder, first: Var) -> Any:
    """Another pool value that broadcasts with ``first``, a new leaf, a number or a constant."""
    kind = b.draw(st.sampled_from(["pool", "leaf", "number", "constant"]))
    if kind == "pool":
        def ok(v: Var) -> bool:
            try:
                return len(np.broadcast_shapes(v.shape, first.shape)) <= MAX_NDIM
            except ValueError:
                return False
        other = b.pick(ok)
        if other is not None:
            return other.name
    if kind == "number":
        return b.draw(st.sampled_from([0.5, 2.0, -1.5, 3.0]))
    shape = _broadcastable_shape(b.draw, first.shape)
    if kind == "constant":
        return b.constant(shape)
    return b.leaf(shape).name


def _axis_choice(draw: Callable, ndim: int, allow_tuple: bool = True) -> Any:
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["int", "none", "tuple"] if allow_tuple else ["int"]))
    if kind == "none":
        return None
    if kind == "tuple" and ndim >= 2:
        first, second = draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2,
                                      unique=True))
        return (first - ndim if draw(st.booleans()) else first, second)
    axis = draw(st.integers(0, ndim - 1))
    return axis - ndim if draw(st.booleans()) else axis  # negative axes too


def _fmt(arg: Any) -> str:
    return arg if isinstance(arg, str) else repr(arg)


UNARY = ["neg", "exp", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "square"] + (
    ["log_sigmoid"] if "log_sigmoid" in OPS else [])
BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _gen_unary(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(UNARY))
    a = b.pick()
    text = {"neg": f"-{a.name}", "abs": f"abs({a.name})", "tanh": f"{a.name}.tanh()"}.get(
        op, f"tg.{op}({a.name})")
    return b.step(op, (a.name,), {}, text, positive=op in ("exp", "sigmoid") or (
        op == "square" and a.positive))


def _gen_domain_unary(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["log", "sqrt"]))
    a = b.positive_var()
    return b.step(op, (a.name,), {}, f"tg.{op}({a.name})", positive=op == "sqrt")


def _gen_clip(b: Builder) -> Var | None:
    a = b.pick()
    lo, hi = b.draw(st.sampled_from([(-0.5, 0.5), (None, 0.25), (-0.25, None), (0.1, 1.2)]))
    return b.step("clip", (a.name,), {"lo": lo, "hi": hi}, f"{a.name}.clip({lo}, {hi})")


def _gen_binary(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(sorted(BINARY)))
    a = b.pick()
    other = b.positive_var().name if op == "div" and b.draw(st.booleans()) else \
        _second_operand(b, a)
    if op == "div" and not isinstance(other, str) and other == 0:
        return None
    args = (a.name, other)
    if b.draw(st.booleans()) and op != "div":
        args = (other, a.name)  # numbers and constants on the left: reflected operators
    text = f"{_fmt(args[0])} {BINARY[op]} {_fmt(args[1])}"
    positive = op in ("add", "mul") and all(
        isinstance(x, float) and x > 0 or any(v.name == x and v.positive for v in b.pool)
        for x in args)
    return b.step(op, args, {}, text, positive=positive)


def _gen_pow(b: Builder) -> Var | None:
    kind = b.draw(st.sampled_from(["int", "real", "tensor", "number_base"]))
    if kind == "int":
        a = b.pick()
        k = b.draw(st.sampled_from([2, 3, -1]))
        if k < 0:  # 1 / x: keep away from 0
            a = b.positive_var()
        return b.step("pow_int", (a.name, float(k)), {}, f"{a.name} ** {k}", positive=a.positive)
    if kind == "real":
        a = b.positive_var()
        k = b.draw(st.sampled_from([0.5, 1.5, -0.5]))
        return b.step("pow", (a.name, k), {}, f"{a.name} ** {k}", positive=True)
    if kind == "tensor":
        a = b.positive_var()
        e = _second_operand(b, a)
        return b.step("pow", (a.name, e), {}, f"{a.name} ** {_fmt(e)}", positive=True)
    a = b.pick()
    base = b.draw(st.sampled_from([0.5, 2.0]))
    return b.step("pow", (base, a.name), {}, f"{base} ** {a.name}", positive=True)


def _gen_extreme(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["maximum", "minimum"]))
    a = b.pick()
    other = _second_operand(b, a)
    args = (other, a.name) if b.draw(st.booleans()) else (a.name, other)
    return b.step(op, args, {}, f"tg.{op}({_fmt(args[0])}, {_fmt(args[1])})")


def _gen_where(b: Builder) -> Var | None:
    cond = b.pick()
    a = b.pick()
    other = _second_operand(b, a)
    return b.step("where", (cond.name, a.name, other), {},
                  f"tg.where({cond.name} > 0, {a.name}, {_fmt(other)})")


def _gen_reduce(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["sum", "mean", "max", "min", "logsumexp"]))
    a = b.pick()
    axis = _axis_choice(b.draw, len(a.shape))
    keepdims = b.draw(st.booleans())
    text = (f"{a.name}.{op}(axis={axis}, keepdims={keepdims})" if op in ("sum", "max") else
            f"tg.{op}({a.name}, axis={axis}, keepdims={keepdims})")
    return b.step(op, (a.name,), {"axis": axis, "keepdims": keepdims}, text,
                  positive=a.positive and op != "logsumexp")


def _gen_softmax(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["softmax", "log_softmax"]))
    a = b.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    axis = _axis_choice(b.draw, len(a.shape), allow_tuple=False)
    return b.step(op, (a.name,), {"axis": axis}, f"tg.{op}({a.name}, axis={axis})",
                  positive=op == "softmax")


def _gen_shape(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["reshape", "flatten", "transpose", "T", "swapaxes", "squeeze",
                                 "unsqueeze", "broadcast_to"]))
    a = b.pick()
    n, shape = len(a.shape), a.shape
    pos = a.positive
    if op == "reshape":
        size = int(np.prod(shape))
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        d = b.draw(st.sampled_from(divisors))
        new = b.draw(st.sampled_from([(d, -1), (-1, d), (size,), (1, d, size // d)]))
        return b.step(op, (a.name,), {"shape": new}, f"{a.name}.reshape{new}", pos)
    if op == "flatten":
        return b.step(op, (a.name,), {}, f"{a.name}.flatten()", pos)
    if op == "transpose" and n >= 2:
        axes = tuple(b.draw(st.permutations(range(n))))
        return b.step(op, (a.name,), {"axes": axes}, f"{a.name}.transpose{axes}", pos)
    if op == "T":
        return b.step(op, (a.name,), {}, f"{a.name}.T", pos)
    if op == "swapaxes" and n >= 2:
        a1, a2 = b.draw(st.integers(0, n - 1)), b.draw(st.integers(-n, -1))
        return b.step(op, (a.name,), {"a1": a1, "a2": a2}, f"{a.name}.swapaxes({a1}, {a2})", pos)
    if op == "squeeze":
        ones = [i for i, k in enumerate(shape) if k == 1]
        axis = b.draw(st.sampled_from(ones)) - (n if b.draw(st.booleans()) else 0) if (
            ones and b.draw(st.booleans())) else None
        return b.step(op, (a.name,), {"axis": axis}, f"{a.name}.squeeze({axis})", pos)
    if op == "unsqueeze":
        axis = b.draw(st.integers(-(n + 1), n))
        return b.step(op, (a.name,), {"axis": axis}, f"tg.unsqueeze({a.name}, {axis})", pos)
    if op == "broadcast_to":
        new = tuple(2 if k == 1 and b.draw(st.booleans()) else k for k in shape)
        if b.draw(st.booleans()):
            new = (2,) + new
        return b.step(op, (a.name,), {"shape": new}, f"{a.name}.broadcast_to({new})", pos)
    return None


def _gen_index(b: Builder) -> Var | None:
    a = b.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    first = a.shape[0]
    kind = b.draw(st.sampled_from(["int", "slice", "reverse", "array", "mask", "none"]))
    if kind == "int":
        i = b.draw(st.integers(-first, first - 1))
        index, text = i, f"{i}"
    elif kind == "slice":
        index, text = slice(1, None), "1:"
        if first < 2:
            index, text = slice(None, 1), ":1"
    elif kind == "reverse":
        index, text = (Ellipsis, slice(None, None, -1)), "..., ::-1"
    elif kind == "array":  # repeated indices must accumulate their gradients
        picks = b.draw(st.lists(st.integers(0, first - 1), min_size=1, max_size=4))
        index, text = np.array(picks), f"np.array({picks})"
    elif kind == "mask":
        rng = np.random.default_rng(len(b.pool))
        mask = rng.random(a.shape) < 0.6
        mask.flat[0] = True
        index, text = mask, f"<bool mask {mask.astype(int).tolist()}>"
    else:
        index, text = (None, Ellipsis), "None, ..."
    return b.step("getitem", (a.name,), {"index": index}, f"{a.name}[{text}]", a.positive)


def _gen_join(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["concatenate", "stack"]))
    a = b.pick(lambda v: len(v.shape) >= 1) if op == "concatenate" else b.pick()
    if a is None:
        return None
    partner = b.pick(lambda v: v.shape == a.shape)  # may be a itself: a diamond
    if partner is None:
        partner = a
    extra = b.leaf(a.shape).name if b.draw(st.booleans()) else None
    names = (a.name, partner.name) + ((extra,) if extra else ())
    ndim = len(a.shape) + (op == "stack")
    axis = b.draw(st.integers(-ndim, ndim - 1))
    return b.step(op, names, {"axis": axis}, f"tg.{op}([{', '.join(names)}], axis={axis})",
                  a.positive and partner.positive and extra is None)


def _gen_linalg(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["matmul", "dot", "outer", "linear"]))
    a = b.pick(lambda v: 1 <= len(v.shape) <= (2 if op == "dot" else MAX_NDIM))
    if a is None:
        return None
    inner = a.shape[-1]
    k = b.draw(st.integers(1, 3))
    if op == "outer":
        other = b.leaf((k,)).name
        return b.step(op, (a.name, other), {}, f"tg.outer({a.name}, {other})")
    if op == "linear":
        w = b.leaf((k, inner)).name
        bias = b.leaf((k,)).name if b.draw(st.booleans()) else None
        args = (a.name, w) + ((bias,) if bias else ())
        return b.step(op, args, {}, f"tg.linear({', '.join(args)})")
    shape = b.draw(st.sampled_from([(inner,), (inner, k), (2, inner, k)]))
    if op == "dot" and len(shape) > 2:
        shape = (inner, k)
    other = b.leaf(shape).name
    if b.draw(st.booleans()) and len(shape) >= 2 and len(a.shape) >= 2:
        # the other order: other @ a^T-like, with a on the right
        other = b.leaf((k, a.shape[-2])).name
        args = (other, a.name)
    else:
        args = (a.name, other)
    text = f"{args[0]} @ {args[1]}" if op == "matmul" else f"tg.dot({args[0]}, {args[1]})"
    return b.step(op, args, {}, text)


def _gen_numpy_spelling(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["np.exp", "np.sin", "np.tanh", "np.square", "np.maximum",
                                 "np.multiply", "np.sum", "np.mean", "np.transpose"]))
    a = b.pick()
    if op in ("np.maximum", "np.multiply"):
        other = _second_operand(b, a)
        args = (other, a.name) if b.draw(st.booleans()) else (a.name, other)
        return b.step(op, args, {}, f"{op}({_fmt(args[0])}, {_fmt(args[1])})")
    if op in ("np.sum", "np.mean"):
        axis = _axis_choice(b.draw, len(a.shape))
        keepdims = b.draw(st.booleans())
        return b.step(op, (a.name,), {"axis": axis, "keepdims": keepdims},
                      f"{op}({a.name}, axis={axis}, keepdims={keepdims})", a.positive)
    return b.step(op, (a.name,), {}, f"{op}({a.name})", positive=op == "np.exp")


GENERATORS = [_gen_binary, _gen_unary, _gen_reduce, _gen_shape, _gen_domain_unary, _gen_clip,
              _gen_pow, _gen_extreme, _gen_where, _gen_softmax, _gen_index, _gen_join,
              _gen_linalg, _gen_numpy_spelling]


@st.composite
def programs(draw: Callable, max_steps: int = MAX_STEPS, min_steps: int = 1,
             generators: list | None = None) -> Program:
    b = Builder(draw)
    b.program.seed = draw(st.integers(0, 2**16))
    for _ in range(draw(st.integers(1, 2))):
        ndim = draw(st.integers(0, 3))
        shape = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
        b.leaf(shape, positive=draw(st.booleans()))
    # A step may be refused (a result too large): retry until the drawn length is reached.
    target = draw(st.sampled_from(range(min_steps, max_steps + 1)))
    for _ in range(4 * target):
        if len(b.program.steps) >= target:
            break
        gen = draw(st.sampled_from(generators or GENERATORS))
        gen(b)
    assume(b.program.steps)
    return b.program


# --- evaluating programs ----------------------------------------------------------------------

def run_numpy(program: Program, values: dict, check: bool = False) -> np.ndarray:
    """The program in plain NumPy: the independent oracle. With ``check``, raise Reject when an
    operation's input is near a kink or outside its domain, or a value is too large."""
    env = dict(values)
    env.update(program.constants)
    with np.errstate(all="raise"):
        for s in program.steps:
            args = [env[a] if isinstance(a, str) else a for a in s.args]
            spec = OPS[s.op]
            if check and spec.check is not None:
                spec.check(*args, **s.params)
            try:
                env[s.out] = np.asarray(spec.np(*args, **s.params), dtype=np.float64)
            except FloatingPointError as exc:
                if check:
                    raise Reject from exc
                raise
            if check and not np.all(np.abs(env[s.out]) <= MAGNITUDE_CAP):
                raise Reject
    return env[program.output]


def run_tg(program: Program, tensors: dict, const_dtype: Any = np.float64) -> Tensor:
    env: dict[str, Any] = dict(tensors)
    env.update({k: v.astype(const_dtype) for k, v in program.constants.items()})
    for s in program.steps:
        args = [env[a] if isinstance(a, str) else a for a in s.args]
        env[s.out] = OPS[s.op].tg(*args, **s.params)
    return env[program.output]


def _leaf_names(program: Program) -> list[str]:
    return [name for name, _, _ in program.leaves]


def _valid_point(program: Program) -> tuple[dict, np.ndarray, np.ndarray]:
    """Leaf values, the NumPy output and output weights, or reject the example."""
    values = program.values()
    try:
        out = run_numpy(program, values, check=True)
    except Reject:
        assume(False)
    weights = np.random.default_rng(program.seed + 1).uniform(0.5, 1.5, size=out.shape)
    return values, out, weights


def numerical_vjp(program: Program, values: dict, weights: np.ndarray,
                  eps: float = 1e-6) -> dict:
    """Central differences of sum(weights * program(values)) for every leaf element."""
    result = {}
    for name in _leaf_names(program):
        base = values[name]
        grad = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            shifted = dict(values)
            for sign in (1, -1):
                moved = base.copy()
                moved[idx] += sign * eps
                shifted[name] = moved
                grad[idx] += sign * np.sum(weights * run_numpy(program, shifted))
            grad[idx] /= 2 * eps
        result[name] = grad
    return result


def reverse_vjp(program: Program, values: dict, weights: np.ndarray,
                create_graph: bool = False, dtype: Any = np.float64) -> tuple[Tensor, dict, dict]:
    tensors = {n: Tensor(values[n].astype(dtype), requires_grad=True)
               for n in _leaf_names(program)}
    out = run_tg(program, tensors, const_dtype=dtype)
    assert out.requires_grad, "every program value depends on a leaf"
    grads = tg.autograd.grad(out, list(tensors.values()), grad_outputs=weights.astype(dtype),
                             create_graph=create_graph, allow_unused=True)
    found = {n: (g if g is not None else Tensor(np.zeros(values[n].shape, dtype=dtype)))
             for n, g in zip(tensors, grads)}
    return out, tensors, found


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str, rtol: float,
                 atol: float) -> None:
    scale = 1.0 + np.max(np.abs(expected), initial=0.0)
    err = np.abs(actual - expected) - rtol * np.abs(expected)
    worst = np.unravel_index(np.argmax(err), err.shape) if err.size else ()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(err <= atol * scale), (
        f"{what}: worst entry {worst}: got {actual[worst]!r}, expected {expected[worst]!r}")


# --- the properties ---------------------------------------------------------------------------

@budget(250)
@given(programs())
def test_reverse_mode_matches_finite_differences(program: Program) -> None:
    note(repr(program))
    check_first_order(program)


@budget(30)
@given(programs(max_steps=LONG_STEPS, min_steps=LONG_STEPS // 2))
def test_long_programs_match_finite_differences(program: Program) -> None:
    note(repr(program))
    check_first_order(program)


def check_first_order(program: Program) -> None:
    values, expected_out, weights = _valid_point(program)
    for s in program.steps:  # op frequencies, shown by --hypothesis-show-statistics
        event(f"op {s.op}")
    event(f"steps {len(program.steps)}")
    out, _, grads = reverse_vjp(program, values, weights)
    assert_close(out.data, expected_out, "forward value", rtol=1e-9, atol=1e-12)
    numerical = numerical_vjp(program, values, weights)
    for name in _leaf_names(program):
        assert grads[name].shape == values[name].shape, f"gradient of {name} has the wrong shape"
        assert_close(grads[name].data, numerical[name], f"d(output)/d({name})", rtol=1e-4,
                     atol=1e-6)


def _flat_gradient(program: Program, values: dict, weights: np.ndarray) -> np.ndarray:
    _, _, grads = reverse_vjp(program, values, weights)
    return np.concatenate([grads[n].data.ravel() for n in _leaf_names(program)])


@budget(120)
@given(programs(max_steps=MAX_STEPS - 2))
def test_second_derivatives_match_finite_differences_of_the_gradient(program: Program) -> None:
    note(repr(program))
    check_second_order(program)


def check_second_order(program: Program) -> None:
    values, _, weights = _valid_point(program)
    names = _leaf_names(program)
    rng = np.random.default_rng(program.seed + 2)
    direction = {n: rng.uniform(-1, 1, size=values[n].shape) for n in names}
    _, tensors, grads = reverse_vjp(program, values, weights, create_graph=True)
    # H u as the gradient of (grad . u): never forms the Hessian.
    total = sum(((grads[n] * direction[n]).sum() for n in names), Tensor(0.0))
    if total.requires_grad:
        hu = tg.autograd.grad(total, [tensors[n] for n in names], allow_unused=True)
        analytic = np.concatenate([
            (h.data if h is not None else np.zeros(values[n].shape)).ravel()
            for n, h in zip(names, hu)])
    else:  # the gradient does not depend on the inputs: the function is linear
        analytic = np.zeros(sum(values[n].size for n in names))
    eps = 1e-5
    plus = _flat_gradient(program, {n: values[n] + eps * direction[n] for n in names}, weights)
    minus = _flat_gradient(program, {n: values[n] - eps * direction[n] for n in names}, weights)
    assert_close(analytic, (plus - minus) / (2 * eps), "Hessian-vector product", rtol=1e-3,
                 atol=1e-5)


@budget(80)
@given(programs())
def test_float32_stays_float32_and_agrees_with_float64(program: Program) -> None:
    values, expected_out, weights = _valid_point(program)
    note(repr(program))
    out64, _, grads64 = reverse_vjp(program, values, weights)
    with np.errstate(over="ignore", under="ignore"):
        out32, _, grads32 = reverse_vjp(program, values, weights, dtype=np.float32)
    assert out32.dtype == np.float32, f"output became {out32.dtype}"
    assert_close(out32.data.astype(np.float64), expected_out, "float32 forward", rtol=1e-3,
                 atol=1e-4)
    for name in _leaf_names(program):
        assert grads32[name].dtype == np.float32, f"gradient of {name} became float64"
        assert_close(grads32[name].data.astype(np.float64), grads64[name].data,
                     f"float32 d(output)/d({name})", rtol=1e-2, atol=1e-3)


@budget(40)
@given(programs(max_steps=MAX_STEPS - 2))
def test_library_gradcheck_and_gradgradcheck_agree(program: Program) -> None:
    # The library's own checkers (tg.gradcheck, tg.gradgradcheck) on the same random programs:
    # a second, independent implementation of the finite-difference comparison.
    if not hasattr(tg, "gradgradcheck"):
        pytest.skip("tg.gradcheck / tg.gradgradcheck are not available")
    values, _, _ = _valid_point(program)
    note(repr(program))
    names = _leaf_names(program)

    def f(*tensors: Tensor) -> Tensor:
        return run_tg(program, dict(zip(names, tensors)))

    inputs = tuple(Tensor(values[n], requires_grad=True) for n in names)
    assert tg.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    assert tg.gradgradcheck(f, inputs, eps=1e-5, atol=1e-4, rtol=1e-3)


# --- the suite itself can fail, and shrinking points at the broken op -------------------------

def _gradient_is_wrong(program: Program) -> bool:
    try:
        values, _, weights = _valid_point(program)
    except UnsatisfiedAssumption:
        return False
    _, _, grads = reverse_vjp(program, values, weights)
    numerical = numerical_vjp(program, values, weights)
    return any(not np.allclose(grads[n].data, numerical[n], rtol=1e-4, atol=1e-6)
               for n in _leaf_names(program))


def test_a_wrong_rule_is_found_and_shrunk_to_its_op(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import find

    # A cosine whose derivative is off by 1%: the kind of slip a gradient table could hide.
    broken = tg.autograd.primitive("cos", np.cos, lambda g, out, x: -g * np.sin(x) * 1.01)
    monkeypatch.setitem(OPS, "cos", _unary(broken, np.cos))
    minimal = find(programs(), _gradient_is_wrong,
                   settings=settings(settings.get_profile("tinygrad_mv.ci"), max_examples=400))
    # Shrunk to a few steps ending at the broken op (the shrinker may leave a linear step or two
    # in front of it).
    assert minimal.steps[-1].op == "cos" and len(minimal.steps) <= 3, repr(minimal)
    assert "tg.cos(" in repr(minimal).splitlines()[-1]


def _hessian_is_wrong(program: Program) -> bool:
    try:
        check_second_order(program)
    except UnsatisfiedAssumption:
        return False
    except AssertionError:
        return True
    return False


def test_a_wrong_second_derivative_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import find

    # Right first derivative, but cos(x) read as a constant: the second derivative is lost, the
    # classic slip of a rule that detaches what it should differentiate.
    broken = tg.autograd.primitive(
        "sin", np.sin, lambda g, out, x: g * np.cos(x.data if isinstance(x, Tensor) else x))
    monkeypatch.setitem(OPS, "sin", _unary(broken, np.sin))
    minimal = find(programs(), _hessian_is_wrong,
                   settings=settings(settings.get_profile("tinygrad_mv.ci"), max_examples=400))
    assert minimal.steps[-1].op == "sin" and len(minimal.steps) <= 3, repr(minimal)


def test_program_repr_reads_as_code() -> None:
    b = Builder(lambda strategy: 0)
    x = b.leaf((2, 3))
    b.step("sum", (x.name,), {"axis": -1, "keepdims": True},
           f"{x.name}.sum(axis=-1, keepdims=True)")
    text = repr(b.program)
    assert "x1 = leaf(2, 3)" in text and "v2 = x1.sum(axis=-1, keepdims=True)" in text
