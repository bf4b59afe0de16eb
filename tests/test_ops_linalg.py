"""Matrix products: matmul (1-D, 2-D, batched N-D), dot, outer and the fused linear layer."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, backward_grads, check_gradients, unbroadcast

MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((5, 2, 3), (3,)),
    ((3,), (5, 3, 2)),
    ((2, 2, 3), (2, 3, 1)),
]


def _matmul_grads_by_hand(a: np.ndarray, b: np.ndarray, g: np.ndarray):
    """dA = G B^T and dB = A^T G on operands promoted to matrices the way NumPy does (a 1-D
    left operand becomes a row, a 1-D right one a column), batch axes summed back."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g[..., None] if b.ndim == 1 else g  # the column axis first, then the row axis
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    da = g2 @ np.swapaxes(b2, -1, -2)
    db = np.swapaxes(a2, -1, -2) @ g2
    da = unbroadcast(da, a2.shape).reshape(a.shape)
    db = unbroadcast(db, b2.shape).reshape(b.shape)
    return da, db


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    out, (ga, gb) = check_gradients(lambda x, y: x @ y, a, b)
    assert_close(out, a @ b, 1e-14, 1e-14)
    da, db = _matmul_grads_by_hand(a, b, np.random.default_rng(0).standard_normal(out.shape))
    assert_close(ga, da, 1e-13, 1e-13, what="G @ B^T")
    assert_close(gb, db, 1e-13, 1e-13, what="A^T @ G")
    assert_close(tg.matmul(Tensor(a), Tensor(b)), out, 0, 0)


def test_matmul_2d_gradients_are_g_bt_and_at_g(rng):
    a, b, g = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    _, (ga, gb) = backward_grads(lambda x, y: x @ y, a, b, cotangent=g)
    assert_close(ga, g @ b.T, 1e-14, 1e-14)
    assert_close(gb, a.T @ g, 1e-14, 1e-14)


def test_matmul_operand_kinds_in_both_orders(rng):
    a, b, w = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    for left, right in [("tensor", "ndarray"), ("ndarray", "tensor"), ("list", "tensor"),
                        ("tensor", "list"), ("ndarray", "function")]:
        x = Tensor(a, requires_grad=True)
        y = Tensor(b, requires_grad=True)
        if right == "function":
            out = tg.matmul(a, y)
        else:
            lhs = {"tensor": x, "ndarray": a, "list": a.tolist()}[left]
            rhs = {"tensor": y, "ndarray": b, "list": b.tolist()}[right]
            out = lhs @ rhs
        assert isinstance(out, Tensor), (left, right)
        assert_close(out, a @ b, 1e-14, 1e-14)
        out.backward(w)
        if "tensor" == left:
            assert_close(x.grad, w @ b.T, 1e-14, 1e-14)
        else:
            assert x.grad is None
            assert_close(y.grad, a.T @ w, 1e-14, 1e-14)


@pytest.mark.parametrize("shapes", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                    ((2, 2, 3), (3, 3, 1))], ids=str)
def test_matmul_shape_mismatch_names_both_shapes(shapes):
    a = Tensor(np.ones(shapes[0]), requires_grad=True)
    with pytest.raises(ValueError) as info:
        a @ np.ones(shapes[1])
    message = str(info.value)
    assert "matmul" in message
    assert str(shapes[0]) in message and str(shapes[1]) in message


def test_matmul_refuses_scalars():
    with pytest.raises(ValueError, match=r"matmul.*\(\).*\(3,\)"):
        tg.matmul(Tensor(2.0), Tensor(np.ones(3)))


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)),
                                    ((2, 3), (3, 4)), ((), (3,)), ((2, 2), ())], ids=str)
