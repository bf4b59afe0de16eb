"""Gradcheck cases for tinygrad_mv.ops.statistics (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np

from ..gradcheck import OpCase


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    def away_from_zero(*shape: int) -> np.ndarray:
        return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    distinct = rng.permutation(12).reshape(3, 4) * 0.3 - 1.6  # no ties: sort is smooth here
    return [
        OpCase("prod (axis)", lambda a: tg.prod(a, axis=1), (normal(3, 4),)),
        OpCase("prod (axes, keepdims)", lambda a: tg.prod(a, axis=(0, 2), keepdims=True) * a,
               (away_from_zero(2, 3, 2),)),
        OpCase("cumsum (axis)", lambda a: tg.cumsum(a, axis=1) * a, (normal(3, 4),)),
        OpCase("cumsum (flattened)", lambda a: tg.cumsum(a) ** 2, (normal(2, 3),)),
        OpCase("cumprod (axis)", lambda a: tg.cumprod(a, axis=-1), (away_from_zero(3, 4),)),
        OpCase("var (ddof)", lambda a: tg.var(a, axis=-2, ddof=1), (normal(4, 3),)),
        OpCase("std (keepdims)", lambda a: tg.std(a, axis=1, keepdims=True) * a,
               (normal(3, 4),)),
        OpCase("average (weights)",
               lambda a, w: tg.average(a, axis=1, weights=w),
               (normal(3, 4), rng.uniform(0.5, 2.0, 4))),
        OpCase("sort (axis)", lambda a: tg.sort(a, axis=0) * tg.sort(a), (distinct,)),
        OpCase("diff (n=2, prepend)", lambda a, p: tg.diff(a, n=2, axis=0, prepend=p) ** 2,
               (normal(3, 4), normal(1, 4))),
    ]
