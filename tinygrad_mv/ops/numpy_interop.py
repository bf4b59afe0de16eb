"""NumPy calling Tensors: ufuncs and array functions either map to a recorded operation here or
refuse (for Tensors that require grad) instead of silently dropping the graph."""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .. import autograd, forward, versions
from ..tensor import Tensor, _make
from . import elementwise as ew
from . import arrange, binary, linalg, matrix, reduce, rounding, statistics, unary
from . import shape as shp

_UFUNCS: dict[np.ufunc, Callable] = {
    np.add: ew.add, np.subtract: ew.sub, np.multiply: ew.mul, np.true_divide: ew.div,
    np.power: ew.power, np.negative: ew.neg, np.exp: ew.exp,
    np.log: ew.log, np.sqrt: ew.sqrt, np.sin: ew.sin, np.cos: ew.cos, np.tan: ew.tan,
    np.tanh: ew.tanh, np.absolute: ew.absolute, np.square: ew.square, np.maximum: ew.maximum,
    np.minimum: ew.minimum, np.matmul: linalg.matmul,
}

# What to use instead, for ufuncs with no differentiable counterpart here (Python expressions
# in x and y, checked by the tests; a remark follows "  # ").
_SUGGESTIONS = {"conjugate": "x  # tg.Tensor data is real"}
# Piecewise-constant ufuncs without a counterpart: their derivative is zero wherever it exists.
_STEPS = {"heaviside", "floor_divide", "signbit"}
_GENERIC = ("compose it from tg functions (tg.exp, tg.log, tg.sqrt, tg.where, tg.power, ...), "
            "or apply it to t.detach() to leave the graph on purpose")

# Functions that read only shapes and dtypes (*_like: of their first argument): a recording
# may call them; the others, reading values, are refused while tg.jit or an export records.
_SHAPES_ONLY = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj,
                np.may_share_memory, np.shares_memory}
_LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.full_like}
# Array functions that only inspect values: they return the same as on the data.
_INSPECTION = {
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.shape, np.ndim, np.size,
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero,
    np.all, np.any, np.result_type, np.may_share_memory, np.shares_memory, np.copy,
    np.array2string, np.array_str, np.array_repr, np.save, np.savez, np.savez_compressed,
    np.iscomplexobj, np.isrealobj, np.unique, np.histogram,
}


def _raw(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_raw(v) for v in x)
    return x


def _tracked(values: Any) -> bool:
    """Whether a Tensor among ``values`` requires grad or carries a forward-mode tangent (tg.jvp,
    jacfwd, dual numbers): computing on its data would drop either silently."""
    level = None if autograd._forward is None else forward.current()
    return _tracked_at(values, level)


def _tracked_at(values: Any, level: forward.Level | None) -> bool:
    for v in values:
        if isinstance(v, Tensor) and (v.requires_grad or level is not None and level.carries(v)):
            return True
        if isinstance(v, (list, tuple)) and _tracked_at(v, level):
            return True
    return False


def _holds_tensor(values: Any) -> bool:
    """Whether a Tensor is among ``values`` (in lists and tuples too, as np.select takes them)."""
    for v in values:
        if isinstance(v, Tensor) or isinstance(v, (list, tuple)) and _holds_tensor(v):
            return True
    return False


def _refuse_reading(name: str, values: Any) -> None:
    """While tg.jit or an ONNX export records, a NumPy function reading Tensors' values: its
    result would be a constant of the recording (an index, a branch)."""
    if autograd._tracer is not None and _holds_tensor(values):
        autograd.refuse_replay(
            f"np.{name} reads a Tensor's values while recording, so the recording would keep "
            "its result as a constant (an index, a branch); compute it with tinygrad_mv "
            "operations (tg.where, masks), or outside the recorded function")


def _wrap(result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, (np.ndarray, np.generic)):
        return _make(np.asarray(result), None)
    return result


def _bool_valued(ufunc: np.ufunc) -> bool:
    """True for tests such as isnan, isfinite, logical_and: their results carry no gradient."""
    float_loops = [t for t in ufunc.types if t.startswith("d" * ufunc.nin)]
    return bool(float_loops) and all(set(t.split("->")[1]) == {"?"} for t in float_loops)


