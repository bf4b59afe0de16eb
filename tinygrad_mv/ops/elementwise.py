"""Elementwise primitives: each forward beside its vector-Jacobian products.

A rule ``rule(g, out, *inputs)`` returns the gradient for one input in the broadcast shape; the
engine sums it back to that input's shape. Rules use operators, ufuncs and methods only, so they
run on NumPy arrays and, for higher derivatives, on Tensors alike.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import autograd
from ..autograd import Drawing, primitive
from ..tensor import _FLOATS, Tensor, _working_float
from ._util import broadcast_number, value

# --- arithmetic ---------------------------------------------------------------------------------
add = primitive("add", np.add,
                lambda g, out, x, y: g,
                lambda g, out, x, y: g,
                drawing=Drawing(local=('g', 'g'), formula='{0} + {1}', commutative=True,
                                elementwise=True))
sub = primitive("sub", np.subtract,
                lambda g, out, x, y: g,
                lambda g, out, x, y: -g,
                drawing=Drawing(roles=('a', 'b'), local=('g', '-g'), formula='{0} - {1}',
                                elementwise=True))
mul = primitive("mul", np.multiply,
                lambda g, out, x, y: _scaled(g, y) if isinstance(y, (int, float)) else g * y,
                lambda g, out, x, y: _scaled(g, x) if isinstance(x, (int, float)) else g * x,
                drawing=Drawing(local=('g·{1}', 'g·{0}'),
                                formula='{0}·{1}',
                                commutative=True,
                                elementwise=True))
div = primitive("div", np.true_divide,
                lambda g, out, x, y: g / y,
                lambda g, out, x, y: -g * out / y,
                drawing=Drawing(roles=('numerator', 'denominator'),
                                local=('g / {1}', '-g·{0} / {1}²'),
                                formula='{0}/{1}',
                                elementwise=True))
neg = primitive("neg", np.negative,
                lambda g, out, x: -g,
                drawing=Drawing(local=('-g',), formula='-{0}'))


_LARGE = 1_024  # elements: above this a check that saves a pass over memory pays for itself


def _uniform(g: Any) -> bool:
    """Whether ``g`` is a large array broadcast from one number (a sum's gradient, as the engine
    hands it on: a read-only view with no memory of its own)."""
    return type(g) is np.ndarray and g.size > _LARGE and not any(g.strides)


def _times(g: Any, local: Any) -> Any:
    """``g * local``, where ``local`` is a temporary the rule just made: on arrays of one shape
    and dtype the product goes into it (one new array per rule instead of two, which shows on
    large arrays: fresh memory costs page faults); a product with a broadcast one is ``local``
    itself, bit for bit."""
    if (type(g) is np.ndarray and type(local) is np.ndarray and g.shape == local.shape
            and g.dtype == local.dtype):
        if g.size > _LARGE and not any(g.strides) and g.flat[0] == 1:  # (inline: every rule)
            return local
        return np.multiply(g, local, out=local)
    return g * local


def _scaled(g: Any, factor: int | float) -> Any:
    """``g * factor`` for a number ``factor``; a broadcast number times a number stays a
    broadcast (no pass over memory, no new array)."""
    if _uniform(g):
        return broadcast_number(np.asarray(g.flat[0] * np.asarray(factor, g.dtype)), g.shape)
    return g * factor


def _twice_times(g: Any, x: Any) -> Any:
    """``g * (2 * x)``, the slope of ``x ** 2``. For one number broadcast (a sum's gradient
    times a constant) it is ``(2 g) x``, one pass instead of two and the same bits: doubling is
    exact, so both round the same product once. Where 2 x overflows, so does (2 g) x only for
    |g| >= 1 (and 2 g must not): otherwise the usual way."""
    if _uniform(g) and g.shape == x.shape:
        number = g.flat[0]
        if 1.0 <= abs(number) < _HALF_MAX.get(g.dtype, 0.0):  # (False for NaN)
            return np.multiply(x, 2 * number)
    return _times(g, 2 * x)


_HALF_MAX = {np.dtype(np.float64): 8.9e307, np.dtype(np.float32): 1.7e38}  # 2 x stays finite


def _pow_dbase(g: Any, out: Any, x: Any, y: Any) -> Any:
    if y.__class__ is int and y == 2 and x.__class__ is np.ndarray:  # x ** 2, the usual one
        return _twice_times(g, x)
    # x^0 is constant: its slope is 0 even at x = 0, where y x^(y-1) would be 0 * inf (as PyTorch;
    # it keeps second derivatives of x^1 finite there too).
    if type(y) is np.ndarray and y.ndim == 0 or isinstance(y, np.generic):
        y = y.item()  # a number exponent (x ** 2): NumPy's fast paths for x ** 1.0, x ** 2.0
    if isinstance(x, np.generic):
        x = np.asarray(x)  # as _power
    if isinstance(y, (int, float)):
        if y == 0:
            return g * 0.0
        if y >= 1:
            return _twice_times(g, x) if y == 2 else g * y * x ** (y - 1)
    else:
        at_zero = y == 0  # recorded when y is a Tensor: a replay recomputes it
        if isinstance(g, Tensor) or np.any(at_zero):
            y_less_one = np.where(at_zero, 1.0, y - 1)  # y x^1 = 0 there, and stays finite
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * y * x ** y_less_one
    with np.errstate(divide="ignore", invalid="ignore"):  # x = 0, y < 1: infinite, not an error
        return g * y * x ** (y - 1)


def _pow_dexponent(g: Any, out: Any, x: Any, y: Any) -> Any:
    # d(x^y)/dy = x^y log x; where x == 0 and y >= 0 the limit is 0 (as PyTorch), not NaN.
    # Masks are comparisons of the operands themselves, so on Tensors (higher derivatives) they
    # are recorded operations that tg.jit recomputes, never values frozen from .data.
    at_zero = (x == 0) * (y >= 0)
    if not isinstance(g, Tensor) and not np.any(at_zero):
        # g * (out * log x), grouped as below: eager tangents (arrays) and tg.jit's recorded
        # ones (Tensors) must round alike
        return g * (out * np.log(x))
    return g * np.where(at_zero, 0.0, out * np.log(np.where(at_zero, 1.0, x)))


def _power(x: Any, y: Any) -> Any:
    # The operator form takes NumPy's fast paths (x ** 2 is a square, x ** 0.5 a square root).
    # A NumPy scalar (a 0-d value in a jit replay) goes the 0-d array's way: its own ** is C's
    # pow, which differs from those in the last bit. Python numbers take np.power: Python's **
    # would turn (-8) ** (1/3) complex.
    if isinstance(x, np.generic):
        x = np.asarray(x)
    return x ** y if isinstance(x, np.ndarray) else np.power(x, y)


power = primitive("pow", _power, _pow_dbase, _pow_dexponent,
                  drawing=Drawing(roles=('base', 'exponent'),
                                  local=('g·{1}·{0}^({1}-1)', 'g·{0}^{1}·ln {0}'),
                                  formula='{0}^{1}',
                                  elementwise=True))

# --- unary functions ----------------------------------------------------------------------------
exp = primitive("exp", np.exp,
                lambda g, out, x: g * out,
                drawing=Drawing(local=('g·exp({0})',)))
log = primitive("log", np.log,
                lambda g, out, x: g / x,
                drawing=Drawing(local=('g / {0}',)))
def _sqrt_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):  # infinite slope at 0: a result
        return g / (2 * out)


sqrt = primitive("sqrt", np.sqrt, _sqrt_rule,
                 drawing=Drawing(local=('g / (2·sqrt({0}))',)))
sin = primitive("sin", np.sin,
                lambda g, out, x: _times(g, np.cos(x)),
                drawing=Drawing(local=('g·cos({0})',)))
cos = primitive("cos", np.cos,
                lambda g, out, x: _times(-g, np.sin(x)),
                drawing=Drawing(local=('-g·sin({0})',)))
tan = primitive("tan", np.tan,
                lambda g, out, x: g * (1 + out * out),
                drawing=Drawing(local=('g / cos²({0})',)))
tanh = primitive("tanh", np.tanh,
                 lambda g, out, x: _times(g, 1 - out * out),
                 drawing=Drawing(local=('g·(1 - tanh²({0}))',)))
square = primitive("square", np.square,
                   lambda g, out, x: _twice_times(g, x),
                   drawing=Drawing(local=('2·g·{0}',), formula='{0}²'))
absolute = primitive("abs", np.abs,
                     lambda g, out, x: g * _sign(x),
                     drawing=Drawing(local=('g·sign({0})',)))  # 0 at 0, as PyTorch
relu = primitive("relu", lambda x: np.maximum(x, 0),
                 lambda g, out, x: g * (x > 0),
                 drawing=Drawing(local=('g·[{0} > 0]',)))


def _sigmoid(x: Any) -> np.ndarray:
    # 1 / (1 + e^-x) with e^-x capped just below overflow: exact to rounding wherever the result
    # is a normal number, below 1e-307 (float64) / 1e-38 (float32) where the true value is too;
    # no warnings at any input. In place: one allocation.
    if type(x) is np.ndarray and x.ndim and x.dtype.kind == "f":
        t = np.negative(x, order="C")  # C order whatever x's: a later sum adds in one order
    else:  # a number, 0-d or integer: a float array (NumPy's negative would give a scalar)
        x = np.asarray(x)
        t = np.negative(x, out=np.empty(x.shape, x.dtype if x.dtype.kind == "f" else np.float64))
    np.minimum(t, 88.0 if t.itemsize == 4 else 709.0, out=t)  # float32: e^88.7 overflows
    np.exp(t, out=t)
    t += 1
    return np.reciprocal(t, out=t)


sigmoid = primitive("sigmoid", _sigmoid,
                    lambda g, out, x: _times(g, out * (1 - out)),
                    drawing=Drawing(local=('g·σ({0})·(1 - σ({0}))',)))


def _log_sigmoid(x: Any) -> np.ndarray:
    # log(1 / (1 + e^-x)) = -(max(-x, 0) + log1p(e^-|x|)): e^-|x| never overflows, so the result
    # is finite and exact at any finite x (log(sigmoid(x)) gives -709 or -inf below x = -709).
    x = np.asarray(x)
    return -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))


# d/dx log sigmoid(x) = sigmoid(-x) = e^-x sigmoid(x) = e^(out - x): accurate at both ends
# (no 1 - sigmoid(x) cancellation for large x) and made of ufuncs, so create_graph works.
log_sigmoid = primitive("log_sigmoid", _log_sigmoid,
                        lambda g, out, x: g * np.exp(out - x))


def _clip_rule(g: Any, out: Any, x: Any, lo: Any = None, hi: Any = None) -> Any:
    # the gradient passes where lo <= x <= hi, as PyTorch's clamp
    if lo is None:
        return g * (x <= hi)
    if hi is None:
        return g * (x >= lo)
    return g * (x >= lo) * (x <= hi)


_clip = primitive("clip", lambda x, lo=None, hi=None: np.clip(x, lo, hi), _clip_rule,
                  drawing=Drawing(local=('g·[lo ≤ {0} ≤ hi]',)))


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Clamp to [lo, hi] (either may be None)."""
    if lo is None and hi is None:
        raise ValueError("clip: at least one of lo and hi must be given")
    for name, bound in (("lo", lo), ("hi", hi)):
        if bound is not None and not isinstance(bound, (int, float, np.number, np.ndarray)):
            raise TypeError(f"clip: {name} must be a number, a NumPy array or None, got "
                            f"{type(bound).__name__} (tg.maximum/tg.minimum take Tensor bounds)")
    if lo is not None and hi is not None and np.any(np.asarray(lo) > np.asarray(hi)):
        raise ValueError(f"clip: lo={lo} is greater than hi={hi}")
    return _clip(x, lo=_bound(lo), hi=_bound(hi))


