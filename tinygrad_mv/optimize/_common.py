"""What every method of :mod:`tinygrad_mv.optimize` shares: its errors, its result types, the
checks of its arguments and the Jacobian of f by reverse mode."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import autograd, functional
from ..ops import reshape
from ..tensor import Tensor

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
# Argument checks, and f and its Jacobian by reverse mode
# ---------------------------------------------------------------------------------------------
def _start(x0: Any, what: str, name: str = "x0") -> tuple[np.ndarray, tuple[int, ...]]:
    """x0 (called ``name`` in errors) as a flat float64 vector, and the shape f expects."""
    try:
        arr = np.array(x0._data if isinstance(x0, Tensor) else x0, dtype=np.float64)
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


def _wrap_scalar(f: Callable, shape: tuple[int, ...], what: str) -> Callable[[Tensor], Tensor]:
    """f as a function of a flat Tensor returning a 0-d Tensor, checking that f returns a
    Tensor of a single element."""
    fun = _wrap(f, shape, what)

    def scalar(v: Tensor) -> Tensor:
        out = fun(v)
        if out.size != 1:
            raise ValueError(f"{what}: f must return a single element, but its output has "
                             f"shape {out.shape}")
        return out.reshape(())
    return scalar


def _value(fun: Callable[[Tensor], Tensor], x: np.ndarray) -> np.ndarray:
    """f(x) with nothing recorded."""
    with autograd.no_grad():
        return np.asarray(fun(Tensor(x)).data, dtype=np.float64).reshape(-1)


def _value_and_jacobian(fun: Callable[[Tensor], Tensor],
                        x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f(x) flattened, the m x n Jacobian) from one evaluation of f and one reverse pass per
    output: rows of J are vector-Jacobian products with the unit vectors."""
    out, vjp_fn = functional.vjp(fun, x)
    return np.asarray(out._data, dtype=np.float64).reshape(-1), _jacobian_rows(out, vjp_fn, x.size)


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
