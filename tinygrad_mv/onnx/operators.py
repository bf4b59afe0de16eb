"""The ONNX counterpart of each primitive: one entry per operation, keyed by its name.

An entry ``emit(b, call) -> name`` adds to the GraphBuilder ``b`` the nodes computing the
operation's result from ``call.ins`` (ONNX value names) and its static params, and returns the
result's name. Operations that only select and move elements (indexing, flip, roll, pad, triu,
...) become one Gather from a constant index worked out by running the operation itself on the
element numbers. ONNX Runtime's CPU kernels have no float64 Tan, Asin, Sinh, ...: those are
written with the functions it has, or are left out (export then names them).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import autograd
from .graph import GraphBuilder, onnx_type
from .recorder import Call, ExportError


# --- helpers ------------------------------------------------------------------------------------
def _operands(b: GraphBuilder, c: Call) -> list[str]:
    """The operands in the result's dtype (a bool mask times a gradient, a float32 number)."""
    return [b.cast(name, data.dtype, c.out.dtype) for name, data in zip(c.ins, c.datas)]


# On bools (masks multiplied or added in gradient rules) NumPy's arithmetic is logic.
_LOGICAL = {"Mul": "And", "Add": "Or", "Max": "Or", "Min": "And"}


def _elementwise(op_type: str) -> Callable[[GraphBuilder, Call], str]:
    def emit(b: GraphBuilder, c: Call) -> str:
        kind = _LOGICAL.get(op_type, op_type) if c.out.dtype == np.bool_ else op_type
        return b.node(kind, _operands(b, c))
    return emit


def _scalar(b: GraphBuilder, value: float, c: Call) -> str:
    return b.literal(value, c.out.dtype)


def _composed(build: Callable[..., str]) -> Callable[[GraphBuilder, Call], str]:
    """An entry written as ONNX arithmetic on the operands: ``build(b, k, *operands)`` where
    ``k(value)`` is a constant of the result's dtype."""
    return lambda b, c: build(b, lambda v: _scalar(b, v, c), *_operands(b, c))


def _axes(c: Call, key: str = "axis") -> list[int]:
    axes = c.params.get(key)
    ndim = c.datas[0].ndim
    if axes is None:
        return list(range(ndim))
    return [int(a) % max(ndim, 1) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]


def _reduce(op_type: str, key: str = "axis") -> Callable[[GraphBuilder, Call], str]:
    def emit(b: GraphBuilder, c: Call) -> str:
        axes = _axes(c, key)
        if not axes:
            return b.node("Identity", _operands(b, c))
        keep = int(bool(c.params.get("keepdims", False)))
        return _reduced(b, c, op_type, _operands(b, c)[0], axes, keep)
    return emit


def _reduced(b: GraphBuilder, c: Call, op_type: str, x: str, axes: list[int], keep: int) -> str:
    """``op_type`` over ``axes``; a maximum or minimum is NaN where a NaN is among its values,
    as NumPy's (ONNX Runtime's ReduceMax and ReduceMin skip a NaN that is not first)."""
    value = b.node(op_type, [x, b.ints(axes)], keepdims=keep)
    if op_type not in ("ReduceMax", "ReduceMin") or c.out.dtype.kind != "f":
        return value
    nans = b.node("ReduceSum", [b.node("Cast", [b.node("IsNaN", [x])], to=onnx_type(c.out.dtype)),
                                b.ints(axes)], keepdims=keep)
    return b.node("Where", [b.node("Greater", [nans, _scalar(b, 0.0, c)]),
                            _scalar(b, np.nan, c), value])


def _sigmoid(b: GraphBuilder, k: Callable, x: str) -> str:
    # 1 / (1 + e^-|x|) for x >= 0, e^-|x| / (1 + e^-|x|) below: ONNX Runtime's float64 Sigmoid
    # loses digits for negative x (a relative error of 1e-3 at x = -30)
    small = b.node("Exp", [b.node("Neg", [b.node("Abs", [x])])])
    denominator = b.node("Add", [k(1.0), small])
    return b.node("Where", [b.node("Less", [x, k(0.0)]), b.node("Div", [small, denominator]),
                            b.node("Reciprocal", [denominator])])


