"""The engine's semantics: accumulation, retain_graph, release, hooks, grad modes, deep graphs."""
import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor


def test_chain_rule_by_hand():
    x = Tensor(3.0, requires_grad=True)
    y = Tensor(2.0, requires_grad=True)
    f = tg.sin(x * y)
    f.backward()
    assert x.grad.item() == pytest.approx(2 * np.cos(6.0), rel=1e-14)
    assert y.grad.item() == pytest.approx(3 * np.cos(6.0), rel=1e-14)


def test_reused_tensor_gradients_add():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x  # x used three times
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 1)


def test_gradients_accumulate_and_clear():
    x = Tensor([1.0, -2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_leaf_gradients_are_not_aliased():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0


def _op_whose_rule_returns(make_grad):
    return tg.primitive("returns_given", lambda x: x * 2.0, lambda g, out, x: make_grad(g))


def test_a_gradient_a_rule_keeps_elsewhere_is_copied_into_grad():
    kept = np.array([5.0, 6.0])
    op = _op_whose_rule_returns(lambda g: kept)
    x = Tensor([1.0, 2.0], requires_grad=True)
    op(x).sum().backward()
    x.grad.data[0] = 100.0
    assert kept[0] == 5.0


def test_a_rules_fresh_gradient_becomes_grad_without_a_copy():
    made = []

    def fresh(g):
        result = g * np.array([1.0, 1.0])
        made.append(weakref.ref(result))  # a weak reference: nothing else holds the array
        return result
    x = Tensor([1.0, 2.0], requires_grad=True)
    _op_whose_rule_returns(fresh)(x).sum().backward()
    assert x.grad.data is made[0]()


def test_a_read_only_gradient_is_copied_into_a_writeable_grad():
    def read_only(g):
        result = g * np.array([1.0, 1.0])
        result.flags.writeable = False
        return result
    x = Tensor([1.0, 2.0], requires_grad=True)
    _op_whose_rule_returns(read_only)(x).sum().backward()
    x.grad.data[0] = 3.0
    np.testing.assert_array_equal(x.grad.data, [3.0, 1.0])


def test_a_leaf_hook_that_removes_itself_keeps_its_own_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def once(g):
        seen.append(g)
        remove()
    remove = x.register_hook(once)
    (x * 2.0 + x * 3.0).sum().backward()  # two contributions: a buffer the pass allocated
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(seen[0].data, [5.0, 5.0])


def test_create_graph_grads_are_copies_of_their_own():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    ((a + b) * 2.0).sum().backward(create_graph=True)  # add hands one gradient to both
    assert a.grad is not b.grad
    a.grad.data[0] = 100.0
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0])
    seed = Tensor([5.0, 6.0])
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x + 0.0).backward(gradient=seed, create_graph=True)
    x.grad.data[0] = 100.0
    np.testing.assert_array_equal(seed.data, [5.0, 6.0])
    y = Tensor([2.0], requires_grad=True)
    (y ** 3).sum().backward(create_graph=True)
    y.grad.sum().backward()
    np.testing.assert_array_equal(y.grad.data, [12.0 + 12.0])  # 3 y^2, then + 6 y: still a graph


def test_broadcast_gradient_is_summed_back():
    a = Tensor(np.ones((3, 1)), requires_grad=True)
    b = Tensor(np.arange(4.0), requires_grad=True)
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 6.0))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 3.0))


def test_broadcast_gradients_of_many_shapes_are_summed_back():
    """The engine remembers the axes per pair of shapes; shapes that keep changing neither grow
    that memory without bound nor get another pair's axes."""
    from tinygrad_mv import engine
    rng = np.random.default_rng(3)
    for n in range(1, 1_300):
        shape = (n % 7 + 1, 1) if n % 2 else (1, n % 5 + 1)
        a = Tensor(np.ones(shape), requires_grad=True)
        b = Tensor(rng.standard_normal((n % 3 + 1, 1, n % 7 + 1, n % 5 + 1)))
        (a * b).sum().backward()
        full = np.broadcast_to(b.data, np.broadcast_shapes(shape, b.shape))
        want = np.zeros(shape)
        for index in np.ndindex(full.shape):  # each product's slope, added at a's element
            want[tuple(i if m > 1 else 0 for i, m in zip(index[-2:], shape))] += full[index]
        np.testing.assert_allclose(a.grad.data, want, rtol=1e-13)
        assert len(engine._SUM_AXES) <= 1_024


def test_non_scalar_backward_needs_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="gradient"):
        (x * 2).backward()
    (x * 2).backward(gradient=[1.0, 10.0])
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(gradient=[1.0, 2.0, 3.0])


def test_second_backward_needs_retain_graph():
    x = Tensor(2.0, requires_grad=True)
    y = tg.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = tg.exp(x) * x
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.item() == pytest.approx(np.exp(2.0) * 3 * 3)


def test_saved_buffers_are_released_but_structure_stays():
    x = Tensor(np.ones(1000), requires_grad=True)
    h = x * 2.0
    ref = weakref.ref(h.data)
    y = (h.sin()).sum()
    del h
    gc.collect()
    assert ref() is not None  # kept by the graph before backward: sin's rule reads it
    y.backward()
    gc.collect()
    assert ref() is None  # released after backward, y still referenced
    assert y.grad_fn.op == "sum" and y.grad_fn.parents[0].op == "sin"
    assert y.grad_fn.released


