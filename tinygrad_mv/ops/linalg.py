"""Matrix products: matmul (1-D, 2-D and batched), dot, outer, and a fused linear layer."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor

__all__: list[str] = []  # the NumPy-coverage names defined here (tg.einsum, ...)

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}


def _matmul_dx(g: Any, out: Any, x: Any, y: Any) -> Any:
    if y.ndim == 1:
        return g * y if x.ndim == 1 else g[..., None] * y
    if x.ndim == 1:  # x was promoted to a row: (1, n) @ y
        return (g[..., None, :] @ y.swapaxes(-1, -2))[..., 0, :]
    return g @ y.swapaxes(-1, -2)  # batch axes broadcast: the engine sums them back


def _matmul_dy(g: Any, out: Any, x: Any, y: Any) -> Any:
    if x.ndim == 1:
        return g * x if y.ndim == 1 else x[:, None] * g[..., None, :]
    if y.ndim == 1:  # y was promoted to a column: x @ (n, 1)
        return (x.swapaxes(-1, -2) @ g[..., None])[..., 0]
    return x.swapaxes(-1, -2) @ g


_matmul = primitive("matmul", np.matmul, _matmul_dx, _matmul_dy,
                    drawing=Drawing(roles=('left', 'right'), local=('g @ {1}ᵀ', '{0}ᵀ @ g'),
                                    formula='{0} @ {1}'))


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's ``@`` semantics (1-D, 2-D and batched N-D operands)."""
    # (A Tensor's array answers directly: np.ndim is a Python-level call through NumPy.)
    if (a.data.ndim if isinstance(a, Tensor) else np.ndim(a)) == 0 or (
            b.data.ndim if isinstance(b, Tensor) else np.ndim(b)) == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {np.shape(a)} and "
                         f"{np.shape(b)} (use * for scalars)")
    return _matmul(a, b)


def dot(a: Any, b: Any) -> Tensor:
    """``np.dot`` for operands of up to two dimensions (a scalar multiplies)."""
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        from .elementwise import mul
        return mul(a, b)
    if na > 2 or nb > 2:
        raise ValueError(f"dot: operands of shapes {np.shape(a)} and {np.shape(b)}; dot takes up "
                         "to 2-D operands here, use tg.matmul for batched products")
    shape_a, shape_b = np.shape(a), np.shape(b)
    if shape_a[-1] != shape_b[0]:  # checked here so the error names dot, not matmul
        raise ValueError(f"dot: invalid for operand shapes {shape_a} and {shape_b}: the last "
                         f"axis of the first ({shape_a[-1]}) must match the first axis of the "
                         f"second ({shape_b[0]})")
    return _matmul(a, b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of the flattened operands: ``out[i, j] = a[i] * b[j]``."""
    from .elementwise import mul
    from .shape import reshape
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def _linear_dx(g: Any, out: Any, x: Any, w: Any, b: Any = None) -> Any:
    return g @ w


def _linear_dw(g: Any, out: Any, x: Any, w: Any, b: Any = None) -> Any:
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    y = x @ w.T
    return y if b is None else y + b


_linear = primitive("linear", _linear_forward, _linear_dx, _linear_dw,
                    lambda g, out, x, w, b: g.reshape(-1, g.shape[-1]).sum(axis=0),
                    drawing=Drawing(roles=('x', 'weight', 'bias'),
                                    local=('g @ {1}', 'gᵀ @ {0}', 'Σ g over rows'),
                                    formula='linear({0})'))


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` as one operation (``weight`` of shape (out, in))."""
    if bias is None:
        return _linear(x, weight)
    return _linear(x, weight, bias)


# Forward rules: a product is linear in each factor, so each JVP is the product with the tangent
# in that factor's place.
_matmul.jvps = (lambda t, out, x, y: t @ y, lambda t, out, x, y: x @ t)
_linear.jvps = (lambda t, out, x, w, b=None: t @ w.swapaxes(-1, -2),
                lambda t, out, x, w, b=None: x @ t.swapaxes(-1, -2),
                lambda t, out, x, w, b: t)
