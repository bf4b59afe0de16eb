"""Rearranging values: tile, repeat, flip, roll, pad, expand_dims, moveaxis, swapaxes, triu, tril,
diag, trace.

Every operation here is linear: its VJP is its adjoint and its JVP is the operation itself applied
to the tangent. Rules call NumPy functions that dispatch on Tensors (np.flip of a Tensor is
:func:`flip`), so the recorded backward pass is differentiable again.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd import Drawing, IndexedGrad, primitive
from ..tensor import Tensor
from . import elementwise as ew
from . import reduce as red
from ._util import constant_like, normalize_axes, value
from .shape import _scatter_add, broadcast_to, concatenate, reshape, swapaxes, transpose
from .statistics import sort

__all__ = ["tile", "repeat", "flip", "roll", "pad", "expand_dims", "moveaxis", "swapaxes",
           "triu", "tril", "diag", "trace"]


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _int(value: Any, op: str, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {what} must be an int, got {value!r}")
    return int(value)


def _ints(value: Any, op: str, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    items = value if isinstance(value, (tuple, list)) else (value,)
    return tuple(_int(v, op, what) for v in items)


def _axes(axis: Any, ndim: int, op: str, what: str = "axis") -> tuple[int, ...]:
    """``axis`` (an int or a sequence of ints) as non-negative axes, in the order given; as in
    NumPy, a 0-d tensor has no axis at all."""
    out = []
    for a in _ints(axis, op, what):
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"{op}: {what} {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim)
    return tuple(out)


def _scatter(g: Any, shape: tuple, index: Any) -> Any:
    """Zeros of ``shape`` plus ``g`` at ``index`` (repeated positions add up): recorded on
    Tensors, added into the engine's buffer on arrays (as getitem's rule does)."""
    if isinstance(g, Tensor):
        return _scatter_add(g, shape=shape, index=index)
    return IndexedGrad(g, index, shape, False)


# --- tile -----------------------------------------------------------------------------------------
def _tile_rule(g: Any, out: Any, x: Any, reps: tuple) -> Any:
    # Each input element appears once per tile: split every axis into (reps, size) and sum reps.
    d = max(x.ndim, len(reps))
    reps = (1,) * (d - len(reps)) + reps
    sizes = (1,) * (d - x.ndim) + x.shape
    if all(r == 1 for r in reps):
        return g.reshape(x.shape)
    split = tuple(n for pair in zip(reps, sizes) for n in pair)
    return g.reshape(split).sum(axis=tuple(range(0, 2 * d, 2))).reshape(x.shape)


_tile = primitive("tile", lambda x, reps: np.tile(x, reps), _tile_rule,
                  drawing=Drawing(local=('g summed over the tiles',)),
                  jvps=(lambda t, out, x, reps: np.tile(t, reps),))  # linear


def tile(A: Any, reps: Any) -> Tensor:
    """``A`` repeated ``reps`` times along each axis (NumPy's ``tile``; ``reps`` an int or a
    tuple; a longer ``reps`` adds leading axes)."""
    reps = _ints(reps, "tile", "reps")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    return _tile(_tensor(A), reps=reps)


# --- repeat ---------------------------------------------------------------------------------------
def _repeat_rule(g: Any, out: Any, x: Any, repeats: Any, axis: int) -> Any:
    if isinstance(repeats, int):  # equal segments: split the axis into (n, repeats) and sum
        n = x.shape[axis]
        split = x.shape[:axis] + (n, repeats) + x.shape[axis + 1:]
        return g.reshape(split).sum(axis=axis + 1)
    source = np.repeat(np.arange(x.shape[axis]), repeats)  # the input index of each output
    return _scatter(g, x.shape, (slice(None),) * axis + (source,))


_repeat = primitive("repeat", lambda x, repeats, axis: np.repeat(x, repeats, axis), _repeat_rule,
                    drawing=Drawing(local=('g summed over each run of copies',)),
                    jvps=(lambda t, out, x, repeats, axis: np.repeat(t, repeats, axis),))


def _repeats(repeats: Any, length: int) -> int | tuple[int, ...]:
    counts = np.asarray(repeats._data if isinstance(repeats, Tensor) else repeats)
    if counts.dtype.kind == "f" and isinstance(repeats, Tensor) and np.all(np.mod(counts, 1) == 0):
        counts = counts.astype(np.intp)  # Tensors hold floats: whole numbers count as ints
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"repeat: repeats must be an int or a 1-D sequence of ints, "
                        f"got {repeats!r}")
    if np.any(counts < 0):
        raise ValueError(f"repeat: repeats must be non-negative, got {counts.tolist()}")
    if counts.size == 1:
        return int(counts.reshape(()))
    if counts.size != length:
        raise ValueError(f"repeat: repeats has {counts.size} entries but the axis has "
                         f"{length} elements")
    return tuple(int(c) for c in counts)


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Tensor:
    """Each element repeated ``repeats`` times along ``axis`` (NumPy's ``repeat``, PyTorch's
    ``repeat_interleave``); ``repeats`` an int or one count per element; ``axis=None`` repeats
    the flattened tensor."""
    a = _tensor(a)
    if axis is None or a.ndim == 0:
        if axis is not None:
            _axes(axis, 1, "repeat")  # a 0-d tensor counts as one element along axis 0 or -1
        a, axis = reshape(a, -1), 0
    else:
        (axis,) = _axes(axis, a.ndim, "repeat")
    return _repeat(a, repeats=_repeats(repeats, a.shape[axis]), axis=axis)


# --- flip and roll --------------------------------------------------------------------------------
def _flip(x: np.ndarray, axis: tuple) -> np.ndarray:
    return x[tuple(slice(None, None, -1) if i in axis else slice(None) for i in range(x.ndim))]


_flip_op = primitive("flip", _flip, lambda g, out, x, axis: np.flip(g, axis), views=True,
                     drawing=Drawing(local=('g flipped back',)),
                     jvps=(lambda t, out, x, axis: np.flip(t, axis),))  # flip is its own adjoint


def flip(m: Any, axis: Any = None) -> Tensor:
    """Reverse the order of elements along ``axis`` (None: every axis; an int or a tuple).
    A 0-d tensor accepts axis 0 or -1 and is returned unchanged, as in PyTorch."""
    m = _tensor(m)
    return _flip_op(m, axis=normalize_axes(axis, m.ndim, "flip"))


def _roll_rule(g: Any, out: Any, x: Any, shift: Any, axis: Any) -> Any:
    back = -shift if axis is None else tuple(-s for s in shift)
    return np.roll(g, back, axis)


_roll = primitive("roll", lambda x, shift, axis: np.roll(x, shift, axis), _roll_rule,
                  drawing=Drawing(local=('g rolled back',)),
                  jvps=(lambda t, out, x, shift, axis: np.roll(t, shift, axis),))  # linear


def roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    """Shift elements cyclically by ``shift`` along ``axis`` (None: along the flattened tensor);
    ``shift`` and ``axis`` may be tuples, broadcast against each other as in NumPy."""
    a = _tensor(a)
    shifts = _ints(shift, "roll", "shift")
    if axis is None:
        return _roll(a, shift=sum(shifts), axis=None)
    axes = _axes(axis, a.ndim, "roll")
    if len(shifts) == 1:
        shifts *= len(axes)
    elif len(axes) == 1:
        axes *= len(shifts)
    elif len(shifts) != len(axes):
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} must have the same length "
                         "(or one of them length 1)")
    total: dict[int, int] = {}
    for s, ax in zip(shifts, axes):
        total[ax] = total.get(ax, 0) + s  # a repeated axis rolls by the sum of its shifts
    return _roll(a, shift=tuple(total.values()), axis=tuple(total))


# --- pad ------------------------------------------------------------------------------------------
# The modes built from recorded operations (_pad_composed) rather than by copying elements.
_PAD_COMPOSED = ("linear_ramp", "maximum", "minimum", "mean", "median")
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap", "empty") + _PAD_COMPOSED
_PAD_STATS = {"maximum": red.max, "minimum": red.min, "mean": red.mean}


def _pad_source(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input index it copies (non-constant modes)."""
    i = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    if mode == "symmetric":  # ... 1 0 | 0 1 2 | 2 1 ...: period 2n
        m = i % (2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    if n == 1:  # reflect: ... 2 1 | 0 1 2 | 1 0 ...: period 2n - 2 (one element repeats)
        return np.zeros_like(i)
    m = i % (2 * n - 2)
    return np.where(m < n, m, 2 * n - 2 - m)


def _pad_forward(x: np.ndarray, pad_width: tuple, mode: str, constant_values: tuple) -> Any:
    if not x.ndim:  # nothing to pad (np.pad would read the empty pad_width as floats)
        return x.copy()
    if mode == "constant":
        return np.pad(x, pad_width, mode, constant_values=constant_values)
    return np.pad(x, pad_width, mode)


def _pad_rule(g: Any, out: Any, x: Any, pad_width: tuple, mode: str,
              constant_values: tuple) -> Any:
    if mode == "constant":  # the padding is constant: x's gradient is g's middle
        return g[tuple(slice(b, b + n) for (b, _), n in zip(pad_width, x.shape)) + (Ellipsis,)]
    # Each padded position copies one input element: its gradient adds up there.
    index = np.ix_(*(_pad_source(n, b, a, mode) for (b, a), n in zip(pad_width, x.shape)))
    return _scatter(g, x.shape, index)


_pad = primitive("pad", _pad_forward, _pad_rule,
                 drawing=Drawing(local=('g of the copied positions added back',)),
                 jvps=(lambda t, out, x, pad_width, mode, constant_values:
                       np.pad(t, pad_width, mode),))  # linear (the constants have no tangent)


def _pairs(value: Any, ndim: int, what: str, kind: Callable) -> tuple:
    """NumPy's forms of per-axis (before, after) pairs: one number, (before, after), or one pair
    per axis."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"pad: {what} must be constants; got a Tensor that requires grad")
        value = value._data
    array = np.asarray(value)
    if array.size == 0:  # a 0-d tensor's pairs: ()
        array = array.astype(kind)
    if array.dtype.kind not in ("iu" if kind is int else "iuf"):
        raise TypeError(f"pad: {what} must be {'integers' if kind is int else 'numbers'}, "
                        f"got {value!r}")
    try:
        array = np.broadcast_to(array, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: {what} {value!r} does not fit a tensor with {ndim} dimensions "
                         "(give one number, (before, after), or one pair per axis)") from None
    return tuple((kind(b), kind(a)) for b, a in array.tolist())


def _at(axis: int, index: slice) -> tuple:
    return (slice(None),) * axis + (index,)


def _median(chunk: Tensor, axis: int) -> Tensor:
    """np.median along ``axis`` (kept, length 1): the middle sorted value, the mean of the two
    middle ones for an even count, NaN where one is NaN (sorted last)."""
    ordered, n = sort(chunk, axis=axis), chunk.shape[axis]
    middle = ordered[_at(axis, slice(n // 2, n // 2 + 1))]
    if n % 2 == 0:
        middle = (ordered[_at(axis, slice(n // 2 - 1, n // 2))] + middle) / 2
    last = ordered[_at(axis, slice(n - 1, n))]
    return ew.where(last != last, last, middle)


def _pad_side(x: Tensor, axis: int, width: int, left: bool, mode: str, extra: Any) -> Tensor:
    """The ``width`` values NumPy's ``mode`` puts before (``left``) or after ``x`` along ``axis``,
    from recorded operations on ``x`` (``extra``: this side's end value or stat_length)."""
    n = x.shape[axis]
    if mode == "linear_ramp":  # np.linspace(end, edge, width, endpoint=False); right: reversed
        edge = x[_at(axis, slice(0, 1) if left else slice(n - 1, n))]
        steps = np.arange(width, dtype=x.dtype)[::1 if left else -1]
        steps = steps.reshape((1,) * axis + (width,) + (1,) * (x.ndim - axis - 1))
        return steps * ((edge - extra) / width) + extra
    length = n if extra is None else min(extra, n)
    chunk = x[_at(axis, slice(0, length) if left else slice(n - length, n))]
    shape = x.shape[:axis] + (width,) + x.shape[axis + 1:]
    if length == 0:
        if mode in ("maximum", "minimum"):
            raise ValueError("pad: stat_length of 0 yields no value for padding")
        return Tensor(np.full(shape, np.nan, dtype=x.dtype))  # NumPy's mean of nothing
    stat = _median(chunk, axis) if mode == "median" else _PAD_STATS[mode](chunk, axis=axis,
                                                                          keepdims=True)
    return broadcast_to(stat, shape)


def _pad_composed(x: Tensor, widths: tuple, mode: str, kwargs: dict) -> Tensor:
    """linear_ramp and the statistics modes, axis after axis as NumPy pads (each axis sees the
    padding of the axes before it): built from recorded operations, so both modes
    differentiate it (max and min ties share, the median's two middle values share)."""
    if mode == "linear_ramp":
        extras = _pairs(kwargs.get("end_values", 0), x.ndim, "end_values", float)
    elif kwargs.get("stat_length") is None:
        extras = ((None, None),) * x.ndim
    else:
        lengths = np.asarray(value(kwargs["stat_length"]))
        if lengths.dtype.kind == "f":  # NumPy rounds them
            lengths = np.round(lengths).astype(np.intp)
        extras = _pairs(lengths, x.ndim, "stat_length", int)
        if any(v < 0 for pair in extras for v in pair):
            raise ValueError(f"pad: stat_length must be non-negative, got "
                             f"{kwargs['stat_length']!r}")
    for axis, ((before, after), (first, last)) in enumerate(zip(widths, extras)):
        parts = [_pad_side(x, axis, before, True, mode, first)] if before else []
        parts.append(x)
        if after:
            parts.append(_pad_side(x, axis, after, False, mode, last))
        if len(parts) > 1:
            x = concatenate(parts, axis=axis)
    return x


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    """Pad ``array`` by ``pad_width`` (NumPy's forms) with any of NumPy's named modes:
    "constant" (keyword ``constant_values``, default 0), "edge", "reflect", "symmetric", "wrap"
    (PyTorch's constant, replicate, reflect and circular, but widths may exceed the axis
    length), "linear_ramp" (``end_values``), "maximum", "minimum", "mean", "median"
    (``stat_length``) and "empty" (zeros here: NumPy leaves the values undefined)."""
    x = _tensor(array)
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of "
                         f"{', '.join(_PAD_MODES)}")
    allowed = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
               "symmetric": {"reflect_type"}, "linear_ramp": {"end_values"},
               **{stat: {"stat_length"} for stat in _PAD_COMPOSED[1:]}}.get(mode, set())
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"pad: mode {mode!r} takes no argument {', '.join(unknown)}")
    if kwargs.get("reflect_type", "even") != "even":
        raise ValueError(f"pad: reflect_type {kwargs['reflect_type']!r} is not supported "
                         "(only 'even')")
    widths = _pairs(pad_width, x.ndim, "pad_width", int)
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    constants = _pairs(kwargs.get("constant_values", 0), x.ndim, "constant_values", float)
    if mode == "empty":
        mode = "constant"  # NumPy leaves the values undefined: zeros
    for n, (b, a) in zip(x.shape, widths):
        if mode != "constant" and n == 0 and b + a:
            raise ValueError(f"pad: cannot extend an empty axis with mode {mode!r}")
    if mode in _PAD_COMPOSED:
        if any(map(any, widths)):
            return _pad_composed(x, widths, mode, kwargs)
        mode = "constant"  # nothing to pad: a copy
    return _pad(x, pad_width=widths, mode=mode, constant_values=constants)


