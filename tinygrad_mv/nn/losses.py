"""Loss modules: ``loss = LossClass(...); value = loss(prediction, target)``.

Each is a thin Module around the fused function of the same meaning in
``tinygrad_mv.nn.functional``.
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["MSELoss", "SSELoss", "ChiSquaredLoss", "BCELoss", "CrossEntropyLoss"]


class MSELoss(Module):
    """Mean (default, over all elements) or sum of squared errors."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.mse_loss(prediction, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class SSELoss(Module):
    """Sum of squared errors: the course's cost (divide by N for the cost per point)."""

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.sse_loss(prediction, target)


class ChiSquaredLoss(Module):
    """sum(((target - prediction) / sigma)^2); ``sigma`` None means 1 (plain sum of squares)."""

    def __init__(self, sigma: Any = None) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.chi_squared_loss(prediction, target, sigma=self.sigma)


class BCELoss(Module):
    """Binary cross-entropy of probabilities (apply a sigmoid first); mean by default."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, "BCELoss")
        self.reduction = reduction

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(prediction, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Cross-entropy of logits (N, C) against integer classes (N,); mean by default."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, "CrossEntropyLoss")
        self.reduction = reduction

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
