"""The piecewise-constant ufuncs sign, floor, ceil, trunc and rint: NumPy's values, and slope 0
wherever it exists (as PyTorch), in both modes.

Their rules return constant zeros rather than ``g * 0`` (NaN where g is infinite; PyTorch's
rules are ``zeros_like(grad)`` too), so their second derivatives are zero as well. The
private ``floor_divide`` serves ``mod``'s gradient in binary.py.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor, _make

__all__: list[str] = ["sign", "floor", "ceil", "trunc", "rint"]


def zero_rule(g: Any, out: Any, *inputs: Any, **params: Any) -> Any:
    """VJP and JVP of a piecewise-constant function: zeros shaped like ``g`` (reads no value,
    so a node saves none), a Tensor without a graph when the rules run on Tensors."""
    zeros = np.zeros(g.shape, dtype=g.dtype)
    return _make(zeros, None) if isinstance(g, Tensor) else zeros


def _step(name: str, forward: Callable[..., Any], formula: str) -> Callable[..., Any]:
    op = primitive(name, forward, zero_rule,
                   drawing=Drawing(local=('0',), formula=formula))
    op.jvps = op.vjps  # zero tangents too
    op.batching = "elementwise"
    return op


_sign = _step("sign", np.sign, "sign({0})")
_floor = _step("floor", np.floor, "⌊{0}⌋")
_ceil = _step("ceil", np.ceil, "⌈{0}⌉")
_trunc = _step("trunc", np.trunc, "trunc({0})")
_rint = _step("rint", np.rint, "rint({0})")

# x // y as NumPy computes it (consistent with np.remainder); not public: PyTorch gives
# floor_divide no derivative at all. mod's rule calls it on Tensors.
floor_divide = primitive("floor_divide", np.floor_divide, zero_rule, zero_rule,
                         drawing=Drawing(roles=('dividend', 'divisor'), local=('0', '0'),
                                         formula='{0} // {1}', elementwise=True))
floor_divide.jvps = floor_divide.vjps
floor_divide.batching = "elementwise"


def float_number(x: Any) -> Any:
    """An integer or bool number (Python's or NumPy's) as a float, so that the result is a float
    Tensor as for arrays of them (np.sign(2) and np.mod(7, 3) are integers)."""
    return float(x) if isinstance(x, (bool, int, np.bool_, np.integer)) else x


def _unary(op: Callable[..., Any], name: str, x: Any, kwargs: dict) -> Tensor:
    if kwargs:
        raise TypeError(f"{name}: unsupported keyword argument(s) {', '.join(sorted(kwargs))} "
                        "(it returns a new Tensor: no out=, where=, dtype=, ...)")
    try:
        return op(float_number(x))
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from exc


def sign(x: Any, /, **kwargs: Any) -> Tensor:
    """-1, 0 or 1 by the sign of x (NaN stays NaN); slope 0 (also at 0, as PyTorch)."""
    return _unary(_sign, "sign", x, kwargs)


def floor(x: Any, /, **kwargs: Any) -> Tensor:
    """The largest integer <= x; slope 0."""
    return _unary(_floor, "floor", x, kwargs)


def ceil(x: Any, /, **kwargs: Any) -> Tensor:
    """The smallest integer >= x; slope 0."""
    return _unary(_ceil, "ceil", x, kwargs)


def trunc(x: Any, /, **kwargs: Any) -> Tensor:
    """x rounded toward zero; slope 0."""
    return _unary(_trunc, "trunc", x, kwargs)


def rint(x: Any, /, **kwargs: Any) -> Tensor:
    """x rounded to the nearest integer, halves to even (as torch.round); slope 0."""
    return _unary(_rint, "rint", x, kwargs)


# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {
    np.sign: sign, np.floor: floor, np.ceil: ceil, np.trunc: trunc, np.rint: rint,
}
