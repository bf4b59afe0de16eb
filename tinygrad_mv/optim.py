"""Optimizers: SGD (momentum, Nesterov, weight decay), Adam and a Newton-Raphson step.

SGD and Adam follow ``torch.optim``'s update rules exactly (same order of operations, same
defaults); the arithmetic of each is a function on arrays (:func:`momentum_update`,
:func:`adam_update`), which ``tg.optimize.minimize`` uses too. Updates are written into
``p.data`` in place, as PyTorch's, so an array held elsewhere (``w = p.data``) stays current;
each write is noted in the version log, so a retained graph that saved the old values refuses a
second backward instead of mixing old and new weights. Gradients (``p.grad``) are read, never
modified.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from . import autograd, versions
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "Newton", "momentum_update", "adam_update"]


def _check_number(name: str, value: Any, what: str, low: float = 0.0,
                  high: float | None = None, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: {name} must be a number, got {type(value).__name__}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if not math.isfinite(value) or too_low or (high is not None and value >= high):
        bound = f"in [{low}, {high})" if high is not None else (
            f"> {low}" if low_open else f">= {low}")
        raise ValueError(f"{what}: {name} must be {bound}, got {value}")
    return value


def _subtract_in_place(p: Tensor, update: np.ndarray) -> None:
    """``p.data -= update``, written into the parameter's own array."""
    np.subtract(p._data, update, out=p._data, casting="same_kind")
    versions.note_write(p._data)


