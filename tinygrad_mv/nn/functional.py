"""Loss functions, each one fused primitive (one graph node with its own VJP).

A loss built from elementary operations records 3-6 nodes and as many temporary arrays; the fused
forms compute the value in one NumPy pass and the gradient in one more, which is most of a small
network's training step. The VJP rules use NumPy operators and ufuncs only, so with
``create_graph=True`` they run on Tensors and the losses are differentiable to any order.

All losses take ``(prediction, target)``. Prediction and target must have the same shape (a
silent broadcast of (N,) against (N, 1) is the classic bug, so it is refused with ``ValueError``);
cross-entropy takes logits ``(N, C)`` and integer classes ``(N,)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..autograd import Drawing, primitive
from ..tensor import Tensor

__all__ = ["mse_loss", "sse_loss", "chi_squared_loss", "binary_cross_entropy", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, name: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(prediction: Any, target: Any, name: str) -> tuple[Tensor, Tensor]:
    prediction = _as_tensor(prediction)
    target = _as_tensor(target)
    if prediction._data.shape != target._data.shape:
        raise ValueError(f"{name}: prediction of shape {prediction._data.shape} and target of "
                         f"shape {target._data.shape} differ; they must have the same shape (no "
                         "broadcasting, e.g. reshape a (N,) target to (N, 1))")
    return prediction, target


def _scalar_jvp(vjp: Any) -> Any:
    """The forward rule of a loss (one number) from its VJP, by linearity: J t = <J^T 1, t>."""
    def jvp(t: Any, out: Any, *inputs: Any, **params: Any) -> Any:
        return (vjp(1.0, out, *inputs, **params) * t).sum()
    return jvp


# --- sum of (weighted) squared errors -----------------------------------------------------------
# ``inverse_sigma`` (1 / sigma) scales each error before it is squared, as ((t - p) / sigma)^2:
# a weight 1 / sigma^2 would overflow float32 for sigma below 1e-19 where the ratio does not.
def _squared_error(p: np.ndarray, t: np.ndarray, scale: float = 1.0,
                   inverse_sigma: np.ndarray | None = None) -> np.ndarray:
    d = p - t
    if inverse_sigma is not None:
        d = d * inverse_sigma
    return np.asarray(scale * np.vdot(d, d))


def _squared_error_dp(g: Any, out: Any, p: Any, t: Any, scale: float = 1.0,
                      inverse_sigma: np.ndarray | None = None) -> Any:
    d = p - t
    if inverse_sigma is not None:
        if isinstance(d, Tensor):  # a constant of the recorded rule (tg.jit keeps it as one)
            inverse_sigma = Tensor(inverse_sigma)
        d = (d * inverse_sigma) * inverse_sigma
    factor = g * (2.0 * scale)
    if isinstance(d, np.ndarray) and not isinstance(factor, Tensor):
        d *= factor  # d is a fresh array: scale it in place
        return d
    return d * factor


def _squared_error_dt(g: Any, out: Any, p: Any, t: Any, scale: float = 1.0,
                      inverse_sigma: np.ndarray | None = None) -> Any:
    return -_squared_error_dp(g, out, p, t, scale=scale, inverse_sigma=inverse_sigma)


_squared_error_op = primitive("squared_error", _squared_error, _squared_error_dp,
                              _squared_error_dt,
                              jvps=(_scalar_jvp(_squared_error_dp), _scalar_jvp(_squared_error_dt)),
                              drawing=Drawing(roles=('prediction', 'target'),
                                              local=('2·g·({0} - {1})', '-2·g·({0} - {1})')))


def sse_loss(prediction: Any, target: Any) -> Tensor:
    """Sum of squared errors, sum((prediction - target)^2): the course's cost (divide by N for
    the cost per point)."""
    prediction, target = _pair(prediction, target, "sse_loss")
    return _squared_error_op(prediction, target)


def mse_loss(prediction: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (``reduction="mean"``, over all elements, as PyTorch) or sum of squared errors, or
    each element's (``"none"``)."""
    _check_reduction(reduction, "mse_loss")
    prediction, target = _pair(prediction, target, "mse_loss")
    if reduction == "none":  # one loss per element, from the elementary operations
        return ops.square(prediction - target)
    size = prediction._data.size
    if reduction == "mean" and size == 0:
        raise ValueError("mse_loss: the mean of an empty prediction is undefined")
    scale = 1.0 / size if reduction == "mean" else 1.0
    return _squared_error_op(prediction, target, scale=scale)