def _bound(bound: Any) -> Any:
    """A bound of clip as it takes it: a number (weak, like Python's: float32 stays float32) for
    a scalar, float64 for an array of half or long double precision."""
    if isinstance(bound, (np.number, np.ndarray)):
        if np.ndim(bound) == 0:
            return float(bound) if np.asarray(bound).dtype.kind == "f" else bound.item()
        if bound.dtype.kind == "f" and bound.dtype not in _FLOATS:
            return bound.astype(_working_float(bound.dtype))
    return bound


def _max_weight(x: Any, y: Any) -> Any:
    """The share of the gradient that goes to x in max(x, y): 1, 0, or half on ties; 1 where x
    or y is NaN (the NaN result passes the whole gradient to both, as PyTorch's)."""
    return 1 - (y > x) - 0.5 * (x == y)


def _sign(x: Any) -> Any:
    """-1, 0 or 1 in x's dtype: np.sign, recorded on Tensors (tg.sign, whose slope is 0). Not
    made of comparisons: those give float64 beside float32, and a recorded jvp would sum in it."""
    return np.sign(x)


maximum = primitive("maximum", np.maximum,
                    lambda g, out, x, y: g * _max_weight(x, y),
                    lambda g, out, x, y: g * _max_weight(y, x),
                    drawing=Drawing(roles=('a', 'b'),
                                    local=('g·[{0} ≥ {1}] (ties share)',
                                           'g·[{1} ≥ {0}] (ties share)'),
                                    elementwise=True))
