"""Forward mode (tg.jvp, tg.linearize, tg.jacfwd/jacrev, tinygrad_mv.forward_ad, user primitives
with jvps=) against independent references: central differences along the tangent, the
two-reverse-pass ``tg.functional.jvp_by_reverse``, hand-derived derivatives and PyTorch.

Every tangent computed by ``tg.jvp`` here is checked to come from the forward path itself: the
reverse-mode fallback is replaced by a function that raises while it runs (``forward_only``),
except in the compositions that are documented to use it (a gradient inside f, tg.jit).
"""
from __future__ import annotations

import gc
import threading
import tracemalloc
import weakref
import zlib
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import tinygrad_mv as tg
import tinygrad_mv.forward_ad as fwAD
from tinygrad_mv import Tensor, autograd, functional
from tinygrad_mv.commands.gradcheck import OpCase, op_cases

# The reverse-mode path, kept before any test replaces the module attribute (forward_only).
JVP_BY_REVERSE = functional.jvp_by_reverse
CASES = op_cases()
FD_EPS = 1e-6


def values(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)


def assert_rel(actual: Any, expected: Any, rtol: float, what: str = "") -> None:
    """|actual - expected| <= rtol * max(1, max|expected|) entrywise, and the same shape."""
    actual, expected = values(actual), values(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def directional_fd(f: Callable, primals: Sequence[np.ndarray], tangents: Sequence[np.ndarray],
                   eps: float = FD_EPS) -> np.ndarray:
    """(f(x + eps v) - f(x - eps v)) / (2 eps), evaluated without any tape or tangent."""
    with tg.no_grad():
        up = values(f(*[Tensor(p + eps * t) for p, t in zip(primals, tangents)]))
        down = values(f(*[Tensor(p - eps * t) for p, t in zip(primals, tangents)]))
    return (up - down) / (2 * eps)


def rng_for(label: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(label.encode()))


def random_tangents(case: OpCase, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.standard_normal(np.shape(x)) for x in case.inputs]


# --- 1. every core operation ------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_op_tangent_matches_central_differences(case: OpCase, forward_only: None) -> None:
    tangents = random_tangents(case, rng_for(case.label))
    out, tangent = tg.jvp(case.fn, case.inputs, tangents)
    with tg.no_grad():
        expected_out = case.fn(*[Tensor(x) for x in case.inputs])
    assert_rel(out, expected_out, 1e-15, f"{case.label}: primal output")
    assert tangent.shape == out.shape and tangent.dtype == out.dtype
    assert not out.requires_grad and not tangent.requires_grad  # no tape was kept
    assert_rel(tangent, directional_fd(case.fn, case.inputs, tangents), 1e-6,
               f"{case.label}: forward tangent vs central differences")


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_op_tangent_matches_reverse_mode(case: OpCase, forward_only: None) -> None:
    tangents = random_tangents(case, rng_for(case.label))
    reference = JVP_BY_REVERSE(case.fn, case.inputs, tangents)[1]
    tangent = tg.jvp(case.fn, case.inputs, tangents)[1]
    assert_rel(tangent, reference, 1e-12, f"{case.label}: forward vs reverse mode")


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_op_gradcheck_forward_mode(case: OpCase, forward_only: None) -> None:
    assert tg.gradcheck(case.fn, tuple(Tensor(x) for x in case.inputs), mode="fwd")


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_op_reverse_over_forward(case: OpCase, forward_only: None) -> None:
    """grad of <w, J(x) v> through the forward rules (run on Tensors) equals the same through
    the reverse-mode JVP, and central differences."""
    rng = rng_for(case.label)
    tangents = random_tangents(case, rng)
    with tg.no_grad():
        w = rng.standard_normal(case.fn(*[Tensor(x) for x in case.inputs]).shape)
    argnums = tuple(range(len(case.inputs)))

    def through(jvp: Callable) -> Callable:
        return lambda *xs: (jvp(case.fn, xs, tangents)[1] * w).sum()
    got = tg.grad(through(tg.jvp), argnums=argnums)(*case.inputs)
    want = tg.grad(through(JVP_BY_REVERSE), argnums=argnums)(*case.inputs)
    for i, (g, r) in enumerate(zip(got, want)):
        assert_rel(g, r, 1e-12, f"{case.label}: input {i}")
    for i, g in enumerate(got):
        v = np.zeros_like(case.inputs[i])
        v.flat[0] = 1.0  # one coordinate of the gradient by central differences
        fd = directional_fd(lambda *xs: (tg.jvp(case.fn, xs, tangents)[1] * w).sum(),
                            case.inputs, [v if k == i else np.zeros_like(x)
                                          for k, x in enumerate(case.inputs)])
        assert_rel(values(g).flat[0], fd, 1e-6, f"{case.label}: input {i} vs differences")


def test_a_wrong_forward_rule_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above have teeth: a slightly wrong JVP rule for sin fails them, while reverse
    mode (which does not read jvps) still passes."""
    case = next(c for c in CASES if c.label == "sin")
    monkeypatch.setattr(tg.sin, "jvps", (lambda t, out, x: t * np.cos(x) * 1.01,))
    tangents = random_tangents(case, rng_for(case.label))
    tangent = tg.jvp(case.fn, case.inputs, tangents)[1]
    with pytest.raises(AssertionError):
        assert_rel(tangent, directional_fd(case.fn, case.inputs, tangents), 1e-6)
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(case.fn, (Tensor(case.inputs[0]),), mode="fwd")
    assert tg.gradcheck(case.fn, (Tensor(case.inputs[0]),), mode="rev")


# --- 2. PyTorch as an oracle ------------------------------------------------------------------
def _torch_cases() -> list[tuple[str, Callable, Callable, tuple]]:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    n = rng.standard_normal
    idx = np.array([2, 0, 2])
    return [
        ("elementwise chain",
         lambda x: tg.tanh(tg.sin(x) * tg.exp(-x * x)) + tg.sqrt(x * x + 1.0) / (1.0 + x ** 2),
         lambda x: torch.tanh(torch.sin(x) * torch.exp(-x * x)) + torch.sqrt(x * x + 1.0)
         / (1.0 + x ** 2),
         (n((3, 4)),)),
        ("broadcasting", lambda a, b: a * b + a / (b ** 2 + 1.0) - tg.sigmoid(b),
         lambda a, b: a * b + a / (b ** 2 + 1.0) - torch.sigmoid(b), (n((3, 4)), n(4))),
        ("matmul", lambda a, b: tg.tanh(a @ b) @ b.T, lambda a, b: torch.tanh(a @ b) @ b.T,
         (n((3, 4)), n((4, 2)))),
        ("softmax", lambda x: tg.softmax(x * 2.0, axis=-1),
         lambda x: torch.softmax(x * 2.0, dim=-1), (n((3, 5)),)),
        ("logsumexp", lambda x: tg.logsumexp(x, axis=1) * tg.log_softmax(x, axis=0)[0],
         lambda x: torch.logsumexp(x, dim=1) * torch.log_softmax(x, dim=0)[0], (n((4, 4)),)),
        ("indexing", lambda x: (x[1:, ::2] ** 2).sum(axis=0) * x[idx, 1][:2] + x[x.data > 0].sum(),
         lambda x: (x[1:, ::2] ** 2).sum(dim=0) * x[torch.tensor(idx), 1][:2] + x[x > 0].sum(),
         (n((3, 4)),)),
        ("reductions with axes",
         lambda x: (x * x).sum(axis=(0, 2)) * x.mean(axis=(0, 2)) + x.max(axis=2).sum(axis=0)
         + x.min(axis=0).mean(axis=1),
         lambda x: (x * x).sum(dim=(0, 2)) * x.mean(dim=(0, 2)) + x.amax(dim=2).sum(dim=0)
         + x.amin(dim=0).mean(dim=1),
         (n((2, 3, 4)),)),
        ("layer norm (keepdims broadcasting)",
         lambda x, w, b: (x - x.mean(axis=-1, keepdims=True))
         / tg.sqrt(((x - x.mean(axis=-1, keepdims=True)) ** 2).mean(axis=-1, keepdims=True)
                   + 1e-5) * w + b,
         lambda x, w, b: (x - x.mean(dim=-1, keepdim=True))
         / torch.sqrt(((x - x.mean(dim=-1, keepdim=True)) ** 2).mean(dim=-1, keepdim=True)
                      + 1e-5) * w + b,
         (n((3, 4)), n(4), n(4))),
        ("linear, relu, concatenate, stack",
         lambda x, w, b: tg.stack([tg.relu(tg.linear(x, w, b)),
                                   tg.concatenate([x[:, :1], x[:, 2:]], axis=1)], axis=0),
         lambda x, w, b: torch.stack([torch.relu(torch.nn.functional.linear(x, w, b)),
                                      torch.cat([x[:, :1], x[:, 2:]], dim=1)], dim=0),
         (n((4, 3)), n((2, 3)), n(2))),
        ("where, maximum, clip, pow",
         lambda a, b: tg.where(a.data > 0, tg.abs(a) ** b, tg.maximum(a, b))
         + tg.clip(b, -0.5, 0.5),
         lambda a, b: torch.where(a > 0, a.abs() ** b, torch.maximum(a, b))
         + torch.clamp(b, -0.5, 0.5),
         (n(6), n(6))),
    ]


TORCH_LABELS = ["elementwise chain", "broadcasting", "matmul", "softmax", "logsumexp",
                "indexing", "reductions with axes", "layer norm (keepdims broadcasting)",
                "linear, relu, concatenate, stack", "where, maximum, clip, pow"]


@pytest.mark.parametrize("label", TORCH_LABELS)
def test_jvp_matches_torch_func_jvp(label: str, forward_only: None) -> None:
    torch = pytest.importorskip("torch")
    cases = {c[0]: c for c in _torch_cases()}
    _, f, f_torch, primals = cases[label]
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    tangents = tuple(rng.standard_normal(np.shape(p)) for p in primals)
    out, tangent = tg.jvp(f, primals, tangents)
    want_out, want = torch.func.jvp(f_torch, tuple(torch.tensor(p) for p in primals),
                                    tuple(torch.tensor(t) for t in tangents))
    assert_rel(out, want_out.numpy(), 1e-12, f"{label}: value")
    assert_rel(tangent, want.numpy(), 1e-12, f"{label}: tangent")


# --- 3. memory: no tape, flat in the chain's length -------------------------------------------
N = 100_000
ARRAY_BYTES = N * 8


def _chain(x: Any, iterations: int) -> Any:
    h = x
    for _ in range(iterations):  # three operations per iteration
        h = tg.sin(h) * 1.0001
        h = h + 0.5
    return h


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_jvp_memory_does_not_grow_with_the_chain(forward_only: None) -> None:
    rng = np.random.default_rng(3)
    x, v = rng.standard_normal(N), rng.standard_normal(N)
    iterations = 700  # 2,100 operations
    (out, tangent), peak = _peak(lambda: tg.jvp(lambda a: _chain(a, iterations), (x,), (v,)))
    assert peak < 10 * ARRAY_BYTES, f"peak {peak / 1e6:.1f} MB over 2,100 operations"
    assert not out.requires_grad and out.grad_fn is None
    # the values are right: the same recurrence in NumPy on a few elements
    h, t = x[:64].copy(), v[:64].copy()
    for _ in range(iterations):
        h, t = np.sin(h) * 1.0001 + 0.5, np.cos(h) * 1.0001 * t
    assert_rel(out.data[:64], h, 1e-9)
    assert_rel(tangent.data[:64], t, 1e-9)

    # the same chain keeping a tape grows with its length
    def taped(iterations: int) -> int:
        xt = Tensor(x, requires_grad=True)
        held, peak = _peak(lambda: _chain(xt, iterations))
        assert held.requires_grad
        return peak
    short, long = taped(25), taped(50)
    assert long > 10 * ARRAY_BYTES and long > 1.8 * short, (short, long)


def test_jvp_under_no_grad(forward_only: None) -> None:
    rng = np.random.default_rng(4)
    x, v = rng.standard_normal(N), rng.standard_normal(N)
    f = lambda a: _chain(a, 100)  # noqa: E731
    out, tangent = tg.jvp(f, (x,), (v,))
    with tg.no_grad():
        (out_ng, tangent_ng), peak = _peak(lambda: tg.jvp(f, (x,), (v,)))
        assert not tg.is_grad_enabled()
    assert peak < 10 * ARRAY_BYTES
    np.testing.assert_array_equal(out_ng.data, out.data)
    np.testing.assert_array_equal(tangent_ng.data, tangent.data)
    # a primal that requires grad gives plain results under no_grad
    with tg.no_grad():
        o, t = tg.jvp(tg.sin, (Tensor(x[:5], requires_grad=True),), (v[:5],))
    assert not o.requires_grad and not t.requires_grad
    assert_rel(t, np.cos(x[:5]) * v[:5], 1e-15)


# --- 4. composition ---------------------------------------------------------------------------
def _f_scalar(x: Any) -> Any:
    return (tg.sin(x) * x).sum() + (x ** 3).sum() * 0.25


def _hessian_scalar(x: np.ndarray) -> np.ndarray:  # of _f_scalar: diagonal
    return np.diag(-np.sin(x) * x + 2 * np.cos(x) + 1.5 * x)


def test_forward_over_reverse_equals_hvp() -> None:
    rng = np.random.default_rng(5)
    x, v = rng.standard_normal(5), rng.standard_normal(5)
    got = tg.jvp(tg.grad(_f_scalar), (x,), (v,))[1]
    assert_rel(got, tg.hvp(_f_scalar, (x,), (v,)), 1e-12)
    assert_rel(got, _hessian_scalar(x) @ v, 1e-12)


def _fv(x: Any) -> Any:
    return tg.sin(x) * x  # f' = cos x * x + sin x, f'' = -sin x * x + 2 cos x


def test_reverse_over_forward(forward_only: None) -> None:
    rng = np.random.default_rng(6)
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def g(a: Any) -> Any:
        return tg.jvp(_fv, (a,), (v,))[1].sum()
    got = tg.grad(g)(x)
    assert_rel(got, (-np.sin(x) * x + 2 * np.cos(x)) * v, 1e-13)
    fd = tg.numerical_jacobian(g, x).data
    assert_rel(got, fd, 1e-6)
    # with respect to the tangent: J^T 1
    got_v = tg.grad(lambda t: tg.jvp(_fv, (x,), (t,))[1].sum())(v)
    assert_rel(got_v, np.cos(x) * x + np.sin(x), 1e-13)


def test_jvp_of_jvp_is_the_second_directional_derivative(forward_only: None) -> None:
    rng = np.random.default_rng(7)
    x, v, w = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    out, second = tg.jvp(lambda a: tg.jvp(_fv, (a,), (v,))[1], (x,), (w,))
    assert_rel(out, (np.cos(x) * x + np.sin(x)) * v, 1e-13)
    assert_rel(second, (-np.sin(x) * x + 2 * np.cos(x)) * v * w, 1e-12)
    # and by differences of the inner jvp
    fd = directional_fd(lambda a: tg.jvp(_fv, (a,), (v,))[1], (x,), (w,))
    assert_rel(second, fd, 1e-6)
    assert autograd._forward is None


def test_jvp_of_jvp_matches_torch(forward_only: None) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    a = rng.standard_normal((3, 3))
    x, v, w = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)

    def inner(y: Any) -> Any:
        return tg.jvp(lambda z: tg.softmax(Tensor(a) @ tg.tanh(z), axis=0), (y,), (v,))[1]

    def inner_torch(y: Any) -> Any:
        return torch.func.jvp(lambda z: torch.softmax(torch.tensor(a) @ torch.tanh(z), dim=0),
                              (y,), (torch.tensor(v),))[1]
    out, second = tg.jvp(inner, (x,), (w,))
    want_out, want = torch.func.jvp(inner_torch, (torch.tensor(x),), (torch.tensor(w),))
    assert_rel(out, want_out.numpy(), 1e-12)
    assert_rel(second, want.numpy(), 1e-12)


def test_jacfwd_of_jacfwd_is_the_hessian() -> None:
    """jacfwd's result keeps an outer level's tangents (it was once rebuilt from column.data,
    which made jacfwd(jacfwd(f)) silently zero)."""
    x = np.array([0.3, -1.2, 0.8])
    assert_rel(tg.jacfwd(tg.jacfwd(_f_scalar))(x), _hessian_scalar(x), 1e-12)


def test_reverse_mode_through_jacfwd() -> None:
    """jacfwd's result keeps the tape (jacrev(jacfwd(f)) was once silently zero)."""
    x = np.array([0.3, -1.2, 0.8])
    assert_rel(tg.jacrev(tg.jacfwd(_f_scalar))(x), _hessian_scalar(x), 1e-12)
    assert_rel(tg.grad(lambda a: tg.jacfwd(_f_scalar)(a).sum())(x),
               _hessian_scalar(x).sum(axis=1), 1e-12)


def test_jacfwd_of_jacrev_is_the_hessian() -> None:
    x = np.array([0.3, -1.2, 0.8])
    assert_rel(tg.jacfwd(tg.jacrev(_f_scalar))(x), _hessian_scalar(x), 1e-12)
    assert_rel(tg.jacrev(tg.jacrev(_f_scalar))(x), _hessian_scalar(x), 1e-12)


def test_jit_of_jvp_replays_on_new_inputs() -> None:
    def f(x: Any) -> Any:
        return tg.softmax(tg.tanh(x) * x, axis=-1) + (x ** 2).sum()
    jitted = tg.jit(lambda x, v: tg.jvp(f, (x,), (v,)))
    rng = np.random.default_rng(8)
    for k in range(3):
        x, v = rng.standard_normal((2, 3)) * (k + 1), rng.standard_normal((2, 3))
        out, tangent = jitted(x, v)
        want_out, want = tg.jvp(f, (x,), (v,))
        assert_rel(out, want_out, 1e-13, f"call {k}: value")
        assert_rel(tangent, want, 1e-13, f"call {k}: tangent")
        assert_rel(tangent, directional_fd(f, (x,), (v,)), 1e-6, f"call {k}: vs differences")
    assert jitted.recordings == 1


# --- 5. dual numbers --------------------------------------------------------------------------
@pytest.mark.parametrize("x, v", [(0.5, 1.0), (-2.0, 3.0), (np.array([1.5, -0.25, 4.0]),
                                                            np.array([2.0, 0.5, -1.0])),
                                  (np.arange(6.0).reshape(2, 3) - 2.5, np.ones((2, 3)))])
def test_unpack_dual_of_square(x: Any, v: Any) -> None:
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, v)
        primal, tangent = fwAD.unpack_dual(dual ** 2)
        assert_rel(primal, np.asarray(x) ** 2, 1e-15)
        assert_rel(tangent, 2 * np.asarray(x) * np.asarray(v), 1e-15)
        again = fwAD.unpack_dual(dual)
        assert again.primal is dual and again.tangent is not None
        assert_rel(again.tangent, v, 0)
        assert fwAD.unpack_dual(Tensor(x)).tangent is None
        assert fwAD.unpack_dual(Tensor(x) * 3.0).tangent is None
        assert_rel(fwAD.unpack_dual(tg.sin(dual) * Tensor(x)).tangent,
                   np.cos(x) * v * x, 1e-15)


