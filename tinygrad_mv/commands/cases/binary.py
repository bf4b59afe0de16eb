"""Gradcheck cases for tinygrad_mv.ops.binary (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    from ..gradcheck import OpCase

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    def away_from_zero(*shape: int) -> np.ndarray:
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    # dividends whose quotient by the divisor is 0.2 to 0.8 from an integer: no jump nearby
    divisor = away_from_zero(3)
    dividend = (rng.integers(-3, 3, (2, 3)) + rng.uniform(0.2, 0.8, (2, 3))) * divisor
    distinct = rng.permutation(12).reshape(3, 4) * 0.25 - 1.3  # ties far apart
    other = distinct.T[::-1].reshape(3, 4) + 0.1
    return [
        OpCase("float_power (broadcast)", tg.float_power,
               (rng.uniform(0.5, 2.0, (2, 3)), normal(3))),
        OpCase("float_power (number exponent)", lambda a: tg.float_power(a, 3), (normal(4),)),
        OpCase("arctan2 (broadcast)", tg.arctan2, (away_from_zero(2, 3), away_from_zero(3))),
        OpCase("arctan2 (number x)", lambda y: np.arctan2(y, -0.5), (normal(3),)),
        OpCase("hypot", tg.hypot, (away_from_zero(2, 3), normal(2, 1))),
        OpCase("fmax", tg.fmax, (distinct, other)),
        OpCase("fmin (broadcast)", lambda a, b: np.fmin(a, b) * a, (distinct, other[0])),
        OpCase("logaddexp", tg.logaddexp, (normal(2, 3), 3 * normal(3))),
        OpCase("logaddexp2", lambda a, b: tg.logaddexp2(a, b) ** 2, (normal(2, 3), normal(2, 1))),
        OpCase("copysign", lambda a, b: tg.copysign(a, b) * b, (away_from_zero(2, 3),
                                                                 away_from_zero(3))),
        OpCase("mod", tg.mod, (dividend, divisor)),
        OpCase("mod (number divisor)", lambda a: np.mod(a, 1.5) * a, (1.5 * dividend / divisor,)),
        OpCase("fmod", lambda a, b: tg.fmod(a, b) ** 2, (dividend, divisor)),
    ]
