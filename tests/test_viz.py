"""Graph drawing: the DOT output is parsed and compared with the recorded tape, rendered with the
real Graphviz ``dot`` where it is installed, and the text tree, guards and error paths are checked.
"""
from __future__ import annotations

import gc
import re
import shutil
import time
import weakref

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, viz
from tinygrad_mv.autograd import Node
from tinygrad_mv.viz.backward import _flow
from tinygrad_mv.viz.tape import _Tape

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")

_NODE = re.compile(r'^(\w+) \[(.*)\]$')
_EDGE = re.compile(r'^(\w+) -> (\w+)(?: \[(.*)\])?$')
_LABEL = re.compile(r'label="((?:[^"\\]|\\.)*)"')


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) in "nl" else m.group(1), label)


def parse_dot(source: str) -> tuple[dict[str, dict], list[tuple[str, str, str | None]], list]:
    """Nodes (id -> {label, attrs}), edges (tail, head, label) and cluster labels of DOT text."""
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str, str | None]] = []
    clusters: list[str] = []
    lines = [line.strip() for line in source.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("subgraph cluster_"):
            clusters.append(_unescape(_LABEL.search(lines[i + 1]).group(1)))
            continue
        edge = _EDGE.match(line)
        if edge:
            label = _LABEL.search(edge.group(3) or "")
            edges.append((edge.group(1), edge.group(2),
                          _unescape(label.group(1)) if label else None))
            continue
        node = _NODE.match(line)
        if node and node.group(1) not in ("graph", "node", "edge"):
            label = _LABEL.search(node.group(2))
            nodes[node.group(1)] = {"label": _unescape(label.group(1)) if label else "",
                                    "attrs": node.group(2)}
    return nodes, edges, clusters


def tape_counts(root: Tensor) -> tuple[int, int, int, int]:
    """(operations, leaves, constant inputs, input edges) of the recorded graph, walked here
    independently of viz.py."""
    ops, leaves, constants, inputs = set(), set(), 0, 0
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node in ops:
            continue
        ops.add(node)
        for parent in node.parents:
            inputs += 1
            if parent is None:
                constants += 1
            elif isinstance(parent, Node):
                stack.append(parent)
            else:
                leaves.add(id(parent))
    return len(ops), len(leaves), constants, inputs


def labels_with(nodes: dict, text: str) -> list[str]:
    return [n["label"] for n in nodes.values() if text in n["label"]]


def number_after(label: str, word: str) -> float:
    match = re.search(rf"{word} (-?[\d.]+(?:e[+-]?\d+)?)", label)
    assert match, f"no '{word} <number>' in {label!r}"
    return float(match.group(1))


def two_variable(x0: float = 1.5, y0: float = -0.5):
    x = Tensor(x0, requires_grad=True, name="x")
    y = Tensor(y0, requires_grad=True, name="y")
    f = tg.sin(x * y) + x ** 2 * y
    f.name = "f"
    return x, y, f


def curve_network():
    from tinygrad_mv.commands.graph import curve_network as build
    return build()


# --- structure ---------------------------------------------------------------------------------

def test_counts_match_the_tape_for_a_scalar_function():
    x, y, f = two_variable()
    nodes, edges, _ = parse_dot(tg.draw_graph(f).source)
    # By hand: mul, sin, pow, mul, add; leaves x, y; one constant (the exponent 2).
    assert tape_counts(f) == (5, 2, 1, 9)
    assert len(nodes) == 2 * 5 + 2 + 1          # op + its result per operation, leaves, constant
    assert len(edges) == 9 + 5                  # one per input, one op -> result per operation


@pytest.mark.parametrize("build", ["curve", "shared", "broadcast", "vector"])
def test_counts_match_the_tape(build):
    if build == "curve":
        root, _keep = curve_network()
    elif build == "shared":
        x = Tensor([1.0, 2.0], requires_grad=True)
        h = tg.exp(x)
        root = (h * h + h).sum()     # h feeds three inputs: drawn once
    elif build == "broadcast":
        w = tg.randn(3, 2, rng=0, requires_grad=True)
        b = tg.zeros(2, requires_grad=True)
        root = ((tg.ones((4, 3)) @ w + b) ** 2).mean()
    else:
        x = Tensor(np.linspace(0, 1, 5), requires_grad=True)
        root = tg.concatenate([x[:2] * 3.0, tg.tanh(x[2:])]).max()
    ops, leaves, constants, inputs = tape_counts(root)
    nodes, edges, _ = parse_dot(tg.draw_graph(root).source)
    assert len(nodes) == 2 * ops + leaves + constants
    assert len(edges) == inputs + ops
    ids = set(nodes)
    assert all(t in ids and h in ids for t, h, _ in edges)


def test_labels_carry_names_shapes_and_values():
    root, keep = curve_network()
    nodes, _, _ = parse_dot(tg.draw_graph(root).source)
    w1 = next(n["label"] for n in nodes.values() if n["label"].startswith("W1\n"))
    assert "shape (6, 1)" in w1
    w1_data = keep[2].data
    assert number_after(w1, "min") == pytest.approx(w1_data.min(), rel=1e-2)
    assert number_after(w1, "max") == pytest.approx(w1_data.max(), rel=1e-2)
    assert number_after(w1, "mean") == pytest.approx(w1_data.mean(), rel=1e-2)
    assert labels_with(nodes, "a1\nshape (4, 6)")
    cost = next(n["label"] for n in nodes.values() if n["label"].startswith("C\n"))
    assert "scalar" in cost and number_after(cost, "value") == pytest.approx(root.item(), 1e-3)
    ops = [n["label"].split("\n")[0] for n in nodes.values() if "ellipse" in n["attrs"]]
    assert sorted(ops) == sorted(["linear"] * 3 + ["sigmoid"] * 3 + ["sub", "pow", "sum"])
    assert not labels_with(nodes, "grad ")      # no backward yet


def test_gradients_appear_after_backward():
    x, y, f = two_variable(1.5, -0.5)
    f.backward()
    nodes, edges, _ = parse_dot(tg.draw_graph(f).source)
    x_label = next(n["label"] for n in nodes.values() if n["label"].startswith("x\n"))
    y_label = next(n["label"] for n in nodes.values() if n["label"].startswith("y\n"))
    # Hand-derived: df/dx = y cos(xy) + 2xy, df/dy = x cos(xy) + x^2.
    assert number_after(x_label, "grad") == pytest.approx(-0.5 * np.cos(-0.75) - 1.5, rel=1e-3)
    assert number_after(y_label, "grad") == pytest.approx(1.5 * np.cos(-0.75) + 2.25, rel=1e-3)
    assert number_after(x_label, "value") == 1.5
    # The structure is still all there after the buffers were freed.
    assert len(nodes) == 13 and len(edges) == 14


def test_freed_values_are_left_out_with_a_note_and_kept_ones_are_shown():
    x = Tensor(2.0, requires_grad=True, name="x")
    held = tg.exp(x)
    held.name = "held"
    f = tg.sin(held) * 3.0
    f.backward()
    graph = tg.draw_graph(f)
    nodes, _, _ = parse_dot(graph.source)
    sin_result = [n["label"] for n in nodes.values()
                  if n["label"].startswith("scalar") and "box" in n["attrs"]]
    assert sin_result and all("value" not in label for label in sin_result)
    held_label = labels_with(nodes, "held\n")[0]
    assert number_after(held_label, "value") == pytest.approx(np.exp(2.0), rel=1e-3)
    assert "freed by backward()" in graph.source
    constants = [n["label"] for n in nodes.values() if "dashed" in n["attrs"]]
    assert constants == ["constant\nscalar"]    # released: its shape stays, no value


def test_constants_keep_their_shapes_and_names_after_backward_releases_the_graph():
    """The graph's structure (shapes and names) stays after backward: a constant showed as a
    bare "constant" once its saved array was released."""
    x = Tensor(np.ones(3), requires_grad=True, name="x")
    c = Tensor(np.arange(3.0, dtype=np.float64), name="c")
    f = (x * c + np.ones((2, 3), np.float32)).sum()
    f.backward()
    text = tg.graph_text(f, constants=[c])
    assert "c: constant -> shape (3,)" in text
    assert "constant -> shape (2, 3) float32" in text
    nodes, _, _ = parse_dot(tg.draw_graph(f, constants=[c]).source)
    constants = sorted(n["label"] for n in nodes.values() if "dashed" in n["attrs"])
    assert constants == ["c\nshape (3,)", "constant\nshape (2, 3) float32"]
    # Nothing keeps the released arrays alive.
    gone = weakref.ref(c.data)
    del c
    gc.collect()
    assert gone() is None
    assert "c: constant -> shape (3,)" not in tg.graph_text(f)


def test_retain_graph_keeps_every_value():
    x = Tensor(2.0, requires_grad=True, name="x")
    f = tg.sin(tg.exp(x)) * 3.0
    f.backward(retain_graph=True)
    nodes, _, _ = parse_dot(tg.draw_graph(f).source)
    values = sorted(number_after(n["label"], "value") for n in nodes.values()
                    if "value" in n["label"])
    expected = sorted([2.0, np.exp(2.0), np.sin(np.exp(2.0)), 3 * np.sin(np.exp(2.0)), 3.0])
    np.testing.assert_allclose(values, expected, rtol=1e-3)
    assert "freed" not in tg.draw_graph(f).source


def test_styles_dtype_and_constants():
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True, name="x")
    data = Tensor(np.array([0.5, 0.25, 4.0], dtype=np.float32), name="data")
    out = (x * data + 2.0).sum()
    nodes, _, _ = parse_dot(tg.draw_graph(out, constants=[data]).source)
    x_node = next(n for n in nodes.values() if n["label"].startswith("x\n"))
    assert "#cfe2ff" in x_node["attrs"]                         # leaf requiring grad: blue
    assert "shape (3,) float32" in x_node["label"]
    assert "value [1, 2, 3]" in x_node["label"]  # up to four elements: every value
    output = [n for n in nodes.values() if "#d4edda" in n["attrs"]]
    assert len(output) == 1
    assert number_after(output[0]["label"], "value") == pytest.approx(
        float(np.sum(np.array([1, 2, 3]) * np.array([0.5, 0.25, 4.0]) + 2)), rel=1e-3)
    dashed = [n["label"] for n in nodes.values() if "dashed" in n["attrs"]]
    assert any(label.startswith("data\nshape (3,) float32") for label in dashed)
    assert any(label == "constant\nscalar\nvalue 2" for label in dashed)
    x64 = Tensor([1.0, 2.0], requires_grad=True, name="x64")
    nodes, _, _ = parse_dot(tg.draw_graph((x64 * 2).sum()).source)
    assert "float64" not in " ".join(n["label"] for n in nodes.values())


