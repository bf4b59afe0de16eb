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

The DOT text is written directly (not node by node through the graphviz API) so that a graph of
ten thousand operations turns into DOT source in well under a second.
"""
from __future__ import annotations

import collections
import contextvars
import functools
import html
import re
from typing import Any, Callable, Iterable

import numpy as np

from . import autograd, versions
from .autograd import Node

try:
    import graphviz
    _ExecutableNotFound: type = graphviz.ExecutableNotFound
except ImportError:  # pragma: no cover - graphviz is a dependency; graph_text works without it
    graphviz = None
    _ExecutableNotFound = RuntimeError

__all__ = ["draw_graph", "graph_text", "scope", "Graph", "GraphvizNotInstalled",
           "GraphTooLargeError", "DEFAULT_MAX_NODES"]

DEFAULT_MAX_NODES = 2000
JUPYTER_MAX_NODES = 300

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


class GraphTooLargeError(ValueError):
    """The graph has more nodes than ``max_nodes`` allows."""


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


# ---------------------------------------------------------------------------------------------
# Scopes: labelled groups of operations (e.g. one call of a layer's forward)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Walking the tape
# ---------------------------------------------------------------------------------------------

def _param_names(params: Any) -> dict[int, str]:
    """``params=``: a Module (its named_parameters()) or a mapping of names to Tensors, as
    torchviz's ``make_dot(params=dict(model.named_parameters()))``."""
    from .tensor import Tensor
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if not hasattr(params, "items"):
        raise TypeError(f"params= takes a Module or a dict of names to Tensors, got "
                        f"{type(params).__name__}")
    names = {}
    for name, tensor in params.items():
        if not isinstance(tensor, Tensor):
            raise TypeError(f"params=: '{name}' is a {type(tensor).__name__}, not a Tensor")
        names[id(tensor)] = str(name)
    return names


class _Tape:
    """The part of the tape that ends at ``root``: nodes by creation order, and the leaves."""

    def __init__(self, root: Any, limit: int | None, constants: Iterable[Any] = (),
                 params: Any = None) -> None:
        from .tensor import Tensor
        if not isinstance(root, Tensor):
            raise TypeError(f"expected a Tensor to draw the graph that produced it, got "
                            f"{type(root).__name__}")
        self.root = root
        self.param_names = _param_names(params)
        # A constant input is saved as the very array of the Tensor it came from: identity
        # finds its name (the Tensors are alive, so no other array can share the id).
        self.constant_names: dict[int, str] = {}
        for tensor in constants:
            if not isinstance(tensor, Tensor):
                raise TypeError(f"constants= takes Tensors, got {type(tensor).__name__}")
            if tensor.name:
                self.constant_names[id(tensor.data)] = str(tensor.name)
        self.truncated = False
        start = root._node
        nodes: list[Node] = []
        if start is not None:
            seen = {start}
            stack = [start]
            while stack:
                node = stack.pop()
                nodes.append(node)
                for parent in node.parents:
                    if type(parent) is Node and parent not in seen:
                        seen.add(parent)
                        stack.append(parent)
                if limit is not None and len(seen) > limit:
                    self.truncated = True
                    break
        nodes.sort(key=lambda n: n.seq)
        self.nodes = nodes
        leaves: dict[int, Any] = {}
        consumers: dict[int, list[Node]] = {}
        for node in nodes:
            for parent in node.parents:
                if parent is not None and type(parent) is not Node:
                    leaves.setdefault(id(parent), parent)
                    consumers.setdefault(id(parent), []).append(node)
        self.leaves = list(leaves.values()) if start is not None else [root]
        self.leaf_consumers = consumers
        self.released = any(n.saved is None for n in nodes)

    def leaf_name(self, leaf: Any) -> str | None:
        """The leaf's own name, else the one ``params=`` gives it (``"0.weight"``)."""
        return leaf.name or self.param_names.get(id(leaf))

    def value(self, node: Node) -> np.ndarray | None:
        if node is self.root._node:
            return self.root.data
        out = node.saved[1] if node.saved is not None else None
        if type(out) is np.ndarray:
            # Overwritten by an in-place write since: the value it had is gone.
            return None if versions.written_since(out, node.seq) else out
        tensor = node.out_ref() if node.out_ref is not None else None
        return None if tensor is None else tensor.data

    def constant_name(self, node: Node, index: int) -> str | None:
        if node.saved is None or not self.constant_names:
            return None
        return self.constant_names.get(id(node.saved[0][index]))

    def tensor(self, node: Node) -> Any:
        if node is self.root._node:
            return self.root
        return node.out_ref() if node.out_ref is not None else None


