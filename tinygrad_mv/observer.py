"""What an observer of the engine's first-order reverse walk is told. The engine computes; an
observer only watches, so the graph is walked once: tg.jit's recorder turns what it sees into
replayable steps, the backward picture collects the gradient along every edge."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Observer"]


class Observer:
    """What an observer of the first-order walk is told (tg.jit's recorder turns it into steps,
    the backward picture collects the gradient along every edge). The engine computes; the
    observer only watches, so there is one walk of the graph."""

    runs_hooks = True  # False: the walk calls no hooks (a picture must not)
    # True: it records the calls it is told of as steps (tg.jit's recorder), so forward rules
    # may run on arrays while it records (forward_rule)
    records_calls = False

    def begin(self, inputs: Sequence[Any] | None) -> None:
        """The walk starts (``inputs`` None: gradients go into ``.grad``)."""

    def visit(self, node: Any, grad: Any) -> None:
        """``node``'s gradient is complete: its rules run next."""

    def rule(self, node: Any, i: int, grad: Any, out: Any, datas: Sequence[Any],
             result: Any) -> None:
        """``node.vjps[i]`` returned ``result``."""

    def step(self, fn: Callable, args: tuple, result: Any) -> None:
        """The engine computed ``result = fn(*args)`` (fitting a gradient to its input)."""

    def forward_rule(self, rule: Callable, params: dict, args: tuple, result: Any) -> None:
        """A forward rule computed ``result = rule(*args, **params)`` (a sweep of tangents
        through a recorded gradient: tg.hessian, tg.hvp)."""

    def edge(self, node: Any, i: int, contribution: Any) -> None:
        """What flows from ``node`` to its input ``i`` (an IndexedGrad for indexing)."""

    def added(self, total: Any, contribution: Any, result: Any) -> None:
        """``result = total + contribution`` (``result is total``: added in place)."""

    def added_indexed(self, total: Any, indexed: Any, result: Any, shape: tuple,
                      dtype: np.dtype) -> None:
        """``result = total + indexed`` (``total`` None: zeros; ``result is total``: in place)."""

    def leaf(self, leaf: Any) -> None:
        """``leaf``'s gradient is complete."""