def _log1p(b: GraphBuilder, k: Callable, u: str) -> str:
    # log(1 + u) to full precision without a log1p: u log(w) / (w - 1), w = 1 + u (u where w = 1)
    w = b.node("Add", [k(1.0), u])
    shift = b.node("Sub", [w, k(1.0)])
    exact = b.node("Equal", [shift, k(0.0)])
    safe = b.node("Where", [exact, k(1.0), shift])
    ratio = b.node("Div", [b.node("Mul", [u, b.node("Log", [w])]), safe])
    ratio = b.node("Where", [b.node("Equal", [u, k(np.inf)]), u, ratio])  # log1p(inf) = inf
    return b.node("Where", [exact, u, ratio])


def _log_sigmoid(b: GraphBuilder, k: Callable, x: str) -> str:
    tail = _log1p(b, k, b.node("Exp", [b.node("Neg", [b.node("Abs", [x])])]))
    return b.node("Neg", [b.node("Add", [b.node("Max", [b.node("Neg", [x]), k(0.0)]), tail])])


def _selection(b: GraphBuilder, c: Call) -> str:
    """An operation that selects, repeats or moves elements and fills the rest with constants:
    a Gather of the flattened operand at the positions the operation itself sends each element
    to (found by running it on the element numbers 1, 2, ...), plus the constants it fills."""
    op = _forward_of(c.op)
    data = c.datas[0]
    numbers = np.arange(1, data.size + 1, dtype=np.float64).reshape(data.shape)
    filled = np.asarray(op(np.zeros(data.shape), **c.params), dtype=np.float64)
    with np.errstate(invalid="ignore"):  # a fill of NaN or infinity: position 0 there
        positions = np.where(np.isfinite(filled),
                             np.asarray(op(numbers, **c.params), dtype=np.float64) - filled, 0.0)
    flat = b.reshape(c.ins[0], [-1])
    flat = b.node("Concat", [b.constant(np.zeros(1, dtype=c.out.dtype)), flat], axis=0)
    picked = b.node("Gather", [flat, b.constant(positions.astype(np.int64))], axis=0)
    if np.any(filled):
        picked = b.node("Add", [picked, b.constant(filled.astype(c.out.dtype))])
    return picked


def _forward_of(name: str) -> Callable:
    for op in autograd.OPS:
        if op.__name__ == name:
            return op.forward
    raise ExportError(f"no operation named {name!r}")


def _static(c: Call, *keys: str) -> None:
    for key in keys:
        if key in c.refs:
            raise ExportError(f"its {key} is computed from the inputs; only a fixed {key} "
                              "can be exported")


def _getitem(b: GraphBuilder, c: Call) -> str:
    _static(c, "index")  # a fixed index (a fixed mask too) selects fixed positions
    return _selection(b, c)


def _scatter_add(b: GraphBuilder, c: Call) -> str:
    _static(c, "index")
    shape = c.params["shape"]
    positions = np.arange(math.prod(shape), dtype=np.int64).reshape(shape)[c.params["index"]]
    zeros = b.constant(np.zeros(math.prod(shape), dtype=c.out.dtype))
    updates = b.reshape(_operands(b, c)[0], [-1])
    total = b.node("ScatterElements", [zeros, b.constant(positions.reshape(-1)), updates],
                   axis=0, reduction="add")
    return b.reshape(total, shape)


def _where(b: GraphBuilder, c: Call) -> str:
    cond = c.refs.get("cond") or b.constant(np.asarray(c.params["cond"], dtype=bool))
    return b.node("Where", [cond, *_operands(b, c)])


