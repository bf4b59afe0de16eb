"""least_squares_fit's cost, by deterministic counts (never wall time): one k x k inverse per
iteration instead of an SVD, the covariance from it, the model evaluated no more often than
CASES allows, and a budget of Python-level calls per iteration. Plus the fast paths' answers against
the SVD-based ones they replace."""
from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mv as tg
from tinygrad_mv import optimize
from tinygrad_mv.optimize.least_squares import loops as loops_module
from tinygrad_mv.optimize.least_squares import model as model_module
from tinygrad_mv.optimize.least_squares import normal as normal_module
from tinygrad_mv.optimize.least_squares.chi2 import _Chi2, _gauss_newton_step
from tinygrad_mv.optimize.least_squares.model import _Model
from tinygrad_mv.optimize.least_squares.normal import _normal_solve
from tinygrad_mv.optimize.least_squares.result import _covariance
from tinygrad_mv.tracing.jit import _Jitted

# the Gaussian histogram fits of bench/bench_fit.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_fit import CENTRES, DENSITY, SIGMA, gauss, normal_pdf  # noqa: E402

CASES = {
    # name: (model, p0, sigma, absolute_sigma, most model calls and Jacobians allowed)
    "course": (normal_pdf, [155.0, 6.0], None, False, 12, 11),
    "poisson": (gauss, [0.03, 160.0, 10.0], SIGMA, True, 9, 8),
}


def fit(name: str, jit: bool = True) -> Any:
    model, p0, sigma, absolute, _, _ = CASES[name]
    return optimize.least_squares_fit(model, CENTRES, DENSITY, p0, sigma=sigma, jit=jit,
                                      absolute_sigma=absolute)


def counting(monkeypatch: pytest.MonkeyPatch, *names: str) -> Counter:
    """Count the calls of np.linalg.<name> for each name, wherever they come from."""
    calls: Counter = Counter()

    def counter(name: str) -> Callable:
        original = getattr(np.linalg, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)
        return counted
    for name in names:
        monkeypatch.setattr(np.linalg, name, counter(name))
    return calls


