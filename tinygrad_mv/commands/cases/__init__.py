"""Gradcheck cases for the NumPy-coverage operations, one module per family of tinygrad_mv.ops;
each module's ``cases(rng)`` returns OpCases (see commands/gradcheck.py)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import arrange, binary, matrix, products, rounding, statistics, unary


def numpy_cases(rng: np.random.Generator) -> list[Any]:
    out: list[Any] = []
    for family in (unary, binary, rounding, statistics, arrange, products, matrix):
        out.extend(family.cases(rng))
    return out