# ---------------------------------------------------------------------------------------------
# Short text for labels
# ---------------------------------------------------------------------------------------------

def _num(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return f"{float(value):.4g}"


_LISTED = 4  # data with at most this many elements is shown in full, larger as min/mean/max


def _summary(data: Any) -> str:
    """The values of data with up to four elements (flattened), else min / mean / max."""
    a = np.asarray(data)
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return _num(a.reshape(-1)[0])
    if a.size <= _LISTED:
        return "[" + ", ".join(_num(v) for v in a.reshape(-1)) + "]"
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true"
    if a.size <= 64:  # small arrays: plain Python floats are several times faster than ufuncs
        values = a.ravel().tolist()
        if all(v == v for v in values):  # no NaN (NaN breaks min/max ordering)
            low, high = min(values), max(values)
            return f"min {low:.3g}, mean {sum(values) / len(values):.3g}, max {high:.3g}"
    low, high = float(np.minimum.reduce(a, axis=None)), float(np.maximum.reduce(a, axis=None))
    if -1e300 < low and high < 1e300:  # the sum cannot overflow: no errstate needed (it is slow)
        mean = float(np.add.reduce(a, axis=None)) / a.size
    else:
        with np.errstate(all="ignore"):
            mean = float(np.mean(a))
    return f"min {low:.3g}, mean {mean:.3g}, max {high:.3g}"


_FLOAT64 = np.dtype(np.float64)


def _shape_text(shape: tuple, dtype: Any) -> str:
    text = "scalar" if shape == () else f"shape {tuple(shape)}"
    if dtype is not None and dtype != _FLOAT64:
        text += f" {np.dtype(dtype).name}"
    return text


def _index_text(index: Any) -> str:
    items = index if isinstance(index, tuple) else (index,)
    parts = []
    for item in items:
        if isinstance(item, slice):
            text = ":".join("" if v is None else str(v) for v in (item.start, item.stop))
            parts.append(text + (f":{item.step}" if item.step is not None else ""))
        elif item is None:
            parts.append("None")
        elif item is Ellipsis:
            parts.append("...")
        elif isinstance(item, np.ndarray):
            parts.append(f"{'mask' if item.dtype == bool else 'array'}{item.shape}")
        else:
            parts.append(str(item))
    return ", ".join(parts)


def _params_text(params: dict) -> str:
    parts = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        if key == "index":
            parts.append(f"[{_index_text(value)}]")
            continue
        if isinstance(value, np.ndarray):
            text = f"array{value.shape}"
        elif isinstance(value, (np.dtype, type)):
            text = np.dtype(value).name
        else:
            text = repr(value)
        parts.append(f"{key}={text if len(text) <= 24 else text[:21] + '...'}")
    return ", ".join(parts)


def _escape(text: str) -> str:
    """User text inside a double-quoted DOT string (backslash sequences are ours alone)."""
    text = str(text)
    if '"' not in text and "\\" not in text and "\n" not in text and "\r" not in text:
        return text
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            .replace("\r", " "))


def _label(lines: Iterable[str]) -> str:
    return "\\n".join(_escape(line) for line in lines)


def _short_name(name: str | None, limit: int = 32) -> str | None:
    if name is None:
        return None
    name = str(name)
    return name if len(name) <= limit else name[:limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# The intermediate picture: items (nodes) and edges, before scopes, collapsing and DOT text
# ---------------------------------------------------------------------------------------------

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
                  show_values: bool, show_grads: bool) -> list[str]:
    lines = [title] if title else []
    lines.append(_shape_text(shape, dtype))
    if show_values and value is not None:
        lines.append(f"value {_summary(value)}")
    if show_grads and grad is not None:
        lines.append(f"grad {_summary(grad)}")
    return lines