def _clip(b: GraphBuilder, c: Call) -> str:
    lo, hi = c.params.get("lo"), c.params.get("hi")
    if np.ndim(lo) == 0 and np.ndim(hi) == 0:
        bounds = ["" if v is None else _scalar(b, v, c) for v in (lo, hi)]
        return b.node("Clip", [_operands(b, c)[0], *bounds])
    # bounds per element: ONNX's Clip takes numbers only (np.clip is max, then min)
    out = _operands(b, c)[0]
    for bound, op_type in ((lo, "Max"), (hi, "Min")):
        if bound is not None:
            out = b.node(op_type, [out, b.constant(np.asarray(bound, dtype=c.out.dtype))])
    return out


def _pow(b: GraphBuilder, c: Call) -> str:
    return b.node("Pow", _operands(b, c))


def _linear(b: GraphBuilder, c: Call) -> str:
    x, w, *bias = _operands(b, c)
    out = b.node("MatMul", [x, b.node("Transpose", [w], perm=[1, 0])])
    return b.node("Add", [out, bias[0]]) if bias else out


def _logsumexp(b: GraphBuilder, x: str, axes: list[int], keepdims: bool, c: Call) -> str:
    peak = b.node("ReduceMax", [x, b.ints(axes)], keepdims=1)
    # an infinite peak shifts by 0 (inf - inf would be NaN): the sum is then inf or 0 itself
    peak = b.node("Where", [b.node("IsInf", [peak]), _scalar(b, 0.0, c), peak])
    total = b.node("ReduceSum", [b.node("Exp", [b.node("Sub", [x, peak])]), b.ints(axes)],
                   keepdims=1)
    out = b.node("Add", [b.node("Log", [total]), peak])
    return out if keepdims else b.reshape(out, c.out.shape)


def _logsumexp_entry(b: GraphBuilder, c: Call) -> str:
    axes = _axes(c)
    x = _operands(b, c)[0]
    if not axes:
        return b.node("Identity", [x])
    return _logsumexp(b, x, axes, bool(c.params.get("keepdims")), c)


def _softmax(b: GraphBuilder, c: Call) -> str:
    x, axes = _operands(b, c)[0], _axes(c)
    shifted = b.node("Exp", [b.node("Sub", [x, b.node("ReduceMax", [x, b.ints(axes)],
                                                       keepdims=1)])])
    return b.node("Div", [shifted, b.node("ReduceSum", [shifted, b.ints(axes)], keepdims=1)])


def _log_softmax(b: GraphBuilder, c: Call) -> str:
    x, axes = _operands(b, c)[0], _axes(c)
    return b.node("Sub", [x, _logsumexp(b, x, axes, True, c)])


def _stack(b: GraphBuilder, c: Call) -> str:
    axis = c.params["axis"]
    parts = [b.node("Unsqueeze", [x, b.ints([axis])]) for x in _operands(b, c)]
    return b.node("Concat", parts, axis=axis)


def _einsum(b: GraphBuilder, c: Call) -> str:
    return b.node("Einsum", _operands(b, c), equation=c.params["subscripts"].replace(" ", ""))


def _var(b: GraphBuilder, c: Call, root: bool) -> str:
    x, axes = _operands(b, c)[0], _axes(c, "axes")
    count = math.prod(c.datas[0].shape[a] for a in axes)
    centred = b.node("Sub", [x, b.node("ReduceMean", [x, b.ints(axes)], keepdims=1)])
    total = b.node("ReduceSum", [b.node("Mul", [centred, centred]), b.ints(axes)],
                   keepdims=int(bool(c.params["keepdims"])))
    out = b.node("Div", [total, _scalar(b, count - c.params["ddof"], c)])
    return b.node("Sqrt", [out]) if root else out


