"""Reading the recorded graph: the nodes that end at the root, its leaves, and where each value,
name and constant is found (the leaves' ``.data``, a node's saved output, the live Tensor).
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple

import numpy as np

from .. import versions
from ..autograd import Node


def _param_names(params: Any) -> dict[int, str]:
    """``params=``: a Module (its named_parameters()) or a mapping of names to Tensors, as
    torchviz's ``make_dot(params=dict(model.named_parameters()))``."""
    from ..tensor import Tensor
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if not hasattr(params, "items"):
        raise TypeError(f"params= takes a Module or a dict of names to Tensors, got "
                        f"{type(params).__name__}")
    names = {}
    for name, tensor in params.items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"params=: '{name}' is a {type(tensor).__name__}, not a Tensor")
        names[id(tensor)] = str(name)
    return names


class KeptConstant(NamedTuple):
    """A constant operand of a node whose values backward released: its shape and dtype (None
    for a number), and a weak reference to the array (None for a number), whose id names it."""

    shape: tuple
    dtype: Any
    ref: Any


class _Tape:
    """The part of the tape that ends at ``root``: nodes by creation order, and the leaves."""

    def __init__(self, root: Any, limit: int | None, constants: Iterable[Any] = (),
                 params: Any = None) -> None:
        from ..tensor import Tensor
        if not isinstance(root, Tensor):
            raise TypeError(f"expected a Tensor to draw the graph that produced it, got "
                            f"{type(root).__name__}")
        self.root = root
        self.param_names = _param_names(params)
        # A constant input is saved as the very array of the Tensor it came from: identity
        # finds its name (the Tensors are alive, so no other array can share the id).
        self.constant_names: dict[int, str] = {}
        for tensor in constants:
            if not isinstance(tensor, Tensor):
                raise TypeError(f"constants= takes Tensors, got {type(tensor).__name__}")
            if tensor.name:
                self.constant_names[id(tensor._data)] = str(tensor.name)
        self.truncated = False
        start = root._node
        nodes: list[Node] = []
        if start is not None:
            seen = {start}
            stack = [start]
            while stack:
                node = stack.pop()
                nodes.append(node)
                for parent in node.parents:
                    if type(parent) is Node and parent not in seen:
                        seen.add(parent)
                        stack.append(parent)
                if limit is not None and len(seen) > limit:
                    self.truncated = True
                    break
        nodes.sort(key=lambda n: n.seq)
        self.nodes = nodes
        leaves: dict[int, Any] = {}
        consumers: dict[int, list[Node]] = {}
        for node in nodes:
            for parent in node.parents:
                if parent is not None and type(parent) is not Node:
                    leaves.setdefault(id(parent), parent)
                    consumers.setdefault(id(parent), []).append(node)
        self.leaves = list(leaves.values()) if start is not None else [root]
        self.leaf_consumers = consumers
        self.released = any(n.saved is None for n in nodes)

    def leaf_name(self, leaf: Any) -> str | None:
        """The leaf's own name, else the one ``params=`` gives it (``"0.weight"``)."""
        return leaf.name or self.param_names.get(id(leaf))

    def value(self, node: Node) -> np.ndarray | None:
        if node is self.root._node:
            return self.root.data
        out = node.saved[1] if node.saved is not None else None
        if type(out) is np.ndarray:
            # Overwritten by an in-place write since: the value it had is gone.
            return None if versions.written_since(out, node.seq) else out
        tensor = node.out_ref() if node.out_ref is not None else None
        return None if tensor is None else tensor._data

    def constant(self, node: Node, index: int) -> Any:
        """The constant operand ``index`` of ``node``: its array or number, or a
        :class:`KeptConstant` (shape and dtype, no values) once backward released them."""
        if node.saved is not None:
            return node.saved[0][index]
        kept = getattr(node, "kept_constants", None)  # (a slot set on release, arrays only)
        entry = None if kept is None else kept.get(index)
        return KeptConstant(*entry) if entry is not None else KeptConstant((), None, None)

    def constant_name(self, node: Node, index: int) -> str | None:
        if not self.constant_names:
            return None
        data = self.constant(node, index)
        if isinstance(data, KeptConstant):
            data = None if data.ref is None else data.ref()  # the array, while it lives
        return None if data is None else self.constant_names.get(id(data))

    def tensor(self, node: Node) -> Any:
        if node is self.root._node:
            return self.root
        return node.out_ref() if node.out_ref is not None else None
