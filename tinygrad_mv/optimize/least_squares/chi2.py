"""chi^2 of the model's values against the data, the Gauss-Newton step that minimises its
linear model, and the test that ends a fit."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._common import _EPS
from .normal import _normal_solve


def _norm(vector: np.ndarray) -> float:
    """The Euclidean length of a 1-D vector (np.linalg.norm computes the same, more slowly)."""
    return math.sqrt(float(vector.dot(vector)))


class _Chi2:
    """chi^2 = |r|^2 of model values against the data, r = (y - value) / sigma, and the test
    that ends a fit."""

    def __init__(self, y: np.ndarray, sigma: np.ndarray, dof: int, absolute_sigma: bool,
                 tol: float, eps: float = _EPS) -> None:
        self.y, self.sigma = y.reshape(-1), sigma.reshape(-1)
        self.dof, self.absolute_sigma, self.tol, self.eps = dof, absolute_sigma, tol, eps
        # what the model's precision (eps) can resolve in |A dp|: a few rounding errors of y/sigma
        self.resolution = 8.0 * eps * _norm(self.y / self.sigma)
        # unit sigmas (no sigma given): dividing by 1 changes nothing, so it is skipped
        self.unit = bool(np.logical_and.reduce(self.sigma == 1.0))
        self._column_sigma = self.sigma[:, None]

    def residuals(self, value: np.ndarray) -> np.ndarray:
        if self.unit:
            return self.y - value.reshape(-1)
        return (self.y - value.reshape(-1)) / self.sigma

    def weighted(self, jac: np.ndarray) -> np.ndarray:
        """A = J / sigma, row by row (J itself for unit sigmas: callers never write into A)."""
        return jac if self.unit else jac / self._column_sigma

    def __call__(self, value: np.ndarray) -> float:
        return self.evaluate(value)[0]

    def evaluate(self, value: np.ndarray) -> tuple[float, np.ndarray]:
        """chi^2 and the residuals r it sums: an accepted point's r serves the next step."""
        r = self.y - value.reshape(-1)
        if not self.unit:
            r /= self.sigma  # (r is new: divided in place)
        total = float(r.dot(r))  # (.dot: half the overhead of @ on small arrays)
        return (total if math.isfinite(total) else np.inf), r

    def noise(self, chi2: float) -> float:
        """The standard deviation the errors are in units of: 1 for absolute sigmas, else the
        one estimated from the residuals (0 without degrees of freedom: the fit is exact)."""
        if self.absolute_sigma:
            return 1.0
        return math.sqrt(chi2 / self.dof) if self.dof > 0 and chi2 > 0 else 0.0

    def rounding(self, chi2: float) -> float:
        """How much chi^2, evaluated in floating point, can be off: a change smaller than this
        cannot be seen."""
        return 2.0 * math.sqrt(chi2) * self.resolution + 8.0 * self.eps * self.y.size * chi2

    def negligible(self, dp: np.ndarray, p: np.ndarray, a: np.ndarray, chi2: float,
                   fitted_length: float | None = None) -> bool:
        """A step is negligible when every |dp_i| <= tol * |p_i|, or when it changes the fit
        by less than tol standard errors, |A dp| <= tol * noise, or by less than float64
        resolves. The last two serve parameters whose optimum is 0; the last one exact data
        with relative sigmas, where the noise itself goes to 0. ``fitted_length``: |A dp|,
        when the caller has it already."""
        tol = self.tol
        # on Python floats: k numbers, where five NumPy calls would cost more than the test
        for d, q in zip(dp.tolist(), p.tolist()):
            if not abs(d) <= tol * abs(q):  # (NaN: not negligible)
                break
        else:
            return True
        if fitted_length is None:
            fitted_length = _norm(a.dot(dp))
        return fitted_length <= max(self.tol * self.noise(chi2), self.resolution)


def _column_norms(a: np.ndarray) -> np.ndarray:
    """The lengths of a's columns, 1 for zero columns: dividing by them puts parameters measured
    in different units on equal terms before an SVD's rank cut-off compares them."""
    norms = np.sqrt(np.einsum("ij,ij->j", a, a))
    norms[norms == 0] = 1.0
    return norms


class _Local(NamedTuple):
    """chi^2's linear model at p, formed once per iteration and shared by the Gauss-Newton
    step, the stopping test and the step search."""
    normal: np.ndarray    # A^T A
    gradient: np.ndarray  # A^T r
    lengths: np.ndarray   # the lengths of A's columns, sqrt(diag(A^T A))
    fitted: np.ndarray    # A dp for the Gauss-Newton step dp
    fitted_sq: float      # |A dp|^2


def _gauss_newton_step(a: np.ndarray, r: np.ndarray, normal: np.ndarray | None = None,
                       gradient: np.ndarray | None = None) -> np.ndarray:
    """The least-squares solution of a dp = r (the shortest one when a's columns are
    dependent), computed with a's columns scaled to unit length. ``normal`` = a^T a and
    ``gradient`` = a^T r, when the caller has them: for a well-conditioned a the step then
    comes from the k x k normal equations (the same step up to rounding, for a fraction of an
    SVD's cost); otherwise (nearly dependent or zero columns) from lstsq, as always."""
    if normal is not None and gradient is not None:
        solved = _normal_solve(normal, gradient)
        if solved is not None:
            return solved.step
    norms = _column_norms(a)
    return np.linalg.lstsq(a / norms, r, rcond=None)[0] / norms
