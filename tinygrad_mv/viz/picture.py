"""The intermediate picture: items (nodes) and edges, before scopes, collapsing and DOT text; the
styles and legends, and the lines of a tensor's box.
"""
from __future__ import annotations

from typing import Any, Iterable

from .labels import _label, _shape_text, _summary
from .tape import _Tape

_STYLES = {
    "op": 'shape=ellipse style=filled fillcolor="#fff2cc" color="#b8962e"',
    "tensor": 'shape=box style=rounded color="#555555"',
    "leaf": 'shape=box style="rounded,filled" fillcolor="#cfe2ff" color="#2f5f9e" penwidth=1.6',
    "const": 'shape=box style="rounded,dashed,filled" fillcolor="#f2f2f2" color="#999999" '
             'fontcolor="#555555"',
    "output": 'shape=box style="rounded,filled" fillcolor="#d4edda" color="#2e7d32" penwidth=2.2',
    "vjp": 'shape=ellipse style=filled fillcolor="#f8d7da" color="#a94442"',
    "grad": 'shape=box style=rounded color="#a94442"',
    "grad_leaf": 'shape=box style="rounded,filled" fillcolor="#cfe2ff" color="#2f5f9e" '
                 'penwidth=1.6',
    "seed": 'shape=box style="rounded,filled" fillcolor="#d4edda" color="#2e7d32" penwidth=2.2',
    "collapsed": 'shape=box3d style=filled fillcolor="#e8dcf5" color="#6a4c93"',
    "collapsed_output": 'shape=box3d style=filled fillcolor="#d4edda" color="#2e7d32" '
                        'penwidth=2.2',
}
_OP_KINDS = ("op", "vjp")

_FORWARD_LEGEND = ("blue: inputs that require grad   dashed grey: constants   "
                   "green: the output   ellipses: operations")
_BACKWARD_LEGEND = ("the reverse pass: g is the gradient arriving at an operation; each edge "
                    "shows what that operation sends to one of its inputs (the chain rule)")


class _Picture:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, Any]] = []   # (id, label, style, scope record)
        self.edges: list[tuple[str, str, str | None]] = []  # (tail, head, label)
        self.notes: list[str] = []
        self.leaf_names: dict[str, str] = {}  # item id -> name, listed on collapsed boxes

    def add(self, item_id: str, lines: Iterable[str], style: str, record: Any = None) -> None:
        self.items.append((item_id, _label(lines), style, record))

    def edge(self, tail: str, head: str, label: str | None = None) -> None:
        self.edges.append((tail, head, label))


def _tensor_lines(title: str | None, shape: tuple, dtype: Any, value: Any, grad: Any,
                  show_values: bool, show_grads: bool, tangent: Any = None) -> list[str]:
    lines = [title] if title else []
    lines.append(_shape_text(shape, dtype))
    if show_values and value is not None:
        lines.append(f"value {_summary(value)}")
    if tangent is not None:  # forward mode: the tangent carried beside the value
        lines.append(f"tangent {_summary(getattr(tangent, 'data', tangent))}")
    if show_grads and grad is not None:
        lines.append(f"grad {_summary(grad)}")
    return lines


def _leaf_ids(tape: _Tape) -> dict[int, str]:
    return {id(leaf): f"L{k}" for k, leaf in enumerate(tape.leaves)}
