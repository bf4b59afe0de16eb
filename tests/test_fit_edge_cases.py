"""Adversarial tests for ``least_squares_fit``, above all its default Levenberg-Marquardt method
(a MINPACK-style trust region): badly scaled parameters, exact data, models that overflow or
give NaN at trial points, undetermined parameters, iteration limits, bookkeeping (path, chi2
path, evaluation counts), Jacobian modes, sizes and sigma conventions.

Every answer is checked against something independent of the code under test: closed-form
least squares, numpy's own solvers (``np.polyfit``, the SVD), or ``scipy.optimize`` run with a
hand-derived Jacobian and tolerances far tighter than the fit's. Known failures are marked
``xfail(strict=True)`` with the reason; they document bugs, not wishes.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import optimize
from tinygrad_mv.optimize import ConvergenceWarning

from functions import decay, gauss

METHODS = ["levenberg-marquardt", "gauss-newton"]
ALL_METHODS = METHODS + ["gd"]


# --- oracles ------------------------------------------------------------------------------------
def scipy_fit(model_np, jac_np, y, sigma, p0):
    """The optimum by scipy's MINPACK Levenberg-Marquardt with the exact Jacobian and tight
    tolerances, and the covariance (A^T A)^-1 from the SVD of A = J / sigma there."""
    least_squares = pytest.importorskip("scipy.optimize").least_squares
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), np.shape(y))
    y_flat, s_flat = np.ravel(y), np.ravel(sigma)

    def residuals(q):
        return (y_flat - np.ravel(model_np(q))) / s_flat

    def jacobian(q):
        return -np.reshape(jac_np(q), (y_flat.size, -1)) / s_flat[:, None]

    ref = least_squares(residuals, np.asarray(p0, dtype=float), jac=jacobian, method="lm",
                        xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=10000)
    assert ref.success, ref.message
    return ref.x, svd_covariance(-jacobian(ref.x)), float(residuals(ref.x) @ residuals(ref.x))


def svd_covariance(weighted_jac):
    """(A^T A)^-1 through the SVD, accurate where forming A^T A would square the condition."""
    _, sv, vt = np.linalg.svd(weighted_jac, full_matrices=False)
    return (vt.T / sv ** 2) @ vt


def assert_at_optimum(params, ref, errors):
    """Within the documented stopping rule (every |dp_i| <= tol |p_i|, tol = 1e-8, or a step
    below tol standard errors) of the reference optimum, with a factor 2 of slack."""
    distance = np.abs(np.asarray(params) - ref)
    assert np.all(distance <= 2e-8 * np.abs(ref) + 1e-6 * errors), (params, ref, errors)


def chi2_np(model_np, q, y, sigma):
    r = (np.ravel(y) - np.ravel(model_np(q))) / np.ravel(np.broadcast_to(sigma, np.shape(y)))
    return float(r @ r)


def fit_quietly(*args, **kwargs):
    """A fit whose ConvergenceWarnings are collected instead of shown: (result, messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        res = optimize.least_squares_fit(*args, **kwargs)
    return res, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def gauss_np(x, q):
    return q[0] * np.exp(-(x - q[1]) ** 2 / (2 * q[2] ** 2))


def gauss_jac_np(x, q):
    e = np.exp(-(x - q[1]) ** 2 / (2 * q[2] ** 2))
    return np.stack([e, q[0] * e * (x - q[1]) / q[2] ** 2,
                     q[0] * e * (x - q[1]) ** 2 / q[2] ** 3], axis=-1)


def decay_np(x, q):
    return q[0] * np.exp(-q[1] * x)


def decay_jac_np(x, q):
    e = np.exp(-q[1] * x)
    return np.stack([e, -q[0] * x * e], axis=-1)


def gaussian_problem(seed=5):
    """A peak of height 0.05, centre 171 and width 7.5 on 30 points, noise 0.002."""
    x = np.linspace(150.0, 190.0, 30)
    sigma = np.full(x.size, 0.002)
    y = gauss_np(x, [0.05, 171.0, 7.5]) + np.random.default_rng(seed).normal(0.0, sigma)
    return x, y, sigma, np.array([0.03, 160.0, 12.0])


def assert_consistent(res, model_np, y, sigma):
    """What a result reports about its own optimum agrees with the model and data there."""
    s = np.broadcast_to(sigma, np.shape(y))
    assert res.chi2 == pytest.approx(chi2_np(model_np, res.params, y, sigma), rel=1e-12,
                                     abs=1e-300)
    np.testing.assert_allclose(res.residuals, (y - model_np(res.params)) / s, rtol=1e-12,
                               atol=1e-14 * np.max(np.abs(y / s)))
    np.testing.assert_array_equal(res.path[-1], res.params)
    assert len(res.path) == len(res.chi2_path) == res.nit + 1
    assert res.chi2_path[-1] == res.chi2  # the same number for the same point


# --- badly scaled parameters --------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_tiny_amplitude_far_centre_matches_scipy(method):
    # height 1e-6 at 1e4 with width 5: the Jacobian's columns differ by ~1e7
    x = np.linspace(9980.0, 10020.0, 41)
    sigma = np.full(x.size, 1e-8)
    y = gauss_np(x, [1e-6, 1e4, 5.0]) + np.random.default_rng(1).normal(0.0, sigma)
    p0 = [0.8e-6, 10003.0, 4.0]
    res, warned = fit_quietly(gauss, x, y, p0, sigma=sigma, method=method)
    ref, cov, ref_chi2 = scipy_fit(lambda q: gauss_np(x, q), lambda q: gauss_jac_np(x, q), y,
                                   sigma, p0)
    errors = np.sqrt(np.diag(cov))
    assert res.success and warned == []
    assert_at_optimum(res.params, ref, errors)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-7)
    assert res.chi2 == pytest.approx(ref_chi2, rel=1e-10)
    assert_consistent(res, lambda q: gauss_np(x, q), y, sigma)


