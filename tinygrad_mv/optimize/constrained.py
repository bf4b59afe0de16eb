"""Stationary points of f subject to equality constraints g_i(x) = 0, by Lagrange multipliers."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .. import functional
from ..ops import reshape
from ..tensor import Tensor
from ._common import (_EPS, LagrangeResult, _check_stopping, _shaped, _start, _value,
                      _value_and_jacobian, _wrap_scalar)
from .roots import _newton_iterate


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
    from ..ops import concatenate
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
    # Relative to the Hessian's own size: multiplying f by a constant changes no point's kind.
    scale = float(np.max(np.abs(hess_l)))
    if np.any(np.abs(eig) <= 1e-8 * scale) or scale == 0.0:
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
    fun = _wrap_scalar(f, shape, "lagrange")
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
    grad_f0 = functional.grad(fun)(x).data.reshape(-1)
    if multipliers is None:
        lam = np.linalg.lstsq(jac_g0.T, grad_f0, rcond=None)[0]
    else:
        lam = np.array(multipliers, dtype=np.float64).reshape(-1)
        if lam.size != m:
            raise ValueError(f"lagrange: {lam.size} starting multiplier(s) given for {m} "
                             "constraint(s)")

    def lagrangian(z: Tensor) -> Tensor:
        xs, lams = z[:n], z[n:]
        return fun(xs) - (lams * constraint_values(xs)).sum()

    kkt = functional.grad(lagrangian)
    root = _newton_iterate(kkt, np.concatenate([x, lam]), tol, max_iter, "lagrange",
                           (n + m,))
    z = np.asarray(root.x)
    x_opt, lam_opt = z[:n], z[n:]
    g_val, jac_g = _value_and_jacobian(constraint_values, x_opt)
    grad_f = functional.grad(fun)(x_opt).data.reshape(-1)
    kind = _classify(root.jac[:n, :n], jac_g)
    return LagrangeResult(
        x=_shaped(x_opt, shape), multipliers=lam_opt, fun=float(_value(fun, x_opt)[0]),
        constraints=g_val, grad_f=grad_f, grad_g=jac_g, kkt_residual=root.residual, kind=kind,
        nit=root.nit, success=True, message=root.message.replace("f(x)", "grad L"),
        path=np.array([p[:n].reshape(shape) for p in root.path]),
        multiplier_path=np.array([p[n:] for p in root.path]))