def chi_squared_loss(prediction: Any, target: Any, sigma: Any = None) -> Tensor:
    """chi^2 = sum(((target - prediction) / sigma)^2); ``sigma`` (the target's standard errors) a
    positive number or an array broadcastable to the prediction's shape; None means 1."""
    prediction, target = _pair(prediction, target, "chi_squared_loss")
    if sigma is None:
        return _squared_error_op(prediction, target)
    if isinstance(sigma, Tensor) and sigma.requires_grad:
        # Uncertainties being fitted too: the composite form differentiates through sigma.
        return (((target - prediction) / sigma) ** 2).sum()
    s = np.asarray(sigma._data if isinstance(sigma, Tensor) else sigma, dtype=np.float64)
    if not (np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError("chi_squared_loss: sigma must be positive and finite everywhere "
                         f"(got min {s.min() if s.size else 'n/a'})")
    try:
        shape = np.broadcast_shapes(s.shape, prediction._data.shape)
    except ValueError:
        shape = None
    if shape != prediction._data.shape:
        raise ValueError(f"chi_squared_loss: sigma of shape {s.shape} does not broadcast to the "
                         f"prediction's shape {prediction._data.shape}")
    inverse = (1.0 / s).astype(prediction._data.dtype, copy=False)
    return _squared_error_op(prediction, target, inverse_sigma=inverse)


# --- binary cross-entropy -------------------------------------------------------------------------
def _clamped_logs(p: Any) -> tuple[Any, Any]:
    """log(p) and log(1 - p), each clamped below at -100 as PyTorch does (finite at 0 and 1)."""
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), -100.0), np.maximum(np.log(1.0 - p), -100.0)


def _bce(p: np.ndarray, t: np.ndarray, scale: float = 1.0) -> np.ndarray:
    log_p, log_q = _clamped_logs(p)
    return np.asarray(-scale * (np.vdot(t, log_p) + np.vdot(1.0 - t, log_q)))


# PyTorch's floor for p (1 - p) in the BCE gradient: 1e-12 as a float32 constant.
_BCE_EPS = float(np.float32(1e-12))


def _bce_dp(g: Any, out: Any, p: Any, t: Any, scale: float = 1.0) -> Any:
    # PyTorch's rule: (p - t) / max(p (1 - p), eps), finite at p = 0 and p = 1.
    return (g * scale) * (p - t) / np.maximum(p * (1.0 - p), _BCE_EPS)


def _bce_dt(g: Any, out: Any, p: Any, t: Any, scale: float = 1.0) -> Any:
    log_p, log_q = _clamped_logs(p)
    return (g * scale) * (log_q - log_p)


_bce_op = primitive("binary_cross_entropy", _bce, _bce_dp, _bce_dt,
                    jvps=(_scalar_jvp(_bce_dp), _scalar_jvp(_bce_dt)),
                    drawing=Drawing(roles=('prediction', 'target')))