def test_dual_errors_and_level_exit() -> None:
    x, v = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    with pytest.raises(RuntimeError, match="make_dual"):
        fwAD.make_dual(x, v)
    with fwAD.dual_level():
        with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
            fwAD.make_dual(x, np.ones(3))
        y = fwAD.make_dual(x, v) * 3.0
        assert_rel(fwAD.unpack_dual(y).tangent, 3 * v, 1e-15)
    unpacked = fwAD.unpack_dual(y)
    assert unpacked.tangent is None
    assert_rel(unpacked.primal, 3 * x, 1e-15)
    with pytest.raises(RuntimeError):
        fwAD.make_dual(x, v)
    assert autograd._forward is None
    with fwAD.dual_level():  # a new level does not see the old one's tangents
        assert fwAD.unpack_dual(y).tangent is None


def test_tangents_are_freed_when_the_level_exits() -> None:
    """The level drops its tangents on exit, even of tensors still held (and with the level
    object itself still referenced)."""
    with fwAD.dual_level() as level:
        y = fwAD.make_dual(np.ones(3), np.arange(3.0)) * 2.0
        tangent = fwAD.unpack_dual(y).tangent
        held = weakref.ref(tangent.data)
        del tangent
        gc.collect()
        assert held() is not None  # y still carries it
    gc.collect()
    assert held() is None
    assert level is not None and fwAD.unpack_dual(y).tangent is None
    assert_rel(y, 2 * np.ones(3), 0)


