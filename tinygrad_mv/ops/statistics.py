"""Products, running sums and products, and statistics along axes: prod, cumsum, cumprod, var, std,
average, sort, diff.

Rules are written with operators and NumPy functions that dispatch on Tensors (np.cumsum,
np.cumprod, np.prod, np.where, slicing, ...), so on Tensors (``create_graph=True``) they record
differentiable operations and second derivatives come for free. Masks are comparisons of the
operands themselves, never values read from ``.data``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .. import autograd
from ..autograd import Drawing, IndexedGrad, primitive
from ..tensor import Tensor
from . import reduce as red
from . import shape as shp
from ._util import keepdims_shape, normalize_axes, value

__all__ = ["prod", "cumsum", "cumprod", "var", "std", "average", "sort", "diff"]

_ABSENT: Any = np._NoValue  # NumPy's own "not given" marker (prepend=, append=, keepdims=)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _refuse(op: str, **given: Any) -> None:
    """TypeError naming the keyword arguments NumPy takes that are not supported here."""
    names = sorted(k for k, v in given.items() if v is not None and v is not _ABSENT)
    if names:
        raise TypeError(f"{op}: unsupported keyword argument(s) {', '.join(names)} on Tensors")


def _one_axis(axis: Any, ndim: int, op: str) -> int:
    """A single axis (an int, negatives allowed) as a non-negative int."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if ndim == 0:
        raise np.exceptions.AxisError(f"{op}: axis {axis} is out of range for a 0-d tensor")
    return normalize_axes(axis, ndim, op)[0]


def _flag(keepdims: Any) -> bool:
    return False if keepdims is _ABSENT else bool(keepdims)


def _flip(a: Any, axis: int) -> Any:
    """``a`` reversed along ``axis`` by slicing (recorded indexing on Tensors)."""
    return a[(slice(None),) * axis + (slice(None, None, -1),)]


def _keep(g: Any, shape: tuple, axes: tuple, keepdims: bool) -> Any:
    """The gradient of a reduction reshaped so that it broadcasts against its input."""
    return g if keepdims else g.reshape(keepdims_shape(shape, axes, "reduce"))


