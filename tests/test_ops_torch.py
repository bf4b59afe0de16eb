"""Every differentiable operation against PyTorch CPU in float64: values and gradients to 1e-10.

PyTorch is an optional oracle (never a requirement): the whole module skips when it is absent.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-10, 1e-12


def _dims(axis, ndim: int):
    """PyTorch's spelling of a NumPy axis argument (None = every axis)."""
    return tuple(range(ndim)) if axis is None else axis


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _positive(rng, shape):
    return rng.uniform(0.3, 2.0, shape)


def _away_from_zero(rng, shape):
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _ties(rng, shape):
    # few distinct values, so max/min/maximum/minimum hit ties often
    return rng.integers(-2, 3, shape).astype(float)


# id -> (tinygrad_mv function, PyTorch function, input shapes, input domain)
CASES: dict = {}


def case(name, tg_fn, torch_fn, shapes, domain=_normal):
    CASES[name] = (tg_fn, torch_fn, shapes, domain)


# operators with broadcasting
for shapes in [((2, 3), (2, 3)), ((2, 1, 4), (3, 1)), ((), (3,))]:
    tag = "x".join(map(str, shapes))
    case(f"add-{tag}", lambda a, b: a + b, lambda a, b: a + b, shapes)
    case(f"sub-{tag}", lambda a, b: a - b, lambda a, b: a - b, shapes)
    case(f"mul-{tag}", lambda a, b: a * b, lambda a, b: a * b, shapes)
    case(f"div-{tag}", lambda a, b: a / b, lambda a, b: a / b, shapes, _away_from_zero)
    case(f"pow-{tag}", lambda a, b: a**b, lambda a, b: a**b, shapes, _positive)
    case(f"maximum-{tag}", tg.maximum, torch.maximum, shapes, _ties)
    case(f"minimum-{tag}", tg.minimum, torch.minimum, shapes, _ties)
case("rsub-number", lambda a: 2.5 - a, lambda a: 2.5 - a, [(4,)])
case("rdiv-number", lambda a: 2.5 / a, lambda a: 2.5 / a, [(4,)], _away_from_zero)
case("rpow-number", lambda a: 1.5**a, lambda a: 1.5**a, [(4,)])
case("pow-int", lambda a: a**3, lambda a: a**3, [(4,)], _away_from_zero)
case("neg", lambda a: -a, lambda a: -a, [(2, 3)])
case("abs-operator", abs, abs, [(2, 3)], _away_from_zero)

# elementwise functions
for name, domain in [("exp", _normal), ("log", _positive), ("sqrt", _positive), ("sin", _normal),
                     ("cos", _normal), ("tan", _normal), ("tanh", _normal),
                     ("sigmoid", _normal), ("relu", _away_from_zero), ("abs", _away_from_zero),
                     ("square", _normal)]:
    case(name, getattr(tg, name), getattr(torch, name), [(3, 4)], domain)
case("clip", lambda a: a.clip(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [(3, 4)])
case("clip-lo", lambda a: a.clip(-0.5), lambda a: a.clamp(min=-0.5), [(3, 4)])
case("where", lambda a, b: tg.where(a.data > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
     [(3, 4), (4,)])
case("where-number", lambda a: tg.where(a.data > 0, 0.25, a),
     lambda a: torch.where(a > 0, 0.25, a), [(3, 4)])

# reductions
for axis in [None, 0, -1, (0, 2)]:
    for keep in (False, True):
        tag = f"{axis}-keep{keep}"

        def _pair(method, torch_method, axis=axis, keep=keep):
            return (lambda a: getattr(a, method)(axis=axis, keepdims=keep),
                    lambda a: getattr(a, torch_method)(dim=_dims(axis, a.ndim), keepdim=keep))

        case(f"sum-{tag}", *_pair("sum", "sum"), [(2, 3, 4)])
        case(f"mean-{tag}", *_pair("mean", "mean"), [(2, 3, 4)])
        case(f"max-{tag}", *_pair("max", "amax"), [(2, 3, 4)], _ties)
        case(f"min-{tag}", *_pair("min", "amin"), [(2, 3, 4)], _ties)
        case(f"logsumexp-{tag}", lambda a, axis=axis, keep=keep: tg.logsumexp(a, axis, keep),
             lambda a, axis=axis, keep=keep: torch.logsumexp(a, _dims(axis, a.ndim), keep),
             [(2, 3, 4)])
for axis in [0, 1, -1]:
    case(f"softmax-{axis}", lambda a, axis=axis: tg.softmax(a, axis),
         lambda a, axis=axis: torch.softmax(a, axis), [(2, 3, 4)])
    case(f"log_softmax-{axis}", lambda a, axis=axis: tg.log_softmax(a, axis),
         lambda a, axis=axis: torch.log_softmax(a, axis), [(2, 3, 4)])

# shape operations
case("reshape", lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [(2, 3, 4)])
case("transpose", lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)])
case("T", lambda a: a.T, lambda a: a.T, [(3, 4)])
case("flatten", lambda a: a.flatten(), lambda a: a.flatten(), [(2, 3, 4)])
case("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [(3, 1, 2)])
case("squeeze-all", lambda a: a.squeeze(), lambda a: a.squeeze(), [(1, 3, 1)])
case("unsqueeze", lambda a: a.unsqueeze(-2), lambda a: a.unsqueeze(-2), [(3, 4)])
case("broadcast_to", lambda a: a.broadcast_to((2, 3, 4)),
     lambda a: a.broadcast_to((2, 3, 4)), [(3, 1)])
case("concatenate", lambda a, b: tg.concatenate([a, b, a], axis=1),
     lambda a, b: torch.cat([a, b, a], dim=1), [(2, 3), (2, 1)])
case("stack", lambda a, b: tg.stack([a, b, a], axis=-1),
     lambda a, b: torch.stack([a, b, a], dim=-1), [(2, 3), (2, 3)])

# indexing, with NumPy indices on our side and the same indices as torch tensors on theirs
_repeat = np.array([0, 2, 0, 0])
_rows, _cols = np.array([1, 1, 0]), np.array([3, 3, 2])
INDEX_CASES = {
    "basic": (slice(1, None), None, Ellipsis, slice(None, None, 2)),
    "int": (-1, 2),
    "repeated": (_repeat,),
    "repeated-slice": (_repeat, slice(1, 3)),
    "pairs": (_rows, _cols),
    "mask-rows": (np.array([True, False, True]),),
}
for name, index in INDEX_CASES.items():
    torch_index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray) else i for i in index)
    case(f"getitem-{name}", lambda a, index=index: a[index],
         lambda a, index=torch_index: a[index], [(3, 4)])