def test_dual_of_a_tensor_that_requires_grad() -> None:
    x, v = np.array([0.5, 1.5, -2.0]), np.array([1.0, -0.5, 2.0])
    xt = Tensor(x, requires_grad=True)
    with fwAD.dual_level():
        y = (fwAD.make_dual(xt, v) ** 2).sum()
        tangent = fwAD.unpack_dual(y).tangent
        assert_rel(tangent, 2 * x @ v, 1e-15)
        tangent.backward(retain_graph=True)  # d<2x, v>/dx = 2v
        assert_rel(xt.grad, 2 * v, 1e-15)
    xt.grad = None
    y.backward()
    assert_rel(xt.grad, 2 * x, 1e-15)


def test_nested_dual_levels_inner_tangent() -> None:
    x, v, w = np.array([0.5, -1.5]), np.array([1.0, 2.0]), np.array([-0.5, 3.0])
    with fwAD.dual_level():
        outer = fwAD.make_dual(x, v)
        with fwAD.dual_level():
            inner = fwAD.make_dual(outer, w)
            assert_rel(fwAD.unpack_dual(inner ** 3).tangent, 3 * x ** 2 * w, 1e-15)
        assert_rel(fwAD.unpack_dual(outer ** 3).tangent, 3 * x ** 2 * v, 1e-15)
    assert autograd._forward is None


