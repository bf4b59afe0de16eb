"""Shared helpers for the operation tests: central finite differences, a gradient checker and a
fixture that keeps tg.jvp in forward mode.

These are written independently of ``tg.numerical_jacobian``/``tg.gradcheck`` on purpose: the
tests of every operation must not trust code from the library they are checking.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, functional

# Central differences in float64 with eps = 1e-6 are exact to about eps^2 * |f'''| + 1e-16 / eps,
# i.e. ~1e-10 for O(1) functions: these tolerances leave a wide margin yet catch any wrong rule.
FD_RTOL = 1e-6
FD_ATOL = 1e-7


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(20241122)


@pytest.fixture
def forward_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make tg.jvp's fallback on reverse mode fail: the tangents must come from forward mode."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("tg.jvp fell back on jvp_by_reverse")
    monkeypatch.setattr(functional, "jvp_by_reverse", refuse)


def fd_jacobian(f: Callable[[np.ndarray], Any], x: Any, eps: float = 1e-6) -> np.ndarray:
    """Central-difference Jacobian of ``f`` at ``x``, shaped ``f(x).shape + x.shape``.

    ``f`` maps a float64 ndarray to anything array-like (a Tensor is fine: np.asarray reads it).
    """
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(np.asarray(f(x.copy())))
    jac = np.empty((int(np.prod(out_shape)), x.size))
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        step = step.reshape(x.shape)
        up = np.asarray(f(x + step), dtype=np.float64)
        down = np.asarray(f(x - step), dtype=np.float64)
        jac[:, k] = ((up - down) / (2 * eps)).ravel()
    return jac.reshape(out_shape + x.shape)


def fd_grads(f: Callable[..., Any], arrays: Sequence[Any], eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference gradients of the scalar ``f(*arrays)`` with respect to each array."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for i in range(len(arrays)):
        def partial(xi: np.ndarray, i: int = i) -> float:
            args = list(arrays)
            args[i] = xi
            return float(np.asarray(f(*args)))
        grads.append(fd_jacobian(partial, arrays[i], eps))
    return grads


def assert_close(actual: Any, expected: Any, rtol: float = FD_RTOL, atol: float = FD_ATOL,
                 what: str = "") -> None:
    """``np.testing.assert_allclose`` that accepts Tensors and checks shapes exactly."""
    actual = np.asarray(actual.data if isinstance(actual, Tensor) else actual)
    expected = np.asarray(expected.data if isinstance(expected, Tensor) else expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_gradients(fn: Callable[..., Tensor], *arrays: Any, seed: int = 0,
                    rtol: float = FD_RTOL, atol: float = FD_ATOL,
                    eps: float = 1e-6) -> tuple[Tensor, list[np.ndarray]]:
    """Check the reverse-mode gradients of ``fn`` against central differences.

    ``fn`` takes one Tensor per array. A random cotangent ``w`` (fixed by ``seed``) turns any
    output into the scalar ``sum(w * fn(...))``; backward with ``w`` must give the same gradient
    for every input as central differences of that scalar. Returns the output Tensor and the
    gradients, so callers can also compare them with hand-derived formulas.
    """
    tensors = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert isinstance(out, Tensor), f"expected a Tensor, got {type(out).__name__}"
    assert out.requires_grad
    cotangent = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(cotangent)

    def scalar(*xs: np.ndarray) -> float:
        with tg.no_grad():
            value = fn(*[Tensor(x) for x in xs])
        return float(np.sum(cotangent * value.data))

    expected = fd_grads(scalar, [t.data for t in tensors], eps)
    grads = []
    for i, (t, want) in enumerate(zip(tensors, expected)):
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.dtype == t.dtype, f"input {i}: gradient dtype {t.grad.dtype} != {t.dtype}"
        assert_close(t.grad, want, rtol, atol, what=f"gradient of input {i}")
        grads.append(t.grad.data)
    return out, grads


def backward_grads(fn: Callable[..., Tensor], *arrays: Any, cotangent: Any = None,
                   dtype: Any = np.float64) -> tuple[Tensor, list[np.ndarray]]:
    """The output of ``fn`` on fresh Tensors and the gradients backward gives (cotangent defaults
    to ones of the output's shape)."""
    tensors = [Tensor(np.array(a), requires_grad=True, dtype=dtype) for a in arrays]
    out = fn(*tensors)
    out.backward(np.ones(out.shape) if cotangent is None else cotangent)
    return out, [t.grad.data for t in tensors]


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` (in a broadcast shape) back to ``shape``: the hand-derived rule for how a
    broadcast operand collects its gradient."""
    g = np.asarray(g, dtype=np.float64)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g.reshape(shape)
