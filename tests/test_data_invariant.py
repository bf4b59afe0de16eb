"""Every Tensor's ``.data`` is an ``np.ndarray`` (a 0-d array for scalars, never a NumPy scalar),
eager or replayed by ``tg.jit``: arithmetic on 0-d arrays returns NumPy scalars, and
``np.asarray(t)`` on a Tensor holding one fails."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor
from tinygrad_mv.commands.gradcheck import op_cases

CASES = {case.label: case for case in op_cases()}


def _scalar_inputs(case):
    """The case's inputs as 0-d arrays, or None when the operation needs more dimensions."""
    inputs = tuple(np.array(np.ravel(x)[0]) for x in case.inputs)
    try:
        case.fn(*(Tensor(x) for x in inputs))
    except (ValueError, IndexError, TypeError, np.exceptions.AxisError):
        return None
    return inputs


def _assert_arrays(values, what):
    for value in values:
        if value is None:
            continue
        assert isinstance(value, Tensor), f"{what}: {type(value).__name__} is not a Tensor"
        assert type(value.data) is np.ndarray, (
            f"{what}: .data is {type(value.data).__name__}, not an np.ndarray")
        np.asarray(value)  # the failure users met: __array__ not producing an array


def _loss(fn):
    return lambda *xs: fn(*xs).sum()


# Every case with its own inputs, and again with 0-d inputs where the operation takes them.
INPUTS = [pytest.param(case.inputs, id=f"{label}-arrays") for label, case in CASES.items()] + [
    pytest.param(_scalar_inputs(case), id=f"{label}-0d") for label, case in CASES.items()
    if _scalar_inputs(case) is not None]
LABELS = [param.id.rsplit("-", 1)[0] for param in INPUTS]


@pytest.mark.parametrize("label, inputs", [
    pytest.param(label, param.values[0], id=param.id) for label, param in zip(LABELS, INPUTS)])
def test_results_and_gradients_hold_ndarrays_eager_and_replayed(label, inputs):
    case = CASES[label]
    argnums = tuple(range(len(inputs)))
    tensors = [Tensor(x, requires_grad=True) for x in inputs]
    out = case.fn(*tensors)
    out.sum().backward()
    _assert_arrays([out, *(t.grad for t in tensors)], f"{label} eager")
    value_and_grad = tg.value_and_grad(_loss(case.fn), argnums=argnums)
    value, grads = value_and_grad(*inputs)
    _assert_arrays([value, *grads], f"{label} value_and_grad")
    jitted = tg.jit(value_and_grad)
    if "in-place" in label:
        with pytest.raises(tg.JitError, match="in-place"):  # refused, never replayed stale
            jitted(*inputs)
        return
    for _ in range(2):  # the recording call, then a replay
        replayed_value, replayed_grads = jitted(*inputs)
        _assert_arrays([replayed_value, *replayed_grads], f"{label} jit(value_and_grad)")
        # and bit for bit the eager results (0-d arguments are replayed as NumPy scalars)
        for got, want in zip((replayed_value, *replayed_grads), (value, *grads)):
            assert got.dtype == want.dtype and got.data.tobytes() == want.data.tobytes(), (
                f"{label}: the replay gives {got.data!r}, eagerly {want.data!r}")


@pytest.mark.parametrize("x0", [np.array(0.7), np.array([0.7, -0.3])], ids=["0-d", "1-d"])
def test_transforms_hold_ndarrays(x0):
    def f(x):
        return (tg.sin(x) * x).sum() / 2.0

    results = [tg.grad(f)(x0), tg.jacobian(lambda x: tg.sin(x) * 2.0)(x0), tg.hessian(f)(x0),
               *tg.jvp(f, (x0,), (np.ones_like(x0),)), tg.hvp(f, (x0,), (np.ones_like(x0),)),
               tg.vjp(f, x0)[1](np.array(1.0))[0], tg.jit(tg.grad(f))(x0),
               tg.jit(tg.grad(f))(x0), tg.jit(tg.hessian(f))(x0)]
    _assert_arrays(results, "transforms")


