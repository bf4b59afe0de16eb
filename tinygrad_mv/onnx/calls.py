"""The ONNX counterpart of each NumPy call made outside operations on a recorded value: the
comparisons, tests and logic that make masks (``x > 0``, ``np.isnan(x)``, ``~mask``). An entry
``emit(b, ins, datas, out) -> name`` adds the nodes computing ``out`` from the operands."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .graph import GraphBuilder


def _comparison(op_type: str, negate: bool = False) -> Callable:
    def emit(b: GraphBuilder, ins: list[str], datas: list[np.ndarray], out: np.ndarray) -> str:
        dtype = np.result_type(*datas)
        result = b.node(op_type, [b.cast(n, d.dtype, dtype) for n, d in zip(ins, datas)])
        return b.node("Not", [result]) if negate else result
    return emit


def _nonzero(b: GraphBuilder, ins: list[str], datas: list[np.ndarray], out: np.ndarray) -> str:
    zero = b.constant(np.zeros((), dtype=datas[0].dtype))
    return b.node("Not", [b.node("Equal", [ins[0], zero])])


def _bitwise(logical: str, bitwise: str) -> Callable:
    """``&``, ``|``, ``^`` and ``~`` of masks (logic), or of integers (bits), as NumPy's."""
    def emit(b: GraphBuilder, ins: list[str], datas: list[np.ndarray], out: np.ndarray) -> str:
        operands = [b.cast(n, d.dtype, out.dtype) for n, d in zip(ins, datas)]
        return b.node(logical if out.dtype == np.bool_ else bitwise, operands)
    return emit


def _truth(op_type: str) -> Callable:
    """NumPy's logical_and, ...: each operand's truth (not 0), then the logic."""
    def emit(b: GraphBuilder, ins: list[str], datas: list[np.ndarray], out: np.ndarray) -> str:
        truths = [n if d.dtype == np.bool_ else _nonzero(b, [n], [d], out)
                  for n, d in zip(ins, datas)]
        return b.node(op_type, truths)
    return emit


def _finite_test(finite: bool) -> Callable:
    """np.isfinite and np.isinf (ONNX's IsInf takes floats only: integers are all finite)."""
    def emit(b: GraphBuilder, ins: list[str], datas: list[np.ndarray], out: np.ndarray) -> str:
        if datas[0].dtype.kind != "f":
            return b.constant(np.full(out.shape, finite))
        infinite = b.node("IsInf", ins)
        return b.node("Not", [b.node("Or", [infinite, b.node("IsNaN", ins)])]) if finite \
            else infinite
    return emit


# NumPy calls made outside operations on recorded values (masks): ``emit(b, ins, datas, out)``.
def calls() -> dict[Any, Callable]:
    from ..ops import elementwise
    return {
        np.less: _comparison("Less"), np.less_equal: _comparison("LessOrEqual"),
        np.greater: _comparison("Greater"), np.greater_equal: _comparison("GreaterOrEqual"),
        np.equal: _comparison("Equal"), np.not_equal: _comparison("Equal", negate=True),
        elementwise._nonzero: _nonzero,
        np.isnan: lambda b, ins, datas, out: b.node("IsNaN", ins),
        np.isinf: _finite_test(False), np.isfinite: _finite_test(True),
        np.bitwise_and: _bitwise("And", "BitwiseAnd"), np.bitwise_or: _bitwise("Or", "BitwiseOr"),
        np.bitwise_xor: _bitwise("Xor", "BitwiseXor"), np.invert: _bitwise("Not", "BitwiseNot"),
        np.logical_and: _truth("And"), np.logical_or: _truth("Or"),
        np.logical_xor: _truth("Xor"), np.logical_not: _truth("Not"),
    }
