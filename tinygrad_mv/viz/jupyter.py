"""Jupyter display of a Tensor: its repr plus the graph that produced it, as SVG.
"""
from __future__ import annotations

import html
from typing import Any

from ..tensor import register_display
from .draw import GraphTooLargeError, draw_graph
from .render import GraphvizNotInstalled, graphviz

JUPYTER_MAX_NODES = 300


def tensor_mimebundle(tensor: Any, include: Any = None, exclude: Any = None) -> dict:
    """Jupyter display of a Tensor: its repr, plus the graph that produced it as SVG when there
    is one, it is small enough and Graphviz is installed (otherwise just the repr)."""
    text = repr(tensor)
    bundle: dict[str, str] = {"text/plain": text}
    wanted = set(include) if include is not None else {"text/plain", "text/html"}
    wanted -= set(exclude or ())
    if tensor.grad_fn is None or "text/html" not in wanted or graphviz is None:
        return bundle
    try:  # a small cap: displaying a tensor must never wait on laying out a huge graph
        svg = draw_graph(tensor, max_nodes=JUPYTER_MAX_NODES).pipe(format="svg", encoding="utf-8")
    except (GraphvizNotInstalled, GraphTooLargeError):
        return bundle
    svg = svg[svg.find("<svg"):]  # drop the XML prologue: it is embedded in HTML
    bundle["text/html"] = f"<pre>{html.escape(text)}</pre>{svg}"
    return {k: v for k, v in bundle.items() if k in wanted or k == "text/plain"}


register_display(tensor_mimebundle)  # Tensors in Jupyter show their graph from now on
