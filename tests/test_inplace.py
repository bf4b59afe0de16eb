"""In-place operations: what they write, what they refuse, and the version checks that keep
backward from reading overwritten values. (PyTorch comparisons: test_inplace_torch.py.)"""
from __future__ import annotations

import functools
import operator

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, rules, versions

from conftest import assert_close, fd_grads

IN_PLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "**=": operator.ipow,
}
OUT_OF_PLACE = {
    "+=": operator.add, "-=": operator.sub, "*=": operator.mul, "/=": operator.truediv,
    "**=": operator.pow,
}


def _setitem(t, value, index=(0, slice(1, None))):
    t[index] = value
    return t


# --- the write itself ---------------------------------------------------------------------------
@pytest.mark.parametrize("symbol", list(IN_PLACE))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_operators_write_into_the_same_array_keeping_dtype_and_shape(symbol, dtype, rng):
    start = rng.uniform(0.5, 2.0, (2, 3)).astype(dtype)
    value = rng.uniform(0.5, 2.0, 3)  # float64, broadcast along the first axis
    t = Tensor(start)
    data = t.data
    held = t
    t = IN_PLACE[symbol](t, value)
    assert t is held and t.data is data
    assert t.dtype == dtype and t.shape == (2, 3)
    expected = OUT_OF_PLACE[symbol](start.astype(np.float64), value).astype(dtype)
    np.testing.assert_allclose(data, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("index, value", [
    (0, 5.0), ((1, slice(None, 2)), [7.0, 8.0]), (np.array([1, 0]), 3.0),
    (np.array([[True, False, True], [False, False, True]]), -1.0), (Ellipsis, 0.0),
])
def test_setitem_writes_like_numpy(index, value, rng):
    start = rng.standard_normal((2, 3))
    t = Tensor(start)
    data = t.data
    t[index] = value
    expected = start.copy()
    expected[index] = value
    assert t.data is data
    np.testing.assert_array_equal(t.data, expected)


def test_setitem_takes_tensor_indices_and_values(rng):
    t = Tensor(np.zeros(4))
    t[Tensor(np.array([1, 3]), dtype=np.int64)] = Tensor([2.0, 5.0])
    np.testing.assert_array_equal(t.data, [0, 2, 0, 5])


@pytest.mark.parametrize("symbol", list(IN_PLACE))
def test_a_value_that_does_not_broadcast_raises_and_writes_nothing(symbol, rng):
    start = rng.uniform(0.5, 2.0, (2, 3))
    for t in (Tensor(start), Tensor(start, requires_grad=True) * 1.0):
        before = t.data.copy()
        with pytest.raises(ValueError, match=r"\(2, 3\)") as info:
            IN_PLACE[symbol](t, np.ones((2, 2)))
        assert "(2, 2)" in str(info.value)
        np.testing.assert_array_equal(t.data, before)
    t = Tensor(start)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        IN_PLACE[symbol](t, np.ones((3, 2, 3)).sum(0).reshape(-1)[:4])  # a (4,) value
    np.testing.assert_array_equal(t.data, start)


@pytest.mark.parametrize("requires_grad", [False, True])
def test_setitem_value_of_the_wrong_shape_raises_and_writes_nothing(requires_grad, rng):
    start = rng.standard_normal((2, 3))
    t = Tensor(start, requires_grad=requires_grad) * 1.0 if requires_grad else Tensor(start)
    before = t.data.copy()
    with pytest.raises(ValueError, match="setitem"):
        t[0] = np.ones(2)
    with pytest.raises(IndexError, match="setitem"):
        t[5] = 1.0
    np.testing.assert_array_equal(t.data, before)


def test_integer_tensor_divided_in_place_is_refused_naming_the_dtypes():
    t = Tensor(np.arange(3), dtype=np.int64)
    with pytest.raises(TypeError, match="int64") as info:
        t /= 2
    assert isinstance(info.value, RuntimeError)  # also PyTorch's error type
    np.testing.assert_array_equal(t.data, [0, 1, 2])
    t += 2
    np.testing.assert_array_equal(t.data, [2, 3, 4])


def test_read_only_views_are_refused():
    t = Tensor([1.0, 2.0]).broadcast_to((3, 2))
    with pytest.raises(RuntimeError, match="read-only"):
        t += 1
    with pytest.raises(RuntimeError, match="read-only"):
        t[0] = 0.0


# --- the three rules ----------------------------------------------------------------------------
@pytest.mark.parametrize("form", [*IN_PLACE, "[]="])
def test_a_leaf_that_requires_grad_is_refused_outside_no_grad(form, rng):
    w = Tensor(rng.uniform(0.5, 2.0, 3), requires_grad=True)
    before = w.data.copy()
    write = _setitem if form == "[]=" else IN_PLACE[form]
    with pytest.raises(RuntimeError, match="no_grad"):
        write(w, 2.0) if form != "[]=" else w.__setitem__(0, 2.0)
    np.testing.assert_array_equal(w.data, before)
    assert w.is_leaf and w.grad_fn is None
    with tg.no_grad():  # the same write is a plain one there
        write(w, 2.0) if form != "[]=" else w.__setitem__(0, 2.0)
    assert w.is_leaf and w.requires_grad
    assert not np.array_equal(w.data, before)


def test_the_manual_update_idiom_updates_the_model(rng):
    model = tg.nn.Linear(3, 2, rng=0)
    x = Tensor(rng.standard_normal((5, 3)))
    held = [p.data for p in model.parameters()]
    before = [h.copy() for h in held]
    loss = (model(x) ** 2).mean()
    loss.backward()
    grads = [p.grad.data.copy() for p in model.parameters()]
    with tg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    for p, h, b, g in zip(model.parameters(), held, before, grads):
        assert p.data is h and p.is_leaf
        np.testing.assert_allclose(h, b - 0.1 * g, rtol=1e-15)


def test_a_write_on_a_tensor_outside_any_graph_is_plain_even_with_grad_enabled():
    t = tg.zeros(3)
    t += Tensor([1.0, 2.0, 3.0])
    assert t.is_leaf and not t.requires_grad


def test_a_recorded_write_gives_the_out_of_place_gradient(rng):
    a0, b0 = rng.standard_normal((2, 3)), rng.standard_normal(3)

    def in_place(a, b):
        h = a * 1.0
        h *= b
        h += a
        h[1, ::2] = b[:2] ** 2
        h /= 2.0 + b * b
        h **= 2
        return h.sum()

    def out_of_place(a, b):
        h = (a * b + a)
        mask = np.zeros((2, 3), dtype=bool)
        mask[1, ::2] = True
        h = tg.where(mask, tg.concatenate([b[:1], b[:1], b[1:2]]) ** 2, h)
        return ((h / (2.0 + b * b)) ** 2).sum()

    a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    loss = in_place(a, b)
    loss.backward()
    a2, b2 = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    reference = out_of_place(a2, b2)
    reference.backward()
    assert_close(loss.data, reference.data, rtol=1e-13, atol=0)
    assert_close(a.grad.data, a2.grad.data, rtol=1e-12, atol=1e-14)
    assert_close(b.grad.data, b2.grad.data, rtol=1e-12, atol=1e-14)
    expected = fd_grads(lambda x, y: in_place(Tensor(x), Tensor(y)).data, [a0, b0])
    assert_close(a.grad.data, expected[0])
    assert_close(b.grad.data, expected[1])


def test_a_tensor_without_grad_written_with_one_that_requires_grad_joins_the_graph(rng):
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    out = tg.zeros(3)
    out[0] = x[1] * 2.0
    out[1:] = x[:2] ** 2
    assert out.requires_grad and not out.is_leaf and out.grad_fn.op == "setitem"
    out.sum().backward()
    expected = np.array([2 * x.data[0], 2.0 + 2 * x.data[1], 0.0])
    assert_close(x.grad.data, expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("symbol", ["+=", "-=", "*=", "/="])
def test_a_float32_tensor_written_with_float64_keeps_float32_when_recorded(symbol, rng):
    # The float64 result of the recorded operation is cast back to the tensor's float32.
    x = Tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    y = Tensor(rng.uniform(1, 2, 3), requires_grad=True)
    h = x * 1.0
    h_data = h.data
    h = IN_PLACE[symbol](h, y)
    assert h.data is h_data and h.dtype == np.float32
    expected = OUT_OF_PLACE[symbol](x.data.astype(np.float64), y.data)
    assert_close(h.data, expected.astype(np.float32))
    h.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    slope = {"+=": 1.0, "-=": 1.0, "*=": y.data, "/=": 1 / y.data}[symbol]
    assert_close(x.grad.data, np.broadcast_to(slope, 3).astype(np.float32), rtol=1e-6)


def test_setitem_with_repeated_indices_gives_the_gradient_to_the_value_written_last(rng):
    x = Tensor(rng.standard_normal(4), requires_grad=True)
    h = tg.zeros(3)
    h[np.array([0, 2, 2, 1])] = x
    np.testing.assert_array_equal(h.data, x.data[[0, 3, 2]])
    (h * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 3.0, 2.0])


def test_second_derivatives_flow_through_recorded_writes(rng):
    x0 = rng.standard_normal(3)

    def f(x):
        h = x * 1.0
        h *= x
        h[0] = x[0] ** 3
        return h.sum()

    x = Tensor(x0, requires_grad=True)
    (g,) = tg.autograd.grad(f(x), x, create_graph=True)
    (gg,) = tg.autograd.grad(g.sum(), x)
    expected = np.array([6 * x0[0], 2.0, 2.0])
    assert_close(gg.data, expected, rtol=1e-14, atol=0)


def test_a_recorded_write_on_a_view_is_refused():
    h = Tensor([1.0, 2.0, 3.0], requires_grad=True) * 1.0
    view = h[1:]
    with pytest.raises(RuntimeError, match="view"):
        view *= 2.0
    np.testing.assert_array_equal(h.data, [1.0, 2.0, 3.0])


# --- version checks -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["exp", "sigmoid", "sqrt", "tanh"])
@pytest.mark.parametrize("how", ["no_grad", "recorded", "detach"])
def test_backward_refuses_an_output_its_rule_reads_once_changed(name, how, rng):
    x = Tensor(rng.uniform(0.5, 2.0, 3), requires_grad=True)
    y = getattr(tg, name)(x)
    if how == "no_grad":
        with tg.no_grad():
            y += 1.0
    elif how == "recorded":
        y += 1.0
    else:
        d = y.detach()
        d[0] = 0.0
    with pytest.raises(RuntimeError, match=f"'{name}'.*in place"):
        y.sum().backward()
    assert x.grad is None


def test_backward_refuses_a_saved_input_changed_by_an_optimizer_step(rng):
    w = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = (w @ x).sum()
    loss.backward(retain_graph=True)
    tg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="'matmul'.*input 0"):
        loss.backward()


