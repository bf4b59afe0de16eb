"""Two-input ufuncs beyond the core: float_power, arctan2, hypot, fmax/fmin, logaddexp(2),
copysign, mod and fmod.

Each broadcasts like NumPy (Tensors, arrays or numbers in either place); its rules return the
gradient in the broadcast shape and the engine sums it back to each operand's shape. All are
elementwise, so each JVP is its VJP applied to the tangent. Conventions where a derivative
does not exist follow PyTorch; the comments say which.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor
from . import rounding
from .elementwise import _pow_dbase, _pow_dexponent
from .rounding import zero_rule

__all__: list[str] = [
    "float_power", "arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "copysign",
    "mod", "remainder", "fmod",
]

_LN2 = float(np.log(2.0))


def _binary(name: str, forward: Callable[..., Any], dx: Callable, dy: Callable,
            local: tuple[str, str], roles: tuple[str, ...] = ('a', 'b'),
            formula: str | None = None, commutative: bool = False) -> Callable[..., Any]:
    op = primitive(name, forward, dx, dy,
                   drawing=Drawing(roles=() if commutative else roles, local=local,
                                   formula=formula, commutative=commutative, elementwise=True))
    op.jvps = op.vjps  # elementwise: each rule is g times a local derivative
    op.batching = "elementwise"
    return op


def _call(op: Callable[..., Any], name: str, x1: Any, x2: Any, kwargs: dict) -> Tensor:
    if kwargs:
        raise TypeError(f"{name}: unsupported keyword argument(s) {', '.join(sorted(kwargs))} "
                        "(it returns a new Tensor: no out=, where=, dtype=, ...)")
    try:
        return op(rounding.float_number(x1), rounding.float_number(x2))
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from exc


# --- float_power: x ** y computed in float64 ------------------------------------------------
def _f64(v: Any) -> Any:
    """v in float64: float_power differentiates in the precision it computes in (a float32
    tangent, too: g * y would round a number y to float32)."""
    return v.astype(np.float64) if getattr(v, "dtype", np.float64) != np.float64 else v


# pow's rules, so pow's conventions at base 0 (as PyTorch's float_power).
_float_power = _binary(
    "float_power", np.float_power,
    lambda g, out, x, y: _pow_dbase(_f64(g), out, _f64(x), _f64(y)),
    lambda g, out, x, y: _pow_dexponent(_f64(g), out, _f64(x), _f64(y)),
    ('g·{1}·{0}^({1}-1)', 'g·{0}^{1}·ln {0}'), roles=('base', 'exponent'), formula='{0}^{1}')


# --- arctan2 --------------------------------------------------------------------------------
def _inverse_radius2(y: Any, x: Any) -> Any:
    """1 / (x² + y²), and 0 where that is 0: both slopes are 0 at the origin, as PyTorch's."""
    r2 = x * x + y * y
    return 1 / np.where(r2 == 0, np.inf, r2)


_arctan2 = _binary(
    "arctan2", np.arctan2,
    lambda g, out, y, x: g * x * _inverse_radius2(y, x),
    lambda g, out, y, x: -g * y * _inverse_radius2(y, x),
    ('g·{1} / ({0}² + {1}²)', '-g·{0} / ({0}² + {1}²)'), roles=('y', 'x'),
    formula='atan2({0}, {1})')


# --- hypot ----------------------------------------------------------------------------------
def _hypot_rule(g: Any, out: Any, v: Any) -> Any:
    with np.errstate(invalid="ignore"):  # 0/0 = NaN at the origin, as PyTorch
        return g * v / out


_hypot = _binary(
    "hypot", np.hypot,
    lambda g, out, x, y: _hypot_rule(g, out, x),
    lambda g, out, x, y: _hypot_rule(g, out, y),
    ('g·{0} / hypot', 'g·{1} / hypot'), formula='hypot({0}, {1})', commutative=True)


# --- fmax, fmin: maximum/minimum that ignore NaN ---------------------------------------------
# The whole gradient goes to the operand chosen: to x on ties and where y is NaN (two NaNs
# included), to y where only x is NaN, as torch.fmax/fmin (no shared ties, unlike maximum).
# (A + of bool masks is their "or", on arrays and Tensors alike.)
def _fmax_takes_x(x: Any, y: Any) -> Any:
    return (x >= y) + (y != y)


def _fmin_takes_x(x: Any, y: Any) -> Any:
    return (x <= y) + (y != y)


_fmax = _binary(
    "fmax", np.fmax,
    lambda g, out, x, y: np.where(_fmax_takes_x(x, y), g, 0.0),
    lambda g, out, x, y: np.where(_fmax_takes_x(x, y), 0.0, g),
    ('g·[{0} ≥ {1} or {1} NaN]', 'g·[{1} > {0} or {0} NaN]'))
_fmin = _binary(
    "fmin", np.fmin,
    lambda g, out, x, y: np.where(_fmin_takes_x(x, y), g, 0.0),
    lambda g, out, x, y: np.where(_fmin_takes_x(x, y), 0.0, g),
    ('g·[{0} ≤ {1} or {1} NaN]', 'g·[{1} < {0} or {0} NaN]'))


# --- logaddexp, logaddexp2 --------------------------------------------------------------------
# d/dx log(e^x + e^y) = 1 / (1 + e^(y - x)), PyTorch's form: exact at large |x - y| (e^(y - x)
# overflowing to inf gives 0, silently), and 1 at x = inf > y where e^(x - out) would be NaN.
def _logaddexp_rule(g: Any, x: Any, y: Any) -> Any:
    with np.errstate(over="ignore"):
        return g / (1 + np.exp(y - x))