def test_nested_dual_levels_carry_the_outer_tangent() -> None:
    x, v = np.array([0.5, -1.5]), np.array([1.0, 2.0])
    with fwAD.dual_level():
        outer = fwAD.make_dual(x, v)
        with fwAD.dual_level():
            y = tg.sin(outer) * 3.0  # computed inside the inner level
            assert fwAD.unpack_dual(y).tangent is None  # no inner tangent
        assert_rel(fwAD.unpack_dual(y).tangent, 3 * np.cos(x) * v, 1e-15)
    assert fwAD.unpack_dual(y).tangent is None


def test_nested_dual_levels_give_second_derivatives() -> None:
    """make_dual in an inner level keeps the outer level's tangent of its primal (it once made a
    fresh tensor, dropping it)."""
    x, v, w = np.array([0.5, -1.5]), np.array([1.0, 2.0]), np.array([-0.5, 3.0])
    with fwAD.dual_level():
        outer = fwAD.make_dual(x, v)
        with fwAD.dual_level():
            inner = fwAD.make_dual(outer, w)
            cube = inner ** 3
            inner_tangent = fwAD.unpack_dual(cube).tangent  # 3 x^2 w
        assert_rel(inner_tangent, 3 * x ** 2 * w, 1e-15)
        assert fwAD.unpack_dual(cube).tangent is not None
        assert_rel(fwAD.unpack_dual(cube).tangent, 3 * x ** 2 * v, 1e-15)
        second = fwAD.unpack_dual(inner_tangent).tangent
        assert second is not None
        assert_rel(second, 6 * x * v * w, 1e-15)


