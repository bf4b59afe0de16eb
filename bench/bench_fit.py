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
Goals: the same optimum, fewer model evaluations than curve_fit, no more wall time.
The printed report adds the floor for any fit written in Python: the plainest Levenberg-Marquardt
loop in NumPy with the hand-derived Jacobian (handwritten_lm).

Two more comparisons, on mixtures of m Gaussian peaks (k = 3m parameters, 400 points, noise 0.01,
starts 3% off the truth):
- wall time as k grows: curve_fit's Jacobian costs k model calls beside the value, ours one
  reverse pass;
- robustness (printed report only): how many of 40 poor starts reach the global minimum.
"""
from __future__ import annotations

import time
import warnings

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
    # without sigma the errors are scaled by chi^2/dof, as curve_fit's default (see scipy_fit)
    return tg.optimize.least_squares_fit(case["model"], case["x"], case["y"], case["p0"],
                                         sigma=case["sigma"], jit=jit,
                                         absolute_sigma=case["sigma"] is not None)


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


def handwritten_lm(case: dict, tol: float = 1e-10) -> tuple[np.ndarray, int]:
    """The wall-time floor for a fit in Python: the plainest Levenberg-Marquardt loop, written
    directly in NumPy with the hand-derived Jacobian (no autodiff, no trust region, no
    covariance, no checks). Returns (parameters, model calls)."""
    x, y, p = case["x"], case["y"], np.asarray(case["p0"], dtype=float)
    weight = 1.0 if case["sigma"] is None else 1.0 / case["sigma"]
    r = (y - case["model_np"](x, *p)) * weight
    chi2, damping, calls = float(r @ r), 1e-3, 1
    while True:
        a = case["jac_np"](x, *p) * np.reshape(weight, (-1, 1))
        normal, gradient = a.T @ a, a.T @ r
        while True:
            trial = p + np.linalg.solve(normal + damping * np.diag(normal.diagonal()), gradient)
            trial_r = (y - case["model_np"](x, *trial)) * weight
            trial_chi2, calls = float(trial_r @ trial_r), calls + 1
            if trial_chi2 < chi2:
                damping *= 0.1
                break
            damping *= 10.0
            if damping > 1e10:
                return p, calls
        done = chi2 - trial_chi2 <= tol * chi2
        p, r, chi2 = trial, trial_r, trial_chi2
        if done:
            return p, calls


@pytest.mark.parametrize("name", list(CASES))
def test_handwritten_floor_reaches_the_optimum(name):
    """The floor in the printed report is a fair one: it finds the same optimum."""
    pytest.importorskip("scipy")
    best, cov = tight_optimum(CASES[name])
    params, _ = handwritten_lm(CASES[name])
    np.testing.assert_array_less(np.abs(params - best), 1e-3 * np.sqrt(np.diag(cov)))


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
    # at least as close to the exact optimum as curve_fit, in units of the standard errors, or
    # within what chi^2 can resolve: a shift of d errors raises chi^2 by d^2 (times chi^2/dof
    # when the errors were scaled by it), while summing n terms rounds chi^2 by up to n eps chi^2
    ours_off = np.max(np.abs(res.params - best) / res.errors)
    scipy_off = np.max(np.abs(ref - best) / res.errors)
    n, eps = case["y"].size, np.finfo(float).eps
    per_error = 1.0 if case["sigma"] is not None else res.chi2 / (n - len(case["p0"]))
    resolution = np.sqrt(n * eps * res.chi2 / per_error)
    assert ours_off <= max(scipy_off, resolution), (ours_off, scipy_off, resolution)
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


MIXTURE_X = np.linspace(0.0, 100.0, 400)


def mixture(x, p):
    total = 0.0
    for j in range(p.shape[0] // 3):
        total = total + p[3 * j] * tg.exp(-(x - p[3 * j + 1]) ** 2 / (2 * p[3 * j + 2] ** 2))
    return total


def mixture_np(x, *p):
    return sum(p[j] * np.exp(-(x - p[j + 1]) ** 2 / (2 * p[j + 2] ** 2))
               for j in range(0, len(p), 3))


def mixture_case(peaks: int, seed: int = 1, spread: float = 0.03) -> dict:
    """m peaks of width 3, heights 1.0, 1.1, ..., evenly spaced on 0..100, started ``spread``
    (relative) off the truth."""
    rng = np.random.default_rng(seed)
    truth = np.ravel([[1.0 + 0.1 * j, c, 3.0]
                      for j, c in enumerate(np.linspace(10.0, 90.0, peaks))])
    y = mixture_np(MIXTURE_X, *truth) + rng.normal(0.0, 0.01, MIXTURE_X.size)
    p0 = truth * (1 + spread * rng.standard_normal(truth.size))
    return dict(model=mixture, model_np=mixture_np, x=MIXTURE_X, y=y, p0=list(p0),
                sigma=np.full(MIXTURE_X.size, 0.01))


PEAKS = [1, 2, 4, 8]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("peaks", PEAKS, ids=[f"k={3 * m}" for m in PEAKS])
@pytest.mark.benchmark(group="Gaussian mixture fit (400 points), k parameters")
def test_bench_mixture_least_squares_fit(benchmark, peaks, jit):
    case = mixture_case(peaks)
    res = benchmark(ours, case, jit)
    assert res.success and res.chi2 < 2 * MIXTURE_X.size  # the global minimum (chi2 ~ 400)


@pytest.mark.parametrize("peaks", PEAKS, ids=[f"k={3 * m}" for m in PEAKS])
@pytest.mark.benchmark(group="Gaussian mixture fit (400 points), k parameters")
def test_bench_mixture_curve_fit(benchmark, peaks):
    pytest.importorskip("scipy")
    case = mixture_case(peaks)
    params, _ = benchmark(scipy_fit, case)
    np.testing.assert_allclose(params, ours(case).params, rtol=1e-6, atol=1e-9)


def _reaches_global(case: dict, **options) -> tuple[bool, int]:
    """(reached the global minimum, model calls) for curve_fit or least_squares_fit."""
    good = 2.0 * case["y"].size
    if options.pop("scipy", False):
        calls: list = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # OptimizeWarning: no covariance at a saddle
                params, _ = scipy_fit(case, counter=calls)
        except RuntimeError:
            return False, len(calls)
        chi2 = np.sum(((case["y"] - case["model_np"](case["x"], *params)) / case["sigma"]) ** 2)
        return bool(chi2 < good), len(calls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = tg.optimize.least_squares_fit(case["model"], case["x"], case["y"], case["p0"],
                                            sigma=case["sigma"], **options)
    return bool(res.success and res.chi2 < good), res.nfev


def robustness_report(starts: int = 20) -> None:
    """Of 2 x ``starts`` poor starts (4 and 8 peaks), how many reach the global minimum."""
    solvers = {"least_squares_fit (levenberg-marquardt)": dict(jit=True),
               "least_squares_fit (gauss-newton)": dict(method="gauss-newton", jit=True),
               "curve_fit (MINPACK lmdif)": dict(scipy=True)}
    print(f"\n{'start':6s} {'method':40s} {'global minimum':>15s} {'model calls':>12s}")
    for spread in (0.03, 0.05):
        cases = [mixture_case(m, seed, spread) for m in (4, 8) for seed in range(starts)]
        for label, options in solvers.items():
            results = [_reaches_global(case, **dict(options)) for case in cases]
            reached = sum(ok for ok, _ in results)
            print(f"{spread:6.0%} {label:40s} {reached:>8d} of {len(cases):<3d} "
                  f"{sum(n for _, n in results):12d}")


def _best_time(fn, repeat: int = 7, number: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def _interleaved(fns: list, rounds: int = 21, number: int = 10) -> list[float]:
    """Median seconds per call of each function, the functions taking turns round by round, so
    that a change in the machine's load falls on all of them alike (ratios between them hold)."""
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, times in zip(fns, samples):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - start) / number)
    return [float(np.median(times)) for times in samples]


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
    """Print, per case: model evaluations, wall time (medians of interleaved rounds) and distance
    from the exact optimum, and the compiled fit's time against the floor's."""
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
        floor, floor_calls = handwritten_lm(case)
        t_ours, t_jit, t_scipy, t_floor = _interleaved([
            lambda case=case: ours(case), lambda case=case: ours(case, jit=True),
            lambda case=case: scipy_fit(case), lambda case=case: handwritten_lm(case)])
        for label, params, evals, seconds in [
                (f"least_squares_fit ({res.jacobian_mode})", res.params, res.nfev, t_ours),
                ("least_squares_fit, jit=True", res.params, res.nfev, t_jit),
                ("curve_fit (finite diff.)", ref, len(calls), t_scipy),
                ("hand-written NumPy LM", floor, floor_calls, t_floor)]:
            off = np.max(np.abs(params - best) / res.errors)
            print(f"{name:8s} {label:28s} {evals:11d} {seconds * 1e3:10.3f} {off:25.2e}")
        print(f"{name:8s} jit=True against the floor: {t_jit / t_floor:.2f}x")


def scaling_report() -> None:
    """Wall time as the number of parameters grows (one reverse pass against k more calls)."""
    print(f"\n{'k':>3s} {'eager (ms)':>11s} {'jit (ms)':>9s} {'curve_fit (ms)':>15s} "
          f"{'calls: ours':>12s} {'curve_fit':>10s}")
    for peaks in PEAKS:
        case = mixture_case(peaks)
        calls: list = []
        scipy_fit(case, counter=calls)
        number = max(2, 16 // peaks)
        t_eager = _best_time(lambda case=case: ours(case), repeat=3, number=number)
        t_jit = _best_time(lambda case=case: ours(case, jit=True), repeat=3, number=number)
        t_scipy = _best_time(lambda case=case: scipy_fit(case), repeat=3, number=number)
        print(f"{3 * peaks:3d} {t_eager * 1e3:11.2f} {t_jit * 1e3:9.2f} {t_scipy * 1e3:15.2f} "
              f"{ours(case).nfev:12d} {len(calls):10d}")


if __name__ == "__main__":
    report()
    scaling_report()
    robustness_report()