def test_root_without_graph_and_bad_arguments():
    leaf = Tensor([1.0, 2.0], name="plain")
    graph = tg.draw_graph(leaf)
    nodes, edges, _ = parse_dot(graph.source)
    assert len(nodes) == 1 and not edges and "no recorded graph" in graph.source
    with pytest.raises(TypeError, match="expected a Tensor"):
        tg.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="rankdir"):
        tg.draw_graph(leaf, rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        tg.draw_graph(leaf, max_nodes=0)
    with pytest.raises(TypeError, match="collapse"):
        tg.draw_graph(leaf, collapse=3.5)


def test_rankdir_title_and_odd_names_are_escaped():
    x = Tensor(1.0, requires_grad=True, name='say "hi" \\ n')
    graph = tg.draw_graph(x * 2, rankdir="TB", title='a "title"', legend=False)
    assert "rankdir=TB" in graph.source
    nodes, _, _ = parse_dot(graph.source)
    assert labels_with(nodes, 'say "hi" \\ n')
    if HAVE_DOT:
        assert "<svg" in graph.pipe(format="svg", encoding="utf-8")


# --- the backward view ---------------------------------------------------------------------------

def test_backward_view_structure_and_flowing_values():
    x, y, f = two_variable(1.5, -0.5)
    graph = tg.draw_graph(f, backward=True)
    nodes, edges, _ = parse_dot(graph.source)
    ops, leaves, constants, inputs = tape_counts(f)
    assert len(nodes) == 2 * ops + leaves          # a VJP and a gradient per operation
    assert len(edges) == ops + inputs - constants  # g into each VJP, one per differentiable input
    x_grad = next(n["label"] for n in nodes.values() if n["label"].startswith("∂f/∂x\n"))
    y_grad = next(n["label"] for n in nodes.values() if n["label"].startswith("∂f/∂y\n"))
    want_x = -0.5 * np.cos(-0.75) - 1.5
    want_y = 1.5 * np.cos(-0.75) + 2.25
    assert float(x_grad.split("\n")[2]) == pytest.approx(want_x, rel=1e-3)
    assert float(y_grad.split("\n")[2]) == pytest.approx(want_y, rel=1e-3)
    assert "sum of 2 contributions" in x_grad
    # Central differences agree with the drawn numbers too.
    eps = 1e-6
    fx = lambda a, b: np.sin(a * b) + a ** 2 * b  # noqa: E731
    assert float(x_grad.split("\n")[2]) == pytest.approx(
        (fx(1.5 + eps, -0.5) - fx(1.5 - eps, -0.5)) / (2 * eps), rel=1e-3)
    edge_labels = [label for _, _, label in edges if label]
    assert any(label.startswith("g·cos(x·y)\n= ") for label in edge_labels)
    mul_to_x = [label for _, head, label in edges if head == "gL0" and label.startswith("g·y")]
    assert mul_to_x and float(mul_to_x[0].split("= ")[1]) == pytest.approx(
        -0.5 * np.cos(-0.75), rel=1e-3)
    assert x.grad is None and y.grad is None        # drawing never touches .grad
    f.backward()                                    # and the tape still works afterwards
    assert x.grad.item() == pytest.approx(want_x)


def test_backward_view_after_release_shows_stored_grads():
    x, y, f = two_variable()
    f.backward()
    graph = tg.draw_graph(f, backward=True)
    nodes, _, _ = parse_dot(graph.source)
    x_grad = next(n["label"] for n in nodes.values() if n["label"].startswith("∂f/∂x\n"))
    assert number_after(x_grad, ".grad") == pytest.approx(x.grad.item(), rel=1e-3)
    assert "retain_graph=True" in graph.source


def test_backward_view_of_broadcasting_names_the_sum():
    w = Tensor(np.ones((3, 2)), requires_grad=True, name="w")
    b = Tensor(np.zeros(2), requires_grad=True, name="b")
    out = ((Tensor(np.ones((4, 3))) @ w + b) ** 2).sum()
    _, edges, _ = parse_dot(tg.draw_graph(out, backward=True).source)
    labels = [label for _, _, label in edges if label]
    assert any("summed to (2,)" in label for label in labels)
    assert any(label.startswith("aᵀ @ g") for label in labels)   # matmul's rule for w


# --- scopes, collapsing, the size guard ---------------------------------------------------------

def test_scopes_become_clusters_and_collapse_to_boxes():
    root, _keep = curve_network()
    nodes, edges, clusters = parse_dot(tg.draw_graph(root).source)
    assert clusters == ["layer 1", "layer 2", "layer 3", "cost"]
    ops, leaves, constants, inputs = tape_counts(root)
    assert len(nodes) == 2 * ops + leaves + constants   # clusters add no nodes
    collapsed = tg.draw_graph(root, collapse=True)
    nodes, edges, clusters = parse_dot(collapsed.source)
    assert not clusters
    boxes = [n["label"] for n in nodes.values() if "box3d" in n["attrs"]]
    assert boxes[0].startswith("layer 1\n2 operations (collapsed)\nholds W1, b1")
    assert len(boxes) == 4
    # The boxes, the three activations between them, and the output.
    assert len(nodes) == 4 + 4 and len(edges) == 7
    only_cost = parse_dot(tg.draw_graph(root, collapse={"cost"}).source)
    assert only_cost[2] == ["layer 1", "layer 2", "layer 3"]
    assert len([n for n in only_cost[0].values() if "box3d" in n["attrs"]]) == 1


def test_nested_scopes_and_the_decorator():
    x = Tensor([1.0, -1.0], requires_grad=True, name="x")

    @viz.scope("block")
    def block(t):
        with viz.scope("inner"):
            t = tg.tanh(t)
        return t * 2.0

    with viz.scope("model"):
        h = block(block(x))
    out = (h ** 2).sum()
    nodes, _, clusters = parse_dot(tg.draw_graph(out).source)
    assert clusters == ["model", "block", "inner", "block", "inner"]
    collapsed, edges, _ = parse_dot(tg.draw_graph(out, collapse=True).source)
    boxes = [n["label"] for n in collapsed.values() if "box3d" in n["attrs"]]
    assert boxes == ["model\n4 operations (collapsed)\nholds x"]
    by_block = parse_dot(tg.draw_graph(out, collapse={"block"}).source)
    assert by_block[2] == ["model"]
    assert len([n for n in by_block[0].values() if "box3d" in n["attrs"]]) == 2
    untagged = (x * 3).sum()
    assert parse_dot(tg.draw_graph(untagged).source)[2] == []
    with pytest.raises(TypeError, match="label"):
        viz.scope("")


def test_max_nodes_guard():
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(30):
        y = tg.sin(y)
    with pytest.raises(viz.GraphTooLargeError, match=r"max_nodes=20.*collapse=True"):
        tg.draw_graph(y, max_nodes=20)
    with pytest.raises(ValueError, match="graph_text"):
        tg.draw_graph(y, max_nodes=20)
    nodes, _, _ = parse_dot(tg.draw_graph(y, max_nodes=None).source)
    assert len(nodes) == 61


def test_max_nodes_guard_stops_early_on_a_huge_graph():
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    start = time.perf_counter()
    with pytest.raises(viz.GraphTooLargeError, match="more than 2000"):
        tg.draw_graph(y)
    assert time.perf_counter() - start < 1.0
    text = tg.graph_text(y, max_nodes=50)    # deep: no recursion, and it stops with a note
    lines = text.splitlines()
    assert len(lines) == 50 + 1
    assert lines[-1].startswith(f"... {1 + 2 * 20_000 - 50} more lines not shown")
    full = tg.graph_text(y, max_nodes=None).splitlines()
    assert len(full) == 1 + 2 * 20_000
    assert max(len(line) for line in full) < 200      # indentation stops growing


# --- the text tree -------------------------------------------------------------------------------

def test_graph_text_tree():
    x, y, f = two_variable(1.5, -0.5)
    text = tg.graph_text(f)
    lines = text.splitlines()
    assert lines[0] == f"f = add -> scalar  value {f.item():.4g}"
    assert lines[1].startswith("├── sin -> scalar")
    assert lines[2].startswith("│   └── mul -> scalar")
    assert lines[3].startswith("│       ├── x: leaf, requires grad -> scalar  value 1.5")
    assert lines[-1].startswith("    └── y: leaf, requires grad")
    assert "constant -> scalar  value 2" in text
    assert len(lines) == 10
    f.backward()
    after = tg.graph_text(f)
    assert f"grad {x.grad.item():.4g}" in after and "value freed" in after
    assert "freed by backward()" in after.splitlines()[-1]


def test_graph_text_shared_nodes_scopes_and_options():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    with viz.scope("features"):
        h = tg.exp(x)
    out = (h * h).sum()
    text = tg.graph_text(out, show_values=False)
    assert "value" not in text
    assert "exp -> shape (2,)  [features]  #1" in text
    assert "exp (see #1 above)" in text
    leaf_only = tg.graph_text(x)
    assert leaf_only == "x: leaf, requires grad, output -> shape (2,)  value [1, 2]"
    big = tg.graph_text(Tensor(np.arange(5.0), requires_grad=True))
    assert big.endswith("value min 0, mean 2, max 4")  # more than four: a summary


# --- rendering with the real dot, and without it --------------------------------------------------

@needs_dot
def test_render_svg_and_png_with_dot(tmp_path):
    root, _keep = curve_network()
    root.backward(retain_graph=True)
    graph = tg.draw_graph(root)
    svg = graph.pipe(format="svg", encoding="utf-8")
    assert svg.count('class="node"') == len(parse_dot(graph.source)[0])
    assert ">W1<" in svg and "layer 2" in svg
    path = graph.render(tmp_path / "curve", format="png", cleanup=True)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    back = tg.draw_graph(root, backward=True).pipe(format="svg", encoding="utf-8")
    assert "linear backward" in back


def test_missing_dot_gives_install_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))     # an empty directory: no dot anywhere
    x, y, f = two_variable()
    graph = tg.draw_graph(f)
    assert graph.source.startswith("digraph")     # the DOT source needs no dot
    import graphviz
    for call in (lambda: graph.pipe(format="svg"),
                 lambda: graph.render(tmp_path / "g", format="png")):
        with pytest.raises(viz.GraphvizNotInstalled) as info:
            call()
        message = str(info.value)
        assert "apt-get install graphviz" in message and "brew install graphviz" in message
        assert "graph.source" in message
        assert isinstance(info.value, graphviz.ExecutableNotFound)
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "apt-get install graphviz" in bundle["text/plain"]
    assert f._repr_mimebundle_() == {"text/plain": repr(f)}


