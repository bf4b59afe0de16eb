"""In-place operations, as PyTorch's: ``t += u``, ``t -= u``, ``t *= u``, ``t /= u``,
``t **= u`` and ``t[index] = value`` write into ``t.data`` itself.

Three cases, decided before anything is written:
- nothing to record (``tg.no_grad()``, or neither side requires grad): a plain NumPy write;
- a leaf that requires grad, with grad enabled: refused, as PyTorch refuses it;
- otherwise the out-of-place operation is recorded on a copy of the old value and its result
  written into ``t.data``; ``t`` then hangs from the new node, named with a trailing underscore
  (``add_``) as PyTorch names in-place operations.
Every write is noted in the version log (versions.py), so backward refuses a rule that would read
a value overwritten after it was saved.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np

from .. import autograd, forward, versions
from ..autograd import primitive
from ..tensor import Tensor, _make
from .elementwise import add, astype, div, mul, power, sub
from .shape import _normalize_index, _unique_positions

__all__ = ["iadd", "isub", "imul", "itruediv", "ipow", "setitem", "InplaceDtypeError"]


class InplaceDtypeError(TypeError, RuntimeError):
    """The result of an in-place operation cannot be stored in the tensor's dtype (a TypeError,
    as NumPy's casting error, and a RuntimeError, as PyTorch's)."""


# --- t[index] = value, out of place: the recorded form ------------------------------------------
def _setitem_forward(x: np.ndarray, v: Any, index: Any) -> np.ndarray:
    out = x.copy()
    out[index] = v
    return out


def _setitem_dx(g: Any, out: Any, x: Any, v: Any, index: Any) -> Any:
    kept = np.ones(x.shape, dtype=bool)  # the positions the write left alone
    kept[index] = False
    return g * kept


def _setitem_dv(g: Any, out: Any, x: Any, v: Any, index: Any) -> Any:
    picked = g[index]
    if not _unique_positions(index):
        # A position indexed twice keeps the value written last: only that one gets the gradient.
        order = np.full(x.shape, -1, dtype=np.intp)
        slots = np.arange(int(np.prod(picked.shape)), dtype=np.intp).reshape(picked.shape)
        order[index] = slots
        picked = picked * (order[index] == slots)
    # The engine sums the rest back over v's broadcast axes, but refuses more axes than x and v
    # have: an index with None (h[..., None] = v) selects more, so the leading ones go here.
    extra = picked.ndim - max(x.ndim, v.ndim)
    return picked.sum(axis=tuple(range(extra))) if extra > 0 else picked


def _setitem_dv_jvp(t: Any, out: Any, x: Any, v: Any, index: Any) -> Any:
    zeros = np.zeros(x.shape, dtype=t.dtype)  # v's tangent, written where v is written
    if isinstance(t, Tensor):
        return setitem_op(zeros, t, index=index)
    return _setitem_forward(zeros, t, index)


# Forward rules: the kept part passes x's tangent (as the VJP masks it), v's lands at the index.
setitem_op = primitive("setitem", _setitem_forward, _setitem_dx, _setitem_dv,
                       jvps=(_setitem_dx, _setitem_dv_jvp))


# --- the three cases ----------------------------------------------------------------------------
def _refuse_leaf(t: Tensor, what: str) -> None:
    raise RuntimeError(
        f"a leaf Tensor that requires grad (shape {t.shape}) is being used in an in-place "
        f"operation ({what}): its values are the starting point of the graph and cannot change "
        f"while grad is recorded. Update it under tg.no_grad() (with tg.no_grad(): p -= lr * "
        f"p.grad), or compute out of place (w2 = w + u).")


def _check_writable(t: Tensor, what: str) -> None:
    if not t._data.flags.writeable:
        raise RuntimeError(f"{what}: the tensor of shape {t.shape} is a read-only view (from "
                           "broadcast_to or expand): several of its elements share one memory "
                           "location; copy it first (t = t + 0)")


def _records(t: Tensor, value: Any, what: str) -> bool:
    """True when the write must be recorded; refuses leaves that require grad."""
    if not autograd._grad_enabled.get():
        return False
    if t._requires_grad:
        if t._node is None:
            _refuse_leaf(t, what)
        return True
    return isinstance(value, Tensor) and value._requires_grad


def _refuse_while_tracing(t: Tensor, what: str) -> None:
    autograd.refuse_replay(
        f"the in-place write {what} on a Tensor of shape {t.shape} cannot be replayed (it "
        "changes an array the recording reads); write it out of place (y = y + u), or call the "
        "function without tg.jit")


def _shares_memory(t: Tensor) -> bool:
    """Whether ``t``'s array may be a view of another tensor's memory: a view taken without grad
    (no node), or one recorded as a view. The result of any other operation may be a view of a
    temporary of its own (logsumexp's, tile's), which no other tensor holds."""
    if t._data.base is None:
        return False
    return t._node is None or any(view is t for view in versions.views_of(t._data))


def _record(t: Tensor, what: str, name: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    if _shares_memory(t):
        raise RuntimeError(
            f"{what}: the tensor of shape {t.shape} is a view of another tensor's memory (a "
            "slice, reshape or transpose), and writing it in place while grad is recorded would "
            "leave the other tensor's graph stale. Write into the tensor itself "
            "(x[index] = value) or compute out of place (y = y * 2).")
    old = _make(t._data.copy(), t._node)  # the value before the write, where t hung in the graph
    new = _write(t, what, old, compute)
    node = new._node
    previous = t._node
    if previous is not None:
        # The previous node's output is no longer this tensor's value (pictures must not show it).
        if previous.out_ref is not None and previous.out_ref() is t:
            previous.out_ref = None
        if previous.retains_grad:
            previous.retains_grad, node.retains_grad = False, True
    node.op = name
    node.out_ref = weakref.ref(t)
    t._node = node
    t._requires_grad = True
    for view in versions.views_of(t._data):
        _mark_stale(view, name)
    return t


def _write(t: Tensor, what: str, old: Tensor, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Compute the written value out of place from ``old`` (t's value before the write) and
    write it into ``t.data``; in forward mode, t's tangent becomes the new value's."""
    level = forward.current()
    if level is not None:
        tangent = level.tangent(t)
        if tangent is not None:
            level.set(old, tangent)
    new = compute(old)
    if new.shape != t.shape:
        raise ValueError(f"{what}: the result has shape {new.shape}, which does not fit the "
                         f"tensor of shape {t.shape} written in place")
    if new.dtype != t.dtype:  # (float32 t, float64 value): the dtype is a param, not an operand
        new = astype(new, dtype=t.dtype)
    np.copyto(t._data, new._data)
    versions.note_write(t._data)
    if level is not None:
        level.set(t, level.tangent(new))
        level.mark_views_stale(t)
    return new


