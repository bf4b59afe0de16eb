"""The statistics family (prod, cumsum, cumprod, var, std, average, sort, diff): values against
NumPy, gradients against hand-derived formulas and PyTorch, gradcheck/gradgradcheck in both
modes, forward-mode tangents, keyword arguments, float32, bad input and the edge cases (zeros in
products, zero spread, ties) as PyTorch handles them."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

RNG = np.random.default_rng(123)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((2, 3, 4))
W4 = RNG.uniform(0.5, 2.0, 4)
DISTINCT = RNG.permutation(12).reshape(3, 4) * 0.3 - 1.6


def leaf(a, dtype=np.float64):
    return Tensor(np.array(a, dtype=dtype), requires_grad=True)


def grad_of(fn, a, g=None):
    """Reverse-mode gradient of fn at a for the cotangent g (ones by default)."""
    x = leaf(a)
    out = fn(x)
    (gx,) = tg.autograd.grad(out, x, grad_outputs=np.ones(out.shape) if g is None else g)
    return out, np.asarray(gx.data)


def close(actual, expected, rtol=1e-12, atol=1e-14):
    actual = np.asarray(actual.data if isinstance(actual, Tensor) else actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# Each use: fn(m, x) with m = tg or np (np on a Tensor dispatches to tg), and its input.
USES = {
    "prod axis": (lambda m, x: m.prod(x, axis=1), A),
    "prod all": (lambda m, x: m.prod(x), A),
    "prod axes keepdims": (lambda m, x: m.prod(x, axis=(0, -1), keepdims=True), B),
    "cumsum axis": (lambda m, x: m.cumsum(x, axis=-1), B),
    "cumsum flat": (lambda m, x: m.cumsum(x), A),
    "cumprod axis": (lambda m, x: m.cumprod(x, axis=0), A),
    "cumprod flat": (lambda m, x: m.cumprod(x), A),
    "var ddof": (lambda m, x: m.var(x, axis=0, ddof=1), A),
    "var axes keepdims": (lambda m, x: m.var(x, axis=(0, 2), keepdims=True), B),
    "var all": (lambda m, x: m.var(x), A),
    "std ddof": (lambda m, x: m.std(x, axis=-1, ddof=1), B),
    "std keepdims": (lambda m, x: m.std(x, axis=1, keepdims=True), A),
    "average": (lambda m, x: m.average(x, axis=0), A),
    "average weights": (lambda m, x: m.average(x, axis=1, weights=W4), A),
    "average weights axes": (lambda m, x: m.average(x, axis=(2, 0), weights=B[:, 0].T ** 2),
                             B),
    "average weights same shape": (lambda m, x: m.average(x, weights=A ** 2, keepdims=True), A),
    "sort": (lambda m, x: m.sort(x), DISTINCT),
    "sort axis0": (lambda m, x: m.sort(x, axis=0, kind="mergesort"), B),
    "sort flat": (lambda m, x: m.sort(x, axis=None), DISTINCT),
    "diff": (lambda m, x: m.diff(x), A),
    "diff n2 axis0": (lambda m, x: m.diff(x, n=2, axis=0), B),
    "diff ends": (lambda m, x: m.diff(x, axis=1, prepend=0.5, append=A[:, :2]), A),
}
IDS = list(USES)


@pytest.mark.parametrize("name", IDS)
def test_value_matches_numpy_via_tg_and_np(name):
    fn, a = USES[name]
    expected = fn(np, a)
    x = leaf(a)
    for result in (fn(tg, x), fn(np, x)):
        assert isinstance(result, Tensor) and result.requires_grad
        assert type(result.data) is np.ndarray
        close(result, expected)


@pytest.mark.parametrize("name", IDS)
def test_gradcheck_both_modes_and_gradgradcheck(name):
    fn, a = USES[name]

    def f(x):
        return fn(tg, x) * 1.5

    assert tg.gradcheck(f, (leaf(a),))
    assert tg.gradcheck(f, (leaf(a),), mode="fwd")
    assert tg.gradgradcheck(lambda x: fn(tg, x) ** 2, (leaf(a),))


@pytest.mark.parametrize("name", IDS)
def test_float32_stays_float32(name):
    fn, a = USES[name]
    x = leaf(a, np.float32)
    out = fn(tg, x)
    # float64 arrays beside it (weights, append) promote, as in NumPy; numbers do not
    promoted = name in ("average weights", "average weights axes", "average weights same shape",
                        "diff ends")
    assert out.dtype == (np.float64 if promoted else np.float32)
    (gx,) = tg.autograd.grad(out, x, grad_outputs=np.ones(out.shape, dtype=out.dtype))
    assert gx.dtype == np.float32
    close(out, fn(np, a.astype(np.float32)), rtol=1e-5, atol=1e-6)


# --- hand-derived gradients ---------------------------------------------------------------------
G34 = RNG.standard_normal((3, 4))


def test_prod_gradient_by_hand():
    out, gx = grad_of(lambda x: tg.prod(x, axis=1), A, G34[:, 0])
    close(gx, G34[:, :1] * np.prod(A, axis=1, keepdims=True) / A, rtol=1e-10)
    out, gx = grad_of(lambda x: tg.prod(x, axis=(0, 2), keepdims=True), B)
    close(gx, np.prod(B, axis=(0, 2), keepdims=True) / B, rtol=1e-10)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cumsum_gradient_by_hand(axis):
    _, gx = grad_of(lambda x: tg.cumsum(x, axis=axis), A, G34)
    close(gx, np.flip(np.cumsum(np.flip(G34, axis), axis), axis), rtol=1e-10)


def test_cumsum_flat_gradient_by_hand():
    _, gx = grad_of(tg.cumsum, A, G34.ravel())
    close(gx, np.cumsum(G34.ravel()[::-1])[::-1].reshape(3, 4), rtol=1e-10)


def test_cumprod_gradient_by_hand():
    y = np.cumprod(A, axis=1)
    _, gx = grad_of(lambda x: tg.cumprod(x, axis=1), A, G34)
    expected = np.flip(np.cumsum(np.flip(G34 * y, 1), 1), 1) / A  # sum_{i>=j} g_i y_i / x_j
    close(gx, expected, rtol=1e-10)


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_and_std_gradients_by_hand(ddof):
    g = G34[0]
    n = A.shape[0]
    centred = A - A.mean(axis=0)
    _, gx = grad_of(lambda x: tg.var(x, axis=0, ddof=ddof), A, g)
    close(gx, g * 2 * centred / (n - ddof), rtol=1e-10)
    _, gx = grad_of(lambda x: tg.std(x, axis=0, ddof=ddof), A, g)
    close(gx, g * centred / ((n - ddof) * np.std(A, axis=0, ddof=ddof)), rtol=1e-10)


def test_average_gradients_by_hand_for_data_and_weights():
    x, w = leaf(A), leaf(W4)
    avg = tg.average(x, axis=1, weights=w)
    g = G34[:, 0]
    gx, gw = tg.autograd.grad(avg, (x, w), grad_outputs=g)
    total = W4.sum()
    close(gx, g[:, None] * W4 / total, rtol=1e-10)
    close(gw, (g[:, None] * (A - np.average(A, axis=1, weights=W4)[:, None]) / total).sum(0),
          rtol=1e-10)


def test_sort_gradient_goes_back_through_the_permutation():
    _, gx = grad_of(lambda x: tg.sort(x, axis=1), DISTINCT, G34)
    expected = np.empty_like(G34)
    np.put_along_axis(expected, np.argsort(DISTINCT, axis=1), G34, axis=1)
    close(gx, expected, rtol=1e-15)
    _, gx = grad_of(lambda x: tg.sort(x, axis=None), DISTINCT, G34.ravel())
    expected = np.empty(12)
    expected[np.argsort(DISTINCT, axis=None)] = G34.ravel()
    close(gx, expected.reshape(3, 4), rtol=1e-15)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_diff_gradient_by_hand(n):
    jac = np.diff(np.eye(4), n=n, axis=0)  # (4 - n, 4): row i is the i-th n-th difference
    g = G34[:, :4 - n]
    _, gx = grad_of(lambda x: tg.diff(x, n=n), A, g)
    close(gx, g @ jac, rtol=1e-10, atol=1e-13)


def test_diff_gradients_reach_tensor_ends():
    x, p, q = leaf(A), leaf(np.ones((3, 1))), leaf(0.7)
    out = tg.diff(x, axis=1, prepend=p, append=q)
    close(out, np.diff(A, axis=1, prepend=1.0, append=0.7))
    g = RNG.standard_normal(out.shape)
    gx, gp, gq = tg.autograd.grad(out, (x, p, q), grad_outputs=g)
    close(gp, -g[:, :1], rtol=1e-15)
    close(gq, g[:, -1].sum(), rtol=1e-12)
    close(gx, g[:, :-1] - g[:, 1:], rtol=1e-15)


# --- forward mode -------------------------------------------------------------------------------
V34 = RNG.standard_normal((3, 4))
JVPS = {
    "prod": (lambda x: tg.prod(x, axis=1),
             lambda v: (v * np.prod(A, axis=1, keepdims=True) / A).sum(1)),
    "cumsum": (lambda x: tg.cumsum(x, axis=0), lambda v: np.cumsum(v, axis=0)),
    "cumprod": (lambda x: tg.cumprod(x, axis=1),
                lambda v: np.cumprod(A, axis=1) * np.cumsum(v / A, axis=1)),
    "var": (lambda x: tg.var(x, axis=1, ddof=1),
            lambda v: (2 * (A - A.mean(1, keepdims=True)) * v).sum(1) / 3),
    "std": (lambda x: tg.std(x, axis=0),
            lambda v: ((A - A.mean(0)) * v).sum(0) / (3 * A.std(0))),
    "average": (lambda x: tg.average(x, axis=1, weights=W4), lambda v: v @ W4 / W4.sum()),
    "sort": (lambda x: tg.sort(x, axis=1),
             lambda v: np.take_along_axis(v, np.argsort(A, axis=1), axis=1)),
    "diff": (lambda x: tg.diff(x, n=2, axis=1), lambda v: v[:, 2:] - 2 * v[:, 1:-1] + v[:, :-2]),
}


@pytest.mark.parametrize("name", list(JVPS))
def test_jvp_matches_hand_formula(name):
    f, hand = JVPS[name]
    out, tangent = tg.jvp(f, (A,), (V34,))
    close(out, f(Tensor(A)).data)
    close(tangent, hand(V34), rtol=1e-10, atol=1e-12)


def test_jvp_with_respect_to_weights():
    _, tangent = tg.jvp(lambda w: tg.average(A, axis=1, weights=w), (W4,), (V34[0],))
    avg = np.average(A, axis=1, weights=W4)
    close(tangent, ((A - avg[:, None]) * V34[0]).sum(1) / W4.sum(), rtol=1e-10)


# --- against PyTorch ----------------------------------------------------------------------------
TORCH_USES = {
    "prod": (lambda m, x: m.prod(x, axis=1), lambda x: x.prod(1), A),
    "prod all": (lambda m, x: m.prod(x), lambda x: x.prod(), B),
    "cumsum": (lambda m, x: m.cumsum(x, axis=1), lambda x: x.cumsum(1), A),
    "cumsum flat": (lambda m, x: m.cumsum(x), lambda x: x.flatten().cumsum(0), B),
    "cumprod": (lambda m, x: m.cumprod(x, axis=-1), lambda x: x.cumprod(-1), B),
    "var": (lambda m, x: m.var(x, axis=1, ddof=1, keepdims=True),
            lambda x: x.var(1, correction=1, keepdim=True), A),
    "std": (lambda m, x: m.std(x, axis=(0, 2)), lambda x: x.std((0, 2), correction=0), B),
    "sort": (lambda m, x: m.sort(x, axis=0), lambda x: x.sort(dim=0, stable=True)[0], B),
    "diff": (lambda m, x: m.diff(x, n=2, axis=0), lambda x: x.diff(n=2, dim=0), B),
}


@pytest.mark.parametrize("name", list(TORCH_USES))
def test_gradient_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, torch_fn, a = TORCH_USES[name]
    g = RNG.standard_normal(fn(np, a).shape)
    out, gx = grad_of(lambda x: fn(tg, x), a, g)
    xt = torch.tensor(a, requires_grad=True)
    yt = torch_fn(xt)
    yt.backward(torch.tensor(g))
    close(out, yt.detach().numpy(), rtol=1e-12)
    close(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_average_gradients_match_torch():
    torch = pytest.importorskip("torch")
    x, w = leaf(A), leaf(W4)
    gx, gw = tg.autograd.grad(tg.average(x, axis=1, weights=w).sum(), (x, w))
    xt, wt = torch.tensor(A, requires_grad=True), torch.tensor(W4, requires_grad=True)
    ((xt * wt).sum(1) / wt.sum()).sum().backward()
    close(gx, xt.grad.numpy(), rtol=1e-10)
    close(gw, wt.grad.numpy(), rtol=1e-10)


# --- edge cases as PyTorch ----------------------------------------------------------------------
ZEROS = np.array([[1.5, 0.0, 3.0, 4.0],    # one zero
                  [1.0, 0.0, -3.0, 0.0],   # two zeros
                  [0.0, 2.0, 3.0, 0.5],    # a zero first
                  [2.0, -1.0, 0.5, 0.0]])  # a zero last


def test_prod_and_cumprod_with_zeros_match_torch():
    torch = pytest.importorskip("torch")
    g = RNG.standard_normal((4, 4))
    for axis in (0, 1):
        for op in ("prod", "cumprod"):
            def fn(x, op=op, axis=axis):
                return getattr(tg, op)(x, axis=axis)
            out, gx = grad_of(fn, ZEROS, g[:, 0] if op == "prod" else g)
            xt = torch.tensor(ZEROS, requires_grad=True)
            yt = getattr(torch, op)(xt, axis)
            yt.backward(torch.tensor(g[:, 0] if op == "prod" else g))
            close(out, yt.detach().numpy())
            close(gx, xt.grad.numpy(), rtol=1e-12)
    # by hand: one zero gets the product of the others, two zeros give zeros
    _, gx = grad_of(lambda x: tg.prod(x, axis=1), ZEROS)
    close(gx, [[0, 18, 0, 0], [0, 0, 0, 0], [3, 0, 0, 0], [0, 0, 0, -1]])


def test_prod_jvp_with_zeros_matches_reverse_mode():
    v = RNG.standard_normal((4, 4))
    _, tangent = tg.jvp(lambda x: tg.prod(x, axis=1), (ZEROS,), (v,))
    _, gx = grad_of(lambda x: tg.prod(x, axis=1), ZEROS)
    close(tangent, (gx * v).sum(1), rtol=1e-12)


def test_cumprod_jvp_with_zeros_matches_reverse_mode():
    f = lambda x: tg.cumprod(x, axis=1)  # noqa: E731
    jac_fwd = tg.jacfwd(f)(ZEROS)
    jac_rev = tg.jacrev(f)(ZEROS)
    close(jac_fwd, jac_rev.data, rtol=1e-12)
    torch = pytest.importorskip("torch")
    expected = torch.autograd.functional.jacobian(lambda x: x.cumprod(1), torch.tensor(ZEROS))
    close(jac_rev, expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("x0", [[1.5, 0.0, -2.0, 0.7], [0.0, 1.5, 0.0, 0.7],
                                [1.5, 0.5, -2.0, 0.7]])
@pytest.mark.parametrize("op", ["cumprod", "prod"])
def test_second_derivatives_with_zeros_match_torch(op, x0):
    torch = pytest.importorskip("torch")
    x0 = np.array(x0)
    c = np.arange(1.0, 5.0)

    def f(x):
        return (getattr(tg, op)(x, axis=0) * (c if op == "cumprod" else 1.0)).sum()

    def f_torch(x):
        y = x.cumprod(0) * torch.tensor(c) if op == "cumprod" else x.prod(0)
        return y.sum()

    expected = torch.autograd.functional.hessian(f_torch, torch.tensor(x0)).numpy()
    close(tg.hessian(f)(x0), expected, rtol=1e-12)
    close(tg.jacfwd(tg.grad(f))(x0), expected, rtol=1e-12)  # forward over reverse


def test_cumprod_large_tensor_rule_is_exact_to_first_order_at_zeros(monkeypatch):
    # beyond the n x n budget the rules on Tensors take the O(n) path: exact first derivatives
    # at zeros, exact second derivatives away from them
    from tinygrad_mv.ops import statistics
    monkeypatch.setattr(statistics, "_SQUARE_UP_TO", 0)
    x = leaf(ZEROS)
    g = RNG.standard_normal((4, 4))
    (gx,) = tg.autograd.grad(tg.cumprod(x, axis=1), x, grad_outputs=leaf(g), create_graph=True)
    monkeypatch.undo()
    _, expected = grad_of(lambda t: tg.cumprod(t, axis=1), ZEROS, g)
    close(gx, expected, rtol=1e-12)
    monkeypatch.setattr(statistics, "_SQUARE_UP_TO", 0)
    assert tg.gradgradcheck(lambda t: tg.cumprod(t, axis=1), (leaf(A),))
    assert tg.gradgradcheck(lambda t: tg.prod(t, axis=0), (leaf(A),))
    c = np.arange(1.0, 5.0)

    def grad_f(t):
        return tg.grad(lambda u: (tg.cumprod(u, axis=0) * c).sum())(t)

    x0, v = np.array([1.5, 0.5, -2.0, 0.7]), np.array([0.3, -1.0, 0.2, 0.9])
    _, tangent = tg.jvp(grad_f, (x0,), (v,))  # forward over reverse, on the O(n) rules
    monkeypatch.undo()
    close(tangent, tg.hessian(lambda u: (tg.cumprod(u, axis=0) * c).sum())(x0).data @ v,
          rtol=1e-12)


@pytest.mark.parametrize("ddof", [0, 1])
def test_std_at_zero_spread_has_zero_gradient_as_torch(ddof):
    torch = pytest.importorskip("torch")
    constant = np.array([[2.0, 2.0, 2.0], [1.0, 3.0, 2.0]])
    out, gx = grad_of(lambda x: tg.std(x, axis=1, ddof=ddof), constant)
    xt = torch.tensor(constant, requires_grad=True)
    xt.std(1, correction=ddof).sum().backward()
    close(out, np.std(constant, axis=1, ddof=ddof))
    close(gx, xt.grad.numpy(), rtol=1e-12)
    assert np.all(gx[0] == 0)
    _, tangent = tg.jvp(lambda x: tg.std(x, axis=1, ddof=ddof), (constant,), (np.ones((2, 3)),))
    assert tangent.data[0] == 0


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_and_std_with_no_degrees_of_freedom_give_nan_as_torch(op):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings(record=True) as caught:  # NumPy warns, as it does
        warnings.simplefilter("always")
        out, gx = grad_of(lambda x: getattr(tg, op)(x, ddof=1), np.array([2.0]))
    assert any("Degrees of freedom" in str(w.message) for w in caught)
    xt = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    with pytest.warns(UserWarning):
        getattr(xt, op)(correction=1).backward()
    assert np.isnan(out.data) and np.isnan(gx).all() and torch.isnan(xt.grad).all()


@pytest.mark.parametrize("kind", [None, "quicksort", "heapsort", "stable"])
def test_sort_ties_send_each_gradient_where_torch_stable_sort_does(kind):
    torch = pytest.importorskip("torch")
    # many ties in long rows: an unstable order would send gradients elsewhere
    ties = np.vstack([[3.0, 1.0, 3.0, 1.0, 2.0] * 8, np.random.default_rng(5).integers(0, 3, 40)])
    g = RNG.standard_normal((2, 40))
    out, gx = grad_of(lambda x: tg.sort(x, kind=kind), ties, g)
    xt = torch.tensor(ties, requires_grad=True)
    values, _ = torch.sort(xt, dim=-1, stable=True)
    values.backward(torch.tensor(g))
    close(out, values.detach().numpy())
    close(gx, xt.grad.numpy(), rtol=1e-15)


def test_sort_with_nan_puts_it_last_as_numpy_and_torch():
    torch = pytest.importorskip("torch")
    a = np.array([3.0, np.nan, 1.0, 2.0])
    out, gx = grad_of(tg.sort, a, np.arange(4.0))
    xt = torch.tensor(a, requires_grad=True)
    xt.sort(stable=True)[0].backward(torch.arange(4.0, dtype=torch.float64))
    np.testing.assert_array_equal(out.data, np.sort(a))
    close(gx, xt.grad.numpy())


def test_sort_replayed_by_jit_follows_the_new_order():
    def f(x):
        return (tg.sort(x) * np.arange(4.0)).sum()
    jitted = tg.jit(tg.grad(f))
    for seed in range(3):
        x = np.random.default_rng(seed).standard_normal(4)
        expected = np.empty(4)
        expected[np.argsort(x)] = np.arange(4.0)
        close(jitted(x), expected)


def test_prod_and_cumprod_replayed_by_jit_with_zeros():
    grad = tg.grad(lambda x: tg.prod(x) + tg.cumprod(x, axis=0).sum())
    jitted = tg.jit(grad)
    for x in (np.array([1.5, -2.0, 0.5]), np.array([1.5, 0.0, 0.5]), np.array([0.0, 2.0, 0.0])):
        close(jitted(x), grad(x).data)


def test_cumprod_second_derivatives_and_tangents_replayed_by_jit():
    # the rules on Tensors multiply by a triangle of ones made with NumPy, which tg.jit must take
    # for a constant, not for a mask read from the data (that would refuse hessian, hvp and jvp)
    c = np.arange(1.0, 5.0)

    def f(x):
        return (tg.cumprod(x, axis=0) * c).sum()
    hessian = tg.jit(tg.hessian(f))
    hvp = tg.jit(lambda x, v: tg.hvp(f, (x,), (v,)))
    jvp = tg.jit(lambda x, v: tg.jvp(lambda u: tg.cumprod(u, axis=0), (x,), (v,)))
    v = np.array([0.3, -1.0, 0.2, 0.9])
    for x in (np.array([1.5, 0.5, -2.0, 0.7]), np.array([0.0, 1.5, 0.0, 0.7]),
              np.array([1.5, 0.0, -2.0, 0.7])):
        assert hessian(x).data.tobytes() == tg.hessian(f)(x).data.tobytes()
        assert hvp(x, v).data.tobytes() == tg.hvp(f, (x,), (v,)).data.tobytes()
        close(jvp(x, v)[1], tg.jvp(lambda u: tg.cumprod(u, axis=0), (x,), (v,))[1], rtol=1e-14)


def test_average_returned_and_defaults():
    avg, total = tg.average(leaf(A), axis=1, weights=leaf(W4), returned=True)
    expected_avg, expected_total = np.average(A, axis=1, weights=W4, returned=True)
    close(avg, expected_avg)
    close(total, expected_total)
    assert total.requires_grad
    avg, count = np.average(leaf(B), axis=(0, 2), returned=True, keepdims=True)
    expected_avg, expected_count = np.average(B, axis=(0, 2), returned=True, keepdims=True)
    close(avg, expected_avg)
    close(count, expected_count)
    avg, total = tg.average(A, weights=A ** 2, returned=True)
    close(total, np.average(A, weights=A ** 2, returned=True)[1])


def test_average_with_weights_summing_to_zero_raises_as_numpy():
    w = np.array([1.0, -1.0, 2.0, -2.0])
    with pytest.raises(ZeroDivisionError):
        np.average(A, axis=1, weights=w)
    with pytest.raises(ZeroDivisionError, match="average: weights sum to zero"):
        tg.average(leaf(A), axis=1, weights=leaf(w))


def test_zero_d_and_empty_inputs():
    x = leaf(2.5)
    close(tg.prod(x), np.prod(2.5))
    close(tg.cumsum(x), np.cumsum(np.array(2.5)))
    close(tg.cumprod(x, axis=0), np.cumprod(np.array(2.5), axis=0))
    close(tg.sort(x, axis=None), np.sort(np.array(2.5), axis=None))
    close(tg.var(x), 0.0)
    (gx,) = tg.autograd.grad(tg.prod(x) * tg.cumsum(x).sum(), x)
    close(gx, 5.0)
    empty = leaf(np.ones((2, 0)))
    out = tg.prod(empty, axis=1)
    close(out, np.ones(2))
    (gx,) = tg.autograd.grad(out.sum(), empty)
    assert gx.shape == (2, 0)
    assert tg.diff(leaf([1.0, 2.0]), n=0).shape == (2,)
    assert tg.diff(leaf([1.0, 2.0]), n=3).shape == (0,)


def test_keyword_spellings():
    x = leaf(A)
    close(tg.var(x, axis=1, correction=1), np.var(A, axis=1, correction=1))
    close(np.std(x, axis=np.int64(0), ddof=np.int64(1)), np.std(A, axis=0, ddof=1))
    close(tg.prod(x, axis=np.int64(-1), keepdims=np.True_), np.prod(A, axis=-1, keepdims=True))
    close(tg.sort(x, stable=True), np.sort(A, stable=True))
    close(np.diff(x, append=[[1.0]] * 3, prepend=np.arange(3.0)[:, None]),
          np.diff(A, append=[[1.0]] * 3, prepend=np.arange(3.0)[:, None]))
    close(tg.average(x, axis=-2, weights=[1, 2, 3]), np.average(A, axis=-2, weights=[1, 2, 3]))
    assert tg.average(leaf(A, np.float32), axis=0, weights=[1, 2, 3]).dtype == np.float32


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, match", [
    (lambda x: tg.prod(x, axis=2), np.exceptions.AxisError, "prod: axis 2 is out of range"),
    (lambda x: tg.prod(x, dtype=np.float32), TypeError, "prod: unsupported.*dtype"),
    (lambda x: np.prod(x, where=True), TypeError, "prod: unsupported.*where"),
    (lambda x: np.prod(x, initial=1.0), TypeError, "prod: unsupported.*initial"),
    (lambda x: tg.cumsum(x, axis=(0, 1)), TypeError, "cumsum: axis must be an int"),
    (lambda x: tg.cumsum(x, axis=-3), np.exceptions.AxisError, "cumsum: axis -3"),
    (lambda x: np.cumsum(x, out=np.empty(12)), TypeError, "cumsum: unsupported.*out"),
    (lambda x: tg.cumprod(x, axis=1.0), TypeError, "cumprod: axis must be an int"),
    (lambda x: tg.cumprod(x, dtype=np.float64), TypeError, "cumprod: unsupported.*dtype"),
    (lambda x: tg.var(x, axis=5), np.exceptions.AxisError, "var: axis 5"),
    (lambda x: tg.var(x, ddof="1"), TypeError, "var: ddof must be a number"),
    (lambda x: tg.var(x, ddof=1, correction=1), ValueError, "var: ddof and correction"),
    (lambda x: np.std(x, mean=np.zeros(4)), TypeError, "std: unsupported.*mean"),
    (lambda x: tg.std(x, axis=(1, 1)), ValueError, "std: repeated axis"),
    (lambda x: tg.average(x, weights=W4), TypeError, "average: axis must be specified"),
    (lambda x: tg.average(x, axis=0, weights=W4), ValueError, "average: weights of shape"),
    (lambda x: tg.average(x, axis=2), np.exceptions.AxisError, "average: axis 2"),
    (lambda x: tg.sort(x, axis=2), np.exceptions.AxisError, "sort: axis 2"),
    (lambda x: tg.sort(x, kind="bubble"), ValueError, "sort: kind must be one of"),
    (lambda x: tg.sort(x, order="f"), TypeError, "sort: unsupported.*order"),
    (lambda x: tg.sort(x[0, 0]), np.exceptions.AxisError, "sort: axis -1 .* 0-d"),
    (lambda x: tg.diff(x, n=-1), ValueError, "diff: order must be non-negative"),
    (lambda x: tg.diff(x, n=1.5), TypeError, "diff: n must be an int"),
    (lambda x: tg.diff(x[0, 0]), ValueError, "diff: requires input that is at least one"),
    (lambda x: tg.diff(x, axis=3), np.exceptions.AxisError, "diff: axis 3"),
    (lambda x: tg.diff(x, prepend=np.ones((2, 1))), ValueError, "diff: prepend/append do not"),
    (lambda x: tg.diff(x, append="a"), TypeError, "diff: prepend/append must be numeric"),
])
def test_bad_input_names_the_op(call, error, match):
    with pytest.raises(error, match=match):
        call(leaf(A))
