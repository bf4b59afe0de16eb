"""Shape primitives: reshape, transpose, broadcasting, indexing, joining."""
from __future__ import annotations

import functools
import operator
from typing import Any, Sequence

import numpy as np

from .. import autograd
from ..autograd import Drawing, IndexedGrad, _VariadicRules, primitive
from ..tensor import Tensor
from ._util import batch_shape, normalize_axes

_reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape),
                     lambda g, out, x, shape: g.reshape(x.shape), views=True,
                     drawing=Drawing(local=('g reshaped back',)))


def reshape(x: Any, *shape: Any) -> Tensor:
    """``reshape(x, shape)`` or ``reshape(x, d0, d1, ...)``; one dimension may be -1."""
    if len(shape) == 1:
        shape = shape[0]
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"reshape: shape must be integers, got {shape!r}") from exc
    return _reshape(x, shape=shape)


def flatten(x: Any) -> Tensor:
    return reshape(x, -1)


def _transpose_rule(g: Any, out: Any, x: Any, axes: Any) -> Any:
    return g.transpose(tuple(np.argsort(axes)))


_transpose = primitive("transpose", lambda x, axes: np.transpose(x, axes), _transpose_rule,
                       views=True,
                       drawing=Drawing(local=('g transposed back',)))


def transpose(x: Any, axes: Any = None) -> Tensor:
    """Permute the axes (reverse them when ``axes`` is None)."""
    ndim = np.ndim(x._data if isinstance(x, Tensor) else x)
    if axes is None:
        axes = tuple(range(ndim))[::-1]
    if not all(isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"transpose: axes must be integers, got {axes!r}")
    axes = tuple(int(a) % max(ndim, 1) if -ndim <= a < ndim else a for a in axes)
    if sorted(axes) != list(range(ndim)):
        # PyTorch's transpose(dim0, dim1) swaps two axes; here (as in NumPy) it permutes them all
        hint = (f"; to swap two axes, as torch.transpose does, use swapaxes{axes}"
                if len(axes) == 2 and len(set(axes)) == 2 and all(0 <= a < ndim for a in axes)
                else "")
        raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                         f"{ndim} axes of shape {np.shape(x)}{hint}")
    return _transpose(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """``x`` with ``axis1`` and ``axis2`` swapped, as NumPy's."""
    ndim = np.ndim(x._data if isinstance(x, Tensor) else x)
    first, second = normalize_axes(axis1, ndim, "swapaxes"), normalize_axes(axis2, ndim, "swapaxes")
    if not ndim:  # a 0-d tensor: axes 0 and -1 are the same (no) axis
        return reshape(x, ())
    a, b = first[0], second[0]
    axes = list(range(ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return _transpose(x, axes=tuple(axes))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """Remove axes of length one (all of them when ``axis`` is None). A named axis whose length
    is not one is left in place, as in PyTorch (NumPy would raise)."""
    shape = np.shape(x._data if isinstance(x, Tensor) else x)
    axes = normalize_axes(axis, len(shape), "squeeze") if axis is not None else range(len(shape))
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes or n != 1))


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert an axis of length one at ``axis`` (negative counts from the end of the result)."""
    shape = np.shape(x._data if isinstance(x, Tensor) else x)
    (position,) = normalize_axes(axis, len(shape) + 1, "unsqueeze")
    return reshape(x, shape[:position] + (1,) + shape[position:])


_broadcast_to = primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
                          lambda g, out, x, shape: g,  # the engine sums g back to x's shape
                          views=True,
                          drawing=Drawing(local=('g summed over broadcast axes',)))


def broadcast_to(x: Any, shape: Any) -> Tensor:
    try:
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(
            operator.index(n) for n in shape)
    except TypeError as exc:
        raise TypeError(f"broadcast_to: shape must be integers, got {shape!r}") from exc
    return _broadcast_to(x, shape=shape)


# --- indexing -----------------------------------------------------------------------------------
def _normalize_index(index: Any) -> Any:
    """Tensors and lists in an index become integer or bool arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, Tensor):
            if autograd._tracer is not None:  # tg.jit: an index held by a closure is read
                autograd._tracer.read(item)    # at each call
            item = item._data
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray) and item.dtype.kind == "f":
            if not np.all(np.mod(item, 1) == 0):
                raise IndexError("getitem: index arrays must hold integers or bools, got "
                                 "non-integer floats")
            item = item.astype(np.intp)
        out.append(item)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _unique_positions(index: Any) -> bool:
    """True when no element can be selected twice (no integer-array index)."""
    if type(index) is slice:  # the common case, first
        return True
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, np.ndarray) and i.dtype != bool for i in items)


