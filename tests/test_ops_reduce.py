"""Reductions and the softmax family: axis variants, keepdims, ties, Jacobians, stability."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

from conftest import assert_close, backward_grads, check_gradients

# (shape, axis) pairs: None, ints, negative ints, tuples (with a negative member), all axes.
AXIS_CASES = [
    ((), None),
    ((5,), None), ((5,), 0), ((5,), -1),
    ((3, 4), None), ((3, 4), 0), ((3, 4), 1), ((3, 4), -2), ((3, 4), (0, 1)),
    ((2, 3, 4), None), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)), ((2, 3, 4), (2, 1, 0)),
]
CASE_IDS = [f"{s}-axis{a}" for s, a in AXIS_CASES]


def _axes(shape: tuple, axis) -> tuple:
    """The reduced axes as non-negative ints (the test's own reading of NumPy's rule)."""
    if axis is None:
        return tuple(range(len(shape)))
    return tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))


def _keep(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """An output-shaped array with the reduced axes put back as length one."""
    if keepdims:
        return g
    kept = tuple(1 if i in _axes(shape, axis) else n for i, n in enumerate(shape))
    return np.reshape(g, kept)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", AXIS_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(name, shape, axis, keepdims, rng):
    x = rng.standard_normal(shape)  # continuous: no ties, so max/min are differentiable here
    out, (g,) = check_gradients(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)
    reference = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert_close(out, reference, 1e-14, 1e-15, what="value")
    # the tg. function agrees with the method
    assert_close(getattr(tg, name)(Tensor(x), axis=axis, keepdims=keepdims), reference, 1e-14,
                 1e-15)

    # hand-derived: the cotangent spread over the reduced axes (divided by the count for mean,
    # only onto the extreme element for max/min)
    w = _keep(np.random.default_rng(0).standard_normal(out.shape), shape, axis, keepdims)
    count = int(np.prod([shape[a] for a in _axes(shape, axis)]))
    if name == "sum":
        expected = np.broadcast_to(w, shape)
    elif name == "mean":
        expected = np.broadcast_to(w / count, shape)
    else:
        extreme = getattr(np, name)(x, axis=axis, keepdims=True)
        expected = w * (x == extreme)
    assert_close(g, expected, 1e-14, 1e-15, what="hand-derived gradient")


@pytest.mark.parametrize("name", ["max", "min"])
def test_ties_share_the_gradient_equally(name):
    sign = 1.0 if name == "max" else -1.0
    x = Tensor(sign * np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    getattr(x, name)().backward()
    assert_close(x.grad, [0, 0.5, 0.5, 0], 0, 0)

    # per row: three-way and two-way ties, and a row without ties; keepdims and a negative axis
    rows = sign * np.array([[1.0, 1.0, 1.0], [2.0, 0.0, 2.0], [0.0, 5.0, 1.0]])
    for keepdims in (False, True):
        x = Tensor(rows, requires_grad=True)
        out = getattr(x, name)(axis=-1, keepdims=keepdims)
        out.backward(np.ones(out.shape) * (np.array([[1.0], [2.0], [3.0]]) if keepdims
                                           else np.array([1.0, 2.0, 3.0])))
        assert_close(x.grad, [[1 / 3, 1 / 3, 1 / 3], [1.0, 0, 1.0], [0, 3.0, 0]], 1e-15, 0)

    # ties across a tuple of axes: 1/k each, k the number of tied elements
    cube = np.zeros((2, 2, 2))
    cube[0, 1, 0] = cube[1, 0, 1] = cube[1, 1, 1] = sign * 4.0
    x = Tensor(cube, requires_grad=True)
    getattr(x, name)(axis=(0, 2)).sum().backward()
    expected = np.zeros((2, 2, 2))
    expected[1, 0, 1] = 1.0  # the only extreme of slice [:, 0, :]
    expected[0, 1, 0] = expected[1, 1, 1] = 0.5
    assert_close(x.grad, expected, 0, 0)


def test_mean_of_all_equal_then_max_tie_everywhere():
    x = Tensor(np.full((2, 3), 7.0), requires_grad=True)
    (x.max() + x.mean()).backward()
    assert_close(x.grad, np.full((2, 3), 1 / 6 + 1 / 6), 1e-15, 0)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp", "softmax",
                                  "log_softmax"])
def test_axis_out_of_range_names_the_operation(name):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    fn = getattr(tg, name)
    with pytest.raises(ValueError, match=name):
        fn(x, axis=2)
    with pytest.raises(ValueError, match=name):
        fn(x, axis=-3)


# --- the softmax family -------------------------------------------------------------------------
def _softmax_reference(x: np.ndarray, axis) -> np.ndarray:
    e = np.exp(x)  # inputs here are O(1): the naive formula is exact enough as an oracle
    return e / e.sum(axis=axis, keepdims=True)


SOFTMAX_CASES = [((5,), -1), ((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1),
                 ((2, 3, 4), -2), ((2, 3, 4), (0, 2))]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", AXIS_CASES[1:], ids=CASE_IDS[1:])
def test_logsumexp(shape, axis, keepdims, rng):
    x = rng.standard_normal(shape)
    out, (g,) = check_gradients(lambda t: tg.logsumexp(t, axis=axis, keepdims=keepdims), x)
    reference = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    assert_close(out, reference, 1e-14, 1e-15)
    # d logsumexp / dx = softmax over the same axes
    w = _keep(np.random.default_rng(0).standard_normal(out.shape), shape, axis, keepdims)
    axes = _axes(shape, axis)
    assert_close(g, w * _softmax_reference(x, axes), 1e-13, 1e-15)


@pytest.mark.parametrize("shape, axis", SOFTMAX_CASES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_values_and_gradients(name, shape, axis, rng):
    x = rng.standard_normal(shape)
    fn = getattr(tg, name)
    out, (g,) = check_gradients(lambda t: fn(t, axis=axis), x)
    s = _softmax_reference(x, axis)
    assert_close(out, s if name == "softmax" else np.log(s), 1e-14, 1e-15)
    w = np.random.default_rng(0).standard_normal(shape)
    # hand-derived VJPs: softmax: s * (w - sum(w s)); log_softmax: w - s * sum(w)
    if name == "softmax":
        expected = s * (w - (w * s).sum(axis=axis, keepdims=True))
    else:
        expected = w - s * w.sum(axis=axis, keepdims=True)
    assert_close(g, expected, 1e-13, 1e-15)


def test_softmax_default_axis_is_last(rng):
    x = rng.standard_normal((3, 4))
    assert_close(tg.softmax(x), _softmax_reference(x, -1), 1e-14, 0)
    assert_close(tg.log_softmax(x), np.log(_softmax_reference(x, -1)), 1e-14, 1e-15)


def _jacobian_by_rows(fn, x: np.ndarray) -> np.ndarray:
    """The full Jacobian, one reverse pass per output element (unit cotangents)."""
    t = Tensor(x, requires_grad=True)
    out = fn(t)
    rows = []
    for k in range(out.size):
        unit = np.zeros(out.size)
        unit[k] = 1.0
        (g,) = tg.autograd.grad(out, t, grad_outputs=unit.reshape(out.shape), retain_graph=True)
        rows.append(g.data.ravel())
    return np.array(rows)


def test_softmax_jacobian_is_diag_s_minus_s_st(rng):
    x = rng.standard_normal(5)
    s = _softmax_reference(x, -1)
    assert_close(_jacobian_by_rows(tg.softmax, x), np.diag(s) - np.outer(s, s), 1e-13, 1e-15)
    # log_softmax: I - 1 s^T (every row subtracts the same softmax)
    assert_close(_jacobian_by_rows(tg.log_softmax, x), np.eye(5) - np.outer(np.ones(5), s),
                 1e-13, 1e-15)


def test_softmax_jacobian_is_block_diagonal_per_row(rng):
    x = rng.standard_normal((2, 3))
    jac = _jacobian_by_rows(tg.softmax, x).reshape(2, 3, 2, 3)
    for i in range(2):
        s = _softmax_reference(x[i], -1)
        assert_close(jac[i, :, i, :], np.diag(s) - np.outer(s, s), 1e-13, 1e-15)
        assert_close(jac[i, :, 1 - i, :], np.zeros((3, 3)), 0, 0)


HUGE = np.array([1000.0, -1000.0, 0.0, 999.5, -999.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stability_at_plus_minus_1000(dtype):
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        x = Tensor(HUGE, requires_grad=True, dtype=dtype)
        values = {
            "sigmoid": tg.sigmoid(x),
            "logsumexp": tg.logsumexp(x, axis=0),
            "softmax": tg.softmax(x, axis=0),
            "log_softmax": tg.log_softmax(x, axis=0),
        }
        for name, out in values.items():
            assert out.dtype == dtype, name
            assert np.all(np.isfinite(out.data)), name
            (g,) = tg.autograd.grad(out, x, grad_outputs=np.linspace(0.5, 1.5, out.size)
                                    .reshape(out.shape))
            assert np.all(np.isfinite(g.data)), name
            assert g.dtype == dtype, name

    # values against hand-computed limits (log(1 + e^-0.5) to shift the top pair)
    top = 1000.0 + np.log1p(np.exp(-0.5))
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    # sigmoid(-1000) = e^-1000 is below the smallest normal number: anything that tiny is right
    tiny = np.finfo(dtype).tiny
    assert_close(values["sigmoid"], [1.0, 0.0, 0.5, 1.0, 0.0], rtol, tiny)
    assert_close(values["logsumexp"], top, rtol, 0)
    assert_close(values["log_softmax"], HUGE - top, rtol, 1e-4 if dtype == np.float32 else 0)
    s = np.exp(HUGE - top)
    assert_close(values["softmax"], s, rtol, 1e-30)


def test_sigmoid_gradient_vanishes_far_out():
    x = Tensor([-1000.0, 1000.0, 0.0], requires_grad=True)
    tg.sigmoid(x).sum().backward()
    assert_close(x.grad, [0.0, 0.0, 0.25], 0, 1e-300)


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tg.logsumexp(Tensor([[-np.inf, -np.inf], [0.0, 0.0]]), axis=1)
    assert out.data[0] == -np.inf
    assert_close(out.data[1], np.log(2.0), 1e-15, 0)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp", "softmax",
                                  "log_softmax"])
def test_float32_stays_float32(name, rng):
    fn = getattr(tg, name)
    x = rng.standard_normal((3, 4))
    out32, (g32,) = backward_grads(lambda t: fn(t, axis=-1), x, dtype=np.float32)
    out64, (g64,) = backward_grads(lambda t: fn(t, axis=-1), x)
    assert out32.dtype == np.float32 and g32.dtype == np.float32
    assert out64.dtype == np.float64 and g64.dtype == np.float64
    assert_close(out32, out64.data.astype(np.float32), 1e-5, 1e-6)
    assert_close(g32, g64.astype(np.float32), 1e-4, 1e-5)
