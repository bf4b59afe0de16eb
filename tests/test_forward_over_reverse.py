"""Forward over reverse: ``tg.jvp(tg.grad(f))`` carries tangents through the recorded backward
pass, and ``tg.hessian`` / ``tg.hvp`` push tangents through the recorded gradient (one forward
rule pass per direction). Checked against hand-derived Hessians, against reverse over reverse
(``functional.hessian_by_reverse``), and with the fallbacks (inside other transforms, tg.jit, an
operation without forward rules, values the tape did not keep) giving the same numbers."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, functional

from functions import rosenbrock


def rosenbrock_hessian(x: np.ndarray) -> np.ndarray:
    """Written out by hand: the tridiagonal Hessian of the chained Rosenbrock function."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 2 + 1200 * x[i] ** 2 - 400 * x[i + 1]
        h[i + 1, i + 1] += 200
        h[i, i + 1] -= 400 * x[i]
        h[i + 1, i] -= 400 * x[i]
    return h


def mixed(x):
    return (tg.sin(x) * x[::-1]).sum() * tg.exp(x).sum() + tg.logsumexp(x * x, axis=0)


X = np.array([0.3, -0.7, 1.2, 0.5])
V = np.array([1.0, 0.5, -2.0, 0.25])


@pytest.fixture
def no_fallback(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("fell back on reverse over reverse")
    monkeypatch.setattr(functional, "jvp_by_reverse", refuse)
    monkeypatch.setattr(functional, "hessian_by_reverse", lambda f, argnums=0: refuse)
    monkeypatch.setattr(functional, "hvp_by_reverse", refuse)


def test_jvp_of_grad_carries_tangents_through_the_backward_pass(no_fallback):
    out, tangent = tg.jvp(tg.grad(rosenbrock), (X,), (V,))
    np.testing.assert_allclose(out.data, tg.grad(rosenbrock)(X).data, rtol=1e-14)
    np.testing.assert_allclose(tangent.data, rosenbrock_hessian(X) @ V, rtol=1e-12)


def test_hessian_is_forward_over_reverse_and_matches_the_hand_formula(no_fallback):
    np.testing.assert_allclose(tg.hessian(rosenbrock)(X).data, rosenbrock_hessian(X),
                               rtol=1e-12, atol=1e-12)


def test_hvp_is_forward_over_reverse_and_matches_the_hand_formula(no_fallback):
    np.testing.assert_allclose(tg.hvp(rosenbrock, (X,), (V,)).data, rosenbrock_hessian(X) @ V,
                               rtol=1e-12)


@pytest.mark.parametrize("f", [mixed, lambda x: tg.sigmoid(x @ x) * tg.tanh(x).prod(),
                               lambda x: np.linalg.norm(np.cumsum(x) * x[::-1]) ** 3,
                               lambda x: tg.softmax(x.reshape(2, 2), axis=1)[0, 1] ** 2])
def test_forward_over_reverse_equals_reverse_over_reverse(f):
    expected = functional.hessian_by_reverse(f)(X).data
    np.testing.assert_allclose(tg.hessian(f)(X).data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tg.hvp(f, (X,), (V,)).data, expected @ V, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tg.jvp(tg.grad(f), (X,), (V,))[1].data, expected @ V,
                               rtol=1e-10, atol=1e-12)


def test_hvp_with_several_primals():
    def f(a, b):
        return (a * a * b).sum() + (b ** 3).sum()
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    va, vb = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    ha, hb = tg.hvp(f, (a, b), (va, vb))
    # d2f/da2 = 2b, d2f/dadb = 2a, d2f/db2 = 6b (all diagonal)
    np.testing.assert_allclose(ha.data, 2 * b * va + 2 * a * vb, rtol=1e-14)
    np.testing.assert_allclose(hb.data, 2 * a * va + 6 * b * vb, rtol=1e-14)


def test_fallbacks_give_the_same_numbers():
    expected = rosenbrock_hessian(X)
    # inside tg.jit (recorded NumPy calls), with other inputs on the replay
    jitted = tg.jit(tg.hessian(rosenbrock))
    jitted(X)
    np.testing.assert_allclose(jitted(X + 0.1).data, rosenbrock_hessian(X + 0.1), rtol=1e-12)
    # inside another transform: a third derivative
    third = tg.grad(lambda x: tg.hessian(rosenbrock)(x)[0, 0])(X)
    np.testing.assert_allclose(third.data, [2400 * X[0], -400, 0, 0], rtol=1e-12, atol=1e-12)
    # an operation without forward rules
    cube = tg.primitive("cube", lambda x: x ** 3, lambda g, out, x: g * 3 * x * x)
    np.testing.assert_allclose(tg.hessian(lambda x: cube(x).sum())(X).data, np.diag(6 * X),
                               rtol=1e-14)
    np.testing.assert_allclose(expected @ V, tg.hvp(rosenbrock, (X,), (V,)).data, rtol=1e-12)


def test_large_values_the_tape_did_not_keep():
    x = np.linspace(-1, 1, 70_000)  # above the size whose unread values the tape drops
    v = np.cos(np.arange(x.size))
    got = tg.hvp(lambda t: (tg.exp(t) * t).sum() + (t ** 3).sum(), (x,), (v,)).data
    np.testing.assert_allclose(got, (np.exp(x) * (x + 2) + 6 * x) * v, rtol=1e-12, atol=1e-15)


def test_grad_of_a_function_calling_jvp_still_works():
    def f(x):
        return tg.jvp(lambda t: (t ** 3).sum(), (x,), (Tensor(np.ones(2)),))[1]
    np.testing.assert_allclose(tg.grad(f)(np.array([1.0, 2.0])).data, [6.0, 12.0], rtol=1e-14)


# --- operations whose params bear any name -------------------------------------------------
def _sine_cubed(param: str) -> Callable:
    """sum(sin(x)^3) through two user primitives with a static param called ``param``, the first's
    VJP rule calling the second: both are in the gradient graph the Hessian sweeps."""
    def d_forward(x: Any, **kw: Any) -> Any:
        return 3 * x ** 2 if kw[param] == "cube" else 2 * x

    def d_rule(g: Any, out: Any, x: Any, **kw: Any) -> Any:
        return g * (6 * x if kw[param] == "cube" else 2.0)

    derivative = tg.primitive("derivative_" + param, d_forward, d_rule, jvps=(d_rule,))

    def forward(x: Any, **kw: Any) -> Any:
        return x ** 3 if kw[param] == "cube" else x ** 2

    def rule(g: Any, out: Any, x: Any, **kw: Any) -> Any:
        return g * derivative(x, **kw)

    def rule_jvp(t: Any, out: Any, x: Any, **kw: Any) -> Any:
        return t * d_forward(x, **kw)

    power = tg.primitive("power_" + param, forward, rule, jvps=(rule_jvp,))
    return lambda x: power(x.sin(), **{param: "cube"}).sum()


@pytest.mark.parametrize("param", ["rule", "batching"])
def test_a_params_name_is_its_own(param: str) -> None:
    """The batched sweep binds its own arguments positionally: an operation's param called
    ``rule`` or ``batching`` reaches the operation's rules, eagerly and replayed."""
    f = _sine_cubed(param)
    jitted = tg.jit(tg.hessian(f))
    for x in (np.array([0.3, -0.5, 1.2]), np.array([-1.0, 0.25, 2.0])):
        expected = tg.functional.hessian_by_reverse(f)(Tensor(x)).data
        eager = tg.hessian(f)(Tensor(x)).data
        np.testing.assert_allclose(eager, expected, rtol=1e-12, atol=1e-14)
        assert jitted(x).data.tobytes() == eager.tobytes()


# --- constants in the function -------------------------------------------------------------
@pytest.mark.parametrize("as_tensor", [False, True])
def test_second_derivatives_through_a_constant_matrix_replay(as_tensor: bool) -> None:
    """x^T A x and sin(x W) with A and W constants (arrays or Tensors without grad): what matmul's
    rules do with them is recorded, so tg.jit replays hessian and hvp (it once refused them as
    piecewise) with the eager bits."""
    rng = np.random.default_rng(3)
    A, W = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    A, W = (Tensor(A), Tensor(W)) if as_tensor else (A, W)
    for f, exact in ((lambda x: x @ A @ x, lambda x: np.asarray(A) + np.asarray(A).T),
                     (lambda x: (x @ W).sin().sum(), None)):
        hessian = tg.jit(tg.hessian(f))
        hvp = tg.jit(lambda x, v, f=f: tg.hvp(f, (x,), (v,)))
        for x in rng.standard_normal((3, 3)):
            v = rng.standard_normal(3)
            want = tg.hessian(f)(x).data
            assert hessian(x).data.tobytes() == want.tobytes()
            assert hvp(x, v).data.tobytes() == tg.hvp(f, (x,), (v,)).data.tobytes()
            if exact is not None:
                np.testing.assert_allclose(want, exact(x), rtol=1e-14)
        assert hessian.recordings == hvp.recordings == 1


# --- partial derivatives across arguments ---------------------------------------------------------
# f(x, y) = sum(x^2 y) + sum(sin(x)) y0: grad_x = 2 x y + cos(x) y0, so d(grad_x)/dx = diag(2 y -
# sin(x) y0) and d(grad_x)/dy = diag(2 x) + cos(x) e0^T, written out by hand.
X2, Y2 = np.array([0.3, -1.2]), np.array([0.7, 1.5])
VX, VY = np.array([1.0, 2.0]), np.array([0.5, -1.0])


def two_args(x, y):
    return (x ** 2 * y).sum() + tg.sin(x).sum() * y[0]


def hand_blocks(x, y):
    hxx = np.diag(2 * y - np.sin(x) * y[0])
    hxy = np.diag(2 * x)
    hxy[:, 0] += np.cos(x)
    hyy = np.zeros((2, 2))
    return hxx, hxy, hyy


def test_jvp_of_a_gradient_carries_the_tangents_of_arguments_not_differentiated():
    """jvp(grad in x) with y carrying a tangent too: y's part, d(grad_x)/dy vy, was dropped (the
    recorded backward pass rebuilt y as a bare constant), silently."""
    hxx, hxy, _ = hand_blocks(X2, Y2)
    want = hxx @ VX + hxy @ VY
    by_args = tg.jvp(lambda x, y: tg.grad(two_args, argnums=0)(x, y), (X2, Y2), (VX, VY))[1]
    np.testing.assert_allclose(by_args.data, want, rtol=1e-13)
    closure = tg.jvp(lambda x, y: tg.grad(lambda x: two_args(x, y))(x), (X2, Y2), (VX, VY))[1]
    np.testing.assert_allclose(closure.data, want, rtol=1e-13)


def test_jacfwd_of_a_gradient_in_another_argument_is_the_mixed_block():
    hxx, hxy, _ = hand_blocks(X2, Y2)
    np.testing.assert_allclose(tg.jacfwd(tg.grad(two_args), argnums=1)(X2, Y2).data, hxy,
                               rtol=1e-13)
    np.testing.assert_allclose(tg.jacrev(tg.grad(two_args), argnums=1)(X2, Y2).data, hxy,
                               rtol=1e-13)
    np.testing.assert_allclose(tg.jacfwd(tg.grad(two_args), argnums=0)(X2, Y2).data, hxx,
                               rtol=1e-13)


def test_hessian_over_several_arguments_gives_blocks_as_jax():
    """A tuple argnums gives a tuple of tuples of blocks, [i][j] of shape x_i.shape + x_j.shape
    (as jax.hessian); it was refused."""
    hxx, hxy, hyy = hand_blocks(X2, Y2)
    blocks = tg.hessian(two_args, argnums=(0, 1))(X2, Y2)
    want = ((hxx, hxy), (hxy.T, hyy))
    for row, want_row in zip(blocks, want):
        for block, w in zip(row, want_row):
            np.testing.assert_allclose(block.data, w, rtol=1e-13, atol=1e-15)
    (only,), = tg.hessian(two_args, argnums=(1,))(X2, Y2)
    np.testing.assert_allclose(only.data, tg.hessian(two_args, argnums=1)(X2, Y2).data)
    with pytest.raises(ValueError, match=r"hessian: argnums=\(0, 5\) is out of range"):
        tg.hessian(two_args, argnums=(0, 5))(X2, Y2)


def test_hessian_blocks_match_torch():
    torch = pytest.importorskip("torch")

    def torch_f(x, y):
        return (x ** 2 * y).sum() + torch.sin(x).sum() * y[0]
    want = torch.autograd.functional.hessian(torch_f, (torch.tensor(X2), torch.tensor(Y2)))
    blocks = tg.hessian(two_args, argnums=(0, 1))(X2, Y2)
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(blocks[i][j].data, want[i][j].numpy(), rtol=1e-13,
                                       atol=1e-15)


def test_a_gradient_through_a_dual_constant_carries_its_tangent(no_fallback):
    """tg.grad in x of f(x, y) where y alone carries a tangent (fwAD.make_dual, or a closure
    inside tg.jvp): the backward pass ran on arrays, so the gradient had no tangent at all
    (fwAD) or tg.jvp fell back on reverse over reverse. As torch.func.grad under forward_ad."""
    import tinygrad_mv.forward_ad as fwAD
    _, hxy, _ = hand_blocks(X2, Y2)
    with fwAD.dual_level():
        y = fwAD.make_dual(Tensor(Y2), Tensor(VY))
        for g in (tg.grad(lambda x: two_args(x, y))(X2), tg.grad(two_args)(X2, y)):
            np.testing.assert_allclose(fwAD.unpack_dual(g).tangent.data, hxy @ VY, rtol=1e-13)
    closure = tg.jvp(lambda y: tg.grad(lambda x: two_args(x, y))(X2), (Y2,), (VY,))[1]
    np.testing.assert_allclose(closure.data, hxy @ VY, rtol=1e-13)