def _carries_tangent(t: Tensor, value: Any) -> bool:
    """Whether forward mode is on and the write involves a tangent (then the write goes through
    the operation, which carries it)."""
    level = forward.current()
    return level is not None and (level.tangent(t) is not None or (
        isinstance(value, Tensor) and level.tangent(value) is not None))


def _mark_stale(view: Tensor, write: str) -> None:
    """``view`` shows memory that a recorded write just changed, but its graph still describes the
    values before the write: an operation that uses it from now on gets a gradient only through a
    node that refuses (operations that used it before the write are unaffected)."""
    taken = view._node
    if taken is None:
        return
    message = (f"a view (from '{taken.op}', shape {view.shape}) was used after the tensor it "
               f"views was written in place ('{write}'): the view's graph describes the values "
               "before the write. Take the view again after the write (v = h[...]).")

    def refuse(g: Any, out: Any, x: Any) -> Any:
        raise RuntimeError(message)

    stale = autograd.Node("stale view", (refuse,), (taken,), ([None], None), {}, view._data)
    stale.out_ref = weakref.ref(view)
    view._node = stale


def _plain_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (list, tuple)):
        return Tensor(value).data
    return value


def _arithmetic(name: str, ufunc: np.ufunc, op: Callable, symbol: str, dunder: str) -> Callable:
    def inplace(t: Tensor, value: Any) -> Tensor:
        what = f"'{name}' (t {symbol}= ...)"
        _refuse_while_tracing(t, what)
        if _records(t, value, what) and t._data.dtype.kind == "f":
            _check_writable(t, what)
            source = value
            return _record(t, what, name, lambda old: op(old, old if source is t else source))
        if _carries_tangent(t, value):
            _check_writable(t, what)
            source = value
            _write(t, what, _make(t._data.copy(), None),
                   lambda old: op(old, old if source is t else source))
            return t
        data = _plain_value(value)
        try:
            shape = np.broadcast_shapes(t.shape, np.shape(data))
        except ValueError:
            shape = None
        if shape != t.shape:
            raise ValueError(f"{what}: a value of shape {np.shape(data)} does not broadcast to "
                             f"the tensor's shape {t.shape}")
        _check_writable(t, what)
        try:
            ufunc(t._data, data, out=t._data, casting="same_kind")
        except TypeError as exc:  # NumPy's UFuncTypeError: e.g. an int tensor /= 2
            raise InplaceDtypeError(
                f"{what}: the result ({np.result_type(t._data, data)}) cannot be stored in the "
                f"tensor's dtype {t.dtype} in place; write out of place or use a float "
                "tensor") from exc
        versions.note_write(t._data)
        return t

    inplace.__name__ = inplace.__qualname__ = dunder
    inplace.__doc__ = (f"``t {symbol}= value``: writes into ``t.data`` itself, as PyTorch's: "
                       f"recorded as ``{name}`` while grad is recorded; on a leaf that requires "
                       "grad, only under ``tg.no_grad()``.")
    return inplace