# --- 6. Jacobians and linearize ---------------------------------------------------------------
def _r2_to_r3(x: Any) -> Any:
    return tg.stack([x[0] * x[1], tg.sin(x[0]), x[1] ** 2], axis=0)


def _r2_to_r3_jac(x: np.ndarray) -> np.ndarray:
    return np.array([[x[1], x[0]], [np.cos(x[0]), 0.0], [0.0, 2 * x[1]]])


def _r3_to_r2(x: Any) -> Any:
    return tg.stack([x[0] * x[1] * x[2], tg.exp(x[0]) + x[2] ** 2], axis=0)


def _r3_to_r2_jac(x: np.ndarray) -> np.ndarray:
    return np.array([[x[1] * x[2], x[0] * x[2], x[0] * x[1]], [np.exp(x[0]), 0.0, 2 * x[2]]])


@pytest.mark.parametrize("f, jac, x", [(_r2_to_r3, _r2_to_r3_jac, np.array([0.7, -1.3])),
                                       (_r3_to_r2, _r3_to_r2_jac, np.array([0.4, 1.1, -0.6]))])
def test_jacfwd_jacrev_jacobian_agree(f: Callable, jac: Callable, x: np.ndarray,
                                      forward_only: None) -> None:
    fwd, rev, both = tg.jacfwd(f)(x), tg.jacrev(f)(x), tg.jacobian(f)(x)
    assert fwd.shape == rev.shape == both.shape == jac(x).shape
    assert_rel(fwd, jac(x), 1e-15)
    assert_rel(rev, fwd, 1e-15)
    assert_rel(both, fwd, 1e-15)


def test_jacobians_with_argnums_tuples(forward_only: None) -> None:
    def f(a: Any, b: Any, c: Any) -> Any:
        return tg.tanh(a[:, None] * b[None, :]) * c  # (2, 3)
    rng = np.random.default_rng(9)
    a, b, c = rng.standard_normal(2), rng.standard_normal(3), 1.7
    for argnums in [(0, 1), (1, 0), (1,)]:
        fwd = tg.jacfwd(f, argnums=argnums)(a, b, c)
        rev = tg.jacrev(f, argnums=argnums)(a, b, c)
        both = tg.jacobian(f, argnums=argnums)(a, b, c)
        assert isinstance(fwd, tuple) and len(fwd) == len(argnums)
        for k, n in enumerate(argnums):
            assert fwd[k].shape == (2, 3) + (a, b)[n].shape
            assert_rel(fwd[k], rev[k], 1e-13, f"argnums={argnums}, block {k}")
            assert_rel(fwd[k], both[k], 1e-13, f"argnums={argnums}, block {k}")
    # by hand: d tanh(a_i b_j) c
    sech2 = c / np.cosh(a[:, None] * b[None, :]) ** 2
    da, db = tg.jacfwd(f, argnums=(0, 1))(a, b, c)
    assert_rel(da, np.einsum("ij,ik->ijk", sech2 * b[None, :], np.eye(2)), 1e-13)
    assert_rel(db, np.einsum("ij,jk->ijk", sech2 * a[:, None], np.eye(3)), 1e-13)


def test_linearize_called_several_times(forward_only: None) -> None:
    def f(x: Any, y: Any) -> Any:
        return tg.softmax(x * y, axis=-1) + tg.log(y * y + 1.0)
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal(3)
    out, f_jvp = tg.linearize(f, x, y)
    with tg.no_grad():
        assert_rel(out, f(Tensor(x), Tensor(y)), 1e-15)
    for k in range(4):
        tx, ty = rng.standard_normal((2, 3)), rng.standard_normal(3)
        got = f_jvp(tx, ty)
        assert_rel(got, tg.jvp(f, (x, y), (tx, ty))[1], 1e-15, f"call {k}")
        assert_rel(got, directional_fd(f, (x, y), (tx, ty)), 1e-6, f"call {k}")
    assert_rel(f_jvp(2 * tx, 2 * ty), 2 * values(got), 1e-14)  # linear in the tangents


