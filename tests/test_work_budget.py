"""Regression guards on the *work* of the course's workloads, not their time (times flake, counts
do not): Python calls per eager operation, nodes recorded per workload, NumPy steps in the
programs tg.jit replays. Each budget is the count measured when it was set; a change that adds
work fails here and must either be undone or raise the budget deliberately, with a reason.

The workloads are written as a user writes them (as in the speed yardstick, shared/tools/
workloads.py): W1 the 1-6-7-2 curve network, W2 the Gaussian chi-squared, W3 Rosenbrock, W4 a
tiny graph.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor


def python_calls(fn: Callable[[], Any]) -> int:
    """How many Python-level function calls ``fn()`` makes (C functions are not counted)."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count - 1  # the lambda itself


def graph_nodes(root: Tensor) -> int:
    seen, stack = set(), [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "parents"):
            continue
        seen.add(id(node))
        stack.extend(p for p in node.parents if p is not None and hasattr(p, "parents"))
    return len(seen)


def w1_loss(N: int = 100) -> tuple[Callable, list]:
    rng = np.random.default_rng(42)
    x = np.linspace(0.0, 1.0, N).reshape(1, N)
    y = np.vstack([0.5 + 0.4 * np.cos(2 * np.pi * x[0]), 0.5 + 0.4 * np.sin(2 * np.pi * x[0])])
    xt, yt = Tensor(x), Tensor(y)
    params = []
    for n_in, n_out in ((1, 6), (6, 7), (7, 2)):
        params += [rng.standard_normal((n_out, n_in)) / 2, rng.standard_normal((n_out, 1)) / 2]

    def loss(W1, b1, W2, b2, W3, b3):
        a1 = (W1 @ xt + b1).sigmoid()
        a2 = (W2 @ a1 + b2).sigmoid()
        a3 = (W3 @ a2 + b3).sigmoid()
        return ((a3 - yt) ** 2).sum() / N
    return loss, params


def w2_chi2() -> tuple[Callable, list]:
    x = np.linspace(140.0, 200.0, 30)
    xt, yt = Tensor(x), Tensor(np.exp(-((x - 170.0) ** 2) / 128.0) / 20.0)
    c = float(np.sqrt(2 * np.pi))

    def chi2(mu, sig):
        f = tg.exp(-((xt - mu) ** 2) / (2 * sig ** 2)) / (c * sig)
        return ((yt - f) ** 2).sum()
    return chi2, [np.array(155.0), np.array(6.0)]


def w3_rosen() -> tuple[Callable, list]:
    def rosen(t):
        return (100.0 * (t[1:] - t[:-1] ** 2) ** 2 + (1.0 - t[:-1]) ** 2).sum()
    return rosen, [np.random.default_rng(1).uniform(-1.5, 1.5, 1000)]


def w4_tiny() -> tuple[Callable, list]:
    a, b = np.random.default_rng(4).standard_normal((2, 3, 3))
    return (lambda a, b: (a * b + a).sum()), [a, b]


WORKLOADS = {"W1": w1_loss, "W2": w2_chi2, "W3": w3_rosen, "W4": w4_tiny}

# Budgets: Python calls per eager operation on small tensors (recording a node included).
OP_CALLS = {
    "mul": (lambda a, b: a * b, 2),
    "add a number": (lambda a, b: a + 1.0, 2),
    "sum": (lambda a, b: a.sum(), 4),
    "sigmoid": (lambda a, b: a.sigmoid(), 4),
    "matmul": (lambda a, b: a @ b, 4),
}
# Nodes recorded by each workload's loss, NumPy steps in its compiled gradient (about one NumPy
# call each: rules are expanded into their calls), and Python calls per replay (the call, the
# rules left as Python functions, one per result).
NODES = {"W1": 13, "W2": 12, "W3": 11, "W4": 3}
JIT_STEPS = {"W1": 30, "W2": 31, "W3": 12, "W4": 1}
REPLAY_CALLS = {"W1": 9, "W2": 5, "W3": 3, "W4": 6}
# Temporaries each compiled gradient writes into at their last use (out=): at least these many.
BUFFERS = {"W1": 3, "W2": 7, "W3": 2, "W4": 0}


