"""Deep and wide graphs, and the memory model: what a graph holds, and when it lets go.

Memory is measured with tracemalloc, which sees NumPy's array buffers. Run with ``-s`` to print
the figures.
"""
from __future__ import annotations

import gc
import tracemalloc
import weakref
from typing import Callable, Iterator

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

MB = 1 << 20


# --- deep and wide ------------------------------------------------------------------------------

def _chain_step(k: int) -> tuple[float, float]:
    """Multiplier and shift of step k: near 1, varied, so the product of derivatives is not
    trivially 1 but stays O(1) over 100,000 steps."""
    return 1.0 + 1e-5 * np.sin(k), 0.01 * np.cos(k)


def test_100k_op_chain_backpropagates_correctly() -> None:
    # 25,000 rounds of (multiply, add, log, exp): 100,000 recorded operations. The oracle is
    # forward-mode differentiation in plain NumPy: the derivative carried along by hand.
    x0 = np.array([0.5, 1.0, 2.0])
    x = Tensor(x0, requires_grad=True)
    y = x
    value, deriv = x0.copy(), np.ones(3)
    rounds = 25_000
    for k in range(rounds):
        c, s = _chain_step(k)
        y = tg.exp(tg.log(y * c + s))
        value = value * c + s
        deriv = deriv * c  # d(exp(log(u)))/du = (1/u) * u = 1
    out = y.sum()
    ops = 0
    node = out.grad_fn
    while node is not None:  # walk the chain: it really is 100,000 operations deep
        ops += 1
        parents = [p for p in node.parents if isinstance(p, tg.autograd.Node)]
        node = parents[0] if parents else None
    assert ops == 4 * rounds + 1
    out.backward()
    np.testing.assert_allclose(y.data, value, rtol=1e-9)
    np.testing.assert_allclose(x.grad.data, deriv, rtol=1e-9)
    assert out.grad_fn.released


def test_deep_chain_second_derivative() -> None:
    # y = x^(1.0001^n) by repeated powers; d2y/dx2 by hand: p (p - 1) x^(p - 2), p = a^n.
    n, a = 5_000, 1.0001
    x = Tensor(1.3, requires_grad=True)
    y = x
    for _ in range(n):
        y = y ** a
    p = a ** n
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (h,) = tg.autograd.grad(g, x)
    assert g.item() == pytest.approx(p * 1.3 ** (p - 1), rel=1e-9)
    assert h.item() == pytest.approx(p * (p - 1) * 1.3 ** (p - 2), rel=1e-8)


def test_1000_wide_fan_in() -> None:
    # 1,000 leaves meet in one operation (stack), then in one reduction.
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, size=(1000, 4))
    leaves = [Tensor(row, requires_grad=True) for row in data]
    weights = rng.uniform(-1, 1, size=(1000, 4))
    terms = [tg.sin(t) * w for t, w in zip(leaves, weights)]
    total = tg.stack(terms, axis=0).sum()
    assert len(total.grad_fn.parents[0].parents) == 1000
    total.backward()
    for t, w in zip(leaves, weights):
        np.testing.assert_allclose(t.grad.data, w * np.cos(t.data), rtol=1e-14)
    assert total.item() == pytest.approx(np.sum(np.sin(data) * weights), rel=1e-12)


def test_1000_wide_fan_out_and_fan_in_through_add() -> None:
    # One leaf feeds 1,000 branches that are summed pairwise (a balanced tree of adds): the
    # leaf's gradient accumulates from every branch, each exactly once.
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    branches = [tg.tanh(x * (k / 1000)) for k in range(1000)]
    while len(branches) > 1:
        branches = [a + b for a, b in zip(branches[::2], branches[1::2])] + (
            [branches[-1]] if len(branches) % 2 else [])
    branches[0].sum().backward()
    ks = np.arange(1000)[:, None] / 1000
    expected = np.sum(ks * (1 - np.tanh(ks * x.data) ** 2), axis=0)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_1000_wide_concatenate_and_indexing_fan_in() -> None:
    x = Tensor(np.linspace(-1, 1, 1000), requires_grad=True)
    pieces = [x[i:i + 1] * (i % 7) for i in range(1000)]  # 1,000 getitem nodes on one leaf
    joined = tg.concatenate(pieces, axis=0)
    (joined ** 2).sum().backward()
    factors = np.arange(1000) % 7
    np.testing.assert_allclose(x.grad.data, 2 * factors ** 2 * x.data, rtol=1e-14)


# --- memory -----------------------------------------------------------------------------------

@pytest.fixture
def traced() -> Iterator[Callable[[], int]]:
    """The bytes currently allocated (tracemalloc sees NumPy buffers), after a full collection."""
    gc.collect()
    tracemalloc.start()

    def current() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    try:
        yield current
    finally:
        tracemalloc.stop()


