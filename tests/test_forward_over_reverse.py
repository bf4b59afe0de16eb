"""Forward over reverse: ``tg.jvp(tg.grad(f))`` carries tangents through the recorded backward
pass, and ``tg.hessian`` / ``tg.hvp`` push tangents through the recorded gradient (one forward
rule pass per direction). Checked against hand-derived Hessians, against reverse over reverse
(``functional.hessian_by_reverse``), and with the fallbacks (inside other transforms, tg.jit, an
operation without forward rules, values the tape did not keep) giving the same numbers."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, functional


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


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