def _scatter_forward(g: np.ndarray, shape: tuple, index: Any) -> np.ndarray:
    full = np.zeros(shape, dtype=g.dtype)
    if _unique_positions(index):
        full[index] = g
    else:
        np.add.at(full, index, g)  # repeated indices accumulate
    return full


# scatter_add(g, shape, index): zeros of ``shape`` plus g at ``index``; the adjoint of getitem.
_scatter_add = primitive("scatter_add", _scatter_forward,
                         lambda g, out, src, shape, index: g[index],
                         drawing=Drawing(local=('g at the index',)))


def _getitem_rule(g: Any, out: Any, x: Any, index: Any) -> Any:
    if isinstance(g, Tensor):
        return _scatter_add(g, shape=x.shape, index=index)
    # On arrays the engine adds g into a gradient buffer at index (no zero-filled copy each).
    return IndexedGrad(g, index, x.shape, _unique_positions(index))


def _index(x: Any, index: Any) -> Any:
    """getitem's forward (named: a jit replay writes it inline)."""
    return x[index]


_getitem = primitive("getitem", _index, _getitem_rule, views=True,
                     drawing=Drawing(local=('g placed into zeros at the index',)))


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]`` with ints, slices, None, ..., integer arrays and bool masks."""
    if type(index) is not slice:  # a slice needs no normalizing
        index = _normalize_index(index)
    try:
        return _getitem(x, index=index)
    except IndexError as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for shape {np.shape(x)}: "
                         f"{exc}") from exc
    except TypeError as exc:  # a slice bound that is no integer
        raise TypeError(f"getitem: index {index!r} is invalid for shape {np.shape(x)}: "
                        f"{exc}") from exc


# --- joining ------------------------------------------------------------------------------------
def _concat_rule(i: int, g: Any, out: Any, *xs: Any, axis: int) -> Any:
    start = int(np.sum([x.shape[axis] for x in xs[:i]], dtype=int))
    return g[(slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),)]


_concatenate = primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                         variadic=_concat_rule)


def concatenate(tensors: Sequence[Any], axis: int | None = 0) -> Tensor:
    """Join along an existing axis (``axis=None``: the flattened tensors, as NumPy)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    if axis is None:
        tensors, axis = [reshape(t, (-1,)) for t in tensors], 0
    ndim = tensors[0].ndim
    for t in tensors:
        if t.ndim != ndim or t.ndim == 0:
            raise ValueError("concatenate: all tensors need the same number (>= 1) of dimensions, "
                             f"got shapes {[u.shape for u in tensors]}")
    (axis,) = normalize_axes(axis, ndim, "concatenate")
    return _concatenate(*tensors, axis=axis)


def _stack_rule(i: int, g: Any, out: Any, *xs: Any, axis: int) -> Any:
    return g[(slice(None),) * axis + (i,)]


_stack = primitive("stack", lambda *xs, axis: np.stack(xs, axis=axis), variadic=_stack_rule)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new axis."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    if axis is None:  # normalize_axes would read None as "every axis"
        raise TypeError("stack: axis must be an int, got None")
    (axis,) = normalize_axes(axis, tensors[0].ndim + 1, "stack")
    return _stack(*tensors, axis=axis)