def test_dot(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    out, (ga, gb) = check_gradients(tg.dot, a, b)
    assert_close(out, np.dot(a, b), 1e-14, 1e-14)
    w = np.random.default_rng(0).standard_normal(out.shape)
    if a.ndim and b.ndim:
        da, db = _matmul_grads_by_hand(a, b, w)
    else:  # a scalar operand multiplies
        da, db = unbroadcast(w * b, a.shape), unbroadcast(w * a, b.shape)
    assert_close(ga, da, 1e-13, 1e-13)
    assert_close(gb, db, 1e-13, 1e-13)
    assert_close(Tensor(a).dot(b), out, 0, 0)


def test_dot_refuses_more_than_two_dimensions():
    with pytest.raises(ValueError, match=r"dot.*\(2, 2, 2\).*\(2,\)"):
        tg.dot(Tensor(np.ones((2, 2, 2))), np.ones(2))


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((1,), (2,)), ((2, 2), (3,))], ids=str)
def test_outer(shapes, rng):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    out, (ga, gb) = check_gradients(tg.outer, a, b)
    assert_close(out, np.outer(a, b), 1e-15, 0)
    w = np.random.default_rng(0).standard_normal(out.shape)
    # out[i, j] = a[i] b[j]: da = G b, db = G^T a (on the flattened operands)
    assert_close(ga, (w @ b.ravel()).reshape(a.shape), 1e-13, 1e-14)
    assert_close(gb, (w.T @ a.ravel()).reshape(b.shape), 1e-13, 1e-14)


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias, rng):
    x, weight = rng.standard_normal(x_shape), rng.standard_normal((2, 3))
    arrays = [x, weight] + ([rng.standard_normal(2)] if bias else [])
    out, grads = check_gradients(tg.linear, *arrays)
    expected = x @ weight.T + (arrays[2] if bias else 0)
    assert_close(out, expected, 1e-14, 1e-14)
    # hand-derived: dx = G W, dW = G^T x (batch rows summed), db = sum of G over rows
    g = np.random.default_rng(0).standard_normal(out.shape)
    g2, x2 = g.reshape(-1, 2), x.reshape(-1, 3)
    assert_close(grads[0], g @ weight, 1e-13, 1e-13)
    assert_close(grads[1], g2.T @ x2, 1e-13, 1e-13)
    if bias:
        assert_close(grads[2], g2.sum(axis=0), 1e-13, 1e-13)


def test_linear_matches_composed_operations(rng):
    x, weight, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    w = rng.standard_normal((4, 2))
    fused, fused_grads = backward_grads(tg.linear, x, weight, b, cotangent=w)
    composed, composed_grads = backward_grads(lambda p, q, r: p @ q.T + r, x, weight, b,
                                              cotangent=w)
    assert_close(fused, composed, 1e-14, 1e-14)
    for f, c in zip(fused_grads, composed_grads):
        assert_close(f, c, 1e-13, 1e-13)


def test_linear_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as info:
        tg.linear(Tensor(np.ones((5, 4)), requires_grad=True), np.ones((2, 3)))
    assert "linear" in str(info.value)
    assert "(5, 4)" in str(info.value) and "(2, 3)" in str(info.value)


LINALG_OPS = [
    ("matmul", lambda a, b: a @ b), ("batched", lambda a, b: a.reshape(1, 2, 3) @ b),
    ("vector", lambda a, b: a[0] @ b), ("dot", tg.dot), ("outer", tg.outer),
    ("linear", lambda a, b: tg.linear(a, b.T, b[0, :2])),
]


@pytest.mark.parametrize("name, fn", LINALG_OPS, ids=[n for n, _ in LINALG_OPS])
def test_float32_stays_float32(name, fn, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    out32, grads32 = backward_grads(fn, a, b, dtype=np.float32)
    out64, grads64 = backward_grads(fn, a, b)
    assert out32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads32)
    assert out64.dtype == np.float64 and all(g.dtype == np.float64 for g in grads64)
    assert_close(out32, out64.data.astype(np.float32), 1e-5, 1e-5)
    for g32, g64 in zip(grads32, grads64):
        assert_close(g32, g64.astype(np.float32), 1e-5, 1e-5)
