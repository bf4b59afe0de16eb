"""draw_graph: a tape turned into a picture (forward or backward, collapsed or not), checked
against the size guard and written as DOT text, with clusters for scopes.

The DOT text is written directly (not node by node through the graphviz API) so that a graph of
ten thousand operations turns into DOT source in well under a second.
"""
from __future__ import annotations

import collections
from typing import Any, Iterable

import numpy as np

from .backward import _backward_picture
from .forward import _forward_picture
from .labels import _escape
from .picture import _BACKWARD_LEGEND, _FORWARD_LEGEND, _STYLES, _Picture
from .render import INSTALL_HINT, Graph, graphviz
from .scopes import _chain, _collapsed
from .tape import _Tape

DEFAULT_MAX_NODES = 2000


class GraphTooLargeError(ValueError):
    """The graph has more nodes than ``max_nodes`` allows."""


def _edge_label(label: str) -> str:
    return "\\n".join(_escape(part) for part in label.split("\n"))


def _dot_body(pic: _Picture) -> list[str]:
    lines: list[str] = []
    by_scope: dict[int, list[str]] = collections.defaultdict(list)
    records: dict[int, Any] = {}
    for item_id, label, style, record in pic.items:
        line = f'\t{item_id} [label="{label}" {_STYLES[style]}]\n'
        if record is None:
            lines.append(line)
        else:
            by_scope[id(record)].append(line)
            for r in _chain(record):
                records[id(r)] = r
    if records:
        children: dict[int, list[Any]] = collections.defaultdict(list)
        tops = []
        for r in sorted(records.values(), key=lambda r: r.start):
            (children[id(r.parent)] if r.parent is not None else tops).append(r)
        numbers = {key: n for n, key in enumerate(records)}

        def emit(record: Any, depth: int) -> None:
            pad = "\t" * depth
            lines.append(f"{pad}subgraph cluster_{numbers[id(record)]} {{\n")
            lines.append(f'{pad}\tlabel="{_escape(record.label)}" style="rounded,dashed" '
                         'color="#6a4c93" fontcolor="#6a4c93"\n')
            lines.extend(pad + line for line in by_scope.get(id(record), ()))
            for child in children.get(id(record), ()):
                emit(child, depth + 1)
            lines.append(f"{pad}}}\n")

        for r in tops:
            emit(r, 1)
    for tail, head, label in pic.edges:
        if label:
            lines.append(f'\t{tail} -> {head} [label="{_edge_label(label)}"]\n')
        else:
            lines.append(f"\t{tail} -> {head}\n")
    return lines


def draw_graph(root: Any, show_values: bool = True, show_grads: bool = True,
               rankdir: str = "LR", *, backward: bool = False, collapse: Any = False,
               max_nodes: int | None = DEFAULT_MAX_NODES, title: str | None = None,
               legend: bool = True, constants: Iterable[Any] = (), params: Any = None) -> Any:
    """The recorded computation that ends at ``root`` as a ``graphviz.Digraph``.

    One box per tensor (name, shape, dtype when not float64, value: every value for up to four
    elements, else min/mean/max; its gradient after backward) and one ellipse per operation.
    Leaves that require grad are blue, constants dashed grey, the output green.

    - ``backward=True`` draws the reverse pass: for each operation, the gradient ``g`` arriving at
      it and, on each edge, the local derivative it sends to one input (with the value while the
      saved buffers exist: before backward, or after ``backward(retain_graph=True)``).
    - Operations recorded inside ``with tg.viz.scope("label"):`` are drawn in a labelled
      cluster; ``collapse=True`` draws each outermost scope as a single node, and
      ``collapse={"label", ...}`` only the scopes with those labels.
    - ``max_nodes``: refuse (``GraphTooLargeError``, a ``ValueError``) to draw more nodes than
      this; ``None`` for no limit.
    - ``constants``: Tensors that do not require grad (data, targets) whose names should label
      the constant inputs they provide (the tape keeps only their arrays).
    - ``params``: a Module, or a dict of names to Tensors (``dict(model.named_parameters())``,
      as torchviz's ``make_dot``), naming the leaves that have no name of their own.
    - ``title``: a caption; ``legend=False`` leaves out the colour legend.

    Render with ``.render(...)``, ``.pipe(format="svg")`` (needs the Graphviz ``dot`` program;
    without it a ``GraphvizNotInstalled`` error says how to install it); the DOT text is
    ``.source`` either way.
    """
    if graphviz is None:  # pragma: no cover
        raise ImportError("draw_graph needs the 'graphviz' Python package: pip install graphviz "
                          f"(and to render pictures, {INSTALL_HINT}); tg.graph_text works "
                          "without it")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if max_nodes is not None and (not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1):
        raise ValueError(f"draw_graph: max_nodes must be a positive int or None, got "
                         f"{max_nodes!r}")
    if collapse not in (True, False, None):
        if isinstance(collapse, str):
            collapse = {collapse}
        try:
            collapse = set(collapse)
        except TypeError:
            raise TypeError("draw_graph: collapse must be True, False or a collection of scope "
                            f"labels, got {type(collapse).__name__}") from None
    # Each operation draws at least two nodes, so a walk past max_nodes operations can stop:
    # without collapsing, that graph is too large anyway.
    limit = None if max_nodes is None or collapse else max_nodes
    tape = _Tape(root, limit, constants, params)
    if tape.truncated:
        raise _too_large(f"more than {max_nodes} operations", max_nodes)
    builder = _backward_picture if backward else _forward_picture
    pic = builder(tape, show_values, show_grads)
    if collapse:
        pic = _collapsed(pic, collapse)
    if max_nodes is not None and len(pic.items) > max_nodes:
        raise _too_large(f"{len(pic.items)} nodes to draw", max_nodes)

    notes = ([title] if title else []) + pic.notes
    if legend:
        notes.append(_BACKWARD_LEGEND if backward else _FORWARD_LEGEND)
    graph_attr = {"rankdir": rankdir, "fontname": "Helvetica,Arial,sans-serif",
                  "fontsize": "10", "nodesep": "0.25", "ranksep": "0.35"}
    if notes:
        graph_attr.update(label="".join(_escape(n) + "\\l" for n in notes), labelloc="b",
                          labeljust="l")
    graph = Graph(name="backward" if backward else "forward", graph_attr=graph_attr,
                  node_attr={"fontname": "Helvetica,Arial,sans-serif", "fontsize": "10",
                             "margin": "0.12,0.05", "height": "0.3"},
                  edge_attr={"fontname": "Helvetica,Arial,sans-serif", "fontsize": "9",
                             "color": "#444444", "arrowsize": "0.7",
                             "fontcolor": "#a94442" if backward else "#444444"})
    graph.body.extend(_dot_body(pic))
    return graph


def _too_large(what: str, max_nodes: int) -> GraphTooLargeError:
    return GraphTooLargeError(
        f"draw_graph: the graph has {what}, more than max_nodes={max_nodes}. A picture that "
        "large is slow to lay out and hard to read. Pass max_nodes=None (or a larger number) to "
        "draw it anyway, group repeated parts with 'with tg.viz.scope(\"name\"):' and draw with "
        "collapse=True, or print it with tg.graph_text(root).")
