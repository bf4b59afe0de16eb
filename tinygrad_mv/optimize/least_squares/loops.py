"""The fitting loops: Gauss-Newton steps found by a step search (halving, or
:mod:`.trust_region`'s), and steepest descent on chi^2 with a line search."""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from ... import functional
from ...tensor import Tensor
from .._common import _EPS
from ..minimization import _backtrack
from .chi2 import _Chi2, _gauss_newton_step, _Local, _norm
from .normal import _normal_solve
from .model import _Model


# A step search's result: the step, and the model's value, Jacobian, chi^2 and residuals after
# it.
_Trial = tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]


def _finite(jac: np.ndarray) -> bool:
    """Whether every entry of jac is finite: its sum is unless one is not (or the sum overflows:
    only then are the entries tested one by one)."""
    return math.isfinite(np.add.reduce(jac, axis=None)) or bool(np.isfinite(jac).all())


class _Outcome(NamedTuple):
    """Where a fitting loop stopped: p, the model's value, Jacobian and chi^2 there, and why."""
    p: np.ndarray
    value: np.ndarray
    jac: np.ndarray
    chi2: float
    nit: int
    success: bool
    message: str
    # (A^T A)^-1 at p when the last Gauss-Newton step came from the normal equations (A well
    # conditioned): the covariance, without another factorisation
    inverse: np.ndarray | None = None


def _halving_search(evaluator: _Model, chi2_of: _Chi2, p: np.ndarray, gauss_newton: np.ndarray,
                    a: np.ndarray, r: np.ndarray, chi2: float,
                    local: _Local | None = None) -> _Trial | None:
    """Gauss-Newton's step, halved until chi^2 decreases at a point where the Jacobian is
    finite (the next step needs it); None once the step no longer moves p. The full step is
    evaluated with its Jacobian (needed whenever it is accepted), halved ones with values only.
    A step that leaves chi^2 equal is no progress: accepting it would repeat forever.
    ``local`` (chi^2's linear model, which the trust region uses) is not needed here."""
    dp, t = gauss_newton, 1.0
    value, jac = evaluator.value_and_jacobian(p + dp)
    new_chi2, new_r = chi2_of.evaluate(value)
    has_jac = True  # jac belongs to p + t dp
    moves = np.abs(dp) > _EPS * np.abs(p)
    for _ in range(60):
        if new_chi2 < chi2 and not has_jac:
            value, jac = evaluator.value_and_jacobian(p + t * dp)
            (new_chi2, new_r), has_jac = chi2_of.evaluate(value), True
        if new_chi2 < chi2 and _finite(jac):
            return t * dp, value, jac, new_chi2, new_r
        t *= 0.5
        if not (t * np.abs(dp[moves]) > _EPS * np.abs(p[moves])).any():
            return None
        new_chi2, has_jac = chi2_of(evaluator.value(p + t * dp)), False
    return None