N = 500_000  # 4 MB per float64 array
STEPS = 14     # 28 operations; their rules read 14 of the arrays (tanh its output, sin its
#                input; not the constant's rule of * 1.0001), which the graph keeps: about 56 MB


def _big_graph(x: Tensor) -> Tensor:
    y = x
    for k in range(STEPS):
        y = tg.sin(y) * 1.0001 if k % 2 else tg.tanh(y) + 0.5
    return y.sum()


def test_backward_releases_saved_intermediates(traced: Callable[[], int]) -> None:
    x = Tensor(np.linspace(-1, 1, N), requires_grad=True)
    base = traced()
    loss = _big_graph(x)
    held = traced() - base
    assert held >= 50 * MB, f"the test graph should hold 50 MB+, holds {held / MB:.1f} MB"
    tracemalloc.reset_peak()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1] - base
    after = traced() - base  # the loss is still referenced; x.grad (4 MB) is new
    grad_bytes = x.grad.data.nbytes
    print(f"\nmemory: graph of {STEPS * 2} ops on {N} float64 holds {held / MB:.1f} MB; peak "
          f"during backward {peak / MB:.1f} MB (buffers are freed node by node); after backward "
          f"{after / MB:.1f} MB (of which x.grad {grad_bytes / MB:.1f} MB)")
    assert peak < held + 4 * grad_bytes, "backward should free each node's buffers as it goes"
    assert after - grad_bytes < 0.02 * held, "saved buffers were not released by backward"
    assert loss.grad_fn is not None and loss.grad_fn.released  # the structure stays
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_retain_graph_keeps_buffers_until_the_last_backward(traced: Callable[[], int]) -> None:
    x = Tensor(np.linspace(-1, 1, N), requires_grad=True)
    base = traced()
    loss = _big_graph(x)
    held = traced() - base
    loss.backward(retain_graph=True)
    kept = traced() - base - x.grad.data.nbytes
    loss.backward()  # the second, final backward frees
    freed = traced() - base - x.grad.data.nbytes
    print(f"\nmemory: retain_graph keeps {kept / MB:.1f} MB of {held / MB:.1f} MB; the last "
          f"backward leaves {freed / MB:.1f} MB")
    assert kept > 0.9 * held
    assert freed < 0.02 * held


def test_dropping_the_output_frees_the_graph_without_backward(traced: Callable[[], int]) -> None:
    x = Tensor(np.linspace(-1, 1, N), requires_grad=True)
    base = traced()
    loss = _big_graph(x)
    node = weakref.ref(loss.grad_fn)
    held = traced() - base
    del loss
    # No reference cycles: freed by reference counting alone, without the cycle collector.
    assert node() is None
    left = traced() - base
    print(f"\nmemory: dropping the output of a {held / MB:.1f} MB graph leaves {left / MB:.2f} MB")
    assert left < 0.02 * held


def test_no_grad_inference_holds_no_graph(traced: Callable[[], int]) -> None:
    x = Tensor(np.linspace(-1, 1, N), requires_grad=True)
    base = traced()
    with tg.no_grad():
        loss = _big_graph(x)
        peak_free = traced() - base
    assert loss.grad_fn is None and not loss.requires_grad
    tracemalloc.reset_peak()
    with tg.no_grad():
        loss = _big_graph(x)
    _, peak = tracemalloc.get_traced_memory()
    print(f"\nmemory: no_grad inference holds {peak_free / MB:.3f} MB after the pass; peak during "
          f"the pass {(peak - base) / MB:.1f} MB (a few temporaries)")
    assert peak_free < 1 * MB  # nothing but the scalar result
    assert peak - base < 5 * (N * 8)  # temporaries are freed as the pass goes


def test_a_graph_holds_buffers_not_tensors() -> None:
    # Intermediate Tensor objects die as soon as the user drops them; only their arrays stay
    # (in the nodes), and those go at backward.
    x = Tensor(np.ones(10), requires_grad=True)
    h = tg.exp(x)
    h_ref = weakref.ref(h)
    buffer_ref = weakref.ref(h.data)
    y = (h * 2).sum()
    del h
    assert h_ref() is None and buffer_ref() is not None
    y.backward()
    gc.collect()
    assert buffer_ref() is None


