"""tg.optimize: Newton-Raphson, minimize, Lagrange multipliers and chi-squared fitting.

Oracles: hand-derived derivatives and iterations written here in NumPy, closed forms (roots of a
cubic by np.roots, weighted linear regression, linear KKT systems), scipy (fsolve, curve_fit) and
torch.optim where they apply; central differences for the fit's Jacobians.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import Tensor, optimize
from tinygrad_mv.optimize import ConvergenceError, ConvergenceWarning, SingularJacobianError
from tinygrad_mv.optimize._common import _value_and_jacobian
from tinygrad_mv.optimize.least_squares.chi2 import _Chi2, _gauss_newton_step
from tinygrad_mv.optimize.least_squares.loops import _gauss_newton_fit
from tinygrad_mv.optimize.least_squares.model import _COMPILED, _Model
from tinygrad_mv.optimize.least_squares.trust_region import _trust_region_step

from functions import decay, gauss, rosenbrock2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_fit import MIXTURE_X, mixture, mixture_case, mixture_np  # noqa: E402


def central_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, f: R^n -> R^m as NumPy, shape (m, n)."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1)


# --- Newton-Raphson ---------------------------------------------------------------------------
def cubic(x):
    return x ** 3 - 2 * x + 2


def test_newton_cubic_from_minus_two_matches_hand_iteration_and_real_root():
    res = optimize.newton_raphson(cubic, -2.0)
    real_root = [r.real for r in np.roots([1, 0, -2, 2]) if abs(r.imag) < 1e-12][0]
    assert res.success and isinstance(res.x, float)
    assert abs(res.x - real_root) < 1e-10
    assert abs(res.x ** 3 - 2 * res.x + 2) < 1e-10
    hand = [-2.0]  # x <- x - f(x) / f'(x) with f' = 3x^2 - 2 by hand
    for _ in range(res.nit):
        x = hand[-1]
        hand.append(x - (x ** 3 - 2 * x + 2) / (3 * x ** 2 - 2))
    np.testing.assert_allclose(res.path, hand, rtol=1e-13, atol=0)
    assert res.path[0] == -2.0 and res.path[-1] == res.x and 3 <= res.nit <= 6


def test_newton_cubic_from_zero_cycles_and_says_so():
    # x = 0 -> 1 -> 0 -> ...: f(0) = 2, f'(0) = -2; f(1) = 1, f'(1) = 1. No silent wrong root.
    with pytest.raises(ConvergenceError, match=r"Newton step 1 > .*max \|f\(x\)\| = [12]") as info:
        optimize.newton_raphson(cubic, 0.0, max_iter=9)
    path = info.value.result.path
    np.testing.assert_array_equal(path[:6], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    assert info.value.result.success is False and "cycling" in str(info.value)


def test_newton_singular_jacobian_names_iteration_and_point():
    with pytest.raises(SingularJacobianError, match=r"iteration 0, x = 0"):
        optimize.newton_raphson(lambda x: x ** 2 - 1, 0.0)
    # f = x^3 - 12x + 24 from 0: f'(0) = -12 sends x1 = 24/12 = 2 exactly, where f'(2) = 0
    with pytest.raises(SingularJacobianError, match=r"iteration 1, x = 2"):
        optimize.newton_raphson(lambda x: x ** 3 - 12 * x + 24, 0.0)
    # a singular 2x2 Jacobian: both equations depend on x + y only
    with pytest.raises(SingularJacobianError, match=r"iteration 0.*condition number"):
        optimize.newton_raphson(lambda v: tg.stack([v.sum() - 1, (v.sum()) ** 2 - 4]), [0., 0.])


def system(v):
    return tg.stack([v[0] ** 2 + v[1] ** 2 - 4, tg.exp(v[0]) + v[1] - 1])


def test_newton_two_dimensional_system_against_hand_jacobian_and_fsolve():
    res = optimize.newton_raphson(system, [-1.0, 1.0])
    x, y = res.x
    assert res.success and res.residual <= 1e-10
    assert abs(x ** 2 + y ** 2 - 4) < 1e-10 and abs(np.exp(x) + y - 1) < 1e-10
    z = np.array([-1.0, 1.0])  # the same iteration with the Jacobian derived by hand
    for k in range(1, res.nit + 1):
        f = np.array([z[0] ** 2 + z[1] ** 2 - 4, np.exp(z[0]) + z[1] - 1])
        jac = np.array([[2 * z[0], 2 * z[1]], [np.exp(z[0]), 1.0]])
        z = z - np.linalg.solve(jac, f)
        np.testing.assert_allclose(res.path[k], z, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.jac, [[2 * x, 2 * y], [np.exp(x), 1.0]], rtol=1e-12)
    fsolve = pytest.importorskip("scipy.optimize").fsolve
    ref = fsolve(lambda v: [v[0] ** 2 + v[1] ** 2 - 4, np.exp(v[0]) + v[1] - 1], [-1.0, 1.0],
                 xtol=1e-14)
    np.testing.assert_allclose(res.x, ref, rtol=0, atol=1e-10)


def test_jacobian_and_hessian_helpers_against_hand_formulas_and_central_differences():
    z = np.array([0.3, -1.2])
    value, jac = _value_and_jacobian(system, z)
    hand = np.array([[2 * z[0], 2 * z[1]], [np.exp(z[0]), 1.0]])
    np.testing.assert_allclose(value, [z[0] ** 2 + z[1] ** 2 - 4, np.exp(z[0]) + z[1] - 1])
    np.testing.assert_allclose(jac, hand, rtol=1e-13)
    np.testing.assert_allclose(jac, central_jacobian(
        lambda v: [v[0] ** 2 + v[1] ** 2 - 4, np.exp(v[0]) + v[1] - 1], z), rtol=1e-7)
    # the gradient and Hessian minimize(method="newton") uses: Jacobian of grad f
    grad, hess = _value_and_jacobian(tg.grad(rosenbrock2), z)
    x, y = z
    np.testing.assert_allclose(grad, rosen_grad_np(z), rtol=1e-13)
    np.testing.assert_allclose(hess, [[1200 * x * x - 400 * y + 2, -400 * x], [-400 * x, 200.0]],
                               rtol=1e-13)
    np.testing.assert_allclose(hess, central_jacobian(rosen_grad_np, z), rtol=1e-6)


def test_newton_linear_system_in_one_step():
    a = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 2.0]])
    b = np.array([1.0, 2.0, 3.0])
    res = optimize.newton_raphson(lambda v: tg.Tensor(a) @ v - b, np.zeros(3))
    assert res.nit == 1 and res.path.shape == (2, 3)
    np.testing.assert_allclose(res.x, np.linalg.solve(a, b), rtol=0, atol=1e-12)


def test_newton_bad_inputs():
    with pytest.raises(ValueError, match="as many equations as unknowns"):
        optimize.newton_raphson(lambda v: tg.stack([v[0], v[1], v[0] * v[1]]), [1.0, 2.0])
    with pytest.raises(TypeError, match="must return a Tensor"):
        optimize.newton_raphson(lambda x: float(x.item()) ** 2 - 2, 1.0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        optimize.newton_raphson(cubic, float("nan"))
    with pytest.raises(TypeError, match="x0 must be"):
        optimize.newton_raphson(cubic, "one")
    with pytest.raises(FloatingPointError, match="iteration 0"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            optimize.newton_raphson(lambda x: tg.log(x), -1.0)


def test_newton_result_repr_is_readable():
    text = repr(optimize.newton_raphson(lambda x: x ** 2 - 2, 1.0))
    assert text.startswith("RootResult(") and "x" in text and "1.414213562" in text
    assert "nit" in text and "iterates" in text and "converged" in text


# --- minimize ---------------------------------------------------------------------------------
def rosen_np(v):
    v = np.asarray(v)
    return (1 - v[..., 0]) ** 2 + 100 * (v[..., 1] - v[..., 0] ** 2) ** 2


def rosen_grad_np(v):
    x, y = v
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def test_minimize_quadratic_in_one_newton_step():
    a = np.array([[3.0, 1.0, 0.5], [1.0, 2.0, 0.0], [0.5, 0.0, 1.5]])
    b = np.array([1.0, -1.0, 2.0])
    res = optimize.minimize(lambda v: 0.5 * (v @ (tg.Tensor(a) @ v)) - (b * v).sum() + 7.0,
                            [5.0, 5.0, -3.0], method="newton")
    x_star = np.linalg.solve(a, b)
    assert res.success and res.nit == 1 and len(res.path) == 2
    np.testing.assert_allclose(res.x, x_star, rtol=0, atol=1e-10)
    assert res.fun == pytest.approx(7.0 - 0.5 * b @ x_star, abs=1e-10)
    assert "positive definite at every iterate" in res.message


@pytest.mark.parametrize("method", ["gd", "momentum", "adam", "newton"])
def test_minimize_defaults_make_progress_on_rosenbrock(method):
    res = optimize.minimize(rosenbrock2, [-1.0, 1.0], method=method)
    assert res.path.shape == (res.nit + 1, 2)
    np.testing.assert_array_equal(res.path[0], [-1.0, 1.0])
    np.testing.assert_array_equal(res.path[-1], res.x)
    np.testing.assert_allclose(res.values, rosen_np(res.path), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(res.grad, rosen_grad_np(res.x), rtol=1e-10, atol=1e-12)
    assert res.fun < 1e-3 < rosen_np([-1.0, 1.0])
    if method in ("gd", "newton"):  # line searches never go uphill
        assert np.all(np.diff(res.values) <= 0)
        assert res.success and np.allclose(res.x, [1.0, 1.0], atol=1e-8)
    else:
        assert not res.success and "max_iter=1000" in res.message


def test_minimize_gd_line_search_from_the_classic_start():
    # from (-1, 1) the first line-search step lands exactly on (1, 1); (-1.2, 1) is harder
    res = optimize.minimize(rosenbrock2, [-1.2, 1.0], method="gd", max_iter=300)
    assert res.fun < 0.05 * rosen_np([-1.2, 1.0]) and np.all(np.diff(res.values) <= 0)


def test_minimize_fixed_step_gd_follows_hand_written_steps():
    res = optimize.minimize(rosenbrock2, [-1.2, 1.0], method="gd", lr=1e-3, max_iter=25)
    x = np.array([-1.2, 1.0])
    for k in range(1, 26):
        x = x - 1e-3 * rosen_grad_np(x)
        np.testing.assert_allclose(res.path[k], x, rtol=1e-12)
    assert res.nit == 25 and not res.success


def test_minimize_momentum_and_adam_follow_torch_optim():
    torch = pytest.importorskip("torch")
    for method, make in [("momentum", lambda p: torch.optim.SGD([p], lr=2e-4, momentum=0.9)),
                         ("adam", lambda p: torch.optim.Adam([p], lr=0.05))]:
        res = optimize.minimize(rosenbrock2, [-1.2, 1.0], method=method,
                                lr=2e-4 if method == "momentum" else 0.05, max_iter=30)
        p = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
        opt = make(p)
        for k in range(1, 31):
            opt.zero_grad()
            ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2).backward()
            opt.step()
            np.testing.assert_allclose(res.path[k], p.detach().numpy(), rtol=1e-10,
                                       err_msg=f"{method} step {k}")


def test_minimize_momentum_default_step_is_inverse_largest_curvature():
    res = optimize.minimize(rosenbrock2, [-1.0, 1.0], method="momentum", max_iter=1)
    hess = np.array([[1200 * 1.0 - 400 * 1.0 + 2, 400.0], [400.0, 200.0]])  # by hand at (-1, 1)
    assert res.lr == pytest.approx(1 / np.max(np.abs(np.linalg.eigvalsh(hess))), rel=1e-6)


def test_minimize_newton_falls_back_where_hessian_is_indefinite():
    def f(v):
        return v[0] ** 4 - v[0] ** 2 + v[1] ** 2  # d2f/dx2 = 12x^2 - 2 < 0 near x = 0

    res = optimize.minimize(f, [0.1, 1.0], method="newton")
    assert res.success and "not positive definite at" in res.message
    assert np.all(np.diff(res.values) < 0)
    np.testing.assert_allclose(res.x, [1 / np.sqrt(2), 0.0], atol=1e-9)


def test_minimize_reports_divergence_and_bad_arguments():
    res = optimize.minimize(rosenbrock2, [-1.2, 1.0], method="gd", lr=0.1, max_iter=50)
    assert not res.success and "diverged" in res.message and "smaller lr" in res.message
    with pytest.raises(ValueError, match="unknown method 'bfgs'"):
        optimize.minimize(rosenbrock2, [0.0, 0.0], method="bfgs")
    with pytest.raises(ValueError, match="single element"):
        optimize.minimize(lambda v: v * 2, [0.0, 0.0])
    with pytest.raises(ValueError, match="lr must be a positive number"):
        optimize.minimize(rosenbrock2, [0.0, 0.0], lr=-1.0)


def test_minimize_scalar_start():
    res = optimize.minimize(lambda x: (x - 3.0) ** 2 + 1.0, 0.0, method="newton")
    assert isinstance(res.x, float) and res.x == pytest.approx(3.0, abs=1e-12)
    assert res.path.shape == (res.nit + 1,)


# --- Lagrange multipliers ---------------------------------------------------------------------
def test_lagrange_nearest_point_on_a_line():
    res = optimize.lagrange(lambda v: (v ** 2).sum(), lambda v: v.sum() - 1, [3.0, -1.0])
    np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-12)
    grad_f, grad_g = 2 * np.asarray(res.x), np.array([1.0, 1.0])  # by hand
    np.testing.assert_allclose(grad_f, res.multipliers[0] * grad_g, atol=1e-10)
    assert res.multipliers[0] == pytest.approx(1.0, abs=1e-12)
    assert res.kind == "minimum" and res.kkt_residual <= 1e-10 and res.nit == 1


@pytest.mark.parametrize("start, signs, kind", [
    ((1.0, 0.5), (1, 1), "maximum"), ((-1.0, -0.5), (-1, -1), "maximum"),
    ((-0.5, 1.0), (-1, 1), "minimum"), ((0.5, -1.0), (1, -1), "minimum")])
def test_lagrange_xy_on_the_unit_circle_all_four_points(start, signs, kind):
    res = optimize.lagrange(lambda v: v[0] * v[1], lambda v: (v ** 2).sum() - 1, start)
    x, y = res.x
    np.testing.assert_allclose(res.x, np.array(signs) / np.sqrt(2), atol=1e-10)
    lam = res.multipliers[0]
    # grad f = (y, x) and grad g = (2x, 2y), both by hand: grad f = lambda grad g
    np.testing.assert_allclose([y, x], lam * np.array([2 * x, 2 * y]), atol=1e-10)
    assert lam == pytest.approx(0.5 * signs[0] * signs[1], abs=1e-10)
    np.testing.assert_allclose(res.grad_f, [y, x], atol=1e-12)
    np.testing.assert_allclose(res.grad_g, [[2 * x, 2 * y]], atol=1e-12)
    assert res.kind == kind and res.kkt_residual <= 1e-10
    assert res.fun == pytest.approx(x * y, abs=1e-15) and abs(res.constraints[0]) < 1e-10
    np.testing.assert_array_equal(res.path[0], start)


def test_lagrange_two_constraints_against_the_linear_kkt_system():
    # min |v|^2 s.t. v0 + v1 + v2 = 1, v0 - 2 v1 = 0: KKT is linear, solved here directly
    a = np.array([[1.0, 1.0, 1.0], [1.0, -2.0, 0.0]])
    c = np.array([1.0, 0.0])
    res = optimize.lagrange(lambda v: (v ** 2).sum(),
                            [lambda v: v.sum() - 1, lambda v: v[0] - 2 * v[1]], [0.0, 0.0, 0.0])
    kkt = np.block([[2 * np.eye(3), -a.T], [a, np.zeros((2, 2))]])
    ref = np.linalg.solve(kkt, np.concatenate([np.zeros(3), c]))
    np.testing.assert_allclose(res.x, ref[:3], atol=1e-12)
    np.testing.assert_allclose(res.multipliers, ref[3:], atol=1e-12)
    assert res.kind == "minimum"


def test_lagrange_bad_inputs():
    with pytest.raises(TypeError, match="constraints must be"):
        optimize.lagrange(lambda v: v.sum(), 3.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="3 constraints on 2"):
        optimize.lagrange(lambda v: v.sum(), lambda v: tg.stack([v[0], v[1], v[0] + v[1]]),
                          [0.0, 0.0])
    with pytest.raises(ValueError, match="f must return a single element"):
        optimize.lagrange(lambda v: v * 2, lambda v: v.sum() - 1, [0.0, 0.0])
    with pytest.raises(TypeError, match="constraint 0 must return a Tensor"):
        optimize.lagrange(lambda v: v.sum(), lambda v: 1.0, [0.0, 0.0])
    # grad g = 0 at the start: the bordered Hessian is singular there
    with pytest.raises(SingularJacobianError, match="lagrange: the Jacobian is singular"):
        optimize.lagrange(lambda v: v.sum(), lambda v: (v ** 2).sum(), [0.0, 0.0],
                          multipliers=[1.0])


# --- least_squares_fit ------------------------------------------------------------------------
def line_data(rng):
    x = np.linspace(0.0, 10.0, 25)
    sigma = rng.uniform(0.5, 2.0, x.size)
    y = 1.5 - 0.7 * x + rng.normal(0.0, sigma)
    return x, y, sigma


def weighted_line_closed_form(x, y, sigma):
    """Weighted least squares for y = a + b x by the textbook sums."""
    w = 1 / sigma ** 2
    s, sx, sxx = w.sum(), (w * x).sum(), (w * x * x).sum()
    sy, sxy = (w * y).sum(), (w * x * y).sum()
    delta = s * sxx - sx ** 2
    a, b = (sxx * sy - sx * sxy) / delta, (s * sxy - sx * sy) / delta
    return np.array([a, b]), np.sqrt([sxx / delta, s / delta]), -sx / delta


def line(x, p):
    return p[0] + p[1] * x


@pytest.mark.parametrize("method", ["gauss-newton", "levenberg-marquardt", "gd"])
def test_fit_equals_closed_form_weighted_linear_regression(rng, method):
    x, y, sigma = line_data(rng)
    if method == "gd":  # steepest descent crawls when x is far from centred (badly scaled)
        x = x - 5.0
    res = optimize.least_squares_fit(line, x, y, [0.0, 0.0], sigma=sigma, method=method)
    params, errors, cov01 = weighted_line_closed_form(x, y, sigma)
    tol = 1e-10 if method != "gd" else 1e-6
    assert res.success
    np.testing.assert_allclose(res.params, params, rtol=tol)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-10 if method != "gd" else 1e-5)
    assert res.covariance[0, 1] == pytest.approx(cov01, rel=1e-9 if method != "gd" else 1e-5)
    chi2 = np.sum(((y - params[0] - params[1] * x) / sigma) ** 2)
    assert res.chi2 == pytest.approx(chi2, rel=1e-10 if method != "gd" else 1e-8)
    assert res.dof == x.size - 2 and res.reduced_chi2 == pytest.approx(res.chi2 / res.dof)
    np.testing.assert_allclose(res.residuals, (y - line(x, res.params)) / sigma, rtol=1e-12)


@pytest.mark.parametrize("method", ["gauss-newton", "levenberg-marquardt"])
def test_fit_linear_model_takes_one_gauss_newton_step(rng, method):
    x, y, sigma = line_data(rng)
    res = optimize.least_squares_fit(line, x, y, [3.0, 1.0], sigma=sigma, method=method)
    assert res.nit == 1 and res.jacobian_mode == "pointwise" and res.method == method
    assert res.nfev == 3 and res.njev == 2  # p0 (+1 for the pointwise check), then p1


@pytest.mark.parametrize("sigma_scale", [1e-4, 1.0, 1e4])
def test_fit_levenberg_marquardt_from_zero_takes_the_full_first_step(rng, sigma_scale):
    # p0 = 0 sets no scale for the trust region: the first Gauss-Newton step is taken in full,
    # whatever the size of sigma (a fixed first radius would need many steps to grow)
    x, y, sigma = line_data(rng)
    res = optimize.least_squares_fit(line, x, y, [0.0, 0.0], sigma=sigma * sigma_scale)
    params, errors, _ = weighted_line_closed_form(x, y, sigma * sigma_scale)
    assert res.nit == 1 and res.success
    np.testing.assert_allclose(res.params, params, rtol=1e-10)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-10)


def gaussian_histogram(seed=4, n=5000, bins=30):
    """Synthetic heights: a normal sample, histogrammed to a density with Poisson errors."""
    sample = np.random.default_rng(seed).normal(171.0, 7.5, n)
    counts, edges = np.histogram(sample, bins=bins, range=(145.0, 197.0))
    width = edges[1] - edges[0]
    centres = 0.5 * (edges[1:] + edges[:-1])
    return (centres, counts / (n * width), np.sqrt(np.maximum(counts, 1.0)) / (n * width))


def gauss_np(x, a, mu, s):
    return a * np.exp(-(x - mu) ** 2 / (2 * s ** 2))


def gauss_jac_np(x, a, mu, s):
    e = np.exp(-(x - mu) ** 2 / (2 * s ** 2))
    return np.stack([e, a * e * (x - mu) / s ** 2, a * e * (x - mu) ** 2 / s ** 3], axis=-1)


def correlation(cov):
    err = np.sqrt(np.diag(cov))
    return cov / np.outer(err, err)


@pytest.mark.parametrize("method", ["gauss-newton", "levenberg-marquardt"])
def test_fit_gaussian_matches_scipy_curve_fit(method):
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    x, y, sigma = gaussian_histogram()
    p0 = [0.04, 160.0, 10.0]
    res = optimize.least_squares_fit(gauss, x, y, p0, sigma=sigma, method=method)
    ref, ref_cov = curve_fit(gauss_np, x, y, p0=p0, sigma=sigma, absolute_sigma=True)
    assert res.success
    np.testing.assert_allclose(res.params, ref, rtol=1e-6)
    np.testing.assert_allclose(res.errors, np.sqrt(np.diag(ref_cov)), rtol=1e-6)
    np.testing.assert_allclose(correlation(res.covariance), correlation(ref_cov), atol=1e-5)
    # with the hand-derived Jacobian and tight tolerances scipy agrees to much better than 1e-6
    tight, tight_cov = curve_fit(gauss_np, x, y, p0=p0, sigma=sigma, absolute_sigma=True,
                                 jac=gauss_jac_np, xtol=1e-14, ftol=1e-14)
    np.testing.assert_allclose(res.params, tight, rtol=1e-8)
    np.testing.assert_allclose(np.diag(res.covariance), np.diag(tight_cov), rtol=1e-7)
    np.testing.assert_allclose(correlation(res.covariance), correlation(tight_cov), atol=1e-8)
    assert res.nfev < 26


@pytest.mark.parametrize("absolute", [True, False])
def test_fit_unweighted_covariance_like_curve_fit(absolute):
    # the contract: errors take sigma (here None, i.e. 1) as absolute, as
    # curve_fit(..., absolute_sigma=True); absolute_sigma=False scales by chi^2/dof as
    # curve_fit's default does
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    x, y, _ = gaussian_histogram(seed=9)
    options = {} if absolute else dict(absolute_sigma=False)
    res = optimize.least_squares_fit(gauss, x, y, [0.04, 165.0, 9.0], **options)
    ref, ref_cov = curve_fit(gauss_np, x, y, p0=[0.04, 165.0, 9.0], jac=gauss_jac_np,
                             xtol=1e-14, ftol=1e-14, absolute_sigma=absolute)
    np.testing.assert_allclose(res.params, ref, rtol=1e-7)
    np.testing.assert_allclose(np.diag(res.covariance), np.diag(ref_cov), rtol=1e-6)
    np.testing.assert_allclose(correlation(res.covariance), correlation(ref_cov), atol=1e-6)
    a = gauss_jac_np(x, *res.params)
    unit = np.linalg.inv(a.T @ a)  # (J^T J)^-1 by hand, sigma = 1
    scale = 1.0 if absolute else res.chi2 / (x.size - 3)
    np.testing.assert_allclose(res.covariance, unit * scale, rtol=1e-6)


@pytest.mark.parametrize("mode", ["pointwise", "columns", "rows"])
def test_fit_jacobian_modes_against_hand_formula_and_central_differences(mode):
    x, _, _ = gaussian_histogram()
    p = np.array([0.05, 170.0, 8.0])
    model = _Model(gauss, tg.Tensor(x), x.shape, 3)
    model.mode = mode
    value, jac = model.value_and_jacobian(p)
    np.testing.assert_allclose(value, gauss_np(x, *p), rtol=1e-14)
    np.testing.assert_allclose(jac, gauss_jac_np(x, *p), rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(jac, central_jacobian(lambda q: gauss_np(x, *q), p),
                               rtol=1e-5, atol=1e-9)
    assert model.nfev == 1 and model.njev == 1


def test_fit_auto_jacobian_detects_a_model_that_mixes_data_points(rng):
    # normalised to unit sum: every output depends on every parameter copy, so "pointwise"
    # would be wrong; the check at p0 must notice and fall back to exact columns
    x = np.linspace(-2.0, 2.0, 15)

    def shares(x, p):
        w = tg.exp(p[0] * x + p[1] * x ** 2)
        return w / w.sum()

    def shares_np(q):
        w = np.exp(q[0] * x + q[1] * x ** 2)
        return w / w.sum()

    y = shares_np(np.array([0.3, -0.4])) + rng.normal(0.0, 1e-3, x.size)
    res = optimize.least_squares_fit(shares, x, y, [0.0, 0.0], sigma=1e-3)
    assert res.jacobian_mode == "columns" and res.success
    np.testing.assert_allclose(res.jac, central_jacobian(shares_np, res.params), rtol=1e-6,
                               atol=1e-10)
    a = res.jac / 1e-3
    np.testing.assert_allclose(res.covariance, np.linalg.inv(a.T @ a), rtol=1e-8)
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    ref, _ = curve_fit(lambda x, a, b: shares_np(np.array([a, b])), x, y, p0=[0.0, 0.0],
                       sigma=np.full(x.size, 1e-3), absolute_sigma=True, xtol=1e-14, ftol=1e-14)
    np.testing.assert_allclose(res.params, ref, rtol=1e-7)


def test_fit_counts_every_model_evaluation(rng):
    x, y, sigma = gaussian_histogram()
    calls = []

    def counted(x, p):
        calls.append(1)
        return gauss(x, p)

    res = optimize.least_squares_fit(counted, x, y, [0.04, 160.0, 10.0], sigma=sigma,
                                     method="levenberg-marquardt")
    assert res.nfev == len(calls) and res.njev <= res.nfev
    assert res.chi2_path[0] > res.chi2 and np.all(np.diff(res.chi2_path) <= 0)
    assert res.path.shape == (res.nit + 1, 3)
    # compiled, the same evaluations are counted; Python runs the model only to record it
    calls.clear()
    compiled = optimize.least_squares_fit(counted, x, y, [0.04, 160.0, 10.0], sigma=sigma,
                                          method="levenberg-marquardt", jit=True)
    assert compiled.nfev == res.nfev and compiled.njev == res.njev
    np.testing.assert_array_equal(compiled.params, res.params)
    np.testing.assert_array_equal(compiled.covariance, res.covariance)
    assert len(calls) < res.nfev
    calls.clear()
    again = optimize.least_squares_fit(counted, x, y, [0.04, 160.0, 10.0], sigma=sigma,
                                       method="levenberg-marquardt", jit=True)
    assert calls == [] and again.nfev == res.nfev  # recorded once per model: replayed only


def test_fit_runs_a_model_that_reads_data_eagerly():
    x, y, sigma = gaussian_histogram()

    def reads_data(x, p):  # a factor from .data: invisible to the tape, so not recordable
        return gauss(x, p) * tg.Tensor(1.0 + 1e-9 * p.data[1])

    res = optimize.least_squares_fit(reads_data, x, y, [0.04, 160.0, 10.0], sigma=sigma)
    compiled = optimize.least_squares_fit(reads_data, x, y, [0.04, 160.0, 10.0], sigma=sigma,
                                          jit=True)
    assert compiled.nfev == res.nfev and _COMPILED[reads_data].vjp is None
    np.testing.assert_array_equal(compiled.params, res.params)


@pytest.mark.parametrize("mode", ["columns", "rows"])
def test_fit_compiles_columns_and_rows_jacobians(rng, mode):
    # a model that mixes data points (normalised to unit sum) is not pointwise: with jit=True
    # its "columns" and "rows" Jacobians are replayed too, with the eager fit's results
    x = np.linspace(-3.0, 3.0, 12 if mode == "columns" else 3)
    y = np.exp(-(x - 0.3) ** 2 / (2 * 0.8 ** 2))
    y = 2.0 * y / y.sum() + rng.normal(0.0, 1e-3, x.size)
    calls = []

    def normalised(x, p):
        calls.append(1)
        shape = tg.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2))
        return p[0] * shape / shape.sum()

    res = optimize.least_squares_fit(normalised, x, y, [1.5, 0.0, 1.0], sigma=1e-3)
    assert res.jacobian_mode == mode and res.success
    calls.clear()
    compiled = optimize.least_squares_fit(normalised, x, y, [1.5, 0.0, 1.0], sigma=1e-3,
                                          jit=True)
    assert compiled.jacobian_mode == mode and len(calls) < compiled.nfev
    assert compiled.nfev == res.nfev and compiled.njev == res.njev
    np.testing.assert_allclose(compiled.params, res.params, rtol=1e-12)
    np.testing.assert_allclose(compiled.jac, res.jac, rtol=1e-12, atol=1e-15)
    step = 1e-6
    for j in range(3):  # the compiled Jacobian against central differences
        e = np.zeros(3)
        e[j] = step
        up = normalised(tg.Tensor(x), tg.Tensor(compiled.params + e)).data
        down = normalised(tg.Tensor(x), tg.Tensor(compiled.params - e)).data
        np.testing.assert_allclose(compiled.jac[:, j], (up - down) / (2 * step), rtol=1e-6,
                                   atol=1e-9)


def test_fit_columns_jacobian_through_a_kink_is_compiled_under_jit(rng):
    # the "columns" Jacobian differentiates a VJP: a second derivative through a piecewise
    # operation (abs here), whose mask tg.jit records and recomputes at every replay, so
    # that program is compiled too, and the fit is the eager one
    x = np.linspace(0.5, 3.0, 10)
    y = 1.3 * np.abs(x - 0.2) / np.abs(x - 0.2).sum() + rng.normal(0.0, 1e-3, x.size)

    def kinked(x, p):
        shape = tg.abs(x - p[1])
        return p[0] * shape / shape.sum()

    res = optimize.least_squares_fit(kinked, x, y, [1.0, 0.1], jacobian="columns")
    compiled = optimize.least_squares_fit(kinked, x, y, [1.0, 0.1], jacobian="columns",
                                          jit=True)
    programs = _COMPILED[kinked]
    assert programs.jacobian is not None and programs.value is not None
    np.testing.assert_array_equal(compiled.params, res.params)
    assert res.success and compiled.nfev == res.nfev


def normal_equations(rng, k=3, n=20, dependent=False):
    a = rng.normal(size=(n, k))
    if dependent:
        a[:, -1] = a[:, 0]
    r = rng.normal(size=n)
    return a.T @ a, a.T @ r, np.linalg.lstsq(a, r, rcond=None)[0], rng.uniform(0.5, 2.0, k)


def test_trust_region_step_is_the_gauss_newton_step_when_it_fits(rng):
    normal, gradient, gauss_newton, scale = normal_equations(rng)
    radius = float(np.linalg.norm(scale * gauss_newton))
    step, damping, length = _trust_region_step(normal, gradient, gauss_newton, scale,
                                                        radius, 0.7)
    assert damping == 0.0 and step is gauss_newton and length == radius


@pytest.mark.parametrize("dependent", [False, True], ids=["independent", "dependent columns"])
@pytest.mark.parametrize("shrink", [0.5, 1e-3])
def test_trust_region_step_solves_the_damped_equations_on_the_boundary(rng, dependent, shrink):
    normal, gradient, gauss_newton, scale = normal_equations(rng, dependent=dependent)
    radius = shrink * float(np.linalg.norm(scale * gauss_newton))
    step, damping, length = _trust_region_step(normal, gradient, gauss_newton, scale,
                                                        radius, 0.0)
    assert damping > 0 and length == pytest.approx(np.linalg.norm(scale * step), rel=1e-14)
    assert abs(length - radius) <= 0.1 * radius
    # the hand-derived oracle: the damped normal equations at the damping found
    np.testing.assert_allclose(step, np.linalg.solve(normal + damping * np.diag(scale ** 2),
                                                     gradient), rtol=1e-10)
    # the damped step minimises the linear model of chi2 over its own scaled ball, so it beats
    # the (scaled) steepest-descent step of the same length
    def model_gain(s):
        return 2 * s @ gradient - s @ normal @ s
    cauchy = gradient / scale ** 2
    cauchy *= np.linalg.norm(scale * step) / np.linalg.norm(scale * cauchy)
    assert model_gain(step) >= model_gain(cauchy) - 1e-12 * abs(model_gain(cauchy))



def test_trust_region_step_survives_nearly_dependent_columns(rng):
    # columns equal to 1e-12: A^T A is singular in float64 and the damping that fits the radius
    # is tiny; the step must still come from a factorisation, with the damping it reports
    a = rng.normal(size=(20, 3))
    a[:, 2] = a[:, 1] * (1 + 1e-12)
    r = rng.normal(size=20)
    normal, gradient = a.T @ a, a.T @ r
    scale = np.sqrt(normal.diagonal())
    gauss_newton = _gauss_newton_step(a, r)
    for shrink in (0.9, 0.5, 1e-6):
        radius = shrink * float(np.linalg.norm(scale * gauss_newton))
        step, damping, length = _trust_region_step(normal, gradient, gauss_newton,
                                                            scale, radius, 0.0)
        assert np.isfinite(step).all() and damping > 0
        np.testing.assert_allclose((normal + damping * np.diag(scale ** 2)) @ step, gradient,
                                   rtol=1e-6, atol=1e-9 * np.abs(gradient).max())
        assert length <= 1.1 * radius


def test_fit_nearly_dependent_parameters_do_not_crash():
    # p[2] and p[3] differ only through 1e-8 x^2: the fit may not converge in 100 iterations
    # (curve_fit stops early at a worse chi2), but it must say so, never raise LinAlgError
    x = np.linspace(0.0, 4.0, 30)
    y = 3.0 * np.exp(-0.7 * x) + 0.5 * x + 0.01 * np.random.default_rng(0).normal(size=30)

    def model(x, p):
        return p[0] * tg.exp(-p[1] * x) + p[2] * (x + 1e-8 * x ** 2) - p[3] * x

    for seed in range(3):
        p0 = np.random.default_rng(seed).uniform(0.5, 2.0, 4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = optimize.least_squares_fit(model, x, y, p0)
        start = np.sum((y - model(tg.Tensor(x), tg.Tensor(p0)).data) ** 2)
        assert np.isfinite(res.params).all() and res.chi2 < start
        assert res.success or any("max_iter=100" in str(w.message) for w in caught)


def decay_data():
    x = np.linspace(0.0, 4.0, 30)
    return x, 3.0 * np.exp(-0.7 * x) + 0.01 * np.random.default_rng(0).normal(size=30)


@pytest.mark.parametrize("start", [0.0, 1e-12, 1e-8, 1e-3])
def test_fit_nonlinear_model_from_a_start_near_zero(start):
    # from p0 ~ 1e-8 the Gauss-Newton step sends the rate to ~6e7, where exp(-rate x) = 0 and
    # chi2 is flat: the full first step is tried only if chi2's linear model predicts it well,
    # otherwise the trust region grows from MINPACK's 100 |D p0|
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    x, y = decay_data()
    ref = curve_fit(lambda x, a, b: a * np.exp(-b * x), x, y, p0=[1.0, 1.0])[0]
    res = optimize.least_squares_fit(decay, x, y, [start, start])
    assert res.success
    np.testing.assert_allclose(res.params, ref, rtol=1e-7)


def test_fit_reports_a_parameter_pushed_out_of_the_model():
    # Gauss-Newton from 1e-8 takes that step: the rate no longer changes the model, so the
    # "converged" step of 0 is no success, and the message says which parameter was lost
    x, y = decay_data()
    with pytest.warns(ConvergenceWarning) as caught:
        res = optimize.least_squares_fit(decay, x, y, [1e-8, 1e-8], method="gauss-newton")
    messages = " | ".join(str(w.message) for w in caught)
    assert "no longer depends on p[1]" in messages and "not all determined" in messages
    assert not res.success and res.params[1] > 1e6 and np.isinf(res.errors[1])


def test_fit_float32_model_stops_at_float32_resolution():
    # a model computed in float32 cannot resolve steps below ~1e-7 relative: the stopping test
    # uses the model's precision, so it converges instead of wandering to max_iter
    x, y = decay_data()

    def decay32(x, p):
        q = p.astype(np.float32)
        return q[0] * tg.exp(-q[1] * x.astype(np.float32))

    ref = optimize.least_squares_fit(decay, x, y, [1.0, 1.0])
    for method in ("levenberg-marquardt", "gauss-newton"):
        res = optimize.least_squares_fit(decay32, x, y, [1.0, 1.0], method=method)
        assert res.success and res.jacobian_mode == "pointwise" and res.nit <= 10
        np.testing.assert_allclose(res.params, ref.params, rtol=1e-5)


@pytest.mark.parametrize("units", [1e-6, 1.0, 1e6])
def test_fit_no_step_left_counts_as_converged_only_within_rounding(units):
    # a search that finds nothing: success must depend on what the Gauss-Newton model still
    # promises against chi2's rounding, in any units (a fixed 1e-10 was all of chi2 at 1e-6)
    x, y = decay_data()
    y = y * units
    evaluator = _Model(lambda x, p: decay(x, p) * units, tg.Tensor(x), y.shape, 2,
                                compiled=False)
    chi2_of = _Chi2(y, np.ones_like(y), y.size - 2, False, 1e-8)
    for p, converged in (([2.5, 0.6], False), ([3.0032944097, 0.7022379271], True)):
        p = np.array(p)
        value, jac = evaluator.choose(p, "auto")
        chi2_of.tol = 0.0  # so that only the search's verdict decides
        outcome = _gauss_newton_fit(evaluator, chi2_of, lambda *args: None, p, value,
                                             jac, chi2_of(value), 100, [], [])
        assert outcome.success is converged and outcome.nit == 0


def test_fit_without_degrees_of_freedom_converges_in_any_units():
    # as many parameters as points and no sigma: the fit is exact, and the step tolerance must
    # not be taken in y's units (1e-8 absolute would stop at 1% of these 1e-6 values)
    x = np.array([0.0, 1.0])
    y = 1e-6 * np.exp(np.array([0.0, 1.0]))
    with pytest.warns(ConvergenceWarning, match="no degrees of freedom"):
        res = optimize.least_squares_fit(decay, x, y, [2e-6, 0.3], absolute_sigma=False)
    np.testing.assert_allclose(res.params, [1e-6, -1.0], rtol=1e-9)
    absolute = optimize.least_squares_fit(decay, x, y, [2e-6, 0.3])  # sigma = 1: errors exist
    np.testing.assert_array_equal(absolute.params, res.params)
    assert absolute.success and np.isfinite(absolute.errors).all()
    assert res.success and res.chi2 <= 1e-20 * np.sum((y / 1e-6) ** 2)


def test_fit_levenberg_marquardt_reaches_the_global_minimum_where_curve_fit_does():
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    good = 2.0 * MIXTURE_X.size  # chi2 ~ 400 at the truth; local minima are 100x that
    reached, gauss_newton_reached = 0, 0
    for seed in range(10):
        # eight peaks of width 3 on 400 points (noise 0.01), started 3% off: poor starts
        case = mixture_case(8, seed)
        y, sigma, p0 = case["y"], case["sigma"], case["p0"]
        ref, ref_cov = curve_fit(mixture_np, MIXTURE_X, y, p0=p0, sigma=sigma,
                                 absolute_sigma=True)
        ref_chi2 = np.sum(((y - mixture_np(MIXTURE_X, *ref)) / sigma) ** 2)
        res = optimize.least_squares_fit(mixture, MIXTURE_X, y, p0, sigma=sigma)
        assert res.method == "levenberg-marquardt" and res.success
        if ref_chi2 < good:
            assert res.chi2 < good, seed
            np.testing.assert_allclose(res.params, ref, rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(res.errors, np.sqrt(np.diag(ref_cov)), rtol=1e-4)
            reached += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            plain = optimize.least_squares_fit(mixture, MIXTURE_X, y, p0, sigma=sigma,
                                               method="gauss-newton", max_iter=30)
        gauss_newton_reached += plain.success and plain.chi2 < good
    assert reached >= 9
    assert gauss_newton_reached < reached  # why the trust region is the default


def test_fit_warns_when_it_does_not_converge():
    x, y, sigma = gaussian_histogram()
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        res = optimize.least_squares_fit(gauss, x, y, [0.04, 160.0, 10.0], sigma=sigma,
                                         max_iter=1)
    assert not res.success and "FitResult(" in repr(res) and "success" in repr(res)


def test_fit_bad_inputs():
    x = np.arange(5.0)
    y = 2 * x
    with pytest.raises(ValueError, match=r"sigma\[2\] = 0"):
        optimize.least_squares_fit(line, x, y, [0.0, 1.0], sigma=[1, 1, 0, 1, 1])
    with pytest.raises(ValueError, match=r"sigma has shape \(3,\) but y has shape \(5,\)"):
        optimize.least_squares_fit(line, x, y, [0.0, 1.0], sigma=[1, 1, 1])
    with pytest.raises(ValueError, match=r"returned shape \(4,\) but y has shape \(5,\)"):
        optimize.least_squares_fit(lambda x, p: line(x, p)[:4], x, y, [0.0, 1.0])
    with pytest.raises(ValueError, match="unknown method 'newton'"):
        optimize.least_squares_fit(line, x, y, [0.0, 1.0], method="newton")
    with pytest.raises(ValueError, match="1-D array of parameters"):
        optimize.least_squares_fit(line, x, y, 1.0)
    with pytest.raises(TypeError, match="must return a Tensor"):
        optimize.least_squares_fit(lambda x, p: np.zeros(5), x, y, [0.0, 1.0])
    with pytest.raises(ValueError, match="p0 must be a number or a 1-D array"):
        optimize.least_squares_fit(line, x, y, [[0.0, 1.0]])
    with pytest.raises(ValueError, match="p0 contains NaN"):
        optimize.least_squares_fit(line, x, y, [np.nan, 1.0])
    with pytest.raises(ValueError, match="least_squares_fit: tol must be a number >= 0"):
        optimize.least_squares_fit(line, x, y, [0.0, 1.0], tol=-1.0)
    with pytest.raises(ValueError, match="least_squares_fit: max_iter must be an integer"):
        optimize.least_squares_fit(line, x, y, [0.0, 1.0], max_iter=2.5)


def test_fit_undetermined_parameter_warns_and_reports_infinite_error():
    x = np.arange(6.0)
    with pytest.warns(ConvergenceWarning, match="not all determined"):
        res = optimize.least_squares_fit(lambda x, p: (p[0] + p[1]) * x, x, 3 * x, [1.0, 1.0])
    assert np.all(np.isinf(res.errors))
    assert res.params.sum() == pytest.approx(3.0, abs=1e-10)


@pytest.mark.parametrize("absolute", [True, False])
def test_fit_partly_undetermined_keeps_the_determined_errors(rng, absolute):
    # only p0 + p1 is determined; p2 is, and its error is the one of the line a x + p2
    # (closed form), scaled by chi2 / (n - 3) when sigma is relative; p0 and p1 are named
    x, y, sigma = line_data(rng)
    ref_params, ref_errors, _ = weighted_line_closed_form(x, y, sigma)

    def model(x, p):
        return p[2] + (p[0] + p[1]) * x

    with pytest.warns(ConvergenceWarning, match=r"not all determined.*p\[0\], p\[1\] can change"):
        res = optimize.least_squares_fit(model, x, y, [1.0, 1.0, 0.0], sigma=sigma,
                                         absolute_sigma=absolute)
    assert res.success
    np.testing.assert_allclose([res.params[0] + res.params[1], res.params[2]],
                               ref_params[::-1], rtol=1e-10)
    factor = 1.0 if absolute else np.sqrt(res.chi2 / (x.size - 3))
    assert res.errors[2] == pytest.approx(ref_errors[0] * factor, rel=1e-9)
    assert np.isinf(res.errors[:2]).all() and np.isinf(res.covariance[2, :2]).all()


def test_fit_without_degrees_of_freedom_and_unknown_sigma_has_infinite_errors():
    # two points, two parameters, sigma unknown: nothing is left to estimate sigma from, so the
    # errors are undefined (curve_fit: inf and an OptimizeWarning); with sigma given they exist
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    x, y = np.array([0.0, 2.0]), np.array([1.0, 2.0])
    with pytest.warns(ConvergenceWarning, match="2 data point.* for 2 parameter.*no degrees"):
        res = optimize.least_squares_fit(line, x, y, [0.0, 0.0], absolute_sigma=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's OptimizeWarning
        ref, ref_cov = curve_fit(lambda x, a, b: a + b * x, x, y, p0=[0.0, 0.0])
    np.testing.assert_allclose(res.params, [1.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(res.params, ref, rtol=1e-8)
    assert np.all(np.isinf(res.errors)) and np.all(np.isinf(ref_cov))
    known = optimize.least_squares_fit(line, x, y, [0.0, 0.0], sigma=0.1)
    # y = a + b x through two points: var(a) = sigma^2, var(b) = 2 sigma^2 / (x1 - x0)^2
    np.testing.assert_allclose(known.errors, [0.1, 0.1 * np.sqrt(2) / 2], rtol=1e-10)


def test_fit_warnings_point_at_the_callers_line():
    x = np.arange(6.0)
    with pytest.warns(ConvergenceWarning) as caught:
        optimize.least_squares_fit(lambda x, p: (p[0] + p[1]) * x, x, 3 * x, [1.0, 1.0])
    assert {w.filename for w in caught} == {__file__}


def test_optimize_is_exported():
    assert tg.optimize is optimize
    for name in ("newton_raphson", "minimize", "lagrange", "least_squares_fit"):
        assert callable(getattr(tg.optimize, name))


# --- scale: a problem multiplied by a constant has the same answer ------------------------------
def test_newton_finds_a_root_of_a_function_small_everywhere():
    """|f| <= 1e-10 everywhere near the start: the Newton step, not the residual, says when x is
    at the root (scipy.optimize.brentq's root as the oracle, and by hand sqrt(G / c))."""
    res = optimize.newton_raphson(lambda r: 6.674e-11 / r ** 2 - 1e-12, 5.0)
    assert res.success and res.nit > 0
    assert res.x == pytest.approx(np.sqrt(6.674e-11 / 1e-12), rel=1e-10)
    scipy_optimize = pytest.importorskip("scipy.optimize")
    root = scipy_optimize.brentq(lambda r: 6.674e-11 / r ** 2 - 1e-12, 1.0, 20.0, xtol=1e-14)
    assert res.x == pytest.approx(root, rel=1e-10)


def test_newton_solves_a_badly_scaled_but_regular_system():
    a = np.diag([1e8, 1e-8])
    res = optimize.newton_raphson(lambda v: Tensor(a) @ v - Tensor(a @ [1.0, 2.0]), np.zeros(2))
    np.testing.assert_allclose(res.x, [1.0, 2.0], rtol=1e-12)
    with pytest.raises(optimize.SingularJacobianError, match="condition number"):
        optimize.newton_raphson(lambda v: Tensor(np.array([[1e8, 2e8], [1e-8, 2e-8]])) @ v
                                - Tensor(np.array([1.0, 1.0])), np.zeros(2))


@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e-12])
def test_lagrange_answer_and_kind_do_not_depend_on_the_scale_of_f(scale):
    for sign, kind in ((1.0, "minimum"), (-1.0, "maximum")):
        res = optimize.lagrange(lambda v, k=sign * scale: k * (v ** 2).sum(),
                                lambda v: v[0] + v[1] - 1, [1.0, 0.0])
        np.testing.assert_allclose(res.x, [0.5, 0.5], atol=1e-10)
        assert res.kind == kind
        assert res.multipliers[0] == pytest.approx(sign * scale, rel=1e-8)