# --- prod ---------------------------------------------------------------------------------------
def _others(x: Any, axes: tuple) -> Any:
    """For each element, the product of the other elements along ``axes``: exclusive running
    products from both sides, no division, so exact when ``x`` holds zeros."""
    rest = [a for a in range(x.ndim) if a not in axes]
    order = tuple(rest + list(axes))
    moved = np.transpose(x, order)
    lead = moved.shape[:len(rest)]
    flat = moved.reshape(lead + (math.prod(x.shape[a] for a in axes),))
    one = np.ones(lead + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([one, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([one, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((left * right).reshape(moved.shape), tuple(np.argsort(order)))


def _prod_vjp(g: Any, out: Any, x: Any, axes: tuple, keepdims: bool) -> Any:
    if x.size == 0:
        return _keep(g, x.shape, axes, keepdims) * x  # nothing to differentiate: empty
    return _keep(g, x.shape, axes, keepdims) * _others(x, axes)


def _prod_jvp(t: Any, out: Any, x: Any, axes: tuple, keepdims: bool) -> Any:
    if x.size == 0:
        return out * 0
    return (t * _others(x, axes)).sum(axis=axes, keepdims=keepdims)


_prod = primitive("prod", lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
                  _prod_vjp, jvps=(_prod_jvp,),
                  drawing=Drawing(local=("g·(product of the other elements)",)))


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = False,
         **unsupported: Any) -> Tensor:
    """Product over ``axis`` (an int, a tuple or None: all). The gradient is exact when the
    input holds zeros, as PyTorch's: one zero gets the product of the others, two or more
    zeros give zero everywhere."""
    _refuse("prod", dtype=dtype, out=out, **unsupported)
    x = _tensor(a)
    return _prod(x, axes=normalize_axes(axis, x.ndim, "prod"), keepdims=_flag(keepdims))


# --- cumsum, cumprod ----------------------------------------------------------------------------
def _running(a: Any, axis: Any, op: str) -> tuple[Tensor, int]:
    """The tensor and the axis of a running sum or product; ``axis=None`` (and a 0-d tensor)
    runs over the flattened tensor, as NumPy."""
    x = _tensor(a)
    if axis is not None:
        if x.ndim == 0:  # NumPy accepts axis 0 or -1 and returns one element
            normalize_axes(axis, 0, op)
        else:
            return x, _one_axis(axis, x.ndim, op)
    return shp.reshape(x, (-1,)), 0


# cumsum is linear: the VJP is the reversed running sum of g, the JVP the running sum of t.
_cumsum = primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis),
                    lambda g, out, x, axis: _flip(np.cumsum(_flip(g, axis), axis=axis), axis),
                    jvps=(lambda t, out, x, axis: np.cumsum(t, axis=axis),),
                    drawing=Drawing(local=("reversed running sum of g",)))


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tensor:
    """Running sum along ``axis`` (None: over the flattened tensor)."""
    _refuse("cumsum", dtype=dtype, out=out)
    x, axis = _running(a, axis, "cumsum")
    return _cumsum(x, axis=axis)


def _no_zeros(*values: Any) -> bool:
    """True when every value is an array and ``values[0]`` holds no zero: the division formula
    is then exact (on Tensors no branch is taken on the data: tg.jit would freeze it)."""
    return not any(isinstance(v, Tensor) for v in values) and bool(np.all(values[0] != 0))


# On Tensors (create_graph, forward over reverse) the rules use the n x n products below while
# they stay this small (elements), so that higher derivatives are exact at zeros too, as
# PyTorch's; beyond it, the O(n) rule, whose first derivatives are exact at zeros.
_SQUARE_UP_TO = 1 << 20


def _square(x: Any, axis: int, *values: Any) -> bool:
    return any(isinstance(v, Tensor) for v in (x, *values)) and \
        x.size * x.shape[axis] <= _SQUARE_UP_TO


def _partials(x: Any, axis: int) -> Any:
    """d out_i / d x_j = prod_{k <= i, k != j} x_k (0 for i < j), at [..., j, i] with ``axis``
    moved last: a polynomial in x, so every derivative of it is exact at zeros."""
    last = np.swapaxes(x, axis, -1)
    n = last.shape[-1]
    ones_at_j = np.where(np.eye(n, dtype=bool), 1, last[..., None, :])
    # (np.triu, an operation on Tensors: a product with an array of ones made here would look
    # to tg.jit like a mask read from the data, and be refused)
    return np.triu(np.cumprod(ones_at_j, axis=-1))


def _zero_split(x: Any, axis: int) -> tuple[Any, Any, Any, Any]:
    """Along ``axis``: where x is before its first zero, where that zero is, the product of
    the elements before it, and the running product of the elements after it."""
    zero = x == 0
    seen = np.cumsum(zero, axis=axis)  # zeros up to and including each position
    before = seen == 0
    first = np.logical_and(zero, seen == 1)
    lead = np.prod(np.where(before, x, 1), axis=axis, keepdims=True)
    tail = np.cumprod(np.where(seen > zero, x, 1), axis=axis)  # seen > zero: after the first
    return before, first, lead, tail


def _cumprod_vjp(g: Any, out: Any, x: Any, axis: int) -> Any:
    # d out_i / d x_j = prod_{k <= i, k != j} x_k for i >= j. Before the first zero it is
    # out_i / x_j; at the first zero the product of the elements before it times the running
    # product after it; after the first zero every term holds that zero (as PyTorch).
    if _square(x, axis, g):
        last = np.swapaxes(g, axis, -1)[..., None, :]
        return np.swapaxes((_partials(x, axis) * last).sum(axis=-1), axis, -1)
    rev = _flip(np.cumsum(_flip(g * out, axis), axis=axis), axis)  # sum_{i >= j} g_i out_i
    if _no_zeros(x, g, out):
        return rev / x
    before, first, lead, tail = _zero_split(x, axis)
    grad = np.where(before, rev / np.where(before, x, 1), 0)
    at_first = lead * np.where(before, 0, g * tail).sum(axis=axis, keepdims=True)
    return grad + np.where(first, at_first, 0)


def _cumprod_jvp(t: Any, out: Any, x: Any, axis: int) -> Any:
    if _square(x, axis, t):
        last = np.swapaxes(t, axis, -1)[..., :, None]
        return np.swapaxes((_partials(x, axis) * last).sum(axis=-2), axis, -1)
    if _no_zeros(x, t, out):
        return out * np.cumsum(t / x, axis=axis)
    before, first, lead, tail = _zero_split(x, axis)
    inner = out * np.cumsum(np.where(before, t / np.where(before, x, 1), 0), axis=axis)
    t_first = np.where(first, t, 0).sum(axis=axis, keepdims=True)
    return np.where(before, inner, t_first * lead * tail)


_cumprod = primitive("cumprod", lambda x, axis: np.cumprod(x, axis=axis), _cumprod_vjp,
                     jvps=(_cumprod_jvp,),
                     drawing=Drawing(local=("Σ_{i≥j} g_i·(product up to i without x_j)",)))


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tensor:
    """Running product along ``axis`` (None: over the flattened tensor); the gradient is exact
    when the input holds zeros, as PyTorch's."""
    _refuse("cumprod", dtype=dtype, out=out)
    x, axis = _running(a, axis, "cumprod")
    return _cumprod(x, axis=axis)


# --- var, std -----------------------------------------------------------------------------------
def _dof(shape: tuple, axes: tuple, ddof: float) -> float:
    """N - ddof, as NumPy never below 0."""
    return max(math.prod(shape[a] for a in axes) - ddof, 0)


def _centred(x: Any, axes: tuple) -> Any:
    return x - np.mean(x, axis=axes, keepdims=True)


def _var_scale(shape: tuple, axes: tuple, ddof: float) -> float:
    dof = _dof(shape, axes, ddof)
    # N <= ddof: an infinite scale; NaN where x equals its mean (N = 1), as PyTorch
    return 2.0 / dof if dof else math.inf


def _var_vjp(g: Any, out: Any, x: Any, axes: tuple, ddof: float, keepdims: bool) -> Any:
    with np.errstate(invalid="ignore"):
        return _keep(g, x.shape, axes, keepdims) * (_centred(x, axes)
                                                    * _var_scale(x.shape, axes, ddof))


def _var_jvp(t: Any, out: Any, x: Any, axes: tuple, ddof: float, keepdims: bool) -> Any:
    with np.errstate(invalid="ignore"):
        return (_centred(x, axes) * t).sum(axis=axes, keepdims=keepdims) \
            * _var_scale(x.shape, axes, ddof)


def _positive(s: Any) -> Any:
    """The standard deviation with 0 replaced by infinity: at zero spread the slope is 0, as
    PyTorch's (g / inf), instead of 0/0."""
    return np.where(s == 0, np.inf, s)


def _std_vjp(g: Any, out: Any, x: Any, axes: tuple, ddof: float, keepdims: bool) -> Any:
    s = _keep(out, x.shape, axes, keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _keep(g, x.shape, axes, keepdims) * _centred(x, axes) \
            / (_positive(s) * _dof(x.shape, axes, ddof))


def _std_jvp(t: Any, out: Any, x: Any, axes: tuple, ddof: float, keepdims: bool) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (_centred(x, axes) * t).sum(axis=axes, keepdims=keepdims) \
            / (_positive(out) * _dof(x.shape, axes, ddof))


_var = primitive("var", lambda x, axes, ddof, keepdims: np.var(x, axis=axes, ddof=ddof,
                                                                keepdims=keepdims),
                 _var_vjp, jvps=(_var_jvp,),
                 drawing=Drawing(local=("2·g·({0} - mean) / (N - ddof)",)))
_std = primitive("std", lambda x, axes, ddof, keepdims: np.std(x, axis=axes, ddof=ddof,
                                                                keepdims=keepdims),
                 _std_vjp, jvps=(_std_jvp,),
                 drawing=Drawing(local=("g·({0} - mean) / ((N - ddof)·std)",)))


def _spread_args(op: str, a: Any, axis: Any, ddof: Any, correction: Any, keepdims: Any
                 ) -> tuple[Tensor, dict]:
    if correction is not _ABSENT:
        if ddof != 0:
            raise ValueError(f"{op}: ddof and correction can't be provided simultaneously")
        ddof = correction
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, (int, float, np.number)):
        raise TypeError(f"{op}: ddof must be a number, got {ddof!r}")
    x = _tensor(a)
    params = {"axes": normalize_axes(axis, x.ndim, op), "ddof": ddof.item()
              if isinstance(ddof, np.number) else ddof, "keepdims": _flag(keepdims)}
    return x, params


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = False, *, correction: Any = _ABSENT, **unsupported: Any) -> Tensor:
    """Variance over ``axis``: the mean of squared deviations times N / (N - ddof)."""
    _refuse("var", dtype=dtype, out=out, **unsupported)
    x, params = _spread_args("var", a, axis, ddof, correction, keepdims)
    return _var(x, **params)


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
        keepdims: Any = False, *, correction: Any = _ABSENT, **unsupported: Any) -> Tensor:
    """Standard deviation over ``axis`` (the square root of :func:`var`). Where it is 0 the
    gradient is 0, as PyTorch's."""
    _refuse("std", dtype=dtype, out=out, **unsupported)
    x, params = _spread_args("std", a, axis, ddof, correction, keepdims)
    return _std(x, **params)


