"""Tensor's operators and op methods, bound onto the class here: tensor.py, a layer below the
operations, knows none of them. Each method is a thin call of a primitive (or of a function that
checks its arguments and calls one)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
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
        return transpose(self)

    # --- NumPy interop ------------------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
        return array_function(func, args, kwargs)

    # --- operators ----------------------------------------------------------------------------
    def __radd__(self, other: Any) -> Tensor:
        return add(other, self)

    def __rsub__(self, other: Any) -> Tensor:
        return sub(other, self)

    def __rmul__(self, other: Any) -> Tensor:
        return mul(other, self)

    def __rtruediv__(self, other: Any) -> Tensor:
        return div(other, self)

    def __rpow__(self, other: Any) -> Tensor:
        return power(other, self)

    def __rmod__(self, other: Any) -> Tensor:
        return mod(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return absolute(self)

    def __getitem__(self, index: Any) -> Tensor:
        return getitem(self, index)

    # --- elementwise --------------------------------------------------------------------------
    def exp(self) -> Tensor:
        return exp(self)

    def log(self) -> Tensor:
        return log(self)

    def sqrt(self) -> Tensor:
        return sqrt(self)

    def sin(self) -> Tensor:
        return sin(self)

    def cos(self) -> Tensor:
        return cos(self)

    def tan(self) -> Tensor:
        return tan(self)

    def tanh(self) -> Tensor:
        return tanh(self)

    def sigmoid(self) -> Tensor:
        return sigmoid(self)

    def relu(self) -> Tensor:
        return relu(self)

    def abs(self) -> Tensor:
        return absolute(self)

    def square(self) -> Tensor:
        return square(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        return clip(self, lo, hi)

    def astype(self, dtype: Any) -> Tensor:
        return astype(self, dtype=dtype)  # a static parameter, not an operand

    # --- reductions ---------------------------------------------------------------------------
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return sum(self, axis, keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return mean(self, axis, keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return max(self, axis, keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return min(self, axis, keepdims)

    def prod(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return prod(self, axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return var(self, axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return std(self, axis, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis: Any = None) -> Tensor:
        return cumsum(self, axis)

    def cumprod(self, axis: Any = None) -> Tensor:
        return cumprod(self, axis)

    # --- shape --------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        return reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            axes = axes[0]
        elif (len(axes) == 2 and self.data.ndim == 2
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
        return swapaxes(self, axis1, axis2)

    def flatten(self) -> Tensor:
        return flatten(self)

    def squeeze(self, axis: Any = None) -> Tensor:
        return squeeze(self, axis)

    def unsqueeze(self, axis: int) -> Tensor:
        return unsqueeze(self, axis)

    def broadcast_to(self, shape: Any) -> Tensor:
        return broadcast_to(self, shape)

    def dot(self, other: Any) -> Tensor:
        return dot(self, other)




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
# In-place operators write into .data (ops/inplace.py), as PyTorch's.
Tensor.__iadd__ = iadd  # type: ignore[attr-defined]
Tensor.__isub__ = isub  # type: ignore[attr-defined]
Tensor.__imul__ = imul  # type: ignore[attr-defined]
Tensor.__itruediv__ = itruediv  # type: ignore[attr-defined]
Tensor.__ipow__ = ipow  # type: ignore[attr-defined]
Tensor.__setitem__ = setitem  # type: ignore[attr-defined]