def test_writes_no_rule_reads_do_not_raise(rng):
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    c = Tensor(rng.standard_normal(3))
    y = x * 2.0       # mul's rule for x reads only the 2.0
    z = y + c         # add's rules read nothing
    with tg.no_grad():
        y += 1.0
        c *= 3.0
        unrelated = Tensor(np.ones(3))
        unrelated += 1
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    s = x.sum()       # sum's rule reads only x's shape
    with tg.no_grad():
        x -= 1.0
    x.grad = None
    s.backward()
    np.testing.assert_array_equal(x.grad.data, np.ones(3))


def test_a_write_after_backward_is_fine_and_a_new_graph_sees_the_new_values(rng):
    x = Tensor(rng.uniform(0.5, 2.0, 3), requires_grad=True)
    tg.exp(x).sum().backward()
    with tg.no_grad():
        x -= x.grad * 0.1
    x.grad = None
    tg.exp(x).sum().backward()
    assert_close(x.grad.data, np.exp(x.data), rtol=1e-15, atol=0)


def test_detect_anomaly_says_where_the_stale_operation_was_created(rng):
    x = Tensor(rng.standard_normal(3), requires_grad=True)
    with tg.detect_anomaly():
        y = x.sigmoid()  # the line the message must point at
    with tg.no_grad():
        y *= 2.0
    with pytest.raises(RuntimeError, match="created at") as info:
        y.sum().backward()
    assert "test_detect_anomaly_says_where" in str(info.value)