case("getitem-mask", lambda a: a[a.data > 0], lambda a: a[a > 0], [(3, 4)])

# linear algebra
for shapes in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
               ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 2))]:
    case(f"matmul-{'x'.join(map(str, shapes))}", lambda a, b: a @ b, torch.matmul, shapes)
case("dot-1d", tg.dot, torch.dot, [(4,), (4,)])
case("dot-2d", tg.dot, torch.mm, [(2, 4), (4, 3)])
case("outer", tg.outer, torch.outer, [(3,), (4,)])
case("linear", tg.linear, torch.nn.functional.linear, [(5, 3), (2, 3), (2,)])
case("linear-nobias", tg.linear, torch.nn.functional.linear, [(2, 4, 3), (2, 3)])


@pytest.mark.parametrize("name", list(CASES))
def test_against_pytorch(name):
    tg_fn, torch_fn, shapes, domain = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # str hash() varies per run
    arrays = [domain(rng, s) for s in shapes]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]

    out, ref = tg_fn(*ours), torch_fn(*theirs)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)

    cotangent = rng.standard_normal(out.shape)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    for i, (t, u) in enumerate(zip(ours, theirs)):
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad.data, u.grad.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of input {i}")


def test_every_contract_operation_is_covered():
    # guard against the table silently losing an operation
    covered = {name.split("-")[0] for name in CASES}
    wanted = {"add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "sqrt", "sin",
              "cos", "tan", "tanh", "sigmoid", "relu", "square", "clip", "maximum", "minimum",
              "where", "sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax",
              "reshape", "transpose", "T", "flatten", "squeeze", "unsqueeze", "broadcast_to",
              "getitem", "concatenate", "stack", "matmul", "dot", "outer", "linear"}
    assert wanted <= covered, wanted - covered


@pytest.mark.parametrize("name", ["sigmoid", "logsumexp", "softmax", "log_softmax"])
def test_extreme_inputs_against_pytorch(name):
    data = np.array([1000.0, -1000.0, 0.0, 999.5, -999.0, 3.0])
    x = Tensor(data, requires_grad=True)
    y = torch.tensor(data, requires_grad=True)
    ours = getattr(tg, name)(x) if name == "sigmoid" else getattr(tg, name)(x, 0)
    theirs = getattr(torch, name)(y) if name == "sigmoid" else getattr(torch, name)(y, 0)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=RTOL, atol=1e-300)
    w = np.linspace(-1, 1, ours.size).reshape(ours.shape)
    ours.backward(w)
    theirs.backward(torch.tensor(w))
    np.testing.assert_allclose(x.grad.data, y.grad.numpy(), rtol=RTOL, atol=1e-300)


# Second derivatives (Hessian-vector products through create_graph) for a family of scalar
# functions, against torch.autograd.grad(create_graph=True).
SECOND_ORDER = {
    "exp-log-sin": (lambda x: (tg.exp(tg.sin(x)) * tg.log(x * x + 1)).sum(),
                    lambda x: (torch.exp(torch.sin(x)) * torch.log(x * x + 1)).sum()),
    "tanh-sigmoid-pow": (lambda x: (tg.tanh(x) ** 3 + tg.sigmoid(2 * x) / (x * x + 2)).sum(),
                         lambda x: (torch.tanh(x) ** 3 + torch.sigmoid(2 * x) / (x * x + 2))
                         .sum()),
    "softmax-logsumexp": (lambda x: (tg.softmax(x.reshape(2, 3), 1) ** 2).sum()
                          + tg.logsumexp(x * x, 0),
                          lambda x: (torch.softmax(x.reshape(2, 3), 1) ** 2).sum()
                          + torch.logsumexp(x * x, 0)),
    # a nonlinearity after the repeated index, so its adjoint (a scatter-add) gets an
    # x-dependent input and its own rule is exercised by the second derivative
    "matmul-index": (lambda x: ((x.reshape(2, 3) @ x.reshape(3, 2))[[0, 0, 1]] ** 3).mean(),
                     lambda x: ((x.reshape(2, 3) @ x.reshape(3, 2))[[0, 0, 1]] ** 3).mean()),
    "log_softmax-max": (lambda x: (tg.log_softmax(x, 0) * x).sum() + (x * x).max(),
                        lambda x: (torch.log_softmax(x, 0) * x).sum() + (x * x).amax()),
}


