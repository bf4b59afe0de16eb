"""Minimisation of a scalar f: gradient descent (a fixed step or a backtracking line search),
momentum, Adam (their updates are :mod:`tinygrad_mv.optim`'s) and Newton's method."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import forward_mode, functional
from ..optim import _check_number, adam_update, momentum_update
from ..tensor import Tensor
from ._common import (MinimizeResult, _check_stopping, _fmt, _shaped, _start, _value,
                      _value_and_jacobian, _wrap_scalar)

_METHODS = ("gd", "momentum", "adam", "newton")


def _largest_curvature(fun: Callable[[Tensor], Tensor], x: np.ndarray, iters: int = 20) -> float:
    """|largest eigenvalue| of the Hessian at x by power iteration on Hessian-vector products
    (the Hessian itself is never formed)."""
    v = np.random.default_rng(0).standard_normal(x.size)
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(iters):
        hv = forward_mode.hvp(lambda t: fun(t).reshape(()), (x,), (v,)).data.reshape(-1)
        norm = float(np.linalg.norm(hv))
        if not np.isfinite(norm) or norm == 0.0:
            return estimate
        estimate, v = norm, hv / norm
    return estimate


def _descent_direction(grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, bool]:
    """The Newton direction -H^-1 g when H is positive definite; otherwise the direction with
    H's eigenvalues replaced by their absolute values (floored), which always descends."""
    try:
        chol = np.linalg.cholesky(hess)
        return -np.linalg.solve(chol.T, np.linalg.solve(chol, grad)), False
    except np.linalg.LinAlgError:
        pass
    sym = 0.5 * (hess + hess.T)
    eigval, eigvec = np.linalg.eigh(sym)
    floor = max(1e-8 * float(np.max(np.abs(eigval), initial=0.0)), 1e-12)
    return -eigvec @ ((eigvec.T @ grad) / np.maximum(np.abs(eigval), floor)), True