# --- Jupyter -------------------------------------------------------------------------------------

@needs_dot
def test_jupyter_display_of_tensors():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x * x).sum()
    bundle = y._repr_mimebundle_()
    assert bundle["text/plain"] == repr(y)
    assert bundle["text/html"].startswith("<pre>Tensor(") and "<svg" in bundle["text/html"]
    assert "<?xml" not in bundle["text/html"]
    assert x._repr_mimebundle_() == {"text/plain": repr(x)}        # a leaf: no graph
    assert "text/html" not in y._repr_mimebundle_(include=["text/plain"])
    svg = tg.draw_graph(y)._repr_mimebundle_()["image/svg+xml"]
    assert "<svg" in svg


# --- the command line ----------------------------------------------------------------------------

def test_cli_expression_text_and_dot(tmp_path, capsys):
    from tinygrad_mv.cli import main
    assert main(["graph", "--model", "sin(x)*y + x**2", "--at", "x=1.0,y=2.0",
                 "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"f = add -> scalar  value {np.sin(1.0) * 2 + 1:.4g}")
    # Gradients by hand: df/dx = cos(x) y + 2x, df/dy = sin(x).
    assert f"x: leaf, requires grad -> scalar  value 1  grad {np.cos(1.0) * 2 + 2:.4g}" in out
    assert "sin(x) = sin -> scalar" in out
    target = tmp_path / "g.dot"
    assert main(["graph", "--model", "sum(exp(x)*w)", "--at", "x=[1,2,3],w=[0.5,0.2,0.1]",
                 "--format", "dot", "--backward", "--out", str(target)]) == 0
    nodes, edges, _ = parse_dot(target.read_text())
    assert labels_with(nodes, "∂f/∂x\nshape (3,)")
    assert main(["graph", "--model", "gaussian", "--format", "dot", "--out", "-"]) == 0
    assert "chi2" in capsys.readouterr().out


def test_cli_refuses_picture_flags_for_the_text_tree(capsys):
    """--backward and --collapse have no text view: they were ignored without a word."""
    from tinygrad_mv.cli import main
    for flag in ("--backward", "--collapse"):
        assert main(["graph", "--model", "x**2", "--at", "x=1.0", "--format", "text", flag]) == 2
        captured = capsys.readouterr()
        assert flag in captured.err and captured.out == ""


def test_cli_refuses_bad_expressions(capsys):
    from tinygrad_mv.cli import main
    assert main(["graph", "--model", "__import__('os').system('true')"]) == 2
    err = capsys.readouterr().err
    assert "position" in err and "error" in err
    assert main(["graph", "--model", "x*y", "--at", "x=1"]) == 2
    assert "unknown name 'y'" in capsys.readouterr().err
    assert main(["graph", "--model", "curve", "--at", "x=1"]) == 2


@needs_dot
def test_cli_renders_files(tmp_path):
    from tinygrad_mv.cli import main
    svg = tmp_path / "curve.svg"
    assert main(["graph", "--out", str(svg)]) == 0
    assert "<svg" in svg.read_text()
    png = tmp_path / "curve.png"
    assert main(["graph", "--format", "png", "--collapse", "--backward", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_cli_out_dash_writes_svg_and_png_to_standard_output(tmp_path, monkeypatch, capsysbinary):
    from tinygrad_mv.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "--out", "-"]) == 0
    assert b"<svg" in capsysbinary.readouterr().out
    assert main(["graph", "--format", "png", "--out", "-"]) == 0
    assert capsysbinary.readouterr().out[:4] == b"\x89PNG"
    assert list(tmp_path.iterdir()) == []  # (it wrote a file named '-')


def test_cli_without_dot(monkeypatch, tmp_path, capsys):
    from tinygrad_mv.cli import main
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", "--out", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "--format dot" in err
    assert main(["graph", "--format", "dot", "--out", str(tmp_path / "x.dot")]) == 0


def test_cli_unwritable_out_is_named_once(tmp_path, capsys):
    from tinygrad_mv.cli import main
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, reason in [(tmp_path, "it is a folder"), (tmp_path / "no" / "g.dot", "does not exist"),
                        (blocker / "g.dot", "Not a directory")]:
        assert main(["graph", "--format", "dot", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tinygrad-mv graph: error: ") and err.count("\n") == 1
        assert str(out) in err and reason in err and err.count("cannot write") == 1, err


# --- higher order, and the example ---------------------------------------------------------------

def test_graph_of_a_gradient_recorded_with_create_graph():
    x = Tensor(2.0, requires_grad=True, name="x")
    (g,) = tg.autograd.grad(tg.sin(x) * x ** 3, x, create_graph=True)
    g.name = "g"
    # By hand: g = cos(x) x^3 + 3 x^2 sin(x); dg/dx = -sin(x) x^3 + 6 x^2 cos(x) + 6 x sin(x).
    text = tg.graph_text(g)
    assert text.startswith(f"g = add -> scalar  value {np.cos(2) * 8 + 12 * np.sin(2):.4g}")
    nodes, _, _ = parse_dot(tg.draw_graph(g, backward=True).source)
    label = next(n["label"] for n in nodes.values() if n["label"].startswith("∂g/∂x\n"))
    second = -np.sin(2) * 8 + 6 * 4 * np.cos(2) + 6 * 2 * np.sin(2)
    assert float(label.split("\n")[2]) == pytest.approx(second, rel=1e-3)
    (check,) = tg.autograd.grad(g, x)
    assert check.item() == pytest.approx(second)


def test_example_program(tmp_path, capsys):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "examples" / "draw_graph.py"
    spec = importlib.util.spec_from_file_location("draw_graph_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(out=str(tmp_path))
    assert result["df_dx"] == pytest.approx(result["hand"][0])
    assert result["df_dy"] == pytest.approx(result["hand"][1])
    names = {p.name for p in tmp_path.iterdir()}
    stems = ["graph_function", "graph_chain_rule", "graph_curve", "graph_curve_collapsed"]
    assert {f"{s}.dot" for s in stems} <= names
    if HAVE_DOT:
        assert {f"{s}.{fmt}" for s in stems for fmt in ("svg", "png")} <= names
    curve_nodes, _, clusters = parse_dot((tmp_path / "graph_curve.dot").read_text())
    assert clusters == ["layer 1", "layer 2", "layer 3", "cost"]
    assert labels_with(curve_nodes, "target\nshape (4, 2)")
    assert "f = add -> scalar" in capsys.readouterr().out


def test_one_scope_object_shared_by_threads():
    import threading
    shared = viz.scope("worker")
    results, errors = {}, []
    barrier = threading.Barrier(2)

    def work(k):
        try:
            x = Tensor(float(k + 1), requires_grad=True, name=f"x{k}")
            with shared:
                barrier.wait()
                h = tg.exp(x)
                barrier.wait()
            results[k] = (h * 2.0).sum()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for root in results.values():
        nodes, _, clusters = parse_dot(tg.draw_graph(root).source)
        assert "worker" in clusters
        assert len(nodes) == 2 * 3 + 1 + 1


def test_backward_view_gradients_match_torch():
    torch = pytest.importorskip("torch")
    root, keep = curve_network()
    tape = _Tape(root, None)
    _grads, leaf_grads, _edges = _flow(tape)
    params = [t for t in keep if t.requires_grad and t.is_leaf]
    assert [p.name for p in params] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    tp = [torch.tensor(p.data, requires_grad=True) for p in params]
    a = torch.tensor(keep[0].data)
    for k in range(3):
        a = torch.sigmoid(a @ tp[2 * k].T + tp[2 * k + 1])
    cost = ((a - torch.tensor(keep[1].data)) ** 2).sum()
    cost.backward()
    for p, t in zip(params, tp):
        np.testing.assert_allclose(leaf_grads[id(p)], t.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert all(p.grad is None for p in params)      # recomputed, not stored


def test_params_name_a_models_parameters_as_torchviz():
    model = tg.nn.Sequential(tg.nn.Linear(2, 3, rng=0), tg.nn.Sigmoid(), tg.nn.Linear(3, 1, rng=1))
    loss = model(np.ones((4, 2))).sum()
    for params in (model, dict(model.named_parameters())):
        text = tg.graph_text(loss, params=params)
        for name in ("0.weight", "0.bias", "2.weight", "2.bias"):
            assert f"{name}: leaf, requires grad" in text
        labels = [n["label"] for n in parse_dot(tg.draw_graph(loss, params=params).source)[0]
                  .values()]
        assert sum(label.startswith("0.weight\n") for label in labels) == 1
        backward = tg.draw_graph(loss, params=params, backward=True).source
        assert "0.weight" in backward
    assert "0.weight" not in tg.graph_text(loss)  # unnamed without params=
    named = Tensor(np.ones(3), requires_grad=True, name="mine")
    assert "mine: leaf" in tg.graph_text((named * 2).sum(), params={"other": named})
    with pytest.raises(TypeError, match="params= takes a Module or a dict"):
        tg.graph_text(loss, params=[1, 2])
    with pytest.raises(TypeError, match="params=: 'w' is a ndarray, not a Tensor"):
        tg.graph_text(loss, params={"w": np.ones(2)})


def test_pictures_label_values_with_their_tangents_in_forward_mode():
    import tinygrad_mv.forward_ad as fwAD

    with fwAD.dual_level():
        x = tg.Tensor(3.0, requires_grad=True, name="x")
        dual = fwAD.make_dual(x, tg.Tensor(0.5))
        y = tg.sin(dual) * dual  # tangent (sin x + x cos x) v
        text = tg.graph_text(y)
        source = tg.draw_graph(y).source
        expected = (np.sin(3.0) + 3.0 * np.cos(3.0)) * 0.5
        assert f"tangent {expected:.4g}" in text.splitlines()[0]
        assert f"tangent {np.cos(3.0) * 0.5:.4g}" in text  # sin's output
        assert f"tangent {expected:.4g}" in source
    # outside the level the tangents are gone: the picture shows none
    assert "tangent" not in tg.graph_text(y) and "tangent" not in tg.draw_graph(y).source
