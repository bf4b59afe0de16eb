"""The model of a fit and its Jacobian d model / d p by reverse mode, optionally compiled with
tg.jit, counting the model's evaluations."""
from __future__ import annotations

import functools
import math
import warnings
import weakref
from typing import Any, Callable

import numpy as np

from ... import autograd, functional, tracing
from ...ops import stack
from ...tensor import Tensor
from .._common import _EPS


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
        out, vjp_fn = functional.vjp(lambda q: _model_output(model(x, q)), p)
        if rows:
            seeds = np.eye(out.size, dtype=out.dtype).reshape((out.size,) + out.shape)
            return out, stack([vjp_fn(seed)[0] for seed in seeds])
        return out, functional.jacobian(lambda u: vjp_fn(u)[0])(np.zeros(out.shape, out.dtype))


def _model_output(out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError("least_squares_fit: model(x, p) must return a Tensor built with "
                        f"tinygrad_mv operations, got {type(out).__name__}")
    return out


@functools.lru_cache(maxsize=16)
def _probe_cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """The random cotangent that checks the "pointwise" Jacobian: always the same one, drawn once
    per shape (a new generator costs more than the check itself)."""
    return np.random.default_rng(12345).standard_normal(shape)


_TINY = float(np.finfo(np.float64).tiny)


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
        self._seen_dtype: np.dtype | None = None
        # p as a column (k, 1, ...): broadcast against y's shape for the "pointwise" Jacobian
        self._column = (k,) + (1,) * len(y_shape)
        self._wide = (k,) + tuple(y_shape)
        self._ones = np.ones(y_shape)  # the "pointwise" cotangent: copied per call, never lent
        # The compiled "pointwise" program, once it has run at this fit's signature, replayed
        # directly (see _bind): no signature look-up, no checks of a shape the recording fixed.
        self._replay: Callable[[list], Any] | None = None

    def _checked(self, out: Any) -> Tensor:
        out = _model_output(out)
        if out.shape != self.y_shape:
            raise ValueError(f"least_squares_fit: model(x, p) returned shape {out.shape} but y "
                             f"has shape {self.y_shape}")
        dtype = out.dtype
        if dtype is not self._seen_dtype:  # np.finfo once per dtype, not once per call
            self._seen_dtype = dtype
            if dtype.kind == "f":
                self.eps = max(self.eps, float(np.finfo(dtype).eps))
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
        if autograd.is_grad_enabled():  # the usual case: no context to enter
            out, grads = self._run("vjp", p, cotangent)
        else:
            with autograd.enable_grad():
                out, grads = self._run("vjp", p, cotangent)
        return self._checked(out).data.astype(np.float64, copy=False), grads

    def _pointwise(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        data = np.empty(self._wide)
        data[...] = p.reshape(self._column)
        replay = self._replay
        if replay is not None:
            # (a replay never writes into its inputs: the cotangent is lent, not copied)
            result = replay([self.x.data, data, self._ones])
            if result is not None:
                self.nfev += 1
                grads = result[1]._data
                return result[0]._data, (grads if grads.ndim == 2 else grads.reshape(self.k, -1)).T
            self._replay = None  # a Tensor the model reads changed: the full call records again
        value, grads = self._vjp(data, self._ones.copy())
        if grads is None:
            return value, np.zeros((value.size, self.k))
        if self.programs is not None and self.programs.vjp is not None:
            self._bind(data, grads)
        return value, grads._data.reshape(self.k, -1).T.astype(np.float64, copy=False)

    def _bind(self, data: np.ndarray, grads: Tensor) -> None:
        """Keep the compiled "pointwise" program's replay for the rest of the fit, where its
        results are float64 (nothing to convert) and x is an array the jit takes as is."""
        if grads.dtype != np.float64 or self._seen_dtype != np.float64:
            return
        with autograd.enable_grad():  # the mode the program was recorded in (see _vjp)
            self._replay = self.programs.vjp.replay(self.x, data, self._ones)

    def _reverse(self, p: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        with autograd.enable_grad():
            out, jac = self._run("jacobian", p, mode == "rows")
        value = self._checked(out).data.astype(np.float64, copy=False)
        if mode == "rows":
            return value, jac._data.reshape(value.size, self.k).astype(np.float64, copy=False)
        return value, jac._data.reshape(self.k, -1).T.astype(np.float64, copy=False)

    def choose(self, p: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Settle the Jacobian mode at p0 and return the value and Jacobian there."""
        if mode != "auto":
            self.mode = mode
            return self.value_and_jacobian(p)
        fallback = "rows" if math.prod(self.y_shape) <= self.k else "columns"
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                value, jac = self._pointwise(p)
        except Exception:  # noqa: BLE001 - any failure just means "not pointwise"
            value = jac = None
        if value is not None:
            # the check: an ordinary VJP with a random cotangent must agree with jac^T u
            u = _probe_cotangent(self.y_shape)
            with np.errstate(all="ignore"):
                probe_value, exact = self._vjp(p, u.copy())
            exact = np.zeros(self.k) if exact is None else np.asarray(exact._data).reshape(-1)
            # (.dot and ufunc reductions: @ and .all() cost twice their work at this size)
            u, jac_t = u.reshape(-1), jac.T
            scale = np.abs(jac_t).dot(np.abs(u)) + _TINY
            # np.allclose(value, probe_value, rtol, atol=0), without its tenfold overhead:
            # equal (infinities too) or within rtol; NaN never
            same_value = np.logical_and.reduce(
                (value == probe_value) | (np.abs(value - probe_value)
                                          <= 1e4 * self.eps * np.abs(probe_value)), axis=None)
            agree = np.abs(jac_t.dot(u) - exact) <= max(1e-9, 1e4 * self.eps) * scale
            if same_value and np.logical_and.reduce(agree):
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
