"""Shape operations and indexing: values equal NumPy's, gradients are the adjoint movement of the
cotangent (checked against central differences and hand-written NumPy)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, backward_grads, check_gradients


def _cotangent(shape: tuple) -> np.ndarray:
    """The cotangent check_gradients uses for an output of ``shape`` (seed 0)."""
    return np.random.default_rng(0).standard_normal(shape)


RESHAPES = [
    ((2, 3, 4), lambda t: t.reshape(6, 4), (6, 4)),
    ((2, 3, 4), lambda t: t.reshape((4, 6)), (4, 6)),
    ((2, 3, 4), lambda t: t.reshape(-1), (24,)),
    ((2, 3, 4), lambda t: tg.reshape(t, (2, -1)), (2, 12)),
    ((6,), lambda t: t.reshape(1, 6, 1), (1, 6, 1)),
    ((), lambda t: t.reshape(1, 1), (1, 1)),
    ((2, 3, 4), lambda t: t.flatten(), (24,)),
    ((3, 2), lambda t: tg.flatten(t), (6,)),
]


@pytest.mark.parametrize("shape, fn, new_shape", RESHAPES)
def test_reshape_and_flatten(shape, fn, new_shape, rng):
    x = rng.standard_normal(shape)
    out, (g,) = check_gradients(fn, x)
    assert_close(out, x.reshape(new_shape), 0, 0)
    assert_close(g, _cotangent(new_shape).reshape(shape), 0, 0)


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)
    with pytest.raises(TypeError, match="reshape"):
        Tensor(np.ones((2, 3))).reshape("six")


TRANSPOSES = [
    ((3, 4), lambda t: t.T, (1, 0)),
    ((3, 4), lambda t: t.transpose(), (1, 0)),
    ((2, 3, 4), lambda t: t.transpose(), (2, 1, 0)),
    ((2, 3, 4), lambda t: t.T, (2, 1, 0)),
    ((2, 3, 4), lambda t: t.transpose(1, 0, 2), (1, 0, 2)),
    ((2, 3, 4), lambda t: t.transpose((2, 0, 1)), (2, 0, 1)),
    ((2, 3, 4), lambda t: t.transpose(-1, 0, 1), (2, 0, 1)),
    ((2, 3, 4), lambda t: tg.transpose(t, (0, 2, 1)), (0, 2, 1)),
    ((5,), lambda t: t.T, (0,)),
]


@pytest.mark.parametrize("shape, fn, axes", TRANSPOSES)
def test_transpose(shape, fn, axes, rng):
    x = rng.standard_normal(shape)
    out, (g,) = check_gradients(fn, x)
    assert_close(out, np.transpose(x, axes), 0, 0)
    # the adjoint of a permutation is the inverse permutation
    assert_close(g, np.transpose(_cotangent(out.shape), np.argsort(axes)), 0, 0)


def test_transpose_refuses_a_non_permutation():
    with pytest.raises(ValueError, match=r"transpose.*\(2, 3, 4\)"):
        Tensor(np.ones((2, 3, 4))).transpose(0, 0, 1)


SQUEEZES = [
    ((1, 3, 1), lambda t: t.squeeze(), (3,)),
    ((1, 3, 1), lambda t: t.squeeze(0), (3, 1)),
    ((1, 3, 1), lambda t: t.squeeze(-1), (1, 3)),
    ((1, 3, 1), lambda t: tg.squeeze(t, (0, 2)), (3,)),
    ((3, 4), lambda t: t.unsqueeze(0), (1, 3, 4)),
    ((3, 4), lambda t: t.unsqueeze(1), (3, 1, 4)),
    ((3, 4), lambda t: t.unsqueeze(-1), (3, 4, 1)),
    ((3, 4), lambda t: tg.unsqueeze(t, -3), (1, 3, 4)),
    ((), lambda t: t.unsqueeze(0), (1,)),
]


@pytest.mark.parametrize("shape, fn, new_shape", SQUEEZES)
def test_squeeze_and_unsqueeze(shape, fn, new_shape, rng):
    x = rng.standard_normal(shape)
    out, (g,) = check_gradients(fn, x)
    assert_close(out, x.reshape(new_shape), 0, 0)
    assert_close(g, _cotangent(new_shape).reshape(shape), 0, 0)


def test_squeeze_of_a_longer_axis_keeps_it_as_pytorch():
    x = Tensor(np.arange(3.0).reshape(1, 3), requires_grad=True)
    assert x.squeeze(1).shape == (1, 3)
    assert x.squeeze((0, 1)).shape == (3,)
    x.squeeze(1).sum().backward()
    assert_close(x.grad.data, np.ones((1, 3)), 0, 0)


def test_axes_of_a_0d_tensor_as_pytorch():
    """A 0-d tensor takes axis 0 or -1 (nothing to reduce); any other axis is refused."""
    s = Tensor(2.0, requires_grad=True)
    for out in (s.sum(axis=0), s.sum(axis=-1), s.mean(axis=(0,)), s.max(axis=0),
                tg.logsumexp(s, 0), s.squeeze(0), s.squeeze(-1)):
        assert out.shape == () and out.item() == 2.0
    assert tg.softmax(s).item() == 1.0 and tg.log_softmax(s, axis=0).item() == 0.0
    (g,) = tg.autograd.grad(s.sum(axis=-1) * 3.0, s)
    assert g.item() == 3.0
    with pytest.raises(IndexError, match="sum: axis 1 is out of range"):
        s.sum(axis=1)


def test_squeeze_and_unsqueeze_errors():
    with pytest.raises(ValueError, match="unsqueeze"):
        Tensor(np.ones((1, 3))).unsqueeze(3)


@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (3,)),
                                           ((1, 3), (2, 2, 3)), ((2, 3), (2, 3))], ids=str)
def test_broadcast_to(shape, target, rng):
    x = rng.standard_normal(shape)
    out, (g,) = check_gradients(lambda t: t.broadcast_to(target), x)
    assert_close(out, np.broadcast_to(x, target), 0, 0)
    # every copy sends its gradient home: sum over the new and the stretched axes
    w = _cotangent(target)
    lead = len(target) - len(shape)
    summed = w.sum(axis=tuple(range(lead))) if lead else w
    for axis, n in enumerate(shape):
        if n == 1:
            summed = summed.sum(axis=axis, keepdims=True)
    assert_close(g, summed.reshape(shape), 1e-14, 1e-14)
    assert_close(tg.broadcast_to(Tensor(x), target), out, 0, 0)


def test_broadcast_to_incompatible_names_both_shapes():
    with pytest.raises(ValueError) as info:
        Tensor(np.ones(3), requires_grad=True).broadcast_to((2, 4))
    assert "broadcast_to" in str(info.value)
    assert "(3,)" in str(info.value) and "(2, 4)" in str(info.value)


# --- indexing -----------------------------------------------------------------------------------
INDEXES = {
    "int": 1,
    "negative int": -1,
    "int pair": (1, 2),
    "slice": slice(1, None),
    "slice with step": (slice(None), slice(None, None, 2)),
    "negative step": (slice(None, None, -1), 0),
    "None": (None, 0),
    "ellipsis": (Ellipsis, 1),
    "mixed basic": (slice(1, None), None, Ellipsis, slice(None, None, 2)),
    "int array": np.array([2, 0]),
    "repeated int array": np.array([0, 0, 2, 0]),
    "int list": [1, 1],
    "2-D int array": np.array([[0, 1], [1, 1]]),
    "int array and slice": (np.array([0, 2, 2]), slice(1, 3)),
    "two int arrays": (np.array([0, 1, 1]), np.array([3, 3, 0])),
    "int array after slice": (slice(None), np.array([1, 1, 0])),
    "negative int array": np.array([-1, 0, -1]),
    "nested list": [[0, 1], [1, 1]],
    "empty selection": np.zeros(3, dtype=bool),
    "bool row mask": np.array([True, False, True]),
    "bool element mask": "positive",  # x[x > 0], built from the data below
    "bool mask and int": (slice(None), np.array([True, False, False, True]), 0),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_indexing(name, rng):
    x = rng.standard_normal((3, 4, 2))
    index = INDEXES[name]
    if isinstance(index, str):
        index = x > 0
    out, (g,) = check_gradients(lambda t: t[index], x)
    assert_close(out, x[index], 0, 0)
    # hand-written adjoint: scatter the cotangent back, adding where positions repeat
    expected = np.zeros_like(x)
    np.add.at(expected, index, _cotangent(out.shape))
    assert_close(g, expected, 1e-15, 0)


def test_repeated_indices_accumulate_counts():
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 0, 3, 1, 3]].sum().backward()
    assert_close(x.grad, [3.0, 1.0, 0.0, 2.0], 0, 0)


def test_tensor_indices_and_comparison_masks():
    x = Tensor([[1.0, -2.0], [-3.0, 4.0]], requires_grad=True)
    picked = x[x > 0]  # a bool Tensor from a comparison
    assert_close(picked, [1.0, 4.0], 0, 0)
    (picked * Tensor([10.0, 20.0])).sum().backward()
    assert_close(x.grad, [[10.0, 0.0], [0.0, 20.0]], 0, 0)
    x.grad = None
    x[Tensor([1, 1])].sum().backward()  # an index Tensor holding whole numbers
    assert_close(x.grad, [[0.0, 0.0], [2.0, 2.0]], 0, 0)


def test_indexing_errors_name_index_and_shape():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(IndexError, match=r"getitem.*\(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match="integers"):
        x[np.array([0.5])]


# --- joining ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2)], 1), ([(2, 3), (2, 2)], -1),
    ([(3,), (2,)], 0), ([(1, 2, 3), (1, 2, 1)], -1), ([(2, 2)], 0),
], ids=str)
def test_concatenate(shapes, axis, rng):
    xs = [rng.standard_normal(s) for s in shapes]
    out, grads = check_gradients(lambda *ts: tg.concatenate(ts, axis=axis), *xs)
    assert_close(out, np.concatenate(xs, axis=axis), 0, 0)
    # each input gets back its own slab of the cotangent
    pieces = np.split(_cotangent(out.shape), np.cumsum([s[axis] for s in shapes])[:-1],
                      axis=axis)
    for g, piece in zip(grads, pieces):
        assert_close(g, piece, 0, 0)


@pytest.mark.parametrize("shape, count, axis", [((3,), 2, 0), ((2, 3), 3, 1), ((2, 3), 2, -1),
                                                ((2, 3), 2, -3), ((), 4, 0)], ids=str)
def test_stack(shape, count, axis, rng):
    xs = [rng.standard_normal(shape) for _ in range(count)]
    out, grads = check_gradients(lambda *ts: tg.stack(ts, axis=axis), *xs)
    assert_close(out, np.stack(xs, axis=axis), 0, 0)
    w = _cotangent(out.shape)
    for i, g in enumerate(grads):
        assert_close(g, np.take(w, i, axis=axis), 0, 0)


def test_joining_mixes_constants_and_tensors(rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((1, 2))
    x = Tensor(a, requires_grad=True)
    for join, n in ((tg.concatenate, 3), (tg.stack, None)):
        x.grad = None
        parts = [x, b, [[1.0, 2.0]]] if n else [x, a, np.zeros((2, 2))]
        out = join(parts, axis=0)
        assert isinstance(out, Tensor)
        assert out.shape == ((4, 2) if n else (3, 2, 2))
        out.backward(np.arange(out.size, dtype=float).reshape(out.shape))
        assert_close(x.grad, np.arange(4.0).reshape(2, 2), 0, 0)


@pytest.mark.parametrize("join", ["concatenate", "stack"])
def test_joining_mismatched_shapes_names_operation_and_shapes(join):
    parts = [Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((2, 4)))]
    with pytest.raises(ValueError) as info:
        getattr(tg, join)(parts, axis=0)
    assert join in str(info.value)
    assert "(2, 3)" in str(info.value) and "(2, 4)" in str(info.value)
    with pytest.raises(ValueError, match=join):
        getattr(tg, join)([], axis=0)


SHAPE_OPS = [
    lambda t: t.reshape(2, 6), lambda t: t.T, lambda t: t.transpose(1, 0, 2),
    lambda t: t.flatten(), lambda t: t.unsqueeze(1).squeeze(1),
    lambda t: t.broadcast_to((2, 3, 2, 2)), lambda t: t[1:, None, [0, 0]], lambda t: t[t > 0],
    lambda t: tg.concatenate([t, t], axis=1), lambda t: tg.stack([t, t], axis=-1),
]


@pytest.mark.parametrize("k", range(len(SHAPE_OPS)))
def test_float32_stays_float32(k, rng):
    x = rng.standard_normal((3, 2, 2))
    out, (g,) = backward_grads(SHAPE_OPS[k], x, dtype=np.float32)
    assert out.dtype == np.float32 and g.dtype == np.float32
    out64, (g64,) = backward_grads(SHAPE_OPS[k], x)
    assert out64.dtype == np.float64 and g64.dtype == np.float64
    assert_close(g, g64, 0, 0)  # moving and adding ones is exact in either precision


def test_concatenate_with_axis_none_joins_the_flattened_tensors_as_numpy(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    out, (ga, gb) = check_gradients(lambda s, t: tg.concatenate([s, t], axis=None), a, b)
    assert_close(out, np.concatenate([a, b], axis=None), 0, 0)
    cot = _cotangent((10,))
    assert_close(ga, cot[:6].reshape(2, 3), 0, 0)
    assert_close(gb, cot[6:], 0, 0)
    with pytest.raises(TypeError, match="stack: axis must be an int"):
        tg.stack([Tensor(a), Tensor(a)], axis=None)


def test_transpose_0_1_on_a_matrix_is_refused_pointing_to_T():
    W = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for axes in [(0, 1), (0, -1), (-2, 1)]:
        with pytest.raises(ValueError, match=r"\.T"):
            W.transpose(*axes)
    np.testing.assert_array_equal(W.transpose(1, 0).data, W.data.T)  # a swap in both readings
    np.testing.assert_array_equal(W.transpose().data, W.data.T)
    np.testing.assert_array_equal(W.transpose((0, 1)).data, W.data)  # NumPy's tuple form
    square = Tensor(np.arange(4.0).reshape(2, 2))
    with pytest.raises(ValueError, match="ambiguous"):
        square.transpose(0, 1)  # nothing would show on a square matrix
