"""tg.optimize.least_squares_fit against scipy.optimize.curve_fit on a Gaussian histogram fit, in
the same run: time to converge and number of model evaluations.

Data (made here, seeded, so this file depends on nothing else): 10,000 heights drawn from
N(170, 8^2) cm (numpy default_rng(5)), in 2 cm bins from 140 to 200 cm, normalised to unit area.
Two fits:
- "course": the course's set-up: the normal density f(x; mu, sigma), unweighted chi^2, from
  mu = 155, sigma = 6 (errors scaled by chi^2/dof, as curve_fit does without sigma).
- "poisson": an amplitude Gaussian A exp(-(x - mu)^2 / (2 s^2)) with Poisson errors
  sqrt(max(count, 1)) / (n * width) taken as absolute, from (0.03, 160, 10).
curve_fit differentiates by forward finite differences (one model call per parameter per
Jacobian); least_squares_fit gets the whole Jacobian from one model call and one reverse pass.

Measure: python -m pytest bench/bench_fit.py --benchmark-enable --benchmark-columns=mean,ops
or, for a printed table:  python bench/bench_fit.py
Goals (issue 5): the same optimum, fewer model evaluations than curve_fit, no more wall time.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import tinygrad_mv as tg

SAMPLE = np.random.default_rng(5).normal(170.0, 8.0, 10_000)
COUNTS, EDGES = np.histogram(SAMPLE, bins=np.arange(140.0, 202.0, 2.0))
WIDTH = EDGES[1] - EDGES[0]
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])
DENSITY = COUNTS / (SAMPLE.size * WIDTH)
SIGMA = np.sqrt(np.maximum(COUNTS, 1.0)) / (SAMPLE.size * WIDTH)
ROOT_2PI = np.sqrt(2 * np.pi)


def normal_pdf(x, p):
    return tg.exp(-(x - p[0]) ** 2 / (2 * p[1] ** 2)) / (p[1] * ROOT_2PI)


def normal_pdf_np(x, mu, s):
    return np.exp(-(x - mu) ** 2 / (2 * s ** 2)) / (s * ROOT_2PI)


def normal_pdf_jac_np(x, mu, s):
    f = normal_pdf_np(x, mu, s)
    return np.stack([f * (x - mu) / s ** 2, f * ((x - mu) ** 2 / s ** 3 - 1 / s)], axis=-1)


def gauss(x, p):
    return p[0] * tg.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2))


def gauss_np(x, a, mu, s):
    return a * np.exp(-(x - mu) ** 2 / (2 * s ** 2))


def gauss_jac_np(x, a, mu, s):
    e = np.exp(-(x - mu) ** 2 / (2 * s ** 2))
    return np.stack([e, a * e * (x - mu) / s ** 2, a * e * (x - mu) ** 2 / s ** 3], axis=-1)


CASES = {
    "course": dict(model=normal_pdf, model_np=normal_pdf_np, jac_np=normal_pdf_jac_np,
                   x=CENTRES, y=DENSITY, p0=[155.0, 6.0], sigma=None),
    "poisson": dict(model=gauss, model_np=gauss_np, jac_np=gauss_jac_np,
                    x=CENTRES, y=DENSITY, p0=[0.03, 160.0, 10.0], sigma=SIGMA),
}


def ours(case: dict, jit: bool = False):
    return tg.optimize.least_squares_fit(case["model"], case["x"], case["y"], case["p0"],
                                         sigma=case["sigma"], jit=jit)


def scipy_fit(case: dict, counter: list | None = None, **options):
    from scipy.optimize import curve_fit

    def model(x, *p):
        if counter is not None:
            counter.append(1)
        return case["model_np"](x, *p)
    absolute = case["sigma"] is not None
    return curve_fit(model, case["x"], case["y"], p0=case["p0"], sigma=case["sigma"],
                     absolute_sigma=absolute, **options)


def tight_optimum(case: dict):
    """curve_fit with the hand-derived Jacobian and tolerances at rounding level: the oracle."""
    return scipy_fit(case, jac=lambda x, *p: case["jac_np"](x, *p), xtol=1e-15, ftol=1e-15,
                     gtol=1e-15)


@pytest.mark.parametrize("name", list(CASES))
def test_same_optimum_and_fewer_model_evaluations(name):
    pytest.importorskip("scipy")
    case = CASES[name]
    res = ours(case)
    calls: list = []
    ref, ref_cov = scipy_fit(case, counter=calls)
    best, _ = tight_optimum(case)
    assert res.success
    np.testing.assert_allclose(res.params, ref, rtol=1e-6)
    np.testing.assert_allclose(res.errors, np.sqrt(np.diag(ref_cov)), rtol=1e-5)
    # at least as close to the exact optimum as curve_fit, in units of the standard errors
    ours_off = np.max(np.abs(res.params - best) / res.errors)
    scipy_off = np.max(np.abs(ref - best) / res.errors)
    assert ours_off <= max(scipy_off, 1e-7)
    assert res.nfev < len(calls), (res.nfev, len(calls))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.benchmark(group="Gaussian histogram fit (30 bins), to convergence")
def test_bench_least_squares_fit(benchmark, name, jit):
    res = benchmark(ours, CASES[name], jit)
    assert res.success
    np.testing.assert_allclose(res.params, ours(CASES[name]).params, rtol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.benchmark(group="Gaussian histogram fit (30 bins), to convergence")
def test_bench_curve_fit(benchmark, name):
    pytest.importorskip("scipy")
    params, _ = benchmark(scipy_fit, CASES[name])
    assert np.all(np.isfinite(params))


def _best_time(fn, repeat: int = 7, number: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def _heights_case() -> dict | None:
    """The course's set-up on tg.datasets.heights() (another module's data, so only in the
    printed report, never in the tests): 2 cm bins normalised to unit area."""
    heights = getattr(getattr(tg, "datasets", None), "heights", None)
    if heights is None:
        return None
    sample = np.asarray(heights(), dtype=np.float64)
    edges = np.arange(np.floor(sample.min()), np.ceil(sample.max()) + 2.0, 2.0)
    counts, edges = np.histogram(sample, bins=edges)
    density = counts / (sample.size * (edges[1] - edges[0]))
    return dict(CASES["course"], x=0.5 * (edges[1:] + edges[:-1]), y=density)


def report() -> None:
    """Print, per case: model evaluations, wall time and distance from the exact optimum."""
    print(f"{'case':8s} {'method':28s} {'model calls':>11s} {'time (ms)':>10s} "
          f"{'off optimum (std errors)':>25s}")
    cases = dict(CASES)
    extra = _heights_case()
    if extra is not None:
        cases["heights"] = extra
    for name, case in cases.items():
        best, _ = tight_optimum(case)
        res = ours(case)
        calls: list = []
        ref, _ = scipy_fit(case, counter=calls)
        t_ours = _best_time(lambda case=case: ours(case))
        t_jit = _best_time(lambda case=case: ours(case, jit=True))
        t_scipy = _best_time(lambda case=case: scipy_fit(case))
        for label, params, evals, seconds in [
                (f"least_squares_fit ({res.jacobian_mode})", res.params, res.nfev, t_ours),
                ("least_squares_fit, jit=True", res.params, res.nfev, t_jit),
                ("curve_fit (finite diff.)", ref, len(calls), t_scipy)]:
            off = np.max(np.abs(params - best) / res.errors)
            print(f"{name:8s} {label:28s} {evals:11d} {seconds * 1e3:10.3f} {off:25.2e}")


if __name__ == "__main__":
    report()
