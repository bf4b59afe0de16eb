"""The forward picture: one box per tensor and one ellipse per operation, inputs to output.
"""
from __future__ import annotations

import numpy as np

from .. import forward
from ..autograd import Node
from .labels import _params_text, _short_name
from .op_drawing import drawing
from .picture import _leaf_ids, _Picture, _tensor_lines
from .scopes import _node_scopes
from .tape import KeptConstant, _Tape


def _tangent(source: object) -> object:
    """The tangent a Tensor (or the value a node recorded) carries in the innermost forward-mode
    level that has one (fwAD.dual_level, tg.jvp), or None."""
    level = forward.current()
    while level is not None:
        found = (level.node_tangent(source) if type(source) is Node else
                 level.tangent(source))
        if found is not None:
            return found
        level = level.parent
    return None


def _forward_picture(tape: _Tape, show_values: bool, show_grads: bool) -> _Picture:
    pic = _Picture()
    root = tape.root
    scopes, leaf_scopes, out_scopes = _node_scopes(tape)
    leaf_ids = _leaf_ids(tape)
    for leaf in tape.leaves:
        key = id(leaf)
        is_root = leaf is root
        style = "output" if is_root else "leaf" if leaf.requires_grad else "const"
        name = tape.leaf_name(leaf)
        title = _short_name(name) or ("output" if is_root else None)
        pic.add(leaf_ids[key], _tensor_lines(title, leaf.shape, leaf.dtype, leaf._data, leaf.grad,
                                             show_values, show_grads, _tangent(leaf)),
                style, leaf_scopes.get(key))
        if name:
            pic.leaf_names[leaf_ids[key]] = str(name)
    freed = False
    for node in tape.nodes:
        seq = node.seq
        record = scopes.get(node)
        op_id = f"o{seq}"
        params = _params_text(node.params)
        pic.add(op_id, [node.op, params] if params else [node.op], "op", record)
        roles = drawing(node).roles or None
        many = len(node.parents) > 1
        for i, parent in enumerate(node.parents):
            if parent is None:
                const_id = f"c{seq}_{i}"
                raw = tape.constant(node, i)
                title = _short_name(tape.constant_name(node, i)) or "constant"
                if isinstance(raw, KeptConstant):  # released by backward: no values
                    lines = _tensor_lines(title, raw.shape, raw.dtype, None, None, False, False)
                elif raw is not None:
                    data = np.asarray(raw)
                    # A Python number has no dtype of its own: only arrays show theirs.
                    dtype = data.dtype if isinstance(raw, np.ndarray) else None
                    lines = _tensor_lines(title, data.shape, dtype, data, None, show_values,
                                          False)
                else:
                    lines = ["constant"]
                pic.add(const_id, lines, "const", record)
                tail = const_id
            elif type(parent) is Node:
                tail = f"t{parent.seq}"
            else:
                tail = leaf_ids[id(parent)]
            label = None
            if many and roles is not None:
                label = roles[i] if i < len(roles) else None
            elif many and not drawing(node).commutative:
                label = f"arg {i}"
            pic.edge(tail, op_id, label)
        value = tape.value(node)
        tensor = tape.tensor(node)
        is_root = node is root._node
        if value is None and show_values:
            freed = True
        title = _short_name(tensor.name) if tensor is not None else None
        grad = tensor.grad if tensor is not None else None
        pic.add(f"t{seq}", _tensor_lines(title or ("output" if is_root else None), node.shape,
                                         node.dtype, value, grad, show_values, show_grads,
                                         _tangent(node)),
                "output" if is_root else "tensor", out_scopes.get(node))
        pic.edge(op_id, f"t{seq}")
    if freed:
        pic.notes.append("values of intermediate results were freed by backward(); pass "
                         "retain_graph=True (or keep the tensors) to see them")
    if not tape.nodes and root.requires_grad is False:
        pic.notes.append("this tensor has no recorded graph: nothing it was computed from "
                         "requires grad (or it was computed under tg.no_grad())")
    return pic
