"""See the computation: the recorded graph as a Graphviz picture or an indented text tree.

``draw_graph(root)`` walks the tape backwards from ``root.grad_fn`` (the same ``Node`` objects the
engine uses) and returns a :class:`Graph` (a ``graphviz.Digraph``): one box per tensor, one ellipse
per operation. ``draw_graph(root, backward=True)`` draws the reverse pass instead: which gradient
flows into which input, through which local derivative. ``graph_text(root)`` prints the same graph
as a tree for terminals and logs.

Values come from where the engine keeps them: the leaves' ``.data`` and ``.grad``, each node's saved
output array until a backward without ``retain_graph`` frees it, and the output Tensor itself while
the user still holds it. Nothing here is stored on the nodes: :class:`scope` tags operations by the
range of creation numbers (``Node.seq``) recorded while it is open.

The modules, one idea each:

- ``tape``: reading the recorded graph (``_Tape``): its nodes, leaves, values and named constants.
- ``labels``: short text for labels: value summaries, shapes, parameters, escaping, formulas.
- ``op_drawing``: how an operation is drawn: the ``Drawing`` registered with it (input roles,
  local derivatives, formula, commutative, elementwise).
- ``scopes``: ``scope``, which scope each node, leaf and result falls in, and collapsing.
- ``picture``: the intermediate picture (items and edges), its styles, legends and tensor boxes.
- ``forward``: the forward picture, inputs to output.
- ``backward``: the backward picture and the gradient flow it recomputes on the saved arrays.
- ``render``: the Graphviz ``Graph`` class and ``GraphvizNotInstalled``.
- ``draw``: ``draw_graph``: picture to DOT text, with scope clusters and the size guard.
- ``text``: ``graph_text``, the indented text tree.
- ``jupyter``: ``tensor_mimebundle``, a Tensor's Jupyter display with its graph as SVG.
"""
from __future__ import annotations

from .draw import DEFAULT_MAX_NODES, GraphTooLargeError, draw_graph
from .jupyter import JUPYTER_MAX_NODES, tensor_mimebundle
from .render import INSTALL_HINT, Graph, GraphvizNotInstalled
from .scopes import scope
from .text import graph_text

__all__ = ["draw_graph", "graph_text", "scope", "Graph", "GraphvizNotInstalled",
           "GraphTooLargeError", "DEFAULT_MAX_NODES"]
