"""Products, running sums and products, and statistics along axes: prod, cumsum, cumprod, var, std,
average, sort, diff."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