def test_the_gaussian_chi2_gradient_replayed_with_0d_parameters():
    x = np.linspace(140.0, 200.0, 30)
    y = np.exp(-((x - 170.0) ** 2) / 128.0) / 20.0
    xt, yt = Tensor(x), Tensor(y)
    c = float(np.sqrt(2 * np.pi))

    def chi2(mu, sig):
        f = tg.exp(-((xt - mu) ** 2) / (2 * sig ** 2)) / (c * sig)
        return ((yt - f) ** 2).sum()

    eager = tg.value_and_grad(chi2, argnums=(0, 1))
    jitted = tg.jit(eager)
    p = [np.array(155.0), np.array(6.0)]
    for _ in range(3):
        value, grads = jitted(*p)
        expected_value, expected_grads = eager(*p)
        _assert_arrays([value, *grads], "jit(value_and_grad(chi2))")
        assert value.data == expected_value.data
        for g, e in zip(grads, expected_grads):
            assert g.data == e.data
        p = [p[0] - 1e3 * np.asarray(grads[0]), p[1] - 1e3 * np.asarray(grads[1])]


# --- .data assigned by the user -------------------------------------------------------------------
def test_data_assigned_a_tensor_holds_its_array_as_pytorchs_manual_update():
    """PyTorch's manual update ``p.data = p.data - lr * p.grad`` (an ndarray minus a Tensor is a
    Tensor) put a Tensor into .data: saving, the optimizers and np.asarray then failed."""
    rng = np.random.default_rng(0)
    model = tg.nn.Sequential(tg.nn.Linear(1, 4, rng=rng), tg.nn.Sigmoid(),
                             tg.nn.Linear(4, 1, rng=rng))
    x = Tensor(np.linspace(0.0, 1.0, 8).reshape(-1, 1))
    y = Tensor(np.sin(3 * x.data))
    for _ in range(3):
        tg.nn.MSELoss()(model(x), y).backward()
        for p in model.parameters():
            p.data = p.data - 0.5 * p.grad
            p.grad = None
    for p in model.parameters():
        assert type(p.data) is np.ndarray and type(np.asarray(p)) is np.ndarray
    state = model.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    tg.nn.MSELoss()(model(x), y).backward()
    opt.step()  # raised on a Tensor inside .data


def test_data_assigned_a_number_is_a_0d_array_and_other_values_are_refused():
    """0-d arithmetic returns NumPy scalars (``t.data - lr * g`` on a 0-d t): .data stays an
    ndarray; what is no number and no array is refused, naming its type."""
    t = Tensor(2.0, requires_grad=True)
    t.data = t.data - 0.5 * np.float64(1.0)
    assert type(t.data) is np.ndarray and t.data.shape == () and t.item() == 1.5
    t.data = np.float32(3.0)
    assert type(t.data) is np.ndarray and t.data.dtype == np.float32
    with pytest.raises(TypeError, match=r"\.data must be .* got str"):
        t.data = "abc"
    with pytest.raises(TypeError, match="got list"):
        t.data = [1.0, 2.0]


def test_data_assigned_keeps_a_tensor_that_requires_grad_floating():
    """A Python int became an int64 array: a Parameter requiring grad then had integer gradients
    and SGD's step failed in NumPy's casting. Python numbers become float64 (as ``Tensor(1)``),
    integer arrays are refused on a Tensor that requires grad (as PyTorch), and non-numeric NumPy
    values (np.str_, datetime64, string arrays) are refused as the constructor refuses them."""
    w = tg.nn.Parameter(0.5)
    w.data = 1
    assert w.data.dtype == np.float64 and w.item() == 1.0
    ((w * 3.0) ** 2).backward()
    assert w.grad.dtype == np.float64
    tg.optim.SGD([w], lr=0.1).step()
    assert w.item() == pytest.approx(1.0 - 0.1 * 18.0)
    w.data = True
    assert w.data.dtype == np.float64
    with pytest.raises(TypeError, match="requires grad must be floating, got int64"):
        w.data = np.array(2)
    with pytest.raises(TypeError, match="requires grad must be floating, got int64"):
        w.data = Tensor([1, 2], dtype=np.int64)
    counts = Tensor([1, 2], dtype=np.int64)  # no gradient: integer values stay possible
    counts.data = np.array([3, 4])
    assert counts.data.dtype == np.int64
    for value in (np.str_("x"), np.datetime64("2020"), np.array(["a", "b"])):
        with pytest.raises(TypeError, match="must hold numbers"):
            counts.data = value
