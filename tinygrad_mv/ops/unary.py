"""One-input ufuncs beyond the core: exponentials and logarithms in other bases, inverse
trigonometric and hyperbolic functions, angle conversions."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
