"""Gradcheck cases for tinygrad_mv.ops.unary (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    from ..gradcheck import OpCase

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    def uniform(lo: float, hi: float, *shape: int) -> np.ndarray:
        return rng.uniform(lo, hi, shape)

    def away_from_zero(*shape: int) -> np.ndarray:  # |x| in [0.3, 1.5]: no kink or pole at 0
        return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    return [
        OpCase("exp2", tg.exp2, (normal(2, 3),)),
        OpCase("expm1", tg.expm1, (normal(2, 3),)),
        OpCase("log2", tg.log2, (uniform(0.5, 2.0, 2, 3),)),
        OpCase("log10", tg.log10, (uniform(0.5, 2.0, 2, 3),)),
        OpCase("log1p", tg.log1p, (uniform(-0.5, 2.0, 2, 3),)),
        OpCase("cbrt (both signs)", tg.cbrt, (away_from_zero(2, 3),)),
        OpCase("reciprocal", tg.reciprocal, (away_from_zero(2, 3),)),
        OpCase("arcsin", tg.arcsin, (uniform(-0.8, 0.8, 2, 3),)),
        OpCase("arccos", tg.arccos, (uniform(-0.8, 0.8, 2, 3),)),
        OpCase("arctan", tg.arctan, (normal(2, 3) * 2,)),
        OpCase("sinh", tg.sinh, (normal(2, 3),)),
        OpCase("cosh", tg.cosh, (normal(2, 3),)),
        OpCase("arcsinh", tg.arcsinh, (normal(2, 3) * 2,)),
        OpCase("arccosh", tg.arccosh, (uniform(1.2, 3.0, 2, 3),)),
        OpCase("arctanh", tg.arctanh, (uniform(-0.8, 0.8, 2, 3),)),
        OpCase("deg2rad (np.radians)", lambda a: np.radians(a) * a, (normal(2, 3) * 90,)),
        OpCase("rad2deg (np.degrees)", lambda a: np.degrees(a) * a, (normal(2, 3),)),
        OpCase("fabs", lambda a: np.fabs(a) * a, (away_from_zero(2, 3),)),
        OpCase("positive", lambda a: np.positive(a) * a, (normal(2, 3),)),
        # the logistic slope as courses write it: cosh(z/2)^-2 / 4 = s(z)(1 - s(z))
        OpCase("cosh (sigmoid slope)", lambda z: np.cosh(z / 2) ** (-2) / 4, (normal(4) * 2,)),
    ]
