"""Making Tensors: ``tg.tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``,
``randn``, ``rand`` and the ``*_like`` helpers (float64 unless ``dtype=`` says otherwise)."""
from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

from .tensor import Tensor

__all__ = ["tensor", "zeros", "ones", "full", "arange", "linspace", "randn", "rand",
           "zeros_like", "ones_like", "eye"]


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        # operator.index: 2.5 or "2" are refused, not truncated to 2 (as NumPy does)
        dims = tuple(operator.index(n) for n in shape)
    except TypeError as exc:
        raise TypeError(f"shape must be integers, got {shape!r}") from exc
    if any(n < 0 for n in dims):
        raise ValueError(f"shape must not have negative dimensions, got {dims}")
    return dims


def _creation(data: np.ndarray, requires_grad: bool, dtype: Any) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype or np.float64)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None,
           name: str | None = None) -> Tensor:
    """``tg.tensor(data)``: the same as ``Tensor(data, ...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _shape_of(name: str, positional: tuple, keywords: dict) -> tuple[int, ...]:
    """``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(shape=(2, 3))``."""
    unknown = set(keywords) - {"shape"}
    if unknown:
        raise TypeError(f"{name}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    if "shape" not in keywords:
        return _shape_arg(positional)
    if positional:
        raise TypeError(f"{name}: give the shape either positionally or as shape=, not both")
    shape = keywords["shape"]
    return _shape_arg((tuple(shape),) if isinstance(shape, (tuple, list)) else (shape,))


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = None,
          **keywords: Any) -> Tensor:
    """A Tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))`` (float64 unless ``dtype``)."""
    return _creation(np.zeros(_shape_of("zeros", shape, keywords)), requires_grad, dtype)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = None, **keywords: Any) -> Tensor:
    """A Tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))`` (float64 unless ``dtype``)."""
    return _creation(np.ones(_shape_of("ones", shape, keywords)), requires_grad, dtype)


def full(shape: Any, value: float, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A Tensor of ``shape`` filled with ``value``."""
    shape = _shape_arg((shape,) if not isinstance(shape, (tuple, list)) else (tuple(shape),))
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"full: value must be a real number, got {type(value).__name__}")
    return _creation(np.full(shape, value, dtype=np.float64), requires_grad, dtype)


def zeros_like(t: Any, requires_grad: bool = False) -> Tensor:
    """Zeros of the shape and dtype of ``t``."""
    return Tensor(np.zeros_like(np.asarray(t)), requires_grad=requires_grad)


def ones_like(t: Any, requires_grad: bool = False) -> Tensor:
    """Ones of the shape and dtype of ``t``."""
    return Tensor(np.ones_like(np.asarray(t)), requires_grad=requires_grad)


def _numpy_helper(name: str, fn: Callable[..., np.ndarray], *args: Any) -> np.ndarray:
    """Call a NumPy constructor, naming the helper and its arguments when NumPy refuses them."""
    try:
        return fn(*args)
    except TypeError as exc:
        raise TypeError(f"{name}: invalid arguments {args!r}: {exc}") from exc
    except (ValueError, ZeroDivisionError) as exc:  # arange(0, 1, 0) divides by zero
        raise ValueError(f"{name}: invalid arguments {args!r}: {exc}") from exc


def eye(n: int, m: int | None = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    return _creation(_numpy_helper("eye", np.eye, n, m), requires_grad, dtype)


def arange(*args: float, requires_grad: bool = False, dtype: Any = None,
           **bounds: float) -> Tensor:
    """As ``np.arange(start, stop, step)``, in float64 unless ``dtype`` says otherwise. The bounds
    may also be keywords: ``start=``, ``end=`` (PyTorch) or ``stop=`` (NumPy), ``step=``."""
    if len(args) > 3:
        raise TypeError(f"arange takes at most 3 bounds (start, end, step), got {len(args)}")
    if bounds:
        args = _arange_bounds(args, bounds)
    return _creation(_numpy_helper("arange", lambda *a: np.arange(*a, dtype=np.float64), *args),
                     requires_grad, dtype)


def _arange_bounds(args: tuple, bounds: dict) -> tuple:
    unknown = set(bounds) - {"start", "end", "stop", "step"}
    if unknown:
        raise TypeError(f"arange() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    if "end" in bounds and "stop" in bounds:
        raise TypeError("arange: give end= or stop=, not both")
    bounds = {("end" if key == "stop" else key): value for key, value in bounds.items()}
    # As in PyTorch, a lone positional bound is the end, unless the end is a keyword.
    alone_is_end = len(args) == 1 and "end" not in bounds
    given = {"end": args[0]} if alone_is_end else dict(zip(("start", "end", "step"), args))
    twice = set(given) & set(bounds)
    if twice:
        raise TypeError(f"arange: {sorted(twice)[0]} given both positionally and as a keyword")
    given.update(bounds)
    if "end" not in given:
        raise TypeError("arange: the end of the range is missing (end= or stop=)")
    return (given.get("start", 0), given["end"], given.get("step", 1))


def linspace(start: float, stop: float, num: int = 50, requires_grad: bool = False,
             dtype: Any = None) -> Tensor:
    """``num`` evenly spaced numbers from ``start`` to ``stop`` included, as NumPy's."""
    return _creation(_numpy_helper("linspace", np.linspace, start, stop, num), requires_grad,
                     dtype)


def _generator(rng: Any) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got "
                    f"{type(rng).__name__}")


def randn(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None,
          **keywords: Any) -> Tensor:
    """Standard normal samples; ``rng`` a ``np.random.Generator`` or an int seed."""
    dims = _shape_of("randn", shape, keywords)
    return _creation(_generator(rng).standard_normal(dims), requires_grad, dtype)


def rand(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None,
         **keywords: Any) -> Tensor:
    """Uniform samples in [0, 1); ``rng`` a ``np.random.Generator`` or an int seed."""
    return _creation(_generator(rng).random(_shape_of("rand", shape, keywords)), requires_grad,
                     dtype)