@pytest.mark.parametrize("method", METHODS)
def test_large_amplitude_slow_decay_matches_scipy(method):
    # amplitude 1e5 and rate 1e-3 over x up to 3000, relative errors 0.1%
    x = np.linspace(0.0, 3000.0, 30)
    clean = decay_np(x, [1e5, 1e-3])
    sigma = 1e-3 * clean
    y = clean + np.random.default_rng(2).normal(0.0, sigma)
    p0 = [5e4, 3e-3]
    res, warned = fit_quietly(decay, x, y, p0, sigma=sigma, method=method)
    ref, cov, _ = scipy_fit(lambda q: decay_np(x, q), lambda q: decay_jac_np(x, q), y, sigma,
                            p0)
    errors = np.sqrt(np.diag(cov))
    assert res.success and warned == []
    assert_at_optimum(res.params, ref, errors)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-6)


def units_case(power):
    """Parameters of the same Gaussian fit in other units: p_true = p * c."""
    c = np.array([10.0 ** power, 10.0 ** -power, 1.0])
    return pytest.param(c, id=f"1e{power}")


@pytest.mark.parametrize("units", [units_case(k) for k in (0, 2, 4, 5, 6, 8)])
def test_fit_does_not_depend_on_the_units_of_the_parameters(units):
    # Moré's scaling makes Levenberg-Marquardt invariant under p -> p / c in exact arithmetic:
    # the optimum, in the old units, and its errors must be those of the plain fit (scipy's
    # MINPACK gets all of these cases right)
    x, y, sigma, p0 = gaussian_problem()
    ref, cov, _ = scipy_fit(lambda q: gauss_np(x, q), lambda q: gauss_jac_np(x, q), y, sigma,
                            p0)
    errors = np.sqrt(np.diag(cov))

    def in_units(x, p):
        return gauss(x, p * units)

    res, warned = fit_quietly(in_units, x, y, p0 / units, sigma=sigma)
    assert res.success
    assert_at_optimum(res.params * units, ref, errors)
    assert warned == []
    np.testing.assert_allclose(res.errors * units, errors, rtol=1e-6)


@pytest.mark.parametrize("start", [1e-3, 1e-10, 1e-30])
def test_line_from_a_start_near_zero(start):
    # a linear model: one Gauss-Newton step solves it from anywhere. The trust region starts at
    # 100 |D p0| and can only double per step, unless the start is a million times shorter
    # than the Gauss-Newton step: then the full step is tried first, and kept because chi2's
    # linear model predicts it exactly (curve_fit returns p0 unchanged from 1e-10 and 1e-30)
    x = np.linspace(0.0, 10.0, 25)
    rng = np.random.default_rng(6)
    sigma = rng.uniform(0.5, 2.0, x.size)
    y = 1.5 - 0.7 * x + rng.normal(0.0, sigma)
    w = 1.0 / sigma ** 2
    design = np.stack([np.ones_like(x), x], axis=-1) * np.sqrt(w)[:, None]
    closed_form = np.linalg.solve(design.T @ design, design.T @ (y * np.sqrt(w)))
    res, warned = fit_quietly(lambda x, p: p[0] + p[1] * x, x, y, [start, start], sigma=sigma)
    np.testing.assert_allclose(res.params, closed_form, rtol=1e-9)
    assert res.success and warned == []
    assert res.nit == 1 if start <= 1e-10 else res.nit <= 10


