"""The backward picture: the reverse pass, with the gradient flow recomputed on the saved arrays
and each edge labelled with the local derivative it applies.
"""
from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .. import engine
from ..observer import Observer
from ..autograd import Node
from .labels import _fill, _num, _operand_name, _shape_text, _short_name, _summary
from .op_drawing import drawing
from .picture import _leaf_ids, _Picture, _tensor_lines
from .scopes import _node_scopes
from .tape import _Tape

_AUTO_NAME_LENGTH = 18


def _local_text(node: Node, i: int, names: list[str], constant_exponent: Any) -> str:
    op = node.op
    if op == "pow" and i == 0 and constant_exponent is not None:
        c = float(constant_exponent)
        if c == 2:
            return f"g·2·{_operand_name(names[0])}"
        return f"g·{_num(c)}·{_operand_name(names[0])}^{_num(c - 1)}"
    if op == "concatenate":
        return f"slice {i} of g"
    if op == "stack":
        return f"g[{i}]"
    rules = drawing(node).local
    if i >= len(rules):
        return f"VJP {i} of {op}(g)"
    return _fill(rules[i], names)


def _display_names(tape: _Tape) -> dict[Any, str]:
    """A name for every tensor of the backward view: the user's name, else the formula that
    computed it when that is short ("sin(x·y)"), else "<op> output"."""
    names: dict[Any, str] = {}
    for k, leaf in enumerate(tape.leaves):
        names[id(leaf)] = _short_name(tape.leaf_name(leaf), 16) or f"leaf {k}"
    for node in tape.nodes:
        tensor = tape.tensor(node)
        if tensor is not None and tensor.name:
            names[node] = _short_name(tensor.name, 16)
            continue
        operands = []
        for i, parent in enumerate(node.parents):
            if parent is None:
                data = node.saved[0][i] if node.saved is not None else None
                operands.append(_num(np.asarray(data).reshape(-1)[0])
                                if data is not None and np.size(data) == 1 else "c")
            else:
                operands.append(names[parent] if type(parent) is Node else names[id(parent)])
        template = drawing(node).formula
        if template is not None and len(node.parents) >= template.count("{"):
            formula = _fill(template, operands)
        else:
            formula = f"{node.op}({', '.join(operands)})"
        names[node] = formula if len(formula) <= _AUTO_NAME_LENGTH else f"{node.op} output"
    return names


class _Flow(Observer):
    """Collects, from the engine's walk, the gradient at every tensor and along every edge."""

    runs_hooks = False  # drawing a picture must not call the user's hooks

    def __init__(self) -> None:
        self.grads: dict[Any, Any] = {}
        self.edges: dict[tuple[int, int], Any] = {}

    def visit(self, node: Node, grad: Any) -> None:
        self.grads[node] = np.asarray(grad)

    def edge(self, node: Node, i: int, contribution: Any) -> None:
        self.edges[(node.seq, i)] = np.asarray(contribution)


def _flow(tape: _Tape) -> tuple[dict, dict, dict] | None:
    """Re-run the reverse pass on the saved arrays (seed: ones), without touching any ``.grad``:
    the gradient at every tensor and the contribution along every edge. None when freed."""
    nodes = tape.nodes
    if not nodes or any(n.saved is None for n in nodes):
        return None
    root = tape.root
    flow = _Flow()
    with np.errstate(all="ignore"):
        found = engine.backward([root], [np.ones(root.shape, dtype=root.dtype)],
                                retain_graph=True, create_graph=False, inputs=tape.leaves,
                                observer=flow)
    leaf_grads = {id(leaf): np.asarray(g) for leaf, g in zip(tape.leaves, found)
                  if g is not None}
    return flow.grads, leaf_grads, flow.edges


