"""What the pictures know about an operation: the Drawing registered with it
(``primitive(..., drawing=Drawing(...))``, beside its forward and rules), found from the node's
rules (so an in-place ``add_`` draws as ``add``, and a user's operation that shares a name with a
core one keeps its own); an operation without one draws by its name alone."""
from __future__ import annotations

from ..autograd import Drawing, Node, op_of

_NONE = Drawing()


def drawing(node: Node) -> Drawing:
    found = op_of(node)
    return found.drawing if found is not None else _NONE