def _leaf_ids(tape: _Tape) -> dict[int, str]:
    return {id(leaf): f"L{k}" for k, leaf in enumerate(tape.leaves)}


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
        pic.add(leaf_ids[key], _tensor_lines(title, leaf.shape, leaf.dtype, leaf.data, leaf.grad,
                                             show_values, show_grads),
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
        roles = _ROLES.get(node.op)
        many = len(node.parents) > 1
        for i, parent in enumerate(node.parents):
            if parent is None:
                const_id = f"c{seq}_{i}"
                if node.saved is not None:
                    raw = node.saved[0][i]
                    data = np.asarray(raw)
                    # A Python number has no dtype of its own: only arrays show theirs.
                    dtype = data.dtype if isinstance(raw, np.ndarray) else None
                    title = _short_name(tape.constant_name(node, i)) or "constant"
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
            elif many and node.op not in _COMMUTATIVE:
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
                                         node.dtype, value, grad, show_values, show_grads),
                "output" if is_root else "tensor", out_scopes.get(node))
        pic.edge(op_id, f"t{seq}")
    if freed:
        pic.notes.append("values of intermediate results were freed by backward(); pass "
                         "retain_graph=True (or keep the tensors) to see them")
    if not tape.nodes and root.requires_grad is False:
        pic.notes.append("this tensor has no recorded graph: nothing it was computed from "
                         "requires grad (or it was computed under tg.no_grad())")
    return pic


# Names of the inputs of operations whose argument order matters (drawn on the edges).
_ROLES: dict[str, tuple[str, ...]] = {
    "sub": ("a", "b"), "div": ("numerator", "denominator"), "pow": ("base", "exponent"),
    "matmul": ("left", "right"), "linear": ("x", "weight", "bias"),
    "where": ("if true", "if false", "condition"), "maximum": ("a", "b"), "minimum": ("a", "b"),
    "squared_error": ("prediction", "target"), "binary_cross_entropy": ("prediction", "target"),
    "cross_entropy": ("logits", "target"), "gaussian_pdf": ("x", "mu", "sigma"),
}
_COMMUTATIVE = {"add", "mul"}
_ELEMENTWISE = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}

# Local derivatives, as the rule applies them: {0}, {1}, ... are the inputs' names.
_LOCAL: dict[str, tuple[str, ...]] = {
    "add": ("g", "g"), "sub": ("g", "-g"), "mul": ("g·{1}", "g·{0}"),
    "div": ("g / {1}", "-g·{0} / {1}²"), "neg": ("-g",),
    "pow": ("g·{1}·{0}^({1}-1)", "g·{0}^{1}·ln {0}"),
    "exp": ("g·exp({0})",), "log": ("g / {0}",), "sqrt": ("g / (2·sqrt({0}))",),
    "sin": ("g·cos({0})",), "cos": ("-g·sin({0})",), "tan": ("g / cos²({0})",),
    "tanh": ("g·(1 - tanh²({0}))",), "sigmoid": ("g·σ({0})·(1 - σ({0}))",),
    "relu": ("g·[{0} > 0]",), "abs": ("g·sign({0})",), "square": ("2·g·{0}",),
    "clip": ("g·[lo ≤ {0} ≤ hi]",),
    "maximum": ("g·[{0} ≥ {1}] (ties share)", "g·[{1} ≥ {0}] (ties share)"),
    "minimum": ("g·[{0} ≤ {1}] (ties share)", "g·[{1} ≤ {0}] (ties share)"),
    "where": ("g where condition", "g where not condition"),
    "matmul": ("g @ {1}ᵀ", "{0}ᵀ @ g"), "linear": ("g @ {1}", "gᵀ @ {0}", "Σ g over rows"),
    "sum": ("g copied to every element",), "mean": ("g / n to every element",),
    "max": ("g to the maximum (ties share)",), "min": ("g to the minimum (ties share)",),
    "logsumexp": ("g·softmax({0})",), "softmax": ("s·(g - Σ g·s), s = softmax",),
    "log_softmax": ("g - softmax({0})·Σ g",), "reshape": ("g reshaped back",),
    "transpose": ("g transposed back",), "broadcast_to": ("g summed over broadcast axes",),
    "getitem": ("g placed into zeros at the index",), "scatter_add": ("g at the index",),
    "astype": ("g cast back",),
    "squared_error": ("2·g·({0} - {1})", "-2·g·({0} - {1})"),
    "gaussian_pdf": ("-g·f·({0} - {1}) / {2}²", "g·f·({0} - {1}) / {2}²",
                     "g·f·(z² - 1) / {2}, z = ({0} - {1}) / {2}"),
}

_SIMPLE_NAME = re.compile(r"-?[\w.]+(\([^()]*\))?(\^[\w.]+|²)?|-?\d[\d.e+-]*")

# Short formulas for naming unnamed intermediate results in the backward view ("sin(x·y)").
_FORMULAS = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0}·{1}", "div": "{0}/{1}",
             "neg": "-{0}", "pow": "{0}^{1}", "square": "{0}²", "matmul": "{0} @ {1}",
             "linear": "linear({0})"}
