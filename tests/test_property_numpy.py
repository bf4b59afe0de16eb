"""Property-based tests over the NumPy-coverage operations, written as NumPy code on Tensors.

The random programs of test_property.py, drawn from the whole op set: the core operations and
every NumPy function and ufunc of the contract's "NumPy coverage" section, spelled ``np.NAME(t)``
(``np.linalg.NAME(t)``) so that NumPy's own dispatch is exercised. NumPy on plain arrays is the
oracle for values; central differences of it are the oracle for reverse-mode gradients,
forward-mode tangents and Hessian-vector products. Inputs stay away from kinks, jumps and
singular matrices (an example that leaves an operation's domain is rejected, not failed).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

import tinygrad_mv as tg
from test_property import (
    GENERATORS, KINK_MARGIN, MAX_NDIM, OPS, POSITIVE_FLOOR, Builder, OpSpec, Program, Reject, Var,
    _at_least, _away, _axis_choice, _fmt, _leaf_names, _np_max_check, _positive, _second_operand,
    _valid_point, budget, check_first_order, check_second_order, programs, run_numpy, run_tg,
)


def _np(name: str) -> Callable:
    """The NumPy function ``name`` ("cosh", "linalg.det"), applied to Tensors and arrays alike."""
    fn: Any = np
    for part in name.split("."):
        fn = getattr(fn, part)
    return fn


def _spec(name: str, check: Callable | None = None, **fixed: Any) -> OpSpec:
    fn = _np(name)
    call = (lambda *a, **k: fn(*a, **fixed, **k)) if fixed else fn
    return OpSpec(call, call, check)


def _off_integers(x: Any, shift: float = 0.0) -> None:
    """Away from the jumps of floor/ceil/trunc (integers) or rint (half-integers)."""
    _away(np.abs(np.asarray(x) + shift - np.round(np.asarray(x) + shift)), 0.0)


def _no_near_ties(x: np.ndarray, axis: int) -> None:
    ordered = np.sort(x, axis=axis)
    if ordered.shape[axis] > 1 and np.min(np.diff(ordered, axis=axis)) < KINK_MARGIN:
        raise Reject


def _well_conditioned(a: np.ndarray) -> None:
    if np.max(np.linalg.cond(a)) > 30:
        raise Reject


def _remainder_check(x: Any, y: Any) -> None:
    """Divisors away from 0 and dividends away from the jumps at multiples of the divisor."""
    _at_least(np.abs(y), 0.3)
    ratio = np.asarray(x) / np.asarray(y)
    _away((ratio - np.round(ratio)) * np.abs(y), 0.0)


SMOOTH_UNARY = ["exp2", "expm1", "arctan", "sinh", "cosh", "arcsinh", "deg2rad", "rad2deg",
                "degrees", "radians", "positive"]
AWAY_FROM_ZERO = ["cbrt", "reciprocal", "fabs"]
POSITIVE_DOMAIN = ["log2", "log10", "log1p"]
UNIT_DOMAIN = ["arcsin", "arccos", "arctanh"]  # |x| < 1: applied to 0.9 tanh(x)
BINARY_UFUNCS = ["arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "copysign",
                 "mod", "fmod", "float_power"]
ROUNDING = ["sign", "floor", "ceil", "trunc", "rint"]

NUMPY_OPS: dict[str, OpSpec] = {}
NUMPY_OPS.update({f"np.{n}": _spec(n) for n in SMOOTH_UNARY})
NUMPY_OPS.update({f"np.{n}": _spec(n, lambda x: _at_least(np.abs(x), POSITIVE_FLOOR))
                  for n in AWAY_FROM_ZERO})
NUMPY_OPS.update({f"np.{n}": _spec(n, _positive) for n in POSITIVE_DOMAIN})
NUMPY_OPS.update({f"np.{n}": _spec(n, lambda x: _at_least(1 - np.abs(x), 0.05))
                  for n in UNIT_DOMAIN})
NUMPY_OPS["np.arccosh"] = _spec("arccosh", lambda x: _at_least(np.asarray(x) - 1, 0.05))
NUMPY_OPS.update({
    "np.arctan2": _spec("arctan2", lambda y, x: _at_least(np.square(y) + np.square(x), 0.1)),
    "np.hypot": _spec("hypot", lambda x, y: _at_least(np.square(x) + np.square(y), 0.1)),
    "np.fmax": _spec("fmax", lambda a, b: _away(np.subtract(a, b), 0.0)),
    "np.fmin": _spec("fmin", lambda a, b: _away(np.subtract(a, b), 0.0)),
    "np.logaddexp": _spec("logaddexp"),
    "np.logaddexp2": _spec("logaddexp2"),
    "np.copysign": _spec("copysign", lambda x, y: (_away(x, 0.0), _away(y, 0.0))),
    "np.mod": _spec("mod", _remainder_check),
    "np.fmod": _spec("fmod", _remainder_check),
    "np.float_power": _spec("float_power", lambda x, y: _positive(x)),
    "np.sign": _spec("sign", lambda x: _away(x, 0.0)),
    "np.floor": _spec("floor", _off_integers),
    "np.ceil": _spec("ceil", _off_integers),
    "np.trunc": _spec("trunc", _off_integers),
    "np.rint": _spec("rint", lambda x: _off_integers(x, 0.5)),
    # statistics
    "np.prod": _spec("prod"),
    "np.cumsum": _spec("cumsum"),
    "np.cumprod": _spec("cumprod"),
    "np.var": _spec("var"),
    "np.std": _spec("std", lambda x, **k: _at_least(np.var(x, **k), 1e-2)),
    "np.average": _spec("average"),
    "np.sort": _spec("sort", lambda x, axis: _no_near_ties(x, axis)),
    "np.diff": _spec("diff"),
    # arranging
    "np.tile": _spec("tile"), "np.repeat": _spec("repeat"), "np.flip": _spec("flip"),
    "np.roll": _spec("roll"), "np.pad": _spec("pad"), "np.expand_dims": _spec("expand_dims"),
    "np.moveaxis": _spec("moveaxis"), "np.swapaxes": _spec("swapaxes"),
    "np.triu": _spec("triu"), "np.tril": _spec("tril"), "np.diag": _spec("diag"),
    "np.trace": _spec("trace"),
    # products
    "np.einsum": OpSpec(lambda *xs, subscripts: np.einsum(subscripts, *xs),
                        lambda *xs, subscripts: np.einsum(subscripts, *xs)),
    "np.tensordot": _spec("tensordot"), "np.kron": _spec("kron"),
    # linear algebra
    "np.linalg.norm": _spec("linalg.norm"),
    "np.linalg.det": _spec("linalg.det", _well_conditioned),
    "np.linalg.slogdet[1]": OpSpec(lambda a: np.linalg.slogdet(a)[1],
                                   lambda a: np.linalg.slogdet(a)[1], _well_conditioned),
    "np.linalg.inv": _spec("linalg.inv", _well_conditioned),
    "np.linalg.solve": _spec("linalg.solve", lambda a, b: _well_conditioned(a)),
})


def _norm_check(x: np.ndarray, ord: Any = None, axis: Any = None, keepdims: bool = False) -> None:
    _at_least(np.linalg.norm(x, ord=ord, axis=axis), 0.1)
    if ord in (1, np.inf):
        _away(x, 0.0)  # |x| has a kink at 0
    if ord == np.inf:
        _np_max_check(np.abs(x), axis)


NUMPY_OPS["np.linalg.norm"] = OpSpec(np.linalg.norm, np.linalg.norm, _norm_check)
OPS.update(NUMPY_OPS)  # run_numpy / run_tg look operations up by name in the shared table


def _call(b: Builder, op: str, args: tuple, params: dict | None = None,
          positive: bool = False) -> Var | None:
    params = params or {}
    shown = ", ".join([_fmt(a) for a in args] + [f"{k}={v!r}" for k, v in params.items()])
    name = op if not op.endswith("]") else op.split("[")[0]
    suffix = op[len(name):]
    return b.step(op, args, params, f"{name}({shown}){suffix}", positive)


def _gen_unary_ufunc(b: Builder) -> Var | None:
    kind = b.draw(st.sampled_from(["smooth", "away", "positive", "unit", "arccosh"]))
    if kind == "positive":
        a = b.positive_var()
        op = b.draw(st.sampled_from(POSITIVE_DOMAIN))
        return _call(b, f"np.{op}", (a.name,), positive=op == "log1p")
    a = b.pick()
    if kind == "unit":  # 0.9 tanh(a) lies in (-1, 1)
        inner = b.step("tanh", (a.name,), {}, f"{a.name}.tanh()")
        inner = inner and b.step("mul", (inner.name, 0.9), {}, f"{inner.name} * 0.9")
        op = b.draw(st.sampled_from(UNIT_DOMAIN))
        return inner and _call(b, f"np.{op}", (inner.name,))
    if kind == "arccosh":  # cosh(a) + 0.2 >= 1.2
        inner = _call(b, "np.cosh", (a.name,), positive=True)
        inner = inner and b.step("add", (inner.name, 0.2), {}, f"{inner.name} + 0.2", True)
        return inner and _call(b, "np.arccosh", (inner.name,), positive=True)
    op = b.draw(st.sampled_from(SMOOTH_UNARY if kind == "smooth" else AWAY_FROM_ZERO))
    return _call(b, f"np.{op}", (a.name,), positive=op in ("exp2", "cosh", "fabs") or (
        a.positive and op in ("sinh", "arcsinh", "arctan", "positive", "cbrt", "reciprocal")))


def _gen_binary_ufunc(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(BINARY_UFUNCS + ROUNDING))
    if op in ROUNDING:  # a step function, scaled so its output still depends on the leaves
        a = b.pick()
        step = _call(b, f"np.{op}", (a.name,))
        return step and b.step("mul", (step.name, a.name), {}, f"{step.name} * {a.name}")
    a = b.positive_var() if op == "float_power" else b.pick()
    other = _second_operand(b, a)
    if op in ("mod", "fmod") and not isinstance(other, str) and np.ndim(other) == 0:
        other = 0.7  # a divisor that is not a divisor of the numbers drawn
    args = (other, a.name) if op != "float_power" and b.draw(st.booleans()) else (a.name, other)
    return _call(b, f"np.{op}", args, positive=op in ("hypot", "float_power"))


def _gen_statistics(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["prod", "cumsum", "cumprod", "var", "std", "average", "sort",
                                 "diff"]))
    a = b.pick(lambda v: len(v.shape) >= 1)
    if a is None:
        return None
    n = len(a.shape)
    if op in ("prod", "var", "std"):
        params: dict = {"axis": _axis_choice(b.draw, n), "keepdims": b.draw(st.booleans())}
        if op != "prod":
            params["ddof"] = b.draw(st.sampled_from([0, 1]))
            axes = range(n) if params["axis"] is None else np.atleast_1d(params["axis"])
            if int(np.prod([a.shape[i] for i in axes])) <= params["ddof"]:
                return None
        return _call(b, f"np.{op}", (a.name,), params, a.positive and op != "var")
    axis = b.draw(st.integers(-n, n - 1))
    if op == "average":
        weights = b.constant(a.shape) if b.draw(st.booleans()) else None
        if weights is not None:  # positive weights: a sum of weights away from 0
            b.program.constants[weights] = np.abs(b.program.constants[weights]) + 0.5
        return _call(b, "np.average", (a.name,), {"axis": axis, "weights": (
            b.program.constants[weights] if weights else None)}, a.positive)
    if op == "diff":
        return _call(b, "np.diff", (a.name,), {"axis": axis}) if a.shape[axis] >= 2 else None
    if op == "cumsum" and b.draw(st.booleans()):
        return _call(b, "np.cumsum", (a.name,), {"axis": None}, a.positive)
    return _call(b, f"np.{op}", (a.name,), {"axis": axis}, a.positive)


def _gen_arrange(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["tile", "repeat", "flip", "roll", "pad", "expand_dims",
                                 "moveaxis", "swapaxes", "triu", "tril", "diag", "trace"]))
    a = b.pick(lambda v: len(v.shape) >= (2 if op in ("triu", "tril", "trace", "swapaxes")
                                          else 1))
    if a is None or (op == "diag" and len(a.shape) > 2):
        return None
    n, pos = len(a.shape), a.positive
    if op == "tile":
        reps = b.draw(st.sampled_from([2, (2, 1), (1, 2)]))
        return _call(b, "np.tile", (a.name,), {"reps": reps}, pos)
    if op == "repeat":
        return _call(b, "np.repeat", (a.name,), {"repeats": 2, "axis": b.draw(
            st.sampled_from([None, 0, -1]))}, pos)
    if op == "flip":
        return _call(b, "np.flip", (a.name,), {"axis": _axis_choice(b.draw, n)}, pos)
    if op == "roll":
        return _call(b, "np.roll", (a.name,), {"shift": b.draw(st.sampled_from([1, -2])),
                                               "axis": b.draw(st.sampled_from([None, 0]))}, pos)
    if op == "pad":
        width = b.draw(st.sampled_from([1, (1, 0), ((0, 1),) + ((1, 0),) * (n - 1)]))
        return _call(b, "np.pad", (a.name,), {"pad_width": width}, False)
    if op == "expand_dims":
        axis = b.draw(st.sampled_from([0, -1, (0, 2)]))
        return _call(b, "np.expand_dims", (a.name,), {"axis": axis}, pos) \
            if n + len(np.atleast_1d(axis)) <= MAX_NDIM else None
    if op == "moveaxis":
        return _call(b, "np.moveaxis", (a.name,), {"source": 0, "destination": -1}, pos)
    if op == "swapaxes":
        return _call(b, "np.swapaxes", (a.name,), {"axis1": 0, "axis2": -1}, pos)
    if op in ("triu", "tril", "diag"):
        return _call(b, f"np.{op}", (a.name,), {"k": b.draw(st.sampled_from([0, 1, -1]))})
    return _call(b, "np.trace", (a.name,), {"offset": b.draw(st.sampled_from([0, 1]))}, pos)


def _gen_products(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["einsum", "einsum", "tensordot", "kron"]))
    a = b.pick(lambda v: 1 <= len(v.shape) <= 3)
    if a is None:
        return None
    letters = "ijk"[:len(a.shape)]
    if op == "kron":
        other = b.leaf(b.draw(st.sampled_from([(2,), (1, 2)]))).name
        return _call(b, "np.kron", (a.name, other))
    if op == "tensordot":
        other = b.leaf(a.shape[-1:] + (2,)).name
        return _call(b, "np.tensordot", (a.name, other), {"axes": 1})
    # einsum: a with a second operand sharing some axes, summed over a drawn subset
    shared = "".join(c for c in letters if b.draw(st.booleans()))
    second = shared + "m" if b.draw(st.booleans()) else shared
    sizes = dict(zip(letters, a.shape), m=2)
    output = "".join(c for c in dict.fromkeys(letters + second) if b.draw(st.booleans()))
    if second:
        other = b.leaf(tuple(sizes[c] for c in second)).name
        subscripts = f"{letters},{second}->{output}"
        return _call(b, "np.einsum", (a.name, other), {"subscripts": subscripts})
    return _call(b, "np.einsum", (a.name,), {"subscripts": f"{letters}->{output}"})


def _gen_matrix(b: Builder) -> Var | None:
    op = b.draw(st.sampled_from(["norm", "norm", "det", "slogdet", "inv", "solve"]))
    if op == "norm":
        a = b.pick(lambda v: 1 <= len(v.shape) <= 2)
        if a is None:
            return None
        ord_ = b.draw(st.sampled_from([None, 2, 1, np.inf, 3]) if len(a.shape) == 1 else
                      st.sampled_from([None, "fro"]))
        return _call(b, "np.linalg.norm", (a.name,), {"ord": ord_}, positive=True)
    a = b.pick(lambda v: len(v.shape) >= 2 and v.shape[-1] == v.shape[-2])
    if a is None:
        size = b.draw(st.integers(1, 3))
        a = b.leaf((size, size))
    if op == "solve":
        other = b.leaf(a.shape[:-1] if b.draw(st.booleans()) else a.shape[:-1] + (2,)).name
        return _call(b, "np.linalg.solve", (a.name, other))
    name = {"slogdet": "np.linalg.slogdet[1]"}.get(op, f"np.linalg.{op}")
    return _call(b, name, (a.name,))


NUMPY_GENERATORS = [_gen_unary_ufunc, _gen_binary_ufunc, _gen_statistics, _gen_arrange,
                    _gen_products, _gen_matrix]
MIXED = NUMPY_GENERATORS * 2 + GENERATORS  # the NumPy functions drawn twice as often


def test_every_numpy_coverage_name_can_be_drawn() -> None:
    drawn = {name.split("[")[0].removeprefix("np.") for name in NUMPY_OPS}
    names = set(SMOOTH_UNARY + AWAY_FROM_ZERO + POSITIVE_DOMAIN + UNIT_DOMAIN + BINARY_UFUNCS +
                ROUNDING) | {"arccosh", "prod", "cumsum", "cumprod", "var", "std", "average",
                             "sort", "diff", "tile", "repeat", "flip", "roll", "pad",
                             "expand_dims", "moveaxis", "swapaxes", "triu", "tril", "diag",
                             "trace", "einsum", "tensordot", "kron", "linalg.norm",
                             "linalg.det", "linalg.slogdet", "linalg.inv", "linalg.solve"}
    assert names == drawn


@budget(400)
@given(programs(min_steps=3, generators=MIXED))
def test_numpy_programs_reverse_mode_matches_finite_differences(program: Program) -> None:
    note(repr(program))
    check_first_order(program)


@budget(150)
@given(programs(max_steps=6, min_steps=2, generators=MIXED))
def test_numpy_programs_second_derivatives_match_finite_differences(program: Program) -> None:
    note(repr(program))
    check_second_order(program)


@budget(200)
@given(programs(max_steps=6, min_steps=2, generators=MIXED))
def test_numpy_programs_forward_mode_matches_finite_differences(program: Program) -> None:
    values, _, _ = _valid_point(program)
    note(repr(program))
    names = _leaf_names(program)
    rng = np.random.default_rng(program.seed + 3)
    direction = {n: rng.uniform(-1, 1, size=values[n].shape) for n in names}

    def f(*tensors: Any) -> Any:
        return run_tg(program, dict(zip(names, tensors)))

    out, tangent = tg.jvp(f, tuple(values[n] for n in names), tuple(direction[n] for n in names))
    eps = 1e-6
    plus = run_numpy(program, {n: values[n] + eps * direction[n] for n in names})
    minus = run_numpy(program, {n: values[n] - eps * direction[n] for n in names})
    expected = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(np.asarray(tangent), expected, rtol=1e-4,
                               atol=1e-6 * (1 + np.max(np.abs(expected), initial=0)))
    np.testing.assert_allclose(np.asarray(out), run_numpy(program, values), rtol=1e-9,
                               atol=1e-12)