def _vector_norm(b: GraphBuilder, c: Call) -> str:
    x, axes, ord_ = _operands(b, c)[0], _axes(c), c.params["ord"]
    keep = int(bool(c.params["keepdims"]))
    magnitude = b.node("Abs", [x])

    def total(values: str, op_type: str = "ReduceSum") -> str:
        return b.node(op_type, [values, b.ints(axes)], keepdims=keep)
    if ord_ == 2:
        return b.node("Sqrt", [total(b.node("Mul", [x, x]))])
    if ord_ == 1:
        return total(magnitude)
    if ord_ in (math.inf, -math.inf):
        return _reduced(b, c, "ReduceMax" if ord_ > 0 else "ReduceMin", magnitude, axes, keep)
    if ord_ == 0:
        nonzero = b.node("Not", [b.node("Equal", [x, _scalar(b, 0.0, c)])])
        return total(b.node("Cast", [nonzero], to=onnx_type(c.out.dtype)))
    powered = total(b.node("Pow", [magnitude, _scalar(b, ord_, c)]))
    return b.node("Pow", [powered, _scalar(b, 1.0 / ord_, c)])


def _squared_error(b: GraphBuilder, c: Call) -> str:
    p, t = _operands(b, c)
    d = b.node("Sub", [p, t])
    if c.params.get("inverse_sigma") is not None:
        d = b.node("Mul", [d, b.constant(np.asarray(c.params["inverse_sigma"],
                                                    dtype=c.out.dtype))])
    squares = b.node("Mul", [d, d])
    total = b.node("ReduceSum", [squares], keepdims=0)
    return b.node("Mul", [total, _scalar(b, c.params.get("scale", 1.0), c)])


def _bce_each(b: GraphBuilder, k: Callable[[float], str], p: str, t: str) -> str:
    # -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)), the logs clamped as PyTorch's
    log_p = b.node("Max", [b.node("Log", [p]), k(-100.0)])
    log_q = b.node("Max", [b.node("Log", [b.node("Sub", [k(1.0), p])]), k(-100.0)])
    total = b.node("Add", [b.node("Mul", [t, log_p]),
                           b.node("Mul", [b.node("Sub", [k(1.0), t]), log_q])])
    return b.node("Neg", [total])


def _bce(b: GraphBuilder, c: Call) -> str:
    each = _bce_each(b, lambda v: _scalar(b, v, c), *_operands(b, c))
    total = b.node("ReduceSum", [each], keepdims=0)
    return b.node("Mul", [total, _scalar(b, c.params.get("scale", 1.0), c)])


def _cross_entropy(b: GraphBuilder, c: Call) -> str:
    # as NumPy computes it: log(sum(e^shifted)) - shifted[class], shifted = x - max(x), per row
    _static(c, "classes")
    x = _operands(b, c)[0]
    onehot = np.zeros(c.datas[0].shape, dtype=c.out.dtype)
    onehot[np.arange(len(c.params["classes"])), c.params["classes"]] = 1.0
    shifted = b.node("Sub", [x, b.node("ReduceMax", [x, b.ints([1])], keepdims=1)])
    log_norm = b.node("Log", [b.node("ReduceSum", [b.node("Exp", [shifted]), b.ints([1])],
                                     keepdims=0)])
    picked = b.node("ReduceSum", [b.node("Mul", [shifted, b.constant(onehot)]), b.ints([1])],
                    keepdims=0)
    total = b.node("ReduceSum", [b.node("Sub", [log_norm, picked])], keepdims=0)
    return b.node("Mul", [total, _scalar(b, c.params.get("scale", 1.0), c)])


def _gaussian_pdf(b: GraphBuilder, c: Call) -> str:
    x, mu, sigma = _operands(b, c)
    z = b.node("Div", [b.node("Sub", [x, mu]), sigma])
    bell = b.node("Exp", [b.node("Mul", [_scalar(b, -0.5, c), b.node("Mul", [z, z])])])
    return b.node("Div", [bell, b.node("Mul", [sigma, _scalar(b, math.sqrt(2 * math.pi), c)])])