def _logaddexp2_rule(g: Any, x: Any, y: Any) -> Any:
    with np.errstate(over="ignore"):
        return g / (1 + np.exp((y - x) * _LN2))  # 2^(y - x)


_logaddexp = _binary(
    "logaddexp", np.logaddexp,
    lambda g, out, x, y: _logaddexp_rule(g, x, y),
    lambda g, out, x, y: _logaddexp_rule(g, y, x),
    ('g / (1 + exp({1} - {0}))', 'g / (1 + exp({0} - {1}))'), formula='log(e^{0} + e^{1})',
    commutative=True)
_logaddexp2 = _binary(
    "logaddexp2", np.logaddexp2,
    lambda g, out, x, y: _logaddexp2_rule(g, x, y),
    lambda g, out, x, y: _logaddexp2_rule(g, y, x),
    ('g / (1 + 2^({1} - {0}))', 'g / (1 + 2^({0} - {1}))'), formula='log2(2^{0} + 2^{1})',
    commutative=True)


# --- copysign -------------------------------------------------------------------------------
def _copysign_dx(g: Any, out: Any, x: Any, y: Any) -> Any:
    # out / x is ±1, and 0 at x = 0 (as PyTorch): out is ±0 there, over a safe denominator.
    return g * (out / np.where(x == 0, 1.0, x))


_copysign = _binary("copysign", np.copysign, _copysign_dx, zero_rule,
                    ('g·copysign({0}, {1}) / {0}', '0'), roles=('magnitude', 'sign'))


# --- mod (np.remainder, Python's sign convention) and fmod (C's) ----------------------------
def _floor_quotient(x: Any, y: Any) -> Any:
    """x // y as NumPy and PyTorch compute it, consistent with remainder's value (1 // 0.1 is 9,
    where floor(1 / 0.1) is 10); x / y (±inf) where y is 0. On Tensors a recorded primitive
    with slope 0, so a tg.jit replay recomputes it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(x, Tensor) or isinstance(y, Tensor):
            return rounding.floor_divide(x, y)
        return np.floor_divide(x, y)


def _trunc_quotient(x: Any, y: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.trunc(x / y)  # rounding.trunc on Tensors (numpy_interop), as PyTorch's fmod


_mod = _binary("mod", np.remainder,
               lambda g, out, x, y: g,
               lambda g, out, x, y: -g * _floor_quotient(x, y),
               ('g', '-g·⌊{0} / {1}⌋'), roles=('dividend', 'divisor'), formula='{0} mod {1}')
_fmod = _binary("fmod", np.fmod,
                lambda g, out, x, y: g,
                lambda g, out, x, y: -g * _trunc_quotient(x, y),
                ('g', '-g·trunc({0} / {1})'), roles=('dividend', 'divisor'),
                formula='fmod({0}, {1})')


# --- public functions -----------------------------------------------------------------------
def float_power(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """x1 ** x2 in float64 (float32 operands give float64, as np.float_power); its derivatives
    are pow's."""
    return _call(_float_power, "float_power", x1, x2, kwargs)


def arctan2(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """The angle of the point (x2, x1): arctan(x1 / x2) in the right quadrant."""
    return _call(_arctan2, "arctan2", x1, x2, kwargs)


def hypot(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """sqrt(x1² + x2²) without overflow; its slopes are NaN at the origin, as PyTorch's."""
    return _call(_hypot, "hypot", x1, x2, kwargs)


def fmax(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """Elementwise maximum that ignores NaN; the gradient goes to the operand chosen (to x1 on
    ties)."""
    return _call(_fmax, "fmax", x1, x2, kwargs)


def fmin(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """Elementwise minimum that ignores NaN; the gradient goes to the operand chosen (to x1 on
    ties)."""
    return _call(_fmin, "fmin", x1, x2, kwargs)


def logaddexp(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """log(exp(x1) + exp(x2)), without overflow."""
    return _call(_logaddexp, "logaddexp", x1, x2, kwargs)


def logaddexp2(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """log2(2**x1 + 2**x2), without overflow."""
    return _call(_logaddexp2, "logaddexp2", x1, x2, kwargs)


def copysign(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """|x1| with the sign of x2; no gradient flows to x2."""
    return _call(_copysign, "copysign", x1, x2, kwargs)


def mod(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """x1 - x2 * floor(x1 / x2): the remainder with the divisor's sign (np.mod, np.remainder,
    Python's %)."""
    return _call(_mod, "mod", x1, x2, kwargs)


remainder = mod


def fmod(x1: Any, x2: Any, /, **kwargs: Any) -> Tensor:
    """x1 - x2 * trunc(x1 / x2): the remainder with the dividend's sign (C's fmod)."""
    return _call(_fmod, "fmod", x1, x2, kwargs)


# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
# (np.mod is np.remainder, np.atan2 is np.arctan2: one ufunc object each.)
NUMPY: dict[Any, Callable[..., Any]] = {
    np.float_power: float_power, np.arctan2: arctan2, np.hypot: hypot, np.fmax: fmax,
    np.fmin: fmin, np.logaddexp: logaddexp, np.logaddexp2: logaddexp2, np.copysign: copysign,
    np.remainder: mod, np.fmod: fmod,
}
