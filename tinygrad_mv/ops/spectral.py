"""Singular values, through the eigen-decomposition of ``xᵀx``: what the matrix norms of order
2, -2 and 'nuc' are made of.

Three primitives whose rules are written with one another and with core operations, so every
order of derivative comes from the same rules: the eigenvalues and eigenvectors of a symmetric
matrix (``M = V diag(w) Vᵀ``, w ascending) and the singular values of a tall matrix.

- dw = diag(Vᵀ dM V); dV = V (F ∘ (Vᵀ dM V)) with F_ij = 1 / (w_j - w_i) off the diagonal;
- the singular values σ of x are the square roots of the eigenvalues of xᵀx, with right
  singular vectors V: dσ_i = v_iᵀ xᵀ dx v_i / σ_i, and the gradient of σ·g is x V diag(g/σ) Vᵀ.

Equal eigenvalues (or singular values) make F infinite: a derivative that does not exist there.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor


def _mT(m: Any) -> Any:
    return m.swapaxes(-1, -2)


def _gaps(w: Any) -> Any:
    """F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it."""
    n = w.shape[-1]
    eye = np.eye(n, dtype=bool)
    gap = w[..., None, :] - w[..., :, None]
    with np.errstate(divide="ignore"):
        return np.where(eye, 0.0, 1 / np.where(eye, 1.0, gap))


def _vectors(m: Any) -> Any:
    """The eigenvectors inside a rule: recorded on Tensors, plain NumPy on arrays."""
    return eigenvectors(m) if isinstance(m, Tensor) else np.linalg.eigh(m)[1]


def _values(m: Any) -> Any:
    return eigenvalues(m) if isinstance(m, Tensor) else np.linalg.eigvalsh(m)


def _eigenvalues_vjp(g: Any, out: Any, m: Any) -> Any:
    v = _vectors(m)
    return (v * g[..., None, :]) @ _mT(v)


def _eigenvalues_jvp(t: Any, out: Any, m: Any) -> Any:
    v = _vectors(m)
    return ((t @ v) * v).sum(axis=-2)


def _eigenvectors_vjp(g: Any, out: Any, m: Any) -> Any:
    return out @ (_gaps(_values(m)) * (_mT(out) @ g)) @ _mT(out)


def _eigenvectors_jvp(t: Any, out: Any, m: Any) -> Any:
    return out @ (_gaps(_values(m)) * (_mT(out) @ t @ out))


eigenvalues = primitive("eigvalsh", np.linalg.eigvalsh, _eigenvalues_vjp,
                        jvps=(_eigenvalues_jvp,),
                        drawing=Drawing(local=('V diag(g) Vᵀ',)))
eigenvectors = primitive("eigh_vectors", lambda m: np.linalg.eigh(m)[1], _eigenvectors_vjp,
                         jvps=(_eigenvectors_jvp,),
                         drawing=Drawing(local=('V (F ∘ Vᵀg) Vᵀ',)))


def _ascending(s: Any) -> Any:
    return s[..., ::-1]


def _singular_vjp(g: Any, out: Any, x: Any) -> Any:
    v = _vectors(_mT(x) @ x)
    with np.errstate(divide="ignore", invalid="ignore"):  # sigma = 0: no derivative
        scale = _ascending(g) / _ascending(out)
    return x @ (v * scale[..., None, :]) @ _mT(v)


def _singular_jvp(t: Any, out: Any, x: Any) -> Any:
    v = _vectors(_mT(x) @ x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _ascending(((_mT(x) @ t @ v) * v).sum(axis=-2) / _ascending(out))


_tall_singular_values = primitive(
    "svdvals", lambda x: np.linalg.svd(x, compute_uv=False), _singular_vjp,
    jvps=(_singular_jvp,), drawing=Drawing(local=('x V diag(g/σ) Vᵀ',)))


def singular_values(x: Any) -> Tensor:
    """The singular values of the matrices in the last two axes of ``x``, descending."""
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    if shape[-2] < shape[-1]:  # a wide matrix has the singular values of its transpose
        x = x.swapaxes(-1, -2) if isinstance(x, Tensor) else np.swapaxes(x, -1, -2)
    return _tall_singular_values(x)