def _check_out(t: Tensor, ufunc: np.ufunc, method: str) -> None:
    """A Tensor that NumPy writes into (``out=t``, ``np.add.at(t, ...)``): the write is not
    recorded, so it is refused where ``t += ...`` would be recorded or refused."""
    what = f"np.{ufunc.__name__}.{method} writing into a Tensor of shape {t.shape}"
    autograd.refuse_replay(f"{what} cannot be replayed; compute out of place")
    if t.requires_grad and autograd._grad_enabled.get():
        raise RuntimeError(f"{what}: the Tensor requires grad and the write would not be "
                           "recorded; write t += ..., t[...] = ... or under tg.no_grad()")


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    op = _UFUNCS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs:
        return op(*inputs)
    if not _tracked(inputs) or (method == "__call__" and _bool_valued(ufunc)):
        # Nothing to differentiate, or a bool-valued test (isnan, isfinite, logical_and, ...).
        outs = kwargs.get("out", ())
        written = [o for o in outs if isinstance(o, Tensor)]
        if method == "at" and isinstance(inputs[0], Tensor):  # np.add.at(t, ...) writes t
            written.append(inputs[0])
        for t in written:
            _check_out(t, ufunc, method)
        if outs:
            kwargs = dict(kwargs, out=tuple(_raw(o) for o in outs))
        call = functools.partial(getattr(ufunc, method), **kwargs)
        raw = _raw(inputs)
        result = call(*raw)
        for t in written:  # a value a recorded operation saved may have changed
            versions.note_write(t._data)
        if outs:
            # NumPy's protocol: the out arguments themselves, so `arr -= tensor` keeps `arr` an
            # ndarray (a parameter's .data stays an array in `p.data -= lr * p.grad`)
            return outs[0] if len(outs) == 1 else outs
        result = _wrap(result)
        tracer = autograd._tracer
        if tracer is not None and isinstance(result, Tensor) and "out" not in kwargs:
            for operand in inputs:  # a parameter tested is read at each call
                if isinstance(operand, Tensor):
                    tracer.read(operand)
            tracer.record_call(autograd._ndarray_result(call), raw, result._data)
        return result
    name = ufunc.__name__
    if op is not None:
        raise TypeError(f"np.{name}.{method} with {sorted(kwargs)} is not differentiable in "
                        f"tinygrad_mv; call np.{name}(...) plainly or use the Tensor methods")
    if name in _STEPS:
        use = (f"; its slope is 0 wherever it exists: apply it to t.detach() (np.{name}"
               "(t.detach())) or build the piecewise function with tg.where")
    else:
        hint = _SUGGESTIONS.get(name)
        code, _, remark = (hint or "").partition("  # ")
        use = f"; use {code} instead" + (f" ({remark})" if remark else "") if hint else \
            f"; {_GENERIC}"
    raise TypeError(f"np.{name} has no differentiable counterpart in tinygrad_mv and would drop "
                    f"the graph (or tangent) of a Tensor that requires grad{use}")


def _where(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:  # the positions where the condition holds: values read
        _refuse_reading("where", (condition,))
        return np.where(_raw(condition))
    return ew.where(condition, x, y)


def _reduction(op: Callable) -> Callable:
    def call(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
             keepdims: Any = False, **rest: Any) -> Any:
        if dtype is not None or out is not None or rest:
            raise TypeError(f"np.{op.__name__} on a Tensor takes axis and keepdims only")
        return op(a, axis=axis, keepdims=keepdims is True)
    return call


_FUNCTIONS: dict[Callable, Callable] = {
    np.sum: _reduction(reduce.sum), np.mean: _reduction(reduce.mean),
    np.max: _reduction(reduce.max), np.min: _reduction(reduce.min),
    np.amax: _reduction(reduce.max), np.amin: _reduction(reduce.min),
    np.reshape: lambda a, shape=None, newshape=None: shp.reshape(
        a, shape if shape is not None else newshape),
    np.transpose: lambda a, axes=None: shp.transpose(a, axes),
    np.swapaxes: shp.swapaxes,
    np.broadcast_to: lambda array, shape, subok=False: shp.broadcast_to(array, shape),
    np.squeeze: lambda a, axis=None: shp.squeeze(a, axis),
    np.expand_dims: lambda a, axis: shp.unsqueeze(a, axis),
    np.concatenate: lambda arrays, axis=0: shp.concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0: shp.stack(arrays, axis), np.where: _where,
    np.dot: linalg.dot, np.outer: linalg.outer,
    np.clip: lambda a, a_min=None, a_max=None: ew.clip(a, a_min, a_max),
}


# The NumPy-coverage families register their own names (and replace the plain ones above where
# they take more of NumPy's arguments).
for _family in (unary, binary, rounding, statistics, arrange, matrix, linalg):
    for _numpy_name, _impl in _family.NUMPY.items():
        (_UFUNCS if isinstance(_numpy_name, np.ufunc) else _FUNCTIONS)[_numpy_name] = _impl


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    impl = _FUNCTIONS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    if func in _INSPECTION or not _tracked(args) and not _tracked(kwargs.values()):
        if func not in _SHAPES_ONLY:  # (*_like read the first one's shape only)
            _refuse_reading(func.__name__, (*(args[1:] if func in _LIKE else args),
                                            *kwargs.values()))
        return func(*_raw(args), **{k: _raw(v) for k, v in kwargs.items()})
    raise TypeError(f"np.{func.__name__} is not differentiable in tinygrad_mv and would drop the "
                    "graph (or tangent) of a Tensor that requires grad; use the tg. functions and "
                    "Tensor methods, or pass t.detach() to leave the graph on purpose")


def differentiable_numpy_names() -> list[str]:
    """Every NumPy function and ufunc that differentiates on Tensors, as ``np.NAME`` (sorted)."""
    names = set()
    for fn in (*_UFUNCS, *_FUNCTIONS):
        module = getattr(fn, "__module__", None) or "numpy"
        prefix = "np.linalg." if module.startswith("numpy.linalg") else "np."
        names.add(prefix + fn.__name__)
    return sorted(names)
