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

Modules, one per idea:

- :mod:`._common`: the errors, the result types, the argument checks and f's Jacobian, shared.
- :mod:`.roots`: ``newton_raphson``, roots of square systems by Newton-Raphson.
- :mod:`.minimization`: ``minimize`` and its methods (gd, momentum, adam, newton).
- :mod:`.constrained`: ``lagrange``, stationary points under equality constraints.
- :mod:`.least_squares`: ``least_squares_fit``, chi-squared fitting (a subpackage, one file a part).
"""
from ._common import (ConvergenceError, ConvergenceWarning, FitResult, LagrangeResult,
                      MinimizeResult, RootResult, SingularJacobianError)
from .constrained import lagrange
from .least_squares import least_squares_fit
from .minimization import minimize
from .roots import newton_raphson

__all__ = ["newton_raphson", "minimize", "lagrange", "least_squares_fit", "RootResult",
           "MinimizeResult", "LagrangeResult", "FitResult", "ConvergenceError",
           "ConvergenceWarning", "SingularJacobianError"]