@pytest.mark.parametrize("name", list(SECOND_ORDER))
def test_hessian_vector_products_against_pytorch(name):
    ours_fn, torch_fn = SECOND_ORDER[name]
    rng = np.random.default_rng(7)
    data, v = rng.uniform(0.2, 1.5, 6), rng.standard_normal(6)
    x = Tensor(data, requires_grad=True)
    (g,) = tg.autograd.grad(ours_fn(x), x, create_graph=True)
    (hv,) = tg.autograd.grad((g * v).sum(), x)
    y = torch.tensor(data, requires_grad=True)
    (gt,) = torch.autograd.grad(torch_fn(y), y, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), y)
    np.testing.assert_allclose(g.data, gt.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(hv.data, hvt.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(CASES))
def test_second_order_against_pytorch(name):
    # L = sum(w * op(x...)^2): its Hessian-vector product runs every rule of the op again on
    # Tensors (create_graph), with cotangents that depend on the inputs
    tg_fn, torch_fn, shapes, domain = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    arrays = [domain(rng, s) for s in shapes]
    directions = [rng.standard_normal(s) for s in shapes]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = tg_fn(*ours)
    w = rng.standard_normal(out.shape)

    grads = tg.autograd.grad((w * out**2).sum(), ours, create_graph=True)
    inner = sum((g * v).sum() for g, v in zip(grads, directions))
    hvps = tg.autograd.grad(inner, ours, allow_unused=True)

    ref = torch_fn(*theirs)
    ref_grads = torch.autograd.grad((torch.tensor(w) * ref**2).sum(), theirs, create_graph=True)
    ref_inner = sum((g * torch.tensor(v)).sum() for g, v in zip(ref_grads, directions))
    ref_hvps = torch.autograd.grad(ref_inner, theirs, allow_unused=True)

    for i, (g, u) in enumerate(zip(grads, ref_grads)):
        np.testing.assert_allclose(g.data, u.detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of input {i}")
    for i, (h, u) in enumerate(zip(hvps, ref_hvps)):
        h = np.zeros(shapes[i]) if h is None else h.data
        u = np.zeros(shapes[i]) if u is None else u.numpy()
        np.testing.assert_allclose(h, u, rtol=RTOL, atol=ATOL, err_msg=f"HVP for input {i}")


def test_pow_at_zero_base_and_zero_exponent_against_pytorch():
    """x^y at x = 0: PyTorch's slopes are 0 for y = 0 (base) and y >= 0 (exponent), not NaN.
    (Only first order: PyTorch's own second derivatives are NaN here.)"""
    base, exponent = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.5, 0.0])
    x, y = Tensor(base, requires_grad=True), Tensor(exponent, requires_grad=True)
    xt = torch.tensor(base, requires_grad=True)
    yt = torch.tensor(exponent, requires_grad=True)
    ours = tg.autograd.grad((x**y).sum() + (x**0).sum(), (x, y))
    theirs = torch.autograd.grad((xt**yt).sum() + (xt**0).sum(), (xt, yt))
    for g, gt in zip(ours, theirs):
        np.testing.assert_allclose(g.data, gt.numpy(), rtol=RTOL, atol=0)
        assert np.isfinite(g.data).all()


@pytest.mark.parametrize("shape, axis", [((2, 0), 1), ((0, 3), 0), ((0,), None), ((2, 0), (0, 1)),
                                         ((1, 0, 2, 0), 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp_over_nothing_is_minus_infinity_as_pytorch(shape, axis, dtype):
    """The log of an empty sum is -inf (PyTorch, JAX, SciPy); it raised NumPy's "zero-size array
    to reduction operation maximum" error. Gradients and forward tangents are empty."""
    x = Tensor(np.zeros(shape, dtype=dtype), requires_grad=True)
    y = tg.logsumexp(x, axis=axis)
    xt = torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
    yt = torch.logsumexp(xt, dim=tuple(range(len(shape))) if axis is None else axis)
    assert y.shape == tuple(yt.shape) and y.dtype == dtype
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    y.sum().backward()
    assert x.grad.shape == shape and x.grad.dtype == dtype
    f = lambda x: tg.logsumexp(x, axis=axis)  # noqa: E731
    assert tg.jacfwd(f)(x.data).shape == y.shape + shape
