"""Matrix functions for tg.linalg: norm, det, slogdet, inv, solve (gradients through solves, never
cofactors)."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