# --- parameters whose optimum is 0, and exact data ----------------------------------------------
@pytest.mark.parametrize("sigma", [None, 0.05])
@pytest.mark.parametrize("method", METHODS)
def test_parameter_with_optimum_zero_by_symmetry(method, sigma):
    # data even in x: the coefficient of the odd term is 0 at the optimum (up to rounding), so
    # the relative stopping test |dp| <= tol |p| cannot stop it; the test in errors must
    x = np.linspace(-2.0, 2.0, 21)
    half = np.random.default_rng(3).normal(0.0, 0.05, 11)
    y = 1.0 + 2.0 * np.exp(-x ** 2) + np.concatenate([half[:0:-1], half])

    def model(x, p):
        return p[0] + p[1] * x + p[2] * tg.exp(-p[3] * x ** 2)

    def model_np(q):
        return q[0] + q[1] * x + q[2] * np.exp(-q[3] * x ** 2)

    def jac_np(q):
        e = np.exp(-q[3] * x ** 2)
        return np.stack([np.ones_like(x), x, e, -q[2] * x ** 2 * e], axis=-1)

    p0 = [0.5, 0.3, 1.0, 0.5]
    res, warned = fit_quietly(model, x, y, p0, sigma=sigma, method=method)
    ref, cov, ref_chi2 = scipy_fit(model_np, jac_np, y, 1.0 if sigma is None else sigma, p0)
    errors = np.sqrt(np.diag(cov))
    assert res.success and warned == [] and res.nit < 30
    assert abs(res.params[1]) <= 1e-8 * errors[1]
    assert_at_optimum(res.params, ref, errors)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-6)


@pytest.mark.parametrize("sigma", [None, 0.1])
@pytest.mark.parametrize("method", METHODS)
def test_zero_residual_nonlinear_fit_converges_to_rounding(method, sigma):
    x = np.linspace(0.0, 5.0, 20)
    truth = np.array([3.0, 0.7])
    y = decay_np(x, truth)
    res, warned = fit_quietly(decay, x, y, [1.0, 1.0], sigma=sigma, method=method)
    assert res.success and warned == []
    np.testing.assert_allclose(res.params, truth, rtol=1e-12)
    assert res.chi2 <= 1e-20
    a = decay_jac_np(x, res.params) / (1.0 if sigma is None else sigma)
    cov = np.linalg.inv(a.T @ a)  # sigma = None is sigma = 1, absolute (the contract)
    np.testing.assert_allclose(res.errors, np.sqrt(np.diag(cov)), rtol=1e-6)
    if sigma is None:  # sigma unknown: scaled by chi2 / dof, which is ~0 for exact data
        relative, _ = fit_quietly(decay, x, y, [1.0, 1.0], method=method, absolute_sigma=False)
        np.testing.assert_allclose(relative.errors, np.sqrt(np.diag(cov * relative.chi2
                                                                     / relative.dof)),
                                   rtol=1e-6)
    assert_consistent(res, lambda q: decay_np(x, q), y, 1.0 if sigma is None else sigma)