@pytest.mark.parametrize("name", list(OP_CALLS))
def test_python_calls_per_eager_operation(name):
    op, budget = OP_CALLS[name]
    a = Tensor(np.ones((3, 3)), requires_grad=True)
    b = Tensor(np.ones((3, 3)), requires_grad=True)
    calls = python_calls(lambda: op(a, b))
    assert calls <= budget, f"{name}: {calls} Python calls per operation (budget {budget})"


# Python calls of one eager step of each workload: the loss recorded and its backward pass.
STEP_CALLS = {"W1": 69, "W2": 62, "W3": 69, "W4": 18}


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_python_calls_of_an_eager_step(name):
    fn, args = WORKLOADS[name]()
    leaves = [Tensor(a, requires_grad=True) for a in args]

    def step() -> None:
        for leaf in leaves:
            leaf.grad = None
        fn(*leaves).backward()
    step()
    calls = python_calls(step)
    assert calls <= STEP_CALLS[name], (f"{name}: {calls} Python calls per eager step (budget "
                                       f"{STEP_CALLS[name]})")


def test_python_calls_of_a_tiny_backward():
    a = Tensor(np.ones((3, 3)), requires_grad=True)
    b = Tensor(np.ones((3, 3)), requires_grad=True)
    loss = (a * b + a).sum()
    calls = python_calls(loss.backward)
    assert calls <= 13, f"backward of (a * b + a).sum(): {calls} Python calls (budget 13)"


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_nodes_recorded_per_workload(name):
    fn, args = WORKLOADS[name]()
    loss = fn(*(Tensor(a, requires_grad=True) for a in args))
    assert graph_nodes(loss) <= NODES[name], f"{name}: {graph_nodes(loss)} nodes"


def compiled_gradient(name: str) -> tuple[Callable, Callable, list]:
    """(the workload's loss, its jitted gradient called once, the arguments)."""
    fn, args = WORKLOADS[name]()
    jitted = tg.jit(tg.value_and_grad(fn, argnums=tuple(range(len(args)))) if name in ("W1", "W2")
                    else tg.grad(fn, argnums=tuple(range(len(args)))))
    jitted(*args)
    return fn, jitted, args


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_numpy_steps_in_each_compiled_gradient(name):
    fn, jitted, args = compiled_gradient(name)
    (program,) = jitted.programs.values()
    steps = len(program.steps)
    assert steps <= JIT_STEPS[name], f"{name}: {steps} steps (budget {JIT_STEPS[name]})"
    # the replay still computes the eager gradient
    eager = tg.grad(fn, argnums=tuple(range(len(args))))(*args)
    replayed = jitted(*args)
    replayed = replayed[1] if name in ("W1", "W2") else replayed
    for r, e in zip(replayed, eager):
        np.testing.assert_array_equal(r.data, e.data)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_python_calls_per_replay(name):
    _, jitted, args = compiled_gradient(name)
    calls = python_calls(lambda: jitted(*args))
    assert calls <= REPLAY_CALLS[name], (f"{name}: {calls} Python calls per replay (budget "
                                         f"{REPLAY_CALLS[name]})")


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_buffers_reused_by_each_compiled_gradient(name):
    _, jitted, _ = compiled_gradient(name)
    (program,) = jitted.programs.values()
    assert len(program.buffers) >= BUFFERS[name], (
        f"{name}: {len(program.buffers)} buffers reused (at least {BUFFERS[name]})")


def test_python_calls_of_an_eager_jvp():
    """tg.jvp of W3's Rosenbrock (11 operations, each with its forward rule): measured 123."""
    fn, (x,) = w3_rosen()
    v = np.ones_like(x)
    tg.jvp(fn, (x,), (v,))
    calls = python_calls(lambda: tg.jvp(fn, (x,), (v,)))
    assert calls <= 125, f"jvp of Rosenbrock: {calls} Python calls (budget 125)"


def test_jacfwd_evaluates_f_once():
    """All of jacfwd's columns come from one evaluation of f (stacked tangents)."""
    fn, (x,) = w3_rosen()
    calls = []

    def f(a):
        calls.append(1)
        return fn(a) * a[:3]
    jacobian = tg.jacfwd(f)(x[:50])
    assert len(calls) == 1 and jacobian.shape == (3, 50)