_AUTO_NAME_LENGTH = 18


@functools.lru_cache(maxsize=4096)
def _operand_name(name: str) -> str:
    return name if _SIMPLE_NAME.fullmatch(name) else f"({name})"


@functools.lru_cache(maxsize=256)
def _template(template: str) -> tuple[tuple[str, int, bool], ...]:
    """A formula split into (text before, input index or -1, enclosed by a call's parentheses)."""
    parts = []
    position = 0
    for match in re.finditer(r"\{(\d)\}", template):
        start, end = match.span()
        enclosed = template[start - 1:start] == "(" and template[end:end + 1] == ")"
        parts.append((template[position:start], int(match.group(1)), enclosed))
        position = end
    parts.append((template[position:], -1, False))
    return tuple(parts)


def _fill(template: str, names: list[str]) -> str:
    """Put the names into a formula, in parentheses unless a call's parentheses enclose them."""
    out = []
    for text, index, enclosed in _template(template):
        out.append(text)
        if index >= 0:
            out.append(names[index] if enclosed else _operand_name(names[index]))
    return "".join(out)


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
    rules = _LOCAL.get(op)
    if rules is None or i >= len(rules):
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
        template = _FORMULAS.get(node.op)
        if template is not None and len(node.parents) >= template.count("{"):
            formula = _fill(template, operands)
        else:
            formula = f"{node.op}({', '.join(operands)})"
        names[node] = formula if len(formula) <= _AUTO_NAME_LENGTH else f"{node.op} output"
    return names


def _flow(tape: _Tape) -> tuple[dict, dict, dict] | None:
    """Re-run the reverse pass on the saved arrays (seed: ones), without touching any ``.grad``:
    the gradient at every tensor and the contribution along every edge. None when freed."""
    nodes = tape.nodes
    if not nodes or any(n.saved is None for n in nodes):
        return None
    root = tape.root
    grads: dict[Any, Any] = {root._node: np.ones(root.shape, dtype=root.dtype)}
    leaf_grads: dict[int, Any] = {}
    edges: dict[tuple[int, int], Any] = {}
    with autograd.no_grad(), np.errstate(all="ignore"):
        for node in reversed(nodes):
            g = grads[node]
            datas, out = node.saved
            for i, parent in enumerate(node.parents):
                if parent is None:
                    continue
                contribution = np.asarray(node.vjps[i](g, out, *datas, **node.params))
                shape = parent.shape
                if contribution.shape != shape:
                    contribution = autograd._sum_to_shape(contribution, shape)
                edges[(node.seq, i)] = contribution
                if type(parent) is Node:
                    grads[parent] = grads[parent] + contribution if parent in grads else \
                        contribution
                else:
                    key = id(parent)
                    leaf_grads[key] = leaf_grads[key] + contribution if key in leaf_grads else \
                        contribution
    return grads, leaf_grads, edges


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
            if node.op in _ELEMENTWISE and tuple(parent.shape) != tuple(node.shape):
                text += f", summed to {tuple(parent.shape)}"
            if want_values and flow is not None:
                text += f"\n= {_summary(flow[2][(seq, i)])}"
            pic.edge(vjp_id, head, text)
    return pic


# ---------------------------------------------------------------------------------------------
# DOT text: clusters for scopes, collapsing, the size guard
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The text tree
# ---------------------------------------------------------------------------------------------

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
            if owner is not None and owner.saved is not None:
                raw = owner.saved[0][index]
                data = np.asarray(raw)
                dtype = data.dtype if isinstance(raw, np.ndarray) else None
                name = tape.constant_name(owner, index)
                text = f"{name + ': ' if name else ''}constant -> {_shape_text(data.shape, dtype)}"
                return text + (f"  value {_summary(data)}" if show_values else "")
            return "constant"
        if type(item) is not Node:
            leaf_name = tape.leaf_name(item)
            name = f"{leaf_name}: " if leaf_name else ""
            kind = "leaf, requires grad" if item.requires_grad else "leaf"
            if item is root:
                kind += ", output"
            text = f"{name}{kind} -> {_shape_text(item.shape, item.dtype)}"
            if show_values:
                text += f"  value {_summary(item.data)}"
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


# ---------------------------------------------------------------------------------------------
# Jupyter
# ---------------------------------------------------------------------------------------------

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