# --- the Gauss-Newton step from the normal equations -------------------------------------------
@pytest.fixture(params=["python floats", "numpy"])
def solver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test of the normal equations runs on both paths: few parameters on Python floats,
    more with np.linalg.inv."""
    if request.param == "numpy":
        monkeypatch.setattr(normal_module, "_SMALL", 0)
    else:
        monkeypatch.setattr(normal_module, "_SMALL", 10)
    return request.param


def scaled_problem(rng: np.random.Generator, k: int = 4, n: int = 30) -> tuple:
    """A well-conditioned a whose columns are in wildly different units."""
    a = rng.normal(size=(n, k)) * np.logspace(-6, 6, k) if k > 1 else rng.normal(size=(n, 1))
    return a, rng.normal(size=n)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
@pytest.mark.parametrize("seed", range(3))
def test_normal_equations_step_is_the_lstsq_step(seed: int, k: int, solver: str) -> None:
    a, r = scaled_problem(np.random.default_rng(seed), k)
    normal, gradient = a.T @ a, a.T @ r
    solved = _normal_solve(normal, gradient)
    assert solved is not None
    # the SVD-based step, also with unit columns (lstsq on a itself is off by cond(a) ~ 1e12)
    np.testing.assert_allclose(solved.step, _gauss_newton_step(a, r), rtol=1e-12)
    np.testing.assert_array_equal(_gauss_newton_step(a, r, normal, gradient), solved.step)
    # compared in correlation units: small off-diagonal entries carry absolute rounding
    lengths = np.sqrt(normal.diagonal())
    np.testing.assert_allclose(solved.inverse() * lengths * lengths[:, None],
                               _covariance(a)[0] * lengths * lengths[:, None], atol=1e-12)


def dependent(rng: np.random.Generator, how: str) -> np.ndarray:
    a = rng.normal(size=(20, 3))
    if how == "equal":
        a[:, 2] = a[:, 1]
    elif how == "nearly":
        a[:, 2] = a[:, 1] * (1 + 1e-9)
    elif how == "zero":
        a[:, 2] = 0.0
    else:  # cond(A) ~ 1e4 after scaling: beyond what the normal equations are trusted with
        a[:, 2] = a[:, 1] + 1e-4 * a[:, 0]
    return a


@pytest.mark.parametrize("how", ["equal", "nearly", "zero", "cond 1e4"])
def test_dependent_columns_take_lstsq(how: str, solver: str) -> None:
    # the shortest step (or the one cond(A) allows) comes from the SVD (lstsq), exactly
    rng = np.random.default_rng(1)
    a, r = dependent(rng, how), rng.normal(size=20)
    normal, gradient = a.T @ a, a.T @ r
    assert _normal_solve(normal, gradient) is None
    np.testing.assert_array_equal(_gauss_newton_step(a, r, normal, gradient),
                                  _gauss_newton_step(a, r))


def test_both_paths_give_the_same_step_and_inverse(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    for k in (1, 2, 3, 4):
        a, r = scaled_problem(rng, k)
        normal, gradient = a.T @ a, a.T @ r
        small = _normal_solve(normal, gradient)
        monkeypatch.setattr(normal_module, "_SMALL", 0)
        large = _normal_solve(normal, gradient)
        monkeypatch.undo()
        assert small is not None and large is not None and isinstance(small.unit_inverse, list)
        np.testing.assert_allclose(small.step, large.step, rtol=1e-13)
        np.testing.assert_allclose(np.array(small.unit_inverse), large.unit_inverse,
                                   rtol=1e-13, atol=1e-14)


@np.errstate(invalid="ignore")
def test_non_finite_normal_equations_take_lstsq(solver: str) -> None:
    normal = np.array([[1.0, np.nan], [np.nan, 1.0]])
    assert _normal_solve(normal, np.ones(2)) is None
    assert _normal_solve(np.array([[np.inf, 0.0], [0.0, 1.0]]), np.ones(2)) is None


@pytest.mark.parametrize("correlation, trusted", [(0.9, True), (1 - 1e-4, True),
                                                  (1 - 1e-7, False)])
def test_the_condition_threshold(correlation: float, trusted: bool, solver: str) -> None:
    # unit columns at angle arccos(correlation): cond(A^T A) = (1 + c) / (1 - c), so 2e4
    # is trusted (<= 1e6 / k^2 with k = 2 means entries up to 2.5e5 of the inverse) and 2e7 not
    normal = np.array([[1.0, correlation], [correlation, 1.0]]) * np.array([1e-3, 1e5])
    normal = normal * np.array([1e-3, 1e5])[:, None]
    assert (_normal_solve(normal, np.ones(2)) is not None) is trusted


# --- whole fits: what they evaluate -----------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_fit_evaluates_the_model_no_more_often(name: str) -> None:
    res, eager = fit(name), fit(name, jit=False)
    *_, nfev, njev = CASES[name]
    assert res.success and res.nfev <= nfev and res.njev <= njev
    np.testing.assert_array_equal(res.params, eager.params)
    np.testing.assert_array_equal(res.errors, eager.errors)


@pytest.mark.parametrize("name", list(CASES))
def test_fit_solves_normal_equations_once_per_iteration_and_never_takes_an_svd(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fit(name)  # recorded and compiled already
    calls = counting(monkeypatch, "inv", "lstsq", "svd")
    solved: Counter = Counter()
    original = loops_module._normal_solve

    def counted(*args: Any) -> Any:
        result = original(*args)
        solved["fast" if result is not None else "lstsq"] += 1
        return result
    monkeypatch.setattr(loops_module, "_normal_solve", counted)
    res = fit(name)
    # one Gauss-Newton step per iteration and at p0, all from the normal equations (on Python
    # floats, these k being small: no np.linalg at all)
    assert solved == Counter(fast=res.nit + 1)
    assert calls["svd"] == 0 and calls["lstsq"] == 0 and calls["inv"] == 0


def test_fit_with_dependent_parameters_still_takes_the_svd(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # p[1] and p[2] enter only as their sum: the covariance comes from the SVD, with infinities
    calls = counting(monkeypatch, "svd")
    x = np.linspace(0.0, 1.0, 20)
    y = 2.0 + 3.0 * x
    with pytest.warns(optimize.ConvergenceWarning, match="not all determined"):
        res = optimize.least_squares_fit(lambda x, p: p[0] + (p[1] + p[2]) * x, x, y,
                                         [1.0, 1.0, 1.0], jit=True)
    assert calls["svd"] == 1 and np.isinf(res.errors[1:]).all()


@pytest.mark.parametrize("name", list(CASES))
def test_covariance_from_the_inverse_is_the_svd_one(name: str) -> None:
    res = fit(name)
    _, _, sigma, absolute, _, _ = CASES[name]
    weights = 1.0 if sigma is None else sigma
    covariance, undetermined = _covariance(res.jac / np.reshape(weights, (-1, 1)))
    if not absolute:
        covariance = covariance * res.reduced_chi2
    assert not undetermined.any()
    np.testing.assert_allclose(res.covariance, covariance, rtol=1e-10)
    np.testing.assert_array_equal(res.covariance, res.covariance.T)


# --- the budget: Python-level calls per iteration ---------------------------------------------
def python_calls(run: Callable[[], Any]) -> tuple[Counter, Any]:
    """Calls of Python functions in tinygrad_mv.optimize and in NumPy while ``run`` runs (the
    model's own program is left out: other code decides its cost)."""
    calls: Counter = Counter()

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if "/tinygrad_mv/optimize/" in name.replace("\\", "/"):  # (not tracing/optimizer.py)
                calls["optimize"] += 1
            elif "numpy" in name:
                calls["numpy"] += 1
    sys.setprofile(hook)
    try:
        result = run()
    finally:
        sys.setprofile(None)
    return calls, result


# Per iteration on these fits: 15.5-16 calls in optimize and 3.4-7.6 in NumPy (the residuals of
# the accepted trial reused, two parameters solved without loops, ufunc reductions for .all(),
# no NumPy Python wrappers). The budgets leave a little room, and fail on a per-iteration
# factorisation (an SVD by lstsq each step), np.allclose or a new random generator per start.
@pytest.mark.parametrize("name", list(CASES))
def test_python_calls_per_iteration_within_budget(name: str) -> None:
    fit(name)  # recorded and compiled already
    calls, res = python_calls(lambda: fit(name))
    iterations = res.nit + 1
    assert calls["optimize"] / iterations <= 17, calls
    assert calls["numpy"] / iterations <= 9, calls


def calls_outside_optimize(run: Callable[[], Any]) -> tuple[int, Any]:
    """Calls of Python functions elsewhere in tinygrad_mv (the jit's replay, Tensors, ...) and in
    the compiled programs while ``run`` runs."""
    count = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            name = frame.f_code.co_filename.replace("\\", "/")
            if name.startswith("<tg.jit") or ("/tinygrad_mv/" in name
                                              and "/tinygrad_mv/optimize/" not in name):
                count[0] += 1
    sys.setprofile(hook)
    try:
        result = run()
    finally:
        sys.setprofile(None)
    return count[0], result


# Per model evaluation, outside optimize: 5.6-6.1 calls (the program, its run and its two
# results), the start's two jit calls included. The bound replay skips the jit's look-up, the
# Tensor checks, an IndexedGrad round trip per gradient row and x ** 2's rule (17-22 calls).
@pytest.mark.parametrize("name", list(CASES))
def test_python_calls_per_model_evaluation_within_budget(name: str) -> None:
    fit(name)
    calls, res = calls_outside_optimize(lambda: fit(name))
    assert calls / res.nfev <= 7, (calls, res.nfev)


# --- the replayed "pointwise" Jacobian ----------------------------------------------------------
@pytest.mark.parametrize("name", list(CASES))
def test_later_evaluations_replay_without_the_jit_call(name: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fit(name)
    calls: Counter = Counter()
    original = _Jitted.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["jit"] += 1
        return original(self, *args, **kwargs)
    monkeypatch.setattr(_Jitted, "__call__", counted)
    res = fit(name)
    # the start's Jacobian and the check's VJP go through the jit; every later one is replayed
    assert calls["jit"] == 2 < res.nfev and res.jacobian_mode == "pointwise"
    np.testing.assert_array_equal(res.params, fit(name, jit=False).params)


def evaluators(model: Callable = normal_pdf) -> tuple[_Model, _Model]:
    x = tg.Tensor(CENTRES)
    return (_Model(model, x, DENSITY.shape, 2, compiled=True),
            _Model(model, x, DENSITY.shape, 2, compiled=False))


def test_a_replay_that_declines_falls_back_to_the_jit_call() -> None:
    compiled, eager = evaluators()
    p0, p = np.array([155.0, 6.0]), np.array([168.0, 7.5])
    compiled.choose(p0, "auto")
    eager.choose(p0, "auto")
    assert compiled.mode == "pointwise" and compiled._replay is not None
    assert eager._replay is None
    replayed = compiled.value_and_jacobian(p)
    compiled._replay = lambda arrays: None  # as when a Tensor the model reads changed shape
    fallback = compiled.value_and_jacobian(p)
    assert compiled._replay is not None  # bound again by the full call
    want = eager.value_and_jacobian(p)
    for value, jac in (replayed, fallback):
        np.testing.assert_array_equal(value, want[0])
        np.testing.assert_array_equal(jac, want[1])
    # (two evaluations here against eager's one; a declined replay is not counted)
    assert (compiled.nfev, compiled.njev, eager.nfev, eager.njev) == (4, 3, 3, 2)


def test_a_float32_model_is_not_replayed_directly() -> None:
    def model32(x: Any, p: Any) -> Any:
        q = p.astype(np.float32)
        return q[0] * tg.exp(-((x.astype(np.float32) - q[1]) / 8.0) ** 2)
    compiled, eager = evaluators(model32)
    p0 = np.array([0.02, 160.0])
    got, want = compiled.choose(p0, "auto"), eager.choose(p0, "auto")
    assert compiled.mode == eager.mode == "pointwise" and compiled._replay is None
    p = np.array([0.025, 168.0])
    got, want = compiled.value_and_jacobian(p), eager.value_and_jacobian(p)
    assert got[0].dtype == got[1].dtype == np.float64
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


# --- two parameters: the normal equations written out --------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_two_parameter_solve_is_the_loops_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    declined = 0
    for trial in range(300):
        a = rng.normal(size=(30, 2)) * 10.0 ** rng.uniform(-8, 8, size=2)
        if trial % 3 == 0:  # nearly dependent columns: some pass the test, some do not
            a[:, 1] = a[:, 0] * (1 + 10.0 ** rng.uniform(-12, -1) * rng.normal(size=30))
        normal, gradient = a.T @ a, a.T @ rng.normal(size=30)
        rows, g = normal.tolist(), gradient.tolist()
        d = [math.sqrt(rows[0][0]), math.sqrt(rows[1][1])]
        pair = normal_module._pair_solve(rows, g, d, np.array(d))
        loops = normal_module._loop_solve(rows, g, d, np.array(d))
        assert (pair is None) == (loops is None), trial
        if pair is None:
            declined += 1
            continue
        assert pair.step.tobytes() == loops.step.tobytes(), trial
        assert (np.array(pair.unit_inverse).tobytes()
                == np.array(loops.unit_inverse).tobytes()), trial
    assert 0 < declined < 100


def test_two_parameter_fits_take_the_written_out_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: Counter = Counter()
    original = normal_module._pair_solve

    def counted(*args: Any) -> Any:
        taken["pair"] += 1
        return original(*args)
    monkeypatch.setattr(normal_module, "_pair_solve", counted)
    res = fit("course")
    assert taken["pair"] == res.nit + 1
    # and the poisson fit (three parameters) the loops
    taken.clear()
    fit("poisson")
    assert taken["pair"] == 0


def test_unit_sigmas_skip_the_division() -> None:
    y = np.linspace(1.0, 2.0, 5)
    chi2_of = _Chi2(y, np.ones_like(y), 3, False, 1e-8)
    jac = np.arange(10.0).reshape(5, 2)
    assert chi2_of.unit and chi2_of.weighted(jac) is jac
    value = y[::-1].copy()
    np.testing.assert_array_equal(chi2_of.residuals(value), (y - value) / 1.0)
    weighted = _Chi2(y, np.full(5, 2.0), 3, False, 1e-8)
    assert not weighted.unit
    np.testing.assert_array_equal(weighted.weighted(jac), jac / 2.0)


def test_the_pointwise_check_draws_the_same_cotangent() -> None:
    # cached per shape, and the very draw the check always used
    first = model_module._probe_cotangent((7, 3))
    np.testing.assert_array_equal(first, np.random.default_rng(12345).standard_normal((7, 3)))
    assert model_module._probe_cotangent((7, 3)) is first
