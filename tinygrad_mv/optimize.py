"""The course's methods on reverse-mode derivatives: Newton-Raphson, gradient descent and its
relatives, Lagrange multipliers and chi-squared fitting.

Every derivative here comes from the transforms in :mod:`tinygrad_mv.functional` (``vjp``,
``grad``, ``jacobian``, ``hvp``); nothing is differentiated by hand or by finite differences.

- :func:`newton_raphson` finds a root of f: R^n -> R^n (n = 1 included).
- :func:`minimize` minimises a scalar f by "gd", "momentum", "adam" or "newton".
- :func:`lagrange` finds a stationary point of f subject to g_i(x) = 0 by Newton-Raphson on the
  gradient of the Lagrangian L(x, lambda) = f(x) - sum_i lambda_i g_i(x), so that at the answer
  grad f = sum_i lambda_i grad g_i.
- :func:`least_squares_fit` minimises chi^2 = sum(((y - model(x, p)) / sigma)^2).

Every result is a plain object with a readable ``repr`` and the whole path of iterates in
``.path`` (from the start to ``.x``), for plotting.
"""
from __future__ import annotations

import functools
import math
import warnings
import weakref
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from . import autograd, functional, tracing
from .ops import reshape, stack
from .tensor import Tensor

__all__ = ["newton_raphson", "minimize", "lagrange", "least_squares_fit", "RootResult",
           "MinimizeResult", "LagrangeResult", "FitResult", "ConvergenceError",
           "ConvergenceWarning", "SingularJacobianError"]

_EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------------------------
# Errors and results
# ---------------------------------------------------------------------------------------------
class SingularJacobianError(np.linalg.LinAlgError):
    """The Jacobian (or Hessian) of a Newton step is singular: the step is not defined."""


class ConvergenceError(RuntimeError):
    """An iteration stopped without converging; ``.result`` holds everything it computed."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class ConvergenceWarning(UserWarning):
    """A fit stopped without converging; its result has ``success=False``."""


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        if value.size > 12:
            return f"<array of shape {value.shape}>"
        return np.array2string(value, precision=10, separator=", ", max_line_width=90)
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value)


class _Result:
    """Attributes plus a readable repr: the headline first, then one field per line."""

    _shown: tuple[str, ...] = ()

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        width = max(len(name) for name in self._shown)
        for name in self._shown:
            lines.append(f"  {name.ljust(width)} = {_short(getattr(self, name, None))},")
        lines.append(f"  {'path'.ljust(width)} = <{len(self.path)} iterates>,")
        lines.append(f"  {'message'.ljust(width)} = {self.message!r})")
        return "\n".join(lines)


class RootResult(_Result):
    """``newton_raphson``'s answer: ``.x`` (float for a scalar start), ``.fun`` = f(x),
    ``.residual`` = max |f(x)|, ``.nit``, ``.nfev``, ``.success``, ``.message``, ``.jac``
    (the Jacobian at ``.x``), ``.path`` (iterates from x0 to x) and ``.residuals`` (max |f| at
    each iterate)."""

    _shown = ("success", "x", "fun", "residual", "nit", "nfev")


class MinimizeResult(_Result):
    """``minimize``'s answer: ``.x``, ``.fun``, ``.grad``, ``.nit``, ``.nfev``, ``.success``,
    ``.message``, ``.method``, ``.lr`` (the step size used, when there is one), ``.path`` (every
    iterate from x0 to x) and ``.values`` (f at each iterate)."""

    _shown = ("success", "method", "x", "fun", "grad", "nit", "nfev")


class LagrangeResult(_Result):
    """``lagrange``'s answer: ``.x``, ``.multipliers`` (grad f = sum lambda_i grad g_i),
    ``.fun`` = f(x), ``.constraints`` = g(x), ``.grad_f``, ``.grad_g`` (rows: grad g_i),
    ``.kkt_residual`` = max |grad L|, ``.kind`` ("minimum", "maximum", "saddle", "degenerate"
    or "isolated", from the Hessian of L on the constraints' tangent space), ``.nit``,
    ``.success``, ``.message``, ``.path`` (x iterates) and ``.multiplier_path``."""

    _shown = ("success", "x", "multipliers", "fun", "kind", "kkt_residual", "nit")


class FitResult(_Result):
    """``least_squares_fit``'s answer: ``.params``, ``.errors`` (sqrt of the covariance's
    diagonal), ``.covariance``, ``.chi2``, ``.reduced_chi2``, ``.dof``, ``.nit``, ``.nfev``
    (model evaluations), ``.njev`` (of which with a Jacobian), ``.jacobian_mode``, ``.method``,
    ``.success``, ``.message``, ``.path`` (parameters at each iterate), ``.chi2_path``,
    ``.residuals`` ((y - model) / sigma at the optimum) and ``.jac`` (d model / d p there)."""

    _shown = ("success", "method", "params", "errors", "chi2", "reduced_chi2", "dof", "nit",
              "nfev", "njev")


# ---------------------------------------------------------------------------------------------
# Shared plumbing
# ---------------------------------------------------------------------------------------------
def _start(x0: Any, what: str, name: str = "x0") -> tuple[np.ndarray, tuple[int, ...]]:
    """x0 (called ``name`` in errors) as a flat float64 vector, and the shape f expects."""
    try:
        arr = np.array(x0.data if isinstance(x0, Tensor) else x0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: {name} must be a number or an array of numbers, got "
                        f"{type(x0).__name__}: {exc}") from exc
    if arr.ndim > 1:
        raise ValueError(f"{what}: {name} must be a number or a 1-D array, got shape "
                         f"{arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what}: {name} is empty")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: {name} contains NaN or infinity: {arr}")
    return arr.reshape(-1), arr.shape


def _shaped(x: np.ndarray, shape: tuple[int, ...]) -> Any:
    """A flat iterate in the user's shape: a float for a scalar start."""
    return float(x[0]) if shape == () else x.reshape(shape).copy()