@pytest.mark.parametrize("n, kept", [(100_000, False), (1000, True)])
def test_large_values_no_rule_reads_are_not_kept_until_backward(n, kept):
    x = Tensor(np.ones(n), requires_grad=True)
    h = x * 2.0        # exp's rule reads its output, not its input
    e = h.exp()
    sum_input = weakref.ref(e.data)
    h_data = weakref.ref(h.data)
    y = (e + 1.0).sum()  # add's and sum's rules read no values
    del h, e
    gc.collect()
    assert (h_data() is not None) == kept  # small ones stay, for the pictures
    assert sum_input() is not None  # e's value: saved by exp for its rule
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2.0), rtol=1e-15)


def test_retain_grad_and_non_leaf_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * k).sum().backward()
    np.testing.assert_array_equal(h.grad.data, k.data)
    assert k.grad is None
    assert not h.is_leaf and x.is_leaf


def test_hooks_see_and_replace_gradients():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    h.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: seen.append(g.data.copy()))
    h.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(seen[1], [30.0, 30.0])
    np.testing.assert_array_equal(x.grad.data, [30.0, 30.0])


def test_no_grad_and_detach_record_nothing():
    x = Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = x.detach() * 2
    assert not z.requires_grad
    assert x.detach().data is x.data

    @tg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_is_per_thread():
    x = Tensor([1.0], requires_grad=True)
    inside = threading.Event()
    release = threading.Event()
    results = {}

    def other():
        with tg.no_grad():
            inside.set()
            release.wait(5)
            results["other"] = (x * 2).requires_grad

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    results["main"] = (x * 2).requires_grad
    release.set()
    t.join()
    assert results == {"main": True, "other": False}


def test_deep_chain_does_not_recurse():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_autograd_grad_does_not_touch_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    y = (h * h).sum()
    gx, gh = tg.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gx.data, 2 * h.data * w.data)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    assert x.grad is None and w.grad is None
    u = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd.grad((x * 2).sum(), [x, u])
    gx, gu = tg.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    assert gu is None


@pytest.mark.parametrize("order_fn", [
    (lambda x: x ** 4, [4 * 8.0, 12 * 4.0, 24 * 2.0]),
    (lambda x: tg.exp(2 * x), [2 * np.exp(4.0), 4 * np.exp(4.0), 8 * np.exp(4.0)]),
    (lambda x: tg.sin(x), [np.cos(2.0), -np.sin(2.0), -np.cos(2.0)]),
    (lambda x: tg.sigmoid(x) * tg.log(x), None),
])
def test_higher_order_derivatives(order_fn):
    fn, expected = order_fn
    x = Tensor(2.0, requires_grad=True)
    y = fn(x)
    derivs = []
    for k in range(3):
        (y,) = tg.autograd.grad(y, x, create_graph=k < 2)
        derivs.append(y.item())
    if expected is None:  # third derivative by central differences of the second
        def second(v):
            t = Tensor(v, requires_grad=True)
            (g,) = tg.autograd.grad(fn(t), t, create_graph=True)
            (h,) = tg.autograd.grad(g, t)
            return h.item()
        expected = [None, None, (second(2.0 + 1e-5) - second(2.0 - 1e-5)) / 2e-5]
        assert derivs[2] == pytest.approx(expected[2], rel=1e-6)
    else:
        np.testing.assert_allclose(derivs, expected, rtol=1e-12)


def test_requires_grad_refused_for_integer_dtype():
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)
    t = Tensor([1, 2], dtype=np.int64)
    assert t.dtype == np.int64
    with pytest.raises(TypeError):
        t.requires_grad = True


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_leaf_frozen_after_recording_gets_no_grad_as_in_pytorch(create_graph):
    # Freezing part of a model between the forward pass and backward: PyTorch writes no .grad
    # for it, so an optimizer leaves it alone. It used to be filled, and then updated.
    w = tg.nn.Parameter(np.ones(3))
    v = tg.nn.Parameter(np.full(3, 2.0))
    loss = (w * v).sum()
    w.requires_grad = False
    loss.backward(create_graph=create_graph)
    assert w.grad is None
    np.testing.assert_array_equal(v.grad.data, np.ones(3))
    opt = tg.optim.SGD([w, v], lr=0.5)
    opt.step()
    np.testing.assert_array_equal(w.data, np.ones(3))


def test_backward_of_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(1.0).backward()


def test_detect_anomaly_names_the_operation():
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = tg.sqrt(x).sum()  # d sqrt / dx at 0 is infinite
    with tg.detect_anomaly():
        with pytest.raises(FloatingPointError, match="sqrt"):
            y.backward()
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match="log"):
            tg.log(Tensor([0.0, 1.0], requires_grad=True))


def test_outputs_given_twice_add_their_seeds():
    x = Tensor(1.0, requires_grad=True)
    (gx,) = tg.autograd.grad([x, x], [x])  # a leaf as both outputs
    assert gx.item() == 2.0
    (gy,) = tg.autograd.grad([x * 3, x * 3], [x])
    assert gy.item() == 6.0


def test_an_assigned_grad_of_another_shape_is_refused_not_broadcast():
    """A .grad set by hand to a Tensor of another shape was broadcast into a gradient of the
    wrong shape at the next backward (PyTorch refuses such a .grad)."""
    x = Tensor(2.0, requires_grad=True)
    x.grad = Tensor([5.0, 1.0])
    with pytest.raises(RuntimeError, match=r"\.grad.*shape \(2,\).*shape \(\)"):
        (x * x).backward()
    x.grad = np.ones(())  # not a Tensor
    with pytest.raises(RuntimeError, match="ndarray"):
        (x * x).backward()
    x.grad = Tensor(1.0)  # one that fits still accumulates
    (x * x).backward()
    assert x.grad.item() == 5.0
