"""Gradcheck cases for tinygrad_mv.ops.rounding (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    from ..gradcheck import OpCase

    # fractional parts in [0.1, 0.4] or [0.6, 0.9]: no jump (an integer, or a half for rint)
    # within a difference step
    def between_integers(*shape: int) -> np.ndarray:
        return rng.integers(-3, 3, shape) + rng.uniform(0.1, 0.4, shape) + \
            rng.choice([0.0, 0.5], shape)

    # Each times its input, so that the gradient (the rounded value) is not all zeros.
    return [
        OpCase("sign", lambda a: tg.sign(a) * a ** 2, (between_integers(2, 3),)),
        OpCase("floor", lambda a: tg.floor(a) * a, (between_integers(2, 3),)),
        OpCase("ceil", lambda a, b: tg.ceil(a * b) * b, (between_integers(3), np.ones(3))),
        OpCase("trunc", lambda a: np.trunc(a) * a, (between_integers(4),)),
        OpCase("rint", lambda a: tg.rint(a) * tg.exp(a), (between_integers(2, 2),)),
    ]
