"""least_squares_fit: checks its arguments, starts the model and chi^2 at p0 and runs the
method's loop."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...tensor import Tensor
from .._common import FitResult, _check_stopping, _fmt, _start
from .chi2 import _Chi2
from .loops import _finite, _gauss_newton_fit, _halving_search, _steepest_descent_fit
from .model import _Model
from .result import _fit_result
from .trust_region import _TrustRegion

_FIT_METHODS = ("gauss-newton", "levenberg-marquardt", "gd")
_JACOBIAN_MODES = ("auto", "pointwise", "columns", "rows")


def _numbers(values: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(values._data if isinstance(values, Tensor) else values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"least_squares_fit: {name} must be a number or an array of numbers, "
                        f"got {type(values).__name__} ({exc})") from None


# Overflow or NaN in a trial is expected and handled (such points are rejected): no warnings.
@np.errstate(over="ignore", invalid="ignore", divide="ignore")
def least_squares_fit(model: Callable[[Any, Tensor], Tensor], x: Any, y: Any, p0: Any,
                      sigma: Any = None, method: str = "levenberg-marquardt", *,
                      absolute_sigma: bool = True, tol: float = 1e-8,
                      max_iter: int | None = None, jacobian: str = "auto",
                      jit: bool = False) -> FitResult:
    """Fit ``model(x, p)`` to ``y`` by minimising chi^2 = sum(((y - model(x, p)) / sigma)^2).

    ``p`` is a 1-D Tensor of parameters (start ``p0``); ``x`` is passed to the model as a
    Tensor (or as given, if it already is one). ``sigma`` (a number or an array like ``y``) is
    the standard deviation of each y; ``None`` means unit weights.

    Methods:
    - ``"levenberg-marquardt"`` (default): Gauss-Newton steps kept inside a trust region, as
      MINPACK (and so ``curve_fit``) does. The region is measured in parameters scaled by the
      largest column norms of A = J / sigma seen so far. Inside it, the step is the Gauss-Newton
      one; otherwise it is damped, (A^T A + lambda D^2) dp = A^T r. The region grows after
      steps that chi^2's linear model predicted well and shrinks after poor ones. It starts at
      100 |D p0|; from a start far shorter than the first Gauss-Newton step (p0 = 0), that
      step is tried in full first. It reaches the global minimum from poor starts as often as
      curve_fit does (see bench/bench_fit.py).
    - ``"gauss-newton"``: steps solving min |A dp - r|, halved while chi^2 does not decrease.
      This is the textbook method; it can wander far from a poor start.
    - ``"gd"``: steepest descent on chi^2 with a backtracking line search; slow, for teaching.

    All three stop when the Gauss-Newton step from the current p
    (the estimated distance to the optimum) is negligible: every |dp_i| <= ``tol`` * |p_i|, or
    the step is under ``tol`` standard errors, or it changes the fit by less than the model's
    floating-point precision resolves ("gd" tests this every 10 iterations). A fit that ends
    where a parameter, active at p0, no longer changes the model has not converged.
    ``max_iter`` defaults to 100 (10000 for "gd").

    Uncertainties: covariance = (A^T A)^-1 at the optimum, errors = sqrt of its diagonal.
    ``absolute_sigma=True`` (the default, also for ``sigma=None``, which means sigma = 1) takes
    sigma as the true standard deviations, as ``curve_fit(..., absolute_sigma=True)``. With
    ``absolute_sigma=False`` (curve_fit's default) the covariance is multiplied by chi^2 / dof
    (sigma known only up to a common factor, say unweighted data of unknown noise), and is
    infinite, with a warning, when no degrees of freedom are left (as curve_fit).

    ``jacobian``: how d model / d p is computed by reverse mode: "auto" (default), "pointwise",
    "columns" or "rows"; see the notes in the source (:class:`_Model`). Every model call is
    counted in ``.nfev``, the ones that also produced a Jacobian in ``.njev``.

    ``jit=True`` records the model's value and its Jacobian once per model with :func:`tg.jit`
    and replays them: each evaluation is 2-3x cheaper for small data, the whole fit about 30%
    faster ("pointwise"), twice as fast ("columns"). A "columns" Jacobian through a piecewise
    operation (abs, where, ...) is a second derivative jit refuses: it runs eagerly, the rest
    stays compiled. Only for models written purely in tinygrad_mv
    operations: one that is found reading values outside them (``.data``) on the recording
    check runs eagerly, but a Python branch on ``.data`` that the check does not cross would be
    frozen, so it is opt-in. The recordings are kept per model function for later fits: a
    Python number it reads from a global or a closure is a constant of them, as under
    :func:`tg.jit` (pass what changes between fits in ``x``, or fit with ``jit=False``).
    A fit that stops without converging warns (:class:`ConvergenceWarning`), ``success=False``.
    """
    if not callable(model):
        raise TypeError(f"least_squares_fit: model must be a function model(x, p), got "
                        f"{type(model).__name__}")
    if method not in _FIT_METHODS:
        raise ValueError(f"least_squares_fit: unknown method {method!r}; choose one of "
                         f"{_FIT_METHODS}")
    if jacobian not in _JACOBIAN_MODES:
        raise ValueError(f"least_squares_fit: unknown jacobian={jacobian!r}; choose one of "
                         f"{_JACOBIAN_MODES}")
    p, p_shape = _start(p0, "least_squares_fit", "p0")
    if p_shape == ():
        raise ValueError("least_squares_fit: p0 must be a 1-D array of parameters, got a "
                         "number (use [value] for one parameter)")
    y_arr = _numbers(y, "y")
    if y_arr.size == 0 or not np.isfinite(y_arr).all():
        raise ValueError(f"least_squares_fit: y must be a non-empty array of finite numbers "
                         f"(shape {y_arr.shape})")
    if sigma is None:
        sig = np.ones(y_arr.shape)
    else:
        sig = _numbers(sigma, "sigma")
        try:
            sig = np.broadcast_to(sig, y_arr.shape)
        except ValueError:
            raise ValueError(f"least_squares_fit: sigma has shape {sig.shape} but y has shape "
                             f"{y_arr.shape}") from None
        if not (np.isfinite(sig).all() and np.all(sig > 0)):
            bad = np.flatnonzero(~(np.isfinite(sig) & (sig > 0)).reshape(-1))
            raise ValueError(f"least_squares_fit: every sigma must be positive and finite; "
                             f"sigma[{bad[0]}] = {sig.reshape(-1)[bad[0]]} (set empty bins' "
                             "sigma to a positive value, or leave them out)")
    if not isinstance(absolute_sigma, (bool, np.bool_)):
        raise TypeError(f"least_squares_fit: absolute_sigma must be True or False, got "
                        f"{absolute_sigma!r}")
    if max_iter is None:
        max_iter = 10000 if method == "gd" else 100
    _check_stopping(tol, max_iter, "least_squares_fit")
    x_in = x if isinstance(x, Tensor) else Tensor(x)
    k = p.size
    n_points = y_arr.size
    dof = n_points - k
    evaluator = _Model(model, x_in, y_arr.shape, k, compiled=jit)
    value, jac = evaluator.choose(p, jacobian)
    # Steps are measured in standard errors of the noise: the given sigmas when absolute, else
    # (no sigma, or relative ones) the noise the residuals show, whatever the errors report.
    chi2_of = _Chi2(y_arr, sig, dof, absolute_sigma and sigma is not None, tol, evaluator.eps)
    chi2 = chi2_of(value)
    if not (np.isfinite(chi2) and _finite(jac)):
        raise FloatingPointError(f"least_squares_fit: the model or its Jacobian is not finite "
                                 f"at p0 = {_fmt(p)}")
    path, chi2_path = [p.copy()], [chi2]
    # the parameters the model depends on at p0 (a ufunc reduction: np.any's wrapper costs more)
    moved_model = np.logical_or.reduce(jac != 0, axis=0)
    if method == "gd":
        outcome = _steepest_descent_fit(evaluator, chi2_of, y_arr, sig, p, value, jac, chi2,
                                        max_iter, path, chi2_path)
    else:
        search = _halving_search if method == "gauss-newton" else _TrustRegion(k)
        outcome = _gauss_newton_fit(evaluator, chi2_of, search, p, value, jac, chi2, max_iter,
                                    path, chi2_path)
    return _fit_result(outcome, evaluator, chi2_of, moved_model, method, absolute_sigma, path,
                       chi2_path)