# --- 7. user operations -----------------------------------------------------------------------
CUBE = tg.primitive("fwd_test_cube", lambda x: x ** 3, lambda g, out, x: g * 3 * x ** 2,
                    jvps=(lambda t, out, x: t * 3 * x ** 2,))
MUL_ADD = tg.primitive("fwd_test_mul_add", lambda a, b: a * b + a,
                       lambda g, out, a, b: g * (b + 1), lambda g, out, a, b: g * a,
                       jvps=(lambda t, out, a, b: t * (b + 1), lambda t, out, a, b: t * a))
NO_JVP = tg.primitive("fwd_test_without_jvp", lambda x: 2 * x, lambda g, out, x: 2 * g)
BAD_VJP = tg.primitive("fwd_test_bad_vjp", lambda x: 2 * x, lambda g, out, x: np.ones(5))


def test_user_op_backward_jvp_jacfwd(forward_only: None) -> None:
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -0.5])
    xt = Tensor(x, requires_grad=True)
    CUBE(xt).sum().backward()
    assert_rel(xt.grad, 3 * x ** 2, 1e-15)
    out, tangent = tg.jvp(CUBE, (x,), (v,))
    assert_rel(out, x ** 3, 1e-15)
    assert_rel(tangent, 3 * x ** 2 * v, 1e-15)
    assert_rel(tg.jacfwd(CUBE)(x), np.diag(3 * x ** 2), 1e-15)
    assert_rel(tg.jacfwd(lambda a: tg.sin(CUBE(a)))(x), np.diag(np.cos(x ** 3) * 3 * x ** 2),
               1e-15)
    a, b, ta, tb = x, v, v[::-1].copy(), x * 2
    assert_rel(tg.jvp(MUL_ADD, (a, b), (ta, tb))[1], ta * (b + 1) + a * tb, 1e-15)
    assert tg.gradcheck(MUL_ADD, (Tensor(a), Tensor(b)), mode="fwd")


def test_user_op_higher_derivatives_and_jit() -> None:
    x = np.array([0.5, -1.0, 2.0])
    second = tg.grad(lambda y: tg.grad(lambda a: CUBE(a).sum())(y).sum())(x)
    assert_rel(second, 6 * x, 1e-15)
    # reverse over forward through the user's forward rule
    assert_rel(tg.grad(lambda a: tg.jvp(CUBE, (a,), (np.ones(3),))[1].sum())(x), 6 * x, 1e-15)
    jitted = tg.jit(lambda a: CUBE(a) * 2.0)
    jitted_jvp = tg.jit(lambda a, t: tg.jvp(CUBE, (a,), (t,))[1])
    rng = np.random.default_rng(12)
    for k in range(3):
        z, t = rng.standard_normal(3) * (k + 1), rng.standard_normal(3)
        assert_rel(jitted(z), 2 * z ** 3, 1e-14, f"call {k}")
        assert_rel(jitted_jvp(z, t), 3 * z ** 2 * t, 1e-14, f"call {k}")
    assert jitted.recordings == jitted_jvp.recordings == 1


def test_user_op_without_forward_rule() -> None:
    x, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    with pytest.raises(NotImplementedError, match="fwd_test_without_jvp"):
        tg.jvp(NO_JVP, (x,), (v,))
    with pytest.raises(NotImplementedError, match="fwd_test_without_jvp"):
        tg.jacfwd(lambda a: tg.sin(NO_JVP(a)))(x)
    with fwAD.dual_level(), pytest.raises(NotImplementedError, match="fwd_test_without_jvp"):
        NO_JVP(fwAD.make_dual(x, v))
    # applied to operands that carry no tangent, it needs no rule
    _, tangent = tg.jvp(lambda a: a * NO_JVP(Tensor(x)), (x,), (v,))
    assert_rel(tangent, 2 * x * v, 1e-15)
    assert_rel(tg.jacrev(NO_JVP)(x), 2 * np.eye(2), 1e-15)  # reverse mode still works
    assert autograd._forward is None


def test_a_forward_rule_of_the_wrong_shape_is_named() -> None:
    # the error names the operation and the shapes' roles (NumPy's broadcast error does not)
    wrong = tg.primitive("fwd_test_wrong_jvp", lambda x: x * 2.0, lambda g, out, x: 2.0 * g,
                         jvps=(lambda t, out, x: np.ones(5),))
    x = np.array([0.5, -1.0, 2.0])
    message = r"'fwd_test_wrong_jvp' returned a tangent of shape \(5,\) for its output of shape"
    with pytest.raises(ValueError, match=message):
        tg.jvp(wrong, (x,), (x,))
    with fwAD.dual_level(), pytest.raises(ValueError, match=message):
        wrong(fwAD.make_dual(x, x))


def test_user_op_vjp_of_the_wrong_shape() -> None:
    xt = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    with pytest.raises(ValueError, match=r"fwd_test_bad_vjp.*input 0"):
        BAD_VJP(xt).sum().backward()
    with pytest.raises(ValueError, match="fwd_test_bad_vjp"):
        tg.grad(lambda a: BAD_VJP(a).sum())(np.ones(3))