def _backward_picture(tape: _Tape, show_values: bool, show_grads: bool) -> _Picture:
    pic = _Picture()
    root = tape.root
    loss = _short_name(root.name, 12) or "L"
    if not tape.nodes:
        pic.add("L0", _tensor_lines(_short_name(root.name) or "output", root.shape, root.dtype,
                                    None, root.grad, False, show_grads), "seed")
        pic.notes.append("this tensor was not computed by any recorded operation: there is no "
                         "backward pass to draw")
        return pic
    scopes, leaf_scopes, out_scopes = _node_scopes(tape)
    leaf_ids = {key: "g" + value for key, value in _leaf_ids(tape).items()}
    want_values = show_values or show_grads
    flow = None
    if want_values:
        try:
            flow = _flow(tape)
        except Exception as exc:  # a rule that cannot run outside the engine: draw structure
            pic.notes.append(f"gradient values could not be recomputed ({type(exc).__name__}: "
                             f"{exc})")
    if want_values and flow is None and tape.released:
        pic.notes.append("backward() freed the saved buffers, so only stored .grad values are "
                         "shown; call backward(retain_graph=True) to see every gradient")

    counts: collections.Counter = collections.Counter()
    for node in tape.nodes:
        for parent in node.parents:
            if parent is not None:
                counts[f"t{parent.seq}" if type(parent) is Node else leaf_ids[id(parent)]] += 1

    display = _display_names(tape)

    def tensor_name(parent: Any) -> str:
        return display[parent] if type(parent) is Node else display[id(parent)]

    for leaf in tape.leaves:
        if not leaf.requires_grad:
            continue
        key = id(leaf)
        value = flow[1].get(key) if flow is not None else None
        grad = value if value is not None else leaf.grad
        lines = [f"∂{loss}/∂{_operand_name(display[key])}", _shape_text(leaf.shape, leaf.dtype)]
        if want_values and grad is not None:
            lines.append(("" if value is not None else ".grad ") + _summary(grad))
        if counts[leaf_ids[key]] > 1:
            lines.append(f"sum of {counts[leaf_ids[key]]} contributions")
        pic.add(leaf_ids[key], lines, "grad_leaf", leaf_scopes.get(key))

    for node in tape.nodes:
        seq = node.seq
        record = scopes.get(node)
        is_root = node is root._node
        tensor = tape.tensor(node)
        grad_id = f"t{seq}"
        if is_root:
            lines = [f"∂{loss}/∂{loss} = 1" if root.size == 1 else f"seed ∂{loss} = ones",
                     _shape_text(node.shape, node.dtype)]
        else:
            lines = [f"∂{loss}/∂{_operand_name(display[node])}",
                     _shape_text(node.shape, node.dtype)]
            value = flow[0].get(node) if flow is not None else None
            stored = tensor.grad if tensor is not None else None
            if want_values and value is not None:
                lines.append(_summary(value))
            elif want_values and stored is not None:
                lines.append(f".grad {_summary(stored)}")
            if counts[grad_id] > 1:
                lines.append(f"sum of {counts[grad_id]} contributions")
        pic.add(grad_id, lines, "seed" if is_root else "grad", out_scopes.get(node))
        vjp_id = f"b{seq}"
        pic.add(vjp_id, [f"{node.op} backward"], "vjp", record)
        pic.edge(grad_id, vjp_id)

        operand_names = []
        exponent = None
        for i, parent in enumerate(node.parents):
            if parent is None:
                if node.saved is not None and np.size(node.saved[0][i]) == 1:
                    constant = np.asarray(node.saved[0][i]).reshape(-1)[0]
                    operand_names.append(_num(constant))
                    if node.op == "pow" and i == 1:
                        exponent = constant
                else:
                    operand_names.append("c" if i else "a")
            else:
                operand_names.append(tensor_name(parent))
        for i, parent in enumerate(node.parents):
            if parent is None:
                continue
            text = _local_text(node, i, operand_names, exponent)
            head = f"t{parent.seq}" if type(parent) is Node else leaf_ids[id(parent)]
            if drawing(node).elementwise and tuple(parent.shape) != tuple(node.shape):
                text += f", summed to {tuple(parent.shape)}"
            if want_values and flow is not None:
                text += f"\n= {_summary(flow[2][(seq, i)])}"
            pic.edge(vjp_id, head, text)
    return pic
