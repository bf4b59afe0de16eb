"""Tensor's operators and op methods, bound onto the class here: tensor.py, a layer below the
operations, knows none of them. Each method is a thin call of a primitive (or of a function that
checks its arguments and calls one)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import autograd
from ..tensor import Tensor, _compare, _make
from .elementwise import (
    absolute, add, astype, clip, cos, div, exp, log, mul, neg, power, relu, sigmoid, sin, sqrt,
    square, sub, tan, tanh,
)
from .binary import mod
from .inplace import iadd, imul, ipow, isub, itruediv, setitem
from .linalg import dot, matmul
from .numpy_interop import array_function, array_ufunc
from .reduce import max, mean, min, sum
from .statistics import cumprod, cumsum, prod, std, var
from .shape import (
    broadcast_to, flatten, getitem, reshape, squeeze, swapaxes, transpose, unsqueeze,
)


class _TensorMethods:
    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed), as NumPy's ``.T``."""
        return transpose(self)

    # --- NumPy interop ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        return array_function(func, args, kwargs)

    # --- operators ----------------------------------------------------------------------------
    def __radd__(self, other: Any) -> Tensor:
        """``other + self``."""
        return add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        """``other - self``."""
        return sub(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        """``other * self``."""
        return mul(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        """``other / self``."""
        return div(other, self)

    def __rpow__(self, other: Any) -> Tensor:
        """``other ** self``."""
        return power(other, self)

    def __rmod__(self, other: Any) -> Tensor:
        """``other % self`` (NumPy's remainder)."""
        return mod(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        """``self @ other``."""
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        """``other @ self``."""
        return matmul(other, self)

    def __pos__(self) -> Tensor:
        """``+self``: the Tensor itself."""
        return self

    def __abs__(self) -> Tensor:
        """``abs(self)``: the absolute value, elementwise."""
        return absolute(self)

    # --- logical operators on masks (no gradient), as PyTorch's -------------------------------
    def __and__(self, other: Any) -> Tensor:
        """``self & other``: elementwise and of bool (or integer) tensors, e.g. two masks
        (``(x > 0) & (x < 1)``), as PyTorch's: a Tensor without grad; float tensors raise
        ``TypeError``."""
        return _bitwise(np.bitwise_and, "&", self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _bitwise(np.bitwise_and, "&", other, self)

    def __or__(self, other: Any) -> Tensor:
        """``self | other``: elementwise or of bool (or integer) tensors."""
        return _bitwise(np.bitwise_or, "|", self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _bitwise(np.bitwise_or, "|", other, self)

    def __xor__(self, other: Any) -> Tensor:
        """``self ^ other``: elementwise exclusive or of bool (or integer) tensors."""
        return _bitwise(np.bitwise_xor, "^", self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _bitwise(np.bitwise_xor, "^", other, self)

    def __invert__(self) -> Tensor:
        """``~self``: elementwise not of a bool tensor (bitwise not of an integer one)."""
        _integral("~", self)
        result = np.invert(self._data)
        tracer = autograd._tracer
        if tracer is not None:
            tracer.read(self)
            tracer.record_call(autograd._ndarray_result(np.invert), (self._data,), result)
        return _make(np.asarray(result), None)

    # --- elementwise --------------------------------------------------------------------------
    def exp(self) -> Tensor:
        """e to the power of each element."""
        return exp(self)

    def log(self) -> Tensor:
        """The natural logarithm of each element."""
        return log(self)

    def sqrt(self) -> Tensor:
        """The square root of each element."""
        return sqrt(self)

    def sin(self) -> Tensor:
        """The sine of each element (radians)."""
        return sin(self)

    def cos(self) -> Tensor:
        """The cosine of each element (radians)."""
        return cos(self)

    def tan(self) -> Tensor:
        """The tangent of each element (radians)."""
        return tan(self)

    def tanh(self) -> Tensor:
        """The hyperbolic tangent of each element."""
        return tanh(self)

    def sigmoid(self) -> Tensor:
        """The logistic sigmoid 1 / (1 + e^-x) of each element."""
        return sigmoid(self)

    def relu(self) -> Tensor:
        """max(x, 0) for each element."""
        return relu(self)

    def abs(self) -> Tensor:
        """The absolute value of each element."""
        return absolute(self)

    def square(self) -> Tensor:
        """The square of each element."""
        return square(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Each element clamped to [lo, hi] (either may be None)."""
        return clip(self, lo, hi)

    def astype(self, dtype: Any) -> Tensor:
        """The values cast to ``dtype`` (the gradient is cast back)."""
        return astype(self, dtype=dtype)  # a static parameter, not an operand

    # --- reductions ---------------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The sum over ``axis`` (an int, a tuple or None: all)."""
        return sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The mean over ``axis`` (an int, a tuple or None: all)."""
        return mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The maximum over ``axis``; ties share the gradient equally."""
        return max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The minimum over ``axis``; ties share the gradient equally."""
        return min(self, axis, keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """The product over ``axis`` (exact gradients with zeros)."""
        return prod(self, axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """The variance over ``axis``, with ``ddof`` as NumPy's."""
        return var(self, axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        """The standard deviation over ``axis``, with ``ddof`` as NumPy's."""
        return std(self, axis, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis: Any = None) -> Tensor:
        """The running sum along ``axis`` (None: the flattened tensor)."""
        return cumsum(self, axis)

    def cumprod(self, axis: Any = None) -> Tensor:
        """The running product along ``axis`` (None: the flattened tensor)."""
        return cumprod(self, axis)

    # --- shape --------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """The same values in another shape: ``reshape(2, 3)`` or ``reshape((2, 3))``."""
        return reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Tensor:
        """NumPy's permutation of the axes (reversed when none are given)."""
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            axes = axes[0]
        elif (len(axes) == 2 and self._data.ndim == 2
              and all(isinstance(a, (int, np.integer)) for a in axes)
              and all(-2 <= a < 2 for a in axes) and tuple(int(a) % 2 for a in axes) == (0, 1)):
            # NumPy's permutation (0, 1) is the identity; PyTorch's transpose(0, 1) swaps:
            # refused rather than silently returned unswapped.
            raise ValueError(
                f"transpose{tuple(int(a) for a in axes)} on a 2-D tensor of shape {self.shape} "
                "is ambiguous: as NumPy's permutation it leaves the tensor unchanged, as "
                "PyTorch's transpose(0, 1) it swaps the axes. Use .T (or swapaxes(0, 1)) to swap; "
                "transpose() reverses the axes.")
        return transpose(self, axes or None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """The tensor with two axes swapped."""
        return swapaxes(self, axis1, axis2)

    def flatten(self) -> Tensor:
        """The values as a 1-D tensor."""
        return flatten(self)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Without axes of length one (all of them when ``axis`` is None)."""
        return squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        """With a new axis of length one at ``axis``."""
        return unsqueeze(self, axis)

    def broadcast_to(self, shape: Any) -> Tensor:
        """The values broadcast to ``shape`` (the gradient is summed back)."""
        return broadcast_to(self, shape)

    def dot(self, other: Any) -> Tensor:
        """``np.dot`` of two tensors of up to two dimensions."""
        return dot(self, other)




def _integral(symbol: str, *operands: Any) -> None:
    """Refuse floating operands of a logical operator (as PyTorch: there is no float ``&``)."""
    for v in operands:
        kind = np.asarray(v._data if isinstance(v, Tensor) else v).dtype.kind
        if kind not in "biu":
            dtype = v.dtype if isinstance(v, (Tensor, np.ndarray, np.generic)) else type(v).__name__
            raise TypeError(f"'{symbol}' takes bool or integer tensors (masks, such as x > 0), got "
                            f"{dtype}; compare first (x > 0) or use tg.where")


def _bitwise(ufunc: np.ufunc, symbol: str, a: Any, b: Any) -> Tensor:
    if not all(isinstance(v, (Tensor, bool, int, np.ndarray, np.generic)) for v in (a, b)):
        return NotImplemented
    _integral(symbol, a, b)
    return _compare(ufunc, a, b)  # as a comparison: a Tensor that never requires grad


for _name, _member in vars(_TensorMethods).items():
    if _name not in ("__module__", "__qualname__", "__dict__", "__weakref__", "__doc__"):
        setattr(Tensor, _name, _member)

# Operators whose operand order matches the primitive's call the primitive directly: one Python
# frame less per operation, the main cost at small sizes.
Tensor.__add__ = add  # type: ignore[method-assign,assignment]
Tensor.__sub__ = sub  # type: ignore[method-assign,assignment]
Tensor.__mul__ = mul  # type: ignore[method-assign,assignment]
Tensor.__truediv__ = div  # type: ignore[method-assign,assignment]
Tensor.__pow__ = power  # type: ignore[method-assign,assignment]
Tensor.__mod__ = mod  # type: ignore[method-assign,assignment]
Tensor.__neg__ = neg  # type: ignore[method-assign,assignment]
Tensor.__getitem__ = getitem  # type: ignore[method-assign,assignment]
# In-place operators write into .data (ops/inplace.py), as PyTorch's.
Tensor.__iadd__ = iadd  # type: ignore[attr-defined]
Tensor.__isub__ = isub  # type: ignore[attr-defined]
Tensor.__imul__ = imul  # type: ignore[attr-defined]
Tensor.__itruediv__ = itruediv  # type: ignore[attr-defined]
Tensor.__ipow__ = ipow  # type: ignore[attr-defined]
Tensor.__setitem__ = setitem  # type: ignore[attr-defined]