def test_a_view_of_a_changed_tensor_is_not_differentiated_with_a_stale_graph(rng):
    h = Tensor(rng.standard_normal(4), requires_grad=True) * 1.0
    first = h[:2]          # a view of h's memory
    h *= 3.0               # recorded on h; first's graph still says h before the write
    with pytest.raises(RuntimeError, match="'getitem'"):
        (first * first).sum().backward()


def test_a_view_taken_among_thousands_of_dead_ones_is_still_found_stale(rng):
    """The list of recorded views drops dead ones as it grows; the live ones stay in it."""
    h = Tensor(rng.standard_normal(4), requires_grad=True) * 1.0
    first = h[:2]
    for _ in range(5_000):  # views that die at once
        (h[1:] * 1.0).sum()
    assert len(versions._views) < 5_000
    h *= 3.0
    with pytest.raises(RuntimeError, match="'getitem'"):
        (first * first).sum().backward()
    assert any(view is first for view in versions.views_of(h.data))


def test_the_version_check_reads_rules_precisely():
    assert rules.rule_reads(lambda g, out, x, y: g * y, 2) == (False, False, True)
    assert rules.rule_reads(lambda g, out, x: g * out, 1) == (True, False)
    assert rules.rule_reads(lambda g, out, x: g.reshape(x.shape), 1) == (False, False)
    assert rules.rule_uses(lambda g, out, x: g.reshape(x.shape), 1) == (rules.UNUSED, rules.META)

    def variadic(i, g, out, *xs, axis):
        return g * xs[i]

    assert rules.rule_reads(functools.partial(variadic, 0), 2) == (False, True, True)
    assert rules.rule_reads(np.negative, 1) == (True, True)  # unreadable: everything


def test_the_version_log_forgets_arrays_that_are_gone():
    t = Tensor(np.ones(3))
    t += 1
    key = id(t.data)
    assert key in versions._writes
    del t
    assert key not in versions._writes


