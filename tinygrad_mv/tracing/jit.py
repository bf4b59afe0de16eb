"""``jit``: one recorded program per input signature, checked once against an eager run on
perturbed inputs, replayed at later calls."""
from __future__ import annotations

import functools
import struct
import threading
import warnings
from typing import Any, Callable

import numpy as np

from .. import autograd
from ..autograd import JitError
from ..tensor import _FLOATS, Tensor, _make
from .program import _dynamic, _flatten, _Program
from .recorder import _Tracer


def _perturbed(arr: np.ndarray) -> np.ndarray:
    step = np.asarray(2.0 ** -10, dtype=arr.dtype)
    return np.asarray(arr + (np.abs(arr) + 1) * step)  # (0-d: an array, not a NumPy scalar)


def _same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    scale = float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))
    return bool(np.allclose(a, b, rtol=1e-12, atol=1e-13 * scale, equal_nan=True))


_ndarray, _float64, _FLOAT64 = np.ndarray, np.float64, np.dtype(np.float64)
_recording = threading.Lock()
_MANY_RECORDINGS = 16  # a warning then: usually a Python number that changes at every call


def _static_key(value: Any) -> Any:
    """A static argument as part of the signature: its type and value, a float by its bits
    (0.0 == -0.0, 2 == 2.0 == True, yet f may give different results for them), in tuples too."""
    kind = type(value)
    if isinstance(value, float):
        return kind, struct.pack("<d", value)
    if kind is tuple:
        return kind, tuple(_static_key(v) for v in value)
    return kind, value


def _skeleton(result: Any) -> Any:
    """A result's structure and Python constants, its Tensors left out (compared by _check: a
    number computed from .data would otherwise be returned frozen)."""
    if isinstance(result, Tensor):
        return Tensor
    if isinstance(result, (tuple, list)):
        return type(result), tuple(_skeleton(v) for v in result)
    if isinstance(result, dict):
        return dict, tuple((k, _skeleton(v)) for k, v in result.items())  # (rebuilt as dict)
    return _static_key(result)


def _refuse_nested(name: str) -> None:
    tracer = autograd._tracer
    if tracer is not None and tracer.active():
        raise JitError(f"jit({name}): called while jit({tracer.name}) is being recorded; jit "
                       "only the outermost function")


