"""Scopes: labelled groups of operations (e.g. one call of a layer's forward), which scope each
node, leaf and result of a tape falls in, and collapsing a scope into one box of the picture.

Nothing is stored on the nodes: :class:`scope` records the range of creation numbers
(``Node.seq``) taken while it is open.
"""
from __future__ import annotations

import collections
import contextvars
import functools
from typing import Any, Callable

from .. import autograd
from ..autograd import Node
from .labels import _label
from .picture import _OP_KINDS, _Picture
from .tape import _Tape


class _ScopeRecord:
    __slots__ = ("label", "start", "end", "parent")

    def __init__(self, label: str, start: int, parent: _ScopeRecord | None) -> None:
        self.label = label
        self.start = start
        self.end: int | None = None  # None while the scope is open
        self.parent = parent


# Bounded: a training loop that enters scopes forever forgets the oldest ones, never grows.
_records: collections.deque[_ScopeRecord] = collections.deque(maxlen=200_000)
_current: contextvars.ContextVar[_ScopeRecord | None] = contextvars.ContextVar(
    "tinygrad_mv_viz_scope", default=None)


class scope:
    """Group the operations recorded inside into a labelled cluster of the drawn graph.

    ``with tg.viz.scope("layer 1"): h = tg.sigmoid(tg.linear(x, W1, b1))`` puts ``linear`` and
    ``sigmoid`` in a dashed box labelled "layer 1"; ``draw_graph(root, collapse=True)`` draws each
    such group as a single node. Scopes nest, and ``@tg.viz.scope("name")`` decorates a function
    (a Module's ``forward``, say) so that every call becomes one group.

    Operations are tagged by their creation number, so an operation that another thread records
    while the scope is open lands in it too.
    """

    def __init__(self, label: str) -> None:
        if not isinstance(label, str) or not label:
            raise TypeError(f"scope: the label must be a non-empty string, got {label!r}")
        self.label = label

    # No state on the instance: one scope object may be entered by several threads or tasks at
    # once; each context's innermost open record is the one its own ``with`` opened.
    def __enter__(self) -> scope:
        record = _ScopeRecord(self.label, next(autograd._sequence), _current.get())
        _records.append(record)
        _current.set(record)
        return self

    def __exit__(self, *exc: object) -> None:
        record = _current.get()
        if record is not None:
            record.end = next(autograd._sequence)
            _current.set(record.parent)

    def __call__(self, fn: Callable) -> Callable:
        label = self.label

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(label):
                return fn(*args, **kwargs)
        return wrapper


def _assign_scopes(nodes: list[Node]) -> dict[Node, _ScopeRecord]:
    """The innermost scope of each node (nodes sorted by seq). Scopes of one thread nest, so a
    sweep with a stack finds it: the open scope that started last is the innermost."""
    if not _records or not nodes:
        return {}
    low, high = nodes[0].seq, nodes[-1].seq
    candidates = sorted((r for r in list(_records)
                         if r.start < high and (r.end is None or r.end > low)),
                        key=lambda r: r.start)
    if not candidates:
        return {}
    found: dict[Node, _ScopeRecord] = {}
    stack: list[_ScopeRecord] = []
    j = 0
    for node in nodes:
        seq = node.seq
        while j < len(candidates) and candidates[j].start < seq:
            stack.append(candidates[j])
            j += 1
        while stack and stack[-1].end is not None and stack[-1].end < seq:
            stack.pop()
        if stack:
            found[node] = stack[-1]
    return found


def _chain(record: _ScopeRecord | None) -> tuple[_ScopeRecord, ...]:
    """Outermost first."""
    out = []
    while record is not None:
        out.append(record)
        record = record.parent
    return tuple(reversed(out))


def _common_scope(records: list[_ScopeRecord | None]) -> _ScopeRecord | None:
    """The innermost scope containing all of ``records`` (None if any is None)."""
    if not records or any(r is None for r in records):
        return None
    common = _chain(records[0])
    for record in records[1:]:
        if record is records[0]:
            continue
        other = _chain(record)
        n = 0
        while n < len(common) and n < len(other) and common[n] is other[n]:
            n += 1
        common = common[:n]
        if not common:
            return None
    return common[-1]


def _node_scopes(tape: _Tape) -> tuple[dict[Node, Any], dict[int, Any], dict[Node, Any]]:
    """Scopes of the operations, of the leaves and of the operations' results.

    A tensor sits in the innermost scope holding everything that touches it: a layer's
    parameters inside the layer, its output (used by the next layer) between the two. That also
    keeps consecutive clusters from overlapping in the layout."""
    scopes = _assign_scopes(tape.nodes)
    leaf_scopes: dict[int, Any] = {}
    out_scopes: dict[Node, Any] = {}
    if scopes:
        for key, users in tape.leaf_consumers.items():
            leaf_scopes[key] = _common_scope([scopes.get(u) for u in users])
        users_of: dict[Node, list[Any]] = {node: [scopes.get(node)] for node in tape.nodes}
        for node in tape.nodes:
            for parent in node.parents:
                if type(parent) is Node:
                    users_of[parent].append(scopes.get(node))
        if tape.root._node is not None:
            users_of[tape.root._node].append(None)  # the output leaves every scope
        for node, records in users_of.items():
            out_scopes[node] = _common_scope(records)
    return scopes, leaf_scopes, out_scopes


def _collapse_target(record: Any, collapse: Any) -> Any:
    if record is None or not collapse:
        return None
    chain = _chain(record)
    if collapse is True:
        return chain[0]
    for r in chain:
        if r.label in collapse:
            return r
    return None


def _collapsed(pic: _Picture, collapse: Any) -> _Picture:
    """Replace every item of a collapsed scope by one box per scope instance."""
    targets: dict[int, Any] = {}
    boxes: dict[int, dict] = {}
    items: list[tuple[str, str, str, Any]] = []
    replace: dict[str, str] = {}
    for item_id, label, style, record in pic.items:
        target = _collapse_target(record, collapse)
        if target is None:
            items.append((item_id, label, style, record))
            continue
        key = id(target)
        targets[key] = target
        box = boxes.get(key)
        if box is None:
            box = boxes[key] = {"id": f"S{len(boxes)}", "ops": 0, "output": False,
                                "position": len(items), "holds": []}
            items.append((box["id"], "", "", target.parent))  # filled in below
        if style in _OP_KINDS:
            box["ops"] += 1
        if item_id in pic.leaf_names:
            box["holds"].append(pic.leaf_names[item_id])
        if style in ("output", "seed"):
            box["output"] = True
        replace[item_id] = box["id"]
    for key, box in boxes.items():
        target = targets[key]
        noun = "operation" if box["ops"] == 1 else "operations"
        lines = [target.label, f"{box['ops']} {noun} (collapsed)"]
        if box["holds"]:
            held = box["holds"]
            lines.append("holds " + ", ".join(held[:4]) + (", ..." if len(held) > 4 else ""))
        label = _label(lines)
        style = "collapsed_output" if box["output"] else "collapsed"
        items[box["position"]] = (box["id"], label, style, target.parent)
    edges = []
    seen: set[tuple[str, str]] = set()
    for tail, head, label in pic.edges:
        tail2, head2 = replace.get(tail, tail), replace.get(head, head)
        if tail2 == head2:
            continue
        if tail2 != tail or head2 != head:
            if (tail2, head2) in seen:
                continue
            seen.add((tail2, head2))
            label = None
        edges.append((tail2, head2, label))
    out = _Picture()
    out.items, out.edges, out.notes = items, edges, pic.notes
    if boxes:
        out.notes = pic.notes + ["3-D boxes: collapsed scopes"]
    return out