def test_a_constant_operands_rule_keeps_nothing_alive() -> None:
    """A node saves what the rules of the inputs needing a gradient read: the exponent's rule of
    x ** 2 (it reads x ** 2) and the rule for the 3.0 of y * 3.0 (it reads y) never run."""
    x = Tensor(np.linspace(-1, 1, N), requires_grad=True)
    square = x ** 2
    scaled = square * 3.0
    (square_inputs, square_out), (scaled_inputs, _) = square._node.saved, scaled._node.saved
    assert square_out is None and square_inputs[0] is x.data
    assert scaled_inputs[0] is None
    # both inputs need a gradient: the exponent's rule runs, and reads the result
    both = x ** Tensor(np.full(N, 2.0), requires_grad=True)
    assert both._node.saved[1] is both.data
    scaled.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data, rtol=1e-15)


# --- large gradients broadcast from one number ----------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_sums_gradient_times_a_number_stays_a_broadcast(dtype: type) -> None:
    """A sum hands a broadcast one on; ``3.0 * x`` then gives x a broadcast 3 (no pass over
    memory, no array of its own), and a square's rule skips the product with a broadcast one."""
    from tinygrad_mv.ops import elementwise
    n = 100_000
    x = np.linspace(-1.0, 1.0, n, dtype=dtype)
    one = np.broadcast_to(np.ones((), dtype), (n,))
    for rule, args in ((elementwise.mul.vjps[0], (x, 3.0)), (elementwise.mul.vjps[1], (3.0, x))):
        g = rule(one, None, *args)
        assert g.strides == (0,) and g.dtype == dtype and g.shape == (n,)
        assert np.array_equal(g, one * dtype(3.0))
    local = 2 * x
    assert elementwise._times(one, local) is local
    assert elementwise._times(np.broadcast_to(np.full((), 2, dtype), (n,)), local) is local
    np.testing.assert_array_equal(local, 4 * x)  # a broadcast 2 is multiplied, into local
    t = Tensor(x, requires_grad=True)
    (3.0 * t ** 2).sum().backward()
    assert t.grad.dtype == dtype
    np.testing.assert_array_equal(t.grad.data, dtype(6.0) * x)  # 3 (2 x): 2 is exact


@pytest.mark.parametrize("n", [1, 9, 1_024, 1_025, 5_000, 100_000])
def test_a_sums_gradient_is_a_read_only_view_of_one_number(n: int) -> None:
    """From 1,024 elements: no memory filled, and nothing can write through it into the others
    (a small one is a fresh array)."""
    from tinygrad_mv.ops import reduce
    x = np.linspace(-1.0, 1.0, n).reshape(-1, 1)
    g = reduce._sum_rule(np.array(2.5), None, x)
    assert g.shape == x.shape and np.array_equal(g, np.full(x.shape, 2.5))
    if n > 1_024:
        assert not any(g.strides) and not g.flags.writeable
    else:
        assert g.flags.owndata
    t = Tensor(x, requires_grad=True)
    t.sum().backward()
    assert t.grad.data.flags.writeable and t.grad.data.flags.owndata  # .grad: an array of its own
    t.grad.data[0] = 7.0
    np.testing.assert_array_equal(t.grad.data[1:], 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("number", [1.0, 100.0, -3.5, 0.25, -0.5, 0.0, 1e-310, 8.0e307, 1.7e308,
                                    np.inf, np.nan])
def test_a_squares_rule_on_a_broadcast_number_is_one_pass_with_the_same_bits(
        dtype: type, number: float) -> None:
    """(2 g) x, one product, against g (2 x), two: doubling is exact, so both round once; where
    2 g overflows, the two-product way is taken (g (2 x) may stay finite)."""
    from tinygrad_mv.ops import elementwise
    with np.errstate(all="ignore"):
        number = dtype(number)
        big = np.finfo(dtype).max  # where 2 x overflows
        x = np.concatenate([np.linspace(-3.0, 3.0, 2_001).astype(dtype),
                            np.array([0.0, -0.0, 1e-300, np.inf, -np.inf, np.nan, 1e200, 1e-40],
                                     dtype),
                            np.array([big, -big, big / 1.5, big / 2, big / 3], dtype)])
        g = np.broadcast_to(np.asarray(number, dtype), x.shape)
        got = elementwise._twice_times(g, x)
        want = np.asarray(number, dtype) * (2 * x)
    assert got.dtype == dtype
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_a_sums_gradient_from_a_numpy_scalar_is_a_read_only_view_too() -> None:
    """(x.sum() * 3.0): the product's rule hands the sum a NumPy scalar (0-d arithmetic gives
    one), which becomes a view as a 0-d array does, not n copies; a mean's too."""
    from tinygrad_mv.ops import reduce
    x = np.ones(5_000)
    for g, want in ((reduce._sum_rule(np.float64(3.0), None, x), 3.0),
                    (reduce._mean_rule(np.array(3.0), np.array(1.0), x), 3.0 / 5_000)):
        assert not any(g.strides) and not g.flags.writeable
        assert np.array_equal(g, np.full(5_000, want))