def test_newton_finds_a_root_at_a_tiny_x_by_taking_the_step():
    res = optimize.newton_raphson(lambda t: t * 1e12 - 3, 1e-12)
    assert res.x == pytest.approx(3e-12, rel=1e-12) and res.fun == 0.0 and res.nit == 1


@pytest.mark.parametrize("system, root", [
    (lambda v: tg.stack([tg.sin(v[0]) - v[1], v[0] - v[1]]), 0.0),      # tangent curves
    (lambda v: tg.stack([tg.exp(v[0]) - 1 - v[1], v[0] - v[1]]), 0.0),
])
def test_newton_accepts_a_root_where_the_jacobian_is_singular(system, root):
    """Newton approaches such a root only linearly, and J becomes singular on the way: the
    residual test is accepted there, and the message says why."""
    res = optimize.newton_raphson(system, [0.5, 0.2])
    assert res.success and res.residual <= 1e-10 and "singular" in res.message
    np.testing.assert_allclose(res.x, [root, root], atol=1e-4)


def test_newton_says_when_it_converges_only_linearly():
    with pytest.raises(ConvergenceError, match=r"each step about 0\.83 of the last: Newton "
                                               r"converges only linearly"):
        optimize.newton_raphson(lambda x: x ** 6, 1.0)
    res = optimize.newton_raphson(lambda x: x ** 6, 1.0, max_iter=200)
    assert res.success and abs(res.x) < 1e-9


