"""One-input ufuncs beyond the core: exponentials and logarithms in other bases, inverse
trigonometric and hyperbolic functions, angle conversions, fabs and positive.

Every operation is elementwise, so each JVP is its VJP applied to the tangent. Rules are written
with ufuncs that dispatch on Tensors (sinh's rule calls np.cosh, which is ``cosh`` below on a
Tensor), so second derivatives come from the rules themselves. Constants are Python floats:
float32 stays float32.

Edges follow PyTorch. At a boundary of the domain the slope is infinite (arcsin(±1),
arccosh(1), arctanh(±1), log1p(-1), reciprocal(0), cbrt(0) as torch's x ** (1/3)). Outside the
domain NumPy's value (NaN, with its RuntimeWarning) is kept and the gradient is what torch's
formula gives there: NaN for arcsin/arccos at |x| > 1 and arccosh at |x| < 1, the formula's
finite value for log2/log10/log1p, arctanh at |x| > 1 and arccosh at x < -1. The rules do
not warn at these edges.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import engine
from ..autograd import Drawing, primitive
from ..tensor import Tensor
from .elementwise import _sign

__all__: list[str] = [
    "exp2", "expm1", "log2", "log10", "log1p", "cbrt", "reciprocal", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "deg2rad", "rad2deg", "degrees",
    "radians", "fabs", "positive",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_DEG_PER_RAD = 180.0 / math.pi
_RAD_PER_DEG = math.pi / 180.0
_SINGULAR = {"divide": "ignore", "invalid": "ignore"}  # infinities and NaNs are results here


def _d(formula: str) -> Drawing:
    return Drawing(local=(formula,))


# --- exponentials and logarithms ----------------------------------------------------------------
def _exp2_rule(g: Any, out: Any, x: Any) -> Any:
    return g * (out * _LN2)


def _expm1_rule(g: Any, out: Any, x: Any) -> Any:
    return g * (out + 1)  # e^x = expm1(x) + 1: no second exp


def _log2_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):
        return g / (x * _LN2)


def _log10_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):
        return g / (x * _LN10)


def _log1p_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):
        return g / (1 + x)


_exp2 = primitive("exp2", np.exp2, _exp2_rule, drawing=_d("g·2^{0}·ln 2"))
_expm1 = primitive("expm1", np.expm1, _expm1_rule, drawing=_d("g·e^{0}"))
_log2 = primitive("log2", np.log2, _log2_rule, drawing=_d("g / ({0}·ln 2)"))
_log10 = primitive("log10", np.log10, _log10_rule, drawing=_d("g / ({0}·ln 10)"))
_log1p = primitive("log1p", np.log1p, _log1p_rule, drawing=_d("g / (1 + {0})"))


# --- powers -------------------------------------------------------------------------------------
def _cbrt_rule(g: Any, out: Any, x: Any) -> Any:
    # 1 / (3 cbrt(x)^2): +inf at 0, as torch's x ** (1/3) (torch has no cbrt)
    with np.errstate(**_SINGULAR):
        return g / (3 * (out * out))


def _reciprocal_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):  # -inf at 0 (either sign), as torch.reciprocal
        return -g * (out * out)


_cbrt = primitive("cbrt", np.cbrt, _cbrt_rule, drawing=_d("g / (3·cbrt({0})²)"))
_reciprocal = primitive("reciprocal", np.reciprocal, _reciprocal_rule,
                        drawing=_d("-g / {0}²"))


# --- inverse trigonometric ----------------------------------------------------------------------
def _arcsin_rule(g: Any, out: Any, x: Any) -> Any:
    # (1 - x)(1 + x) rather than 1 - x²: no cancellation near ±1
    with np.errstate(**_SINGULAR):
        return g / np.sqrt((1 - x) * (1 + x))


def _arccos_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):
        return -g / np.sqrt((1 - x) * (1 + x))


def _arctan_rule(g: Any, out: Any, x: Any) -> Any:
    return g / (1 + x * x)


_arcsin = primitive("arcsin", np.arcsin, _arcsin_rule, drawing=_d("g / √(1 - {0}²)"))
_arccos = primitive("arccos", np.arccos, _arccos_rule, drawing=_d("-g / √(1 - {0}²)"))
_arctan = primitive("arctan", np.arctan, _arctan_rule, drawing=_d("g / (1 + {0}²)"))


# --- hyperbolic and their inverses --------------------------------------------------------------
def _sinh_rule(g: Any, out: Any, x: Any) -> Any:
    return g * np.cosh(x)  # on Tensors: cosh below, so sinh is differentiable twice


def _cosh_rule(g: Any, out: Any, x: Any) -> Any:
    return g * np.sinh(x)


def _arcsinh_rule(g: Any, out: Any, x: Any) -> Any:
    return g / np.sqrt(x * x + 1)


def _arccosh_rule(g: Any, out: Any, x: Any) -> Any:
    # 1 / sqrt(x² - 1) as sqrt(|x| - 1)·sqrt(|x| + 1): no cancellation near 1, and torch's
    # finite value at x < -1 (where the result itself is NaN)
    a = np.abs(x)
    with np.errstate(**_SINGULAR):
        return g / (np.sqrt(a - 1) * np.sqrt(a + 1))


def _arctanh_rule(g: Any, out: Any, x: Any) -> Any:
    with np.errstate(**_SINGULAR):
        return g / ((1 - x) * (1 + x))


_sinh = primitive("sinh", np.sinh, _sinh_rule, drawing=_d("g·cosh({0})"))
_cosh = primitive("cosh", np.cosh, _cosh_rule, drawing=_d("g·sinh({0})"))
_arcsinh = primitive("arcsinh", np.arcsinh, _arcsinh_rule, drawing=_d("g / √({0}² + 1)"))
_arccosh = primitive("arccosh", np.arccosh, _arccosh_rule, drawing=_d("g / √({0}² - 1)"))
_arctanh = primitive("arctanh", np.arctanh, _arctanh_rule, drawing=_d("g / (1 - {0}²)"))


# --- angles, fabs, positive ---------------------------------------------------------------------
# rad2deg/degrees and deg2rad/radians are the same ufunc under two names: one primitive each.
_rad2deg = primitive("rad2deg", np.rad2deg, lambda g, out, x: g * _DEG_PER_RAD,
                     drawing=_d("g·180/π"))
_deg2rad = primitive("deg2rad", np.deg2rad, lambda g, out, x: g * _RAD_PER_DEG,
                     drawing=_d("g·π/180"))
# fabs is abs: slope sign(x), 0 at 0 (as torch.abs)
_fabs = primitive("fabs", np.fabs, lambda g, out, x: g * _sign(x), drawing=_d("g·sign({0})"))
# the identity, recorded as its own operation (a copy: never a view of x)
_positive = primitive("positive", np.positive, lambda g, out, x: g, drawing=_d("g"))
engine.register_copy(_positive)  # .grad under create_graph: never a Tensor held elsewhere

# Elementwise: each JVP is the VJP applied to the tangent.
for _op in (_exp2, _expm1, _log2, _log10, _log1p, _cbrt, _reciprocal, _arcsin, _arccos, _arctan,
            _sinh, _cosh, _arcsinh, _arccosh, _arctanh, _rad2deg, _deg2rad, _fabs, _positive):
    _op.jvps = _op.vjps
    _op.batching = "elementwise"


# --- public functions ---------------------------------------------------------------------------
def _operand(name: str, x: Any) -> Any:
    """``x`` checked for ``name``; integer and bool numbers become floats (np.reciprocal(2) is
    the integer 0, np.positive(2) an integer)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)) or isinstance(x, np.generic) and x.dtype.kind in "biu":
        return float(x)
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        kind = np.asarray(x).dtype.kind
        if kind not in "biuf":
            raise TypeError(f"{name}: expected real numbers, got an array of dtype "
                            f"{np.asarray(x).dtype}")
        return x
    raise TypeError(f"{name}: expected a Tensor, a NumPy array or a number, got "
                    f"{type(x).__name__}")