iadd = _arithmetic("add_", np.add, add, "+", "__iadd__")
isub = _arithmetic("sub_", np.subtract, sub, "-", "__isub__")
imul = _arithmetic("mul_", np.multiply, mul, "*", "__imul__")
itruediv = _arithmetic("div_", np.true_divide, div, "/", "__itruediv__")
ipow = _arithmetic("pow_", np.power, power, "**", "__ipow__")


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: writes into ``t.data`` itself, as PyTorch's: recorded as
    ``setitem`` while grad is recorded; on a leaf that requires grad, only under
    ``tg.no_grad()``."""
    what = "'setitem' (t[index] = ...)"
    _refuse_while_tracing(t, what)
    index = _normalize_index(index)
    if _records(t, value, what) and t._data.dtype.kind == "f":
        _check_writable(t, what)
        try:
            target_shape = np.empty(t.shape, dtype=bool)[index].shape
        except IndexError as exc:
            raise IndexError(f"{what}: index {index!r} is invalid for shape {t.shape}: "
                             f"{exc}") from exc
        _check_fits(what, value, target_shape)
        _record(t, what, "setitem", lambda old: setitem_op(old, value, index=index))
        return
    if _carries_tangent(t, value):
        _check_writable(t, what)
        _write(t, what, _make(t._data.copy(), None),
               lambda old: setitem_op(old, value, index=index))
        return
    _check_writable(t, what)
    data = _plain_value(value)
    try:
        t._data[index] = data
    except IndexError as exc:
        raise IndexError(f"{what}: index {index!r} is invalid for shape {t.shape}: "
                         f"{exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{what}: a value of shape {np.shape(data)} does not broadcast to the "
                         f"indexed shape of a tensor of shape {t.shape}: {exc}") from exc
    versions.note_write(t._data)


def _check_fits(what: str, value: Any, target_shape: tuple) -> None:
    shape = np.shape(value._data if isinstance(value, Tensor) else value)
    try:
        fits = np.broadcast_shapes(target_shape, shape) == target_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{what}: a value of shape {shape} does not broadcast to the indexed "
                         f"shape {target_shape}")