# --- views: expand_dims, moveaxis ----------------------------------------------------------------
def expand_dims(a: Any, axis: Any) -> Tensor:
    """Insert axes of length one at ``axis`` (an int or a tuple; positions in the result,
    negatives counting from its end)."""
    a = _tensor(a)
    ndim = a.ndim + len(_ints(axis, "expand_dims", "axis"))
    axes = normalize_axes(axis, ndim, "expand_dims")
    dims = iter(a.shape)
    return reshape(a, tuple(1 if i in axes else next(dims) for i in range(ndim)))


def moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    """Move the axes ``source`` to the positions ``destination`` (ints or tuples); the other
    axes keep their order."""
    a = _tensor(a)
    src = _axes(source, a.ndim, "moveaxis", "source")
    dst = _axes(destination, a.ndim, "moveaxis", "destination")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source!r} and destination {destination!r} must "
                         "have the same number of elements")
    for what, axes, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(axes)) != len(axes):
            raise ValueError(f"moveaxis: repeated axis in {what} {given!r}")
    order = [i for i in range(a.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


# --- triangles, diagonals -------------------------------------------------------------------------
_triu = primitive("triu", lambda x, k: np.triu(x, k), lambda g, out, x, k: np.triu(g, k),
                  drawing=Drawing(local=('triu(g)',)),
                  jvps=(lambda t, out, x, k: np.triu(t, k),))  # a mask: its own adjoint
_tril = primitive("tril", lambda x, k: np.tril(x, k), lambda g, out, x, k: np.tril(g, k),
                  drawing=Drawing(local=('tril(g)',)),
                  jvps=(lambda t, out, x, k: np.tril(t, k),))


def _triangle(op: Callable, m: Any, k: int) -> Tensor:
    m = _tensor(m)
    k = _int(k, op.__name__, "k")
    if m.ndim == 0:
        raise ValueError(f"{op.__name__}: needs at least one dimension, got a 0-d tensor")
    if m.ndim == 1:  # NumPy's reading of a vector: the matrix whose every row is it
        m = broadcast_to(m, (m.shape[0],) * 2)
    return op(m, k=k)


def triu(m: Any, k: int = 0) -> Tensor:
    """The upper triangle of the last two axes (elements below diagonal ``k`` zeroed); a 1-D
    ``m`` is read as the square matrix with rows ``m``, as NumPy does."""
    return _triangle(_triu, m, k)


def tril(m: Any, k: int = 0) -> Tensor:
    """The lower triangle of the last two axes (elements above diagonal ``k`` zeroed); a 1-D
    ``m`` is read as the square matrix with rows ``m``, as NumPy does."""
    return _triangle(_tril, m, k)


def _diag_rule(g: Any, out: Any, v: Any, k: int) -> Any:
    if v.ndim == 1:  # v was put on diagonal k: its gradient is that diagonal of g
        return np.diag(g, k)
    # The diagonal was read from a (rows, cols) matrix: put g back on a square matrix, then
    # crop or zero-pad it to (rows, cols) (the part cropped off holds only zeros).
    rows, cols = v.shape
    square = np.diag(g, k)
    size = square.shape[0]
    return np.pad(square[:rows, :cols], ((0, rows - min(size, rows)), (0, cols - min(size, cols))))


_diag = primitive("diag", lambda v, k: np.diag(v, k), _diag_rule, views=True,
                  drawing=Drawing(local=('diag(g)',)),
                  jvps=(lambda t, out, v, k: np.diag(t, k),))  # linear


def diag(v: Any, k: int = 0) -> Tensor:
    """A 1-D ``v`` put on diagonal ``k`` of a square matrix of zeros, or diagonal ``k`` of a 2-D
    ``v`` (``k > 0`` above the main diagonal)."""
    v = _tensor(v)
    k = _int(k, "diag", "k")
    if v.ndim not in (1, 2):
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {v.shape}")
    return _diag(v, k=k)


def _trace_rule(g: Any, out: Any, a: Any, offset: int, axis1: int, axis2: int) -> Any:
    # g goes to every element of its diagonal: g (with axis1 and axis2 of length one) times a
    # mask of the diagonal laid along axis1 and axis2.
    first, second = sorted((axis1, axis2))
    mask = constant_like(np.eye(a.shape[axis1], a.shape[axis2], offset, dtype=g.dtype), g)
    if axis1 > axis2:
        mask = mask.T
    ones = [1] * a.ndim
    ones[first], ones[second] = mask.shape
    kept = [1 if i in (first, second) else n for i, n in enumerate(a.shape)]
    return g.reshape(tuple(kept)) * mask.reshape(tuple(ones))


_trace = primitive("trace", lambda a, offset, axis1, axis2: np.trace(a, offset, axis1, axis2),
                   _trace_rule, drawing=Drawing(local=('g on the diagonal',)),
                   jvps=(lambda t, out, a, offset, axis1, axis2:
                         np.trace(t, offset, axis1, axis2),))  # linear


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Tensor:
    """The sum of diagonal ``offset`` of the matrices along ``axis1`` and ``axis2``."""
    if dtype is not None or out is not None:
        raise TypeError("trace: dtype= and out= are not supported on Tensors")
    a = _tensor(a)
    if a.ndim < 2:
        raise ValueError(f"trace: needs at least 2 dimensions, got shape {a.shape}")
    (first,) = _axes(axis1, a.ndim, "trace", "axis1")
    (second,) = _axes(axis2, a.ndim, "trace", "axis2")
    if first == second:
        raise ValueError(f"trace: axis1 and axis2 must differ, got {axis1} and {axis2}")
    return _trace(a, offset=_int(offset, "trace", "offset"), axis1=first, axis2=second)


# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {
    np.tile: tile, np.repeat: repeat, np.flip: flip, np.roll: roll, np.pad: pad,
    np.expand_dims: expand_dims, np.moveaxis: moveaxis, np.swapaxes: swapaxes, np.triu: triu,
    np.tril: tril, np.diag: diag, np.trace: trace,
}
