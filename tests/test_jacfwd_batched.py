"""``tg.jacfwd`` in one batched forward pass: every basis tangent rides on a leading axis.

Each Jacobian is checked against the one built column by column (one ``tg.jvp`` per input
element, the path the batched pass replaces), against reverse mode (``tg.jacrev``) and, for the
shape-sensitive rules written for batch axes (matmul, linear, broadcasting, indexing), against
central differences. Every op case of the gradcheck command is swept; f must run exactly once.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from conftest import assert_close, fd_jacobian

import tinygrad_mv as tg
from tinygrad_mv import Tensor, autograd, forward_mode
from tinygrad_mv.commands.gradcheck import OpCase, op_cases

CASES = op_cases()


def column_by_column(f: Callable, args: tuple, n: int) -> np.ndarray:
    """The Jacobian of f in argument n from one jvp per element of that argument."""
    x = np.asarray(args[n], dtype=float)
    columns = []
    for k in range(x.size):
        basis = np.zeros(x.size)
        basis[k] = 1.0
        tangents = tuple(basis.reshape(x.shape) if m == n else np.zeros(np.shape(a))
                         for m, a in enumerate(args))
        columns.append(np.asarray(tg.jvp(f, args, tangents)[1].data))
    out_shape = columns[0].shape if columns else np.shape(f(*args).data)
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def counting(f: Callable) -> tuple[Callable, list]:
    calls = []

    def wrapped(*args: Any) -> Any:
        calls.append(1)
        return f(*args)
    return wrapped, calls


@pytest.fixture
def one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the column-by-column path fail: the Jacobian must come from the batched pass."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("jacfwd ran one jvp per column")
    monkeypatch.setattr(forward_mode, "jvp", refuse)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_every_op_case_in_one_pass(case: OpCase, monkeypatch: pytest.MonkeyPatch) -> None:
    argnums = tuple(range(len(case.inputs)))
    expected = [column_by_column(case.fn, case.inputs, n) for n in argnums]
    reverse = tg.jacrev(case.fn, argnums=argnums)(*case.inputs)
    f, calls = counting(case.fn)
    monkeypatch.setattr(forward_mode, "jvp", lambda *a, **k: pytest.fail("one jvp per column"))
    got = tg.jacfwd(f, argnums=argnums)(*case.inputs)
    assert len(calls) == 1, f"{case.label}: f ran {len(calls)} times"
    for n, block in enumerate(got):
        assert isinstance(block.data, np.ndarray) and block.shape == expected[n].shape
        assert_close(block.data, expected[n], rtol=1e-12, atol=1e-12)
        assert_close(block.data, reverse[n].data, rtol=1e-9, atol=1e-10)


MATMUL_SHAPES = [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((2, 2, 3), (3,)), ((2, 2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 2, 3), (2, 3, 4)),
                 ((1, 2, 3), (2, 3, 2))]


@pytest.mark.parametrize("xs, ys", MATMUL_SHAPES, ids=[f"{a}@{b}" for a, b in MATMUL_SHAPES])
def test_matmul_every_rank(xs: tuple, ys: tuple, one_pass: None) -> None:
    rng = np.random.default_rng(len(xs) * 10 + len(ys))
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    jx, jy = tg.jacfwd(lambda a, b: a @ b, argnums=(0, 1))(x, y)
    assert_close(jx.data, fd_jacobian(lambda a: a @ y, x), rtol=1e-7, atol=1e-8)
    assert_close(jy.data, fd_jacobian(lambda b: x @ b, y), rtol=1e-7, atol=1e-8)
    # by hand: d(x @ y)/dx for vectors and matrices
    if len(xs) == 2 and len(ys) == 2:
        assert_close(jx.data, np.einsum("il,kj->ijlk", np.eye(xs[0]), y), rtol=1e-14)


@pytest.mark.parametrize("xs", [(3,), (4, 3), (2, 4, 3)])
def test_linear_with_bias_every_rank(xs: tuple, one_pass: None) -> None:
    rng = np.random.default_rng(len(xs))
    x, w, b = rng.standard_normal(xs), rng.standard_normal((5, 3)), rng.standard_normal(5)
    jx, jw, jb = tg.jacfwd(tg.linear, argnums=(0, 1, 2))(x, w, b)
    assert_close(jx.data, fd_jacobian(lambda a: a @ w.T + b, x), rtol=1e-7, atol=1e-8)
    assert_close(jw.data, fd_jacobian(lambda m: x @ m.T + b, w), rtol=1e-7, atol=1e-8)
    # the bias's Jacobian is the identity on every row
    expected = np.broadcast_to(np.eye(5), xs[:-1] + (5, 5))
    assert_close(jb.data, expected, rtol=0, atol=0)


SHAPE_FUNCTIONS = {
    "broadcast row": (lambda a: a * np.ones((2, 3)), (3,)),
    "broadcast_to": (lambda a: tg.broadcast_to(a, (4, 2, 3)), (2, 1)),
    "transpose None": (lambda a: a.transpose(), (2, 3, 4)),
    "transpose axes": (lambda a: a.transpose((1, 2, 0)), (2, 3, 4)),
    "basic index": (lambda a: a[1:, ..., None, ::2], (3, 2, 4)),
    "array index": (lambda a: a[[0, 2, 2], :, [1, 0, 1]], (3, 2, 2)),
    "bool mask": (lambda a: a[np.array([True, False, True])] * 2.0, (3, 2)),
    "reshape": (lambda a: a.reshape(3, 2).T.reshape(-1), (2, 3)),
    "sum axis": (lambda a: tg.sin(a).sum(axis=(0, 2), keepdims=True), (2, 3, 2)),
    "mean all": (lambda a: (a * a).mean(), (2, 3)),
    "max axis": (lambda a: a.max(axis=1), (2, 3)),
    "concatenate": (lambda a: tg.concatenate([a, 2 * a[:1]], axis=0), (2, 3)),
    "stack": (lambda a: tg.stack([a, a * a], axis=1), (2, 3)),
    "not batched (cumsum)": (lambda a: tg.cumsum(a * a, axis=0), (3, 2)),
    "in place": (lambda a: _written_in_place(a), (3,)),
}


def _written_in_place(x: Any) -> Any:
    y = x * 2.0
    y[1] = x[0] ** 2  # setitem: one batch element at a time
    y += tg.sin(x)
    return y[::-1] * 3


@pytest.mark.parametrize("name", sorted(SHAPE_FUNCTIONS))
def test_shape_rules_take_batch_axes(name: str, one_pass: None) -> None:
    f, shape = SHAPE_FUNCTIONS[name]
    x = np.random.default_rng(len(name)).standard_normal(shape)
    got = tg.jacfwd(f)(x)
    assert_close(got.data, fd_jacobian(lambda a: f(Tensor(a)).data, x), rtol=1e-7, atol=1e-8)
    assert_close(got.data, tg.jacrev(f)(x).data, rtol=1e-13, atol=1e-14)


def test_ops_tell_how_they_take_batch_axes() -> None:
    """The common operations take the whole batch in one call of their rule."""
    batched = {op.__name__ for op in autograd.OPS if op.batching is not None}
    for name in ("add", "mul", "pow", "exp", "sin", "matmul", "linear", "sum", "mean",
                 "reshape", "getitem", "transpose", "broadcast_to", "where", "relu"):
        assert name in batched, name
    assert {op.batching for op in autograd.OPS} <= {None, "elementwise", "trailing"}


def test_a_gradient_inside_falls_back_column_by_column() -> None:
    """f that calls backward() on arrays cannot carry tangents: the per-column path answers."""
    def f(x: Any) -> Any:
        inner = Tensor(x.data.copy(), requires_grad=True)
        (inner ** 3).sum().backward()
        return x * Tensor(inner.grad.data)
    x = np.array([0.5, -1.0, 2.0])
    assert_close(tg.jacfwd(f)(x).data, np.diag(3 * x ** 2), rtol=1e-14)


def test_an_input_that_requires_grad_keeps_its_graph() -> None:
    """With an input that requires grad the columns are operations (reverse mode sees them)."""
    x = Tensor(np.array([0.3, 0.9]), requires_grad=True)
    jac = tg.jacfwd(lambda a: tg.sin(a) * a)(x)
    jac.sum().backward()
    # d/dx_i of (cos x_i x_i + sin x_i) = -sin x_i x_i + 2 cos x_i
    assert_close(x.grad.data, -np.sin(x.data) * x.data + 2 * np.cos(x.data), rtol=1e-14)


def test_float32_stays_float32(one_pass: None) -> None:
    x = np.array([0.5, 1.5], dtype=np.float32)
    jac = tg.jacfwd(lambda a: tg.exp(a) @ np.ones((2, 3), np.float32))(x)
    assert jac.dtype == np.float32
    assert_close(jac.data, np.tile(np.exp(x), (3, 1)), rtol=1e-6)


def _scalar_of_first_input(case: OpCase) -> tuple[Callable, np.ndarray]:
    """The case as a one-element function of its first input (a fixed weighting of its
    output), the others held fixed."""
    first, *rest = case.inputs
    rest = [Tensor(r) if isinstance(r, np.ndarray) else r for r in rest]
    out_shape = case.fn(Tensor(first), *rest).shape
    weights = np.random.default_rng(len(case.label)).standard_normal(out_shape)
    return (lambda a: (case.fn(a, *rest) * weights).sum()), np.asarray(first, dtype=float)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_hessian_sweeps_every_direction_at_once(case: OpCase,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """tg.hessian pushes all n basis tangents through the recorded gradient in one pass; it
    equals reverse over reverse for every op case."""
    f, x = _scalar_of_first_input(case)
    expected = tg.functional.hessian_by_reverse(f)(x).data

    def refuse(*args: Any) -> Any:
        raise AssertionError("hessian fell back on reverse over reverse")
    monkeypatch.setattr(tg.functional, "hessian_by_reverse", lambda f, argnums=0: refuse)
    got = tg.hessian(f)(x).data
    assert got.shape == x.shape + x.shape
    assert_close(got, expected, rtol=1e-10, atol=1e-11)


def test_your_own_operation_in_one_pass_and_element_by_element() -> None:
    """A user primitive's rules run once per basis tangent, or once for the whole stack when it
    says they take it (batching = "elementwise")."""
    calls = []

    def slope(t: Any, out: Any, x: Any) -> Any:
        calls.append(t.shape)
        return t / (1 + np.exp(-x))
    softplus = tg.primitive("my_softplus_batched", lambda x: np.logaddexp(0, x),
                            lambda g, out, x: g / (1 + np.exp(-x)), jvps=(slope,))
    x = np.array([0.3, -1.2, 2.0, 0.1])
    expected = np.diag(1 / (1 + np.exp(-x)))
    assert_close(tg.jacfwd(softplus)(x).data, expected, rtol=1e-15)
    assert calls == [(4,)] * 4  # one basis tangent at a time
    calls.clear()
    softplus.batching = "elementwise"
    assert_close(tg.jacfwd(softplus)(x).data, expected, rtol=1e-15)
    assert calls == [(4, 4)]  # the whole stack at once


def _cubic(x: Any) -> Any:
    return (x ** 3).sum() + tg.sin(x[0] * x[1])


def _cubic_hessian(x: np.ndarray) -> np.ndarray:
    h = np.diag(6 * x)
    s, c = np.sin(x[0] * x[1]), np.cos(x[0] * x[1])
    h[0, 0] -= s * x[1] ** 2
    h[1, 1] -= s * x[0] ** 2
    h[0, 1] = h[1, 0] = c - s * x[0] * x[1]
    return h


def test_jacfwd_of_jacfwd_in_one_pass_each(one_pass: None) -> None:
    """The inner jacfwd's stacked tangents are operations the outer level carries its own
    stacked tangents through: f runs once for the whole Hessian."""
    f, calls = counting(_cubic)
    x = np.array([0.4, -1.1, 0.7])
    assert_close(tg.jacfwd(tg.jacfwd(f))(x).data, _cubic_hessian(x), rtol=1e-13, atol=1e-14)
    assert len(calls) == 1


def test_reverse_mode_through_one_pass(one_pass: None) -> None:
    f, calls = counting(_cubic)
    x = Tensor(np.array([0.4, -1.1, 0.7]), requires_grad=True)
    jacobian = tg.jacfwd(f)(x)  # the gradient, as a row
    (jacobian * np.array([1.0, 2.0, 3.0])).sum().backward()
    assert_close(x.grad.data, _cubic_hessian(x.data) @ np.array([1.0, 2.0, 3.0]), rtol=1e-13)
    assert len(calls) == 1
    assert_close(tg.jacrev(tg.jacfwd(_cubic))(x.data).data, _cubic_hessian(x.data), rtol=1e-13,
                 atol=1e-14)


def test_jitted_jacfwd_replays_one_pass(one_pass: None) -> None:
    f, calls = counting(lambda x: tg.tanh(x * x[::-1]) @ np.arange(6.0).reshape(3, 2))
    jitted = tg.jit(tg.jacfwd(f))
    x = np.array([0.3, -0.8, 1.2])
    jitted(x)
    recorded = len(calls)  # the recording, and the check on perturbed inputs
    for new in (np.array([-0.5, 0.2, 0.9]), np.array([1.5, 1.0, -2.0])):
        assert_close(jitted(new).data, tg.jacrev(f)(new).data, rtol=1e-13, atol=1e-14)
    assert len(calls) == recorded + 2 and jitted.recordings == 1  # the two jacrev calls


def test_a_0d_input_keeps_its_shape() -> None:
    """The Jacobian of f: R -> R is 0-d, as jacrev gives it (eagerly and under tg.jit)."""
    f = lambda x: x * x  # noqa: E731
    for jac in (tg.jacfwd(f), tg.jit(tg.jacfwd(f))):
        got = jac(np.array(2.0))
        assert got.shape == () and got.item() == 4.0
    blocks = tg.jacfwd(lambda a, b: tg.sum(a) * b, argnums=(0, 1))(np.ones((2, 2)), np.array(3.0))
    assert blocks[0].shape == (2, 2) and blocks[1].shape == ()
    assert_close(blocks[1].data, 4.0, rtol=0)


@pytest.mark.parametrize("index", [slice(1, None), 2, [0, 2, 2], (slice(None), 1)],
                         ids=["slice", "int", "array", "tuple"])
def test_jacfwd_of_a_gradient_through_indexing_recorded_and_nested(index: Any) -> None:
    """The gradient of indexing is a scatter; its forward rule takes stacked tangents as
    operations too (tg.jit records them, an outer jacfwd differentiates them)."""
    def f(z: Any) -> Any:
        picked = z.reshape(2, 2)[index] if isinstance(index, tuple) else z[index]
        return tg.sum(picked ** 3)
    x = np.array([0.5, 1.0, 2.0, 3.0])
    expected = tg.jacrev(tg.grad(f))(x).data
    assert_close(tg.jit(tg.jacfwd(tg.grad(f)))(x).data, expected, rtol=1e-14)
    third = tg.jacfwd(tg.jacfwd(tg.grad(f)))(x).data  # 6 at each position picked, per pick
    assert third.shape == (4, 4, 4)
    assert_close(third, tg.jacrev(tg.jacrev(tg.grad(f)))(x).data, rtol=1e-14)


@pytest.mark.parametrize("index", [np.array([False, False]), np.array([], dtype=np.intp)],
                         ids=["false-mask", "no-positions"])
def test_indexing_that_selects_nothing_in_one_pass(index: Any, one_pass: None) -> None:
    """An empty selection (or the gradient of one, scattered back) has a zero Jacobian: the
    batched rules could not reshape an empty tangent with -1."""
    f = lambda x: tg.sum(x[index] ** 2) + tg.sum(x ** 3)  # noqa: E731
    x = np.array([0.5, -1.5])
    assert_close(tg.jacfwd(f)(x).data, tg.jacrev(f)(x).data, rtol=1e-14)
    assert_close(tg.hessian(f)(x).data, np.diag(6 * x), rtol=1e-14)
    inner = tg.jacfwd(lambda x: x[index] @ x[index])(x.astype(np.float32))
    assert inner.dtype == np.float32 and not inner.data.any()


def test_reshape_with_minus_one_of_an_empty_tangent() -> None:
    """reshape(-1, 1) of an empty value: with the batch axes in front, -1 cannot be inferred from
    the shape asked for, so the forward rule takes the output's shape."""
    outer = lambda x: tg.outer(x, x)  # noqa: E731  (reshape(a, (-1, 1)) inside)
    assert tg.jacfwd(outer)(np.ones(0)).shape == (0, 0, 0)
    f = lambda y: (tg.sum(y) * np.ones(0)).reshape(-1, 1)  # noqa: E731
    got = tg.jacfwd(f)(np.ones(2))
    assert got.shape == (0, 1, 2) and got.shape == tg.jacrev(f)(np.ones(2)).shape
    assert tg.jit(tg.jacfwd(f))(np.ones(2)).shape == (0, 1, 2)


def test_an_argument_named_twice_in_argnums_gets_both_blocks():
    """jacfwd(f, argnums=(0, 1, 0)): the second direction for x overwrote the first, so the first
    block was silently zero (jacrev, grad and hessian give the full block each time)."""
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])

    def f(a, b):
        return a ** 2 * b
    got = tg.jacfwd(f, argnums=(0, 1, 0))(x, y)
    want = tg.jacrev(f, argnums=(0, 1, 0))(x, y)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.data, w.data, rtol=1e-14)
    np.testing.assert_allclose(got[0].data, np.diag(2 * x * y), rtol=1e-14)
