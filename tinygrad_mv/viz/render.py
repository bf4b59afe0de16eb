"""Graphviz: the ``Graph`` (a ``graphviz.Digraph``) that draw_graph returns, and the error that
says how to install Graphviz when rendering finds no ``dot`` program.
"""
from __future__ import annotations

import shutil
from typing import Any

try:
    import graphviz
    _ExecutableNotFound: type = graphviz.ExecutableNotFound
except ImportError:  # pragma: no cover - graphviz is a dependency; graph_text works without it
    graphviz = None
    _ExecutableNotFound = RuntimeError

INSTALL_HINT = ("install Graphviz: 'sudo apt-get install graphviz' (Debian/Ubuntu), "
                "'brew install graphviz' (macOS), 'conda install -c conda-forge graphviz', or see "
                "https://graphviz.org/download/")


class GraphvizNotInstalled(_ExecutableNotFound):  # type: ignore[misc, valid-type]
    """Rendering needs the Graphviz ``dot`` program and it is not on ``PATH``."""

    def __init__(self, program: str = "dot") -> None:
        RuntimeError.__init__(
            self, f"cannot render the graph: the Graphviz program '{program}' was not found on "
                  f"PATH. To render pictures, {INSTALL_HINT}. The DOT source is still available "
                  "without it: graph.source, or graph.save('graph.dot').")


if graphviz is not None:
    class Graph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering says how to install Graphviz when ``dot`` is
        missing, and which displays in Jupyter as SVG (or as text without ``dot``)."""

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise _not_installed(exc) from exc

        def render(self, *args: Any, **kwargs: Any) -> Any:
            # Checked first: graphviz writes the DOT source (and makes folders) before it looks
            # for the program, which would leave them behind.
            engine = kwargs.get("engine") or self.engine
            if shutil.which(engine) is None:
                raise GraphvizNotInstalled(engine)
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise _not_installed(exc) from exc

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                              **kwargs: Any) -> dict:
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except GraphvizNotInstalled as exc:
                return {"text/plain": f"{exc}\n\n{self.source}"}
else:  # pragma: no cover
    Graph = None  # type: ignore[assignment, misc]


def _not_installed(exc: Exception) -> Exception:
    if isinstance(exc, GraphvizNotInstalled):
        return exc
    return GraphvizNotInstalled()