# --- average ------------------------------------------------------------------------------------
def _weights(weights: Any, x: Tensor, axis: Any) -> Any:
    """The weights broadcastable against ``x`` (a Tensor stays a Tensor, recorded), checked
    as NumPy checks them."""
    w = weights
    if not isinstance(w, Tensor):
        w = np.asarray(w)
        if w.dtype.kind not in "fiub":
            raise TypeError(f"average: weights must be numeric, got dtype {w.dtype}")
        if w.dtype.kind != "f":
            w = w.astype(x.dtype)  # integer weights take the data's float type
    if w.shape == x.shape:
        return w
    if axis is None:
        raise TypeError("average: axis must be specified when shapes of a and weights differ")
    given = axis if isinstance(axis, (tuple, list)) else (axis,)
    given = tuple(int(a) % max(x.ndim, 1) for a in given)  # in the order given (normalized before)
    if w.shape != tuple(x.shape[a] for a in given):
        raise ValueError(f"average: weights of shape {w.shape} are not consistent with shape "
                         f"{x.shape} along axis {axis}")
    w = np.transpose(w, tuple(int(i) for i in np.argsort(given)))
    return np.reshape(w, tuple(n if i in given else 1 for i, n in enumerate(x.shape)))


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = False) -> Any:
    """Weighted mean sum(w·a) / sum(w) over ``axis`` (the mean without weights); the gradient
    flows to ``a`` and to Tensor weights. ``returned=True`` also returns the sum of the weights
    (broadcast to the result's shape). Weights summing to zero raise ZeroDivisionError."""
    x = _tensor(a)
    axes = None if axis is None else normalize_axes(axis, x.ndim, "average")
    keepdims = _flag(keepdims)
    if weights is None:
        avg = red.mean(x, axis=axes, keepdims=keepdims)
        if not returned:
            return avg
        count = np.full(avg.shape, x.size / max(avg.size, 1), dtype=avg.dtype)
        return avg, Tensor(count)
    w = _weights(weights, x, axis)
    total = w.sum(axis=axes, keepdims=keepdims)
    if np.any(value(total) == 0):
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    avg = red.sum(x * w, axis=axes, keepdims=keepdims) / total
    if not returned:
        return avg
    if isinstance(total, Tensor):
        return avg, total if total.shape == avg.shape else shp.broadcast_to(total, avg.shape)
    return avg, Tensor(np.broadcast_to(total, avg.shape).astype(avg.dtype))


