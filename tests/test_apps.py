"""The two applications: the Gaussian fit (its gradients, its agreement with scipy, the claims of
examples/gaussian_fit.py) and the curve network (its gradients, its optimizers, the claims of
examples/curve_network.py), plus their pictures with and without matplotlib."""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import datasets
from tinygrad_mv.apps import curve, gaussian

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _normal_pdf(x, mu, sigma):
    return np.exp(-((x - mu) ** 2) / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))


def _central(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


@pytest.fixture(scope="module")
def histogram():
    centres, density, _ = gaussian.histogram(datasets.heights())
    return centres, density


# --- the Gaussian -------------------------------------------------------------------------------
def test_histogram_is_a_density_on_aligned_bins():
    values = np.array([150.2, 151.0, 153.9, 170.0, 171.5])
    centres, density, edges = gaussian.histogram(values, bin_width=2.0)
    assert edges[0] == 150.0 and edges[-1] >= 171.5
    np.testing.assert_allclose(np.diff(edges), 2.0)
    np.testing.assert_allclose(centres, edges[:-1] + 1.0)
    assert np.sum(density * 2.0) == pytest.approx(1.0, abs=1e-14)
    assert density[0] == pytest.approx(2 / (5 * 2.0))  # 150.2 and 151.0 in [150, 152)
    with pytest.raises(ValueError, match="bin_width must be positive"):
        gaussian.histogram(values, bin_width=0)


@pytest.mark.parametrize("pdf", [gaussian.gaussian_pdf, gaussian.gaussian_pdf_composed])
def test_pdf_values_and_partial_derivatives(pdf):
    x = np.linspace(140.0, 200.0, 13)
    mu = tg.Tensor(163.0, requires_grad=True)
    sigma = tg.Tensor(8.5, requires_grad=True)
    f = pdf(x, mu, sigma)
    np.testing.assert_allclose(f.data, _normal_pdf(x, 163.0, 8.5), rtol=1e-14)
    # Each f(x_i) separately: df/dmu and df/dsigma against the hand-derived partials.
    jac_mu = tg.jacobian(lambda m: pdf(x, m, sigma))(mu).data
    jac_sigma = tg.jacobian(lambda s: pdf(x, mu, s))(sigma).data
    want_mu = _normal_pdf(x, 163.0, 8.5) * (x - 163.0) / 8.5 ** 2
    want_sigma = _normal_pdf(x, 163.0, 8.5) * ((x - 163.0) ** 2 / 8.5 ** 3 - 1 / 8.5)
    np.testing.assert_allclose(jac_mu, want_mu, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(jac_sigma, want_sigma, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(jac_mu, _central(lambda m: _normal_pdf(x, m, 8.5), 163.0),
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(jac_sigma, _central(lambda s: _normal_pdf(x, 163.0, s), 8.5),
                               rtol=1e-6, atol=1e-12)


def test_pdf_gradient_with_respect_to_x_and_broadcast_parameters():
    x = tg.Tensor(np.linspace(150.0, 190.0, 7), requires_grad=True)
    mu = tg.Tensor([[160.0], [170.0]], requires_grad=True)  # (2, 1) against x (7,): (2, 7)
    sigma = tg.Tensor(9.0, requires_grad=True)
    out = gaussian.gaussian_pdf(x, mu, sigma)
    assert out.shape == (2, 7)
    weights = np.random.default_rng(0).standard_normal((2, 7))
    out.backward(weights)
    f = _normal_pdf(x.data, mu.data, 9.0)
    np.testing.assert_allclose(x.grad.data, (weights * -f * (x.data - mu.data) / 81).sum(0),
                               rtol=1e-12)
    np.testing.assert_allclose(mu.grad.data, (weights * f * (x.data - mu.data) / 81).sum(
        1, keepdims=True), rtol=1e-12)


def test_chi_squared_gradient_is_the_analytic_chain(histogram):
    x, y = histogram
    for m, s in [(155.0, 6.0), (168.0, 11.0), (180.0, 4.0)]:
        cost, grad = gaussian.chi_squared_and_gradient(x, y, tg.Tensor(m, requires_grad=True),
                                                       tg.Tensor(s, requires_grad=True))
        f = _normal_pdf(x, m, s)
        residual = y - f
        assert cost == pytest.approx(np.sum(residual ** 2), rel=1e-14)
        # d chi2 / dp = -2 sum (y - f) df/dp, with the course's df/dmu and df/dsigma.
        d_mu = -2 * np.sum(residual * f * (x - m) / s ** 2)
        d_sigma = -2 * np.sum(residual * f * ((x - m) ** 2 / s ** 3 - 1 / s))
        np.testing.assert_allclose(grad, [d_mu, d_sigma], rtol=1e-12)

        def chi2(mu, sigma, x=x, y=y):
            return np.sum((y - _normal_pdf(x, mu, sigma)) ** 2)
        numeric = [_central(lambda v, s=s: chi2(v, s), m), _central(lambda v, m=m: chi2(m, v), s)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-12)


def test_fused_and_composed_models_agree_to_second_order(histogram):
    x, y = histogram

    def cost_with(pdf):
        return lambda p: gaussian.chi_squared(pdf, x, y, p[0], p[1])
    point = tg.Tensor([160.0, 8.0])
    h_fused = tg.hessian(cost_with(gaussian.gaussian_pdf))(point).data
    h_composed = tg.hessian(cost_with(gaussian.gaussian_pdf_composed))(point).data
    np.testing.assert_allclose(h_fused, h_composed, rtol=1e-11, atol=1e-18)

    def grad_np(p):
        return gaussian.chi_squared_and_gradient(x, y, tg.Tensor(p[0], requires_grad=True),
                                                 tg.Tensor(p[1], requires_grad=True))[1]
    numeric = np.column_stack([_central(lambda v: grad_np([v, 8.0]), 160.0),
                               _central(lambda v: grad_np([160.0, v]), 8.0)])
    np.testing.assert_allclose(h_fused, numeric, rtol=1e-5, atol=1e-12)


def test_chi_squared_gradient_and_hessian_match_torch(histogram):
    torch = pytest.importorskip("torch")
    x, y = histogram
    point = np.array([158.0, 7.5])

    def torch_chi2(p):
        xs, ys = torch.tensor(x), torch.tensor(y)
        f = torch.exp(-0.5 * ((xs - p[0]) / p[1]) ** 2) / (p[1] * math.sqrt(2 * math.pi))
        return ((ys - f) ** 2).sum()
    p = torch.tensor(point, requires_grad=True)
    (want_grad,) = torch.autograd.grad(torch_chi2(p), p)
    want_hessian = torch.autograd.functional.hessian(torch_chi2, torch.tensor(point))
    _, grad = gaussian.chi_squared_and_gradient(x, y, tg.Tensor(point[0], requires_grad=True),
                                                tg.Tensor(point[1], requires_grad=True))
    hessian = tg.hessian(lambda q: gaussian.chi_squared(gaussian.gaussian_pdf, x, y, q[0], q[1]))(
        tg.Tensor(point)).data
    np.testing.assert_allclose(grad, want_grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(hessian, want_hessian.numpy(), rtol=1e-10, atol=1e-18)


def test_steepest_descent_step_moves_against_the_gradient(histogram):
    x, y = histogram
    mu, sigma = tg.Tensor(155.0, requires_grad=True), tg.Tensor(6.0, requires_grad=True)
    cost_before, grad = gaussian.chi_squared_and_gradient(x, y, mu, sigma)
    returned = gaussian.steepest_descent_step(x, y, mu, sigma, lr=100.0)
    assert returned == cost_before
    np.testing.assert_allclose([mu.item(), sigma.item()], np.array([155.0, 6.0]) - 100.0 * grad,
                               rtol=1e-15)


def test_fit_agrees_with_scipy_curve_fit(histogram):
    optimize = pytest.importorskip("scipy.optimize")
    fit = gaussian.fit_gaussian(datasets.heights())
    (mu, sigma), _ = optimize.curve_fit(_normal_pdf, *histogram, p0=[155.0, 6.0])
    assert fit.converged
    assert fit.mu == pytest.approx(mu, rel=1e-4)
    assert fit.sigma == pytest.approx(sigma, rel=1e-4)


def test_fit_path_starts_at_the_course_point_and_never_goes_up():
    fit = gaussian.fit_gaussian(datasets.heights(2000, seed=5), steps=60)
    np.testing.assert_array_equal(fit.path[0], [155.0, 6.0])
    assert fit.path.shape == (fit.steps + 1, 2) and fit.chi2_path.shape == (fit.steps + 1,)
    assert np.all(np.diff(fit.chi2_path) <= 1e-15 * fit.chi2_path[:-1])  # up to rounding
    assert fit.chi2 == fit.chi2_path[-1] and fit.mu == fit.path[-1, 0]


def test_too_large_a_step_is_halved_instead_of_diverging():
    fit = gaussian.fit_gaussian(datasets.heights(2000, seed=5), lr=1e7, steps=400)
    assert np.all(np.diff(fit.chi2_path) <= 1e-15 * fit.chi2_path[:-1])  # up to rounding
    assert np.all(fit.path[:, 1] > 0)
    reference = gaussian.fit_gaussian(datasets.heights(2000, seed=5))
    assert fit.converged and reference.converged
    assert fit.mu == pytest.approx(reference.mu, rel=1e-6)
    assert fit.sigma == pytest.approx(reference.sigma, rel=1e-6)


def test_a_step_far_too_large_is_halved_until_it_works():
    # The halving used to give up after 1e-30 * lr, with no step taken from lr = 1e40.
    fit = gaussian.fit_gaussian(datasets.heights(2000, seed=5), lr=1e40, steps=400)
    reference = gaussian.fit_gaussian(datasets.heights(2000, seed=5))
    assert fit.converged and fit.mu == pytest.approx(reference.mu, rel=1e-6)


@pytest.mark.parametrize("settings, message", [
    ({"lr": np.inf}, "lr must be positive and finite"),  # (it used to halve inf for ever)
    ({"mu0": np.inf}, "mu and sigma finite"),
    ({"mu0": np.nan}, "mu and sigma finite"),
    ({"sigma0": np.inf}, "mu and sigma finite"),
    ({"bin_width": np.inf}, "bin_width must be positive and finite"),
    ({"sigma0": 1e-300}, "curvature overflows at mu=155.0, sigma=1e-300"),
])
def test_fit_rejects_non_finite_settings_clearly(settings, message):
    with pytest.raises(ValueError, match=message):
        gaussian.fit_gaussian(datasets.heights(100), **settings)


def test_automatic_step_works_in_other_units():
    # Heights in metres: chi-squared's curvature changes by 1e8, the automatic step follows it.
    metres = datasets.heights() / 100
    fit = gaussian.fit_gaussian(metres, mu0=1.55, sigma0=0.06, bin_width=0.02, steps=1000)
    in_cm = gaussian.fit_gaussian(datasets.heights())
    assert fit.converged
    assert fit.mu == pytest.approx(in_cm.mu / 100, rel=1e-6)
    assert fit.sigma == pytest.approx(in_cm.sigma / 100, rel=1e-5)


def test_fit_rejects_bad_settings():
    with pytest.raises(ValueError, match="starting sigma must be positive"):
        gaussian.fit_gaussian(datasets.heights(100), sigma0=0.0)
    with pytest.raises(ValueError, match="lr must be positive"):
        gaussian.fit_gaussian(datasets.heights(100), lr=-1.0)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        gaussian.fit_gaussian(datasets.heights(100), steps=2.5)


def test_gaussian_example_claims_hold(tmp_path, capsys):
    example = _example("gaussian_fit")
    fit = example.main(str(tmp_path), progress=False)
    assert fit.converged and fit.steps <= example.CLAIMED_MAX_STEPS
    assert fit.chi2_path[0] / fit.chi2 > example.CLAIMED_REDUCTION
    assert (tmp_path / "gaussian_fit.png").read_bytes()[:8] == PNG_HEADER
    assert "wrote" in capsys.readouterr().out


# --- the curve network --------------------------------------------------------------------------
def test_network_is_1_6_7_2_with_sigmoids():
    model = curve.make_network(0)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(6, 1), (6,), (7, 6), (7,), (2, 7), (2,)]
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid"] * 3
    out = model(tg.Tensor(np.linspace(0, 1, 5)[:, None]))
    assert out.shape == (5, 2) and np.all((out.data > 0) & (out.data < 1))


def test_cost_is_sse_over_n():
    t, xy = datasets.curve("heart", 20)
    model = curve.make_network(3)
    with tg.no_grad():
        prediction = model(tg.Tensor(t)).data
    assert curve.cost(model, t, xy).item() == pytest.approx(np.sum((prediction - xy) ** 2) / 20,
                                                            rel=1e-14)


def test_network_gradients_equal_hand_chain_rule_and_central_differences():
    t, xy = datasets.curve("lissajous", 25)
    model = curve.make_network(7)
    curve.cost(model, tg.Tensor(t), tg.Tensor(xy)).backward()
    by_hand = curve.chain_rule_gradients(model, t, xy)
    numeric = curve.finite_difference_gradients(model, t, xy)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, by_hand[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)
        np.testing.assert_allclose(p.grad.data, numeric[name], rtol=1e-5, atol=1e-10,
                                   err_msg=name)


def test_noisy_steepest_descent_update_rule():
    p = tg.Tensor([1.0, 2.0], requires_grad=True)
    q = tg.Tensor(3.0, requires_grad=True)
    opt = curve.NoisySteepestDescent([p, q], lr=0.5, noise=0.3, seed=11)
    p.grad, q.grad = tg.Tensor([0.2, -0.4]), tg.Tensor(1.0)
    xi = np.random.default_rng(11).standard_normal(2)
    opt.step()
    np.testing.assert_allclose(p.data, [1.0, 2.0] - 0.5 * (1 + 0.3 * xi[0]) * np.array([0.2, -0.4]),
                               rtol=1e-15)
    assert q.item() == pytest.approx(3.0 - 0.5 * (1 + 0.3 * xi[1]), rel=1e-15)
    opt.zero_grad()
    assert p.grad is None and q.grad is None
    silent = curve.NoisySteepestDescent([q], lr=0.1, noise=0.0)
    q.grad = tg.Tensor(2.0)
    before = q.item()
    silent.step()
    assert q.item() == before - 0.2  # no noise: plain steepest descent
    with pytest.raises(ValueError, match="lr must be positive"):
        curve.NoisySteepestDescent([q], lr=0)
    with pytest.raises(ValueError, match="lr must be positive and finite, got inf"):
        curve.NoisySteepestDescent([q], lr=np.inf)  # (it made every weight NaN)
    with pytest.raises(ValueError, match="noise must be non-negative and finite, got inf"):
        curve.NoisySteepestDescent([q], lr=1.0, noise=np.inf)


def test_train_curve_records_costs_and_stages():
    t, xy = datasets.curve("heart", 30)
    run = curve.train_curve(t, xy, "adam", steps=50, progress=False, stages=[0, 10, 50])
    assert run.steps == 50 and run.costs.shape == (51,)
    assert [i for i, _ in run.stages] == [0, 10, 50]
    assert all(drawn.shape == (400, 2) for _, drawn in run.stages)
    with tg.no_grad():  # the last stage and the last cost are the trained model's
        np.testing.assert_allclose(run.stages[-1][1], run.model(np.linspace(0, 1, 400)[:, None])
                                   .data)
        assert run.final_cost == curve.cost(run.model, t, xy).item()
    assert curve.stage_iterations(10_000) == [0, 200, 2000, 10_000]
    assert curve.stage_iterations(0) == [0]


def test_train_curve_is_reproducible_and_seeded():
    t, xy = datasets.curve("spiral", 20)
    a = curve.train_curve(t, xy, "sgd", steps=30, seed=1, progress=False)
    b = curve.train_curve(t, xy, "sgd", steps=30, seed=1, progress=False)
    c = curve.train_curve(t, xy, "sgd", steps=30, seed=2, progress=False)
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not np.array_equal(a.costs, c.costs)


def test_train_curve_rejects_bad_input():
    t, xy = datasets.curve("heart", 10)
    with pytest.raises(ValueError, match="unknown optimizer 'newton'"):
        curve.train_curve(t, xy, "newton")
    with pytest.raises(ValueError, match=r"t of shape \(N, 1\) and xy of shape \(N, 2\)"):
        curve.train_curve(t[:, 0], xy)


def test_curve_example_claims_hold():
    # The example's own settings (5,000 steps of each optimizer on the heart, seed 0).
    example = _example("curve_network")
    t, xy = datasets.curve(example.SHAPE)
    for optimizer, claimed in example.CLAIMED_REDUCTION.items():
        run = curve.train_curve(t, xy, optimizer, steps=example.STEPS, seed=example.SEED,
                                progress=False, stages=[])
        assert run.initial_cost / run.final_cost > claimed, optimizer


# --- pictures -----------------------------------------------------------------------------------
def test_plots_are_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    t, xy = datasets.curve("heart", 20)
    runs = [curve.train_curve(t, xy, o, steps=5, progress=False) for o in curve.OPTIMIZERS]
    path = curve.plot_curve_runs(xy, runs, tmp_path / "c.png")
    assert path.read_bytes()[:8] == PNG_HEADER
    fit = gaussian.fit_gaussian(datasets.heights(500), steps=5)
    path = gaussian.plot_gaussian_fit(fit, tmp_path / "g.png")
    assert path.read_bytes()[:8] == PNG_HEADER


def test_without_matplotlib_training_works_and_plots_return_none(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    t, xy = datasets.curve("heart", 10)
    run = curve.train_curve(t, xy, "sgd", steps=3, progress=False)
    assert curve.plot_curve_runs(xy, [run], tmp_path / "c.png") is None
    fit = gaussian.fit_gaussian(datasets.heights(200), steps=3)
    assert gaussian.plot_gaussian_fit(fit, tmp_path / "g.png") is None
    assert not list(tmp_path.iterdir())


def test_csv_outputs(tmp_path):
    t, xy = datasets.curve("heart", 10)
    runs = [curve.train_curve(t, xy, o, steps=4, progress=False) for o in curve.OPTIMIZERS]
    table = np.loadtxt(curve.write_cost_csv(runs, tmp_path / "c.csv"), delimiter=",", skiprows=1)
    np.testing.assert_allclose(table[:, 1], runs[0].costs, rtol=1e-9)
    np.testing.assert_allclose(table[:, 2], runs[1].costs, rtol=1e-9)
    fit = gaussian.fit_gaussian(datasets.heights(300), steps=4)
    table = np.loadtxt(gaussian.write_path_csv(fit, tmp_path / "g.csv"), delimiter=",",
                       skiprows=1)
    np.testing.assert_allclose(table[:, 1:3], fit.path, rtol=1e-11)
    np.testing.assert_allclose(table[:, 3], fit.chi2_path, rtol=1e-11)
