"""Gradcheck cases for tinygrad_mv.ops.arrange (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np

from ..gradcheck import OpCase


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    # Each operation is linear: squaring (or multiplying by the input) gives the recorded
    # backward pass something to differentiate.
    return [
        OpCase("tile", lambda a: tg.tile(a, (2, 1, 3)) ** 2, (normal(2, 3),)),
        OpCase("repeat (int, flattened)", lambda a: tg.repeat(a, 2) ** 2, (normal(2, 3),)),
        OpCase("repeat (counts, axis)", lambda a: np.repeat(a, [2, 0, 1], axis=-1) ** 2,
               (normal(2, 3),)),
        OpCase("flip", lambda a: tg.flip(a, axis=0) * a, (normal(3, 2),)),
        OpCase("roll (tuple)", lambda a: tg.roll(a, (1, -2), axis=(0, 1)) * a, (normal(3, 4),)),
        OpCase("roll (flattened)", lambda a: np.roll(a, 4) * a, (normal(2, 3),)),
        OpCase("pad (constant)", lambda a: tg.pad(a, ((1, 0), (2, 1)), constant_values=0.5) ** 2,
               (normal(2, 3),)),
        OpCase("pad (reflect)", lambda a: np.pad(a, ((2, 1), (1, 3)), mode="reflect") ** 2,
               (normal(3, 3),)),
        OpCase("pad (wrap)", lambda a: tg.pad(a, 2, mode="wrap") ** 2, (normal(3),)),
        OpCase("expand_dims", lambda a: tg.expand_dims(a, (0, -1)) ** 2, (normal(2, 3),)),
        OpCase("moveaxis", lambda a: tg.moveaxis(a, 0, -1) ** 2, (normal(2, 3, 4),)),
        OpCase("triu", lambda a: tg.triu(a, 1) ** 2, (normal(3, 4),)),
        OpCase("tril (batched)", lambda a: np.tril(a, -1) ** 2, (normal(2, 3, 3),)),
        OpCase("diag (build)", lambda a: tg.diag(a, 1) ** 2, (normal(3),)),
        OpCase("diag (extract)", lambda a: tg.diag(a, -1) ** 2, (normal(4, 3),)),
        OpCase("trace", lambda a: tg.trace(a * a, offset=1), (normal(3, 4),)),
        OpCase("trace (axes)", lambda a: np.trace(a, 0, 2, 0) * a[0, :, 0], (normal(3, 2, 4),)),
    ]
