"""Gradcheck cases for einsum, tensordot and kron (tinygrad_mv.ops.linalg), at float64 inputs
where every derivative exists."""
from __future__ import annotations

import numpy as np


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    from ..gradcheck import OpCase

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    return [
        OpCase("einsum (matmul)", lambda a, b: tg.einsum("ij,jk->ik", a, b),
               (normal(2, 3), normal(3, 4))),
        # squared so that the second derivative of the bilinear forms is not zero
        OpCase("einsum (bilinear, three operands)",
               lambda x, m, y: tg.einsum("i,ij,j->", x, m, y) ** 2,
               (normal(3), normal(3, 4), normal(4))),
        OpCase("einsum (diagonal and trace)",
               lambda a: tg.einsum("ii->i", a) * tg.einsum("ii", a), (normal(3, 3),)),
        OpCase("einsum (summed in one operand)", lambda a, b: tg.einsum("ij,j->j", a, b) ** 2,
               (normal(2, 3), normal(3))),
        OpCase("einsum (ellipsis, broadcast)", lambda a, b: tg.einsum("...ij,...jk", a, b),
               (normal(2, 1, 2, 3), normal(4, 3, 2))),
        OpCase("tensordot (axes pairs)",
               lambda a, b: tg.tensordot(a, b, axes=([1, 0], [0, 2])),
               (normal(3, 2, 4), normal(2, 5, 3))),
        OpCase("tensordot (int axes)", lambda a, b: tg.tensordot(a, b, axes=1) ** 2,
               (normal(2, 3), normal(3, 2))),
        OpCase("kron", lambda a, b: tg.kron(a, b) ** 2, (normal(2, 3), normal(2, 2))),
    ]