def test_a_deep_graph_with_a_write_in_the_middle_backpropagates(rng):
    x = Tensor(rng.standard_normal(2), requires_grad=True)
    h = x
    for k in range(20_000):
        h = h * 1.0001 if k % 2 else h + 0.001
    unrelated = Tensor(np.zeros(2))
    unrelated += 1  # a write: every node is now older than the last write
    h.sum().backward()
    assert_close(x.grad.data, np.full(2, 1.0001 ** 10_000), rtol=1e-10, atol=0)


# --- optimizers, jit, pictures ------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda ps: tg.optim.SGD(ps, lr=0.1),
    lambda ps: tg.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: tg.optim.Adam(ps, lr=0.1),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_optimizers_update_each_parameter_in_place(make, dtype, rng):
    w = Tensor(rng.standard_normal(3).astype(dtype), requires_grad=True)
    held = w.data
    opt = make([w])
    for _ in range(3):
        opt.zero_grad()
        before = held.copy()
        ((w - 1.0) ** 2).sum().backward()
        opt.step()
        assert w.data is held and held.dtype == dtype
        assert not np.array_equal(held, before)


def test_newton_updates_in_place(rng):
    w = Tensor(rng.standard_normal(2), requires_grad=True)
    held = w.data
    tg.optim.Newton([w]).step(lambda: ((w - 3.0) ** 2).sum())
    assert w.data is held
    assert_close(held, np.full(2, 3.0), rtol=1e-12, atol=1e-12)


def test_load_state_dict_writes_into_the_parameters(rng):
    model = tg.nn.Linear(2, 2, rng=0)
    held = model.weight.data
    other = tg.nn.Linear(2, 2, rng=1)
    model.load_state_dict(other.state_dict())
    assert model.weight.data is held
    np.testing.assert_array_equal(held, other.weight.data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_data_minus_equals_a_tensor_keeps_data_an_array(dtype):
    # PyTorch's `p.data -= lr * p.grad`: the ndarray's -= with a Tensor operand (NumPy's out=)
    # once made p.data a Tensor, and optimizers, state_dict and np.asarray failed later.
    model = tg.nn.Linear(2, 1, rng=0, dtype=dtype)
    held = model.weight.data
    before = held.copy()
    tg.nn.MSELoss()(model(np.ones((3, 2), dtype)), np.zeros((3, 1), dtype)).backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    assert model.weight.data is held and type(model.bias.data) is np.ndarray
    np.testing.assert_array_equal(held, before - dtype(0.1) * model.weight.grad.data)
    assert type(np.multiply(np.ones(2), Tensor([1.0, 2.0]), out=np.empty(2))) is np.ndarray
    tg.optim.SGD(model.parameters(), lr=0.1).step()
    assert model.state_dict()["weight"].dtype == dtype


def test_numpy_writing_into_a_tensor_is_versioned_or_refused():
    x = Tensor([1.0, 2.0])  # no grad, but saved by the mul below for w's gradient
    w = Tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()
    assert np.multiply(x, 5.0, out=x) is x
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    y = (w * x).sum()
    np.add.at(x, 0, 1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"np\.multiply.*requires grad"):
        np.multiply(x, 2.0, out=w)
    with tg.no_grad():
        np.multiply(x, 2.0, out=w)
    np.testing.assert_array_equal(w.data, [12.0, 20.0])


@pytest.mark.parametrize("form", ["+=", "[]="])
def test_jit_refuses_an_in_place_write_naming_it(form):
    def f(x):
        h = x * 2.0
        if form == "+=":
            h += 1.0
        else:
            h[0] = 1.0
        return h.sum()

    with pytest.raises(tg.JitError, match="in-place") as info:
        tg.jit(f)(np.ones(3))
    assert ("add_" if form == "+=" else "setitem") in str(info.value)


def test_jit_replays_see_parameters_updated_in_place(rng):
    w = Tensor(rng.standard_normal(3), requires_grad=True)
    x = rng.standard_normal(3)
    value_and_grad = tg.jit(tg.value_and_grad(lambda w: (tg.exp(w) * x).sum()))
    for _ in range(3):
        value, grad = value_and_grad(w)
        assert_close(value.data, (np.exp(w.data) * x).sum(), rtol=1e-14, atol=0)
        assert_close(grad.data, np.exp(w.data) * x, rtol=1e-14, atol=0)
        with tg.no_grad():
            w -= 0.1 * grad


def test_graph_pictures_show_in_place_writes_and_not_stale_values():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = x * 3.0
    h += 1.0
    text = tg.graph_text(h)
    assert "add_" in text and "mul" in text
    mul_line = next(line for line in text.splitlines() if "mul" in line)
    assert "4, 7" not in mul_line and "value freed" in mul_line  # overwritten: not shown
    dot = tg.draw_graph(h).source
    assert "add_" in dot