def _expm1(b: GraphBuilder, k: Callable, x: str) -> str:
    # e^x - 1 to full precision without an expm1: (u - 1) x / log(u), u = e^x (x where u = 1)
    u = b.node("Exp", [x])
    shift = b.node("Sub", [u, k(1.0)])
    exact = b.node("Equal", [shift, k(0.0)])
    # (x / log(u)) first: (u - 1) x would overflow for x above 700 where the result does not
    ratio = b.node("Mul", [shift, b.node("Div", [
        x, b.node("Log", [b.node("Where", [exact, k(2.0), u])])])])
    ratio = b.node("Where", [b.node("Equal", [shift, k(-1.0)]), shift, ratio])  # u = 0
    ratio = b.node("Where", [b.node("Equal", [u, k(np.inf)]), u, ratio])  # e^x overflows
    return b.node("Where", [exact, x, ratio])


def _half_exp(b: GraphBuilder, k: Callable, x: str) -> str:
    """e^|x| / 2 as (e^(|x|/2) / 2) e^(|x|/2): finite up to |x| = 710.4, as NumPy's sinh and
    cosh are (e^|x| itself overflows above 709.8)."""
    half = b.node("Exp", [b.node("Mul", [b.node("Abs", [x]), k(0.5)])])
    return b.node("Mul", [b.node("Mul", [half, k(0.5)]), half])


def _far(b: GraphBuilder, k: Callable, x: str) -> str:
    # beyond |x| = 20, e^-|x| is below float64's resolution of e^|x|
    return b.node("Greater", [b.node("Abs", [x]), k(20.0)])


def _sinh(b: GraphBuilder, k: Callable, x: str) -> str:
    # (expm1(x) - expm1(-x)) / 2: no cancellation near 0
    difference = b.node("Sub", [_expm1(b, k, x), _expm1(b, k, b.node("Neg", [x]))])
    near = b.node("Mul", [difference, k(0.5)])
    far = b.node("Mul", [b.node("Sign", [x]), _half_exp(b, k, x)])
    return b.node("Where", [_far(b, k, x), far, near])


def _trunc(b: GraphBuilder, k: Callable, x: str) -> str:
    return b.node("Mul", [b.node("Sign", [x]), b.node("Floor", [b.node("Abs", [x])])])


def _cbrt(b: GraphBuilder, k: Callable, x: str) -> str:
    root = b.node("Pow", [b.node("Abs", [x]), k(1.0 / 3.0)])
    return b.node("Where", [b.node("Less", [x, k(0.0)]), b.node("Neg", [root]), root])


