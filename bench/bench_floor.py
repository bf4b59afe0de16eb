"""The floor of an eager tape in Python: the yardstick's workloads W1-W6 (../shared/tools/
workloads.py) on a minimal micrograd-style tape (each primitive a forward and its VJPs, generic,
with broadcasting; a dual number for W5's forward mode; no dtype rules, hooks, versions, anomaly
mode, buffer reuse or jit), beside NumPy by hand and tinygrad_mv eager, interleaved in one process
per workload with the yardstick's median_us, as ratios to its base (W1, W2, W4: the step by hand;
W3, W5, W6: one evaluation of f). Correctness: tests/test_floor_tapes.py.

    PYTHONPATH=. python bench/bench_floor.py [--quick]
    python -m pytest bench/bench_floor.py --benchmark-enable --benchmark-columns=median
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import operator
import os
import sys
from pathlib import Path

if __name__ == "__main__":  # one thread, as the yardstick runs (before NumPy is imported)
    for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_k, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tinygrad_mv as tg  # noqa: E402

# The yardstick: shared/tools beside the project root (or higher up, from a git worktree).
_ROOT = Path(__file__).resolve().parents[1]
TOOLS = next((p / "shared" / "tools" for p in _ROOT.parents
              if (p / "shared/tools/workloads.py").is_file()), _ROOT.parent / "shared" / "tools")


def yardstick():
    """The yardstick module (workloads.py), or None when it is not found."""
    if not (TOOLS / "workloads.py").is_file():
        return None
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import workloads
    return workloads


# ----------------------------------------------------------------------------- reverse mode
_sequence = itertools.count()


class _Node:
    __slots__ = ("rules", "parents", "saved", "seq")


class _Value:
    """An array on the tape. ``tape`` is what a result records as its parent: None for a
    constant, the value itself for a leaf that wants a gradient, the node that made a result."""
    __slots__ = ("data", "grad", "tape")
    __array_ufunc__ = None  # array + _Value: NumPy hands over to _Value.__radd__

    def __init__(self, data, requires_grad: bool = False, tape=None) -> None:
        self.data, self.grad = data, None
        self.tape = self if requires_grad else tape


def _op(forward, rules):
    """An operation: forward(*datas), and per argument a rule(g, out, *datas) giving its part of
    the gradient. Arguments that are not _Values (numbers, an index) are passed as they are."""
    def apply(*args):
        datas = [a.data if type(a) is _Value else a for a in args]
        parents = [a.tape if type(a) is _Value else None for a in args]
        out = forward(*datas)
        if not any(parents):
            return _Value(out)
        node = _Node()
        node.rules, node.parents = rules, parents
        node.saved, node.seq = (datas, out), next(_sequence)
        return _Value(out, tape=node)
    return apply


def _fit(g, x):
    """An elementwise rule's gradient g summed back to the shape of its input x (broadcasting)."""
    if g.shape == x.shape:
        return g
    if g.ndim > x.ndim:
        g = g.sum(axis=tuple(range(g.ndim - x.ndim)))
    ones = tuple(i for i, n in enumerate(x.shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=ones, keepdims=True) if ones else g


def _sum_rule(g, out, x):
    full = np.empty(x.shape)
    full[...] = g
    return full


def _slice_rule(g, out, x, index):
    full = np.zeros(x.shape)
    full[index] += g
    return full


add = _op(operator.add, (lambda g, out, x, y: _fit(g, x), lambda g, out, x, y: _fit(g, y)))
sub = _op(operator.sub, (lambda g, out, x, y: _fit(g, x), lambda g, out, x, y: _fit(-g, y)))
mul = _op(operator.mul, (lambda g, out, x, y: _fit(g * y, x), lambda g, out, x, y: _fit(g * x, y)))
div = _op(operator.truediv, (lambda g, out, x, y: _fit(g / y, x),
                             lambda g, out, x, y: _fit(-g * out / y, y)))
neg = _op(operator.neg, (lambda g, out, x: -g,))
power = _op(operator.pow, (lambda g, out, x, p: g * p * x ** (p - 1), None))  # p: a number
exp = _op(np.exp, (lambda g, out, x: g * out,))
sigmoid = _op(lambda z: 1.0 / (1.0 + np.exp(-z)), (lambda g, out, x: g * out * (1.0 - out),))
matmul = _op(operator.matmul, (lambda g, out, x, y: g @ y.T, lambda g, out, x, y: x.T @ g))
total = _op(lambda x: np.add.reduce(x, axis=None), (_sum_rule,))
getitem = _op(operator.getitem, (_slice_rule, None))


def backward(root: _Value) -> None:
    """Rules in reverse creation order; a leaf's gradient is copied to (or added into) .grad."""
    grads = {root.tape: np.array(1.0)}
    heap = [(-root.tape.seq, root.tape)]
    leaves: dict[int, list] = {}
    while heap:
        node = heapq.heappop(heap)[1]
        g = grads.pop(node)
        datas, out = node.saved
        for rule, parent in zip(node.rules, node.parents):
            if parent is None:
                continue
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
        leaf.grad = np.array(g, copy=True) if leaf.grad is None else leaf.grad + g


_Value.__add__ = _Value.__radd__ = add
_Value.__sub__, _Value.__rsub__ = sub, lambda self, other: sub(other, self)
_Value.__mul__ = _Value.__rmul__ = mul
_Value.__truediv__, _Value.__rtruediv__ = div, lambda self, other: div(other, self)
_Value.__neg__, _Value.__pow__, _Value.__matmul__, _Value.__getitem__ = neg, power, matmul, getitem
_Value.sum, _Value.exp, _Value.sigmoid, _Value.backward = total, exp, sigmoid, backward


# ----------------------------------------------------------------------------- forward mode
class _Dual:
    """A value v and its tangent t, with the JVPs of the operations Rosenbrock's function makes
    (W5); a Python number or an array that is not a _Dual is a constant (tangent zero)."""
    __slots__ = ("v", "t")
    __array_ufunc__ = None

    def __init__(self, v, t) -> None:
        self.v, self.t = v, t

    def __add__(self, o):
        return _Dual(self.v + o.v, self.t + o.t) if type(o) is _Dual else _shift(self.v + o, self.t)

    __radd__ = __add__

    def __sub__(self, o):
        return _Dual(self.v - o.v, self.t - o.t) if type(o) is _Dual else _shift(self.v - o, self.t)

    def __rsub__(self, o):
        return _shift(o - self.v, -self.t)

    def __mul__(self, o):
        if type(o) is _Dual:
            return _Dual(self.v * o.v, self.t * o.v + self.v * o.t)
        return _Dual(self.v * o, self.t * o)

    __rmul__ = __mul__

    def __neg__(self):
        return _Dual(-self.v, -self.t)

    def __pow__(self, p):  # p: a number
        return _Dual(self.v ** p, p * self.v ** (p - 1) * self.t)

    def __getitem__(self, index):
        return _Dual(self.v[index], self.t[index])

    def sum(self):
        return _Dual(np.add.reduce(self.v, axis=None), np.add.reduce(self.t, axis=None))


def _shift(v, t):
    """x + c with a constant c: x's tangent, broadcast when c made the value larger."""
    return _Dual(v, t if np.shape(t) == np.shape(v) else np.broadcast_to(t, np.shape(v)))


# ----------------------------------------------------------------------------- the workloads
def rosen(t):
    return (100.0 * (t[1:] - t[:-1] ** 2) ** 2 + (1.0 - t[:-1]) ** 2).sum()


def floor_w1(x, y, ps, lr):
    """W1 as the yardstick's w1_tg eager: a step, and a reader of the parameters."""
    N = x.shape[1]
    xt, yt = _Value(x), _Value(y)

    def loss(W1, b1, W2, b2, W3, b3):
        a1 = (W1 @ xt + b1).sigmoid()
        a2 = (W2 @ a1 + b2).sigmoid()
        a3 = (W3 @ a2 + b3).sigmoid()
        return ((a3 - yt) ** 2).sum() / N

    ts = [_Value(p.copy(), requires_grad=True) for p in ps]

    def step():
        loss(*ts).backward()
        for t in ts:
            t.data = t.data - lr * t.grad
            t.grad = None
    return step, lambda: [np.array(t.data) for t in ts]


def floor_w2(x, y, mu0, sig0, lr):
    """W2 as the yardstick's w2_tg eager, 0-d parameters mu and sig."""
    xt, yt = _Value(x), _Value(y)
    c = float(np.sqrt(2 * np.pi))

    def chi2(mu, sig):
        f = exp(-((xt - mu) ** 2) / (2 * sig ** 2)) / (c * sig)
        return ((yt - f) ** 2).sum()

    mu, sig = _Value(np.array(mu0), requires_grad=True), _Value(np.array(sig0), requires_grad=True)

    def step():
        chi2(mu, sig).backward()
        for t in (mu, sig):
            t.data = t.data - lr * t.grad
            t.grad = None
    return step, lambda: [float(mu.data), float(sig.data)]


def floor_grad(x):
    """W3, W6: the Rosenbrock gradient from a fresh leaf per call."""
    def run():
        t = _Value(x, requires_grad=True)
        rosen(t).backward()
        return t.grad
    return run


def tape_by_hand(x):
    """W3, W6: the memory work an eager tape cannot avoid, written out in NumPy: the leaf copied
    (a Tensor copies its data), f with the two arrays the gradient reads kept and NumPy's own
    temporaries otherwise, then the gradient from those into one zero-filled buffer."""
    def run():
        t = x.copy()
        a, b = t[1:], t[:-1]
        d = a - b ** 2  # kept: the rule of d ** 2 reads d
        o = 1.0 - b  # kept: the rule of o ** 2 reads o
        value = (100.0 * d ** 2 + o ** 2).sum()
        gd = 200.0 * d
        go = 2.0 * o
        grad = np.zeros_like(t)
        grad[1:] += gd
        grad[:-1] -= go
        gd *= b
        gd *= 2.0
        grad[:-1] -= gd
        return value, grad
    return run


def floor_jvp(x, v):
    """W5: value and directional derivative of Rosenbrock, as tg.jvp(rosen, (x,), (v,))."""
    def run():
        out = rosen(_Dual(x, v))
        return out.v, out.t
    return run


def numpy_jvp(x, v):
    """W5 by hand: value and tangent written out in NumPy, no Python objects."""
    def run():  # the lines of the brief, a value and its tangent per line, in that order
        a, b = x[1:], x[:-1]
        va, vb = v[1:], v[:-1]
        b2, tb2 = b ** 2, 2 * b * vb
        d, td = a - b2, va - tb2
        d2, td2 = d ** 2, 2 * d * td
        e, te = 100.0 * d2, 100.0 * td2
        g, tg_ = 1.0 - b, -vb
        g2, tg2 = g ** 2, 2 * g * tg_
        return np.sum(e + g2), np.sum(te + tg2)
    return run


def rosen_inputs(n):
    """The yardstick's x (and W5's v) for n points."""
    return (np.random.default_rng(1).uniform(-1.5, 1.5, n),
            np.random.default_rng(2).standard_normal(n))


A0, B0 = np.random.default_rng(4).standard_normal((2, 3, 3))


def minimal_step(a: _Value, b: _Value) -> None:
    """W4, the yardstick's graph ((a * b + a).sum()).backward()."""
    a.grad = b.grad = None
    backward(total(add(mul(a, b), a)))


# ----------------------------------------------------------------------------- benchmarks
def test_floor_minimal_tape(benchmark):
    a, b = _Value(A0.copy(), requires_grad=True), _Value(B0.copy(), requires_grad=True)
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


@pytest.mark.parametrize("w", ["W1", "W2"])
def test_floor_step(benchmark, w):
    wl = yardstick() or pytest.skip(f"the yardstick workloads.py is not in {TOOLS}")
    benchmark(floor_w1(*wl.w1_problem())[0] if w == "W1" else floor_w2(*wl.w2_problem())[0])


@pytest.mark.parametrize("n", [10_000, 1_000_000], ids=["W3", "W6"])
def test_floor_rosenbrock_gradient(benchmark, n):
    benchmark(floor_grad(rosen_inputs(n)[0]))


@pytest.mark.parametrize("make", [floor_jvp, numpy_jvp], ids=["floor", "numpy_by_hand"])
def test_floor_w5_jvp(benchmark, make):
    benchmark(make(*rosen_inputs(10_000)))


# ----------------------------------------------------------------------------- report
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="short timings (rough)")
    target, repeats = (0.05, 3) if ap.parse_args().quick else (0.2, 7)
    wl = yardstick()
    if wl is None:
        print(f"bench_floor: no yardstick (workloads.py) in {TOOLS}: nothing to compare with.",
              file=sys.stderr)
        return 1
    rows = {}  # workload -> (base us, {"numpy" | "floor" | "eager": ratio to the base})

    def timed(w, base, fns, repeats=repeats):
        us = wl.median_us(fns, target, repeats)
        rows[w] = (us[base], {k: us[k] / us[base] for k in ("numpy", "floor", "eager")})
        return us

    for w, problem, by_hand, floor, eager in (
            ("W1", wl.w1_problem, wl.w1_numpy, floor_w1, wl.w1_tg),
            ("W2", wl.w2_problem, wl.w2_numpy, floor_w2, wl.w2_tg)):
        (ref_step, ref_read), (step, read) = by_hand(), floor(*problem())
        for _ in range(3):
            ref_step()
            step()
        wl.check_close(f"{w} floor", read(), ref_read(), tol=1e-12)
        timed(w, "numpy", {"numpy": by_hand()[0], "floor": floor(*problem())[0],
                           "eager": eager(tg, False)[0]})
    x, v = rosen_inputs(10_000)
    jvp_want = [wl.rosen_np(x), wl.rosen_grad_np(x) @ v]
    x10 = rosen_inputs(10)[0]
    for label, got, want in (("W3 floor", [floor_grad(x)()], [wl.rosen_grad_np(x)]),
                             ("W3 tape by hand", [tape_by_hand(x)()[1]], [wl.rosen_grad_np(x)]),
                             ("W5 floor", floor_jvp(x, v)(), jvp_want),
                             ("W5 numpy jvp by hand", numpy_jvp(x, v)(), jvp_want)):
        wl.check_close(label, got, want, tol=1e-12)
    us = timed("W3", "f", {"f": lambda: wl.rosen_np(x), "numpy": lambda: wl.rosen_grad_np(x),
                           "floor": floor_grad(x), "eager": wl.w3_tg(tg, False, x),
                           "jvp numpy": numpy_jvp(x, v), "jvp floor": floor_jvp(x, v),
                           "jvp eager": wl.w5_tg(tg, False, x, v), "by hand": tape_by_hand(x),
                           "floor n=10": floor_grad(x10), "by hand n=10": tape_by_hand(x10)})
    rows["W5"] = (us["f"], {k: us["jvp " + k] / us["f"] for k in ("numpy", "floor", "eager")})
    # W3's floor: a tape's memory work by hand, plus the floor tape's Python (its time at n = 10
    # less the same work by hand there)
    w3_python = (us["floor n=10"] - us["by hand n=10"]) / us["f"]
    notes = [f"W3 floor: the tape's memory work by hand {us['by hand'] / us['f']:.2f}x f + the "
             f"floor tape's Python {w3_python:.2f}x f = "
             f"{us['by hand'] / us['f'] + w3_python:.2f}x (goal {wl.GOALS['W3'][0]}x)"]
    x6 = rosen_inputs(1_000_000)[0]  # after W3, W5: freeing large arrays moves glibc's thresholds
    wl.check_close("W6 floor", [floor_grad(x6)()], [wl.rosen_grad_np(x6)], tol=1e-12)
    us = timed("W6", "f", {"f": lambda: wl.rosen_np(x6), "numpy": lambda: wl.rosen_grad_np(x6),
                           "floor": floor_grad(x6), "eager": wl.w3_tg(tg, False, x6),
                           "by hand": tape_by_hand(x6)}, max(3, repeats // 2))
    notes.append(f"W6 floor: the tape's memory work by hand {us['by hand'] / us['f']:.2f}x f "
                 f"(goal {wl.GOALS['W6'][0]}x; Python is negligible at n = 1e6)")
    a, b = _Value(A0.copy(), requires_grad=True), _Value(B0.copy(), requires_grad=True)
    timed("W4", "numpy", {"numpy": wl.w4_numpy(), "floor": lambda: minimal_step(a, b),
                          "eager": wl.w4_tg(tg, False)})

    print(f"{'workload (base)':22} {'numpy us':>9} {'numpy':>7} {'floor':>7} {'tg eager':>8} "
          f"{'eager/floor':>11} {'goal':>5} {'goal/floor':>10}")
    for w, (base_us, r) in sorted(rows.items()):
        goal = wl.GOALS[w][0]
        print(f"{w + (' (f)' if w in ('W3', 'W5', 'W6') else ' (step)'):22} {base_us:9.1f} "
              f"{r['numpy']:6.2f}x {r['floor']:6.2f}x {r['eager']:7.2f}x "
              f"{r['eager'] / r['floor']:10.2f}x {goal:4.1f}x {goal / r['floor']:10.2f}")
        if w == "W5":
            print(f"{'W5 numpy jvp by hand':22} {base_us:9.1f} {r['numpy']:6.2f}x")
    print("numpy us: the base (W3, W5, W6: f); numpy: by hand (W3, W6: the gradient, W5: the jvp);"
          "\ngoal/floor < 1: the eager goal is below what the floor tape takes")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