def momentum_update(g: np.ndarray, buf: np.ndarray | None, momentum: float,
                    dampening: float = 0.0,
                    nesterov: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``torch.optim.SGD``'s momentum for the gradient ``g``: (the direction d, the buffer).

    The buffer is a copy of ``g`` on the first step (``buf=None``), afterwards ``buf`` updated in
    place to momentum * buf + (1 - dampening) * g; d is that buffer, or g + momentum * buf with
    Nesterov's correction. The parameter then moves by -lr * d.
    """
    if buf is None:
        buf = np.array(g, copy=True)
    else:
        buf *= momentum
        buf += (1 - dampening) * g
    return (g + momentum * buf if nesterov else buf), buf


def adam_update(g: np.ndarray, m: np.ndarray, v: np.ndarray, t: int, lr: float,
                betas: tuple[float, float], eps: float) -> np.ndarray:
    """``torch.optim.Adam``'s update u (the parameter moves by -u) for the gradient ``g`` at
    step ``t`` (1, 2, ...), updating the moment estimates ``m`` and ``v`` in place."""
    beta1, beta2 = betas
    weight = 1 - beta1
    if weight < 0.5:  # torch's lerp(m, g, weight), by its formula for small weights
        m += weight * (g - m)
    else:  # ... and for the others, g + (weight - 1)(g - m), with weight in m's dtype
        d = g - m
        d *= m.dtype.type(weight) - 1
        np.add(g, d, out=m, casting="same_kind")
    v *= beta2
    v += (1 - beta2) * (g * g)
    step_size = lr / (1 - beta1 ** t)
    denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t)
    denom += eps
    return step_size * (m / denom)


def _gradient(p: Tensor, i: int, what: str) -> np.ndarray | None:
    """``p.grad``'s array, or None. An assigned ``.grad`` that is not a Tensor of ``p``'s shape is
    refused (PyTorch refuses the assignment): NumPy would broadcast a (1,) gradient over every
    entry of ``p`` and take a wrong step without a word."""
    grad = p.grad
    if grad is None:
        return None
    if not isinstance(grad, Tensor):
        raise TypeError(f"{what}.step: parameter {i} has a .grad of type {type(grad).__name__}; "
                        "a gradient must be a Tensor (or None)")
    if grad.shape != p.shape:
        raise RuntimeError(f"{what}.step: parameter {i} of shape {p.shape} has a .grad of shape "
                           f"{grad.shape}; a gradient must have its parameter's shape")
    return grad._data


def _clear_grads(params: Iterable[Tensor], set_to_none: bool) -> None:
    """``zero_grad`` of optimizers and modules."""
    if not isinstance(set_to_none, (bool, np.bool_)):
        raise TypeError(f"zero_grad: set_to_none must be True or False, got {set_to_none!r}")
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        else:  # a new array: the old gradient may be an array that something else holds
            p.grad = Tensor(np.zeros_like(p.grad.data))


class Optimizer:
    """Holds the parameters and the per-parameter state (``state[i]`` for parameter i).

    As in PyTorch, parameters with ``requires_grad=False`` (frozen) are accepted and, having no
    gradient, left alone by ``step()``.
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors (e.g. "
                            "model.parameters() or [w, b]), got a single Tensor")
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is computed from "
                                 "other tensors; only leaf Tensors can be optimized")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears twice")
            seen.add(id(p))
        self.lr = _check_number("lr", lr, name)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the parameters' gradients: ``.grad = None`` (PyTorch's default), or with
        ``set_to_none=False`` a gradient of zeros (one that was None stays None), as PyTorch."""
        _clear_grads(self.params, set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``::

        g = grad + weight_decay * p
        buf = g (first step), else momentum * buf + (1 - dampening) * g     (if momentum != 0)
        g = g + momentum * buf (nesterov) or buf
        p = p - lr * g
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0,
                 dampening: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = _check_number("momentum", momentum, "SGD")
        self.weight_decay = _check_number("weight_decay", weight_decay, "SGD")
        self.dampening = _check_number("dampening", dampening, "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        lr, momentum, decay = self.lr, self.momentum, self.weight_decay
        if momentum == 0 and decay == 0:
            # Plain steepest descent, the common case: one new array per parameter.
            for i, p in enumerate(self.params):
                grad = _gradient(p, i, "SGD")
                if grad is not None:
                    _subtract_in_place(p, grad * lr)
            return loss
        for i, (p, state) in enumerate(zip(self.params, self.state)):
            g = _gradient(p, i, "SGD")
            if g is None:
                continue
            if decay != 0:
                g = g + decay * p._data
            if momentum != 0:
                g, state["momentum_buffer"] = momentum_update(
                    g, state.get("momentum_buffer"), momentum, self.dampening, self.nesterov)
            _subtract_in_place(p, lr * g)
        return loss


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (without amsgrad)::

        g = grad + weight_decay * p;  t += 1
        m = m + (1 - beta1) (g - m);  v = beta2 v + (1 - beta2) g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_check_number("betas[0]", betas[0], "Adam", high=1.0),
                      _check_number("betas[1]", betas[1], "Adam", high=1.0))
        self.eps = _check_number("eps", eps, "Adam")
        self.weight_decay = _check_number("weight_decay", weight_decay, "Adam")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with autograd.enable_grad():
                loss = closure()
        for i, (p, state) in enumerate(zip(self.params, self.state)):
            g = _gradient(p, i, "Adam")
            if g is None:
                continue
            if self.weight_decay != 0:
                g = g + self.weight_decay * p._data
            if not state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p._data)
                state["exp_avg_sq"] = np.zeros_like(p._data)
            state["step"] += 1
            _subtract_in_place(p, adam_update(g, state["exp_avg"], state["exp_avg_sq"],
                                              state["step"], self.lr, self.betas, self.eps))
        return loss


class Newton(Optimizer):
    """Newton-Raphson steps ``p <- p - lr * (H + damping I)^-1 g`` over all parameters flattened
    into one vector, for models with few parameters (the Hessian has n^2 entries and costs n
    reverse passes).

    ``step(closure)``: ``closure()`` evaluates the loss (a one-element Tensor) with grad enabled;
    the gradient and the Hessian are taken from it here, with ``create_graph``. A closure
    written for PyTorch's LBFGS, which calls ``zero_grad()`` and ``loss.backward()`` itself,
    works too: inside it backward keeps the graph. Newton itself leaves ``.grad`` untouched.

    When ``H + damping I`` is not positive definite (a saddle or a maximum, where the Newton
    direction would climb) or the step is not finite, a plain gradient step
    ``p <- p - fallback_lr * g`` is taken instead. ``last_step`` says which ("newton" or
    "gradient"); ``last_loss`` holds the loss before the step.
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1.0, damping: float = 0.0,
                 fallback_lr: float = 1e-3, max_params: int = 2000) -> None:
        super().__init__(params, lr)
        self.damping = _check_number("damping", damping, "Newton")
        self.fallback_lr = _check_number("fallback_lr", fallback_lr, "Newton")
        for i, p in enumerate(self.params):
            if not p.requires_grad:
                raise ValueError(f"Newton: parameter {i} (shape {p.shape}) does not require "
                                 "grad; pass only the parameters to optimize")
        self.sizes = [p.size for p in self.params]
        total = sum(self.sizes)
        if total > max_params:
            raise ValueError(f"Newton: {total} parameters would need a {total}x{total} Hessian; "
                             f"this optimizer is for small models (max_params={max_params})")
        self.last_step: str | None = None
        self.last_loss: float | None = None

    def gradient_and_hessian(self, closure: Callable[[], Any]) -> tuple[Tensor, np.ndarray,
                                                                         np.ndarray]:
        """(loss, gradient g of shape (n,), Hessian H of shape (n, n)) over the flattened
        parameters, at their current values."""
        token = autograd.keep_graphs.set(True)
        try:
            with autograd.enable_grad():
                loss = closure()
        finally:
            autograd.keep_graphs.reset(token)
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise TypeError("Newton.step: closure() must return the loss as a one-element Tensor, "
                            f"got {type(loss).__name__}"
                            + (f" of shape {loss.shape}" if isinstance(loss, Tensor) else ""))
        n = sum(self.sizes)
        if not loss.requires_grad:
            return loss, np.zeros(n), np.zeros((n, n))
        try:
            with autograd.enable_grad():
                grads = autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
        except RuntimeError as exc:
            if "retain_graph" in str(exc):
                raise RuntimeError("Newton.step: the loss graph was already freed (by a "
                                   "backward(retain_graph=False) in closure()); return the loss "
                                   "without freeing its graph") from exc
            raise
        flat_grad = np.concatenate([
            np.zeros(p.size) if g is None else np.asarray(g._data, dtype=np.float64).ravel()
            for p, g in zip(self.params, grads)])
        # The gradient pieces that still depend on the parameters (not constant ones).
        live = [(k, g) for k, g in enumerate(grads) if g is not None and g.requires_grad]
        hessian = np.zeros((n, n))
        if live:
            offsets = np.concatenate([[0], np.cumsum(self.sizes)])
            for i in range(n):
                seeds = []
                for k, g in live:
                    seed = np.zeros(g.size, dtype=g.dtype)
                    if offsets[k] <= i < offsets[k + 1]:
                        seed[i - offsets[k]] = 1.0
                    seeds.append(seed.reshape(g.shape))
                row = autograd.grad([g for _, g in live], self.params, grad_outputs=seeds,
                                    retain_graph=True, allow_unused=True)
                hessian[i] = np.concatenate([
                    np.zeros(p.size) if r is None else np.asarray(r._data, dtype=np.float64).ravel()
                    for p, r in zip(self.params, row)])
            hessian = 0.5 * (hessian + hessian.T)  # symmetric up to rounding
        return loss, flat_grad, hessian

    def step(self, closure: Callable[[], Any] | None = None) -> Tensor:
        """One Newton-Raphson step (see the class docstring); returns the loss before it."""
        if closure is None:
            raise TypeError("Newton.step needs a closure: step(lambda: loss_fn(model(x), y))")
        loss, g, h = self.gradient_and_hessian(closure)
        self.last_loss = float(loss.item())
        n = g.size
        direction = None
        try:
            chol = np.linalg.cholesky(h + self.damping * np.eye(n))
            direction = np.linalg.solve(chol.T, np.linalg.solve(chol, g))
            if not np.all(np.isfinite(direction)):
                direction = None
        except np.linalg.LinAlgError:
            direction = None
        if direction is None:
            self.last_step = "gradient"
            update = self.fallback_lr * g
        else:
            self.last_step = "newton"
            update = self.lr * direction
        start = 0
        for p, size in zip(self.params, self.sizes):
            piece = update[start:start + size].reshape(p.shape)
            _subtract_in_place(p, piece)
            start += size
        return loss
