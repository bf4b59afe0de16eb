"""Layers and activations."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..creation import _generator
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["Linear", "Sigmoid", "Tanh", "ReLU"]


class Linear(Module):
    """``y = x @ weight.T + bias`` for input ``(N, in_features)`` (or ``(in_features,)``).

    ``weight`` has shape ``(out_features, in_features)``, ``bias`` ``(out_features,)``; both are
    drawn uniformly from [-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    ``rng`` is a ``np.random.Generator`` or an int seed; ``dtype`` float64 (default) or float32.
    Runs as the one fused ``tg.linear`` operation.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng: Any = None,
                 dtype: Any = np.float64) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        gen = _generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(gen.uniform(-bound, bound, (self.out_features, self.in_features)),
                                dtype=dtype)
        self.bias = (Parameter(gen.uniform(-bound, bound, self.out_features), dtype=dtype)
                     if bias else None)

    def forward(self, x: Any) -> Tensor:
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"Linear(in_features={self.in_features}, out_features="
                             f"{self.out_features}): input of shape {tuple(shape)} does not end "
                             f"in {self.in_features} features; expected (N, {self.in_features})")
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sigmoid(Module):
    """The logistic function 1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    """max(x, 0), elementwise (gradient 0 at 0, as PyTorch)."""

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)
