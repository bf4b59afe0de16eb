"""Reductions and the numerically stable softmax family."""
from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor
from ._util import expand, keepdims_shape, normalize_axes


def _spread(g: Any, shape: tuple, axis: Any, keepdims: bool) -> Any:
    """The output gradient reshaped so it broadcasts against an input of ``shape`` (reduced axes
    kept). Rules pass ``x.shape``, not ``x``: a rule that reads only shapes keeps working after
    its input is changed in place (versions.py)."""
    if keepdims:
        return g
    return g.reshape(keepdims_shape(shape, axis, "sum"))


def _sum_rule(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    if axis is None:  # g is one number: it broadcasts as it is
        return expand(g, x.shape)
    return expand(_spread(g, x.shape, axis, keepdims), x.shape)


def _mean_rule(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    count = x.size // builtins.max(out.size, 1) if x.size else 1
    return expand(_spread(g, x.shape, axis, keepdims) / count, x.shape)


def _extreme_rule(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # Ties share the gradient equally; the mask is a constant (max is piecewise linear).
    hit = x == out.reshape(keepdims_shape(x.shape, axis, "max"))  # recorded on Tensors
    with np.errstate(invalid="ignore"):  # a NaN maximum matches nothing: 0/0, a loud NaN
        share = hit / hit.sum(axis=axis, keepdims=True)
    return _spread(g, x.shape, axis, keepdims) * share


# Forward rules: sum and mean are linear (the reduction of the tangent); max and min pass the
# tangent of the maximum (ties share it), as their VJP passes the gradient. A tangent with leading
# batch axes (tg.jacfwd) is reduced over x's axes only, counted from the end.
def _tangent_axes(t: Any, x: Any, axis: Any) -> Any:
    # axis as the primitive receives it: None or a tuple of axes >= 0 (reduce normalizes it)
    if t.ndim == x.ndim:
        return axis
    return tuple(range(-x.ndim, 0)) if axis is None else tuple(a - x.ndim for a in axis)


def _sum_jvp(t: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return t.sum(axis=_tangent_axes(t, x, axis), keepdims=keepdims)


def _mean_jvp(t: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return t.mean(axis=_tangent_axes(t, x, axis), keepdims=keepdims)


def _extreme_jvp(t: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    hit = x == out.reshape(keepdims_shape(x.shape, axis, "max"))
    with np.errstate(invalid="ignore"):
        share = hit / hit.sum(axis=axis, keepdims=True)
    return (t * share).sum(axis=_tangent_axes(t, x, axis), keepdims=keepdims)


def _reduction(name: str, fn: Any, rule: Any, drawing: Drawing, jvp: Any) -> Any:
    op = primitive(name, fn, rule, drawing=drawing, jvps=(jvp,))
    op.batching = "trailing"

    def reduce(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
        if axis is not None:
            ndim = x.ndim if isinstance(x, (Tensor, np.ndarray)) else np.ndim(x)
            axis = normalize_axes(axis, ndim, name)
        return op(x, axis=axis, keepdims=bool(keepdims))

    reduce.__name__ = reduce.__qualname__ = name
    reduce.__doc__ = (f"``{name}(x, axis=None, keepdims=False)``; ``axis`` an int, a tuple or "
                      "None, negatives allowed.")
    return reduce


# The ufuncs' own reduce skips np.sum's Python-level wrapper (a few microseconds per call), and
# is itself the forward: no Python call of ours between the operation and NumPy.
_sum = np.add.reduce


def _mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    x = np.asarray(x)
    total = np.add.reduce(x, axis=axis, keepdims=keepdims)
    count = int(np.prod([x.shape[a] for a in (range(x.ndim) if axis is None else axis)]))
    if count == 0 and total.size:  # averaging nothing; an empty result (0 rows) is fine
        raise ValueError("mean of an empty selection is undefined")
    return total / builtins.max(count, 1)


def _max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def _min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


sum = _reduction("sum", _sum, _sum_rule,
                    Drawing(local=('g copied to every element',)), _sum_jvp)  # noqa: A001
mean = _reduction("mean", _mean, _mean_rule,
                     Drawing(local=('g / n to every element',)), _mean_jvp)
max = _reduction("max", _max, _extreme_rule,
                    Drawing(local=('g to the maximum (ties share)',)), _extreme_jvp)  # noqa: A001
min = _reduction("min", _min, _extreme_rule,
                    Drawing(local=('g to the minimum (ties share)',)), _extreme_jvp)  # noqa: A001


def _logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    # initial: an empty row has no maximum; its sum of exp is 0, so log gives -inf (as PyTorch)
    peak = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)  # all -inf (or inf) rows: nothing to shift
    with np.errstate(divide="ignore"):  # log(0) = -inf for those rows is the right answer
        total = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return total if keepdims else np.squeeze(total, axis=axis)


def _logsumexp_rule(g: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    kshape = keepdims_shape(x.shape, axis, "logsumexp")
    return g.reshape(kshape) * np.exp(x - out.reshape(kshape))  # g * softmax(x)


def _logsumexp_jvp(t: Any, out: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    kshape = keepdims_shape(x.shape, axis, "logsumexp")
    return (t * np.exp(x - out.reshape(kshape))).sum(axis=axis, keepdims=keepdims)


_logsumexp_op = primitive("logsumexp", _logsumexp, _logsumexp_rule,
                          drawing=Drawing(local=('g·softmax({0})',)), jvps=(_logsumexp_jvp,))


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis`` without overflow."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    return _logsumexp_op(x, axis=normalize_axes(axis, x.ndim, "logsumexp"),
                         keepdims=bool(keepdims))


def _softmax(x: np.ndarray, axis: Any) -> np.ndarray:
    if x.size == 0:  # nothing to normalise: the result is empty too (np.max would refuse)
        return x.copy()
    shifted = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


_softmax_op = primitive(
    "softmax", _softmax,
    lambda g, out, x, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)),
                        drawing=Drawing(local=('s·(g - Σ g·s), s = softmax',)),
    jvps=(lambda t, out, x, axis: out * (t - (out * t).sum(axis=axis, keepdims=True)),))
_log_softmax_op = primitive(
    "log_softmax", lambda x, axis: x - _logsumexp(x, axis=axis, keepdims=True) if x.size
    else x.copy(),
    lambda g, out, x, axis: g - np.exp(out) * g.sum(axis=axis, keepdims=True),
                            drawing=Drawing(local=('g - softmax({0})·Σ g',)),
    jvps=(lambda t, out, x, axis: t - (np.exp(out) * t).sum(axis=axis, keepdims=True),))


def softmax(x: Any, axis: Any = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (default the last), without overflow."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    return _softmax_op(x, axis=normalize_axes(axis, x.ndim, "softmax"))


def log_softmax(x: Any, axis: Any = -1) -> Tensor:
    """x - logsumexp(x) along ``axis`` (default the last), without overflow."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    return _log_softmax_op(x, axis=normalize_axes(axis, x.ndim, "log_softmax"))
