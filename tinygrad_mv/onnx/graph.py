"""Building an ONNX graph: named values, nodes, initializers (this module imports ``onnx``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import files


def onnx_type(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class GraphBuilder:
    """Nodes and initializers of one ONNX graph, with fresh value names."""

    def __init__(self, reserved: Sequence[str] = ()) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.count = 0
        self.reserved = set(reserved)  # the inputs' and outputs' names: never generated

    def fresh(self, hint: str = "v") -> str:
        while True:
            self.count += 1
            name = f"{hint}_{self.count}"
            if name not in self.reserved:
                return name

    def node(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        out = self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attributes))
        return out

    def constant(self, value: Any, dtype: Any = None, name: str | None = None) -> str:
        array = np.asarray(value, dtype=dtype)
        name = name or self.fresh("const")
        self.initializers[name] = numpy_helper.from_array(array.copy(order="C"), name)
        return name

    def literal(self, value: Any, dtype: Any = None) -> str:
        """A number an operation computes with, as a Constant node: the initializers stay the
        model's parameters and the arrays it closes over."""
        array = np.asarray(value, dtype=dtype)
        return self.node("Constant", [], value=numpy_helper.from_array(array.copy(order="C")))

    def ints(self, values: Sequence[int]) -> str:
        return self.constant(np.asarray(values, dtype=np.int64).reshape(-1))

    def cast(self, name: str, source: np.dtype, target: np.dtype) -> str:
        if np.dtype(source) == np.dtype(target):
            return name
        return self.node("Cast", [name], to=onnx_type(target))

    def reshape(self, name: str, shape: Sequence[int]) -> str:
        # allowzero: a 0 in the shape is a length of 0, not "keep this axis" (ONNX's default)
        return self.node("Reshape", [name, self.ints(list(shape))], allowzero=1)

    def model(self, inputs: list[tuple[str, np.ndarray]], outputs: list[tuple[str, np.ndarray]],
              opset: int, graph_name: str) -> onnx.ModelProto:
        nodes = _live_nodes(self.nodes, {n for n, _ in outputs})
        used = {name for node in nodes for name in node.input} | {n for n, _ in outputs}
        graph = helper.make_graph(
            nodes, graph_name,
            [helper.make_tensor_value_info(n, onnx_type(a.dtype), list(a.shape))
             for n, a in inputs],
            [helper.make_tensor_value_info(n, onnx_type(a.dtype), list(a.shape))
             for n, a in outputs],
            [t for n, t in self.initializers.items() if n in used])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="tinygrad_mv")
        model.ir_version = min(model.ir_version, 10)  # what onnxruntime releases read
        return model


def _live_nodes(nodes: list, wanted: set[str]) -> list:
    """The nodes the outputs depend on, in order (recording runs the whole function)."""
    needed = set(wanted)
    kept = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    return kept


def write_atomically(model: onnx.ModelProto, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` through a temporary file in the same folder: a failure leaves
    no half-written file (and an existing file untouched)."""
    data = model.SerializeToString()
    return files.write_atomically(path, lambda out: out.write(data), "onnx.export")
