"""Two-input ufuncs beyond the core: float_power, arctan2, hypot, fmax/fmin, logaddexp(2),
copysign, mod and fmod."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
