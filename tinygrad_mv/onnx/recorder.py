"""Recording a function for export: the tape's hooks (the same ones ``tg.jit`` listens to) turn
each operation into ONNX nodes as it runs, through the table in operators.py."""
from __future__ import annotations

import functools
import os
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import autograd
from ..observer import Observer
from ..tensor import Tensor


class ExportError(RuntimeError):
    """An operation, or a use of one, that has no ONNX counterpart: the message names it and the
    line of user code that made it."""


@dataclass
class Call:
    """One recorded operation: the ONNX names of its operands, their values at recording, its
    static params, the names of params that are recorded arrays (a where's mask), its result."""

    op: str
    ins: list[str]
    datas: list[np.ndarray]
    params: dict
    out: np.ndarray
    refs: dict = field(default_factory=dict)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_line() -> str:
    """``file:line`` of the innermost frame outside tinygrad_mv: where the user made the op."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _op_names() -> dict[int, str]:
    """Operations by their forward function; where two share one (a user's primitive on np.sin)
    they compute the same, and the first made names it."""
    names: dict[int, str] = {}
    for op in autograd.OPS:
        names.setdefault(id(op.forward), op.__name__)
    return names


class Recorder(Observer):
    """Installed as the tape's tracer while the exported function runs: every operation on a
    recorded value becomes nodes of ``builder``; values no operation made are initializers."""

    def __init__(self, name: str, builder: Any, emitters: dict[str, Callable],
                 calls: dict[Any, Callable], named: dict[int, str]) -> None:
        self.name = name
        self.thread = threading.get_ident()
        self.builder = builder
        self.emitters = emitters
        self.calls = calls
        self.names: dict[int, str] = {}  # id(array) -> ONNX value name
        self.named = named  # id(array) -> initializer name (module parameters)
        self.keep: list[Any] = []  # keeps recorded arrays alive: ids stay unique
        self.op_names = _op_names()
        self.rule_passes = 0  # the engine counts its recorded (create_graph) passes here

    def active(self) -> bool:
        return threading.get_ident() == self.thread

    def input(self, array: np.ndarray, name: str) -> None:
        self.names[id(array)] = name
        self.keep.append(array)

    def value(self, array: Any) -> str:
        """The ONNX name of ``array``: a recorded value, or a new initializer (frozen now)."""
        name = self.names.get(id(array))
        if name is None:
            data = np.asarray(array)
            name = self.builder.constant(data.copy(), name=self.named.get(id(array)))
            self.names[id(array)] = name
            self.keep.append(array)
        return name

    def recorded(self, array: Any) -> bool:
        return id(array) in self.names and self.names[id(array)] not in self.builder.initializers

    def bind(self, name: str, array: np.ndarray) -> None:
        self.names[id(array)] = name
        self.keep.append(array)

    # --- the tape's hooks --------------------------------------------------------------------
    def record_op(self, forward: Callable, params: dict, args: tuple, datas: list,
                  out: Any) -> None:
        if not self.active():
            return
        op = self.op_names.get(id(forward), getattr(forward, "__name__", "operation"))
        emit = self.emitters.get(op)
        if emit is None:
            raise ExportError(f"onnx.export({self.name}): the operation '{op}' (made at "
                              f"{user_line()}) has no ONNX counterpart in tinygrad_mv")
        if np.size(out) == 0:
            # an empty result depends on no value: a constant (ONNX Runtime's Expand to a shape
            # with a 0 gave one element per 0, a scatter then failed on new inputs)
            self.bind(self.builder.constant(np.empty(np.shape(out), np.asarray(out).dtype)), out)
            return
        ins = []
        for data, arg in zip(datas, args):
            # (a bool or integer Tensor beside float32 ones is converted too: a relu's mask)
            source = arg._data if isinstance(arg, Tensor) else arg
            if data is not source and self.recorded(source):
                # a recorded bool or integer array the operation converted to float
                ins.append(self.builder.cast(self.value(source), np.asarray(source).dtype,
                                             data.dtype))
                self.bind(ins[-1], data)
            else:
                ins.append(self.value(data))
        refs = {}
        for key, param in params.items():
            if isinstance(param, np.ndarray) and self.recorded(param):
                refs[key] = self.names[id(param)]
        call = Call(op, ins, [np.asarray(d) for d in datas], params, np.asarray(out), refs)
        try:
            name = emit(self.builder, call)
        except ExportError as exc:
            raise ExportError(f"onnx.export({self.name}): '{op}' (made at {user_line()}): "
                              f"{exc}") from None
        self.bind(name, out)

    def read(self, tensor: Tensor) -> None:
        """``tensor``'s data is about to be used outside an operation: nothing to do (a Tensor
        no operation made becomes an initializer, frozen, when an operation uses it)."""

    def record_copy(self, source: Any, result: np.ndarray) -> None:
        if not self.active() or not self.recorded(source):
            return  # a copy of a constant is a constant (made an initializer when used)
        self.bind(self.builder.cast(self.value(source), np.asarray(source).dtype, result.dtype),
                  result)

    def record_call(self, fn: Callable, args: tuple, result: Any) -> None:
        if not self.active() or not any(self.recorded(a) for a in args):
            return
        ufunc = getattr(fn, "wrapped", fn)
        if isinstance(ufunc, functools.partial) and not ufunc.keywords and not ufunc.args:
            ufunc = ufunc.func
        ufunc = getattr(ufunc, "__self__", ufunc)  # np.isnan.__call__ -> np.isnan
        emit = self.calls.get(ufunc)
        base = ufunc.func if isinstance(ufunc, functools.partial) else ufunc
        label = getattr(base, "__name__", repr(base))
        if emit is None:
            raise ExportError(f"onnx.export({self.name}): np.{label} on a recorded value (at "
                              f"{user_line()}) has no ONNX counterpart in tinygrad_mv")
        # A Python number is weak, as NumPy's promotion makes it: float32 > 0.1 compares in
        # float32, so the number becomes a constant of the common type, not of float64.
        common = np.result_type(*args)
        args = tuple(np.asarray(a, dtype=common) if type(a) in (bool, int, float) else a
                     for a in args)
        ins = [self.value(a) for a in args]
        self.bind(emit(self.builder, ins, [np.asarray(a) for a in args], np.asarray(result)),
                  result)

    # --- a first-order backward pass (the engine's observer) -----------------------------------
    def begin(self, inputs: Any) -> None:
        raise ExportError(f"onnx.export({self.name}): a backward pass that is not recorded "
                          "(backward() or tg.autograd.grad without create_graph) cannot be "
                          "exported; differentiate with tg.grad or tg.value_and_grad")
