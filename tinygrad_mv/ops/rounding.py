"""The piecewise-constant ufuncs sign, floor, ceil, trunc and rint: NumPy's values, and slope 0
wherever it exists (as PyTorch), in both modes."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