# --- 8. in-place writes -----------------------------------------------------------------------
def _written_in_place(x: Any) -> Any:
    h = x * 1.0
    h *= x
    h[0] = x[1] ** 2
    return h


def _out_of_place(x: Any) -> Any:
    return tg.concatenate([(x[1] ** 2).reshape(1), (x * x)[1:]], axis=0)


def test_in_place_writes_carry_the_tangent(forward_only: None) -> None:
    rng = np.random.default_rng(13)
    for k in range(3):
        x, v = rng.standard_normal(4), rng.standard_normal(4)
        out, tangent = tg.jvp(_written_in_place, (x,), (v,))
        want_out, want = tg.jvp(_out_of_place, (x,), (v,))
        assert_rel(out, want_out, 1e-15, f"draw {k}")
        assert_rel(tangent, want, 1e-15, f"draw {k}")
        assert_rel(tangent, np.concatenate([[2 * x[1] * v[1]], 2 * x[1:] * v[1:]]), 1e-15)
        assert_rel(tangent, directional_fd(_written_in_place, (x,), (v,)), 1e-6, f"draw {k}")


def test_in_place_writes_into_a_constant(forward_only: None) -> None:
    x, v = np.array([0.5, 1.5, -2.0]), np.array([1.0, -0.5, 2.0])

    def f(a: Any) -> Any:
        h = tg.zeros(4, dtype=np.float64)
        h[1:] = a * 2.0
        h += tg.sin(a).sum()
        h /= a[0] + 3.0
        return h
    tangent = tg.jvp(f, (x,), (v,))[1]
    assert_rel(tangent, directional_fd(f, (x,), (v,)), 1e-6)
    assert_rel(tangent, JVP_BY_REVERSE(f, (x,), (v,))[1], 1e-13)


def test_a_view_taken_before_an_in_place_write() -> None:
    """Such a view's value is the new one: its tangent must not stay the old one (it once did,
    silently; reverse mode refuses the stale view). Refusing, or PyTorch's answer, is right."""
    x, v = np.array([0.5, 1.5, -2.0]), np.array([1.0, -0.5, 2.0])

    def f(a: Any) -> Any:
        h = a * 1.0
        view = h[0:2]
        h[0] = a[1] ** 2  # view now shows [a1^2, a1]
        return view * 1.0
    want = [2 * x[1] * v[1], v[1]]  # PyTorch's torch.func.jvp agrees
    try:
        out, tangent = tg.jvp(f, (x,), (v,))
    except RuntimeError as exc:  # refusing, as reverse mode does, is fine
        assert "view" in str(exc)
    else:
        assert_rel(out, [x[1] ** 2, x[1]], 1e-15)
        assert_rel(tangent, want, 1e-15)

    def taken_after(a: Any) -> Any:
        h = a * 1.0
        before = h[1:] * 2.0  # used before the write: unaffected
        h[0] = a[1] ** 2
        return tg.concatenate([h[0:2], before], axis=0)
    _, tangent = tg.jvp(taken_after, (x,), (v,))
    assert_rel(tangent, [*want, 2 * v[1], 2 * v[2]], 1e-15)


# --- threads ----------------------------------------------------------------------------------
def test_jvp_in_two_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Levels are per thread: interleaved tg.jvp calls in two threads each keep their tangents
    and leave no level installed (one global level once gave both zeros)."""
    monkeypatch.setattr(autograd, "_forward", None)  # restored after the test whatever happens
    x, v = np.array([0.5, 1.0]), np.array([1.0, -2.0])
    a_inside, main_inside, a_done = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def f_a(a: Any) -> Any:
        h = tg.sin(a)
        a_inside.set()
        main_inside.wait(5)
        return h * 2.0  # while the main thread is inside its own tg.jvp

    def thread_a() -> None:
        try:
            results["a"] = tg.jvp(f_a, (x,), (v,))[1].data
        finally:
            a_done.set()

    def f_main(m: Any) -> Any:
        h = tg.sin(m)
        main_inside.set()
        a_done.wait(5)
        return h * 3.0

    worker = threading.Thread(target=thread_a)
    worker.start()
    assert a_inside.wait(5)
    main_tangent = tg.jvp(f_main, (x,), (v,))[1]
    worker.join(5)
    left_behind = autograd._forward
    assert_rel(results["a"], 2 * np.cos(x) * v, 1e-15, "thread a")
    assert_rel(main_tangent, 3 * np.cos(x) * v, 1e-15, "main thread")
    assert left_behind is None


def test_jvp_leaves_the_callers_arrays_alone() -> None:
    """Tangent arrays are read where they are (no copy), and never written: a function that
    writes in place leaves the caller's primal and tangent as they were."""
    def f(x: Any) -> Any:
        y = x * 1.0
        x += 1.0  # written in place: the primal inside jvp is jvp's own
        y[0] = x[1] ** 2
        y *= tg.sin(x)
        return y.sum()
    x, v = np.array([0.3, -0.8, 1.1]), np.array([1.0, -2.0, 0.5])
    x0, v0 = x.copy(), v.copy()
    out, tangent = tg.jvp(f, (x,), (v,))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(v, v0)
    expected = directional_fd(f, (x,), (v,))
    assert_rel(tangent, expected, 1e-6)


