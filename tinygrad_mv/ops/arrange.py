"""Rearranging values: tile, repeat, flip, roll, pad, expand_dims, moveaxis, swapaxes, triu, tril,
diag, trace."""
from __future__ import annotations

from typing import Any, Callable

__all__: list[str] = []

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}