def exp2(x: Any) -> Tensor:
    """2 ** x, elementwise."""
    return _exp2(_operand("exp2", x))


def expm1(x: Any) -> Tensor:
    """e ** x - 1, accurate for small x."""
    return _expm1(_operand("expm1", x))


def log2(x: Any) -> Tensor:
    """Base-2 logarithm."""
    return _log2(_operand("log2", x))


def log10(x: Any) -> Tensor:
    """Base-10 logarithm."""
    return _log10(_operand("log10", x))


def log1p(x: Any) -> Tensor:
    """log(1 + x), accurate for small x."""
    return _log1p(_operand("log1p", x))


def cbrt(x: Any) -> Tensor:
    """Real cube root (negative for negative x); infinite slope at 0."""
    return _cbrt(_operand("cbrt", x))


def reciprocal(x: Any) -> Tensor:
    """1 / x; integers are taken as floats."""
    return _reciprocal(_operand("reciprocal", x))


def arcsin(x: Any) -> Tensor:
    """Inverse sine (NaN outside [-1, 1], as NumPy)."""
    return _arcsin(_operand("arcsin", x))


def arccos(x: Any) -> Tensor:
    """Inverse cosine (NaN outside [-1, 1], as NumPy)."""
    return _arccos(_operand("arccos", x))