def test_the_returned_tangent_is_never_the_callers_tangent() -> None:
    """Rules hand a tangent on unchanged or as a view (``a + c``, reshapes, slices): the result
    is a copy, so writing it leaves the caller's tangent alone."""
    x, t = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0])
    for f in (lambda a: a + 1.0, lambda a: a[1:], lambda a: a.reshape(3, 1), lambda a: a,
              lambda a: a * 1.0):
        for given in (t, tg.Tensor(t)):
            out, tangent = tg.jvp(f, (x,), (given,))
            assert not np.shares_memory(tangent.data, t)
            assert not np.shares_memory(tangent.data, out.data)
            tangent.data += 1.0
            np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])


def test_a_returned_tangent_never_shares_memory_with_the_value() -> None:
    """A rule of one's own may hand back an array it was given (here the value itself, the
    slope of exp with a tangent of ones): the tangent returned is a copy of it."""
    lazy_exp = tg.primitive("lazy_exp", np.exp, lambda g, out, x: g * out,
                            jvps=(lambda t, out, x: out if np.all(t == 1.0) else t * out,))
    out, tangent = tg.jvp(lazy_exp, (np.array([0.0, 1.0]),), (np.ones(2),))
    np.testing.assert_allclose(tangent.data, np.exp([0.0, 1.0]))
    assert not np.shares_memory(tangent.data, out.data)


# --- rules that run operations of their own ------------------------------------------------------
class _TimesThreeNoJvp(tg.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x * 3

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * 3


class _TimesThree(tg.autograd.Function):
    """Its jvp applies a Function without a jvp to a saved input."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x * 3

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g * 3

    @staticmethod
    def jvp(ctx: Any, t: Any) -> Any:
        (x,) = ctx.saved_tensors
        return t * _TimesThreeNoJvp.apply(x) / x


class _Exp(tg.autograd.Function):
    """Its jvp applies the Function itself to the saved input."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        ctx.save_for_backward(x)
        return x.exp()

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * _Exp.apply(x)

    @staticmethod
    def jvp(ctx: Any, t: Any) -> Any:
        (x,) = ctx.saved_tensors
        return t * _Exp.apply(x)


def test_a_functions_jvp_runs_outside_the_level() -> None:
    """A Function's jvp is written with operations on saved inputs, which carry tangents at the
    level: while it runs the level steps aside, or a helper without a jvp would be refused and a
    jvp applying its own Function would recurse without end."""
    x = np.array([0.5, 1.0])
    _, t = tg.jvp(_TimesThree.apply, (x,), (np.ones(2),))
    np.testing.assert_array_equal(t.data, [3.0, 3.0])
    _, t = tg.jvp(_Exp.apply, (x,), (np.ones(2),))
    np.testing.assert_array_equal(t.data, np.exp(x))


def test_a_forward_rule_may_take_a_gradient() -> None:
    """A rule may use reverse mode on arrays (tg.grad of a reference function): jvp's level is
    not active inside the rule, so it does not fall back to reverse mode (which a primitive with
    forward rules only cannot do)."""
    def rule(t: Any, out: Any, x: Any) -> Any:
        return np.asarray((tg.grad(lambda a: (a ** 3).sum())(x).data * t).sum())
    cube_sum = tg.primitive("cube_sum_forward_rule_only", lambda x: np.asarray((x ** 3).sum()),
                            jvps=(rule,))
    _, t = tg.jvp(cube_sum, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    assert t.data == 15.0


def test_jvp_under_jit_returns_a_detached_tangent() -> None:
    """Under tg.jit the rules run on Tensors; the tangent returned has no graph (as eagerly), so a
    gradient through it of a parameter the function closes over is zero in both."""
    w = Tensor(np.array([0.5, 1.5, 2.5]), requires_grad=True)

    def f(x: Any, t: Any) -> Any:
        return tg.grad(lambda w_: tg.jvp(lambda a: a * w_, (x,), (t,))[1].sum())(w)
    x, t = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 2.0])
    want = f(x, t).data
    got = tg.jit(f)(x, t).data
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_a_returned_tangent_never_shares_memory_with_an_operand() -> None:
    """A rule of one's own may hand back an operand (here a constant the caller holds)."""
    scale = tg.primitive("scale_by", lambda x, w: x * w, lambda g, out, x, w: g * w,
                         jvps=(lambda t, out, x, w: w if np.all(t == 1.0) else t * w,))
    w = np.array([2.0, 3.0])
    _, tangent = tg.jvp(lambda a: scale(a, w), (np.array([1.0, 1.0]),), (np.ones(2),))
    np.testing.assert_array_equal(tangent.data, [2.0, 3.0])
    assert not np.shares_memory(tangent.data, w)


def test_the_tangent_of_a_result_without_a_float_dtype_is_float_zeros() -> None:
    out, tangent = tg.jvp(lambda a: a > 0, (np.array([1.0, -2.0]),), (np.ones(2),))
    assert out.dtype == bool and tangent.dtype == np.float64
    np.testing.assert_array_equal(tangent.data, [0.0, 0.0])


def test_a_functions_jvp_on_several_inputs_runs_outside_the_level() -> None:
    """The operations a jvp rule runs on its saved inputs (which carry tangents) carry none, for
    every input's rule: here one of them has no forward rule at all."""
    square = tg.primitive("square_without_jvp", lambda a: a * a, lambda g, out, a: 2 * g * a)

    class Product(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y, g * x

        @staticmethod
        def jvp(ctx, tx, ty):
            x, y = ctx.saved_tensors
            return tx * y + (square(x) / x) * ty

    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for tangents in ((np.ones(2), np.ones(2)), (np.ones(2), np.zeros(2))):
        _, tangent = tg.jvp(lambda a, b: Product.apply(a, b), (x, y), tangents)
        np.testing.assert_allclose(tangent.data, tangents[0] * y + x * tangents[1])