def _gauss_newton_fit(evaluator: _Model, chi2_of: _Chi2, search: Callable[..., _Trial | None],
                      p: np.ndarray, value: np.ndarray, jac: np.ndarray, chi2: float,
                      max_iter: int, path: list, chi2_path: list) -> _Outcome:
    """least_squares_fit's "gauss-newton" and "levenberg-marquardt": from the Gauss-Newton step
    at p, ``search`` (:func:`_halving_search` or a :class:`_TrustRegion`) finds the next point,
    appended to ``path`` and ``chi2_path``. The search is also handed chi^2's linear model at
    p (:class:`_Local`), which it would otherwise form again."""
    nit = 0
    r = chi2_of.residuals(value)  # later, the search's (chi^2 summed them)
    while True:
        a = jac if chi2_of.unit else chi2_of.weighted(jac)
        # formed once per iteration: the Gauss-Newton step, the test and the search share them
        # (.dot, not @: on a few parameters the call's overhead is the cost, and @'s is twice)
        a_t = a.T
        normal, gradient = a_t.dot(a), a_t.dot(r)
        # the Gauss-Newton step: both methods test it
        solved = _normal_solve(normal, gradient)
        if solved is not None:
            dp, lengths = solved.step, solved.lengths
        else:
            dp, lengths = _gauss_newton_step(a, r), np.sqrt(normal.diagonal())
        fitted = dp.dot(a_t)
        fitted_sq = float(fitted.dot(fitted))
        if chi2_of.negligible(dp, p, a, chi2, math.sqrt(fitted_sq)):
            return _Outcome(p, value, jac, chi2, nit, True,
                f"converged after {nit} iteration(s): the next step |dp| = {_norm(dp):.3g} is "
                "negligible", solved and solved.inverse())
        if nit >= max_iter:
            return _Outcome(p, value, jac, chi2, nit, False,
                f"stopped after max_iter={max_iter} iterations without converging (last step "
                f"|dp| = {_norm(dp):.3g})", solved and solved.inverse())
        trial = search(evaluator, chi2_of, p, dp, a, r, chi2,
                       _Local(normal, gradient, lengths, fitted, fitted_sq))
        if trial is None:
            # converged only if what chi2's linear model still promises is below chi2's own
            # rounding error (each residual is good to about chi2_of.resolution / 8)
            gain = float(r @ r - np.sum((r - fitted) ** 2))
            return _Outcome(p, value, jac, chi2, nit, bool(gain <= chi2_of.rounding(chi2)),
                f"stopped at iteration {nit}: no step decreases chi2 = {chi2:.10g} any further "
                f"(the Gauss-Newton model promises {gain:.3g} more)",
                solved and solved.inverse())
        step, value, jac, chi2, r = trial
        p = p + step  # a new array: the path may keep it without a copy
        nit += 1
        path.append(p)
        chi2_path.append(chi2)


def _steepest_descent_fit(evaluator: _Model, chi2_of: _Chi2, y: np.ndarray, sigma: np.ndarray,
                          p: np.ndarray, value: np.ndarray, jac: np.ndarray, chi2: float,
                          max_iter: int, path: list, chi2_path: list) -> _Outcome:
    """least_squares_fit's "gd": steepest descent on chi^2 with a backtracking line search,
    appending to ``path`` and ``chi2_path``."""
    def chi2_tensor(q: Tensor) -> Tensor:
        return (((y - evaluator.call(q)) / sigma) ** 2).sum()

    chi2_grad = functional.value_and_grad(chi2_tensor)
    step, nit, success, message = 1.0, 0, False, ""
    while True:
        if nit % 10 == 0 or nit >= max_iter:
            # every 10 iterations, the same test as the other methods: is the Gauss-Newton
            # step (the estimated distance to the optimum) negligible next to |p|?
            value, jac = evaluator.value_and_jacobian(p)
            a = chi2_of.weighted(jac)
            dp = _gauss_newton_step(a, chi2_of.residuals(value))
            if chi2_of.negligible(dp, p, a, chi2):
                success = True
                message = (f"converged after {nit} iteration(s): the Gauss-Newton step from "
                           f"here, |dp| = {_norm(dp):.3g}, is negligible")
                break
        if nit >= max_iter:
            message = (f"stopped after max_iter={max_iter} iterations without converging: "
                       f"the optimum is still about |dp| = {_norm(dp):.3g} away (steepest "
                       "descent is slow on badly scaled problems: try 'gauss-newton')")
            break
        grad = chi2_grad(p)[1].data.reshape(-1)
        # no first trial may move p by more than 10% of |p|: a long jump can land on the
        # plateau where the model is ~0 everywhere, and chi2 is flat there
        cap = 0.1 * max(_norm(p), 1e-3) / (_norm(grad) or np.finfo(float).tiny)
        found = _backtrack(chi2_tensor, p, chi2, grad, -grad, min(step, cap))
        if found is None:
            message = (f"stopped at iteration {nit}: no step along -grad chi2 decreases "
                       f"chi2 (max |grad chi2| = {float(np.max(np.abs(grad))):.3g})")
            break
        taken, p, chi2, _ = found
        step = 2.0 * taken
        nit += 1
        path.append(p.copy())
        chi2_path.append(chi2)
    if nit % 10 != 0 and nit < max_iter:  # stopped by the line search: J is from before
        value, jac = evaluator.value_and_jacobian(p)
    # the line search summed chi2 as a Tensor, in another order: one value for the last point
    chi2_path[-1] = chi2 = chi2_of(value)
    return _Outcome(p, value, jac, chi2, nit, success, message)
