"""tg.nn: Module plumbing, Parameter, Linear, activations and losses, each against hand-derived
formulas, PyTorch (when installed) and central finite differences; and the course's 1-6-7-2
network against its hand-written chain-rule Jacobians."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor
from tinygrad_mv import nn
from tinygrad_mv.nn import functional as F

from conftest import assert_close, check_gradients, fd_jacobian

TIGHT = dict(rtol=1e-10, atol=1e-12)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- Parameter ------------------------------------------------------------------------------------
def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter([1, 2, 3])
    assert isinstance(p, Tensor)
    assert p.requires_grad and p.is_leaf
    assert p.dtype == np.float64
    assert repr(p).startswith("Parameter(")
    (p * p).sum().backward()
    assert_close(p.grad, [2.0, 4.0, 6.0], **TIGHT)


def test_parameter_keeps_float32_and_copies_its_data():
    source = np.ones(3, dtype=np.float32)
    p = nn.Parameter(source)
    assert p.dtype == np.float32
    source[0] = 5
    assert p.data[0] == 1  # a copy, not a view of the caller's array
    q = nn.Parameter(Tensor([1.0, 2.0], requires_grad=True) * 2)
    assert q.is_leaf and q.requires_grad


def test_parameter_refuses_integer_dtype():
    with pytest.raises(TypeError, match="int64"):
        nn.Parameter([1, 2], dtype=np.int64)


# --- Module discovery -----------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.inner = nn.Linear(2, 3, rng=seed)
        self.scale = nn.Parameter(np.array([2.0]))
        self.tag = "not a parameter"
        self.constant = Tensor([1.0, 2.0], requires_grad=True)  # a Tensor, not a Parameter

    def forward(self, x):
        return self.inner(x) * self.scale


class Model(nn.Module):
    # No super().__init__(): discovery must not depend on it.
    def __init__(self):
        self.first = Block(0)
        self.stages = [nn.Linear(3, 3, rng=1), nn.Tanh(), Block(2)]
        self.heads = {"a": nn.Linear(3, 1, rng=3), 7: nn.Linear(1, 1, rng=4)}
        self.shared = self.first.scale  # the same Parameter twice: reported once
        self.me = self  # a cycle must not loop forever

    def forward(self, x):
        x = self.first(x)
        for stage in self.stages[:2]:
            x = stage(x)
        return self.heads["a"](x)


def test_named_parameters_finds_attributes_lists_and_dicts_in_order():
    model = Model()
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "first.inner.weight", "first.inner.bias", "first.scale",
        "stages.0.weight", "stages.0.bias",
        "stages.2.inner.weight", "stages.2.inner.bias", "stages.2.scale",
        "heads.a.weight", "heads.a.bias", "heads.7.weight", "heads.7.bias",
    ]
    params = list(model.parameters())
    assert len({id(p) for p in params}) == len(params) == 12
    assert model.first.scale in [p for p in params if p is model.first.scale]
    assert {n for n, _ in model.named_modules()} >= {"", "first", "first.inner", "stages.1"}
    text = repr(model)  # the cycle through model.me is shown, not followed
    assert "(me): <cycle>" in text and "(first): Block(" in text


def test_sequential_names_match_pytorch_and_runs_in_order(rng):
    seq = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    x = rng.standard_normal((5, 2))
    w0, b0, w2, b2 = (p.data for p in seq.parameters())
    assert_close(seq(x), np.maximum(x @ w0.T + b0, 0) @ w2.T + b2, **TIGHT)
    assert [n for n, _ in seq[:1].named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_sequential_slices_keep_their_layers_names_as_pytorch():
    torch = pytest.importorskip("torch")
    seq = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    reference = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(),
                                    torch.nn.Linear(4, 1))
    for index in (slice(1, None), slice(None, None, -1), slice(2, 3), slice(0, 1)):
        assert list(seq[index].state_dict()) == list(reference[index].state_dict()), index
    tail = seq[1:]
    assert isinstance(tail[1], nn.Linear) and "(2): Linear" in repr(tail)  # indexed by position
    assert list(tail[1:].state_dict()) == ["2.weight", "2.bias"]
    tail.load_state_dict({"2.weight": np.ones((1, 4)), "2.bias": np.zeros(1)})
    np.testing.assert_array_equal(seq[2].weight.data, np.ones((1, 4)))  # the same layer


def test_module_without_forward_and_call_runs_forward():
    class Double(nn.Module):
        def forward(self, x, factor=2):
            return x * factor
    assert Double()(3, factor=4) == 12
    with pytest.raises(NotImplementedError, match="Empty"):
        type("Empty", (nn.Module,), {})()(1)


def test_deepcopy_gives_an_independent_model():
    import copy
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sigmoid())
    twin = copy.deepcopy(model)
    assert [n for n, _ in twin.named_parameters()] == ["0.weight", "0.bias"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in twin.parameters())
    twin[0].weight.data[0, 0] += 1.0
    assert twin[0].weight.data[0, 0] == model[0].weight.data[0, 0] + 1.0


def test_zero_grad_and_train_eval():
    model = Model()
    model(np.ones((4, 2))).sum().backward()
    touched = [p for p in model.parameters() if p.grad is not None]
    assert len(touched) == 7  # the unused Block in stages gets no gradient
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_is_a_copy_and_load_state_dict_roundtrips():
    model = Model()
    state = model.state_dict()
    # every name, the shared Parameter's second one included, as PyTorch's state_dict
    assert list(state) == [n for n, _ in model.named_parameters(remove_duplicate=False)]
    assert list(state) == [n for n, _ in model.named_parameters()] + ["shared"]
    assert all(type(v) is np.ndarray for v in state.values())
    model.first.scale.data[0] = 99.0
    assert state["first.scale"][0] == 2.0  # not a view
    other = Model()
    for p in other.parameters():
        p.data = p.data + 1.0
    other.load_state_dict(state)
    for (name, p) in other.named_parameters():
        np.testing.assert_array_equal(p.data, state[name])
        assert not np.shares_memory(p.data, state[name])


def test_tied_parameters_are_in_the_state_dict_under_every_name_as_pytorch():
    torch = pytest.importorskip("torch")

    class Tied(nn.Module):
        def __init__(self):
            self.a = nn.Linear(2, 2, rng=0)
            self.b = nn.Linear(2, 2, rng=1)
            self.b.weight = self.a.weight
            self.c = self.a  # a shared sub-module

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 2)
            self.b = torch.nn.Linear(2, 2)
            self.b.weight = self.a.weight
            self.c = self.a

    model, reference = Tied(), TorchTied()
    assert [n for n, _ in model.named_parameters()] == [
        n for n, _ in reference.named_parameters()]  # each Parameter once
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == [
        n for n, _ in reference.named_parameters(remove_duplicate=False)]
    assert list(model.state_dict()) == list(reference.state_dict())
    # a PyTorch state dict loads (strict), and ours loads into PyTorch
    given = {k: v.detach().numpy() + 1.0 for k, v in reference.state_dict().items()}
    assert model.load_state_dict(given) == nn.IncompatibleKeys([], [])
    np.testing.assert_array_equal(model.b.weight.data, given["b.weight"])
    reference.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    with pytest.raises(nn.StateDictError, match="missing keys.*c.weight"):
        model.load_state_dict({k: v for k, v in given.items() if not k.startswith("c.")})


def test_load_state_dict_casts_to_the_parameter_dtype_and_accepts_tensors():
    layer = nn.Linear(2, 2, dtype=np.float32, rng=0)
    layer.load_state_dict({"weight": Tensor(np.eye(2)), "bias": [1, 2]})
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, [1, 2])


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("0.bias"), ["missing", "0.bias"]),
    (lambda d: d.update(extra=np.zeros(1)), ["unexpected", "extra"]),
    (lambda d: d.update({"2.weight": np.zeros((3, 3))}), ["shape", "2.weight", "(1, 3)",
                                                           "(3, 3)"]),
])
def test_load_state_dict_refuses_bad_dicts_and_loads_nothing(change, words):
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sigmoid(), nn.Linear(3, 1, rng=1))
    before = seq.state_dict()
    bad = {k: v + 1.0 for k, v in before.items()}
    change(bad)
    with pytest.raises(ValueError) as info:
        seq.load_state_dict(bad)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, RuntimeError)  # what PyTorch raises
    for name, value in seq.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_load_state_dict_strict_false_loads_what_matches_and_reports_the_rest():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sigmoid(), nn.Linear(3, 1, rng=1))
    state = {k: v + 1.0 for k, v in seq.state_dict().items()}
    before = seq.state_dict()
    assert seq.load_state_dict(state) == nn.IncompatibleKeys([], [])
    del state["2.bias"]
    state["extra"] = np.zeros(1)
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Sigmoid(), nn.Linear(3, 1, rng=1))
    result = seq.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    after = seq.state_dict()
    np.testing.assert_array_equal(after["2.bias"], before["2.bias"])  # left as it was
    for name in ("0.weight", "0.bias", "2.weight"):
        np.testing.assert_array_equal(after[name], state[name])
    # a shape mismatch is refused even when not strict, as in PyTorch
    state["2.weight"] = np.zeros((3, 3))
    with pytest.raises(nn.StateDictError, match="shape mismatch.*2.weight"):
        seq.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(seq.state_dict()["0.weight"], after["0.weight"])


def test_load_state_dict_strict_false_matches_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    state = ours.state_dict()
    del state["0.bias"]
    state["head.weight"] = np.zeros(2)
    ref = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    got = ours.load_state_dict(state, strict=False)
    assert got.missing_keys == ref.missing_keys
    assert got.unexpected_keys == ref.unexpected_keys


def test_state_dict_loads_into_torch_and_back():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                                 torch.nn.Linear(4, 2)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((6, 3))
    assert_close(ours(x), theirs(torch.tensor(x)).detach().numpy(), **TIGHT)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    fresh.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert_close(fresh(x), ours(x), rtol=0, atol=0)


# --- Linear ---------------------------------------------------------------------------------------
def test_linear_shapes_init_and_seeding():
    layer = nn.Linear(4, 3, rng=7)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert isinstance(layer.weight, nn.Parameter)
    bound = 1 / np.sqrt(4)
    for p in layer.parameters():
        assert np.all(np.abs(p.data) <= bound)
    same = nn.Linear(4, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(same.weight.data, layer.weight.data)
    assert not np.array_equal(nn.Linear(4, 3, rng=8).weight.data, layer.weight.data)
    big = nn.Linear(100, 200, rng=0).weight.data  # uniform on [-0.1, 0.1]: mean 0, var 0.01/3
    assert abs(big.mean()) < 0.003 and abs(big.var() - 0.01 / 3) < 3e-4
    assert big.min() < -0.099 and big.max() > 0.099
    assert nn.Linear(2, 2, bias=False).bias is None
    assert [n for n, _ in nn.Linear(2, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_forward_matches_formula_and_gradients_match_finite_differences(rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    layer = nn.Linear(4, 3)
    layer.load_state_dict({"weight": w, "bias": b})
    assert_close(layer(x), x @ w.T + b, **TIGHT)

    def through_layer(xt, wt, bt):
        lin = nn.Linear(4, 3)
        lin.weight, lin.bias = wt, bt  # plain Tensors in place of the Parameters
        return lin(xt)
    out, (gx, gw, gb) = check_gradients(through_layer, x, w, b)
    cot = np.random.default_rng(0).standard_normal(out.shape)  # check_gradients' cotangent
    assert_close(gx, cot @ w, **TIGHT)
    assert_close(gw, cot.T @ x, **TIGHT)
    assert_close(gb, cot.sum(0), **TIGHT)


def test_linear_one_sample_bias_free_and_float32(rng):
    layer = nn.Linear(3, 2, bias=False, rng=0)
    v = rng.standard_normal(3)
    assert_close(layer(v), layer.weight.data @ v, **TIGHT)
    f32 = nn.Linear(3, 2, rng=0, dtype=np.float32)
    out = f32(v.astype(np.float32)[None])
    assert out.dtype == np.float32
    out.sum().backward()
    assert f32.weight.grad.dtype == np.float32


def test_linear_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((6, 4))
    ours = nn.Linear(4, 3, rng=0)
    theirs = torch.nn.Linear(4, 3).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    cot = rng.standard_normal((6, 3))
    ours(x).backward(cot)
    theirs(torch.tensor(x)).backward(torch.tensor(cot))
    assert_close(ours.weight.grad, theirs.weight.grad.numpy(), **TIGHT)
    assert_close(ours.bias.grad, theirs.bias.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("bad", [np.ones((5, 3)), np.ones(5), np.ones(())])
def test_linear_refuses_wrong_feature_count(bad):
    with pytest.raises(ValueError, match=r"in_features=4.*input of shape"):
        nn.Linear(4, 2)(bad)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_linear_refuses_bad_sizes(n):
    with pytest.raises(ValueError, match="positive integer"):
        nn.Linear(n, 2)


# --- activations ----------------------------------------------------------------------------------
ACTIVATIONS = [
    (nn.Sigmoid, _sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)), "Sigmoid"),
    (nn.Tanh, np.tanh, lambda z: 1 - np.tanh(z) ** 2, "Tanh"),
    (nn.ReLU, lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0, "ReLU"),
]


@pytest.mark.parametrize("cls, f, df, torch_name", ACTIVATIONS)
def test_activations_match_formulas_finite_differences_and_torch(cls, f, df, torch_name, rng):
    z = rng.standard_normal((4, 3))
    out, (gz,) = check_gradients(cls(), z)
    cot = np.random.default_rng(0).standard_normal(z.shape)
    assert_close(out, f(z), **TIGHT)
    assert_close(gz, cot * df(z), **TIGHT)
    torch = pytest.importorskip("torch")
    tz = torch.tensor(z, requires_grad=True)
    getattr(torch.nn, torch_name)()(tz).backward(torch.tensor(cot))
    assert_close(gz, tz.grad.numpy(), **TIGHT)


# --- losses: values and gradients against hand-derived formulas -----------------------------------
def _sq(p, t):
    return ((p - t) ** 2).sum()


def _bce_value(p, t):
    return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


SIGMA = np.array([0.5, 1.0, 2.0])

REGRESSION_LOSSES = [
    # (loss module, value formula, d/dprediction formula)
    (nn.MSELoss(), lambda p, t: _sq(p, t) / p.size, lambda p, t: 2 * (p - t) / p.size),
    (nn.MSELoss("sum"), _sq, lambda p, t: 2 * (p - t)),
    (nn.SSELoss(), _sq, lambda p, t: 2 * (p - t)),
    (nn.ChiSquaredLoss(), _sq, lambda p, t: 2 * (p - t)),
    (nn.ChiSquaredLoss(sigma=SIGMA), lambda p, t: (((t - p) / SIGMA) ** 2).sum(),
     lambda p, t: 2 * (p - t) / SIGMA ** 2),
    (nn.ChiSquaredLoss(sigma=0.25), lambda p, t: (((t - p) / 0.25) ** 2).sum(),
     lambda p, t: 2 * (p - t) / 0.0625),
    (nn.BCELoss(), lambda p, t: _bce_value(p, t).mean(),
     lambda p, t: (p - t) / (p * (1 - p)) / p.size),
    (nn.BCELoss("sum"), lambda p, t: _bce_value(p, t).sum(),
     lambda p, t: (p - t) / (p * (1 - p))),
]


@pytest.mark.parametrize("loss, value, dvalue", REGRESSION_LOSSES, ids=repr)
def test_losses_match_formulas_and_finite_differences(loss, value, dvalue, rng):
    p = rng.uniform(0.05, 0.95, (4, 3))
    t = rng.uniform(0.0, 1.0, (4, 3))
    out, (gp, gt) = check_gradients(loss, p, t)
    cot = float(np.random.default_rng(0).standard_normal(()))
    assert out.shape == ()
    assert_close(out, value(p, t), **TIGHT)
    assert_close(gp, cot * dvalue(p, t), **TIGHT)


def test_cross_entropy_matches_formula_and_finite_differences(rng):
    z = rng.standard_normal((5, 4)) * 3
    classes = np.array([0, 3, 1, 1, 2])
    out, (gz,) = check_gradients(lambda zt: nn.CrossEntropyLoss()(zt, classes), z)
    cot = float(np.random.default_rng(0).standard_normal(()))
    onehot = np.eye(4)[classes]
    assert_close(out, -_log_softmax(z)[np.arange(5), classes].mean(), **TIGHT)
    assert_close(gz, cot * (np.exp(_log_softmax(z)) - onehot) / 5, **TIGHT)
    summed = F.cross_entropy(z, classes, reduction="sum")
    assert_close(summed, -_log_softmax(z)[np.arange(5), classes].sum(), **TIGHT)
    single = F.cross_entropy(z[1], 3)  # logits (C,) with a scalar class
    assert_close(single, -_log_softmax(z[1:2])[0, 3], **TIGHT)


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor([[1000.0, 0.0, -1000.0], [-1e308, 1e308, 0.0]], requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 2]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad.data))
    assert loss.item() == pytest.approx((0.0 + 1e308) / 2)
    assert_close(z.grad, [[0, 0, 0], [0, 0.5, -0.5]], **TIGHT)


def test_bce_clamps_logs_at_minus_100_like_pytorch():
    p = Tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="sum")
    assert loss.item() == pytest.approx(200 + np.log(2), rel=1e-15)
    loss.backward()
    assert np.all(np.isfinite(p.grad.data))


def test_bce_gradient_near_and_at_zero_and_one_follows_pytorch_rule():
    p = np.array([1e-7, 1 - 1e-7, 0.0, 1.0, 1e-13])
    t = np.array([1.0, 0.0, 0.5, 0.5, 0.0])
    tp = Tensor(p, requires_grad=True)
    F.binary_cross_entropy(tp, t, reduction="sum").backward()
    want = (p - t) / np.maximum(p * (1 - p), np.float32(1e-12))  # PyTorch's float32 epsilon
    assert_close(tp.grad, want, **TIGHT)
    torch = pytest.importorskip("torch")
    qp = torch.tensor(p, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(qp, torch.tensor(t), reduction="sum").backward()
    assert_close(tp.grad, qp.grad.numpy(), **TIGHT)


def test_unreduced_bce_gradient_at_zero_and_one_is_finite_as_pytorchs():
    """Each element's loss has the same finite slope at p = 0 and p = 1 as the summed one (a
    saturated sigmoid gives exactly 1.0)."""
    p = np.array([0.0, 1.0, 0.5, 1.0, 0.0, _sigmoid(40.0)])
    t = np.array([0.0, 1.0, 0.3, 0.0, 1.0, 0.0])
    tp = Tensor(p, requires_grad=True)
    each = F.binary_cross_entropy(tp, t, reduction="none")
    each.sum().backward()
    want = (p - t) / np.maximum(p * (1 - p), np.float32(1e-12))
    assert_close(tp.grad, want, **TIGHT)
    summed = Tensor(p, requires_grad=True)
    F.binary_cross_entropy(summed, t, reduction="sum").backward()
    assert_close(tp.grad, summed.grad.data, **TIGHT)
    assert_close(each.data.sum(), F.binary_cross_entropy(p, t, reduction="sum").item(), **TIGHT)
    torch = pytest.importorskip("torch")
    qp = torch.tensor(p, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(qp, torch.tensor(t), reduction="none").sum().backward()
    assert_close(tp.grad, qp.grad.numpy(), **TIGHT)


def test_chi_squared_in_float32_with_tiny_or_huge_sigma_stays_finite():
    """((t - p) / sigma)^2 fits float32 where 1 / sigma^2 does not."""
    for scale in (1e-20, 1e20):
        p = np.array([1.6, 1.7], np.float32) * np.float32(scale)
        t = np.array([1.5, 1.75], np.float32) * np.float32(scale)
        tp = Tensor(p, requires_grad=True)
        loss = F.chi_squared_loss(tp, t, sigma=scale)
        loss.backward()
        r = (t.astype(np.float64) - p) / scale
        assert loss.dtype == np.float32 and tp.grad.dtype == np.float32
        assert loss.item() == pytest.approx((r ** 2).sum(), rel=1e-5)
        np.testing.assert_allclose(tp.grad.data, -2 * r / scale, rtol=1e-5)


def test_cross_entropy_of_one_sample_unreduced_is_one_number():
    z = np.array([1.0, 2.0, 3.0])
    each = F.cross_entropy(z, 1, reduction="none")
    assert each.shape == ()
    assert each.item() == pytest.approx(np.log(np.exp(z).sum()) - 2.0, rel=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_losses_have_forward_rules(reduction, rng):
    """Forward mode through every loss: J v against central differences and against its VJP
    (<u, J v> = <J^T u, v>)."""
    p, t = rng.uniform(0.05, 0.95, (3, 2)), rng.uniform(0, 1, (3, 2))
    z, classes = rng.standard_normal((3, 4)), np.array([3, 0, 1])
    cases = [
        (lambda q: F.mse_loss(q, Tensor(t), reduction), p),
        (lambda q: F.binary_cross_entropy(q, Tensor(t), reduction), p),
        (lambda q: F.cross_entropy(q, classes, reduction), z),
        (lambda q: F.chi_squared_loss(q, Tensor(t), sigma=np.array([0.5, 2.0])), p),
        (lambda q: F.sse_loss(Tensor(t), q), p),  # the target's rule
    ]
    for f, x in cases:
        v = rng.standard_normal(x.shape)
        out, tangent = tg.jvp(f, (x,), (v,))
        h = 1e-6
        fd = (f(Tensor(x + h * v)).data - f(Tensor(x - h * v)).data) / (2 * h)
        assert_close(tangent, fd, rtol=1e-6, atol=1e-8)
        u = rng.standard_normal(out.shape)
        _, pullback = tg.vjp(f, x)
        assert np.vdot(u, tangent.data) == pytest.approx(np.vdot(pullback(u)[0].data, v),
                                                         rel=1e-10)


def test_losses_keep_float32():
    p = Tensor(np.full((2, 2), 0.25, dtype=np.float32), requires_grad=True)
    t = np.full((2, 2), 0.5, dtype=np.float32)
    for fn in (F.mse_loss, F.sse_loss, F.binary_cross_entropy,
               lambda a, b: F.chi_squared_loss(a, b, sigma=2.0)):
        p.grad = None
        out = fn(p, t)
        out.backward()
        assert out.dtype == np.float32 and p.grad.dtype == np.float32


def test_loss_second_derivatives_match_finite_differences_of_the_gradient(rng):
    p0 = rng.uniform(0.1, 0.9, 6)
    t = rng.uniform(0, 1, 6)
    z0 = rng.standard_normal(6)
    classes = np.array([2, 0])
    cases = [
        (lambda q: F.mse_loss(q, t), p0),
        (lambda q: F.chi_squared_loss(q, t, sigma=SIGMA.repeat(2)), p0),
        (lambda q: F.binary_cross_entropy(q, t), p0),
        (lambda q: F.cross_entropy(q.reshape(2, 3), classes), z0),
    ]
    for f, x in cases:
        hess = tg.hessian(f)(x)
        fd = fd_jacobian(tg.grad(f), x)
        assert_close(hess, fd, rtol=1e-6, atol=1e-6)
        assert_close(hess, hess.data.T, **TIGHT)


# --- losses against PyTorch -----------------------------------------------------------------------
def _torch_cases(torch):
    tf = torch.nn.functional
    return [
        ("mse", F.mse_loss, tf.mse_loss, {}),
        ("mse-sum", lambda p, t: F.mse_loss(p, t, "sum"),
         lambda p, t: tf.mse_loss(p, t, reduction="sum"), {}),
        ("sse", F.sse_loss, lambda p, t: tf.mse_loss(p, t, reduction="sum"), {}),
        ("chi2", lambda p, t: F.chi_squared_loss(p, t, sigma=SIGMA),
         lambda p, t: (((t - p) / torch.tensor(SIGMA)) ** 2).sum(), {}),
        ("bce", F.binary_cross_entropy, tf.binary_cross_entropy, {}),
        ("bce-sum", lambda p, t: F.binary_cross_entropy(p, t, "sum"),
         lambda p, t: tf.binary_cross_entropy(p, t, reduction="sum"), {}),
        ("mse-none", lambda p, t: F.mse_loss(p, t, "none"),
         lambda p, t: tf.mse_loss(p, t, reduction="none"), {}),
        ("bce-none", lambda p, t: F.binary_cross_entropy(p, t, "none"),
         lambda p, t: tf.binary_cross_entropy(p, t, reduction="none"), {}),
    ]


def test_losses_match_torch_values_and_both_gradients(rng):
    torch = pytest.importorskip("torch")
    p = rng.uniform(0.01, 0.99, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    for name, ours, theirs, _ in _torch_cases(torch):
        tp, tt = Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)
        out = ours(tp, tt)
        w = rng.standard_normal(out.shape)  # a cotangent, for the unreduced ("none") losses
        out.backward(w)
        qp = torch.tensor(p, requires_grad=True)
        qt = torch.tensor(t, requires_grad=True)
        ref = theirs(qp, qt)
        ref.backward(torch.tensor(w))
        assert_close(out, ref.detach().numpy(), **TIGHT, what=name)
        assert_close(tp.grad, qp.grad.numpy(), **TIGHT, what=name)
        assert_close(tt.grad, qt.grad.numpy(), **TIGHT, what=name)


def test_cross_entropy_matches_torch_including_second_derivatives(rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((6, 4)) * 4
    classes = rng.integers(0, 4, 6)
    ours = tg.value_and_grad(lambda q: F.cross_entropy(q, classes))(z)
    qz = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(qz, torch.tensor(classes))
    ref.backward()
    assert_close(ours[0], ref.item(), **TIGHT)
    assert_close(ours[1], qz.grad.numpy(), **TIGHT)
    hess = tg.hessian(lambda q: F.cross_entropy(q.reshape(6, 4), classes))(z.ravel())
    ref_hess = torch.autograd.functional.hessian(
        lambda q: torch.nn.functional.cross_entropy(q.reshape(6, 4), torch.tensor(classes)),
        torch.tensor(z.ravel()))
    assert_close(hess, ref_hess.numpy(), **TIGHT)


@pytest.mark.parametrize("name", ["mse", "bce", "cross_entropy"])
def test_unreduced_losses_against_the_sums_and_central_differences(name, rng):
    """reduction="none": one loss per element (per sample for cross-entropy) whose sum is the
    "sum" reduction; gradients checked against central differences."""
    if name == "cross_entropy":
        x, classes = rng.standard_normal((5, 3)) * 3, rng.integers(0, 3, 5)
        each = lambda q: F.cross_entropy(q, classes, "none")  # noqa: E731
        total = F.cross_entropy(Tensor(x), classes, "sum")
        by_hand = np.log(np.exp(x).sum(axis=1)) - x[np.arange(5), classes]
        arrays = (x,)
    else:
        p, t = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0, 1, (4, 3))
        fn = F.mse_loss if name == "mse" else F.binary_cross_entropy
        each = lambda q, u: fn(q, u, "none")  # noqa: E731
        total = fn(Tensor(p), Tensor(t), "sum")
        by_hand = ((p - t) ** 2 if name == "mse"
                   else -(t * np.log(p) + (1 - t) * np.log(1 - p)))
        arrays = (p, t)
    out, _ = check_gradients(each, *arrays)
    assert_close(out, by_hand, **TIGHT)
    assert_close(out.data.sum(), total.item(), **TIGHT)


def test_cross_entropy_reads_a_tensor_of_whole_numbers_as_classes(rng):
    # tg.tensor([0, 2, 1]) is float64 by the contract's data rule; PyTorch users write targets so
    z = rng.standard_normal((3, 4))
    loss = nn.CrossEntropyLoss()
    from_tensor = loss(Tensor(z), tg.tensor([0, 2, 1])).item()
    assert from_tensor == loss(Tensor(z), np.array([0, 2, 1])).item()
    with pytest.raises(TypeError, match="integer class indices"):
        loss(Tensor(z), tg.tensor([0.5, 2, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        loss(Tensor(z), np.array([0.0, 2.0, 1.0]))  # a float array stays refused


# --- loss errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [F.mse_loss, F.sse_loss, F.chi_squared_loss,
                                F.binary_cross_entropy], ids=lambda f: f.__name__)
def test_losses_refuse_shape_mismatch_naming_both_shapes(fn):
    with pytest.raises(ValueError) as info:
        fn(Tensor(np.full((4, 1), 0.5)), np.full(4, 0.5))
    assert "(4, 1)" in str(info.value) and "(4,)" in str(info.value)
    assert fn.__name__ in str(info.value)


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.BCELoss, nn.CrossEntropyLoss])
def test_losses_refuse_unknown_reduction(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="avg")


@pytest.mark.parametrize("p, t, word", [
    ([0.5, 1.5], [0.0, 1.0], "prediction"),
    ([0.5, -0.1], [0.0, 1.0], "prediction"),
    ([0.5, np.nan], [0.0, 1.0], "prediction"),
    ([0.5, 0.5], [0.0, 2.0], "target"),
])
def test_bce_refuses_values_outside_zero_one(p, t, word):
    with pytest.raises(ValueError, match=word):
        F.binary_cross_entropy(Tensor(p), np.array(t))


@pytest.mark.parametrize("sigma", [0.0, -1.0, [1.0, np.inf, 1.0], np.ones(4)])
def test_chi_squared_refuses_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        F.chi_squared_loss(np.ones(3), np.zeros(3), sigma=sigma)


def test_chi_squared_differentiates_through_a_fitted_sigma():
    sigma = Tensor([0.5, 2.0], requires_grad=True)
    loss = F.chi_squared_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]), sigma=sigma)
    loss.backward()
    assert loss.item() == pytest.approx(4 + 1)
    assert_close(sigma.grad, [-2 * 4 / 0.5, -2 * 1 / 2.0], **TIGHT)  # d/ds (r/s)^2 = -2 r^2/s^3


@pytest.mark.parametrize("target, error, words", [
    (np.array([0.0, 1.0, 2.0]), TypeError, ["integer", "float64", "astype"]),
    (Tensor([0, 1.5, 2]), TypeError, ["integer"]),  # whole numbers only
    (np.array([True, False, True]), TypeError, ["bool"]),
    (np.array([0, 3, 1]), ValueError, ["target[1] = 3", "[0, 3)"]),
    (np.array([0, -1, 1]), ValueError, ["target[1] = -1"]),
    (np.array([0, 1]), ValueError, ["(3, 3)", "(2,)"]),
    (np.array([[0, 1, 2]]), ValueError, ["(1, 3)"]),
])
def test_cross_entropy_refuses_bad_targets(target, error, words):
    with pytest.raises(error) as info:
        F.cross_entropy(np.zeros((3, 3)), target)
    for word in words:
        assert word in str(info.value)


# --- the course's 1-6-7-2 network against its hand-written chain-rule Jacobians -------------------
def test_network_gradients_equal_the_course_chain_rule_jacobians():
    rng = np.random.default_rng(3)
    n = 100
    x = rng.uniform(0, 1, (n, 1))
    y = rng.uniform(0, 1, (n, 2))
    model = nn.Sequential(nn.Linear(1, 6, rng=1), nn.Sigmoid(), nn.Linear(6, 7, rng=2),
                          nn.Sigmoid(), nn.Linear(7, 2, rng=3), nn.Sigmoid())
    cost = nn.SSELoss()(model(x), y) / n
    cost.backward()

    # The course's column convention: one column per training point, b as a column vector.
    W1, b1, W2, b2, W3, b3 = (p.data for p in model.parameters())  # noqa: N806
    a0 = x.T
    z1 = W1 @ a0 + b1[:, None]
    a1 = _sigmoid(z1)
    z2 = W2 @ a1 + b2[:, None]
    a2 = _sigmoid(z2)
    z3 = W3 @ a2 + b3[:, None]
    a3 = _sigmoid(z3)

    def dsigma(z):
        return np.exp(-z) / (1 + np.exp(-z)) ** 2

    assert cost.item() == pytest.approx(((a3 - y.T) ** 2).sum() / n, rel=1e-14)
    delta3 = 2 * (a3 - y.T) * dsigma(z3)
    J_W3 = delta3 @ a2.T / n  # noqa: N806
    J_b3 = delta3.sum(axis=1) / n  # noqa: N806
    delta2 = (W3.T @ delta3) * dsigma(z2)
    J_W2 = delta2 @ a1.T / n  # noqa: N806
    J_b2 = delta2.sum(axis=1) / n  # noqa: N806
    delta1 = (W2.T @ delta2) * dsigma(z1)
    J_W1 = delta1 @ a0.T / n  # noqa: N806
    J_b1 = delta1.sum(axis=1) / n  # noqa: N806
    expected = [J_W1, J_b1, J_W2, J_b2, J_W3, J_b3]
    for (name, p), want in zip(model.named_parameters(), expected):
        assert p.grad.shape == want.shape, name
        np.testing.assert_allclose(p.grad.data, want, rtol=1e-12, atol=1e-12, err_msg=name)


def test_loss_rules_replay_under_jit_with_their_constants(rng):
    """An array sigma and cross-entropy's one-hot classes are constants of the recorded rules:
    forward mode and Hessians of the losses replay under tg.jit as eagerly."""
    t, sigma = rng.uniform(0, 1, 3), np.array([0.5, 1.0, 2.0])
    cases = [(lambda q: F.chi_squared_loss(q, t, sigma), rng.uniform(0, 1, 3)),
             (lambda q: F.cross_entropy(q, np.array([1, 2])), rng.standard_normal((2, 3)))]
    for f, x in cases:
        for transform in (tg.jacfwd, tg.hessian):
            jitted = tg.jit(transform(f))
            for shift in (0.0, 0.25):
                assert_close(jitted(x + shift), transform(f)(x + shift).data, **TIGHT)