def arctan(x: Any) -> Tensor:
    """Inverse tangent."""
    return _arctan(_operand("arctan", x))


def sinh(x: Any) -> Tensor:
    """Hyperbolic sine."""
    return _sinh(_operand("sinh", x))


def cosh(x: Any) -> Tensor:
    """Hyperbolic cosine."""
    return _cosh(_operand("cosh", x))


def arcsinh(x: Any) -> Tensor:
    """Inverse hyperbolic sine."""
    return _arcsinh(_operand("arcsinh", x))


def arccosh(x: Any) -> Tensor:
    """Inverse hyperbolic cosine (NaN below 1, as NumPy)."""
    return _arccosh(_operand("arccosh", x))


def arctanh(x: Any) -> Tensor:
    """Inverse hyperbolic tangent (±inf at ±1, NaN outside [-1, 1], as NumPy)."""
    return _arctanh(_operand("arctanh", x))


def rad2deg(x: Any) -> Tensor:
    """Radians to degrees."""
    return _rad2deg(_operand("rad2deg", x))


def degrees(x: Any) -> Tensor:
    """Radians to degrees (the same operation as rad2deg)."""
    return _rad2deg(_operand("degrees", x))


def deg2rad(x: Any) -> Tensor:
    """Degrees to radians."""
    return _deg2rad(_operand("deg2rad", x))


def radians(x: Any) -> Tensor:
    """Degrees to radians (the same operation as deg2rad)."""
    return _deg2rad(_operand("radians", x))


def fabs(x: Any) -> Tensor:
    """Absolute value; its gradient is sign(x), 0 at 0."""
    return _fabs(_operand("fabs", x))


def positive(x: Any) -> Tensor:
    """+x: a copy, recorded on the tape as its own operation."""
    return _positive(_operand("positive", x))


# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it
# (np.positive replaces the plain identity there).
NUMPY: dict[Any, Callable[..., Any]] = {
    np.exp2: exp2, np.expm1: expm1, np.log2: log2, np.log10: log10, np.log1p: log1p,
    np.cbrt: cbrt, np.reciprocal: reciprocal, np.arcsin: arcsin, np.arccos: arccos,
    np.arctan: arctan, np.sinh: sinh, np.cosh: cosh, np.arcsinh: arcsinh, np.arccosh: arccosh,
    np.arctanh: arctanh, np.rad2deg: rad2deg, np.degrees: degrees, np.deg2rad: deg2rad,
    np.radians: radians, np.fabs: fabs, np.positive: positive,
}