# --- sort ---------------------------------------------------------------------------------------
def _along(perm: np.ndarray, axis: int) -> tuple:
    """The index tuple that applies ``perm`` (an argsort along ``axis``) to an array."""
    index = list(np.ix_(*(np.arange(n) for n in perm.shape)))
    index[axis] = perm
    return tuple(index)


def _sort_vjp(g: Any, out: Any, x: Any, perm: np.ndarray, axis: int) -> Any:
    # each output position's gradient goes back to the element that landed there
    index = _along(perm, axis)
    if isinstance(g, Tensor):
        return shp._scatter_add(g, shape=x.shape, index=index)
    return IndexedGrad(g, index, x.shape, True)  # a permutation: every position once


# perm is a param made by a recorded argsort, so tg.jit replays sort with the new order.
_sort = primitive("sort", lambda x, perm, axis: np.take_along_axis(x, perm, axis=axis),
                  _sort_vjp, jvps=(lambda t, out, x, perm, axis: t[_along(perm, axis)],),
                  drawing=Drawing(local=("g sent back through the sorting permutation",)))
_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")


def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
         stable: Any = None) -> Tensor:
    """Sorted along ``axis`` (None: the flattened tensor). The order is always a stable one
    (every ``kind`` gives the same values), so with ties each output position's gradient goes
    to the element that landed there, as PyTorch's stable sort."""
    _refuse("sort", order=order)
    if kind not in _KINDS:
        raise ValueError(f"sort: kind must be one of {_KINDS[1:]} or None, got {kind!r}")
    if stable not in (None, True, False):
        raise TypeError(f"sort: stable must be a bool or None, got {stable!r}")
    x = _tensor(a)
    if axis is None:
        x, axis = shp.reshape(x, (-1,)), 0
    else:
        axis = _one_axis(axis, x.ndim, "sort")
    argsort = functools.partial(np.argsort, axis=axis, kind="stable")
    perm = argsort(x._data)
    tracer = autograd._tracer
    if tracer is not None:  # tg.jit is recording: the order must follow the data
        tracer.read(x)
        tracer.record_call(argsort, (x._data,), perm)
    return _sort(x, perm=perm, axis=axis)


