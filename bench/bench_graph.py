"""Drawing a graph of 10,000 recorded operations to DOT source (about 20,000 drawn nodes: each
operation, its result, the leaves and the constants), forwards and backwards, and as a text tree.

Measure: python -m pytest bench/bench_graph.py --benchmark-enable --benchmark-columns=mean,max
Goal: under 2 s to DOT source for the forward graph.
"""
import numpy as np
import pytest

import tinygrad_mv as tg

GROUP = "graph of 10,000 operations"
OPERATIONS = 10_000


def build_graph(operations: int = OPERATIONS):
    """A chain of mul (by one of 100 parameter vectors), add (a constant) and tanh on a 4-vector,
    summed at the end: ``operations`` operations in all, values kept (nothing released)."""
    rng = np.random.default_rng(0)
    weights = [tg.Tensor(rng.standard_normal(4), requires_grad=True, name=f"w{i}")
               for i in range(100)]
    h = tg.Tensor(np.ones(4), requires_grad=True, name="x")
    count = 0
    step = 0
    while count < operations - 1:
        kind = count % 3
        if kind == 0:
            h = h * weights[step % 100]
            step += 1
        elif kind == 1:
            h = h + 0.1
        else:
            h = tg.tanh(h)
        count += 1
    return h.sum(), weights


@pytest.fixture(scope="module")
def graph():
    return build_graph()


def _drawn_nodes(source: str) -> int:
    return sum(1 for line in source.splitlines() if " [label=" in line and "->" not in line)


@pytest.mark.benchmark(group=GROUP)
def test_forward_graph_to_dot_source(benchmark, graph):
    root, _weights = graph
    source = benchmark(lambda: tg.draw_graph(root, max_nodes=None).source)
    # One node per operation and per result, 101 leaves, one constant per add.
    adds = len(range(1, OPERATIONS - 1, 3))
    assert _drawn_nodes(source) == 2 * OPERATIONS + 101 + adds


@pytest.mark.benchmark(group=GROUP)
def test_backward_graph_to_dot_source(benchmark, graph):
    root, _weights = graph
    source = benchmark(lambda: tg.draw_graph(root, max_nodes=None, backward=True).source)
    assert _drawn_nodes(source) == 2 * OPERATIONS + 101


@pytest.mark.benchmark(group=GROUP)
def test_text_tree(benchmark, graph):
    root, _weights = graph
    text = benchmark(lambda: tg.graph_text(root, max_nodes=None))
    kinds = [k % 3 for k in range(OPERATIONS - 1)]
    muls, adds, tanhs = (kinds.count(k) for k in range(3))
    # One line for the root, then one per input of every operation (the sum has one).
    assert len(text.splitlines()) == 1 + 2 * muls + 2 * adds + tanhs + 1


def test_build_graph_has_the_size_it_claims():
    root, _weights = build_graph(31)
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(p for p in node.parents if isinstance(p, tg.autograd.Node))
    assert len(seen) == 31
