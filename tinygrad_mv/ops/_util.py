"""Small helpers the rules share. Rules receive NumPy arrays (first-order backward) or Tensors
(``create_graph=True``); these helpers read values without recording anything."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import Tensor, _make


def value(x: Any) -> Any:
    """The NumPy value of an array or Tensor: masks and weights derived from it are constants."""
    return x._data if isinstance(x, Tensor) else x


def constant_like(array: np.ndarray, reference: Any) -> Any:
    """A constant a rule makes from shapes alone (an identity, ones), as a Tensor without a graph
    where the rule runs on Tensors: tg.jit, recording such a pass, refuses a bare array there,
    which it cannot tell from a mask read from the data."""
    return _make(array, None) if isinstance(reference, Tensor) else array


def batch_shape(t: Any, x: Any) -> tuple[int, ...]:
    """The leading axes a tangent ``t`` carries beyond its input ``x``'s shape: ``tg.jacfwd`` sends
    every basis tangent through in one pass, stacked on a leading axis, and a rule that marks its
    operation ``batching = "trailing"`` acts on the trailing axes only."""
    return t.shape[:t.ndim - x.ndim]


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axes: tuple = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:  # 1.5 or "a" would fail deep in NumPy (or be iterated character by character)
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
        # A 0-d tensor accepts axis 0 or -1 and has nothing to reduce, as in PyTorch.
        # AxisError is both a ValueError (NumPy's habit) and an IndexError (PyTorch's).
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise np.exceptions.AxisError(
                f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def keepdims_shape(shape: tuple, axis: Any, op: str) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = normalize_axes(axis, len(shape), op)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def broadcast_number(number: np.ndarray, shape: tuple) -> np.ndarray:
    """A one-element array as a read-only array of ``shape`` with no memory of its own (every
    stride 0): what np.broadcast_to gives, by one C call instead of its Python (a tenth of the
    cost). The engine never writes into a gradient it did not allocate."""
    view = np.ndarray(shape, number.dtype, number, 0, (0,) * len(shape))
    view.flags.writeable = False
    return view


def expand(g: Any, shape: tuple) -> Any:
    """``g`` broadcast to ``shape``: a read-only view (no memory written) for one number from
    1,024 elements (a sum's gradient) and for large arrays; a fresh array for small ones, where
    filling is cheaper than making the view and ufuncs are faster on it; a recorded broadcast for
    Tensors."""
    if isinstance(g, Tensor):
        return np.broadcast_to(g, shape)
    size = math.prod(shape)
    if size > 1_024 and (type(g) is np.ndarray and g.size == 1 or isinstance(g, np.generic)):
        return broadcast_number(np.asarray(g), shape)  # (a mean's g / n is a NumPy scalar)
    if size > 65_536:
        return np.broadcast_to(g, shape)
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out
