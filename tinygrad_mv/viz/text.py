"""graph_text: the recorded graph as an indented text tree, for terminals and logs.
"""
from __future__ import annotations

import collections
from typing import Any, Iterable

import numpy as np

from ..autograd import Node
from .forward import _tangent
from .labels import _params_text, _shape_text, _summary
from .scopes import _assign_scopes, _chain
from .tape import KeptConstant, _Tape

_MAX_INDENT = 120


def graph_text(root: Any, show_values: bool = True, show_grads: bool = True,
               max_nodes: int | None = 500, constants: Iterable[Any] = (),
               params: Any = None) -> str:
    """The graph that ends at ``root`` as an indented tree, the output at the top::

        f = add -> scalar  value 2.683  grad 1
        ├── mul -> scalar  value 1.683
        │   ├── sin -> scalar  value 0.8415
        │   │   └── x: leaf, requires grad -> scalar  value 1  grad 3.081
        ...

    Each line is one tensor and the operation that made it. An operation used more than once is
    written out the first time and referred to as ``(see #n above)`` afterwards. After
    ``max_nodes`` lines the tree stops with a note (``None`` for no limit). ``constants`` names
    constant inputs and ``params`` unnamed leaves (a Module's parameters), as in
    :func:`draw_graph`.
    """
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(
            max_nodes, (int, np.integer)) or max_nodes < 1):
        raise ValueError(f"graph_text: max_nodes must be a positive int or None, got "
                         f"{max_nodes!r}")
    tape = _Tape(root, None, constants, params)
    scopes = _assign_scopes(tape.nodes)
    uses: collections.Counter = collections.Counter()
    for node in tape.nodes:
        for parent in node.parents:
            if type(parent) is Node:
                uses[parent] += 1
    numbers: dict[Node, int] = {}
    lines: list[str] = []
    omitted = 0

    def describe(item: Any, owner: Node | None, index: int) -> str:
        if item is None:  # a constant input of ``owner``
            raw = None if owner is None else tape.constant(owner, index)
            if raw is None:
                return "constant"
            name = tape.constant_name(owner, index)
            label = f"{name + ': ' if name else ''}constant -> "
            if isinstance(raw, KeptConstant):  # released by backward: its shape, no values
                return label + _shape_text(raw.shape, raw.dtype)
            data = np.asarray(raw)
            dtype = data.dtype if isinstance(raw, np.ndarray) else None
            text = label + _shape_text(data.shape, dtype)
            return text + (f"  value {_summary(data)}" if show_values else "")
        if type(item) is not Node:
            leaf_name = tape.leaf_name(item)
            name = f"{leaf_name}: " if leaf_name else ""
            kind = "leaf, requires grad" if item.requires_grad else "leaf"
            if item is root:
                kind += ", output"
            text = f"{name}{kind} -> {_shape_text(item.shape, item.dtype)}"
            if show_values:
                text += f"  value {_summary(item._data)}"
            text += _tangent_text(item)
            if show_grads and item.grad is not None:
                text += f"  grad {_summary(item.grad.data)}"
            return text
        tensor = tape.tensor(item)
        name = f"{tensor.name} = " if tensor is not None and tensor.name else ""
        params = _params_text(item.params)
        text = f"{name}{item.op}{'(' + params + ')' if params else ''} -> " \
               f"{_shape_text(item.shape, item.dtype)}"
        value = tape.value(item)
        if show_values:
            text += f"  value {_summary(value)}" if value is not None else "  value freed"
        text += _tangent_text(item)
        if show_grads and tensor is not None and tensor.grad is not None:
            text += f"  grad {_summary(tensor.grad.data)}"
        if item in scopes:
            text += f"  [{' / '.join(r.label for r in _chain(scopes[item]))}]"
        if uses[item] > 1:
            numbers[item] = len(numbers) + 1
            text += f"  #{numbers[item]}"
        return text

    start = root._node if root._node is not None else root
    # (item, owner node, input index, prefix for this line, prefix for its children)
    stack: list[tuple[Any, Any, int, str, str]] = [(start, None, 0, "", "")]
    while stack:
        item, owner, index, prefix, child_prefix = stack.pop()
        if max_nodes is not None and len(lines) >= max_nodes:
            # Each operation is written out once, so the full tree has one line for the root
            # and one per input of every operation.
            omitted = 1 + sum(len(n.parents) for n in tape.nodes) - len(lines)
            break
        if type(item) is Node and item in numbers:
            lines.append(f"{prefix}{item.op} (see #{numbers[item]} above)")
            continue
        lines.append(prefix + describe(item, owner, index))
        if type(item) is Node:
            parents = item.parents
            if len(child_prefix) > _MAX_INDENT:  # deep chains: bounded lines, not quadratic text
                child_prefix = "…" + child_prefix[-(_MAX_INDENT - 4):]
            for i in range(len(parents) - 1, -1, -1):
                last = i == len(parents) - 1
                stack.append((parents[i], item, i, child_prefix + ("└── " if last else "├── "),
                              child_prefix + ("    " if last else "│   ")))
    if omitted:
        lines.append(f"... {omitted} more lines not shown (max_nodes={max_nodes}; pass "
                     "max_nodes=None to see everything)")
    if tape.released and show_values:
        lines.append("(values of intermediate results were freed by backward(); pass "
                     "retain_graph=True to keep them)")
    return "\n".join(lines)


def _tangent_text(item: object) -> str:
    tangent = _tangent(item)
    return "" if tangent is None else f"  tangent {_summary(getattr(tangent, 'data', tangent))}"
