"""tg.linalg (and np.linalg on Tensors): norm, det, slogdet, inv, solve, against NumPy's values,
hand-derived gradients and tangents, finite differences and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

la = tg.linalg
INF = np.inf
LinAlgError = np.linalg.LinAlgError


def rng_() -> np.random.Generator:
    return np.random.default_rng(31)


def invertible(*batch: int, n: int = 3, seed: int = 5) -> np.ndarray:
    r = np.random.default_rng(seed)
    return r.standard_normal(batch + (n, n)) * 0.5 + 2 * np.eye(n)


def distinct(*shape: int, seed: int = 3) -> np.ndarray:
    """|x| distinct and away from 0 (no ties, no kinks)."""
    r = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return ((r.permutation(size) * 0.25 + 0.3) * r.choice([-1.0, 1.0], size)).reshape(shape)


def leaf(x: np.ndarray) -> Tensor:
    return Tensor(x, requires_grad=True)


def close(actual, expected, rtol=1e-12, atol=0.0):
    actual = actual.data if isinstance(actual, Tensor) else actual
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def grad_of(f, *xs, w=None):
    """Gradients of sum(w * f(*xs)) with respect to each x."""
    ts = [leaf(x) for x in xs]
    out = f(*ts)
    w = np.ones(out.shape) if w is None else w
    (out * w).sum().backward()
    return [t.grad.data for t in ts]


def torch_grads(torch, f, *xs, w=None):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    w = torch.ones_like(out) if w is None else torch.tensor(w)
    (out * w).sum().backward()
    # (torch gives no gradient at all where it is 0 everywhere: the ord=0 norm)
    return out.detach().numpy(), [np.zeros(t.shape) if t.grad is None else t.grad.numpy()
                                  for t in ts]


def mT(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


# --- norm: values ---------------------------------------------------------------------------
VECTOR = [  # (ord, axis, keepdims, shape)
    (None, None, False, (3, 4)), (None, None, True, (2, 3, 2)), (2, 1, False, (3, 4)),
    (1, 0, True, (3, 4)), (INF, -1, False, (3, 4)), (-INF, 1, True, (3, 4)),
    (0, 1, False, (3, 4)), (3, -1, False, (2, 3, 4)), (0.5, 0, False, (3, 4)),
    (-1, 1, False, (3, 4)), (-2.5, (0,), True, (3, 4)), (2, None, False, (5,)),
    (INF, None, True, (5,)),
]
MATRIX = [  # (ord, axis, keepdims, shape)
    ("fro", None, False, (3, 4)), (None, (0, 1), True, (3, 4)), ("fro", (-1, -2), False, (2, 3, 4)),
    (1, None, False, (3, 4)), (-1, (1, 0), True, (3, 4)), (INF, None, False, (3, 4)),
    (-INF, (0, 1), False, (3, 4)), (1, (-2, -1), False, (2, 3, 4)), (INF, (2, 0), True, (2, 3, 4)),
    (2, None, False, (3, 4)), (-2, None, False, (4, 3)), ("nuc", None, False, (3, 3)),
    ("nuc", (1, 2), True, (2, 3, 4)), (2, (2, 0), False, (2, 3, 4)),
    (-2, (-1, -2), True, (2, 4, 3)),
]
NORMS = VECTOR + MATRIX


def norm_id(case):
    return f"ord={case[0]}-axis={case[1]}-keepdims={case[2]}-{case[3]}"


@pytest.mark.parametrize("ord, axis, keepdims, shape", NORMS, ids=map(norm_id, NORMS))
def test_norm_value_matches_numpy_both_ways(ord, axis, keepdims, shape):
    x = distinct(*shape)
    expected = np.linalg.norm(x, ord, axis, keepdims)
    t = leaf(x)
    for got in (la.norm(t, ord, axis, keepdims),
                np.linalg.norm(t, ord=ord, axis=axis, keepdims=keepdims)):
        assert isinstance(got, Tensor) and got.requires_grad
        assert got.shape == np.shape(expected) and type(got.data) is np.ndarray
        close(got, expected)


def test_norm_of_a_0d_tensor_and_of_ints():
    close(la.norm(leaf(np.array(-0.7))), 0.7)
    close(la.norm([[3, 4], [0, 0]]), 5.0)
    close(la.norm([1, -2, 2], 1), 5.0)


# --- norm: gradients --------------------------------------------------------------------------
def hand_vector_slope(x, ord, axis):
    """d ||x|| / dx written out: x/n, sign(x), sign(x)|x|^(p-1)/n^(p-1), one-hot at the max."""
    ord = 2 if ord is None else ord
    axis = tuple(range(x.ndim)) if axis is None else axis
    if ord == 0:
        return np.zeros_like(x)
    if ord == 2:
        return x / np.sqrt((x * x).sum(axis=axis, keepdims=True))
    if ord in (INF, -INF):
        pick = np.abs(x).max if ord > 0 else np.abs(x).min
        return np.sign(x) * (np.abs(x) == pick(axis=axis, keepdims=True))
    n = (np.abs(x) ** ord).sum(axis=axis, keepdims=True) ** (1 / ord)
    return np.sign(x) * np.abs(x) ** (ord - 1) / n ** (ord - 1)


def hand_matrix_grad(x, ord, axis):
    """Gradient of the sum of matrix norms: x/n for 'fro'; sign(x) on the extreme column (ord
    1/-1) or row (inf/-inf) for the others (no ties here)."""
    rows, cols = axis if axis is not None else (0, 1)
    if ord in (2, -2, "nuc"):  # u1 v1ᵀ, u_k v_kᵀ, U Vᵀ from NumPy's SVD
        u, _, vt = np.linalg.svd(np.moveaxis(x, (rows, cols), (-2, -1)), full_matrices=False)
        i = 0 if ord == 2 else -1
        g = u @ vt if ord == "nuc" else u[..., :, i:][..., :1] @ vt[..., i:, :][..., :1, :]
        return np.moveaxis(g, (-2, -1), (rows, cols))
    if ord in (None, "fro"):
        return x / np.sqrt((x * x).sum(axis=(rows, cols), keepdims=True))
    summed, over = (rows, cols) if ord in (1, -1) else (cols, rows)
    sums = np.abs(x).sum(axis=summed, keepdims=True)
    pick = sums.max(axis=over, keepdims=True) if ord > 0 else sums.min(axis=over, keepdims=True)
    return np.sign(x) * (sums == pick)


@pytest.mark.parametrize("ord, axis, keepdims, shape", NORMS, ids=map(norm_id, NORMS))
def test_norm_gradient_matches_hand_formula(ord, axis, keepdims, shape):
    x = distinct(*shape)
    (got,) = grad_of(lambda t: la.norm(t, ord, axis, keepdims), x)
    if (ord, axis, keepdims, shape) in MATRIX:
        expected = hand_matrix_grad(x, ord, axis)
    else:
        ax = axis if axis is None else (axis[0] if isinstance(axis, tuple) else axis)
        expected = hand_vector_slope(x, ord, ax)
    close(got, expected, rtol=1e-10, atol=1e-15)


def _torch_norm(torch, ord, axis, keepdims, matrix):
    if matrix:
        return lambda t: torch.linalg.matrix_norm(t, "fro" if ord is None else ord,
                                                  dim=(0, 1) if axis is None else axis,
                                                  keepdim=keepdims)
    return lambda t: torch.linalg.vector_norm(t, 2 if ord is None else ord, dim=axis,
                                              keepdim=keepdims)


@pytest.mark.parametrize("ord, axis, keepdims, shape", NORMS, ids=map(norm_id, NORMS))
def test_norm_value_and_gradient_match_torch(ord, axis, keepdims, shape):
    torch = pytest.importorskip("torch")
    x = distinct(*shape)
    out = la.norm(Tensor(x), ord, axis, keepdims)
    w = rng_().standard_normal(out.shape)
    want, (want_grad,) = torch_grads(torch, _torch_norm(torch, ord, axis, keepdims,
                                                 (ord, axis, keepdims, shape) in MATRIX), x,
                                     w=w)
    close(out, want, rtol=1e-12)
    (got,) = grad_of(lambda t: la.norm(t, ord, axis, keepdims), x, w=w)
    close(got, want_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("ord, axis, keepdims, shape", NORMS, ids=map(norm_id, NORMS))
def test_norm_gradcheck_forward_and_second_order(ord, axis, keepdims, shape):
    x = leaf(distinct(*shape))

    def f(t):
        return la.norm(t, ord, axis, keepdims)
    assert tg.gradcheck(f, (x,))
    assert tg.gradcheck(f, (x,), mode="fwd")
    assert tg.gradgradcheck(f, (x,))


@pytest.mark.parametrize("ord", [None, 1, INF, 3, -1.5])
def test_norm_jvp_is_the_slope_times_the_tangent(ord):
    x, v = distinct(3, 4), rng_().standard_normal((3, 4))
    out, tangent = tg.jvp(lambda t: la.norm(t, ord, axis=1), (x,), (v,))
    close(out, np.linalg.norm(x, ord, axis=1))
    close(tangent, (hand_vector_slope(x, ord, 1) * v).sum(axis=1), rtol=1e-10)


@pytest.mark.parametrize("ord", [2, 1, INF, -INF, 0, 3, 0.5, -1, -2])
@pytest.mark.parametrize("x", [[0.0, 0.0, 0.0], [0.0, 1.0, -2.0], [2.0, -2.0, 1.0],
                               [1.0, -1.0, 2.0]], ids=["zero", "a-zero-entry", "ties", "ties2"])
def test_norm_kinks_follow_torch(ord, x):
    """0 at a zero norm (not NaN), sign(0) = 0, ties of the inf-norms share: as PyTorch (whose
    ord=0 has no gradient at all; here it is 0)."""
    torch = pytest.importorskip("torch")
    x = np.array(x)
    (got,) = grad_of(lambda t: la.norm(t, ord), x)
    tx = torch.tensor(x, requires_grad=True)
    value = torch.linalg.vector_norm(tx, ord)
    value.backward()
    want = np.zeros(3) if tx.grad is None else tx.grad.numpy()
    close(la.norm(Tensor(x), ord), value.item())
    assert np.all(np.isfinite(got))
    close(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ord", [INF, 1, -1, -INF])
@pytest.mark.parametrize("x", [[[0.0, -2.0], [0.0, 2.0], [1.0, 0.5]],  # rows 2, 2, 1.5
                               [[1.0, -2.0], [-2.0, 0.5], [1.5, 2.0]],  # columns 4.5, 4.5
                               [[1.0, -1.0], [0.5, 1.5], [3.0, 0.0]]])  # rows 2, 2, 3
def test_matrix_norm_ties_share_as_torch(ord, x):
    torch = pytest.importorskip("torch")
    x = np.array(x)
    (got,) = grad_of(lambda t: la.norm(t, ord), x)
    _, (want,) = torch_grads(torch, lambda t: torch.linalg.matrix_norm(t, ord), x)
    close(got, want, rtol=1e-12)


def test_the_course_cost_differentiates():
    r = rng_()
    x, y = r.standard_normal((4, 5)), r.standard_normal((2, 5))
    a3 = leaf(r.standard_normal((2, 5)))
    cost = np.linalg.norm(a3 - y) ** 2 / x.size
    assert isinstance(cost, Tensor) and cost.shape == ()
    close(cost, np.linalg.norm(a3.data - y) ** 2 / x.size)
    cost.backward()
    close(a3.grad, 2 * (a3.data - y) / x.size, rtol=1e-10)
    assert tg.gradgradcheck(lambda a: np.linalg.norm(a - y) ** 2 / x.size, (a3,))


@pytest.mark.parametrize("ord, axis", [(None, None), (1, 0), (INF, 1), (3, 1), ("fro", None),
                                       (1, None), (-INF, (1, 0))])
def test_norm_keeps_float32(ord, axis):
    x = Tensor(distinct(3, 4), dtype=np.float32, requires_grad=True)
    out = la.norm(x, ord, axis)
    assert out.dtype == np.float32
    close(out, np.linalg.norm(x.data, ord, axis), rtol=1e-6)
    out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_singular_value_norm_tangents_are_the_singular_vectors_hand_formula(ord):
    x, v = distinct(3, 4), rng_().standard_normal((3, 4))
    u, _, vt = np.linalg.svd(x, full_matrices=False)
    # dσ_i = u_iᵀ dx v_i: the largest for 2, the smallest for -2, all of them for 'nuc'
    dsigma = np.einsum("ji,jk,ik->i", u, v, vt)
    expected = {2: dsigma[0], -2: dsigma[-1], "nuc": dsigma.sum()}[ord]
    out, tangent = tg.jvp(lambda t: la.norm(t, ord), (x,), (v,))
    close(out, np.linalg.norm(x, ord))
    close(tangent, expected, rtol=1e-10)


def test_singular_value_norm_of_a_wide_and_a_tall_matrix_agree():
    x = distinct(3, 4)
    (wide,) = grad_of(lambda t: la.norm(t, 2), x)
    (tall,) = grad_of(lambda t: la.norm(t, 2), x.T.copy())
    close(wide, tall.T, rtol=1e-12)



@pytest.mark.parametrize("ord, axis, shape", [
    (INF, None, (0,)), (INF, 0, (0, 3)), (INF, None, (0, 3)), (INF, None, (3, 0)),
    (1, None, (3, 0)), (-1, None, (0, 3)), (-INF, None, (3, 0)), (2, None, (0, 3)),
    (2, (1, 2), (2, 3, 0)), ("nuc", None, (0, 3))])
def test_norm_of_empty_tensors_is_numpys_zero(ord, axis, shape):
    # NumPy's max-type norms start from 0 (max(initial=0)): an empty vector or matrix has norm 0
    ref = np.linalg.norm(np.zeros(shape), ord, axis)
    x = Tensor(np.zeros(shape), requires_grad=True)
    out = np.linalg.norm(x, ord, axis)
    np.testing.assert_array_equal(out.data, ref)
    assert out.shape == np.shape(ref)
    out.sum().backward()
    assert x.grad.shape == shape
    _, tangent = tg.jvp(lambda t: la.norm(t, ord, axis), (np.zeros(shape),), (np.zeros(shape),))
    np.testing.assert_array_equal(tangent.data, np.zeros(np.shape(ref)))

def test_norm_bad_arguments():
    x = leaf(distinct(3, 4))
    with pytest.raises(ValueError, match="norm: invalid norm order 'fro' for vectors"):
        la.norm(x, "fro", axis=1)
    with pytest.raises(ValueError, match="norm: invalid norm order 3 for matrices"):
        la.norm(x, 3)
    with pytest.raises(ValueError, match="norm: invalid norm order 'nope' for matrices"):
        la.norm(x, "nope", axis=(0, 1))
    with pytest.raises(ValueError, match="norm: ord=1 with axis=None needs a 1-D or 2-D"):
        la.norm(leaf(np.ones((2, 2, 2))), 1)
    with pytest.raises(ValueError, match="norm: axis must be an int or a pair"):
        la.norm(leaf(np.ones((2, 2, 2))), axis=(0, 1, 2))
    with pytest.raises(np.exceptions.AxisError, match="norm: axis 2 is out of range"):
        la.norm(x, axis=2)
    with pytest.raises(ValueError, match="norm: repeated axis"):
        la.norm(x, axis=(1, -1))
    with pytest.raises(TypeError, match="norm: axis must be an int"):
        la.norm(x, axis=1.5)
    with pytest.raises(TypeError, match="norm: ord must be a number"):
        la.norm(x, True, axis=1)
    with pytest.raises(TypeError, match="out"):
        np.linalg.norm(x, out=np.zeros(()))


# --- det --------------------------------------------------------------------------------------
SQUARE = [(3,), (2, 3), (2, 2, 4), (1,), (2,)]  # (batch..., n)


def square_id(case):
    return "x".join(map(str, case))


@pytest.mark.parametrize("spec", SQUARE, ids=map(square_id, SQUARE))
def test_det_value_gradient_and_tangent_by_hand(spec):
    a = invertible(*spec[:-1], n=spec[-1])
    t = leaf(a)
    for got in (la.det(t), np.linalg.det(t)):
        assert isinstance(got, Tensor) and got.requires_grad
        close(got, np.linalg.det(a))
    w = rng_().standard_normal(a.shape[:-2])
    (g,) = grad_of(la.det, a, w=w)
    # d det = det(A) A^-T
    close(g, (w * np.linalg.det(a))[..., None, None] * mT(np.linalg.inv(a)), rtol=1e-10)
    v = rng_().standard_normal(a.shape)
    _, tangent = tg.jvp(la.det, (a,), (v,))
    close(tangent, np.linalg.det(a) * np.trace(np.linalg.inv(a) @ v, axis1=-2, axis2=-1),
          rtol=1e-10)


@pytest.mark.parametrize("spec", SQUARE, ids=map(square_id, SQUARE))
def test_det_matches_torch(spec):
    torch = pytest.importorskip("torch")
    a = invertible(*spec[:-1], n=spec[-1])
    w = rng_().standard_normal(a.shape[:-2])
    want, (want_grad,) = torch_grads(torch, torch.linalg.det, a, w=w)
    close(la.det(Tensor(a)), want, rtol=1e-12)
    close(grad_of(la.det, a, w=w)[0], want_grad, rtol=1e-10)


def _rank_deficient():
    rank2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    rank1 = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    return rank2, rank1


def test_det_at_singular_matrices_has_the_exact_gradient_as_torch():
    """The cofactor matrix, as torch's singular-safe (SVD) path, which torch takes under
    create_graph; its plain backward gives 0 at exactly singular matrices, which finite
    differences contradict (det is a polynomial: smooth everywhere)."""
    torch = pytest.importorskip("torch")
    rank2, rank1 = _rank_deficient()
    # the cofactor matrix of rank2, minor by minor
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(rank2, i, 0), j, 1))
                     for j in range(3)] for i in range(3)])
    for a, hand in ((rank2, cof), (rank1, np.zeros((3, 3))), (np.stack([rank2, rank1]), None),
                    (np.array([[0.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 0.0]]))):
        t = leaf(a)
        d = la.det(t)
        close(d, np.zeros(a.shape[:-2]), atol=1e-14)
        d.sum().backward()
        ta = torch.tensor(a, requires_grad=True)
        (want,) = torch.autograd.grad(torch.linalg.det(ta).sum(), ta, create_graph=True)
        close(t.grad, want.detach().numpy(), rtol=1e-10, atol=1e-13)
        if hand is not None:
            close(t.grad, hand, rtol=1e-10, atol=1e-13)
        v = rng_().standard_normal(a.shape)
        close(tg.jvp(la.det, (a,), (v,))[1], (t.grad.data * v).sum(axis=(-2, -1)), rtol=1e-10,
              atol=1e-13)
        assert tg.gradcheck(la.det, (leaf(a),))
        assert tg.gradcheck(la.det, (leaf(a),), mode="fwd")


def test_det_second_derivative_at_a_singular_matrix_is_refused_clearly():
    t = leaf(_rank_deficient()[0])
    (g,) = tg.autograd.grad(la.det(t), t, create_graph=True)  # the first derivative is fine
    with pytest.raises(LinAlgError, match="det: second derivatives at a singular matrix"):
        g.sum().backward()


# --- slogdet ----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SQUARE, ids=map(square_id, SQUARE))
def test_slogdet_value_gradient_and_tangent_by_hand(spec):
    a = invertible(*spec[:-1], n=spec[-1])
    a[..., 0, :] *= -1  # negative determinants
    t = leaf(a)
    want_sign, want_log = np.linalg.slogdet(a)
    for result in (la.slogdet(t), np.linalg.slogdet(t)):
        sign, logabsdet = result
        assert result.sign is sign and result.logabsdet is logabsdet
        assert not sign.requires_grad and logabsdet.requires_grad
        close(sign, want_sign)
        close(logabsdet, want_log)
    w = rng_().standard_normal(a.shape[:-2])
    (g,) = grad_of(lambda x: la.slogdet(x).logabsdet, a, w=w)
    close(g, w[..., None, None] * mT(np.linalg.inv(a)), rtol=1e-10)  # A^-T
    v = rng_().standard_normal(a.shape)
    _, tangent = tg.jvp(lambda x: la.slogdet(x).logabsdet, (a,), (v,))
    close(tangent, np.trace(np.linalg.solve(a, v), axis1=-2, axis2=-1), rtol=1e-10)


def test_slogdet_matches_torch():
    torch = pytest.importorskip("torch")
    a = invertible(2)
    a[0, 1] *= -1
    w = rng_().standard_normal(2)
    want, (want_grad,) = torch_grads(torch, lambda x: torch.linalg.slogdet(x)[1], a, w=w)
    sign, logabsdet = la.slogdet(Tensor(a))
    close(logabsdet, want)
    close(sign, torch.linalg.slogdet(torch.tensor(a))[0].numpy())
    close(grad_of(lambda x: la.slogdet(x).logabsdet, a, w=w)[0], want_grad, rtol=1e-10)


def test_slogdet_at_a_singular_matrix():
    t = leaf(_rank_deficient()[0])
    sign, logabsdet = la.slogdet(t)
    assert sign.item() == 0 and logabsdet.item() == -INF
    with pytest.raises(LinAlgError, match="slogdet: .* singular"):
        logabsdet.backward()


def test_slogdet_sign_is_recomputed_by_jit_replays():
    def signed(a):
        sign, logabsdet = la.slogdet(a)
        return sign * logabsdet
    jitted = tg.jit(signed)
    for a in (invertible(), -invertible(), invertible(seed=9)[[1, 0, 2]]):
        close(jitted(a), np.prod(np.linalg.slogdet(a)))


# --- inv --------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SQUARE, ids=map(square_id, SQUARE))
def test_inv_value_gradient_and_tangent_by_hand(spec):
    a = invertible(*spec[:-1], n=spec[-1])
    t, ai = leaf(a), np.linalg.inv(a)
    for got in (la.inv(t), np.linalg.inv(t)):
        assert got.requires_grad
        close(got, ai)
    w = rng_().standard_normal(a.shape)
    (g,) = grad_of(la.inv, a, w=w)
    close(g, -mT(ai) @ w @ mT(ai), rtol=1e-10)  # -A^-T W A^-T
    v = rng_().standard_normal(a.shape)
    close(tg.jvp(la.inv, (a,), (v,))[1], -ai @ v @ ai, rtol=1e-10)


def test_inv_matches_torch():
    torch = pytest.importorskip("torch")
    a = invertible(2)
    w = rng_().standard_normal(a.shape)
    want, (want_grad,) = torch_grads(torch, torch.linalg.inv, a, w=w)
    close(la.inv(Tensor(a)), want, rtol=1e-12)
    close(grad_of(la.inv, a, w=w)[0], want_grad, rtol=1e-10)


@pytest.mark.parametrize("op", ["inv", "solve"])
def test_singular_matrices_raise_linalgerror_naming_the_op(op):
    rank2 = _rank_deficient()[0]
    stack = np.stack([invertible(), rank2])
    call = {"inv": la.inv, "solve": lambda a: la.solve(a, np.ones(a.shape[-1]))}[op]
    for a in (rank2, stack, np.zeros((2, 2))):
        with pytest.raises(LinAlgError, match=f"^{op}: .*singular"):
            call(leaf(a))
        with pytest.raises(ValueError, match=f"{op}: .*singular"):  # LinAlgError is one
            call(a)


# --- solve ------------------------------------------------------------------------------------
SOLVE = [  # shapes of a and b (NumPy 2: b 1-D is a vector, otherwise (..., n, k))
    ((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 2)),
    ((2, 3, 3), (3, 1)), ((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (4, 3, 2)),
]


def solve_id(case):
    return f"{case[0]}-{case[1]}"


def _solve_inputs(sa, sb):
    return invertible(*sa[:-2], n=sa[-1]), rng_().standard_normal(sb)


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1),
                 keepdims=True)


@pytest.mark.parametrize("sa, sb", SOLVE, ids=map(solve_id, SOLVE))
def test_solve_value_gradient_and_tangent_by_hand(sa, sb):
    a, b = _solve_inputs(sa, sb)
    x = np.linalg.solve(a, b)
    ta, tb = leaf(a), leaf(b)
    for got in (la.solve(ta, tb), np.linalg.solve(ta, tb)):
        assert got.requires_grad and got.shape == x.shape
        close(got, x)
    w = rng_().standard_normal(x.shape)
    ga, gb = grad_of(la.solve, a, b, w=w)
    # gb = A^-T W, gA = -gb x^T (b, x as columns), summed back over broadcast batch axes
    col = (lambda m: m[..., None]) if len(sb) == 1 else (lambda m: m)
    gb_full = np.linalg.solve(mT(np.broadcast_to(a, x.shape[:-1 if len(sb) == 1 else -2]
                                                 + a.shape[-2:])), col(w))
    close(gb, _sum_to(gb_full[..., 0] if len(sb) == 1 else gb_full, b.shape), rtol=1e-10)
    close(ga, _sum_to(-gb_full @ mT(col(x)), a.shape), rtol=1e-10)
    va, vb = rng_().standard_normal(a.shape), rng_().standard_normal(b.shape) * 0.5
    _, tangent = tg.jvp(la.solve, (a, b), (va, vb))
    expected = np.linalg.solve(a, col(vb) - va @ col(x))  # A^-1 (db - dA x)
    close(tangent, expected[..., 0] if len(sb) == 1 else expected, rtol=1e-10)


@pytest.mark.parametrize("sa, sb", SOLVE, ids=map(solve_id, SOLVE))
def test_solve_matches_torch(sa, sb):
    torch = pytest.importorskip("torch")
    a, b = _solve_inputs(sa, sb)
    out = la.solve(Tensor(a), Tensor(b))
    w = rng_().standard_normal(out.shape)
    want, want_grads = torch_grads(torch, torch.linalg.solve, a, b, w=w)
    close(out, want, rtol=1e-12)
    for got, expected in zip(grad_of(la.solve, a, b, w=w), want_grads):
        close(got, expected, rtol=1e-10)


def test_solve_bad_shapes_name_solve_and_the_shapes():
    a = leaf(invertible(2))
    with pytest.raises(ValueError, match=r"solve: b of shape \(2, 3\) does not fit a of shape "
                                         r"\(2, 3, 3\).*b\[\.\.\., None\]"):
        la.solve(a, np.ones((2, 3)))  # NumPy 2: a (2, 3) b is a matrix, not 2 vectors
    with pytest.raises(ValueError, match=r"solve: b of shape \(4,\)"):
        la.solve(a, np.ones(4))
    with pytest.raises(ValueError, match=r"solve: b of shape \(\)"):
        la.solve(a, 1.0)
    with pytest.raises(ValueError, match=r"solve: the batch axes of a \(2, 3, 3\) and b "
                                         r"\(4, 3, 1\) do not broadcast"):
        la.solve(a, np.ones((4, 3, 1)))


@pytest.mark.parametrize("op", ["det", "slogdet", "inv", "solve"])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4), ()])
def test_non_square_input_names_the_op_and_shape(op, shape):
    call = {"det": la.det, "slogdet": la.slogdet, "inv": la.inv,
            "solve": lambda a: la.solve(a, np.ones(3))}[op]
    with pytest.raises(ValueError, match=rf"{op}: expected a square matrix.*got shape "
                                         rf"{re_shape(shape)}") as info:
        call(leaf(np.ones(shape)))
    assert isinstance(info.value, LinAlgError)  # as NumPy


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


# --- all matrix ops: checks, float32 -----------------------------------------------------------
OPS = {
    "det": (la.det, (invertible(2),)),
    "slogdet": (lambda a: la.slogdet(a).logabsdet, (invertible(2),)),
    "inv": (la.inv, (invertible(2),)),
    "solve-vector": (la.solve, (invertible(2), rng_().standard_normal(3))),
    "solve-matrix": (la.solve, (invertible(), rng_().standard_normal((2, 3, 2)))),
    "det-of-inv": (lambda a: la.det(la.inv(a)) * la.slogdet(a).logabsdet, (invertible(),)),
}


@pytest.mark.parametrize("name", OPS)
def test_gradcheck_forward_and_second_order(name):
    f, arrays = OPS[name]
    inputs = tuple(leaf(x) for x in arrays)
    assert tg.gradcheck(f, inputs)
    assert tg.gradcheck(f, inputs, mode="fwd")
    assert tg.gradgradcheck(f, inputs)


@pytest.mark.parametrize("name", OPS)
def test_matrix_ops_keep_float32(name):
    f, arrays = OPS[name]
    inputs = [Tensor(x, dtype=np.float32, requires_grad=True) for x in arrays]
    out = f(*inputs)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in inputs)
    with tg.no_grad():
        reference = f(*[Tensor(x) for x in arrays])
    close(out, reference.data, rtol=1e-4)


def test_det_second_derivative_by_hand():
    """d/dA <G, det(A) A^-T> = <G, A^-T> det A^-T - det A^-T G^T A^-T."""
    a = invertible()
    g = rng_().standard_normal((3, 3))
    t = leaf(a)
    (first,) = tg.autograd.grad(la.det(t), t, create_graph=True)
    (second,) = tg.autograd.grad((first * g).sum(), t)
    m, d = mT(np.linalg.inv(a)), np.linalg.det(a)
    close(second, (g * m).sum() * d * m - d * m @ g.T @ m, rtol=1e-10)
