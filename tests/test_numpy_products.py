"""einsum, tensordot and kron (tinygrad_mv.ops.linalg): values against NumPy, gradients against
hand-derived formulas and PyTorch, gradcheck in both modes, second derivatives, bad input."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close

# (subscripts, operand shapes): every form np.einsum takes.
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),                 # matmul
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),        # batched matmul
    ("i,j->ij", [(3,), (4,)]),                       # outer
    ("i,i->", [(3,), (3,)]),                         # dot
    ("ii->", [(3, 3)]),                              # trace
    ("ii", [(3, 3)]),                                # trace, implicit
    ("ii->i", [(3, 3)]),                             # diagonal
    ("iii->i", [(2, 2, 2)]),                         # a diagonal through three axes
    ("iij->j", [(2, 2, 3)]),                         # diagonal, then summed
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij->ji", [(2, 3)]),                            # transpose
    ("ba", [(2, 3)]),                                # implicit output: sorted subscripts
    ("ij->", [(2, 3)]),                              # sum
    ("ij->j", [(2, 3)]),                             # an index summed in its only operand
    ("ij,j->j", [(2, 3), (3,)]),
    ("i,ij,j->", [(3,), (3, 4), (4,)]),              # bilinear form
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),  # bilinear layer
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),      # three operands
    ("ij,jk", [(2, 3), (3, 4)]),                     # implicit matmul
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # ellipsis, batch axes broadcast
    ("...i,...i", [(3, 4), (4,)]),                   # implicit output with ellipsis
    ("i...->...", [(3, 2, 2)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),                 # a length-1 axis broadcasts
    (",ij->ij", [(), (2, 3)]),                       # a 0-d operand
]
IDS = [f"{s}-{'x'.join(map(str, shapes))}" for s, shapes in EINSUM]


def _inputs(rng, shapes, dtype=np.float64):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("subscripts, shapes", EINSUM, ids=IDS)
def test_einsum_values_as_numpy_via_tg_and_np(subscripts, shapes, rng):
    xs = _inputs(rng, shapes)
    expected = np.einsum(subscripts, *xs)
    out = tg.einsum(subscripts, *(Tensor(x, requires_grad=True) for x in xs))
    assert_close(out, expected, 1e-12, 1e-12)
    via_np = np.einsum(subscripts, *(Tensor(x, requires_grad=True) for x in xs))
    assert isinstance(via_np, Tensor) and via_np.requires_grad
    assert type(via_np.data) is np.ndarray
    assert_close(via_np, expected, 1e-12, 1e-12)


@pytest.mark.parametrize("subscripts, shapes", EINSUM, ids=IDS)
def test_einsum_values_and_gradients_match_torch(subscripts, shapes, rng):
    torch = pytest.importorskip("torch")
    xs = _inputs(rng, shapes)
    ts = [Tensor(x, requires_grad=True) for x in xs]
    out = tg.einsum(subscripts, *ts)
    g = rng.standard_normal(out.shape)
    (out * g).sum().backward()
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = torch.einsum(subscripts, *txs)
    (tout * torch.tensor(g)).sum().backward()
    assert_close(out, tout.detach().numpy(), 1e-12, 1e-12)
    for t, tx in zip(ts, txs):
        assert_close(t.grad, tx.grad.numpy(), 1e-12, 1e-12)


@pytest.mark.parametrize("subscripts, shapes", EINSUM, ids=IDS)
def test_einsum_gradcheck_both_modes_and_second_order(subscripts, shapes, rng):
    inputs = [Tensor(x, requires_grad=True) for x in _inputs(rng, shapes)]

    def f(*xs):
        return tg.einsum(subscripts, *xs)
    assert tg.gradcheck(f, inputs)
    assert tg.gradcheck(f, inputs, mode="fwd")
    assert tg.gradgradcheck(f, inputs)


# Gradients written out by hand: operand shapes, then f(g, *xs) -> one gradient per operand.
HAND = {
    "ij,jk->ik": ([(2, 3), (3, 4)], lambda g, a, b: [g @ b.T, a.T @ g]),
    "ii->": ([(3, 3)], lambda g, a: [g * np.eye(3)]),
    "ii->i": ([(3, 3)], lambda g, a: [np.diag(g)]),
    "iij->j": ([(2, 2, 3)], lambda g, a: [np.eye(2)[:, :, None] * g]),
    "ij->j": ([(2, 3)], lambda g, a: [np.tile(g, (2, 1))]),
    "i,ij,j->": ([(3,), (3, 4), (4,)],
                 lambda g, x, m, y: [g * m @ y, g * np.outer(x, y), g * m.T @ x]),
    "ij,ij->ij": ([(1, 3), (2, 3)], lambda g, a, b: [(g * b).sum(axis=0, keepdims=True), g * a]),
    ",ij->ij": ([(), (2, 3)], lambda g, s, b: [(g * b).sum(), g * s]),
}


@pytest.mark.parametrize("subscripts", list(HAND))
def test_einsum_gradients_by_hand(subscripts, rng):
    shapes, formula = HAND[subscripts]
    xs = _inputs(rng, shapes)
    ts = [Tensor(x, requires_grad=True) for x in xs]
    out = tg.einsum(subscripts, *ts)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    for t, expected in zip(ts, formula(g, *xs)):
        assert_close(t.grad, expected, 1e-10, 1e-12)


def test_einsum_forward_mode_by_hand(rng):
    x, m, y, v, w = _inputs(rng, [(3,), (3, 4), (4,), (3,), (4,)])
    _, tangent = tg.jvp(lambda a: tg.einsum("i,ij,j->", a, m, y), (x,), (v,))
    assert_close(tangent, v @ m @ y, 1e-12, 1e-12)
    _, tangent = tg.jvp(lambda a, b: tg.einsum("i,ij,j->", a, m, b), (x, y), (v, w))
    assert_close(tangent, v @ m @ y + x @ m @ w, 1e-12, 1e-12)  # product rule
    a, va = _inputs(rng, [(3, 3), (3, 3)])
    assert_close(tg.jvp(lambda t: tg.einsum("ii->i", t), (a,), (va,))[1], np.diag(va), 1e-12)
    assert_close(tg.jvp(lambda t: tg.einsum("ii", t), (a,), (va,))[1], np.trace(va), 1e-12)


@pytest.mark.parametrize("optimize", [False, True, "greedy", "optimal", "path"])
def test_einsum_optimize_is_passed_to_numpy(optimize, rng):
    xs = _inputs(rng, [(2, 3), (3, 4), (4, 5)])
    if optimize == "path":
        optimize = np.einsum_path("ij,jk,kl->il", *xs, optimize="optimal")[0]
    ts = [Tensor(x, requires_grad=True) for x in xs]
    out = tg.einsum("ij,jk,kl->il", *ts, optimize=optimize)
    assert_close(out, np.einsum("ij,jk,kl->il", *xs, optimize=optimize), 1e-12, 1e-12)
    out.sum().backward()
    g = np.ones((2, 5))
    assert_close(ts[0].grad, g @ (xs[1] @ xs[2]).T, 1e-10, 1e-12)
    assert_close(ts[2].grad, (xs[0] @ xs[1]).T @ g, 1e-10, 1e-12)
    via_np = np.einsum("ij,jk,kl->il", *ts, optimize=optimize)
    assert_close(via_np, out, 1e-12, 1e-12)
    assert tg.gradgradcheck(lambda *a: tg.einsum("ij,jk,kl->il", *a, optimize=optimize), ts)


def test_einsum_sublist_form_and_implicit_order(rng):
    a, b = _inputs(rng, [(2, 3), (3, 4)])
    ta, tb = Tensor(a, requires_grad=True), Tensor(b)
    assert_close(np.einsum(ta, [0, 1], tb, [1, 2], [0, 2]), a @ b, 1e-12, 1e-12)
    assert_close(tg.einsum(ta, [0, 1], tb, [1, 2]), a @ b, 1e-12, 1e-12)
    assert_close(tg.einsum(ta, [Ellipsis, 1], [Ellipsis]), a.sum(1), 1e-12, 1e-12)
    assert tg.einsum("Ba", ta).shape == (2, 3)  # upper case sorts first, as in NumPy
    assert tg.einsum("aB", ta).shape == (3, 2)
    assert_close(tg.einsum("i j -> j i", ta), a.T, 0, 0)  # spaces are ignored, as in NumPy


def test_einsum_float32_and_results_apart_from_inputs(rng):
    a, b = _inputs(rng, [(2, 3), (3, 4)], np.float32)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.einsum("ij,jk->ik", ta, tb)
    out.sum().backward()
    assert out.dtype == ta.grad.dtype == tb.grad.dtype == np.float32
    sq = Tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    diagonal = tg.einsum("ii->i", sq)  # np.einsum returns a view here; the result is a copy
    assert diagonal.dtype == np.float32 and not np.shares_memory(diagonal.data, sq.data)
    diagonal.sum().backward()
    assert sq.grad.dtype == np.float32
    assert_close(sq.grad, np.eye(3), 0, 0)


def test_einsum_empty_axes_as_torch(rng):
    torch = pytest.importorskip("torch")
    a, b = np.zeros((2, 0)), np.zeros((0, 3))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.einsum("ij,jk->ik", ta, tb)
    out.sum().backward()
    xa, xb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.einsum("ij,jk->ik", xa, xb).sum().backward()
    assert_close(out, np.zeros((2, 3)), 0, 0)
    assert ta.grad.shape == tuple(xa.grad.shape) and tb.grad.shape == tuple(xb.grad.shape)


@pytest.mark.parametrize("subscripts, shapes, match", [
    ("ij,jk", [(2, 3)], "name 2 operand"),
    ("ij", [(2, 3), (3,)], "name 1 operand"),
    ("ij->ij->i", [(2, 3)], "more than one '->'"),
    ("ab..", [(2, 3)], "not part of an ellipsis"),
    ("a1", [(2, 3)], "invalid subscript '1'"),
    ("abc", [(2, 3)], "2 dimension"),
    ("i", [(2, 3)], "2 dimension"),
    ("ii", [(2, 3)], "repeated in operand 0 with different lengths 2 and 3"),
    ("i,i", [(2,), (3,)], "does not broadcast"),
    ("ij->ii", [(2, 3)], "'i' is repeated"),
    ("ij->k", [(2, 3)], "'k' is in no operand"),
    ("...i->i", [(2, 3)], "needs '...'"),
])
def test_einsum_bad_subscripts_name_the_op_subscripts_and_shapes(subscripts, shapes, match):
    operands = [Tensor(np.ones(s), requires_grad=True) for s in shapes]
    with pytest.raises(ValueError, match=match) as info:
        tg.einsum(subscripts, *operands)
    text = str(info.value)
    assert text.startswith("einsum:") and repr(subscripts) in text and str(shapes[0]) in text
    with pytest.raises(ValueError, match="^einsum:"):
        np.einsum(subscripts, *operands)


def test_einsum_refuses_unsupported_keywords():
    t = Tensor(np.ones((2, 2)), requires_grad=True)
    for kwargs in ({"out": np.ones(2)}, {"dtype": np.float32}, {"casting": "unsafe"}):
        with pytest.raises(TypeError, match=r"^einsum: unsupported keyword"):
            np.einsum("ij->i", t, **kwargs)
    with pytest.raises(TypeError, match="^einsum:"):
        tg.einsum(t, [0, 99])


# --- tensordot ----------------------------------------------------------------------------------
TENSORDOT = [
    (2, (2, 3, 4), (3, 4, 5)),
    (1, (2, 3), (3, 4)),
    (0, (2,), (3,)),
    (([1, 0], [0, 2]), (3, 2, 4), (2, 5, 3)),
    ((1, 0), (2, 3), (3, 4)),              # a pair of ints
    (([-1], [-2]), (2, 3), (4, 3, 2)),     # negative axes
    (([], []), (2,), (2, 2)),
]


@pytest.mark.parametrize("axes, sa, sb", TENSORDOT, ids=str)
def test_tensordot_values_gradients_and_torch(axes, sa, sb, rng):
    a, b = _inputs(rng, [sa, sb])
    expected = np.tensordot(a, b, axes)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.tensordot(ta, tb, axes=axes)
    assert_close(out, expected, 1e-12, 1e-12)
    via_np = np.tensordot(ta, tb, axes=axes)
    assert isinstance(via_np, Tensor) and via_np.requires_grad
    assert_close(via_np, expected, 1e-12, 1e-12)
    assert tg.gradcheck(lambda x, y: tg.tensordot(x, y, axes), [ta, tb])
    assert tg.gradcheck(lambda x, y: tg.tensordot(x, y, axes), [ta, tb], mode="fwd")
    assert tg.gradgradcheck(lambda x, y: tg.tensordot(x, y, axes) ** 2, [ta, tb])
    torch = pytest.importorskip("torch")
    g = rng.standard_normal(out.shape)
    out.backward(g)
    xa, xb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    dims = axes if isinstance(axes, int) else tuple(
        [p] if isinstance(p, int) else list(p) for p in axes)
    (torch.tensordot(xa, xb, dims=dims) * torch.tensor(g)).sum().backward()
    assert_close(ta.grad, xa.grad.numpy(), 1e-12, 1e-12)
    assert_close(tb.grad, xb.grad.numpy(), 1e-12, 1e-12)


def test_tensordot_gradients_and_tangent_by_hand(rng):
    a, b, va, vb = _inputs(rng, [(2, 3, 4), (3, 4, 5), (2, 3, 4), (3, 4, 5)])
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.tensordot(ta, tb)  # axes=2: a (2, 12) times b (12, 5)
    g = rng.standard_normal((2, 5))
    out.backward(g)
    assert_close(ta.grad, (g @ b.reshape(12, 5).T).reshape(a.shape), 1e-10, 1e-12)
    assert_close(tb.grad, (a.reshape(2, 12).T @ g).reshape(b.shape), 1e-10, 1e-12)
    _, tangent = tg.jvp(lambda x, y: tg.tensordot(x, y), (a, b), (va, vb))
    assert_close(tangent, va.reshape(2, 12) @ b.reshape(12, 5) + a.reshape(2, 12) @
                 vb.reshape(12, 5), 1e-10, 1e-12)


def test_tensordot_float32(rng):
    a, b = _inputs(rng, [(2, 3), (3, 4)], np.float32)
    ta = Tensor(a, requires_grad=True)
    out = tg.tensordot(ta, b, axes=1)
    out.sum().backward()
    assert out.dtype == ta.grad.dtype == np.float32


@pytest.mark.parametrize("axes, error, match", [
    (3, ValueError, "between 0 and 2"),
    (-1, ValueError, "between 0 and 2"),  # as PyTorch; NumPy returns an outer product
    (([0], [0]), ValueError, "length 2 but b's axis 0 has length 3"),
    (([2], [0]), ValueError, "axis 2 is out of range for a"),
    (([0, 1], [1]), ValueError, "same length"),
    (([1, 1], [0, 0]), ValueError, "without repeats"),
    (([1.5], [0]), TypeError, "pair of sequences of ints"),
    ("x", TypeError, "pair of sequences of ints"),
])
def test_tensordot_bad_axes_name_the_op(axes, error, match):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(error, match=match) as info:
        tg.tensordot(a, np.ones((3, 4)), axes=axes)
    assert str(info.value).startswith("tensordot:")


# --- kron ---------------------------------------------------------------------------------------
KRON = [((2, 3), (2, 2)), ((3,), (2,)), ((), (3,)), ((2, 3), (4,)), ((2, 1, 3), (2, 2)),
        ((2,), (2, 3)), ((), ())]


@pytest.mark.parametrize("sa, sb", KRON, ids=str)
def test_kron_values_gradients_and_torch(sa, sb, rng):
    a, b = _inputs(rng, [sa, sb])
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.kron(ta, tb)
    assert_close(out, np.kron(a, b), 1e-12, 1e-12)
    via_np = np.kron(ta, tb)
    assert isinstance(via_np, Tensor) and via_np.requires_grad
    assert_close(via_np, np.kron(a, b), 1e-12, 1e-12)
    assert tg.gradcheck(tg.kron, [ta, tb])
    assert tg.gradcheck(tg.kron, [ta, tb], mode="fwd")
    assert tg.gradgradcheck(lambda x, y: tg.kron(x, y) ** 2, [ta, tb])
    torch = pytest.importorskip("torch")
    g = rng.standard_normal(out.shape)
    out.backward(g)
    xa, xb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.kron(xa, xb) * torch.tensor(g)).sum().backward()
    assert_close(ta.grad, xa.grad.numpy(), 1e-12, 1e-12)
    assert_close(tb.grad, xb.grad.numpy(), 1e-12, 1e-12)


def test_kron_gradients_and_tangent_by_hand(rng):
    a, b, va, vb = _inputs(rng, [(2, 3), (4, 5), (2, 3), (4, 5)])
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.kron(ta, tb)
    g = rng.standard_normal((8, 15))
    out.backward(g)
    blocks = g.reshape(2, 4, 3, 5)  # blocks[i, p, j, q] = g[4i + p, 5j + q]
    ga = np.array([[np.sum(blocks[i, :, j, :] * b) for j in range(3)] for i in range(2)])
    gb = sum(a[i, j] * blocks[i, :, j, :] for i in range(2) for j in range(3))
    assert_close(ta.grad, ga, 1e-10, 1e-12)
    assert_close(tb.grad, gb, 1e-10, 1e-12)
    _, tangent = tg.jvp(tg.kron, (a, b), (va, vb))
    assert_close(tangent, np.kron(va, b) + np.kron(a, vb), 1e-12, 1e-12)


def test_kron_float32(rng):
    a, b = _inputs(rng, [(2, 2), (3,)], np.float32)
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    out = tg.kron(ta, tb)
    out.sum().backward()
    assert out.dtype == ta.grad.dtype == tb.grad.dtype == np.float32
