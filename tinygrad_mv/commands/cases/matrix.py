"""Gradcheck cases for tinygrad_mv.ops.matrix (float64 inputs where every derivative exists)."""
from __future__ import annotations

import numpy as np


def cases(rng: np.random.Generator) -> list:
    import tinygrad_mv as tg

    from tinygrad_mv.ops.spectral import eigenvalues, eigenvectors

    from ..gradcheck import OpCase

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    def invertible(*batch: int, n: int = 3) -> np.ndarray:  # well conditioned, det far from 0
        return rng.standard_normal(batch + (n, n)) * 0.5 + 2 * np.eye(n)

    # |x| distinct and away from 0: no ties for the inf-norms, no kink of |x| nearby
    distinct = (rng.permutation(12).reshape(3, 4) * 0.25 + 0.3) * rng.choice([-1.0, 1.0], (3, 4))
    la = tg.linalg
    return [
        OpCase("linalg.norm (2, axis)", lambda a: la.norm(a, axis=1), (normal(3, 4),)),
        OpCase("linalg.norm (all, keepdims)", lambda a: la.norm(a, keepdims=True) * a,
               (normal(2, 3),)),
        OpCase("linalg.norm (p=3, axis -1)", lambda a: la.norm(a, 3, axis=-1), (distinct,)),
        OpCase("linalg.norm (p=-1.5)", lambda a: la.norm(a, -1.5, axis=0), (distinct,)),
        OpCase("linalg.norm (1, inf, -inf)",
               lambda a: la.norm(a, 1, axis=1) + la.norm(a, np.inf, axis=1)
               * la.norm(a, -np.inf, axis=1), (distinct,)),
        OpCase("linalg.norm (0)", lambda a: la.norm(a, 0, axis=0) * a, (distinct,)),
        OpCase("linalg.norm (fro, batched)", lambda a: la.norm(a, "fro", axis=(-2, -1)),
               (normal(2, 3, 3),)),
        OpCase("linalg.norm (matrix 1, -inf)",
               lambda a: la.norm(a, 1) * la.norm(a, -np.inf, axis=(1, 0)), (distinct,)),
        OpCase("linalg.norm (2, nuc: singular values)",
               lambda a: la.norm(a, 2) + la.norm(a, "nuc") * la.norm(a.T, -2), (distinct,)),
        OpCase("linalg.norm (2, batched, wide)", lambda a: la.norm(a, 2, axis=(1, 2)),
               (normal(2, 2, 3),)),
        OpCase("eigh of a symmetric matrix (signs squared away)",
               lambda a: eigenvectors(a + a.T) ** 2 * eigenvalues(a + a.T),
               (np.diag([0.5, 1.0, 2.0]) + 0.1 * normal(3, 3),)),
        OpCase("linalg.det (batched)", la.det, (invertible(2),)),
        OpCase("linalg.slogdet (logabsdet)", lambda a: la.slogdet(a).logabsdet,
               (invertible(2),)),
        OpCase("linalg.inv (batched)", la.inv, (invertible(2),)),
        OpCase("linalg.solve (matrices, broadcast)", la.solve, (invertible(2), normal(3, 2))),
        OpCase("linalg.solve (vector)", la.solve, (invertible(), normal(3))),
    ]
