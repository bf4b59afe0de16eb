"""Levenberg-Marquardt: the damped Gauss-Newton step inside a trust region and the search that
adapts the region, as MINPACK does."""
from __future__ import annotations

import math

import numpy as np

from .._common import _EPS
from .chi2 import _Chi2, _Local, _norm
from .loops import _finite, _Trial
from .model import _Model


def _cholesky_solve(factor: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with (factor factor^T) x = b, factor lower triangular with a positive diagonal."""
    return np.linalg.solve(factor.T, np.linalg.solve(factor, b))


def _trust_region_step(normal: np.ndarray, gradient: np.ndarray, gauss_newton: np.ndarray,
                       scale: np.ndarray, radius: float,
                       damping: float) -> tuple[np.ndarray, float, float]:
    """Levenberg-Marquardt's step inside a trust region (Moré's method): the solution s of
    (A^T A + damping diag(scale^2)) s = A^T r whose scaled length |scale s| is within 10% of
    ``radius``, or the Gauss-Newton step (damping 0) when that already fits. ``damping`` is the
    last one found, the starting guess. Returns (s, the damping that gave s, |scale s|).

    |scale s(damping)| falls monotonically with damping, so a safeguarded Newton iteration on
    phi(damping) = |scale s| - radius, kept between bounds that tighten at every pass, finds it
    in two or three solves of the k x k system."""
    length = _norm(scale * gauss_newton)
    if length <= 1.1 * radius:
        return gauss_newton, 0.0, length
    # bounds: Newton's step from damping 0 (phi is convex there) and |gradient / scale| / radius
    upper = _norm(gradient / scale) / radius
    direction = scale * (scale * gauss_newton) / length
    try:
        lower = (length - radius) / (radius * float(direction @ np.linalg.solve(normal, direction)))
    except np.linalg.LinAlgError:  # dependent columns: no Newton bound from damping 0
        lower = 0.0
    lower = lower if 0.0 <= lower < upper else 0.0
    # never so little damping that A^T A's rounding errors (nearly dependent columns) decide
    floor = max(_EPS * upper, 4.0 * _EPS * float(np.max(normal.diagonal() / scale ** 2)))
    damping = min(max(damping, lower), upper)
    if damping == 0.0:
        damping = upper * radius / length
    step, used, solves = gauss_newton, 0.0, 0
    for _ in range(100):
        damping = max(damping, floor)
        try:
            factor = np.linalg.cholesky(normal + np.diag(damping * scale ** 2))
        except np.linalg.LinAlgError:  # not numerically positive definite yet: more damping
            lower, damping = damping, 2.0 * damping
            continue
        step, used, solves = _cholesky_solve(factor, gradient), damping, solves + 1
        length = _norm(scale * step)
        excess = length - radius
        if abs(excess) <= 0.1 * radius or solves == 10:
            break
        if excess > 0:
            lower = max(lower, damping)
        else:
            upper = min(upper, damping)
        q = np.linalg.solve(factor, scale * (scale * step) / length)
        damping = max(lower, damping + (excess / radius) / float(q @ q))
    return step, used, length


class _TrustRegion:
    """Levenberg-Marquardt's step search, as MINPACK does it, with its state between iterations:
    the damping, the trust radius and the scale (each parameter's largest column norm of A so
    far) the radius is measured in."""

    def __init__(self, k: int) -> None:
        self.damping, self.radius, self.scale = 0.0, None, np.zeros(k)
        self.positive = False  # whether every entry of scale is > 0 (it never decreases)

    def __call__(self, evaluator: _Model, chi2_of: _Chi2, p: np.ndarray,
                 gauss_newton: np.ndarray, a: np.ndarray, r: np.ndarray, chi2: float,
                 local: _Local | None = None) -> _Trial | None:
        """The next point from p; ``local``: chi^2's linear model at p, when the loop has it
        already (formed here otherwise)."""
        if local is None:
            normal = a.T @ a
            fitted = a @ gauss_newton
            local = _Local(normal, a.T @ r, np.sqrt(normal.diagonal()), fitted,
                           float(fitted @ fitted))
        normal, gradient = local.normal, local.gradient
        self.scale = np.maximum(self.scale, local.lengths)
        # once every parameter has moved the model, the scale stays positive: no more np.where
        self.positive = self.positive or bool(self.scale.all())
        scaled = self.scale if self.positive else np.where(self.scale > 0, self.scale, 1.0)
        first = optimistic = self.radius is None
        if first:
            # MINPACK's first radius: 100 |D p0| (100 when p0 = 0). From a start a million
            # times shorter than the Gauss-Newton step that takes a dozen doublings or more, and
            # MINPACK may not move at all (no step that short changes chi2 beyond rounding):
            # there, the full step is tried first and kept if chi2's linear model predicted
            # it well (a linear model, or any from p0 = 0); otherwise the fit goes on as MINPACK.
            self.radius = 100.0 * _norm(scaled * p)
            optimistic = self.radius <= 1e-6 * _norm(scaled * gauss_newton)
            self.radius = self.radius or 100.0
        for _ in range(60):
            if optimistic:
                dp, damping, length = gauss_newton, 0.0, _norm(scaled * gauss_newton)
            else:
                dp, damping, length = _trust_region_step(normal, gradient, gauss_newton,
                                                         scaled, self.radius, self.damping)
                if first:  # the first radius is the first step's length, at most
                    self.radius, first = min(self.radius, length), False
            value, jac = evaluator.value_and_jacobian(p + dp)
            new_chi2, new_r = chi2_of.evaluate(value)
            if dp is gauss_newton:
                fitted = local.fitted_sq
            else:
                fitted_change = a.dot(dp)
                fitted = float(fitted_change.dot(fitted_change))
            predicted = fitted + 2.0 * damping * length ** 2  # the linear model's gain
            blown_up = not (new_chi2 < 100.0 * chi2 and (
                math.isfinite(np.add.reduce(jac, axis=None)) or _finite(jac)))  # (as _finite)
            actual = -chi2 if blown_up else chi2 - new_chi2
            ratio = actual / predicted if predicted > 0 else 0.0
            if optimistic:
                optimistic = False
                if ratio < 0.75:  # not well predicted: start again from MINPACK's radius
                    continue
                first = False
            if ratio <= 0.25:  # a poor model of chi2 here: shrink the region
                slope = -(fitted + damping * length ** 2)
                shrink = 0.5 if actual >= 0 else 0.5 * slope / (slope + 0.5 * actual)
                if blown_up or shrink < 0.1:
                    shrink = 0.1
                self.radius, damping = shrink * min(self.radius, 10.0 * length), damping / shrink
            elif damping == 0.0 or ratio >= 0.75:  # a good one: let it grow
                self.radius, damping = 2.0 * length, 0.5 * damping
            self.damping = damping
            if ratio >= 1e-4:
                return dp, value, jac, new_chi2, new_r
            if self.radius <= _EPS * _norm(scaled * p):
                return None
        return None
