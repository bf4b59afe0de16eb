"""Second and third derivatives through create_graph, against hand-derived formulas and central
differences of the next-lower derivative."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, fd_jacobian

grad = tg.autograd.grad


def _sig(x):
    return 1 / (1 + np.exp(-x))


P = 2.5  # a non-integer power
# name -> (function, [f', f'', f'''] by hand, domain)
ELEMENTWISE = {
    "exp": (tg.exp, [np.exp, np.exp, np.exp], (-1.5, 1.5)),
    "log": (tg.log, [lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3], (0.5, 2.0)),
    "sqrt": (tg.sqrt, [lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5,
                       lambda x: 0.375 * x**-2.5], (0.5, 2.0)),
    "sin": (tg.sin, [np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x)], (-2, 2)),
    "cos": (tg.cos, [lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin], (-2, 2)),
    "tan": (tg.tan, [lambda x: 1 + np.tan(x) ** 2,
                     lambda x: 2 * np.tan(x) * (1 + np.tan(x) ** 2),
                     lambda x: (2 + 6 * np.tan(x) ** 2) * (1 + np.tan(x) ** 2)], (-1, 1)),
    "tanh": (tg.tanh, [lambda x: 1 - np.tanh(x) ** 2,
                       lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
                       lambda x: (6 * np.tanh(x) ** 2 - 2) * (1 - np.tanh(x) ** 2)], (-1.5, 1.5)),
    "sigmoid": (tg.sigmoid, [lambda x: _sig(x) * (1 - _sig(x)),
                             lambda x: _sig(x) * (1 - _sig(x)) * (1 - 2 * _sig(x)),
                             lambda x: _sig(x) * (1 - _sig(x))
                             * (1 - 6 * _sig(x) + 6 * _sig(x) ** 2)], (-3, 3)),
    "pow-3": (lambda x: x**3, [lambda x: 3 * x**2, lambda x: 6 * x, lambda x: 6 + 0 * x],
              (-2, 2)),
    "pow-2.5": (lambda x: x**P, [lambda x: P * x ** (P - 1), lambda x: P * (P - 1) * x ** (P - 2),
                                 lambda x: P * (P - 1) * (P - 2) * x ** (P - 3)], (0.5, 2.0)),
    "rpow": (lambda x: 3.0**x, [lambda x, k=k: np.log(3) ** k * 3.0**x for k in (1, 2, 3)],
             (-1, 1)),
    "div": (lambda x: 2.0 / x, [lambda x: -2 / x**2, lambda x: 4 / x**3, lambda x: -12 / x**4],
            (0.5, 2.0)),
    "mul-self": (lambda x: x * x * x, [lambda x: 3 * x**2, lambda x: 6 * x, lambda x: 6 + 0 * x],
                 (-2, 2)),
}


def _nested_derivatives(fn, x: np.ndarray, order: int) -> list[np.ndarray]:
    """f', f'', ... of an elementwise ``fn`` at each point of ``x``: for elementwise functions the
    gradient of sum(f^(k)(x)) is f^(k+1)(x)."""
    t = Tensor(x, requires_grad=True)
    current = fn(t)
    out = []
    for k in range(order):
        (current,) = grad(current.sum(), t, create_graph=k < order - 1)
        out.append(current.data)
    return out


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_derivatives_to_third_order(name, rng):
    fn, formulas, (lo, hi) = ELEMENTWISE[name]
    x = rng.uniform(lo, hi, 5)
    derivatives = _nested_derivatives(fn, x, 3)
    for k, (got, formula) in enumerate(zip(derivatives, formulas), start=1):
        assert_close(got, formula(x), 1e-12, 1e-12, what=f"derivative {k}")
    # central differences of each derivative give the next one
    for k in (1, 2):
        def lower(z, k=k):
            return _nested_derivatives(fn, z, k)[-1]
        numeric = np.diag(fd_jacobian(lower, x))
        assert_close(derivatives[k], numeric, 1e-6, 1e-6, what=f"FD of derivative {k}")


def test_square_second_derivative_is_constant(rng):
    # (x^2)'' = 2 does not depend on x, so there is no third derivative to take by reverse mode
    # (as in PyTorch); the first two are checked here.
    x = rng.uniform(-2, 2, 5)
    first, second = _nested_derivatives(tg.square, x, 2)
    assert_close(first, 2 * x, 1e-15, 0)
    assert_close(second, np.full(5, 2.0), 0, 0)


def test_create_graph_gradients_are_tensors_on_the_tape():
    x = Tensor([0.3, 0.7], requires_grad=True)
    (g,) = grad(tg.sin(x).sum(), x, create_graph=True)
    assert isinstance(g, Tensor) and g.requires_grad and g.grad_fn is not None
    (g_plain,) = grad(tg.sin(x).sum(), x)
    assert not g_plain.requires_grad


def test_backward_create_graph_then_backward_again():
    x = Tensor([0.5, 1.5], requires_grad=True)
    (x**4).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    assert_close(x.grad, 12 * np.array([0.5, 1.5]) ** 2, 1e-14, 0)


# --- mixed partials of binary operations ---------------------------------------------------------
def _mixed(fn, a: np.ndarray, b: np.ndarray):
    """d^2 sum(fn(a, b)) / da db, elementwise (both inputs the same shape)."""
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    (ga,) = grad(fn(ta, tb).sum(), ta, create_graph=True)
    (gab,) = grad(ga.sum(), tb)
    return gab.data


def test_mixed_partials_of_pow_div_mul(rng):
    a, b = rng.uniform(0.5, 2, 4), rng.uniform(0.5, 2, 4)
    # d2(a^b)/da db = a^(b-1) (1 + b log a)
    assert_close(_mixed(lambda x, y: x**y, a, b), a ** (b - 1) * (1 + b * np.log(a)), 1e-12, 0)
    # d2(a/b)/da db = -1 / b^2
    assert_close(_mixed(lambda x, y: x / y, a, b), -1 / b**2, 1e-12, 0)
    # d2(a * b * a)/da db = 2 a
    assert_close(_mixed(lambda x, y: x * y * x, a, b), 2 * a, 1e-12, 0)
    # d3(a^b)/db^3 = a^b log(a)^3
    tb = Tensor(b, requires_grad=True)
    current = Tensor(a) ** tb
    for k in range(3):
        (current,) = grad(current.sum(), tb, create_graph=k < 2)
    assert_close(current, a**b * np.log(a) ** 3, 1e-12, 1e-14)


# --- Hessians of non-elementwise functions ------------------------------------------------------
def _gradient(fn, x: np.ndarray) -> np.ndarray:
    """A first-order gradient (no create_graph): the lower derivative for finite differences."""
    t = Tensor(x, requires_grad=True)
    (g,) = grad(fn(t), t)
    return g.data


def _hessian(fn, x: np.ndarray) -> np.ndarray:
    """The Hessian, one reverse pass through the create_graph gradient per row."""
    t = Tensor(x, requires_grad=True)
    (g,) = grad(fn(t), t, create_graph=True)
    flat = g.reshape(-1)
    rows = [grad(flat[k], t, retain_graph=True)[0].data.ravel() for k in range(x.size)]
    return np.array(rows).reshape(x.shape + x.shape)


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


C = np.array([0.5, -1.0, 2.0, 0.25])


def _softmax_dot_c_hessian(x):
    # f = s . c, grad_i = s_i (c_i - s.c); differentiating once more:
    # H_ij = s_i (c_i - s.c) (delta_ij - s_j) - s_i s_j (c_j - s.c)
    s = _softmax(x)
    u = C - s @ C
    return np.diag(s * u) - np.outer(s * u, s) - np.outer(s, s * u)


def _mean_cubed_hessian(x):
    n = x.size
    return np.full((n, n), 6 * x.mean() / n**2)


REPEATS = np.array([0, 2, 2, 3, 0, 0])
COUNTS = np.bincount(REPEATS, minlength=4)

# name -> (scalar function of a 4-vector, hand-derived Hessian)
HESSIANS = {
    "logsumexp": (lambda t: tg.logsumexp(t, 0),
                  lambda x: np.diag(_softmax(x)) - np.outer(_softmax(x), _softmax(x))),
    "softmax": (lambda t: (tg.softmax(t, 0) * C).sum(), _softmax_dot_c_hessian),
    "log_softmax": (lambda t: (tg.log_softmax(t, -1) * C).sum(),
                    lambda x: -C.sum() * (np.diag(_softmax(x))
                                          - np.outer(_softmax(x), _softmax(x)))),
    "indexing-repeated": (lambda t: (t[REPEATS] ** 3).sum(),
                          lambda x: np.diag(6 * COUNTS * x)),
    "mean": (lambda t: t.mean() ** 3, _mean_cubed_hessian),
    "sum-axis": (lambda t: (t.reshape(2, 2).sum(axis=0) ** 2).sum(),
                 lambda x: 2 * np.kron(np.ones((2, 2)), np.eye(2))),
    "quadratic-form": (lambda t: t @ (np.arange(16.0).reshape(4, 4) @ t),
                       lambda x: np.arange(16.0).reshape(4, 4) + np.arange(16.0).reshape(4, 4).T),
}


@pytest.mark.parametrize("name", list(HESSIANS))
def test_hessians_against_formulas_and_differences(name, rng):
    fn, formula = HESSIANS[name]
    x = rng.uniform(-1, 1, 4)
    hessian = _hessian(fn, x)
    assert_close(hessian, formula(x), 1e-12, 1e-12, what="hand-derived Hessian")
    numeric = fd_jacobian(lambda z: _gradient(fn, z), x)
    assert_close(hessian, numeric, 1e-6, 1e-7, what="FD of the gradient")


def test_matmul_second_and_third_derivatives(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    v = rng.standard_normal((2, 3))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)

    # f = ||A B||^2: grad_A = 2 A B B^T, whose derivative along V (in A) is 2 V B B^T
    (ga,) = grad(((ta @ tb) ** 2).sum(), ta, create_graph=True)
    assert_close(ga, 2 * a @ b @ b.T, 1e-12, 1e-12)
    hv_a, hv_b = grad((ga * v).sum(), [ta, tb], retain_graph=True)
    assert_close(hv_a, 2 * v @ b @ b.T, 1e-12, 1e-12)
    # d/dB of <grad_A, V> = 2 <A B B^T, V>, i.e. 2 (A^T V B + V^T A B)
    assert_close(hv_b, 2 * (a.T @ v @ b + v.T @ a @ b), 1e-12, 1e-12)

    # f = sum((A B)^3): the third directional derivative along V is 6 sum((V B)^3)
    (g1,) = grad(((ta @ tb) ** 3).sum(), ta, create_graph=True)
    (g2,) = grad((g1 * v).sum(), ta, create_graph=True)
    (g3,) = grad((g2 * v).sum(), ta)
    assert_close((g3.data * v).sum(), 6 * ((v @ b) ** 3).sum(), 1e-12, 1e-12)

    # and the second derivative along V equals central differences of the first-order gradient
    def grad_a(z):
        return _gradient(lambda t: ((t @ Tensor(b)) ** 3).sum(), z.reshape(2, 3)).ravel()
    numeric = fd_jacobian(grad_a, a.ravel()) @ v.ravel()
    assert_close(g2.data.ravel(), numeric, 1e-6, 1e-7)


def test_third_derivatives_of_the_softmax_family_by_differences(rng):
    # third directional derivatives along v: d/dt of the second directional derivative
    x, v = rng.uniform(-1, 1, 4), rng.standard_normal(4)
    for fn in (lambda t: tg.logsumexp(t * t, 0), lambda t: (tg.softmax(t, 0) ** 2).sum(),
               lambda t: (tg.log_softmax(t, 0) * C).sum() + tg.sigmoid(t).sum()):
        def second(z, fn=fn):
            t = Tensor(z, requires_grad=True)
            (g,) = grad(fn(t), t, create_graph=True)
            (h,) = grad((g * v).sum(), t)
            return (h.data * v).sum()

        t = Tensor(x, requires_grad=True)
        (g,) = grad(fn(t), t, create_graph=True)
        (h,) = grad((g * v).sum(), t, create_graph=True)
        (third,) = grad((h * v).sum(), t)
        numeric = (second(x + 1e-5 * v) - second(x - 1e-5 * v)) / 2e-5
        assert abs((third.data * v).sum() - numeric) < 1e-6 * max(1.0, abs(numeric))


def test_sum_and_mean_third_derivatives():
    # f = mean(x)^3: every third partial derivative is 6 / n^3, so summing over two indices
    # gives n^2 * 6 / n^3 = 6 / n per entry
    x = Tensor(np.array([0.3, -0.2, 0.8, 1.1, 0.4]), requires_grad=True)
    (g1,) = grad(x.mean() ** 3, x, create_graph=True)
    assert_close(g1, np.full(5, 3 * 0.48**2 / 5), 1e-14, 0)
    (g2,) = grad(g1.sum(), x, create_graph=True)
    assert_close(g2, np.full(5, 6 * 0.48 / 5), 1e-14, 0)
    (g3,) = grad(g2.sum(), x)
    assert_close(g3, np.full(5, 6 / 5), 1e-14, 0)
    # f = sum over rows of (sum over columns)^3 keeps the rows separate
    m = Tensor(np.array([[0.1, 0.2], [0.3, -0.5]]), requires_grad=True)
    (h1,) = grad((m.sum(axis=1, keepdims=True) ** 3).sum(), m, create_graph=True)
    (h2,) = grad(h1.sum(), m, create_graph=True)
    (h3,) = grad(h2.sum(), m)
    row_sums = np.array([[0.3], [-0.2]])
    assert_close(h1, np.broadcast_to(3 * row_sums**2, (2, 2)), 1e-14, 1e-15)
    assert_close(h2, np.broadcast_to(12 * row_sums, (2, 2)), 1e-14, 1e-15)
    assert_close(h3, np.full((2, 2), 24.0), 1e-14, 0)


def test_float32_higher_derivatives_stay_float32():
    x = Tensor([0.5, 1.0], requires_grad=True, dtype=np.float32)
    (g1,) = grad(tg.tanh(x).sum(), x, create_graph=True)
    (g2,) = grad(g1.sum(), x)
    assert g1.dtype == np.float32 and g2.dtype == np.float32
    t = np.tanh(np.array([0.5, 1.0]))
    assert_close(g2, (-2 * t * (1 - t**2)).astype(np.float32), 1e-5, 1e-6)
