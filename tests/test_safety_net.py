"""Tests that close gaps through which seeded bugs once survived the suite: the Hessian with respect
to an argument other than the first, gradients exactly at clip bounds and at max/min/relu ties,
tg.load of .npz members with data after the array, and nested grad modes restoring the outer one.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

X0, Y0 = np.array([1.0, 2.0]), np.array([3.0, 4.0])


def cubic(x, y):
    return (x * y ** 3).sum()


def mixed(x, y):
    return (tg.sin(x) * y ** 2).sum()


def coupled(x, y):  # off-diagonal entries in both Hessians
    return (x * y).sum() * (y.sum() + x.sum())


# --- 1. tg.hessian with argnums -------------------------------------------------------------


def test_hessian_with_respect_to_the_second_argument_by_hand():
    h = tg.hessian(cubic, argnums=1)(X0, Y0)
    np.testing.assert_allclose(h.data, np.diag(6 * X0 * Y0))  # diag(18, 48), not diag(27, 48)
    np.testing.assert_allclose(tg.hessian(cubic, argnums=0)(X0, Y0).data, np.zeros((2, 2)))
    np.testing.assert_allclose(tg.hessian(cubic, argnums=-1)(X0, Y0).data, np.diag([18., 48.]))
    np.testing.assert_allclose(tg.hessian(mixed, argnums=1)(X0, Y0).data,
                               np.diag(2 * np.sin(X0)), rtol=1e-12)
    np.testing.assert_allclose(tg.hessian(mixed, argnums=0)(X0, Y0).data,
                               np.diag(-np.sin(X0) * Y0 ** 2), rtol=1e-12)
    np.testing.assert_allclose(tg.hessian(mixed)(X0, Y0).data,
                               np.diag(-np.sin(X0) * Y0 ** 2), rtol=1e-12)


def _backward_grad(f, args, argnum):
    """The gradient of f with respect to args[argnum] by a plain backward pass (no transforms)."""
    tensors = [Tensor(a, requires_grad=True) for a in args]
    f(*tensors).backward()
    return tensors[argnum].grad.data


@pytest.mark.parametrize("f", [cubic, mixed, coupled])
@pytest.mark.parametrize("argnum", [0, 1])
def test_hessian_matches_central_differences_of_the_gradient(f, argnum):
    args = [np.array([0.7, -1.3]), np.array([1.1, 0.4])]
    eps = 1e-6
    expected = np.empty((2, 2))
    for j in range(2):
        up, down = [a.copy() for a in args], [a.copy() for a in args]
        up[argnum][j] += eps
        down[argnum][j] -= eps
        diff = _backward_grad(f, up, argnum) - _backward_grad(f, down, argnum)
        expected[:, j] = diff / (2 * eps)
    h = tg.hessian(f, argnums=argnum)(*args)
    assert h.shape == (2, 2)
    np.testing.assert_allclose(h.data, expected, rtol=1e-6, atol=1e-7)


def test_hessian_argnums_beyond_the_arguments_are_refused():
    with pytest.raises(ValueError, match="argnums"):
        tg.hessian(cubic, argnums=(0, 1))(np.array([1.0, 2.0]))


# --- 2. gradients at clip bounds and at ties --------------------------------------------------

POINTS = [-1.0, 0.0, 0.5, 1.0, 2.0]  # below, at lo, inside, at hi, above


def _grad_of(fn, *values):
    tensors = [Tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*tensors).sum().backward()
    return [t.grad.data for t in tensors]


def test_clip_passes_the_gradient_at_its_bounds():
    (g,) = _grad_of(lambda x: x.clip(0, 1), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0])
    (g,) = _grad_of(lambda x: tg.clip(x, 0, 1), POINTS)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])
    (g,) = _grad_of(lambda x: tg.clip(x, lo=0.0), POINTS)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 1.0])
    (g,) = _grad_of(lambda x: tg.clip(x, hi=1.0), POINTS)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 1.0, 0.0])


def test_ties_share_the_gradient_equally_and_relu_at_zero_is_zero():
    a, b = [1.0, 0.5, 2.0, -3.0], [0.0, 0.5, 2.0, 4.0]
    ga, gb = _grad_of(tg.maximum, a, b)
    np.testing.assert_array_equal(ga, [1.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(gb, [0.0, 0.5, 0.5, 1.0])
    ga, gb = _grad_of(tg.minimum, a, b)
    np.testing.assert_array_equal(ga, [0.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(gb, [1.0, 0.5, 0.5, 0.0])
    (g,) = _grad_of(lambda x: tg.maximum(x, x), [0.0, 2.0])  # both shares reach the same x
    np.testing.assert_array_equal(g, [1.0, 1.0])
    (g,) = _grad_of(tg.relu, [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    (g,) = _grad_of(lambda x: x.relu(), [0.0])
    np.testing.assert_array_equal(g, [0.0])


@pytest.mark.parametrize("name", ["clamp", "clamp_min", "clamp_max", "maximum", "minimum", "relu"])
def test_gradients_at_bounds_and_ties_match_pytorch(name):
    torch = pytest.importorskip("torch")
    ties = [0.0, 0.5, 1.0, 2.0, -1.0]
    ours_fn, theirs_fn, values = {
        "clamp": (lambda x: tg.clip(x, 0, 1), lambda x: torch.clamp(x, 0, 1), [POINTS]),
        "clamp_min": (lambda x: tg.clip(x, lo=0.0), lambda x: torch.clamp(x, min=0.0), [POINTS]),
        "clamp_max": (lambda x: tg.clip(x, hi=1.0), lambda x: torch.clamp(x, max=1.0), [POINTS]),
        "maximum": (tg.maximum, torch.maximum, [ties, [0.0, 1.0, 1.0, 2.0, 0.0]]),
        "minimum": (tg.minimum, torch.minimum, [ties, [0.0, 1.0, 1.0, 2.0, 0.0]]),
        "relu": (tg.relu, torch.relu, [[-1.0, 0.0, 0.5]]),
    }[name]
    ours = _grad_of(ours_fn, *values)
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    theirs_fn(*tensors).sum().backward()
    for mine, t in zip(ours, tensors):
        np.testing.assert_array_equal(mine, t.grad.numpy())


# --- 3. tg.load refuses members with data after the array -------------------------------------


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _write_npz(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)  # zipfile computes each member's CRC from its bytes
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # the zip itself is valid: only the .npy is wrong


def _refused(path):
    with pytest.raises(ValueError) as info:
        tg.load(path)
    assert path.name in str(info.value)
    return str(info.value)


def test_load_refuses_a_member_with_trailing_bytes(tmp_path):
    good = _npy_bytes(np.arange(3.0))
    path = tmp_path / "trailing.npz"
    _write_npz(path, {"first.npy": good, "bad.npy": good + b"\x00" * 8, "last.npy": good})
    assert "bad.npy" in _refused(path)
    _write_npz(path, {"bad.npy": good + b"x"})  # one byte is enough
    _refused(path)
    _write_npz(path, {"ok.npy": good})  # the same construction without the extra bytes loads
    np.testing.assert_array_equal(tg.load(path)["ok"], np.arange(3.0))


@pytest.mark.parametrize("n, small", [(1024, 1000), (20_000, 512), (600, 599)])
def test_load_refuses_a_large_array_whose_header_shape_was_shrunk(tmp_path, n, small):
    arr = np.arange(float(n))  # 8 * n bytes: over 4 KiB
    full = _npy_bytes(arr)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (small,)})
    data = full[len(full) - arr.nbytes:]
    assert full.endswith(data) and len(data) > 4096
    path = tmp_path / "shrunk.npz"
    _write_npz(path, {"w.npy": full, "big.npy": header.getvalue() + data})
    assert "big.npy" in _refused(path)
    _write_npz(path, {"big.npy": header.getvalue() + data[:8 * small]})  # consistent: loads
    np.testing.assert_array_equal(tg.load(path)["big"], arr[:small])


# --- 4. nested grad modes restore the outer mode ---------------------------------------------


def _records():
    x = Tensor([1.0, 2.0], requires_grad=True)
    recorded = (x * 2).requires_grad
    assert recorded == tg.is_grad_enabled()
    return recorded


NESTINGS = [
    ("no_grad in no_grad", tg.no_grad, tg.no_grad, False, False),
    ("enable_grad in no_grad", tg.no_grad, tg.enable_grad, False, True),
    ("set_grad_enabled(False) in enable_grad", tg.enable_grad,
     lambda: tg.set_grad_enabled(False), True, False),
    ("set_grad_enabled(True) in no_grad", tg.no_grad,
     lambda: tg.set_grad_enabled(True), False, True),
    ("no_grad in set_grad_enabled(True)", lambda: tg.set_grad_enabled(True), tg.no_grad,
     True, False),
]


@pytest.mark.parametrize("label, outer, inner, outer_mode, inner_mode", NESTINGS,
                         ids=[n[0] for n in NESTINGS])
def test_nested_modes_restore_the_outer_one(label, outer, inner, outer_mode, inner_mode):
    assert _records()
    with outer():
        assert _records() is outer_mode
        with inner():
            assert _records() is inner_mode
        assert _records() is outer_mode, f"{label}: outer mode lost on normal exit"
        with pytest.raises(KeyError), inner():
            assert _records() is inner_mode
            raise KeyError("boom")
        assert _records() is outer_mode, f"{label}: outer mode lost on exit by exception"

        @inner()
        def decorated(fail):
            assert _records() is inner_mode
            if fail:
                raise KeyError("boom")
            return tg.is_grad_enabled()
        assert decorated(False) is inner_mode
        assert _records() is outer_mode, f"{label}: outer mode lost after a decorated call"
        with pytest.raises(KeyError):
            decorated(True)
        assert _records() is outer_mode, f"{label}: outer mode lost after a decorated raise"
    assert _records()


def test_modes_as_pytorch_calls_and_bare_decorators():
    # torch.set_grad_enabled(False) takes effect when called, not only as a with-block, and
    # @torch.no_grad / @torch.enable_grad decorate without parentheses; here the call changed
    # nothing (recording went on) and the bare decorators raised TypeError.
    try:
        tg.set_grad_enabled(False)
        assert not _records()
    finally:
        tg.set_grad_enabled(True)
    assert _records()

    @tg.no_grad
    def predict():
        return _records()

    @tg.enable_grad
    def train():
        return _records()

    assert predict() is False and predict.__name__ == "predict"
    with tg.no_grad():
        assert train() is True
        assert not _records()
    assert _records()


def test_decorators_nest_and_one_instance_can_be_reentered():
    @tg.no_grad()
    def outer():
        assert not _records()
        inner_result = inner()
        assert not _records()
        return inner_result

    @tg.enable_grad()
    def inner():
        return _records()

    assert outer() is True
    assert _records()
    mode = tg.no_grad()
    with mode:
        with tg.enable_grad():
            with mode:
                assert not _records()
            assert _records()
        assert not _records()
    assert _records()
