"""What a fit returns: its verdict, the covariance of the parameters (with those the data leave
undetermined) and the :class:`FitResult`."""
from __future__ import annotations

import warnings

import numpy as np

from .._common import _EPS, ConvergenceWarning, FitResult
from .chi2 import _Chi2, _column_norms
from .loops import _Outcome
from .model import _Model


def _covariance(weighted_jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A^T A)^-1 by the SVD of A with unit columns, and which parameters the data leave
    undetermined: those a null direction of A moves (beyond rounding). Their rows and columns
    are infinite; the rest come from the pseudo-inverse, which gives the variance of every
    determined parameter exactly even when others are not."""
    n, k = weighted_jac.shape
    norms = _column_norms(weighted_jac)
    _, sv, vt = np.linalg.svd(weighted_jac / norms, full_matrices=n < k)
    rank = int(np.count_nonzero(sv > max(n, k) * _EPS * sv[0])) if sv.size else 0
    kept = vt[:rank]
    covariance = (kept.T / sv[:rank] ** 2) @ kept / np.outer(norms, norms)
    undetermined = np.any(np.abs(vt[rank:]) > np.sqrt(_EPS), axis=0)
    covariance[undetermined, :] = np.inf
    covariance[:, undetermined] = np.inf
    return covariance, undetermined


def _fit_result(outcome: _Outcome, evaluator: _Model, chi2_of: _Chi2, moved_model: np.ndarray,
                method: str, absolute_sigma: bool, path: list, chi2_path: list) -> FitResult:
    """least_squares_fit's answer from where its loop stopped (``outcome``): not converged
    after all where a parameter that moved the model at p0 (``moved_model``) no longer does;
    the covariance, scaled by chi^2 / dof for relative sigmas; a warning for each problem."""
    p, value, jac, chi2, nit, success, message, inverse = outcome
    k, n_points, dof, y_shape = p.size, chi2_of.y.size, chi2_of.dof, evaluator.y_shape
    lost = moved_model & ~np.logical_or.reduce(jac != 0, axis=0)
    if success and np.logical_or.reduce(lost):
        lost = np.flatnonzero(lost)
        # e.g. a decay rate sent so far that exp(-rate x) = 0: chi2 is flat in it there
        success = False
        message = (f"stopped at iteration {nit} where the model no longer depends on "
                   f"p[{', '.join(map(str, lost))}] (a zero Jacobian column, nonzero at p0): the "
                   "fit left the region the data constrains; try a start nearer the optimum")

    if inverse is not None:
        # the loop inverted A^T A at p, A well conditioned (every parameter determined): the
        # same covariance as the SVD gives, up to rounding; made exactly symmetric
        covariance, undetermined = 0.5 * (inverse + inverse.T), np.zeros(k, dtype=bool)
        some_undetermined = False
    else:
        covariance, undetermined = _covariance(chi2_of.weighted(jac))
        some_undetermined = bool(undetermined.any())
    # stacklevel 4: the caller's line, past least_squares_fit and np.errstate's wrapper
    if some_undetermined:
        names = ", ".join(f"p[{i}]" for i in np.flatnonzero(undetermined))
        warnings.warn(f"least_squares_fit: the parameters are not all determined by the data: "
                      f"{names} can change without changing the model (the Jacobian's columns "
                      "are dependent); their errors and covariances are set to infinity",
                      ConvergenceWarning, stacklevel=4)
    if not absolute_sigma and dof > 0 and not some_undetermined:
        covariance = covariance * (chi2 / dof)
    elif not absolute_sigma and dof > 0:
        covariance = np.where(undetermined[:, None] | undetermined, np.inf,
                              covariance * (chi2 / dof))
    elif not absolute_sigma:  # as curve_fit: no residual degrees of freedom to estimate sigma
        covariance = np.full((k, k), np.inf)
        if not some_undetermined:
            warnings.warn(f"least_squares_fit: {n_points} data point(s) for {k} parameter(s) "
                          "leave no degrees of freedom to estimate sigma from the residuals: "
                          "covariance set to infinity (pass sigma to take it as known)",
                          ConvergenceWarning, stacklevel=4)
    if not success:
        warnings.warn(f"least_squares_fit ({method}): {message}", ConvergenceWarning,
                      stacklevel=4)
    return FitResult(
        params=p.copy(), errors=np.sqrt(covariance.diagonal()), covariance=covariance, chi2=chi2,
        reduced_chi2=chi2 / dof if dof > 0 else np.nan, dof=dof, nit=nit, nfev=evaluator.nfev,
        njev=evaluator.njev, jacobian_mode=evaluator.mode, method=method, success=success,
        message=message, path=np.array(path), chi2_path=np.array(chi2_path),
        residuals=chi2_of.residuals(value).reshape(y_shape), jac=jac)