# Forward rules: every shape operation is linear, so its JVP is the operation on the tangent
# (joined with zeros in the other inputs' places for concatenate and stack).
def _scatter_jvp(t: Any, out: Any, src: Any, shape: tuple, index: Any) -> Any:
    def scatter(values: Any, shape: tuple, index: Any) -> Any:  # an operation on Tensors
        if isinstance(values, Tensor):
            return _scatter_add(values, shape=shape, index=index)
        return _scatter_forward(values, shape, index)
    lead = batch_shape(t, src)
    if not lead:
        return scatter(t, tuple(shape), index)
    if _basic(index):  # slices and integers: the batch axes go in front as they are
        return scatter(t, lead + tuple(shape),
                       (slice(None),) * len(lead) + (index if isinstance(index, tuple) else
                                                     (index,)))
    if not t.size:  # an empty src or batch: reshape cannot infer -1, np.stack needs one part
        return np.zeros(lead + tuple(shape), dtype=t.dtype)
    parts = t.reshape((-1,) + tuple(src.shape))
    return np.stack([scatter(part, tuple(shape), index) for part in parts]).reshape(
        lead + tuple(shape))


# Each also takes tangents with leading batch axes (tg.jacfwd's one pass): axes count from the
# batch axes on (batch_shape).
def _transpose_jvp(t: Any, out: Any, x: Any, axes: Any) -> Any:
    lead = t.ndim - x.ndim
    if not lead:
        return np.transpose(t, axes)
    axes = range(x.ndim)[::-1] if axes is None else axes
    return np.transpose(t, (*range(lead), *(a + lead for a in axes)))


def _broadcast_jvp(t: Any, out: Any, x: Any, shape: tuple) -> Any:
    if t.ndim == x.ndim:
        return np.broadcast_to(t, shape)
    lead = batch_shape(t, x)
    aligned = t.reshape(lead + (1,) * (len(shape) - x.ndim) + tuple(x.shape))
    return np.broadcast_to(aligned, lead + tuple(shape))


def _basic(index: Any) -> bool:
    """Whether ``index`` selects with slices, integers, None and Ellipsis only (no arrays)."""
    items = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(i, (np.ndarray, Tensor, list)) for i in items)


def _getitem_jvp(t: Any, out: Any, x: Any, index: Any) -> Any:
    lead = t.ndim - x.ndim
    if not lead:
        return t[index]
    if _basic(index):
        return t[(slice(None),) * lead + (index if isinstance(index, tuple) else (index,))]
    # array indices would move the batch axes: one batch element at a time
    if not t.size:  # an empty x or batch: reshape cannot infer -1, np.stack needs one part
        return np.zeros(batch_shape(t, x) + out.shape, dtype=t.dtype)
    flat = t.reshape((-1,) + tuple(x.shape))
    return np.stack([part[index] for part in flat]).reshape(batch_shape(t, x) + out.shape)


def _joined_jvp(join: Any, i: int, t: Any, out: Any, *xs: Any, axis: int) -> Any:
    lead = batch_shape(t, xs[i])
    return join([t if j == i else np.zeros(lead + tuple(x.shape), dtype=t.dtype)
                 for j, x in enumerate(xs)], axis=axis + len(lead))


# (out.shape, not shape: a -1 in shape cannot be inferred for an empty tangent with batch axes)
_reshape.jvps = (lambda t, out, x, shape: t.reshape(batch_shape(t, x) + tuple(out.shape)),)
_transpose.jvps = (_transpose_jvp,)
_broadcast_to.jvps = (_broadcast_jvp,)
_getitem.jvps = (_getitem_jvp,)
_scatter_add.jvps = (_scatter_jvp,)
_concatenate.jvps = _VariadicRules(functools.partial(_joined_jvp, np.concatenate))
_stack.jvps = _VariadicRules(functools.partial(_joined_jvp, np.stack))
for _op in (_reshape, _transpose, _broadcast_to, _getitem, _scatter_add, _concatenate, _stack):
    _op.batching = "trailing"
