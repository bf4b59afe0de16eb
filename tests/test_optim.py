"""tg.optim: SGD and Adam against their update rules written out by hand and against
torch.optim over several steps; Newton against exact solutions and its fallback."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, nn

from conftest import assert_close, fd_jacobian

TIGHT = dict(rtol=1e-10, atol=1e-12)
STEPS = 6


def _quartic(ws):
    """A loss whose gradient changes from step to step: sum(w^4 / 4 + w^2 * c)."""
    total = None
    for k, w in enumerate(ws):
        term = (w ** 4 / 4 + w * w * (k + 0.5)).sum()
        total = term if total is None else total + term
    return total


def _quartic_grad(w, k):
    return w ** 3 + 2 * (k + 0.5) * w


def _start(rng):
    return [rng.standard_normal((3, 2)), rng.standard_normal(4)]


def _run(make_opt, start, steps=STEPS):
    params = [Tensor(a, requires_grad=True) for a in start]
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        _quartic(params).backward()
        opt.step()
    return [p.data for p in params]


def _run_torch(torch, make_opt, start, steps=STEPS):
    params = [torch.tensor(a, requires_grad=True) for a in start]
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        _quartic(params).backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def _sgd_by_hand(start, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0,
                 steps=STEPS):
    ws = [a.copy() for a in start]
    bufs = [None] * len(ws)
    for _ in range(steps):
        for k, w in enumerate(ws):
            g = _quartic_grad(w, k) + weight_decay * w
            if momentum:
                bufs[k] = g.copy() if bufs[k] is None else momentum * bufs[k] + (1 - dampening) * g
                g = g + momentum * bufs[k] if nesterov else bufs[k]
            ws[k] = w - lr * g
    return ws


def _adam_by_hand(start, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, steps=STEPS):
    b1, b2 = betas
    ws = [a.copy() for a in start]
    ms = [np.zeros_like(w) for w in ws]
    vs = [np.zeros_like(w) for w in ws]
    for t in range(1, steps + 1):
        for k, w in enumerate(ws):
            g = _quartic_grad(w, k) + weight_decay * w
            ms[k] = b1 * ms[k] + (1 - b1) * g
            vs[k] = b2 * vs[k] + (1 - b2) * g * g
            m_hat = ms[k] / (1 - b1 ** t)
            v_hat = vs[k] / (1 - b2 ** t)
            ws[k] = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ws


SGD_CONFIGS = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.03, momentum=0.5, weight_decay=0.1),
    dict(lr=0.03, momentum=0.7, dampening=0.3, weight_decay=0.01),
    dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.2),
]
ADAM_CONFIGS = [
    dict(),
    dict(lr=0.1),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.05, weight_decay=0.1),
]


@pytest.mark.parametrize("config", SGD_CONFIGS, ids=str)
def test_sgd_matches_update_rule_by_hand(config, rng):
    start = _start(rng)
    for ours, want in zip(_run(lambda ps: tg.optim.SGD(ps, **config), start),
                          _sgd_by_hand(start, **config)):
        assert_close(ours, want, **TIGHT)


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=str)
def test_adam_matches_update_rule_by_hand(config, rng):
    start = _start(rng)
    for ours, want in zip(_run(lambda ps: tg.optim.Adam(ps, **config), start),
                          _adam_by_hand(start, **config)):
        assert_close(ours, want, **TIGHT)


@pytest.mark.parametrize("name, config", [("SGD", c) for c in SGD_CONFIGS]
                         + [("Adam", c) for c in ADAM_CONFIGS], ids=str)
def test_optimizers_match_torch_over_several_steps(name, config, rng):
    torch = pytest.importorskip("torch")
    start = _start(rng)
    ours = _run(lambda ps: getattr(tg.optim, name)(ps, **config), start)
    theirs = _run_torch(torch, lambda ps: getattr(torch.optim, name)(ps, **config), start)
    for a, b in zip(ours, theirs):
        assert_close(a, b, **TIGHT)


def test_step_never_mutates_gradients_and_skips_params_without_one(rng):
    w = Tensor(rng.standard_normal(3), requires_grad=True)
    unused = Tensor(rng.standard_normal(2), requires_grad=True)
    frozen = nn.Parameter(np.ones(2), requires_grad=False)  # accepted, as in PyTorch
    for opt in (tg.optim.SGD([w, unused, frozen], lr=0.1),
                tg.optim.SGD([w, unused, frozen], lr=0.1, momentum=0.9, weight_decay=0.1),
                tg.optim.Adam([w, unused, frozen], lr=0.1, weight_decay=0.1)):
        before_unused = unused.data.copy()
        for _ in range(3):
            opt.zero_grad()
            (w * w).sum().backward()
            grad_array = w.grad.data
            grad_copy = grad_array.copy()
            old, old_values = w.data, w.data.copy()
            opt.step()
            assert w.grad.data is grad_array
            np.testing.assert_array_equal(grad_array, grad_copy)
            assert w.data is old  # written into, as PyTorch's: a held reference stays current
            assert not np.array_equal(old, old_values)
        np.testing.assert_array_equal(unused.data, before_unused)
        np.testing.assert_array_equal(frozen.data, np.ones(2))
        assert unused.grad is None


def test_zero_grad_clears_and_training_a_module_reduces_its_loss(rng):
    x = rng.uniform(-1, 1, (40, 2))
    y = (x @ np.array([[1.5], [-2.0]]) + 0.5) ** 2
    model = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Tanh(), nn.Linear(8, 1, rng=1))
    opt = tg.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.MSELoss()
    first = None
    for _ in range(200):
        opt.zero_grad()
        assert all(p.grad is None for p in model.parameters())
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.1 * first


def test_optimizer_returns_the_closure_loss(rng):
    w = Tensor([1.0, 2.0], requires_grad=True)

    def closure():
        w.grad = None
        loss = (w * w).sum()
        loss.backward()
        return loss
    loss = tg.optim.SGD([w], lr=0.25).step(closure)
    assert loss.item() == 5.0
    assert_close(w, [0.5, 1.0], **TIGHT)


@pytest.mark.parametrize("make, error, words", [
    (lambda w: tg.optim.SGD([], lr=0.1), ValueError, ["empty"]),
    (lambda w: tg.optim.SGD(w, lr=0.1), TypeError, ["single Tensor"]),
    (lambda w: tg.optim.SGD([w, np.ones(2)], lr=0.1), TypeError, ["parameter 1", "ndarray"]),
    (lambda w: tg.optim.Newton([w, Tensor([1.0])]), ValueError, ["parameter 1", "grad"]),
    (lambda w: tg.optim.SGD([w * 2], lr=0.1), ValueError, ["leaf"]),
    (lambda w: tg.optim.SGD([w, w], lr=0.1), ValueError, ["twice"]),
    (lambda w: tg.optim.SGD([w], lr=-1.0), ValueError, ["lr"]),
    (lambda w: tg.optim.SGD([w], lr="fast"), TypeError, ["lr"]),
    (lambda w: tg.optim.SGD([w], lr=0.1, nesterov=True), ValueError, ["nesterov"]),
    (lambda w: tg.optim.SGD([w], lr=0.1, momentum=-0.5), ValueError, ["momentum"]),
    (lambda w: tg.optim.Adam([w], betas=(0.9, 1.0)), ValueError, ["betas[1]"]),
    (lambda w: tg.optim.Adam([w], betas=0.9), ValueError, ["pair"]),
    (lambda w: tg.optim.Adam([w], eps=float("nan")), ValueError, ["eps"]),
])
def test_optimizers_refuse_bad_arguments(make, error, words):
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(error) as info:
        make(w)
    for word in words:
        assert word in str(info.value)


def test_float32_parameters_stay_float32():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for opt in (tg.optim.SGD([w], lr=0.1, momentum=0.9), tg.optim.Adam([w], lr=0.1)):
        for _ in range(2):
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
        assert w.dtype == np.float32


# --- Newton ---------------------------------------------------------------------------------------
def test_newton_solves_a_quadratic_in_one_step(rng):
    a = rng.standard_normal((4, 4))
    hess = a @ a.T + 4 * np.eye(4)  # positive definite
    b = rng.standard_normal(4)
    w = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    c = Tensor(rng.standard_normal(1), requires_grad=True)

    def closure():
        v = tg.concatenate([w.reshape(-1)[:3], c])  # 4 unknowns spread over two parameters
        return 0.5 * (v @ (hess @ v)) - b @ v + w[1, 1] ** 2
    opt = tg.optim.Newton([w, c])
    loss, g, h = opt.gradient_and_hessian(closure)
    hess_full = np.zeros((5, 5))
    idx = [0, 1, 2, 4]
    hess_full[np.ix_(idx, idx)] = hess
    hess_full[3, 3] = 2.0
    assert_close(h, hess_full, **TIGHT)
    opt.step(closure)
    assert opt.last_step == "newton"
    solution = np.linalg.solve(hess, b)
    assert_close(np.r_[w.data.ravel()[:3], c.data], solution, **TIGHT)
    assert abs(w.data[1, 1]) < 1e-12
    assert w.grad is None and c.grad is None  # the step leaves .grad alone


def test_newton_fits_a_linear_model_like_least_squares(rng):
    x = rng.uniform(-1, 1, (30, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.01 * rng.standard_normal((30, 1))
    model = nn.Linear(3, 1, rng=0)
    opt = tg.optim.Newton(model.parameters())
    opt.step(lambda: nn.SSELoss()(model(x), y))
    design = np.c_[x, np.ones(30)]
    coef = np.linalg.lstsq(design, y, rcond=None)[0].ravel()
    assert_close(np.r_[model.weight.data.ravel(), model.bias.data], coef, **TIGHT)


def test_newton_takes_a_pytorch_style_closure_that_calls_backward(rng):
    # the closure torch.optim.LBFGS users write: zero_grad, loss, backward, return the loss
    x = rng.uniform(-1, 1, (30, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.01 * rng.standard_normal((30, 1))
    fits = []
    for torch_style in (False, True):
        model = nn.Linear(3, 1, rng=0)
        opt = tg.optim.Newton(model.parameters())

        def closure(model=model, opt=opt, torch_style=torch_style):
            loss = nn.SSELoss()(model(x), y)
            if torch_style:
                opt.zero_grad()
                loss.backward()
            return loss
        before = opt.step(closure)
        fits.append(np.r_[model.weight.data.ravel(), model.bias.data])
        if torch_style:  # the closure's backward filled .grad, at the point before the step
            design = np.c_[x, np.ones(30)]
            start = nn.Linear(3, 1, rng=0)
            w0 = np.r_[start.weight.data.ravel(), start.bias.data]
            grad = 2 * design.T @ (design @ w0 - y.ravel())
            assert_close(np.r_[model.weight.grad.data.ravel(), model.bias.grad.data], grad,
                         **TIGHT)
            assert before.item() == pytest.approx(np.sum((design @ w0 - y.ravel()) ** 2))
    assert_close(fits[1], fits[0], 0, 0)
    # outside the closure, backward frees the graph as usual
    w = Tensor([1.0], requires_grad=True)
    loss = w * 3.0
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_newton_hessian_matches_finite_differences_for_a_small_network(rng):
    x = rng.uniform(0, 1, (8, 1))
    y = rng.uniform(0, 1, (8, 1))
    model = nn.Sequential(nn.Linear(1, 2, rng=0), nn.Sigmoid(), nn.Linear(2, 1, rng=1))
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    flat = np.concatenate([p.data.ravel() for p in params])

    def loss_at(v):
        parts, start = [], 0
        for s in shapes:
            size = int(np.prod(s))
            parts.append(v[start:start + size].reshape(s))
            start += size
        probe = nn.Sequential(nn.Linear(1, 2), nn.Sigmoid(), nn.Linear(2, 1))
        probe.load_state_dict(dict(zip(model.state_dict(), parts)))
        with tg.no_grad():
            return nn.MSELoss()(probe(x), y).item()

    _, g, h = tg.optim.Newton(params).gradient_and_hessian(lambda: nn.MSELoss()(model(x), y))
    assert_close(g, fd_jacobian(loss_at, flat), rtol=1e-6, atol=1e-9)
    fd_hess = fd_jacobian(lambda v: fd_jacobian(loss_at, v, eps=1e-4), flat, eps=1e-4)
    assert_close(h, fd_hess, rtol=1e-4, atol=1e-6)
    assert_close(h, h.T, rtol=0, atol=0)


def test_newton_falls_back_to_a_gradient_step_at_a_saddle():
    w = Tensor([0.5, 0.25], requires_grad=True)

    def closure():
        return w[0] ** 2 - w[1] ** 2  # Hessian diag(2, -2): not positive definite
    opt = tg.optim.Newton([w], fallback_lr=0.1)
    loss = opt.step(closure)
    assert loss.item() == pytest.approx(0.25 - 0.0625)
    assert opt.last_step == "gradient"
    assert_close(w, [0.5 - 0.1 * 1.0, 0.25 + 0.1 * 0.5], **TIGHT)
    # Enough damping makes H + damping I positive definite: a damped Newton step.
    damped = tg.optim.Newton([w], damping=3.0)
    before = w.data.copy()
    damped.step(closure)
    assert damped.last_step == "newton"
    g = np.array([2 * before[0], -2 * before[1]])
    assert_close(w, before - g / np.array([2 + 3.0, -2 + 3.0]), **TIGHT)


def test_newton_minimises_rosenbrock_quickly():
    w = Tensor([-1.2, 1.0], requires_grad=True)

    def rosenbrock():
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
    opt = tg.optim.Newton([w], fallback_lr=1e-3)
    for _ in range(30):
        opt.step(rosenbrock)
    assert_close(w, [1.0, 1.0], rtol=1e-8, atol=1e-8)


def test_newton_refuses_bad_closures_and_big_models():
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.Newton([w])
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(TypeError, match="one-element"):
        opt.step(lambda: w * w)

    def frees_the_graph():
        loss = (w ** 3).sum()
        loss.backward(retain_graph=False)  # asked for explicitly: nothing to differentiate
        return loss
    with pytest.raises(RuntimeError, match="backward"):
        opt.step(frees_the_graph)
    with pytest.raises(ValueError, match="Hessian"):
        tg.optim.Newton([Tensor(np.zeros(3000), requires_grad=True)])


def test_newton_on_a_loss_linear_in_the_parameters_takes_a_gradient_step():
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.Newton([w], fallback_lr=0.5)
    opt.step(lambda: (w * np.array([3.0, -1.0])).sum())  # Hessian 0: singular
    assert opt.last_step == "gradient"
    assert_close(w, [1.0 - 1.5, 2.0 + 0.5], **TIGHT)


def test_zero_grad_set_to_none_false_gives_zeros_as_pytorch():
    model = tg.nn.Linear(2, 1, rng=0, dtype=np.float32)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    for clear in (opt.zero_grad, model.zero_grad):
        model(np.ones((3, 2), np.float32)).sum().backward()
        model.bias.grad = None
        clear(set_to_none=False)
        assert model.bias.grad is None  # None stays None, as in PyTorch
        grad = model.weight.grad
        assert grad.shape == (1, 2) and grad.dtype == np.float32 and not grad.data.any()
        clear()
        assert model.weight.grad is None
    with pytest.raises(TypeError, match="set_to_none must be True or False"):
        opt.zero_grad(set_to_none="no")


@pytest.mark.parametrize("make", [
    lambda ps: tg.optim.SGD(ps, lr=0.1),
    lambda ps: tg.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: tg.optim.Adam(ps, lr=0.1),
])
def test_step_refuses_an_assigned_grad_that_does_not_fit(make):
    # PyTorch refuses such a .grad when it is assigned; a (1,) gradient broadcast over a (3,)
    # parameter took the same step on every entry without a word.
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = make([Tensor(np.zeros(2), requires_grad=True), w])
    w.grad = Tensor([1.0])
    with pytest.raises(RuntimeError, match=r"parameter 1 of shape \(3,\) has a .grad of shape "
                                           r"\(1,\)"):
        opt.step()
    w.grad = np.ones(3)
    with pytest.raises(TypeError, match="parameter 1 has a .grad of type ndarray"):
        opt.step()
    np.testing.assert_array_equal(w.data, np.zeros(3))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_first_moment_is_torch_lerp_for_small_beta1(dtype, rng):
    # torch's exp_avg.lerp_(grad, 1 - beta1) uses grad + (weight - 1)(grad - m) for weights >= 0.5:
    # with beta1 = 0, m is the gradient exactly; m + (1 - beta1)(grad - m) missed it by a bit.
    torch = pytest.importorskip("torch")
    start = rng.standard_normal(200).astype(dtype)
    w, tw = Tensor(start.copy(), requires_grad=True), torch.tensor(start, requires_grad=True)
    opt = tg.optim.Adam([w], lr=0.01, betas=(0.0, 0.99))
    topt = torch.optim.Adam([tw], lr=0.01, betas=(0.0, 0.99))
    for _ in range(3):
        g = rng.standard_normal(200).astype(dtype)
        w.grad, tw.grad = Tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        np.testing.assert_array_equal(opt.state[0]["exp_avg"], g)
        np.testing.assert_array_equal(topt.state[tw]["exp_avg"].numpy(), g)