minimum = primitive("minimum", np.minimum,
                    lambda g, out, x, y: g * _max_weight(y, x),
                    lambda g, out, x, y: g * _max_weight(x, y),
                    drawing=Drawing(roles=('a', 'b'),
                                    local=('g·[{0} ≤ {1}] (ties share)',
                                           'g·[{1} ≤ {0}] (ties share)'),
                                    elementwise=True))

_where = primitive("where", lambda a, b, cond: np.where(cond, a, b),
                   lambda g, out, a, b, cond: g * cond,
                   lambda g, out, a, b, cond: g - g * cond,
                   drawing=Drawing(roles=('if true', 'if false', 'condition'),
                                   local=('g where condition', 'g where not condition'),
                                   elementwise=True))  # no ~cond: a replay recomputes cond


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is true, else ``b`` (broadcast); no gradient flows to the
    condition."""
    tracer = autograd._tracer
    if tracer is not None and isinstance(condition, Tensor):
        tracer.read(condition)  # tg.jit: a condition held by a closure is read at each call
    cond = np.asarray(value(condition))
    if cond.dtype != bool:
        if cond.dtype.kind not in "iuf":
            raise TypeError(f"where: condition must be bool, got dtype {cond.dtype}")
        nonzero = cond != 0
        if tracer is not None:  # tg.jit is recording: the mask must follow the condition
            tracer.record_call(_nonzero, (cond,), nonzero)
        cond = nonzero
    return _where(a, b, cond=cond)


def _nonzero(a: np.ndarray) -> np.ndarray:
    return a != 0


def _astype(x: np.ndarray, dtype: Any) -> np.ndarray:
    try:
        np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"astype: dtype={dtype!r} is not a NumPy dtype") from exc
    if np.dtype(dtype).kind not in "fiub":
        raise TypeError(f"astype: dtype={np.dtype(dtype)} is not numeric (use np.float32, "
                        "np.float64, or an integer or bool dtype)")
    return x.astype(dtype)


astype = primitive("astype", _astype,
                   lambda g, out, x, dtype: g.astype(x.dtype),
                   drawing=Drawing(local=('g cast back',)))


# Forward rules (JVPs). An elementwise operation's Jacobian is diagonal, so its JVP is its VJP
# applied to the tangent (broadcast like the operands).
for _op in (add, sub, mul, div, neg, power, exp, log, sqrt, sin, cos, tan, tanh, square, absolute,
            relu, sigmoid, log_sigmoid, _clip, maximum, minimum, _where):
    _op.jvps = _op.vjps
    _op.batching = "elementwise"  # a tangent with batch axes broadcasts like the operands
astype.jvps = (lambda t, out, x, dtype: t.astype(dtype),)
astype.batching = "elementwise"

# What each operation computes, for help() and the API reference (elementwise, broadcasting as
# NumPy; Python numbers and arrays are accepted wherever a Tensor is).
for _op, _doc in {
    add: "``a + b``.", sub: "``a - b``.", mul: "``a * b``.", div: "``a / b``.", neg: "``-x``.",
    power: "``x ** y``; the slope of ``x ** y`` in x is 0 at x = 0 when y = 0, as PyTorch.",
    exp: "e to the power x.", log: "The natural logarithm.", sqrt: "The square root.",
    sin: "The sine (radians).", cos: "The cosine (radians).", tan: "The tangent (radians).",
    tanh: "The hyperbolic tangent.", square: "``x * x``.",
    absolute: "``|x|``; its slope at 0 is 0, as PyTorch.",
    relu: "``max(x, 0)``; its slope at 0 is 0, as PyTorch.",
    sigmoid: "The logistic sigmoid 1 / (1 + e^-x), without overflow at any x.",
    log_sigmoid: "log(sigmoid(x)), finite and exact at any finite x.",
    maximum: "The larger of a and b; on ties each gets half the gradient (and where a or b is "
             "NaN, each all of it, as PyTorch).",
    minimum: "The smaller of a and b; on ties each gets half the gradient (and where a or b is "
             "NaN, each all of it, as PyTorch).",
}.items():
    _op.__doc__ = _doc