@pytest.mark.parametrize("method", METHODS)
def test_zero_residual_line_with_zero_intercept_and_given_sigma(method):
    x = np.linspace(-1.0, 1.0, 11)
    res, warned = fit_quietly(lambda x, p: p[0] + p[1] * x, x, 2.0 * x, [1.0, 1.0], sigma=1.0,
                              method=method)
    assert res.success and warned == [] and res.nit <= 2
    np.testing.assert_allclose(res.params, [0.0, 2.0], atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_zero_residual_line_with_zero_intercept_and_unknown_sigma(method):
    x = np.linspace(-1.0, 1.0, 11)
    res, warned = fit_quietly(lambda x, p: p[0] + p[1] * x, x, 2.0 * x, [1.0, 1.0],
                              method=method)
    np.testing.assert_allclose(res.params, [0.0, 2.0], atol=1e-14)  # the answer is right...
    assert warned == [] and res.success and res.nit <= 5  # ...but not recognised as such


# --- overflow and NaN at trial points -----------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_trial_points_where_the_model_is_nan_are_rejected(method):
    # sqrt(p) x: the Gauss-Newton step from p = 1 lands at p < 0, where the model is NaN; the
    # optimum is the square of the weighted regression slope through 0
    x = np.linspace(0.5, 4.0, 12)
    sigma = 0.05
    y = 0.3 * x + np.random.default_rng(4).normal(0.0, sigma, x.size)
    slope = np.sum(x * y) / np.sum(x * x)
    res, warned = fit_quietly(lambda x, p: tg.sqrt(p[0]) * x, x, y, [1.0], sigma=sigma,
                              method=method)
    assert res.success and warned == []
    assert res.params[0] == pytest.approx(slope ** 2, rel=1e-9)
    # d model / dp = x / (2 sqrt p): error = 2 slope / sqrt(sum x^2 / sigma^2)
    assert res.errors[0] == pytest.approx(2 * slope / np.sqrt(np.sum(x * x) / sigma ** 2),
                                          rel=1e-7)
    assert np.all(np.diff(res.chi2_path) < 0) and np.all(np.isfinite(res.chi2_path))


def test_levenberg_marquardt_approaches_an_optimum_where_the_jacobian_is_infinite():
    # y = 0: the optimum is p = 0, where d sqrt(p) / dp is infinite; every trial at p < 0 is NaN
    x = np.linspace(1.0, 5.0, 9)
    res, warned = fit_quietly(lambda x, p: tg.sqrt(p[0]) * x, x, np.zeros_like(x), [1.0],
                              sigma=0.1)
    assert res.success and warned == [] and np.isfinite(res.errors).all()
    assert 0.0 < res.params[0] <= 1e-12
    assert res.chi2 == pytest.approx(res.params[0] * np.sum(x * x) / 0.01, rel=1e-12)


def test_gauss_newton_approaches_an_optimum_where_the_jacobian_is_infinite():
    x = np.linspace(1.0, 5.0, 9)
    res, _ = fit_quietly(lambda x, p: tg.sqrt(p[0]) * x, x, np.zeros_like(x), [1.0],
                         sigma=0.1, method="gauss-newton")
    assert res.params[0] >= 0.0 and res.chi2 <= 1e-10


@pytest.mark.parametrize("method", METHODS)
def test_trials_where_the_model_overflows_to_inf_are_rejected(method):
    # exp(p x) from p = 0 with relative errors: the first step overshoots to where exp(p x)
    # is inf at the largest x; that trial must be rejected without any RuntimeWarning
    x = np.linspace(0.0, 20.0, 21)
    y = np.exp(0.5 * x)
    res, warned = fit_quietly(lambda x, p: tg.exp(p[0] * x), x, y, [0.0], sigma=1e-3 * y,
                              method=method)
    assert res.success and warned == []
    assert res.params[0] == pytest.approx(0.5, rel=2e-8)
    assert res.chi2 <= 1e-8
    assert np.all(np.diff(res.chi2_path) < 0)


@pytest.mark.parametrize("method", METHODS)
def test_trials_where_chi2_overflows_are_rejected_without_runtime_warnings(method):
    # unit weights: the first Gauss-Newton step from p = 0 is p ~ 360, and the steps the trust
    # region then tries make exp(p x) finite but about 1e200
    x = np.linspace(0.0, 20.0, 21)
    y = np.exp(0.5 * x)
    res, warned = fit_quietly(lambda x, p: tg.exp(p[0] * x), x, y, [0.0], method=method)
    assert res.success and warned == []
    assert res.params[0] == pytest.approx(0.5, rel=2e-8)  # the stopping rule: tol = 1e-8


def test_a_model_that_is_nan_at_the_start_is_refused_clearly():
    x = np.linspace(1.0, 3.0, 5)
    with pytest.raises(FloatingPointError, match=r"not finite at p0 = \[-1\."):
        with np.errstate(invalid="ignore"):
            optimize.least_squares_fit(lambda x, p: tg.sqrt(p[0]) * x, x, x, [-1.0, 0.0])


# --- undetermined parameters --------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("p0", [[1.0, 1.0], [1.0, 0.0], [1e3, 1e-3]])
def test_product_of_parameters_is_fitted_and_reported_undetermined(method, p0):
    # only p0 * p1 is determined: it must equal the weighted regression slope through 0, with
    # the regression's chi2, and both errors must be infinite
    x = np.arange(1.0, 7.0)
    sigma = 0.1
    y = 3.0 * x + np.array([0.1, -0.1, 0.05, 0.0, -0.02, 0.03])
    slope = np.sum(x * y) / np.sum(x * x)
    with pytest.warns(ConvergenceWarning, match="not all determined"):
        res = optimize.least_squares_fit(lambda x, p: p[0] * p[1] * x, x, y, p0, sigma=sigma,
                                         method=method)
    assert res.success
    assert res.params[0] * res.params[1] == pytest.approx(slope, rel=1e-8)
    assert res.chi2 == pytest.approx(np.sum((y - slope * x) ** 2) / sigma ** 2, rel=1e-9)
    assert np.all(np.isinf(res.errors))


@pytest.mark.parametrize("method", ALL_METHODS)
def test_product_of_parameters_started_at_the_saddle_does_not_move(method):
    # at p = (0, 0) the Jacobian (p1 x, p0 x) is zero, so the gradient of chi2 is zero: a
    # stationary point no derivative-based method can leave. The fit stays there and warns
    # that the parameters are undetermined (it does report success: see the report)
    x = np.arange(1.0, 7.0)
    y = 3.0 * x
    with pytest.warns(ConvergenceWarning, match="not all determined"):
        res = optimize.least_squares_fit(lambda x, p: p[0] * p[1] * x, x, y, [0.0, 0.0],
                                         sigma=0.1, method=method)
    np.testing.assert_array_equal(res.params, [0.0, 0.0])
    assert res.chi2 == pytest.approx(np.sum(y ** 2) / 0.01, rel=1e-14) and res.nit == 0


@pytest.mark.parametrize("method", METHODS)
def test_parameter_the_model_ignores(method):
    # p1 never enters the model: it stays where it started, p0 is the regression slope through
    # the origin, and the fit warns. p0's error is the regression's, sigma / |x| (by hand);
    # p1's, and its covariances, are infinite
    x = np.linspace(1.0, 4.0, 10)
    y = 2.5 * x + np.random.default_rng(9).normal(0.0, 0.2, x.size)
    with pytest.warns(ConvergenceWarning, match="not all determined"):
        res = optimize.least_squares_fit(lambda x, p: p[0] * x, x, y, [1.0, 5.0], sigma=0.2,
                                         method=method)
    assert res.success and res.params[1] == 5.0
    assert res.params[0] == pytest.approx(np.sum(x * y) / np.sum(x * x), rel=1e-10)
    assert res.errors[0] == pytest.approx(0.2 / np.sqrt(np.sum(x * x)), rel=1e-10)
    assert np.isinf(res.errors[1]) and np.isinf(res.covariance[0, 1])


@pytest.mark.parametrize("method", METHODS)
def test_more_parameters_than_points_gives_the_minimum_norm_interpolant(method):
    # a quadratic through two points: from p = 0 the (minimum-norm) Gauss-Newton step solves
    # it exactly; only p[0] = y(0) is determined individually (error sigma = 1), and with
    # sigma unknown nothing is left to estimate it from
    x = np.array([0.0, 1.0])
    y = np.array([1.0, 3.0])
    design = np.stack([np.ones(2), x, x ** 2], axis=-1)
    for absolute in (True, False):
        with pytest.warns(ConvergenceWarning, match=r"not all determined.*p\[1\], p\[2\]"):
            res = optimize.least_squares_fit(lambda x, p: p[0] + p[1] * x + p[2] * x ** 2, x,
                                             y, [0.0, 0.0, 0.0], method=method,
                                             absolute_sigma=absolute)
        np.testing.assert_allclose(res.params, np.linalg.pinv(design) @ y, rtol=1e-12)
        assert res.dof == -1 and np.isnan(res.reduced_chi2) and res.chi2 <= 1e-25
        assert np.all(np.isinf(res.errors[1:]))
        assert res.errors[0] == (pytest.approx(1.0, rel=1e-12) if absolute else np.inf)


# --- classic hard problems (Moré, Garbow & Hillstrom 1981) as fits to y = 0 -----------------
def rosenbrock(p):
    return tg.stack([10.0 * (p[1] - p[0] ** 2), 1.0 - p[0]])


def powell_badly_scaled(p):
    return tg.stack([1e4 * p[0] * p[1] - 1.0, tg.exp(-p[0]) + tg.exp(-p[1]) - 1.0001])


def brown_badly_scaled(p):
    return tg.stack([p[0] - 1e6, p[1] - 2e-6, p[0] * p[1] - 2.0])


def powell_badly_scaled_solution():
    """The root by Newton's method on the hand-derived 2 x 2 system, from near it."""
    q = np.array([1.1e-5, 9.1])
    for _ in range(50):
        f = np.array([1e4 * q[0] * q[1] - 1.0, np.exp(-q[0]) + np.exp(-q[1]) - 1.0001])
        jac = np.array([[1e4 * q[1], 1e4 * q[0]], [-np.exp(-q[0]), -np.exp(-q[1])]])
        q = q - np.linalg.solve(jac, f)
    return q


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("problem", ["rosenbrock", "powell badly scaled", "brown badly scaled"])
def test_classic_zero_residual_problems(problem, method):
    model, start, solution, rtol = {
        "rosenbrock": (rosenbrock, [-1.2, 1.0], np.array([1.0, 1.0]), 2e-8),
        # dof = 0 and sigma unknown: there is no noise to measure steps in, so the fit runs
        # on to the relative tolerance (it once stopped ~4e-8 off, taking sigma as 1)
        "powell badly scaled": (powell_badly_scaled, [0.0, 1.0], powell_badly_scaled_solution(),
                                2e-8),
        "brown badly scaled": (brown_badly_scaled, [1.0, 1.0], np.array([1e6, 2e-6]), 2e-8),
    }[problem]
    n = 3 if problem == "brown badly scaled" else 2
    res, warned = fit_quietly(lambda x, p: model(p), np.zeros(n), np.zeros(n), start,
                              method=method, absolute_sigma=False)
    assert res.success
    np.testing.assert_allclose(res.params, solution, rtol=rtol)
    assert res.chi2 <= 1e-15
    if res.dof == 0:  # sigma unknown and nothing left to estimate it from, as curve_fit
        assert len(warned) == 1 and "no degrees of freedom" in warned[0]
        assert np.all(np.isinf(res.errors))
    else:
        assert warned == [] and np.all(np.isfinite(res.errors))


# --- max_iter -----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_iter", [0, 1, 2])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_max_iter_reports_a_consistent_unconverged_state(method, max_iter):
    x, y, sigma, p0 = gaussian_problem()
    with pytest.warns(ConvergenceWarning, match=f"max_iter={max_iter}"):
        res = optimize.least_squares_fit(gauss, x, y, p0, sigma=sigma, method=method,
                                         max_iter=max_iter)
    assert not res.success and res.nit == max_iter
    assert_consistent(res, lambda q: gauss_np(x, q), y, sigma)
    # the Jacobian and the covariance are those at the returned parameters
    np.testing.assert_allclose(res.jac, gauss_jac_np(x, res.params), rtol=1e-12, atol=1e-16)
    a = gauss_jac_np(x, res.params) / sigma[:, None]
    np.testing.assert_allclose(res.covariance, svd_covariance(a), rtol=1e-8)
    if max_iter == 0:
        np.testing.assert_array_equal(res.params, p0)
    else:
        assert res.chi2 < chi2_np(lambda q: gauss_np(x, q), p0, y, sigma)


@pytest.mark.parametrize("method", METHODS)
def test_tol_zero_stops_when_no_step_decreases_chi2(method):
    # tol = 0 can never be met by a non-zero step: the fit must still stop, at the optimum,
    # when rounding leaves no decrease of chi2 to find
    x = np.linspace(0.0, 5.0, 12)
    y = decay_np(x, [3.0, 0.4]) + np.random.default_rng(1).normal(0.0, 0.05, x.size)
    res, warned = fit_quietly(decay, x, y, [1.0, 1.0], sigma=0.05, tol=0.0, method=method)
    ref, cov, ref_chi2 = scipy_fit(lambda q: decay_np(x, q), lambda q: decay_jac_np(x, q), y,
                                   0.05, [1.0, 1.0])
    assert res.success and warned == [] and "no step decreases chi2" in res.message
    assert np.all(np.abs(res.params - ref) <= 1e-6 * np.sqrt(np.diag(cov)))
    assert res.chi2 == pytest.approx(ref_chi2, rel=1e-12) and res.nit < 30


# --- path, chi2 path and evaluation counts ------------------------------------------------------
def path_problems():
    x, y, sigma, p0 = gaussian_problem(seed=7)
    xs = np.linspace(0.0, 20.0, 21)
    ys = np.exp(0.5 * xs)
    return {
        "gaussian": (gauss, x, y, sigma, p0, lambda q: gauss_np(x, q)),
        "exp overflowing": (lambda x, p: tg.exp(p[0] * x), xs, ys, 1e-3 * ys, np.array([0.0]),
                            lambda q: np.exp(q[0] * xs)),
    }


@pytest.mark.parametrize("problem", ["gaussian", "exp overflowing"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_path_and_chi2_path_describe_the_iterates(method, problem):
    model, x, y, sigma, p0, model_np = path_problems()[problem]
    res, _ = fit_quietly(model, x, y, p0, sigma=sigma, method=method, max_iter=None if
                         method != "gd" else 200)
    assert res.path.shape == (res.nit + 1, p0.size)
    np.testing.assert_array_equal(res.path[0], p0)
    assert np.all(np.diff(res.chi2_path) < 0)  # only steps that decrease chi2 are taken
    # every recorded chi2 is the chi2 of the recorded iterate
    recomputed = [chi2_np(model_np, q, y, sigma) for q in res.path]
    np.testing.assert_allclose(res.chi2_path, recomputed, rtol=1e-12)
    assert_consistent(res, model_np, y, sigma)


def counted(model, calls):
    def wrapped(x, p):
        calls.append(1)
        return model(x, p)
    return wrapped


@pytest.mark.parametrize("jacobian", ["auto", "pointwise", "columns", "rows"])
@pytest.mark.parametrize("method", ALL_METHODS)
def test_nfev_counts_every_model_call_eagerly_and_compiled(method, jacobian):
    # the sqrt problem rejects NaN trials, so rejected evaluations are counted too
    x = np.linspace(0.5, 4.0, 12)
    y = 0.3 * x + np.random.default_rng(4).normal(0.0, 0.05, x.size)

    def root(x, p):
        return tg.sqrt(p[0]) * x

    calls = []
    kwargs = dict(sigma=0.05, method=method, jacobian=jacobian,
                  max_iter=None if method != "gd" else 40)
    eager, _ = fit_quietly(counted(root, calls), x, y, [1.0], **kwargs)
    assert eager.nfev == len(calls) and 1 <= eager.njev <= eager.nfev
    calls = []
    model = counted(root, calls)
    compiled, _ = fit_quietly(model, x, y, [1.0], jit=True, **kwargs)
    assert (compiled.nfev, compiled.njev, compiled.nit) == (eager.nfev, eager.njev, eager.nit)
    np.testing.assert_allclose(compiled.params, eager.params, rtol=1e-14)
    if jacobian in ("auto", "pointwise"):  # replayed: Python runs the model to record it
        assert len(calls) < compiled.nfev


@pytest.mark.parametrize("method", METHODS)
def test_jacobian_modes_give_the_same_fit(method):
    x, y, sigma, p0 = gaussian_problem(seed=11)
    fits = {mode: fit_quietly(gauss, x, y, p0, sigma=sigma, method=method, jacobian=mode)[0]
            for mode in ("pointwise", "columns", "rows")}
    for mode in ("columns", "rows"):
        assert fits[mode].jacobian_mode == mode
        np.testing.assert_allclose(fits[mode].params, fits["pointwise"].params, rtol=1e-10)
        np.testing.assert_allclose(fits[mode].errors, fits["pointwise"].errors, rtol=1e-10)
        assert fits[mode].chi2 == pytest.approx(fits["pointwise"].chi2, rel=1e-10)
    ref, cov, _ = scipy_fit(lambda q: gauss_np(x, q), lambda q: gauss_jac_np(x, q), y, sigma,
                            p0)
    assert_at_optimum(fits["pointwise"].params, ref, np.sqrt(np.diag(cov)))


@pytest.mark.parametrize("jacobian", ["auto", "columns", "rows"])
def test_two_dimensional_data_matches_scipy(jacobian):
    x = np.linspace(0.0, 1.0, 15).reshape(3, 5)
    sigma = np.full(x.shape, 0.01)
    y = decay_np(x, [2.0, 1.3]) + np.random.default_rng(8).normal(0.0, 0.01, x.shape)
    res, warned = fit_quietly(decay, tg.Tensor(x), y, [1.0, 1.0], sigma=sigma,
                              jacobian=jacobian)
    ref, cov, _ = scipy_fit(lambda q: decay_np(x, q), lambda q: decay_jac_np(x, q), y, sigma,
                            [1.0, 1.0])
    assert res.success and warned == [] and res.residuals.shape == (3, 5)
    assert_at_optimum(res.params, ref, np.sqrt(np.diag(cov)))
    np.testing.assert_allclose(res.errors, np.sqrt(np.diag(cov)), rtol=1e-7)
    assert_consistent(res, lambda q: decay_np(x, q), y, sigma)


# --- sizes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ALL_METHODS)
def test_one_parameter_line_through_the_origin(method):
    x = np.linspace(1.0, 4.0, 10)
    sigma = np.linspace(0.1, 0.4, 10)
    y = 2.5 * x + np.random.default_rng(9).normal(0.0, sigma)
    w = 1.0 / sigma ** 2
    slope, error = np.sum(w * x * y) / np.sum(w * x * x), 1.0 / np.sqrt(np.sum(w * x * x))
    res, warned = fit_quietly(lambda x, p: p[0] * x, x, y, [-7.0], sigma=sigma, method=method)
    assert res.success and warned == []
    assert res.params[0] == pytest.approx(slope, rel=1e-9 if method != "gd" else 1e-7)
    assert res.errors[0] == pytest.approx(error, rel=1e-12)


def polynomial(x, p):
    total = p[p.shape[0] - 1]
    for j in range(p.shape[0] - 2, -1, -1):  # Horner
        total = total * x + p[j]
    return total


@pytest.mark.parametrize("start", ["zeros", "ones"])
@pytest.mark.parametrize("interval", [(-1.0, 1.0), (0.0, 3.0)])
@pytest.mark.parametrize("method", METHODS)
def test_degree_eight_polynomial_matches_weighted_polyfit(method, interval, start):
    x = np.linspace(*interval, 40)
    rng = np.random.default_rng(10)
    sigma = rng.uniform(0.005, 0.02, x.size)
    y = np.polyval(rng.normal(size=9), x) + rng.normal(0.0, sigma)
    coefficients = np.polyfit(x, y, 8, w=1.0 / sigma)[::-1]  # lowest power first
    design = np.vander(x, 9, increasing=True) / sigma[:, None]
    errors = np.sqrt(np.diag(svd_covariance(design)))
    p0 = np.zeros(9) if start == "zeros" else np.ones(9)
    res, warned = fit_quietly(polynomial, x, y, p0, sigma=sigma, method=method)
    assert res.success and warned == [] and res.nit <= 2
    assert np.all(np.abs(res.params - coefficients) <= 1e-7 * errors)
    np.testing.assert_allclose(res.errors, errors, rtol=1e-6)


# --- sigma conventions --------------------------------------------------------------------------
def test_scalar_array_and_tensor_sigma_give_identical_fits():
    x = np.linspace(0.0, 5.0, 12)
    y = decay_np(x, [3.0, 0.4]) + np.random.default_rng(12).normal(0.0, 0.05, x.size)
    fits = [fit_quietly(decay, x, y, [1.0, 1.0], sigma=s)[0]
            for s in (0.05, np.full(x.size, 0.05), tg.Tensor(np.full(x.size, 0.05)))]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.params, fits[0].params)
        np.testing.assert_array_equal(other.covariance, fits[0].covariance)
        assert (other.nit, other.nfev) == (fits[0].nit, fits[0].nfev)


@pytest.mark.parametrize("method", METHODS)
def test_absolute_sigma_conventions_match_curve_fit(method):
    curve_fit = pytest.importorskip("scipy.optimize").curve_fit
    x = np.linspace(0.0, 5.0, 12)
    sigma = np.linspace(0.03, 0.08, 12)
    y = decay_np(x, [3.0, 0.4]) + np.random.default_rng(13).normal(0.0, sigma)

    def reference(**kwargs):
        return curve_fit(lambda x, a, b: decay_np(x, [a, b]), x, y, p0=[1.0, 1.0],
                         jac=lambda x, a, b: decay_jac_np(x, [a, b]), xtol=1e-15, ftol=1e-15,
                         gtol=1e-15, **kwargs)

    cases = [(dict(sigma=sigma), dict(sigma=sigma, absolute_sigma=True)),
             (dict(sigma=sigma, absolute_sigma=False), dict(sigma=sigma)),
             (dict(), dict(absolute_sigma=True)),  # the contract: sigma = None taken as 1
             (dict(absolute_sigma=False), dict())]
    for ours, theirs in cases:
        res, warned = fit_quietly(decay, x, y, [1.0, 1.0], method=method, **ours)
        ref, cov = reference(**theirs)
        assert res.success and warned == []
        assert_at_optimum(res.params, ref, np.sqrt(np.diag(cov)))
        np.testing.assert_allclose(res.covariance, cov, rtol=1e-7)
    # sigma known only up to a factor: multiplying it by 7 changes neither the fit nor its
    # errors; taken as absolute, the errors grow 7-fold
    relative = fit_quietly(decay, x, y, [1.0, 1.0], sigma=sigma, absolute_sigma=False,
                           method=method)[0]
    relative7 = fit_quietly(decay, x, y, [1.0, 1.0], sigma=7 * sigma, absolute_sigma=False,
                            method=method)[0]
    absolute7 = fit_quietly(decay, x, y, [1.0, 1.0], sigma=7 * sigma, method=method)[0]
    np.testing.assert_allclose(relative7.params, relative.params, rtol=1e-9)
    np.testing.assert_allclose(relative7.errors, relative.errors, rtol=1e-7)
    np.testing.assert_allclose(absolute7.errors, 7 * fit_quietly(
        decay, x, y, [1.0, 1.0], sigma=sigma, method=method)[0].errors, rtol=1e-7)
