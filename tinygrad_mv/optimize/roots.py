"""Roots of f: R^n -> R^n by Newton-Raphson, the Jacobian by reverse mode."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..tensor import Tensor
from ._common import (_EPS, ConvergenceError, RootResult, SingularJacobianError,
                      _check_stopping, _fmt, _shaped, _start, _value_and_jacobian, _wrap)


def _newton_iterate(fun: Callable[[Tensor], Tensor], x: np.ndarray, tol: float, max_iter: int,
                    what: str, shape: tuple[int, ...]) -> RootResult:
    """Newton-Raphson on a flat square system; raises on a singular Jacobian or non-convergence.

    Converged when f(x) = 0; or when each component of the Newton step from x, about x's
    distance to a simple root, is at most tol * |x + step| (relative: whatever the scales of f
    and of each unknown), or at most tol where max |f(x)| is within f's rounding,
    tol * max(1, |J| |x|) (an unknown whose root is 0); or where J is nearly singular, the steps
    shrink linearly, max |f(x)| <= tol and the step is below sqrt(tol) (a root where J is
    singular, which Newton approaches only linearly). A residual below tol alone says nothing
    where f is small everywhere."""
    path, residuals, steps = [x.copy()], [], []
    nit = 0
    step_norm = np.inf

    def converged(reason: str) -> RootResult:
        return RootResult(x=_shaped(x, shape), fun=_shaped(value, shape), residual=residual,
                          nit=nit, nfev=nit + 1, success=True, jac=jac,
                          message=f"converged after {nit} iteration(s): {reason}",
                          path=np.array([p.reshape(shape) for p in path]),
                          residuals=np.array(residuals))
    while True:
        value, jac = _value_and_jacobian(fun, x)
        if value.size != x.size:
            raise ValueError(f"{what}: f maps {x.size} unknown(s) to {value.size} value(s); "
                             "Newton-Raphson needs as many equations as unknowns (for more "
                             "equations than unknowns use least_squares_fit)")
        if not (np.isfinite(value).all() and np.isfinite(jac).all()):
            raise FloatingPointError(f"{what}: f or its Jacobian is NaN or infinite at "
                                     f"iteration {nit}, x = {_fmt(_shaped(x, shape))} "
                                     f"(f = {_fmt(value)})")
        residual = float(np.max(np.abs(value)))
        residuals.append(residual)
        if residual == 0.0:
            return converged("f(x) = 0")
        step, condition = _newton_step(jac, value)
        # Near a root where J is singular the steps shrink by a steady factor (linearly); an
        # ill-conditioned but regular J, or a tiny f beside it (lagrange's KKT system for an f
        # of scale 1e-12), does not make them do that.
        linear = step is not None and len(steps) >= 2 and steps[-2] > 0 and steps[-1] > 0 and (
            0.2 < steps[-1] / steps[-2] < 1.0 and 0.2 < np.max(np.abs(step)) / steps[-1] < 1.0)
        if residual <= tol and condition > _NEARLY_SINGULAR and linear and (
                np.max(np.abs(step)) <= np.sqrt(tol) * (1.0 + np.max(np.abs(x)))):
            return converged(f"max |f(x)| = {residual:.3g} <= tol = {tol:g} where the Jacobian "
                             f"is (nearly) singular (condition number {condition:.3g}): a root "
                             "where J is singular, which Newton approaches only linearly")
        if step is None:  # J is numerically singular
            if nit >= max_iter:
                break
            detail = (f"f'(x) = {jac[0, 0]:.3g}" if jac.size == 1 else
                      f"condition number {condition:.3g}, J = {_fmt(jac)}")
            raise SingularJacobianError(
                f"{what}: the Jacobian is singular at iteration {nit}, x = "
                f"{_fmt(_shaped(x, shape))} ({detail}; f = {_fmt(value)}): the Newton step is "
                "undefined there; start elsewhere")
        step_norm = float(np.max(np.abs(step)))
        steps.append(step_norm)
        # each unknown on its own scale (lagrange's multipliers may be 1e12 beside x ~ 1); an
        # unknown at 0 by the absolute test, where f is as near 0 as its rounding allows
        size = np.abs(step)
        relative = size <= tol * np.abs(x + step)
        rounding = tol * max(1.0, float(np.max(np.abs(jac) @ np.abs(x))))
        if np.all(relative | (size <= tol) & (residual <= rounding)):
            return converged(f"each Newton step from x is <= tol * |x + step| (or <= tol with "
                             f"max |f(x)| within f's rounding): largest {step_norm:.3g}, "
                             f"max |f(x)| = {residual:.3g}")
        if nit >= max_iter:
            break
        x = x + step
        nit += 1
        path.append(x.copy())
    result = RootResult(x=_shaped(x, shape), fun=_shaped(value, shape), residual=residual,
                        nit=nit, nfev=nit + 1, success=False, jac=jac,
                        message=f"did not converge in {max_iter} iterations",
                        path=np.array([p.reshape(shape) for p in path]),
                        residuals=np.array(residuals))
    tail = ", ".join(f"{r:.3g}" for r in residuals[-4:])
    ratios = [b / a for a, b in zip(steps[-3:], steps[-2:]) if a > 0]
    slow = (len(ratios) == 2 and all(0.2 < r < 1.0 for r in ratios)
            and abs(ratios[0] - ratios[1]) < 0.05)
    why_not = (f"each step about {ratios[-1]:.2f} of the last: Newton converges only linearly "
               "near a root where the Jacobian is singular (a multiple root, such as x^2 = 0); "
               "raise max_iter or tol" if slow else
               "Newton may be cycling or diverging from this start: try another x0")
    raise ConvergenceError(
        f"{what}: no root found in max_iter={max_iter} iterations: the last Newton step "
        f"{step_norm:.3g} > tol * |x| with tol = {tol:g}, max |f(x)| = {residual:.3g} at "
        f"x = {_fmt(_shaped(x, shape))} (last residuals: {tail}; {why_not}). The iterates are "
        "in the exception's .result.path", result)


# A condition number beyond 1 / sqrt(eps): J is singular to half the digits, as at a root where
# J is singular (Newton converges only linearly there, halving the error per step).
_NEARLY_SINGULAR = 1.0 / np.sqrt(_EPS)


def _newton_step(jac: np.ndarray, value: np.ndarray) -> tuple[np.ndarray | None, float]:
    """(-J^-1 f, or None where J is singular; J's condition number). The condition is that of J
    with its rows and columns scaled to a largest entry of 1: a system whose equations or
    unknowns differ in scale by many orders (J = diag(1e8, 1e-8)) is not singular."""
    if not jac.size:
        return -value, 1.0
    rows = np.max(np.abs(jac), axis=1, keepdims=True)
    if not rows.all():
        return None, np.inf
    scaled = jac / rows
    columns = np.max(np.abs(scaled), axis=0, keepdims=True)
    if not columns.all():
        return None, np.inf
    scaled /= columns
    condition = float(np.linalg.cond(scaled))
    if not condition <= 1.0 / (_EPS * jac.shape[0]):  # (NaN too)
        return None, condition
    # J = diag(rows) S diag(columns): J s = -f is S (columns s) = -f / rows
    return -np.linalg.solve(scaled, value / rows[:, 0]) / columns[0], condition


def newton_raphson(f: Callable[[Tensor], Tensor], x0: Any, tol: float = 1e-10,
                   max_iter: int = 100) -> RootResult:
    """A root of ``f`` by Newton-Raphson: x <- x - J(x)^-1 f(x), J by reverse mode.

    ``f`` takes a Tensor shaped like ``x0`` (a number or 1-D array) and returns a Tensor with
    as many elements. Returns a :class:`RootResult` (``.x``, ``.nit``, ``.path``, ...).

    Raises :class:`SingularJacobianError` (naming the iteration and the point) where J is
    singular, and :class:`ConvergenceError` (with the last residual, and the iterates in
    ``.result``) when there is no convergence in ``max_iter`` iterations: never a silent wrong
    root.
    """
    _check_stopping(tol, max_iter, "newton_raphson")
    x, shape = _start(x0, "newton_raphson")
    return _newton_iterate(_wrap(f, shape, "newton_raphson"), x, tol, max_iter,
                           "newton_raphson", shape)