def _remainder(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    # NumPy's remainder: C's fmod, moved by y where it has the other sign than y
    m = b.node("Mod", [x, y], fmod=1)
    signs_differ = b.node("Xor", [b.node("Less", [y, k(0.0)]), b.node("Less", [m, k(0.0)])])
    fix = b.node("And", [b.node("Not", [b.node("Equal", [m, k(0.0)])]), signs_differ])
    return b.node("Where", [fix, b.node("Add", [m, y]), m])


def _floor_divide(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    # NumPy's floor division: (x - remainder) / y, rounded to the nearest whole number
    exact = b.node("Div", [b.node("Sub", [x, _remainder(b, k, x, y)]), y])
    down = b.node("Floor", [exact])
    up = b.node("Greater", [b.node("Sub", [exact, down]), k(0.5)])
    return b.node("Where", [up, b.node("Add", [down, k(1.0)]), down])


def _copysign(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    # the sign bit of y: negative, or -0.0 (whose reciprocal is -inf)
    negative_zero = b.node("And", [b.node("Equal", [y, k(0.0)]),
                                   b.node("Less", [b.node("Div", [k(1.0), y]), k(0.0)])])
    negative = b.node("Or", [b.node("Less", [y, k(0.0)]), negative_zero])
    size = b.node("Abs", [x])
    return b.node("Where", [negative, b.node("Neg", [size]), size])


def _logaddexp2(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    peak = b.node("Max", [x, y])
    gap = b.node("Neg", [b.node("Abs", [b.node("Sub", [x, y])])])
    tail = _log1p(b, k, b.node("Pow", [k(2.0), gap]))
    return b.node("Add", [peak, b.node("Div", [tail, k(math.log(2))])])


def _diff(b: GraphBuilder, c: Call) -> str:
    x, axis, n = _operands(b, c)[0], c.params["axis"], c.params["n"]
    length = c.datas[0].shape[axis]
    for step in range(n):
        size = length - step
        upper = b.node("Slice", [x, b.ints([1]), b.ints([size]), b.ints([axis])])
        lower = b.node("Slice", [x, b.ints([0]), b.ints([size - 1]), b.ints([axis])])
        x = b.node("Sub", [upper, lower])
    return x


def _tan(b: GraphBuilder, k: Callable, x: str) -> str:
    return b.node("Div", [b.node("Sin", [x]), b.node("Cos", [x])])


def _cosh(b: GraphBuilder, k: Callable, x: str) -> str:
    both = b.node("Add", [b.node("Exp", [x]), b.node("Exp", [b.node("Neg", [x])])])
    return b.node("Where", [_far(b, k, x), _half_exp(b, k, x), b.node("Mul", [both, k(0.5)])])


def _logaddexp(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    peak = b.node("Max", [x, y])
    gap = b.node("Neg", [b.node("Abs", [b.node("Sub", [x, y])])])
    return b.node("Add", [peak, _log1p(b, k, b.node("Exp", [gap]))])


def _hypot(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
    # m sqrt((x/m)^2 + (y/m)^2), m = max(|x|, |y|): x^2 overflows from 1.3e154, the result not
    m = b.node("Max", [b.node("Abs", [x]), b.node("Abs", [y])])
    safe = b.node("Where", [b.node("Equal", [m, k(0.0)]), k(1.0), m])
    p, q = b.node("Div", [x, safe]), b.node("Div", [y, safe])
    scaled = b.node("Mul", [m, b.node("Sqrt", [b.node("Add", [b.node("Mul", [p, p]),
                                                              b.node("Mul", [q, q])])])])
    # an infinite operand gives inf even beside a NaN (as C's hypot), where Max may give NaN
    infinite = b.node("Or", [b.node("IsInf", [x]), b.node("IsInf", [y])])
    return b.node("Where", [infinite, k(np.inf), scaled])


def _nan_aware(op_type: str) -> Callable[[GraphBuilder, Callable, str, str], str]:
    # fmax/fmin: the other operand where one is NaN
    def build(b: GraphBuilder, k: Callable, x: str, y: str) -> str:
        both = b.node(op_type, [x, y])
        return b.node("Where", [b.node("IsNaN", [y]), x,
                                b.node("Where", [b.node("IsNaN", [x]), y, both])])
    return build


def _cumsum(b: GraphBuilder, c: Call) -> str:
    return b.node("CumSum", [_operands(b, c)[0],
                             b.constant(np.asarray(c.params["axis"], dtype=np.int64))])


def _trace(b: GraphBuilder, c: Call) -> str:
    p = c.params
    data = c.datas[0]
    numbers = np.arange(data.size, dtype=np.int64).reshape(data.shape)
    positions = np.diagonal(numbers, p["offset"], p["axis1"], p["axis2"])
    picked = b.node("Gather", [b.reshape(_operands(b, c)[0], [-1]), b.constant(positions)],
                    axis=0)
    if positions.shape[-1] == 0:
        return b.constant(np.zeros(c.out.shape, dtype=c.out.dtype))
    return b.node("ReduceSum", [picked, b.ints([-1])], keepdims=0)


EMITTERS: dict[str, Callable[[GraphBuilder, Call], str]] = {
    # elementwise
    "add": _elementwise("Add"), "sub": _elementwise("Sub"), "mul": _elementwise("Mul"),
    "div": _elementwise("Div"), "neg": _elementwise("Neg"), "pow": _pow,
    "exp": _elementwise("Exp"), "log": _elementwise("Log"), "sqrt": _elementwise("Sqrt"),
    "sin": _elementwise("Sin"), "cos": _elementwise("Cos"), "tan": _composed(_tan),
    "tanh": _elementwise("Tanh"), "square": _composed(lambda b, k, x: b.node("Mul", [x, x])),
    "abs": _elementwise("Abs"), "relu": _elementwise("Relu"), "sigmoid": _composed(_sigmoid),
    "log_sigmoid": _composed(_log_sigmoid), "clip": _clip,
    "maximum": _elementwise("Max"), "minimum": _elementwise("Min"), "where": _where,
    "astype": lambda b, c: b.cast(c.ins[0], c.datas[0].dtype, c.out.dtype),
    # reductions
    "sum": _reduce("ReduceSum"), "mean": _reduce("ReduceMean"), "max": _reduce("ReduceMax"),
    "min": _reduce("ReduceMin"), "logsumexp": _logsumexp_entry, "softmax": _softmax,
    "log_softmax": _log_softmax,
    # shape and indexing
    "reshape": lambda b, c: b.reshape(c.ins[0], c.out.shape),
    "transpose": lambda b, c: b.node("Transpose", c.ins, perm=list(c.params["axes"])),
    "broadcast_to": lambda b, c: b.node("Expand", [c.ins[0], b.ints(c.out.shape)]),
    "getitem": _getitem, "scatter_add": _scatter_add,
    "concatenate": lambda b, c: b.node("Concat", _operands(b, c), axis=c.params["axis"]),
    "stack": _stack,
    # products
    "matmul": _elementwise("MatMul"), "linear": _linear, "einsum": _einsum,
    # NumPy coverage
    "exp2": _composed(lambda b, k, x: b.node("Pow", [k(2.0), x])),
    "log2": _composed(lambda b, k, x: b.node("Div", [b.node("Log", [x]), k(math.log(2))])),
    "log10": _composed(lambda b, k, x: b.node("Div", [b.node("Log", [x]), k(math.log(10))])),
    "log1p": _composed(_log1p), "expm1": _composed(_expm1), "cosh": _composed(_cosh),
    "sinh": _composed(_sinh), "trunc": _composed(_trunc), "cbrt": _composed(_cbrt),
    "mod": _composed(_remainder), "floor_divide": _composed(_floor_divide),
    "copysign": _composed(_copysign), "logaddexp2": _composed(_logaddexp2), "diff": _diff,
    "float_power": _elementwise("Pow"),
    "reciprocal": _elementwise("Reciprocal"), "fabs": _elementwise("Abs"),
    "positive": _elementwise("Identity"),
    "deg2rad": _composed(lambda b, k, x: b.node("Mul", [x, k(math.pi / 180)])),
    "rad2deg": _composed(lambda b, k, x: b.node("Mul", [x, k(180 / math.pi)])),
    "sign": _elementwise("Sign"), "floor": _elementwise("Floor"), "ceil": _elementwise("Ceil"),
    "rint": _elementwise("Round"),
    "hypot": _composed(_hypot),
    "fmax": _composed(_nan_aware("Max")), "fmin": _composed(_nan_aware("Min")),
    "logaddexp": _composed(_logaddexp),
    "fmod": lambda b, c: b.node("Mod", _operands(b, c), fmod=1),
    "prod": _reduce("ReduceProd", "axes"), "cumsum": _cumsum,
    "var": lambda b, c: _var(b, c, root=False), "std": lambda b, c: _var(b, c, root=True),
    "trace": _trace, "vector_norm": _vector_norm,
    **{name: _selection for name in ("flip", "roll", "tile", "repeat", "pad", "triu", "tril",
                                     "diag")},
    # models and the course's applications
    "squared_error": _squared_error, "gaussian_pdf": _gaussian_pdf,
    "binary_cross_entropy_each": _composed(_bce_each), "binary_cross_entropy": _bce,
    "cross_entropy": _cross_entropy,
}