def test_newton_does_not_take_an_ill_conditioned_start_for_a_root():
    """Where J is singular at a point that is no root, or merely ill-conditioned at a simple
    root, the residual test of a root where J is singular does not apply."""
    with pytest.raises(SingularJacobianError):
        optimize.newton_raphson(lambda x: 1e-12 * (x ** 2 - 4), 0.0)
    e = 1e-8
    res = optimize.newton_raphson(
        lambda v: tg.stack([v[0] + v[1] - 2, v[0] + (1 + e) * v[1] - (2 + e)]),
        [1 + 5e-6, 1 - 5e-6])
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-7)
    res = optimize.lagrange(lambda v: 1e-12 * (tg.exp(v[0]) + tg.exp(2 * v[1])),
                            lambda v: v[0] + v[1] - 1, [-0.5, 0.6])
    assert res.x[0] == pytest.approx((2 + np.log(2)) / 3, abs=1e-9)


def test_newton_tests_each_unknown_on_its_own_scale():
    res = optimize.lagrange(lambda v: 1e12 * ((v[0] - 2) ** 2 + (v[1] - 1) ** 2),
                            lambda v: (v ** 2).sum() - 1, [1.0, 0.0])
    np.testing.assert_allclose(res.x, np.array([2.0, 1.0]) / np.sqrt(5), rtol=1e-10)
    res = optimize.newton_raphson(lambda v: tg.stack([(v[0] / 1e8) ** 2 - 1, v[1] ** 2 - 2]),
                                  [1.5e8, 3.0])
    np.testing.assert_allclose(res.x, [1e8, np.sqrt(2)], rtol=1e-12)


@pytest.mark.parametrize("scale", [1e3, 1e9, 1e15])
def test_newton_finds_an_unknown_whose_root_is_0_beside_a_large_one(scale):
    """y's root is 0 beside x = 1e4: y + 2e4 rounds y away, f keeps a rounding residual far
    above tol at any scale; the steps say x and y are there (scipy's fsolve agrees)."""
    def f(v):
        return tg.stack([scale * (v[0] ** 3 - 1e12 + v[1]), v[1] - 2.0 * v[0] + 2e4])
    res = optimize.newton_raphson(f, [9000.0, 1.0])
    assert res.success and res.nit < 20
    np.testing.assert_allclose(res.x, [1e4, 0.0], rtol=1e-12, atol=1e-9)