def _bce_each(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    log_p, log_q = _clamped_logs(p)
    return -(t * log_p + (1.0 - t) * log_q)


# Each element's loss: the same local derivatives, elementwise (so the forward rules are the
# tangent times them too), finite at p = 0 and p = 1 as PyTorch's.
_bce_each_op = primitive("binary_cross_entropy_each", _bce_each, _bce_dp, _bce_dt,
                         jvps=(_bce_dp, _bce_dt),
                         drawing=Drawing(roles=('prediction', 'target'), elementwise=True))
_bce_each_op.batching = "elementwise"


def binary_cross_entropy(prediction: Any, target: Any, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1] (logs clamped at -100, as
    PyTorch), averaged (``"mean"``, the default) or summed."""
    _check_reduction(reduction, "binary_cross_entropy")
    prediction, target = _pair(prediction, target, "binary_cross_entropy")
    for what, arr in (("prediction", prediction._data), ("target", target._data)):
        inside = (arr >= 0) & (arr <= 1)
        if not inside.all():
            bad = arr[~inside].flat[0]
            raise ValueError(f"binary_cross_entropy: every {what} value must be a probability "
                             f"in [0, 1], found {bad!r}"
                             + (" (apply a sigmoid to the model's output first)"
                                if what == "prediction" else ""))
    if reduction == "none":
        return _bce_each_op(prediction, target)
    size = prediction._data.size
    if reduction == "mean" and size == 0:
        raise ValueError("binary_cross_entropy: the mean of an empty prediction is undefined")
    scale = 1.0 / size if reduction == "mean" else 1.0
    return _bce_op(prediction, target, scale=scale)


# --- cross-entropy from logits --------------------------------------------------------------------
def _cross_entropy(x: np.ndarray, classes: np.ndarray, scale: float = 1.0) -> np.ndarray:
    with np.errstate(over="ignore"):  # a spread beyond the float range: exp(-inf) = 0
        shifted = x - x.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    picked = shifted[np.arange(len(classes)), classes]
    return np.asarray(scale * (log_norm - picked).sum())


def _cross_entropy_dx(g: Any, out: Any, x: Any, classes: np.ndarray, scale: float = 1.0) -> Any:
    rows = np.arange(len(classes))
    if isinstance(x, Tensor):  # create_graph: softmax as a recorded operation
        onehot = np.zeros(x.shape, dtype=x.dtype)
        onehot[rows, classes] = 1.0
        return (ops.softmax(x, axis=1) - Tensor(onehot)) * (g * scale)
    with np.errstate(over="ignore"):
        probs = np.exp(x - x.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[rows, classes] -= 1.0
    probs *= g * scale
    return probs


_cross_entropy_op = primitive("cross_entropy", _cross_entropy, _cross_entropy_dx,
                              jvps=(_scalar_jvp(_cross_entropy_dx),),
                              drawing=Drawing(roles=('logits', 'target')))


def _class_array(target: Any) -> np.ndarray:
    if isinstance(target, Tensor):
        # tg.tensor([0, 2, 1]) holds float64 (the contract's rule for data): whole numbers
        # in a Tensor are read as classes, as a PyTorch user's integer tensor would be
        data = target._data
        if data.dtype.kind == "f" and np.all(np.isfinite(data)) and np.all(data == np.round(data)):
            return data.astype(np.intp)
        target = data
    classes = np.asarray(target)
    if classes.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices (an integer "
                        f"array such as np.array([0, 2, 1])), got dtype {classes.dtype}"
                        + ("; convert with .astype(int)" if classes.dtype.kind == "f" else ""))
    return classes


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of unnormalised scores ``logits`` (N, C) against integer classes ``target``
    (N,) in [0, C): -log softmax(logits)[n, target[n]], averaged over N (``"mean"``, default) or
    summed. Computed through log-sum-exp, stable for any logits. A single sample may be given as
    logits (C,) with a scalar class."""
    _check_reduction(reduction, "cross_entropy")
    logits = _as_tensor(logits)
    classes = _class_array(target)
    shape = logits._data.shape
    if logits._data.ndim == 1 and classes.ndim == 0:
        logits = ops.reshape(logits, (1, shape[0]))
        classes = classes.reshape(1)
    elif logits._data.ndim != 2 or classes.shape != shape[:1]:
        raise ValueError(f"cross_entropy: logits of shape {shape} and target of shape "
                         f"{classes.shape} do not match; expected logits (N, C) with target (N,), "
                         "or logits (C,) with a scalar target")
    n, c = logits._data.shape
    if n == 0 and reduction == "mean":
        raise ValueError("cross_entropy: the mean over an empty batch is undefined")
    if c == 0:
        raise ValueError("cross_entropy: logits have zero classes")
    out_of_range = (classes < 0) | (classes >= c)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        raise ValueError(f"cross_entropy: target[{i}] = {int(classes[i])} is not a class index "
                         f"in [0, {c}) for logits with {c} classes")
    if reduction == "none":  # each sample's, from the (stable) log_softmax
        losses = -ops.log_softmax(logits, axis=1)[np.arange(n), classes]
        return ops.reshape(losses, ()) if len(shape) == 1 else losses
    scale = 1.0 / n if reduction == "mean" else 1.0
    return _cross_entropy_op(logits, classes=np.ascontiguousarray(classes, dtype=np.intp),
                             scale=scale)