def _trial_value(fun: Callable[[Tensor], Tensor], x: np.ndarray) -> float:
    """A scalar f at a trial point of a line search: overflow there only means "too far"."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value = _value(fun, x)
    return float(value[0]) if np.isfinite(value).all() else np.inf


def _backtrack(fun: Callable[[Tensor], Tensor], x: np.ndarray, fx: float, grad: np.ndarray,
               direction: np.ndarray, step: float,
               max_halvings: int = 60) -> tuple[float, np.ndarray, float, int] | None:
    """Armijo backtracking: halve ``step`` until f decreases by at least 1e-4 * step * slope.
    Returns (step, new x, new f, evaluations) or None when no step decreases f."""
    slope = float(grad @ direction)
    for k in range(max_halvings):
        x_new = x + step * direction
        f_new = _trial_value(fun, x_new)
        if f_new <= fx + 1e-4 * step * slope:
            return step, x_new, f_new, k + 1
        step *= 0.5
    return None


def minimize(f: Callable[[Tensor], Tensor], x0: Any, method: str = "gd",
             lr: float | None = None, tol: float = 1e-8, max_iter: int = 1000, *,
             momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
             eps: float = 1e-8) -> MinimizeResult:
    """Minimise a scalar ``f`` (a Tensor function of a Tensor shaped like ``x0``).

    Methods (converged when max |grad f| <= ``tol``):

    - ``"gd"``: x <- x - lr grad f. With ``lr=None``, a backtracking (Armijo) line search along
      -grad f, its first trial step twice the last accepted one.
    - ``"momentum"``: heavy ball, v <- momentum v + grad f, x <- x - lr v (``torch.optim.SGD``'s
      rule). With ``lr=None``, lr = 1 / L where L is the Hessian's largest |eigenvalue| at x0,
      found by power iteration on Hessian-vector products.
    - ``"adam"``: ``torch.optim.Adam``'s rule with ``betas``, ``eps``; lr defaults to 0.01.
    - ``"newton"``: x <- x - t H^-1 grad f with the Hessian by reverse mode and a backtracking
      t (the full step t = 1 first, so a quadratic is minimised in one step). Where H is not
      positive definite it falls back to |H| (eigenvalues replaced by their absolute values), a
      direction that still descends; the message counts the fallbacks.

    A fixed-step method that produces a non-finite f stops with ``success=False`` and says so.
    """
    if method not in _METHODS:
        raise ValueError(f"minimize: unknown method {method!r}; choose one of {_METHODS}")
    if lr is not None:
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise TypeError(f"minimize: lr must be a positive number, got "
                            f"{type(lr).__name__}")
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"minimize: lr must be a positive number, got {lr!r}")
    # as torch.optim.SGD and Adam check them (a beta of 1 divides by zero in Adam's correction)
    momentum = _check_number("momentum", momentum, "minimize")
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"minimize: betas must be a pair (beta1, beta2), got {betas!r}")
    betas = (_check_number("betas[0]", betas[0], "minimize", high=1.0),
             _check_number("betas[1]", betas[1], "minimize", high=1.0))
    eps = _check_number("eps", eps, "minimize")
    _check_stopping(tol, max_iter, "minimize")
    x, shape = _start(x0, "minimize")
    scalar = _wrap_scalar(f, shape, "minimize")
    value_and_grad = functional.value_and_grad(scalar)

    def evaluate(point: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(point)
        return float(value._data), np.asarray(grad._data, dtype=np.float64).reshape(-1)

    fx, grad = evaluate(x)
    if not (np.isfinite(fx) and np.isfinite(grad).all()):
        raise FloatingPointError(f"minimize: f or its gradient is not finite at x0 = {_fmt(x)}")
    nfev = 1
    path, values = [x.copy()], [fx]
    state = {"velocity": np.zeros_like(x), "m": np.zeros_like(x), "v": np.zeros_like(x)}
    step = 1.0  # the line search's next first trial
    if method == "momentum" and lr is None:
        curvature = _largest_curvature(scalar, x)
        lr = 1.0 / curvature if curvature > 0 else 1e-3
    if method == "adam" and lr is None:
        lr = 0.01
    fallbacks = 0
    success, message, nit = False, "", 0
    while True:
        gnorm = float(np.max(np.abs(grad)))
        if gnorm <= tol:
            success = True
            message = f"converged: max |grad f| = {gnorm:.3g} <= tol = {tol:g}"
            break
        if nit >= max_iter:
            message = (f"stopped after max_iter={max_iter} iterations without converging: "
                       f"max |grad f| = {gnorm:.3g} > tol = {tol:g}")
            break
        if (method == "gd" and lr is None) or method == "newton":
            if method == "newton":
                grad, hess = _value_and_jacobian(functional.grad(scalar), x)
                nfev += 1
                direction, fell_back = _descent_direction(grad, hess)
                fallbacks += fell_back
                first = 1.0
            else:
                direction, first = -grad, step
            found = _backtrack(scalar, x, fx, grad, direction, first)
            if found is None:
                message = (f"stopped at iteration {nit}: the line search found no step that "
                           f"decreases f (max |grad f| = {gnorm:.3g}; at the limit of "
                           "floating-point precision, or the gradient is wrong)")
                break
            taken, x, _, evals = found
            nfev += evals
            step = 2.0 * taken
        elif method == "gd":
            x = x - lr * grad
        elif method == "momentum":
            direction, state["velocity"] = momentum_update(grad, state["velocity"], momentum)
            x = x - lr * direction
        else:  # adam
            x = x - adam_update(grad, state["m"], state["v"], nit + 1, lr, betas, eps)
        nit += 1
        with np.errstate(over="ignore", invalid="ignore"):
            fx, grad = evaluate(x)
        nfev += 1
        path.append(x.copy())
        values.append(fx)
        if not (np.isfinite(fx) and np.isfinite(grad).all()):
            advice = f"use a smaller lr (it was {lr:g})" if lr is not None else (
                "the gradient is not finite there")
            message = f"diverged at iteration {nit}: f = {fx} at x = {_fmt(x)}; {advice}"
            break
    if method == "newton":
        message += (f"; the Hessian was not positive definite at {fallbacks} iterate(s), where "
                    "the step used |H| instead" if fallbacks else
                    "; the Hessian was positive definite at every iterate")
    return MinimizeResult(x=_shaped(x, shape), fun=fx, grad=_shaped(grad, shape), nit=nit,
                          nfev=nfev, success=success, message=message, method=method, lr=lr,
                          path=np.array([p.reshape(shape) for p in path]),
                          values=np.array(values))


# ---------------------------------------------------------------------------------------------