# --- diff ---------------------------------------------------------------------------------------
def _diff_vjp(g: Any, out: Any, x: Any, n: int, axis: int) -> Any:
    # the adjoint of one difference: x_k gets g_{k-1} - g_k (zero beyond the ends)
    for _ in range(n):
        pad = np.zeros(g.shape[:axis] + (1,) + g.shape[axis + 1:], dtype=g.dtype)
        g = np.concatenate([pad, g, pad], axis=axis)
        g = g[(slice(None),) * axis + (slice(None, -1),)] - g[(slice(None),) * axis
                                                               + (slice(1, None),)]
    return g


# diff is linear: its JVP is the difference of the tangent.
_diff = primitive("diff", lambda x, n, axis: np.diff(x, n=n, axis=axis), _diff_vjp,
                  jvps=(lambda t, out, x, n, axis: np.diff(t, n=n, axis=axis),),
                  drawing=Drawing(local=("g_{k-1} - g_k, n times",)))


def _edge(value: Any, x: Tensor, axis: int) -> Any:
    """A prepend/append value joinable to ``x`` along ``axis`` (a number is broadcast)."""
    if not isinstance(value, Tensor):
        value = np.asarray(value)
        if value.dtype.kind not in "fiub":
            raise TypeError(f"diff: prepend/append must be numeric, got dtype {value.dtype}")
        value = value.astype(x.dtype) if value.dtype.kind != "f" or value.ndim == 0 else value
        value = Tensor(value)
    if value.ndim == 0:
        value = shp.broadcast_to(value, x.shape[:axis] + (1,) + x.shape[axis + 1:])
    return value


def diff(a: Any, n: Any = 1, axis: Any = -1, prepend: Any = _ABSENT,
         append: Any = _ABSENT) -> Tensor:
    """The ``n``-th differences along ``axis``, after joining ``prepend``/``append`` (numbers,
    arrays or Tensors, which get gradients too) at the ends."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"diff: n must be an int, got {n!r}")
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    x = _tensor(a)
    if n == 0:
        return x  # as NumPy: the input itself, ends not joined
    if x.ndim == 0:
        raise ValueError("diff: requires input that is at least one dimensional")
    axis = _one_axis(axis, x.ndim, "diff")
    parts = [_edge(e, x, axis) if e is not _ABSENT and k != 1 else e
             for k, e in enumerate((prepend, x, append))]
    parts = [p for p in parts if p is not _ABSENT]
    if len(parts) > 1:
        try:
            x = shp.concatenate(parts, axis=axis)
        except ValueError as exc:
            raise ValueError(f"diff: prepend/append do not fit shape {x.shape} along axis "
                             f"{axis}: {exc}") from exc
    return _diff(x, n=int(n), axis=axis)


NUMPY: dict[Any, Callable[..., Any]] = {
    np.prod: prod, np.cumsum: cumsum, np.cumprod: cumprod, np.var: var, np.std: std,
    np.average: average, np.sort: sort, np.diff: diff,
}
