"""Dual numbers, as PyTorch's ``torch.autograd.forward_ad``::

    import tinygrad_mv.forward_ad as fwAD
    with fwAD.dual_level():
        x = fwAD.make_dual(primal, tangent)     # x carries tangent
        y = x ** 2                              # every operation carries it on
        fwAD.unpack_dual(y)                     # (primal: x^2, tangent: 2 x tangent)

Tangents are dropped when the level exits.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import autograd
from .forward import Level, current
from .tensor import Tensor, _make

__all__ = ["dual_level", "make_dual", "unpack_dual", "UnpackedDualTensor"]


class dual_level(Level):
    """``with fwAD.dual_level():`` opens a level in which ``make_dual`` attaches tangents."""

    def __init__(self) -> None:
        super().__init__(refuse_reverse=False)


class UnpackedDualTensor(NamedTuple):
    primal: Tensor
    tangent: Tensor | None


def _level(what: str) -> Level:
    level = current()
    if level is None:
        raise RuntimeError(f"{what}: no forward-mode level is active; call it inside "
                           "`with fwAD.dual_level():`")
    return level


def make_dual(tensor: Any, tangent: Any) -> Tensor:
    """A Tensor with the values of ``tensor`` that carries ``tangent`` (same shape)."""
    level = _level("make_dual")
    primal = tensor if isinstance(tensor, Tensor) else Tensor(tensor)
    if isinstance(tangent, Tensor):
        t = tangent if tangent.requires_grad and autograd.is_grad_enabled() else tangent._data
    else:
        t = Tensor(tangent).data
    if t.shape != primal.shape:
        raise ValueError(f"make_dual: the tangent has shape {t.shape} but the primal has shape "
                         f"{primal.shape}")
    if t.dtype != primal.dtype:
        t = t.astype(primal.dtype)
    if primal.requires_grad and autograd.is_grad_enabled() or level.parent is not None:
        from .ops import reshape
        # An operation of its own: reverse mode still reaches primal, and an outer level's
        # tangent of primal carries over (nested levels give second derivatives).
        dual = reshape(primal, primal.shape)
    else:
        tracer = autograd._tracer
        if tracer is not None:  # tg.jit: a replay reads primal's data at each call
            tracer.read(primal)
        dual = _make(primal._data, None)
    level.set(dual, t)
    return dual


def unpack_dual(tensor: Tensor) -> UnpackedDualTensor:
    """``(primal, tangent)``; ``tangent`` is None for a Tensor that carries none."""
    level = current()
    t = level.tangent(tensor) if level is not None else None
    if t is not None and not isinstance(t, Tensor):
        t = _make(np.asarray(t), None)
    return UnpackedDualTensor(tensor, t)
