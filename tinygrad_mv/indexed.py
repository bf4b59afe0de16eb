"""A gradient that is zero except at an index: what indexing's rule hands the engine on arrays, so
that slices' gradients are added into a buffer the engine owns instead of each materialising a
zero-filled array."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["IndexedGrad", "scatter"]


class IndexedGrad:
    """A gradient that is zero except at ``index``, where it is ``values`` (repeated positions
    add up): what indexing's rule returns on arrays, so the engine can add it into a gradient
    buffer it owns instead of materialising a zero-filled array per slice."""

    __slots__ = ("values", "index", "full_shape", "unique")
    shape = None  # never equal to a real shape: the engine takes the slow path for it

    def __init__(self, values: np.ndarray, index: Any, full_shape: tuple, unique: bool) -> None:
        self.values = values
        self.index = index
        self.full_shape = full_shape
        self.unique = unique

    def add_into(self, buffer: np.ndarray) -> None:
        if self.unique:
            buffer[self.index] += self.values
        else:
            np.add.at(buffer, self.index, self.values)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        full = np.zeros(self.full_shape, dtype=dtype or self.values.dtype)
        if self.unique:
            full[self.index] = self.values
        else:
            np.add.at(full, self.index, self.values)
        return full


def scatter(values: np.ndarray, index: Any, full_shape: tuple, unique: bool) -> np.ndarray:
    """An :class:`IndexedGrad` as a full array (zeros elsewhere)."""
    return IndexedGrad(values, index, full_shape, unique).__array__()