class _Jitted:
    """What :func:`jit` returns: call it like ``f``."""

    def __init__(self, f: Callable) -> None:
        if not callable(f):
            raise TypeError(f"jit: the function must be callable, got {type(f).__name__}")
        self.f = f
        self.name = getattr(f, "__name__", type(f).__name__)
        self.programs: dict[tuple, _Program] = {}
        self.recordings = 0  # how many times f was recorded (once per new input signature)
        # The last program replayed for arguments that are all float arrays (no static argument,
        # no keyword): (each argument's shape, dtype and C order, the grad mode, its run), checked
        # first at each call, as finding it by the signature costs more than its replay's checks.
        self._last: tuple[tuple, bool, Callable] | None = None
        functools.update_wrapper(self, f, updated=())  # f.__dict__ could shadow programs, f, ...

    def _split(self, args: tuple) -> tuple[list[int], list[np.ndarray], tuple]:
        positions, arrays, key = [], [], []
        ndarray = np.ndarray
        for i, a in enumerate(args):
            kind = type(a)
            if kind is ndarray and a.dtype in _FLOATS:  # float32/64: the common case, first
                arr = a
            elif isinstance(a, Tensor):
                if a._requires_grad and autograd.is_grad_enabled():
                    return [], [], ()  # differentiated: run eagerly
                arr = a._data
            else:
                try:
                    arr = _dynamic(a)
                except TypeError as exc:
                    raise TypeError(f"jit({self.name}): argument {i} has {exc}") from None
            if arr is None:
                try:
                    hash(a)
                except TypeError as exc:
                    raise TypeError(f"jit({self.name}): argument {i} of type "
                                    f"{type(a).__name__} is neither an array nor hashable (a "
                                    "static argument must be hashable)") from exc
                key.append(_static_key(a))
            else:
                positions.append(i)
                arrays.append(arr)
                # C order apart: replays are planned for the recording's memory layout
                key.append((arr.shape, arr.dtype, arr.flags.c_contiguous))
        return positions, arrays, tuple(key)

    def _call_with(self, args: tuple, kwargs: dict, positions: list[int],
                   arrays: list[np.ndarray]) -> Any:
        call_args = list(args)
        for i, arr in zip(positions, arrays):
            call_args[i] = _make(arr, None)
        return self.f(*call_args, **kwargs)

    def _record(self, args: tuple, kwargs: dict, positions: list[int],
                arrays: list[np.ndarray]) -> _Program:
        c_order = all(arr.flags.c_contiguous for arr in arrays)
        tracer = _Tracer(self.name, c_order)
        # Record on private copies: slots are found by identity, so an array passed twice, or
        # also held by a closure, would otherwise become one slot for both.
        arrays = [arr.copy() for arr in arrays]
        for arr in arrays:
            tracer.new_slot(arr)
        _refuse_nested(self.name)
        with _recording:  # another thread's recording finishes first (one global tracer)
            autograd._tracer = tracer
            try:
                result = self._call_with(args, kwargs, positions, arrays)
            finally:
                autograd._tracer = None
        leaves, rebuild = _flatten(result, self.name)
        # t passed along: a Tensor f only returns (a parameter) is read at every call
        out_slots = [tracer.slot(t._data, t) for t in leaves]
        program = _Program(tracer, len(arrays), out_slots, rebuild, c_order)
        self.recordings += 1
        self._check(program, args, kwargs, positions, arrays)
        return program

    def _check(self, program: _Program, args: tuple, kwargs: dict, positions: list[int],
               arrays: list[np.ndarray]) -> None:
        """Replay and run eagerly on perturbed inputs: different results mean f depends on
        values the tape does not see."""
        moved = [_perturbed(a) for a in arrays]
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                eager = self._call_with(args, kwargs, positions, moved)
            except Exception as exc:  # noqa: BLE001 - reported as a JitError below
                raise JitError(f"jit({self.name}): could not check the recording: the function "
                               f"raised on slightly perturbed inputs ({exc!r})") from exc
            replayed = program.run(moved)
        eager_leaves, _ = _flatten(eager, self.name)
        replay_leaves, _ = _flatten(replayed, self.name)
        if _skeleton(eager) != _skeleton(replayed) or not all(
                _same(e._data, r._data) for e, r in zip(eager_leaves, replay_leaves)):
            raise JitError(
                f"jit({self.name}): the recorded program does not reproduce the function on "
                "other inputs: it depends on values read outside tinygrad_mv operations (.data, "
                "NumPy on the data, Python branches on values); call it without tg.jit")

    def _failed(self, exc: Exception) -> JitError:
        return JitError(
            f"jit({self.name}): the recorded program failed on these inputs ({exc}). A shape "
            "that depends on the values, such as x[x > 0] (boolean-mask indexing), cannot be "
            "replayed: use tg.where(mask, x, 0), or call the function without tg.jit")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        last = self._last
        if (last is not None and not kwargs and autograd._tracer is None
                and autograd._grad_enabled.get() is last[1] and len(args) == len(last[0])
                and not autograd._anomaly.get()):
            for a, (shape, dtype, c_order) in zip(args, last[0]):
                kind = type(a)
                if kind is _ndarray:
                    if (a.shape != shape or a.dtype is not dtype
                            or a.flags.c_contiguous is not c_order):
                        break
                # a NumPy scalar, what arithmetic on a 0-d array gives back, for a 0-d float64
                # argument: the program reads those as NumPy scalars itself
                elif kind is not _float64 or shape or dtype is not _FLOAT64:
                    break
            else:
                try:
                    result = last[2](args)
                except (ValueError, IndexError) as exc:
                    raise self._failed(exc) from exc
                if result is not None:
                    return result
        positions, arrays, key = self._split(args)
        if (args and not key) or autograd._anomaly.get():
            return self.f(*args, **kwargs)  # differentiated or checked: eager
        if kwargs:
            for key_name, value in kwargs.items():
                if isinstance(value, Tensor):
                    raise TypeError(f"jit({self.name}): keyword argument {key_name!r} is a "
                                    "Tensor; pass arrays and Tensors positionally (keyword "
                                    "arguments are static, part of the signature)")
            try:
                key += (tuple(sorted((k, _static_key(v)) for k, v in kwargs.items())),)
                hash(key)
            except TypeError as exc:
                raise TypeError(f"jit({self.name}): keyword arguments must be hashable "
                                "(they are static)") from exc
        key += (autograd._grad_enabled.get(),)
        if autograd._tracer is not None:
            _refuse_nested(self.name)  # even with a program: replayed, f would be invisible
        program = self.programs.get(key)
        if program is not None:
            if not kwargs and len(positions) == len(args):
                self._last = (key[:-1], key[-1], program.run)
            try:
                result = program.run(arrays)
            except (ValueError, IndexError) as exc:
                raise self._failed(exc) from exc
            if result is not None:
                return result
        program = self._record(args, kwargs, positions, arrays)
        self.programs[key] = program
        if not kwargs and len(positions) == len(args):
            self._last = (key[:-1], key[-1], program.run)
        if self.recordings == _MANY_RECORDINGS:
            warnings.warn(f"jit({self.name}) has been recorded {self.recordings} times: each new "
                          "signature records again. A Python number is a static argument (part "
                          "of the signature); pass values that change as arrays.",
                          RuntimeWarning, stacklevel=2)
        return program.run(arrays)

    def replay(self, *args: Any) -> Callable[[list[np.ndarray]], Any] | None:
        """The program recorded for a call with ``args`` (all arrays or Tensors: no static
        argument, no keywords), under the grad mode in force, as a function of those arguments'
        arrays in order: for a caller repeating one signature many times (a fit), which would
        otherwise pay for finding the program at every call. That function returns None where a
        Tensor the program reads changed shape (then call the jitted function: it records
        again). None here where nothing is recorded yet, where such a call runs eagerly, and while
        a jit records (a replay would be invisible to it)."""
        positions, _, key = self._split(args)
        if (not args or not key or len(positions) != len(args) or autograd._anomaly.get()
                or autograd._tracer is not None):
            return None
        program = self.programs.get(key + (autograd._grad_enabled.get(),))
        return None if program is None else program.run


def jit(f: Callable) -> Callable:
    """``jit(f)``: ``f`` recorded once per input signature (shapes, dtypes, whether each array is
    in C order, static arguments) and replayed as a flat program of NumPy calls, several times
    cheaper for small and medium arrays.
    Arrays and Tensors are dynamic arguments; other arguments are static (part of the
    signature). ``jit(tg.grad(f))`` compiles the forward and the reverse pass. See
    :mod:`tinygrad_mv.tracing` for what can be recorded and the checks."""
    return _Jitted(f)
