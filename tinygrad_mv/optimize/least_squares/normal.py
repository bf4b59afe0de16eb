"""The Gauss-Newton step from the normal equations (A^T A) dp = A^T r, for a well-conditioned A:
an SVD of A (lstsq), which is what serves the others, costs several times more. Few
parameters (k <= _SMALL) are solved on Python floats: there NumPy's per-call overhead, not the
arithmetic, is the cost."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# The normal equations give the step when (A^T A)^-1, for A's columns scaled to unit length, has no
# entry above this / k^2 in magnitude: then cond(A^T A) <= k^2 max |entry| <= 1e6 (its largest
# eigenvalue is at most its trace, k; the inverse's at most k times its largest entry), and
# the step loses at most ~1e-10 of itself to rounding
_NORMAL_EQUATIONS_COND = 1e6

# Up to this many parameters the k x k algebra runs on Python floats (measured: at k = 4 about
# as fast as one np.linalg.inv alone; at k = 2 a third of the NumPy path)
_SMALL = 4


class _Solved(NamedTuple):
    """The Gauss-Newton step from the normal equations, and what gives (A^T A)^-1 if needed:
    the inverse for A's columns scaled to unit length (an array, or rows of floats), and their
    lengths."""
    step: np.ndarray
    unit_inverse: np.ndarray | list[list[float]]
    lengths: np.ndarray

    def inverse(self) -> np.ndarray:
        """(A^T A)^-1 (computed only for the result: a fit's last point)."""
        return np.array(self.unit_inverse) / self.lengths / self.lengths[:, None]


def _normal_solve(normal: np.ndarray, gradient: np.ndarray,
                  lengths: np.ndarray | None = None) -> _Solved | None:
    """The Gauss-Newton step from the normal equations (A^T A) dp = A^T r when A is well
    conditioned (see _NORMAL_EQUATIONS_COND), else None: then only an SVD of A serves. Solved
    with A's columns scaled to unit length (``lengths``, if the caller has them), as the SVD
    is: rounding then does not depend on the parameters' units."""
    if normal.shape[0] <= _SMALL:
        return _small_solve(normal, gradient, lengths)
    if lengths is None:
        lengths = np.sqrt(normal.diagonal())
    if not lengths.all():
        return None
    try:
        unit_inverse = np.linalg.inv(normal / lengths / lengths[:, None])
    except np.linalg.LinAlgError:
        return None
    # The entries' magnitudes, unlike the diagonal alone, cannot cancel to look small for a
    # nearly singular A^T A whose rounding made it indefinite; NaN fails the test too
    if not np.abs(unit_inverse).max() * lengths.size ** 2 <= _NORMAL_EQUATIONS_COND:
        return None
    return _Solved(unit_inverse @ (gradient / lengths) / lengths, unit_inverse, lengths)


def _small_solve(normal: np.ndarray, gradient: np.ndarray,
                 lengths: np.ndarray | None = None) -> _Solved | None:
    """_normal_solve on Python floats: the Cholesky factor L of the unit-column matrix, L^-1,
    the inverse L^-T L^-1 and the same test of its entries. None where that factor does not
    exist (not numerically positive definite) or the test fails. The lengths, unless given,
    come from the diagonal on floats too (math.sqrt rounds as np.sqrt does)."""
    rows, g = normal.tolist(), gradient.tolist()
    k = len(rows)
    if lengths is None:
        d = []
        for i in range(k):  # (a loop: a comprehension is a function call of its own)
            d.append(math.sqrt(rows[i][i]) if rows[i][i] >= 0.0 else math.nan)
        lengths = np.array(d)
    else:
        d = lengths.tolist()
    for length in d:
        if not 0.0 < length < math.inf:  # (NaN too)
            return None
    if k == 2:
        return _pair_solve(rows, g, d, lengths)
    return _loop_solve(rows, g, d, lengths)


def _loop_solve(rows: list[list[float]], g: list[float], d: list[float],
                lengths: np.ndarray) -> _Solved | None:
    """_small_solve's algebra for any k, on A^T A's rows, A^T r and the lengths as floats."""
    k = len(d)
    # (rows built by loops: a comprehension is a function call of its own)
    low: list[list[float]] = []
    inv_low: list[list[float]] = []  # L^-1, lower triangular
    unit_inverse: list[list[float]] = []
    for _ in range(k):
        low.append([0.0] * k)
        inv_low.append([0.0] * k)
        unit_inverse.append([0.0] * k)
    for i in range(k):
        low_i = low[i]
        for j in range(i + 1):
            low_j = low[j]
            s = rows[i][j] / (d[i] * d[j])
            for m in range(j):
                s -= low_i[m] * low_j[m]
            if j < i:
                low_i[j] = s / low_j[j]
            elif s > 0.0:
                low_i[i] = math.sqrt(s)
            else:  # (NaN too)
                return None
    for i in range(k):
        inv_low[i][i] = 1.0 / low[i][i]
        for j in range(i):
            s = 0.0
            for m in range(j, i):
                s -= low[i][m] * inv_low[m][j]
            inv_low[i][j] = s / low[i][i]
    # (L^-T L^-1)_ij = sum over m >= max(i, j) of L^-1_mi L^-1_mj
    largest = 0.0
    for i in range(k):
        for j in range(i + 1):
            s = 0.0
            for m in range(i, k):
                s += inv_low[m][i] * inv_low[m][j]
            unit_inverse[i][j] = unit_inverse[j][i] = s
            s = abs(s)
            if s > largest or s != s:  # a NaN sticks (nothing compares greater), and fails below
                largest = s
    if not largest * k * k <= _NORMAL_EQUATIONS_COND:
        return None
    step = [0.0] * k
    for i in range(k):
        s = 0.0
        for j in range(k):
            s += unit_inverse[i][j] * (g[j] / d[j])
        step[i] = s / d[i]
    return _Solved(np.array(step), unit_inverse, lengths)


def _pair_solve(rows: list[list[float]], g: list[float], d: list[float],
                lengths: np.ndarray) -> _Solved | None:
    """_small_solve for two parameters (the commonest fit), its loops written out: the same
    operations in the same order, so the same bits, in a third of the time."""
    d0, d1 = d
    s = rows[0][0] / (d0 * d0)
    if not s > 0.0:  # (NaN too)
        return None
    low00 = math.sqrt(s)
    low10 = rows[1][0] / (d1 * d0) / low00
    s = rows[1][1] / (d1 * d1) - low10 * low10
    if not s > 0.0:
        return None
    low11 = math.sqrt(s)
    inv00, inv11 = 1.0 / low00, 1.0 / low11
    inv10 = (0.0 - low10 * inv00) / low11
    # the unit inverse, each entry summed from 0.0 as the loops do (so a -0.0 becomes 0.0)
    u00 = 0.0 + inv00 * inv00 + inv10 * inv10
    u10 = 0.0 + inv11 * inv10
    u11 = 0.0 + inv11 * inv11
    bound = _NORMAL_EQUATIONS_COND / 4  # largest * k^2 <= the bound (x 4 is exact)
    if not (abs(u00) <= bound and abs(u10) <= bound and abs(u11) <= bound):  # (NaN fails)
        return None
    g0, g1 = g[0] / d0, g[1] / d1
    step = np.array([(0.0 + u00 * g0 + u10 * g1) / d0, (0.0 + u10 * g0 + u11 * g1) / d1])
    return _Solved(step, [[u00, u10], [u10, u11]], lengths)