def _check_stopping(tol: Any, max_iter: Any, what: str) -> None:
    """Refuse tolerances and iteration limits that would silently never stop or never start."""
    if not isinstance(tol, (int, float, np.floating, np.integer)) or not tol >= 0:
        raise ValueError(f"{what}: tol must be a number >= 0, got {tol!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"{what}: max_iter must be an integer >= 0, got {max_iter!r}")


def _wrap(f: Callable, shape: tuple[int, ...], what: str) -> Callable[[Tensor], Tensor]:
    """f as a function of a flat Tensor, checking that it returns a Tensor."""
    if not callable(f):
        raise TypeError(f"{what}: f must be a callable taking a Tensor, got {type(f).__name__}")
    def flat(v: Tensor) -> Tensor:
        out = f(reshape(v, shape))
        if not isinstance(out, Tensor):
            raise TypeError(f"{what}: f must return a Tensor built with tinygrad_mv operations "
                            f"(so it can be differentiated), got {type(out).__name__}")
        return out
    return flat


def _value(fun: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    """f(x) with nothing recorded."""
    with autograd.no_grad():
        return np.asarray(fun(Tensor(x)).data, dtype=np.float64).reshape(-1)


def _trial_value(fun: Callable[[Tensor], Tensor], x: np.ndarray) -> float:
    """A scalar f at a trial point of a line search: overflow there only means "too far"."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        value = _value(fun, x)
    return float(value[0]) if np.isfinite(value).all() else np.inf


def _value_and_jacobian(fun: Callable[[Tensor], Tensor],
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(x) flattened, the m x n Jacobian) from one evaluation of f and one reverse pass per
    output: rows of J are vector-Jacobian products with the unit vectors."""
    out, vjp_fn = functional.vjp(fun, x)
    return np.asarray(out.data, dtype=np.float64).reshape(-1), _jacobian_rows(out, vjp_fn, x.size)


def _jacobian_rows(out: Tensor, vjp_fn: Callable, n: int) -> np.ndarray:
    """The m x n Jacobian of ``out`` row by row: vector-Jacobian products with unit vectors."""
    jac = np.empty((out.size, n))
    seed = np.zeros(out.size, dtype=out.dtype)
    for i in range(out.size):
        seed[i] = 1.0
        jac[i] = vjp_fn(seed.reshape(out.shape))[0].data.reshape(-1)
        seed[i] = 0.0
    return jac


def _fmt(x: np.ndarray) -> str:
    return np.array2string(np.asarray(x), precision=6, separator=", ", threshold=8)


# ---------------------------------------------------------------------------------------------
# Newton-Raphson
# ---------------------------------------------------------------------------------------------
def _newton_iterate(fun: Callable[[Tensor], Tensor], x: np.ndarray, tol: float, max_iter: int,
                    what: str, shape: tuple[int, ...]) -> RootResult:
    """Newton-Raphson on a flat square system; raises on a singular Jacobian or non-convergence.

    Converged when max |f(x)| <= tol, or when the Newton step is at most tol * (1 + |x|) (then x
    is within about that distance of a simple root, whatever the scale of f)."""
    path, residuals = [x.copy()], []
    step_norm = np.inf
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
        small_step = step_norm <= tol * (1.0 + float(np.max(np.abs(x))))
        if residual <= tol or small_step:
            why = (f"max |f(x)| = {residual:.3g} <= tol = {tol:g}" if residual <= tol else
                   f"the last step {step_norm:.3g} <= tol * (1 + |x|) (max |f(x)| = "
                   f"{residual:.3g})")
            return RootResult(x=_shaped(x, shape), fun=_shaped(value, shape), residual=residual,
                              nit=nit, nfev=nit + 1, success=True, jac=jac,
                              message=f"converged after {nit} iteration(s): {why}",
                              path=np.array([p.reshape(shape) for p in path]),
                              residuals=np.array(residuals))
        if nit >= max_iter:
            break
        if jac.shape[0] and np.linalg.cond(jac) > 1.0 / (_EPS * jac.shape[0]):
            detail = (f"f'(x) = {jac[0, 0]:.3g}" if jac.size == 1 else
                      f"condition number {np.linalg.cond(jac):.3g}, J = {_fmt(jac)}")
            raise SingularJacobianError(
                f"{what}: the Jacobian is singular at iteration {nit}, x = "
                f"{_fmt(_shaped(x, shape))} ({detail}; f = {_fmt(value)}): the Newton step is "
                "undefined there; start elsewhere")
        step = -np.linalg.solve(jac, value)
        step_norm = float(np.max(np.abs(step)))
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
        f"{what}: no root found in max_iter={max_iter} iterations: the last residual "
        f"max |f(x)| = {residual:.3g} > tol = {tol:g} at x = {_fmt(_shaped(x, shape))} (last "
        f"residuals: {tail}; "
        "Newton may be cycling or diverging from this start: try another x0). The iterates are "
        "in the exception's .result.path", result)


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


# ---------------------------------------------------------------------------------------------
# Minimisation
# ---------------------------------------------------------------------------------------------
_METHODS = ("gd", "momentum", "adam", "newton")


def _largest_curvature(fun: Callable[[Tensor], Tensor], x: np.ndarray, iters: int = 20) -> float:
    """|largest eigenvalue| of the Hessian at x by power iteration on Hessian-vector products
    (the Hessian itself is never formed)."""
    v = np.random.default_rng(0).standard_normal(x.size)
    v /= np.linalg.norm(v)
    estimate = 0.0
    for _ in range(iters):
        hv = functional.hvp(lambda t: fun(t).reshape(()), (x,), (v,)).data.reshape(-1)
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
    if lr is not None and not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"minimize: lr must be a positive number, got {lr!r}")
    _check_stopping(tol, max_iter, "minimize")
    x, shape = _start(x0, "minimize")
    fun = _wrap(f, shape, "minimize")

    def scalar(v: Tensor) -> Tensor:
        out = fun(v)
        if out.size != 1:
            raise ValueError(f"minimize: f must return a single element, but its output has "
                             f"shape {out.shape}")
        return out.reshape(())

    value_and_grad = functional.value_and_grad(scalar)

    def evaluate(point: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(point)
        return float(value.data), np.asarray(grad.data, dtype=np.float64).reshape(-1)

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
            state["velocity"] = momentum * state["velocity"] + grad
            x = x - lr * state["velocity"]
        else:  # adam
            b1, b2 = betas
            state["m"] = b1 * state["m"] + (1 - b1) * grad
            state["v"] = b2 * state["v"] + (1 - b2) * grad * grad
            m_hat = state["m"] / (1 - b1 ** (nit + 1))
            v_hat = state["v"] / (1 - b2 ** (nit + 1))
            x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
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
# Lagrange multipliers
# ---------------------------------------------------------------------------------------------
def _constraint_function(constraints: Any) -> Callable[[Tensor], Tensor]:
    """One function x -> Tensor of the m constraint values g_i(x), from a callable (returning
    one or several values) or a sequence of callables (each returning one value)."""
    if callable(constraints):
        funcs = [constraints]
    elif isinstance(constraints, (list, tuple)) and constraints and all(
            callable(c) for c in constraints):
        funcs = list(constraints)
    else:
        raise TypeError("lagrange: constraints must be a function g(x) (returning a Tensor of "
                        "the values that must be 0) or a non-empty list of such functions, "
                        f"got {type(constraints).__name__}")

    def values(x: Tensor) -> Tensor:
        parts = []
        for i, g in enumerate(funcs):
            out = g(x)
            if not isinstance(out, Tensor):
                raise TypeError(f"lagrange: constraint {i} must return a Tensor built with "
                                f"tinygrad_mv operations, got {type(out).__name__}")
            parts.append(out.reshape(-1))
        return parts[0] if len(parts) == 1 else _concat(parts)
    return values


def _concat(parts: Sequence[Tensor]) -> Tensor:
    from .ops import concatenate
    return concatenate(list(parts), axis=0)


def _classify(hess_l: np.ndarray, jac_g: np.ndarray) -> str:
    """Nature of a constrained stationary point from the Hessian of L projected onto the null
    space of the constraints' Jacobian (the directions that keep g = 0 to first order)."""
    _, sv, vt = np.linalg.svd(jac_g)
    rank = int(np.sum(sv > max(jac_g.shape) * _EPS * (sv[0] if sv.size else 1.0)))
    basis = vt[rank:].T
    if basis.shape[1] == 0:
        return "isolated"
    reduced = basis.T @ (0.5 * (hess_l + hess_l.T)) @ basis
    eig = np.linalg.eigvalsh(reduced)
    scale = max(float(np.max(np.abs(hess_l))), 1.0)
    if np.any(np.abs(eig) <= 1e-8 * scale):
        return "degenerate"
    if np.all(eig > 0):
        return "minimum"
    if np.all(eig < 0):
        return "maximum"
    return "saddle"


def lagrange(f: Callable[[Tensor], Tensor], constraints: Any, x0: Any,
             multipliers: Any = None, tol: float = 1e-10, max_iter: int = 100) -> LagrangeResult:
    """A stationary point of ``f`` subject to ``g_i(x) = 0``: Newton-Raphson on the gradient of
    the Lagrangian L(x, lambda) = f(x) - sum_i lambda_i g_i(x) with respect to (x, lambda),
    whose Jacobian (the bordered Hessian) comes from reverse mode over reverse mode.

    ``constraints`` is a function returning a Tensor of the values that must vanish, or a list
    of such functions. ``multipliers`` is the starting lambda (by default the least-squares
    solution of grad f = J_g^T lambda at x0). Which stationary point is found depends on x0;
    ``.kind`` says whether it is a constrained minimum, maximum or saddle.
    Raises like :func:`newton_raphson` (singular bordered Hessian, non-convergence).
    """
    _check_stopping(tol, max_iter, "lagrange")
    x, shape = _start(x0, "lagrange")
    n = x.size
    wrapped = _wrap(f, shape, "lagrange")

    def fun(v: Tensor) -> Tensor:
        out = wrapped(v)
        if out.size != 1:
            raise ValueError(f"lagrange: f must return a single element, but its output has "
                             f"shape {out.shape}")
        return out
    cons = _constraint_function(constraints)

    def constraint_values(v: Tensor) -> Tensor:
        return cons(reshape(v, shape))

    g0, jac_g0 = _value_and_jacobian(constraint_values, x)
    m = g0.size
    if m == 0:
        raise ValueError("lagrange: the constraints returned no values")
    if m > n:
        raise ValueError(f"lagrange: {m} constraints on {n} unknown(s): at most {n} independent "
                         "equality constraints are possible")
    grad_f0 = functional.grad(lambda v: fun(v).reshape(()))(x).data.reshape(-1)
    if multipliers is None:
        lam = np.linalg.lstsq(jac_g0.T, grad_f0, rcond=None)[0]
    else:
        lam = np.array(multipliers, dtype=np.float64).reshape(-1)
        if lam.size != m:
            raise ValueError(f"lagrange: {lam.size} starting multiplier(s) given for {m} "
                             "constraint(s)")

    def lagrangian(z: Tensor) -> Tensor:
        xs, lams = z[:n], z[n:]
        return fun(xs).reshape(()) - (lams * constraint_values(xs)).sum()

    kkt = functional.grad(lagrangian)
    root = _newton_iterate(kkt, np.concatenate([x, lam]), tol, max_iter, "lagrange",
                           (n + m,))
    z = np.asarray(root.x)
    x_opt, lam_opt = z[:n], z[n:]
    g_val, jac_g = _value_and_jacobian(constraint_values, x_opt)
    grad_f = functional.grad(lambda v: fun(v).reshape(()))(x_opt).data.reshape(-1)
    kind = _classify(root.jac[:n, :n], jac_g)
    return LagrangeResult(
        x=_shaped(x_opt, shape), multipliers=lam_opt, fun=float(_value(fun, x_opt)[0]),
        constraints=g_val, grad_f=grad_f, grad_g=jac_g, kkt_residual=root.residual, kind=kind,
        nit=root.nit, success=True, message=root.message.replace("f(x)", "grad L"),
        path=np.array([p[:n].reshape(shape) for p in root.path]),
        multiplier_path=np.array([p[n:] for p in root.path]))


# ---------------------------------------------------------------------------------------------
# Chi-squared fitting
# ---------------------------------------------------------------------------------------------
_FIT_METHODS = ("gauss-newton", "levenberg-marquardt", "gd")
_JACOBIAN_MODES = ("auto", "pointwise", "columns", "rows")


class _ModelPrograms:
    """What least_squares_fit evaluates, as functions of (model, x, ...); compiled per model with
    tg.jit by :func:`_compiled_model` (a fit evaluates the same computation many times)."""

    def __init__(self, model: Callable) -> None:
        self.value = tracing.jit(functools.partial(_ModelPrograms.value, model))
        self.vjp = tracing.jit(functools.partial(_ModelPrograms.vjp, model))
        self.jacobian = tracing.jit(functools.partial(_ModelPrograms.jacobian, model))

    @staticmethod
    def value(model: Callable, x: Any, p: Any) -> Any:
        return model(x, p)

    @staticmethod
    def vjp(model: Callable, x: Any, p: Any, cotangent: Any) -> tuple[Any, Any]:
        leaf = Tensor(p, requires_grad=True)
        out = model(x, leaf)
        if not isinstance(out, Tensor) or not out.requires_grad:
            return out, None
        (grads,) = autograd.grad(out, leaf, grad_outputs=cotangent, allow_unused=True)
        return out, grads

    @staticmethod
    def jacobian(model: Callable, x: Any, p: Any, rows: bool) -> tuple[Any, Any]:
        """model(x, p) and its Jacobian: one reverse pass per output element as rows (m, k),
        or, as J^T of shape (k,) + out.shape, the Jacobian of the (linear) map u -> J^T u."""
        out, vjp_fn = functional.vjp(lambda q: model(x, q), p)
        if not isinstance(out, Tensor):
            return out, None
        if rows:
            seeds = np.eye(out.size, dtype=out.dtype).reshape((out.size,) + out.shape)
            return out, stack([vjp_fn(seed)[0] for seed in seeds])
        return out, functional.jacobian(lambda u: vjp_fn(u)[0])(np.zeros(out.shape, out.dtype))


# model -> its compiled programs (None: it cannot be recorded, evaluate it eagerly)
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compiled_model(model: Callable) -> _ModelPrograms | None:
    try:
        if model not in _COMPILED:
            _COMPILED[model] = _ModelPrograms(model)
        return _COMPILED[model]
    except TypeError:  # not weak-referenceable: compile for this fit only
        return _ModelPrograms(model)


class _Model:
    """Evaluates model(x, p) and its Jacobian d model / d p, counting model evaluations.

    Jacobian strategies (all exact reverse mode):
    - "pointwise": each output element gets its own copy of the parameters (p broadcast to shape
      (k,) + y.shape), so ONE reverse pass seeded with ones gives every dy_i/dp_j. Valid when
      output i depends on the parameters only through its own copy, which holds for models that
      index p (``p[0]``) and compute elementwise in x; "auto" checks it once, at p0, against an
      ordinary vector-Jacobian product with a random cotangent, and otherwise falls back.
    - "columns": J^T u is linear in u, so the Jacobian of (u -> vjp(u)) is J^T: one evaluation,
      one recorded reverse pass and k more (k = number of parameters).
    - "rows": one reverse pass per output element (best when there are fewer outputs than
      parameters).
    """

    def __init__(self, model: Callable, x: Any, y_shape: tuple[int, ...], k: int,
                 compiled: bool = True) -> None:
        self.model, self.x, self.y_shape, self.k = model, x, y_shape, k
        self.nfev = 0
        self.njev = 0
        self.mode = "auto"
        self.eps = _EPS  # the model's precision: float32 models resolve less
        self.programs = _compiled_model(model) if compiled else None

    def _checked(self, out: Any) -> Tensor:
        if not isinstance(out, Tensor):
            raise TypeError("least_squares_fit: model(x, p) must return a Tensor built with "
                            f"tinygrad_mv operations, got {type(out).__name__}")
        if out.shape != self.y_shape:
            raise ValueError(f"least_squares_fit: model(x, p) returned shape {out.shape} but y "
                             f"has shape {self.y_shape}")
        if out.dtype.kind == "f":
            self.eps = max(self.eps, float(np.finfo(out.dtype).eps))
        return out

    def call(self, p: Tensor) -> Tensor:
        self.nfev += 1
        return self._checked(self.model(self.x, p))

    def _run(self, name: str, *args: Any) -> Any:
        """A compiled program of the model (see _compiled_model), or the same eagerly when the
        model cannot be recorded (it reads values outside tinygrad_mv operations, or takes a
        second derivative through a piecewise operation: the "columns" Jacobian)."""
        self.nfev += 1
        program = getattr(self.programs, name, None)
        if program is not None:
            try:
                return program(self.x, *args)
            except tracing.JitError:
                setattr(self.programs, name, None)  # for this model from now on
        return getattr(_ModelPrograms, name)(self.model, self.x, *args)

    def value(self, p: np.ndarray) -> np.ndarray:
        with autograd.no_grad():
            return self._checked(self._run("value", p)).data.astype(np.float64, copy=False)

    def _vjp(self, p: np.ndarray, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """model(x, p) and cotangent^T d model/dp (None when the model ignores p)."""
        with autograd.enable_grad():
            out, grads = self._run("vjp", p, cotangent)
        return self._checked(out).data.astype(np.float64, copy=False), grads

    def _pointwise(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        data = np.empty((self.k,) + self.y_shape)
        data[...] = p.reshape((self.k,) + (1,) * len(self.y_shape))
        value, grads = self._vjp(data, np.ones(self.y_shape))
        if grads is None:
            return value, np.zeros((value.size, self.k))
        return value, grads.data.reshape(self.k, -1).T.astype(np.float64, copy=False)

    def _reverse(self, p: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        with autograd.enable_grad():
            out, jac = self._run("jacobian", p, mode == "rows")
        value = self._checked(out).data.astype(np.float64, copy=False)
        if mode == "rows":
            return value, jac.data.reshape(value.size, self.k).astype(np.float64, copy=False)
        return value, jac.data.reshape(self.k, -1).T.astype(np.float64, copy=False)

    def choose(self, p: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Settle the Jacobian mode at p0 and return the value and Jacobian there."""
        if mode != "auto":
            self.mode = mode
            return self.value_and_jacobian(p)
        fallback = "rows" if int(np.prod(self.y_shape)) <= self.k else "columns"
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                value, jac = self._pointwise(p)
        except Exception:  # noqa: BLE001 - any failure just means "not pointwise"
            value = jac = None
        if value is not None:
            # the check: an ordinary VJP with a random cotangent must agree with jac^T u
            u = np.random.default_rng(12345).standard_normal(self.y_shape)
            with np.errstate(all="ignore"):
                probe_value, exact = self._vjp(p, u)
            exact = np.zeros(self.k) if exact is None else np.asarray(exact.data).reshape(-1)
            scale = np.abs(jac).T @ np.abs(u.reshape(-1)) + np.finfo(float).tiny
            same_value = np.allclose(value, probe_value, rtol=1e4 * self.eps, atol=0.0,
                                     equal_nan=False)
            agree = np.abs(jac.T @ u.reshape(-1) - exact) <= max(1e-9, 1e4 * self.eps) * scale
            if same_value and agree.all():
                self.mode = "pointwise"
                self.njev += 1
                return value, jac
        self.mode = fallback
        return self.value_and_jacobian(p)

    def value_and_jacobian(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.njev += 1
        if self.mode == "pointwise":
            return self._pointwise(p)
        return self._reverse(p, self.mode)


def _norm(vector: np.ndarray) -> float:
    """The Euclidean length of a 1-D vector (np.linalg.norm computes the same, more slowly)."""
    return math.sqrt(float(vector @ vector))


class _Chi2:
    """chi^2 = |r|^2 of model values against the data, r = (y - value) / sigma, and the test
    that ends a fit."""

    def __init__(self, y: np.ndarray, sigma: np.ndarray, dof: int, absolute_sigma: bool,
                 tol: float, eps: float = _EPS) -> None:
        self.y, self.sigma = y.reshape(-1), sigma.reshape(-1)
        self.dof, self.absolute_sigma, self.tol, self.eps = dof, absolute_sigma, tol, eps
        # what the model's precision (eps) can resolve in |A dp|: a few rounding errors of y/sigma
        self.resolution = 8.0 * eps * _norm(self.y / self.sigma)

    def residuals(self, value: np.ndarray) -> np.ndarray:
        return (self.y - value.reshape(-1)) / self.sigma

    def weighted(self, jac: np.ndarray) -> np.ndarray:
        """A = J / sigma, row by row."""
        return jac / self.sigma[:, None]

    def __call__(self, value: np.ndarray) -> float:
        r = self.residuals(value)
        total = float(r @ r)
        return total if np.isfinite(total) else np.inf

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

    def negligible(self, dp: np.ndarray, p: np.ndarray, a: np.ndarray, chi2: float) -> bool:
        """A step is negligible when every |dp_i| <= tol * |p_i|, or when it changes the fit
        by less than tol standard errors, |A dp| <= tol * noise, or by less than float64
        resolves. The last two serve parameters whose optimum is 0; the last one exact data
        with relative sigmas, where the noise itself goes to 0."""
        if (np.abs(dp) <= self.tol * np.abs(p)).all():
            return True
        return _norm(a @ dp) <= max(self.tol * self.noise(chi2), self.resolution)


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


# A step search's result: the step, and the model's value, Jacobian and chi^2 after it.
_Trial = tuple[np.ndarray, np.ndarray, np.ndarray, float]


class _Outcome(NamedTuple):
    """Where a fitting loop stopped: p, the model's value, Jacobian and chi^2 there, and why."""
    p: np.ndarray
    value: np.ndarray
    jac: np.ndarray
    chi2: float
    nit: int
    success: bool
    message: str


def _halving_search(evaluator: _Model, chi2_of: _Chi2, p: np.ndarray, gauss_newton: np.ndarray,
                    a: np.ndarray, r: np.ndarray, chi2: float) -> _Trial | None:
    """Gauss-Newton's step, halved until chi^2 decreases at a point where the Jacobian is
    finite (the next step needs it); None once the step no longer moves p. The full step is
    evaluated with its Jacobian (needed whenever it is accepted), halved ones with values only.
    A step that leaves chi^2 equal is no progress: accepting it would repeat forever."""
    dp, t = gauss_newton, 1.0
    value, jac = evaluator.value_and_jacobian(p + dp)
    new_chi2 = chi2_of(value)
    has_jac = True  # jac belongs to p + t dp
    moves = np.abs(dp) > _EPS * np.abs(p)
    for _ in range(60):
        if new_chi2 < chi2 and not has_jac:
            value, jac = evaluator.value_and_jacobian(p + t * dp)
            new_chi2, has_jac = chi2_of(value), True
        if new_chi2 < chi2 and np.isfinite(jac).all():
            return t * dp, value, jac, new_chi2
        t *= 0.5
        if not (t * np.abs(dp[moves]) > _EPS * np.abs(p[moves])).any():
            return None
        new_chi2, has_jac = chi2_of(evaluator.value(p + t * dp)), False
    return None


class _TrustRegion:
    """Levenberg-Marquardt's step search, as MINPACK does it, with its state between iterations:
    the damping, the trust radius and the scale (each parameter's largest column norm of A so
    far) the radius is measured in."""

    def __init__(self, k: int) -> None:
        self.damping, self.radius, self.scale = 0.0, None, np.zeros(k)

    def __call__(self, evaluator: _Model, chi2_of: _Chi2, p: np.ndarray,
                 gauss_newton: np.ndarray, a: np.ndarray, r: np.ndarray,
                 chi2: float) -> _Trial | None:
        normal, gradient = a.T @ a, a.T @ r
        self.scale = np.maximum(self.scale, np.sqrt(normal.diagonal()))
        scaled = np.where(self.scale > 0, self.scale, 1.0)
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
            new_chi2 = chi2_of(value)
            fitted_change = a @ dp
            fitted = float(fitted_change @ fitted_change)
            predicted = fitted + 2.0 * damping * length ** 2  # the linear model's gain
            blown_up = not (new_chi2 < 100.0 * chi2 and np.isfinite(jac).all())
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
                return dp, value, jac, new_chi2
            if self.radius <= _EPS * _norm(scaled * p):
                return None
        return None


def _column_norms(a: np.ndarray) -> np.ndarray:
    """The lengths of a's columns, 1 for zero columns: dividing by them puts parameters measured
    in different units on equal terms before an SVD's rank cut-off compares them."""
    norms = np.sqrt(np.einsum("ij,ij->j", a, a))
    norms[norms == 0] = 1.0
    return norms


def _gauss_newton_step(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The least-squares solution of a dp = r (the shortest one when a's columns are
    dependent), computed with a's columns scaled to unit length."""
    norms = _column_norms(a)
    return np.linalg.lstsq(a / norms, r, rcond=None)[0] / norms


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


def _gauss_newton_fit(evaluator: _Model, chi2_of: _Chi2, search: Callable[..., _Trial | None],
                      p: np.ndarray, value: np.ndarray, jac: np.ndarray, chi2: float,
                      max_iter: int, path: list, chi2_path: list) -> _Outcome:
    """least_squares_fit's "gauss-newton" and "levenberg-marquardt": from the Gauss-Newton step
    at p, ``search`` (:func:`_halving_search` or a :class:`_TrustRegion`) finds the next point,
    appended to ``path`` and ``chi2_path``."""
    nit = 0
    while True:
        r = chi2_of.residuals(value)
        a = chi2_of.weighted(jac)
        dp = _gauss_newton_step(a, r)  # the Gauss-Newton step: both methods test it
        if chi2_of.negligible(dp, p, a, chi2):
            return _Outcome(p, value, jac, chi2, nit, True,
                f"converged after {nit} iteration(s): the next step |dp| = {_norm(dp):.3g} is "
                "negligible")
        if nit >= max_iter:
            return _Outcome(p, value, jac, chi2, nit, False,
                f"stopped after max_iter={max_iter} iterations without converging (last step "
                f"|dp| = {_norm(dp):.3g})")
        trial = search(evaluator, chi2_of, p, dp, a, r, chi2)
        if trial is None:
            # converged only if what chi2's linear model still promises is below chi2's own
            # rounding error (each residual is good to about chi2_of.resolution / 8)
            gain = float(r @ r - np.sum((r - a @ dp) ** 2))
            return _Outcome(p, value, jac, chi2, nit, bool(gain <= chi2_of.rounding(chi2)),
                f"stopped at iteration {nit}: no step decreases chi2 = {chi2:.10g} any further "
                f"(the Gauss-Newton model promises {gain:.3g} more)")
        step, value, jac, chi2 = trial
        p = p + step
        nit += 1
        path.append(p.copy())
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
    frozen, so it is opt-in.
    A fit that stops without converging warns (:class:`ConvergenceWarning`), ``success=False``.
    """
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
    y_arr = np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.float64)
    if y_arr.size == 0 or not np.isfinite(y_arr).all():
        raise ValueError(f"least_squares_fit: y must be a non-empty array of finite numbers "
                         f"(shape {y_arr.shape})")
    if sigma is None:
        sig = np.ones_like(y_arr)
    else:
        sig = np.asarray(sigma.data if isinstance(sigma, Tensor) else sigma, dtype=np.float64)
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
    if not (np.isfinite(chi2) and np.isfinite(jac).all()):
        raise FloatingPointError(f"least_squares_fit: the model or its Jacobian is not finite "
                                 f"at p0 = {_fmt(p)}")
    path, chi2_path = [p.copy()], [chi2]
    moved_model = np.any(jac != 0, axis=0)  # the parameters the model depends on at p0
    if method == "gd":
        outcome = _steepest_descent_fit(evaluator, chi2_of, y_arr, sig, p, value, jac, chi2,
                                        max_iter, path, chi2_path)
    else:
        search = _halving_search if method == "gauss-newton" else _TrustRegion(k)
        outcome = _gauss_newton_fit(evaluator, chi2_of, search, p, value, jac, chi2, max_iter,
                                    path, chi2_path)
    p, value, jac, chi2, nit, success, message = outcome
    lost = np.flatnonzero(moved_model & ~np.any(jac != 0, axis=0))
    if success and lost.size:
        # e.g. a decay rate sent so far that exp(-rate x) = 0: chi2 is flat in it there
        success = False
        message = (f"stopped at iteration {nit} where the model no longer depends on "
                   f"p[{', '.join(map(str, lost))}] (a zero Jacobian column, nonzero at p0): the "
                   "fit left the region the data constrains; try a start nearer the optimum")

    covariance, undetermined = _covariance(chi2_of.weighted(jac))
    # stacklevel 3: the caller's line, past np.errstate's wrapper
    if undetermined.any():
        names = ", ".join(f"p[{i}]" for i in np.flatnonzero(undetermined))
        warnings.warn(f"least_squares_fit: the parameters are not all determined by the data: "
                      f"{names} can change without changing the model (the Jacobian's columns "
                      "are dependent); their errors and covariances are set to infinity",
                      ConvergenceWarning, stacklevel=3)
    if not absolute_sigma and dof > 0:
        covariance = np.where(undetermined[:, None] | undetermined, np.inf,
                              covariance * (chi2 / dof))
    elif not absolute_sigma:  # as curve_fit: no residual degrees of freedom to estimate sigma
        covariance = np.full((k, k), np.inf)
        if not undetermined.any():
            warnings.warn(f"least_squares_fit: {n_points} data point(s) for {k} parameter(s) "
                          "leave no degrees of freedom to estimate sigma from the residuals: "
                          "covariance set to infinity (pass sigma to take it as known)",
                          ConvergenceWarning, stacklevel=3)
    if not success:
        warnings.warn(f"least_squares_fit ({method}): {message}", ConvergenceWarning,
                      stacklevel=3)
    return FitResult(
        params=p.copy(), errors=np.sqrt(np.diag(covariance)), covariance=covariance, chi2=chi2,
        reduced_chi2=chi2 / dof if dof > 0 else np.nan, dof=dof, nit=nit, nfev=evaluator.nfev,
        njev=evaluator.njev, jacobian_mode=evaluator.mode, method=method, success=success,
        message=message, path=np.array(path), chi2_path=np.array(chi2_path),
        residuals=chi2_of.residuals(value).reshape(y_arr.shape), jac=jac)
