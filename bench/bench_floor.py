"""The floor of an eager tape in Python: the tiny graph of the speed yardstick (W4,
``((a * b + a).sum()).backward()`` on 3x3 tensors) on a minimal micrograd-style engine that makes
the same NumPy calls and nothing else (no dtype rules, hooks, version checks, anomaly mode,
broadcasting, jit), beside tinygrad_mv eager and NumPy by hand.

Measure: python -m pytest bench/bench_floor.py --benchmark-enable --benchmark-columns=median
On the 2-core machine of this project the minimal tape takes 3.8-4.4x the hand-written NumPy and
tinygrad_mv eager about 6x: a goal of 4x for an eager tape is at the floor of what Python allows.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np

import tinygrad_mv as tg

_sequence = itertools.count()


class _Node:
    __slots__ = ("rules", "parents", "saved", "seq")


class _Value:
    __slots__ = ("data", "grad", "node")

    def __init__(self, data: np.ndarray, node: _Node | None = None) -> None:
        self.data, self.grad, self.node = data, None, node


def _op(forward, rules):
    def apply(*args):
        datas = [a.data for a in args]
        out = forward(*datas)
        node = _Node()
        node.rules, node.parents = rules, tuple(a.node or a for a in args)
        node.saved, node.seq = (datas, out), next(_sequence)
        return _Value(out, node)
    return apply


def _sum_rule(g, out, x):
    full = np.empty(x.shape)
    full[...] = g
    return full


mul = _op(np.multiply, (lambda g, out, x, y: g * y, lambda g, out, x, y: g * x))
add = _op(np.add, (lambda g, out, x, y: g, lambda g, out, x, y: g))
total = _op(lambda x: np.add.reduce(x, axis=None), (_sum_rule,))


def backward(root: _Value) -> None:
    grads = {root.node: np.array(1.0)}
    heap = [(-root.node.seq, root.node)]
    leaves: dict[int, list] = {}
    while heap:
        node = heapq.heappop(heap)[1]
        g = grads.pop(node)
        datas, out = node.saved
        for rule, parent in zip(node.rules, node.parents):
            contribution = rule(g, out, *datas)
            if type(parent) is _Node:
                if parent in grads:
                    grads[parent] = grads[parent] + contribution
                else:
                    grads[parent] = contribution
                    heapq.heappush(heap, (-parent.seq, parent))
            elif id(parent) in leaves:
                leaves[id(parent)][1] = leaves[id(parent)][1] + contribution
            else:
                leaves[id(parent)] = [parent, contribution]
        node.saved = None
    for leaf, g in leaves.values():
        leaf.grad = np.array(g, copy=True)


A0, B0 = np.random.default_rng(4).standard_normal((2, 3, 3))


def minimal_step(a: _Value, b: _Value) -> None:
    a.grad = b.grad = None
    backward(total(add(mul(a, b), a)))


def test_the_minimal_tape_computes_the_gradient():
    a, b = _Value(A0.copy()), _Value(B0.copy())
    minimal_step(a, b)
    np.testing.assert_allclose(a.grad, B0 + 1.0, rtol=1e-15)
    np.testing.assert_allclose(b.grad, A0, rtol=1e-15)


def test_floor_minimal_tape(benchmark):
    a, b = _Value(A0.copy()), _Value(B0.copy())
    benchmark(minimal_step, a, b)


def test_floor_tinygrad_mv_eager(benchmark):
    a = tg.Tensor(A0.copy(), requires_grad=True)
    b = tg.Tensor(B0.copy(), requires_grad=True)

    def step():
        a.grad = b.grad = None
        (a * b + a).sum().backward()
    benchmark(step)
    np.testing.assert_allclose(a.grad.data, B0 + 1.0, rtol=1e-15)


def test_floor_numpy_by_hand(benchmark):
    def step():
        (A0 * B0 + A0).sum()
        return B0 + 1.0, A0.copy()
    benchmark(step)
