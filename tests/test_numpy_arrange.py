"""The arrange family (tile, repeat, flip, roll, pad, expand_dims, moveaxis, swapaxes, triu, tril,
diag, trace): values against NumPy, gradients against adjoints derived here by hand and against
PyTorch, gradcheck in both modes, forward mode, float32, and the errors."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor
from tinygrad_mv.ops import shape as shp

from conftest import assert_close


# --- hand-derived adjoints (VJPs): G is the output gradient, the result x's gradient -----------
def hand_tile(G, shape, reps):
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(len(shape), len(reps))
    reps, full = (1,) * (d - len(reps)) + reps, (1,) * (d - len(shape)) + tuple(shape)
    total = np.zeros(full)
    for tile_at in np.ndindex(*reps):  # every tile is a copy of x: its gradients add up
        total += G[tuple(slice(t * n, (t + 1) * n) for t, n in zip(tile_at, full))]
    return total.reshape(shape)


def hand_repeat(G, shape, repeats, axis=None):
    if axis is None:
        return hand_repeat(G, (int(np.prod(shape)),), repeats, 0).reshape(shape)
    counts = np.broadcast_to(repeats, (shape[axis],))
    ends = np.cumsum(counts)
    parts = [np.take(G, range(end - c, end), axis=axis).sum(axis=axis, keepdims=True)
             for c, end in zip(counts, ends)]  # each run of copies sums into its source
    return np.concatenate(parts, axis=axis)


def hand_pad(G, shape, pad_width, mode="constant", **kw):
    # np.pad of the grid of flat indices says which element of x each output position copies;
    # constant positions copy nothing (-1).
    grid = np.arange(int(np.prod(shape))).reshape(shape)
    if mode == "constant":
        source = np.pad(grid, pad_width, constant_values=-1)
    else:
        source = np.pad(grid, pad_width, mode)
    keep = source >= 0
    return np.bincount(source[keep], weights=G[keep], minlength=grid.size).reshape(shape)


def hand_triangle(which):
    def grad(G, shape, k=0):
        masked = which(G, k)
        return masked.sum(axis=0) if len(shape) == 1 else masked  # 1-D: every row was x
    return grad


def hand_diag(G, shape, k=0):
    if len(shape) == 1:
        return np.array([G[i + max(-k, 0), i + max(k, 0)] for i in range(shape[0])])
    out = np.zeros(shape)
    for i in range(len(G)):
        out[i + max(-k, 0), i + max(k, 0)] = G[i]
    return out


def hand_trace(G, shape, offset=0, axis1=0, axis2=1):
    moved = np.zeros(np.moveaxis(np.zeros(shape), (axis1, axis2), (-2, -1)).shape)
    for i in range(min(moved.shape[-2], moved.shape[-1])):
        r, c = i + max(-offset, 0), i + max(offset, 0)
        if r < moved.shape[-2] and c < moved.shape[-1]:
            moved[..., r, c] = G
    return np.moveaxis(moved, (-2, -1), (axis1, axis2))


HAND: dict[str, Callable] = {
    "tile": hand_tile, "repeat": hand_repeat,
    "flip": lambda G, shape, axis=None: np.flip(G, axis),
    "roll": lambda G, shape, shift, axis=None: np.roll(
        G, -np.asarray(shift), axis).reshape(shape),
    "pad": hand_pad,
    "expand_dims": lambda G, shape, axis: G.reshape(shape),
    "moveaxis": lambda G, shape, source, destination: np.moveaxis(G, destination, source),
    "swapaxes": lambda G, shape, axis1, axis2: np.swapaxes(G, axis1, axis2),
    "triu": hand_triangle(np.triu), "tril": hand_triangle(np.tril),
    "diag": hand_diag, "trace": hand_trace,
}


# --- the uses checked ----------------------------------------------------------------------------
class Spec(NamedTuple):
    name: str
    shape: tuple
    kw: dict
    torch: Callable | None  # the same operation in PyTorch (None: PyTorch has none)


def _fpad(mode: str, value: float = 0.0) -> Callable:
    """F.pad on a (3, 4) input padded by ((1, 2), (2, 1)); its non-constant modes want a leading
    channel axis."""
    def call(t: Any) -> Any:
        import torch.nn.functional as F
        if mode == "constant":
            return F.pad(t, (2, 1, 1, 2), value=value)
        return F.pad(t[None], (2, 1, 1, 2), mode=mode)[0]
    return call


def _torch_trace(offset: int, dim1: int, dim2: int) -> Callable:
    def call(t: Any) -> Any:
        import torch
        return torch.diagonal(t, offset, dim1, dim2).sum(-1)
    return call


def _unsqueeze(*dims: int) -> Callable:
    def call(t: Any) -> Any:
        for d in dims:
            t = t.unsqueeze(d)
        return t
    return call


def _torch(fn: str, *args: Any, **kw: Any) -> Callable:
    def call(t: Any) -> Any:
        import torch
        return getattr(torch, fn)(t, *[torch.tensor(a) if isinstance(a, list) else a
                                       for a in args], **kw)
    return call


PAD2 = ((1, 2), (2, 1))
SPECS = [
    Spec("tile", (2, 3), {"reps": (2, 2)}, _torch("tile", (2, 2))),
    Spec("tile", (2, 3), {"reps": (2, 1, 3)}, _torch("tile", (2, 1, 3))),
    Spec("tile", (3,), {"reps": 2}, _torch("tile", (2,))),
    Spec("repeat", (2, 3), {"repeats": 2}, _torch("repeat_interleave", 2)),
    Spec("repeat", (2, 3), {"repeats": [2, 0, 1], "axis": 1},
         _torch("repeat_interleave", [2, 0, 1], dim=1)),
    Spec("repeat", (2, 3), {"repeats": 3, "axis": -2}, _torch("repeat_interleave", 3, dim=-2)),
    Spec("flip", (2, 3, 2), {}, _torch("flip", (0, 1, 2))),
    Spec("flip", (2, 3, 2), {"axis": (0, -1)}, _torch("flip", (0, -1))),
    Spec("roll", (2, 3), {"shift": 2}, _torch("roll", 2)),
    Spec("roll", (3, 4), {"shift": (1, -2), "axis": (0, 1)}, _torch("roll", (1, -2), (0, 1))),
    Spec("roll", (3, 4), {"shift": 5, "axis": -1}, _torch("roll", 5, -1)),
    Spec("roll", (3, 4), {"shift": (1, 2), "axis": (1, 1)}, _torch("roll", (1, 2), (1, 1))),
    Spec("pad", (3, 4), {"pad_width": PAD2}, _fpad("constant")),
    Spec("pad", (3, 4), {"pad_width": PAD2, "constant_values": 1.5}, _fpad("constant", 1.5)),
    Spec("pad", (3, 4), {"pad_width": 1, "constant_values": ((1, 2), (3, 4))}, None),
    Spec("pad", (3, 4), {"pad_width": PAD2, "mode": "edge"}, _fpad("replicate")),
    Spec("pad", (3, 4), {"pad_width": PAD2, "mode": "reflect"}, _fpad("reflect")),
    Spec("pad", (3, 4), {"pad_width": PAD2, "mode": "wrap"}, _fpad("circular")),
    Spec("pad", (3, 4), {"pad_width": PAD2, "mode": "symmetric"}, None),
    Spec("pad", (3,), {"pad_width": (7, 9), "mode": "reflect"}, None),  # wider than the axis
    Spec("pad", (3,), {"pad_width": (7, 9), "mode": "wrap"}, None),
    Spec("pad", (3,), {"pad_width": (7, 9), "mode": "symmetric"}, None),
    Spec("pad", (2, 3), {"pad_width": (2,)}, None),
    Spec("expand_dims", (2, 3), {"axis": 0}, _unsqueeze(0)),
    Spec("expand_dims", (2, 3), {"axis": (0, -1)}, _unsqueeze(0, -1)),
    Spec("expand_dims", (2, 3), {"axis": (3, 1)}, _unsqueeze(1, 3)),
    Spec("moveaxis", (2, 3, 4), {"source": 0, "destination": -1}, _torch("movedim", 0, -1)),
    Spec("moveaxis", (2, 3, 4), {"source": (0, 1), "destination": (2, 0)},
         _torch("movedim", (0, 1), (2, 0))),
    Spec("swapaxes", (2, 3, 4), {"axis1": 0, "axis2": 2}, _torch("swapaxes", 0, 2)),
    Spec("triu", (3, 4), {}, _torch("triu")),
    Spec("triu", (2, 3, 3), {"k": 1}, _torch("triu", 1)),
    Spec("tril", (3, 4), {"k": -1}, _torch("tril", -1)),
    Spec("tril", (4,), {"k": 1}, lambda t: _torch("tril", 1)(t.expand(4, 4))),
    Spec("diag", (4,), {}, _torch("diag")),
    Spec("diag", (3,), {"k": 2}, _torch("diag", 2)),
    Spec("diag", (3,), {"k": -1}, _torch("diag", -1)),
    Spec("diag", (4, 3), {"k": -1}, _torch("diag", -1)),
    Spec("diag", (4, 3), {"k": 1}, _torch("diag", 1)),
    Spec("diag", (2, 5), {"k": 1}, _torch("diag", 1)),
    Spec("diag", (4, 3), {"k": 5}, _torch("diag", 5)),  # beyond the matrix: empty
    Spec("trace", (3, 4), {}, _torch("trace")),
    Spec("trace", (3, 4), {"offset": 1}, _torch_trace(1, 0, 1)),
    Spec("trace", (3, 4), {"offset": -2}, _torch_trace(-2, 0, 1)),
    Spec("trace", (3, 2, 4), {"offset": 1, "axis1": 2, "axis2": 0}, _torch_trace(1, 2, 0)),
]
IDS = [f"{s.name}-{'-'.join(f'{k}={v}' for k, v in s.kw.items())}-{s.shape}" for s in SPECS]


def tg_call(spec: Spec) -> Callable:
    return lambda x: getattr(tg, spec.name)(x, **spec.kw)


def np_call(spec: Spec) -> Callable:
    return lambda x: getattr(np, spec.name)(x, **spec.kw)


def data(spec: Spec, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(spec.shape)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_value_matches_numpy_by_tg_and_np(spec):
    x = data(spec)
    expected = np_call(spec)(x)
    t = Tensor(x, requires_grad=True)
    for out in (tg_call(spec)(t), np_call(spec)(t)):
        assert isinstance(out, Tensor) and out.requires_grad
        assert type(out.data) is np.ndarray
        assert_close(out, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradient_matches_hand_adjoint(spec):
    x = data(spec)
    t = Tensor(x, requires_grad=True)
    out = np_call(spec)(t)
    G = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(G)
    assert_close(t.grad, HAND[spec.name](G, x.shape, **spec.kw), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.torch], ids=[
    i for i, s in zip(IDS, SPECS) if s.torch])
def test_value_and_gradient_match_torch(spec):
    torch = pytest.importorskip("torch")
    x = data(spec)
    t = Tensor(x, requires_grad=True)
    out = tg_call(spec)(t)
    tt = torch.tensor(x, requires_grad=True)
    tout = spec.torch(tt)
    assert_close(out, tout.detach().numpy(), rtol=1e-12, atol=0)
    G = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(G)
    tout.backward(torch.tensor(G))
    assert_close(t.grad, tt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_gradcheck_both_modes_and_second_order(spec):
    f = np_call(spec)

    def squared(x):  # something for the second derivative to see
        return f(x) ** 2
    x = data(spec)
    assert tg.gradcheck(f, (Tensor(x, requires_grad=True),))
    assert tg.gradcheck(f, (Tensor(x, requires_grad=True),), mode="fwd")
    assert tg.gradgradcheck(squared, (Tensor(x, requires_grad=True),))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_forward_mode_is_the_operation_on_the_tangent(spec, forward_only):
    x, v = data(spec), data(spec, seed=2)
    out, tangent = tg.jvp(tg_call(spec), (x,), (v,))
    assert_close(out, np_call(spec)(x), rtol=1e-12, atol=0)
    # linear: J v = f(v), except that pad's constants have no tangent
    linear = {k: v for k, v in spec.kw.items() if k != "constant_values"}
    assert_close(tangent, getattr(np, spec.name)(v, **linear), rtol=1e-12, atol=0)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_float32_stays_float32(spec):
    x = data(spec).astype(np.float32)
    t = Tensor(x, requires_grad=True)
    out = tg_call(spec)(t)
    assert out.dtype == np.float32
    assert_close(out, np_call(spec)(x), rtol=1e-6, atol=0)
    (out * out).sum().backward()
    assert t.grad.dtype == np.float32


PAD_MODES = [
    ("maximum", {}), ("minimum", {"stat_length": 2}), ("mean", {"stat_length": ((1, 3), (2, 1))}),
    ("median", {}), ("median", {"stat_length": (2, 3)}), ("linear_ramp", {}),
    ("linear_ramp", {"end_values": ((1.5, -2.0), (3.0, 0.25))}), ("empty", {})]


@pytest.mark.parametrize("mode, kw", PAD_MODES, ids=[f"{m}-{k}" for m, k in PAD_MODES])
def test_pad_modes_beyond_the_copying_ones(mode, kw):
    # NumPy's statistics and ramp modes: its values (axis after axis), both modes of derivative,
    # to second order, float32 kept
    x = np.random.default_rng(4).standard_normal((3, 5))
    width = ((1, 2), (3, 1))

    def f(a):
        return np.pad(a, width, mode=mode, **kw)
    out = f(Tensor(x, requires_grad=True))
    assert out.requires_grad and tg.pad(x, width, mode, **kw).shape == out.shape
    if mode == "empty":  # NumPy leaves the values undefined: zeros here
        assert_close(out, np.pad(x, width), rtol=0, atol=0)
    else:
        assert_close(out, f(x), rtol=1e-12, atol=1e-15)
    assert tg.gradcheck(f, (Tensor(x, requires_grad=True),))
    assert tg.gradcheck(f, (Tensor(x, requires_grad=True),), mode="fwd")
    assert tg.gradgradcheck(lambda a: f(a) ** 2, (Tensor(x, requires_grad=True),))
    assert f(Tensor(x.astype(np.float32))).dtype == np.float32

def test_swapaxes_is_the_core_one_and_expand_dims_takes_tuples():
    assert tg.swapaxes is shp.swapaxes
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    assert np.expand_dims(t, (0, 2, -1)).shape == (1, 2, 1, 3, 1)
    assert np.swapaxes(t, 0, 1).requires_grad


# --- edges ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: np.flip(x), lambda x: np.roll(x, 3), lambda x: np.tile(x, (2, 3)),
    lambda x: np.repeat(x, 3), lambda x: np.repeat(x, 2, axis=0), lambda x: np.pad(x, 2),
    lambda x: np.expand_dims(x, (0, 1)),
], ids=["flip", "roll", "tile", "repeat", "repeat-axis0", "pad", "expand_dims"])
def test_zero_dimensional_inputs_as_numpy(call):
    x = np.array(0.7)
    t = Tensor(x, requires_grad=True)
    out = call(t)
    assert type(out.data) is np.ndarray
    assert_close(out, call(x), rtol=1e-12, atol=0)
    out.sum().backward()
    assert type(t.grad.data) is np.ndarray and t.grad.shape == ()
    assert_close(t.grad, np.sum(np.ones_like(call(x))), rtol=1e-12, atol=0)


def test_flip_of_0d_accepts_axis_0_as_torch():
    torch = pytest.importorskip("torch")
    t = Tensor(np.array(1.5), requires_grad=True)
    assert_close(tg.flip(t, 0), torch.flip(torch.tensor(1.5), (0,)).numpy(), 0, 0)


def test_zero_repeats_and_empty_results_give_zero_gradients():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 2.0, 3.0])
    t, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (tg.repeat(t, [0, 2, 0]) ** 2).sum().backward()
    (torch.repeat_interleave(tt, torch.tensor([0, 2, 0])) ** 2).sum().backward()
    assert_close(t.grad, tt.grad.numpy(), 0, 0)
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    out = tg.trace(t, offset=7) + tg.tile(t, (0, 1)).sum() + tg.diag(t, -5).sum()
    assert out.shape == () and out.item() == 0.0
    out.backward()
    assert_close(t.grad, np.zeros((2, 3)), 0, 0)


def test_repeat_accepts_arrays_and_integral_tensors_of_counts():
    x = Tensor(np.arange(3.0), requires_grad=True)
    for counts, same in ((np.array([1, 2, 3]), [1, 2, 3]), (Tensor([1.0, 2.0, 3.0]), [1, 2, 3]),
                         ([2], 2), (np.int64(2), 2)):
        assert_close(tg.repeat(x, counts), np.repeat(np.arange(3.0), same), 0, 0)


def test_higher_derivatives_stay_in_the_family():
    # the recorded backward pass of each operation is made of differentiable operations
    x = Tensor(np.random.default_rng(3).standard_normal((3, 3)), requires_grad=True)
    y = (tg.roll(tg.flip(tg.triu(tg.pad(x, 1, mode="reflect")), 0), 1) ** 3).sum()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    assert g.requires_grad
    assert tg.gradgradcheck(
        lambda a: tg.roll(tg.flip(tg.triu(tg.pad(a, 1, mode="reflect")), 0), 1) ** 3, (x,))


# --- bad input -----------------------------------------------------------------------------------
M = np.ones((2, 3))
BAD = [
    (lambda t: tg.tile(t, (2, -1)), ValueError, r"tile: reps must be non-negative"),
    (lambda t: tg.tile(t, 1.5), TypeError, r"tile: reps must be an int"),
    (lambda t: tg.repeat(t, -1), ValueError, r"repeat: repeats must be non-negative"),
    (lambda t: tg.repeat(t, [1, 2], axis=1), ValueError, r"repeat: repeats has 2 entries"),
    (lambda t: tg.repeat(t, 1.5), TypeError, r"repeat: repeats must be an int"),
    (lambda t: tg.repeat(t, 2, axis=2), np.exceptions.AxisError, r"repeat: axis 2"),
    (lambda t: tg.flip(t, 2), np.exceptions.AxisError, r"flip: axis 2"),
    (lambda t: tg.flip(t, (0, 0)), ValueError, r"flip: repeated axis"),
    (lambda t: tg.roll(t, (1, 2, 3), axis=(0, 1)), ValueError, r"roll: shift .* same length"),
    (lambda t: tg.roll(t, 1, axis=-3), np.exceptions.AxisError, r"roll: axis -3"),
    (lambda t: tg.roll(t, 1.5), TypeError, r"roll: shift must be an int"),
    (lambda t: tg.pad(t, 1, mode="nearest"), ValueError, r"pad: mode 'nearest' is not supported"),
    (lambda t: tg.pad(t, 1, mode="maximum", stat_length=0), ValueError, r"pad: stat_length of 0"),
    (lambda t: tg.pad(t, 1, mode="mean", end_values=1), TypeError,
     r"pad: mode 'mean' takes no argument end_values"),
    (lambda t: tg.pad(t, 1, mode="edge", constant_values=2), TypeError,
     r"pad: mode 'edge' takes no argument constant_values"),
    (lambda t: tg.pad(t, 1, mode="reflect", reflect_type="odd"), ValueError,
     r"pad: reflect_type 'odd'"),
    (lambda t: tg.pad(t, ((1, 2), (3, 4), (5, 6))), ValueError, r"pad: pad_width .* 2 dim"),
    (lambda t: tg.pad(t, -1), ValueError, r"pad: pad_width must be non-negative"),
    (lambda t: tg.pad(t, 1.5), TypeError, r"pad: pad_width must be integers"),
    (lambda t: tg.pad(t, 1, constant_values=Tensor(1.0, requires_grad=True)), TypeError,
     r"pad: constant_values must be constants"),
    (lambda t: tg.pad(t[:, :0], 1, mode="wrap"), ValueError, r"pad: cannot extend an empty"),
    (lambda t: tg.expand_dims(t, 3), np.exceptions.AxisError, r"expand_dims: axis 3"),
    (lambda t: tg.expand_dims(t, (0, 0)), ValueError, r"expand_dims: repeated axis"),
    (lambda t: tg.moveaxis(t, (0, 1), (1,)), ValueError,
     r"moveaxis: source \(0, 1\) and destination \(1,\) must have the same number"),
    (lambda t: tg.moveaxis(t, 2, 0), np.exceptions.AxisError, r"moveaxis: source 2"),
    (lambda t: tg.moveaxis(t, (0, 0), (0, 1)), ValueError, r"moveaxis: repeated axis in source"),
    (lambda t: tg.triu(t.sum()), ValueError, r"triu: needs at least one dimension"),
    (lambda t: tg.tril(t, 0.5), TypeError, r"tril: k must be an int"),
    (lambda t: tg.diag(t.reshape(1, 2, 3)), ValueError, r"diag: input must be 1-D or 2-D"),
    (lambda t: tg.trace(t[0]), ValueError, r"trace: needs at least 2 dimensions"),
    (lambda t: tg.trace(t, axis1=1, axis2=-1), ValueError, r"trace: axis1 and axis2 must differ"),
    (lambda t: np.trace(t, dtype=np.float32), TypeError, r"trace: dtype= and out="),
    (lambda t: np.tile(t, (2,), 3), TypeError, r"tile\(\)"),
]


@pytest.mark.parametrize("call, error, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_input_names_the_operation(call, error, match):
    with pytest.raises(error, match=match):
        call(Tensor(M, requires_grad=True))
