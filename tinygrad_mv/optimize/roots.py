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

    Converged when f(x) = 0, or when the Newton step from x is at most tol * (1 + |x|): then x is
    within about that distance of the root, whatever the scale of f (a residual below tol says
    nothing where f is small everywhere)."""
    path, residuals = [x.copy()], []
    nit = 0
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
        step = None if residual == 0.0 else _newton_step(jac, value)
        singular = isinstance(step, str)
        step_norm = 0.0 if step is None else np.inf if singular else float(np.max(np.abs(step)))
        if step is None or step_norm <= tol * (1.0 + float(np.max(np.abs(x)))):
            why = ("f(x) = 0" if step is None else
                   f"the Newton step from x is {step_norm:.3g} <= tol * (1 + |x|) (max |f(x)| = "
                   f"{residual:.3g})")
            return RootResult(x=_shaped(x, shape), fun=_shaped(value, shape), residual=residual,
                              nit=nit, nfev=nit + 1, success=True, jac=jac,
                              message=f"converged after {nit} iteration(s): {why}",
                              path=np.array([p.reshape(shape) for p in path]),
                              residuals=np.array(residuals))
        if nit >= max_iter:
            break
        if singular:
            detail = (f"f'(x) = {jac[0, 0]:.3g}" if jac.size == 1 else
                      f"condition number {step}, J = {_fmt(jac)}")
            raise SingularJacobianError(
                f"{what}: the Jacobian is singular at iteration {nit}, x = "
                f"{_fmt(_shaped(x, shape))} ({detail}; f = {_fmt(value)}): the Newton step is "
                "undefined there; start elsewhere")
        x = x + step
        nit += 1
        path.append(x.copy())
    result = RootResult(x=_shaped(x, shape), fun=_shaped(value, shape), residual=residual,
                        nit=nit, nfev=nit + 1, success=False, jac=jac,
                        message=f"did not converge in {max_iter} iterations",
                        path=np.array([p.reshape(shape) for p in path]),
                        residuals=np.array(residuals))
    tail = ", ".join(f"{r:.3g}" for r in residuals[-4:])
    raise ConvergenceError(
        f"{what}: no root found in max_iter={max_iter} iterations: the last Newton step "
        f"{step_norm:.3g} > tol * (1 + |x|) with tol = {tol:g}, max |f(x)| = {residual:.3g} at "
        f"x = {_fmt(_shaped(x, shape))} (last residuals: {tail}; "
        "Newton may be cycling or diverging from this start: try another x0). The iterates are "
        "in the exception's .result.path", result)


def _newton_step(jac: np.ndarray, value: np.ndarray) -> np.ndarray | str:
    """-J^-1 f, or the condition number (as text) where J is singular. The test is on J with its
    rows and columns scaled to a largest entry of 1: a system whose equations or unknowns differ
    in scale by many orders (J = diag(1e8, 1e-8)) is not singular."""
    if not jac.size:
        return -value
    rows = np.max(np.abs(jac), axis=1, keepdims=True)
    if not rows.all():
        return "inf"
    scaled = jac / rows
    columns = np.max(np.abs(scaled), axis=0, keepdims=True)
    if not columns.all():
        return "inf"
    scaled /= columns
    condition = np.linalg.cond(scaled)
    if not condition <= 1.0 / (_EPS * jac.shape[0]):  # (NaN too)
        return f"{condition:.3g}"
    # J = diag(rows) S diag(columns): J s = -f is S (columns s) = -f / rows
    return -np.linalg.solve(scaled, value / rows[:, 0]) / columns[0]


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
