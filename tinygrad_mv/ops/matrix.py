"""Matrix functions for tg.linalg: norm, det, slogdet, inv, solve (gradients through solves, never
cofactor expansions).

Every rule is written with operators, methods and the functions of this module, which record
themselves on Tensors: second derivatives and forward-over-reverse come from the same rules.
Singular matrices: inv and solve raise ``np.linalg.LinAlgError`` naming the op; det is 0 there
with its exact gradient (the cofactor matrix, from an SVD, as PyTorch's singular-safe path).
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from .. import autograd
from ..autograd import Drawing, primitive
from ..tensor import Tensor, _make
from . import elementwise as ew
from . import reduce as red
from ._util import constant_like, keepdims_shape, normalize_axes
from .elementwise import _sign
from .shape import reshape
from .spectral import singular_values

__all__: list[str] = ["norm", "det", "slogdet", "inv", "solve", "SlogdetResult"]

LinAlgError = np.linalg.LinAlgError
_INF = math.inf


# --- shared helpers -----------------------------------------------------------------------------
def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _square(name: str, a: Any) -> tuple[int, ...]:
    """The shape of ``a``, checked to be (..., n, n) (LinAlgError, a ValueError, as NumPy)."""
    shape = _shape(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise LinAlgError(f"{name}: expected a square matrix or a stack of them, shape "
                          f"(..., n, n); got shape {shape}")
    return shape


def _unwrapped(op: Callable, *args: Any) -> Any:
    """``op(*args)``; a singular matrix raises its LinAlgError (the tape wraps forward errors
    into ValueErrors naming the shapes)."""
    try:
        return op(*args)
    except ValueError as exc:
        if isinstance(exc.__cause__, LinAlgError):
            raise exc.__cause__ from None
        raise


def _singular(name: str, a: np.ndarray) -> LinAlgError:
    which = "matrix is" if a.ndim == 2 else f"a matrix of the stack of shape {a.shape} is"
    return LinAlgError(f"{name}: {which} singular (its determinant is 0)")


def _reworded(why: str | None, fn: Callable, *args: Any) -> Any:
    """``fn(*args)`` inside a rule; a singular matrix raises LinAlgError saying ``why``."""
    try:
        return _unwrapped(fn, *args)
    except LinAlgError as exc:
        if why is None:
            raise
        raise LinAlgError(why) from exc


def _inverse(a: Any, why: str | None = None) -> Any:
    """inv(a) inside a rule: recorded on Tensors, plain NumPy on arrays."""
    return _reworded(why, _inv if isinstance(a, Tensor) else _inv_forward, a)


def _solved(a: Any, b: Any, why: str | None = None) -> Any:
    """solve(a, b) for matrices b inside a rule: recorded on Tensors, plain NumPy on arrays."""
    tensors = isinstance(a, Tensor) or isinstance(b, Tensor)
    return _reworded(why, _solve if tensors else _solve_forward, a, b)


def _trace(m: Any) -> Any:
    return (m * constant_like(np.eye(m.shape[-1], dtype=m.dtype), m)).sum(axis=(-2, -1))


def _mT(m: Any) -> Any:
    return m.swapaxes(-1, -2)


# --- inv ----------------------------------------------------------------------------------------
def _inv_forward(a: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(a)
    except LinAlgError:
        raise _singular("inv", a) from None


# d inv = -inv dA inv: the VJP is its transpose, -inv^T g inv^T; both read only the result.
_inv = primitive("inv", _inv_forward,
                 lambda g, out, a: -(_mT(out) @ g @ _mT(out)),
                 jvps=(lambda t, out, a: -(out @ t @ out),),
                 drawing=Drawing(local=('-{0}⁻ᵀ g {0}⁻ᵀ',), formula='{0}⁻¹'))


def inv(a: Any) -> Tensor:
    """The inverse of a square matrix or of each matrix of a stack (..., n, n); a singular matrix
    raises ``np.linalg.LinAlgError``."""
    _square("inv", a)
    return _unwrapped(_inv, a)


# --- solve --------------------------------------------------------------------------------------
def _solve_forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(a, b)
    except LinAlgError:
        raise _singular("solve", a) from None


# x = A⁻¹ b: gb = A⁻ᵀ g (a solve, no inverse formed), gA = -gb xᵀ; the engine sums both back over
# broadcast batch axes. Tangents: dx = A⁻¹ (db - dA x).
_solve = primitive("solve", _solve_forward,
                   lambda g, out, a, b: -(_solved(_mT(a), g) @ _mT(out)),
                   lambda g, out, a, b: _solved(_mT(a), g),
                   jvps=(lambda t, out, a, b: _solved(a, -(t @ out)),
                         lambda t, out, a, b: _solved(a, t)),
                   drawing=Drawing(roles=('a', 'b'), local=('-({0}⁻ᵀ g) xᵀ', '{0}⁻ᵀ g'),
                                   formula='{0}⁻¹ {1}'))


def solve(a: Any, b: Any) -> Tensor:
    """x with ``a @ x == b``, as NumPy 2: ``a`` (..., n, n); ``b`` (n,) a vector, else (..., n, k)
    matrices (batch axes broadcast). A singular ``a`` raises ``np.linalg.LinAlgError``."""
    shape_a = _square("solve", a)
    shape_b, n = _shape(b), shape_a[-1]
    vector = len(shape_b) == 1
    if not shape_b or shape_b[0 if vector else -2] != n:
        hint = (f"; NumPy 2 reads a b of more than one dimension as matrices (..., {n}, k): "
                "for a stack of vectors pass b[..., None] and take x[..., 0]"
                if len(shape_b) == len(shape_a) - 1 and shape_b[-1] == n else "")
        raise ValueError(f"solve: b of shape {shape_b} does not fit a of shape {shape_a}: "
                         f"expected ({n},) or (..., {n}, k){hint}")
    try:
        np.broadcast_shapes(shape_a[:-2], shape_b[:-2])
    except ValueError:
        raise ValueError(f"solve: the batch axes of a {shape_a} and b {shape_b} do not "
                         "broadcast") from None
    if vector:
        x = _unwrapped(_solve, a, reshape(b, (n, 1)))
        return reshape(x, x.shape[:-1])
    return _unwrapped(_solve, a, b)


# --- det ----------------------------------------------------------------------------------------
_DET_SECOND = ("det: second derivatives at a singular matrix are not supported (they would need "
               "the derivative of its SVD); the first derivative is exact there")


def _cofactor_forward(a: np.ndarray) -> np.ndarray:
    """det(A) A⁻ᵀ, the gradient of det, from A = U diag(s) Vh: det(U) det(Vh) U diag(p) Vh with
    p_i the product of the s_j, j != i. Exact at singular matrices too (as PyTorch)."""
    if a.shape[-1] == 0:
        return np.zeros(a.shape, a.dtype)
    u, s, vh = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * ((u * (before * after)[..., None, :]) @ vh)


# C = det(A) M with M = A⁻ᵀ: dC = <C, dA> M - C dAᵀ M, whose transpose gives the VJP. Through
# inv: these (second derivatives of det) need A invertible.
def _cofactor_vjp(g: Any, out: Any, a: Any) -> Any:
    m = _mT(_inverse(a, _DET_SECOND))
    return (g * m).sum(axis=(-2, -1), keepdims=True) * out - m @ _mT(g) @ out


def _cofactor_jvp(t: Any, out: Any, a: Any) -> Any:
    m = _mT(_inverse(a, _DET_SECOND))
    return (out * t).sum(axis=(-2, -1), keepdims=True) * m - out @ _mT(t) @ m


_cofactor = primitive("det_cofactors", _cofactor_forward, _cofactor_vjp, jvps=(_cofactor_jvp,),
                      drawing=Drawing(local=('<g, {0}⁻ᵀ> C - {0}⁻ᵀ gᵀ C',),
                                      formula='det({0}) {0}⁻ᵀ'))


def _cofactors(a: Any) -> Any:
    return _cofactor(a) if isinstance(a, Tensor) else _cofactor_forward(a)


# d det = <det(A) A⁻ᵀ, dA> = det(A) trace(A⁻¹ dA), written with the cofactors so that it holds at
# singular matrices too.
_det = primitive("det", np.linalg.det,
                 lambda g, out, a: g[..., None, None] * _cofactors(a),
                 jvps=(lambda t, out, a: (_cofactors(a) * t).sum(axis=(-2, -1)),),
                 drawing=Drawing(local=('g det({0}) {0}⁻ᵀ',), formula='det({0})'))


def det(a: Any) -> Tensor:
    """The determinant of a square matrix or of each matrix of a stack (..., n, n)."""
    _square("det", a)
    return _det(a)


# --- slogdet ------------------------------------------------------------------------------------
_SLOGDET_SINGULAR = ("slogdet: the gradient of logabsdet at a singular matrix (logabsdet = -inf) "
                     "is infinite")


def _slogdet_forward(a: np.ndarray) -> np.ndarray:
    return np.linalg.slogdet(a)[1]


def _slogdet_sign(a: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.slogdet(a)[0])


# d log|det A| = trace(A⁻¹ dA): the gradient is A⁻ᵀ, the tangent a trace of a solve.
_slogdet = primitive("slogdet", _slogdet_forward,
                     lambda g, out, a: g[..., None, None] * _mT(_inverse(a, _SLOGDET_SINGULAR)),
                     jvps=(lambda t, out, a: _trace(_solved(a, t, _SLOGDET_SINGULAR)),),
                     drawing=Drawing(local=('g {0}⁻ᵀ',), formula='log|det({0})|'))


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as NumPy's: det = sign * exp(logabsdet)."""

    sign: Tensor
    logabsdet: Tensor


def slogdet(a: Any) -> SlogdetResult:
    """Sign and log of the absolute determinant, without overflow. ``sign`` (-1, 0 or 1) is
    piecewise constant and carries no gradient (as PyTorch); ``logabsdet`` does."""
    _square("slogdet", a)
    logabsdet = _slogdet(a)
    data = a._data if isinstance(a, Tensor) else np.asarray(a)
    sign = _slogdet_sign(data)
    tracer = autograd._tracer
    if tracer is not None:  # tg.jit: a replay recomputes the sign of its own input
        if isinstance(a, Tensor):
            tracer.read(a)
        tracer.record_call(_slogdet_sign, (data,), sign)
    return SlogdetResult(_make(sign, None), logabsdet)


# --- norm ---------------------------------------------------------------------------------------
def _vector_norm(x: np.ndarray, ord: float, axis: tuple, keepdims: bool) -> np.ndarray:
    if ord == 2:
        return np.sqrt(np.add.reduce(x * x, axis=axis, keepdims=keepdims))
    a = np.abs(x)
    if ord == _INF:  # (initial 0: an empty vector's norm is 0, as NumPy's)
        return np.maximum.reduce(a, axis=axis, keepdims=keepdims, initial=0.0)
    if ord == -_INF:
        return np.minimum.reduce(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return np.add.reduce((x != 0).astype(x.dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return np.add.reduce(a, axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore"):  # 0 ** (p < 0) is inf: the norm is then 0, as NumPy's
        return np.add.reduce(a ** ord, axis=axis, keepdims=keepdims) ** (1 / ord)


def _norm_slope(x: Any, out: Any, ord: float, axis: tuple, keepdims: bool) -> Any:
    """d norm / d x in x's shape. As PyTorch: 0 wherever the norm is 0, sign(0) = 0, ties of
    the inf-norms share equally, and 0 at zero entries for p < 1."""
    if not keepdims:
        out = out.reshape(keepdims_shape(x.shape, axis, "norm"))
    if ord == 0:
        return x * 0  # a count: its slope is 0 wherever it exists
    safe = np.where(out == 0, 1, out)
    if ord == 2:
        return x / safe  # x is 0 wherever its norm is
    if ord == 1:
        return _sign(x)
    if ord in (_INF, -_INF):
        hit = abs(x) == out
        return _sign(x) * hit / hit.sum(axis=axis, keepdims=True)
    ratio = np.where(x == 0, safe, abs(x)) / safe  # 1 at zero entries, whose sign is 0
    return _sign(x) * ratio ** (ord - 1) * (out != 0)


def _vector_norm_vjp(g: Any, out: Any, x: Any, ord: float, axis: tuple, keepdims: bool) -> Any:
    if not keepdims:
        g = g.reshape(keepdims_shape(x.shape, axis, "norm"))
    return g * _norm_slope(x, out, ord, axis, keepdims)


def _vector_norm_jvp(t: Any, out: Any, x: Any, ord: float, axis: tuple, keepdims: bool) -> Any:
    return (t * _norm_slope(x, out, ord, axis, keepdims)).sum(axis=axis, keepdims=keepdims)


_vnorm = primitive("vector_norm", _vector_norm, _vector_norm_vjp, jvps=(_vector_norm_jvp,),
                   drawing=Drawing(local=('g·∂‖{0}‖/∂{0}',), formula='‖{0}‖'))


def _vector_ord(ord: Any) -> float:
    if ord is None:
        return 2.0
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors (give axis a pair of "
                         "axes, or a 2-D tensor, for matrix norms)")
    if isinstance(ord, (bool, np.bool_)) or not isinstance(ord, (int, float, np.number)) \
            or np.iscomplexobj(ord) or math.isnan(ord):
        raise TypeError(f"norm: ord must be a number, inf, -inf or None for vectors, got {ord!r}")
    return float(ord)


def _matrix_norm(x: Any, ord: Any, axes: tuple, keepdims: bool) -> Tensor:
    ord = "fro" if ord is None else ord
    if isinstance(ord, str):
        valid = ord in ("fro", "nuc")
    else:
        valid = isinstance(ord, (int, float, np.integer, np.floating)) and not isinstance(
            ord, (bool, np.bool_)) and ord in (1, -1, 2, -2, _INF, -_INF)
    if not valid:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices: expected one of "
                         "'fro', 'nuc', 1, -1, 2, -2, inf, -inf")
    rows, cols = axes
    if ord == "fro":
        return _vnorm(x, ord=2.0, axis=tuple(sorted(axes)), keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        return _singular_value_norm(x, ord, axes, keepdims)
    # 1: the largest column sum of |x| (sum over the rows), inf: the largest row sum; -1, -inf:
    # the smallest. Ties share the gradient (max and min), sign(0) = 0: as PyTorch.
    summed, over = (rows, cols) if ord in (1, -1) else (cols, rows)
    extreme = red.max if ord > 0 else red.min
    if ord > 0 and _shape(x)[over] == 0:
        extreme = red.sum  # no sums to take the largest of: 0, as NumPy's max(initial=0)
    out = extreme(red.sum(ew.absolute(x), axis=summed, keepdims=True), axis=over, keepdims=True)
    if keepdims:
        return out
    return reshape(out, tuple(n for i, n in enumerate(out.shape) if i not in axes))


def _singular_value_norm(x: Any, ord: Any, axes: tuple, keepdims: bool) -> Tensor:
    """ord 2 (the largest singular value), -2 (the smallest), 'nuc' (their sum). Ties of the
    largest or smallest share the gradient, as max and min."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = x if axes == (x.ndim - 2, x.ndim - 1) else x.transpose(rest + axes)
    sigma = singular_values(moved)
    reduce = {"nuc": red.sum, 2: red.max, -2: red.min}[ord]
    if ord == 2 and sigma.shape[-1] == 0:
        reduce = red.sum  # an empty matrix's norm is 0, as NumPy's (its max has initial 0)
    out = reduce(sigma, axis=-1)
    if not keepdims:
        return out
    return reshape(out, keepdims_shape(x.shape, axes, "norm"))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``np.linalg.norm``: a vector norm over one axis (ord None or 2, 1, inf, -inf, 0 or any p),
    a matrix norm over a pair of axes (ord None or 'fro', 'nuc', 1, -1, 2, -2, inf, -inf), or
    with axis None the 2-norm of everything (ord None) or the norm of a 1-D or 2-D tensor. Its
    gradient is 0 where the norm is 0, as PyTorch's."""
    ndim = len(_shape(x))
    keepdims = bool(keepdims)
    if axis is None:
        if ord is None:
            return _vnorm(x, ord=2.0, axis=tuple(range(ndim)), keepdims=keepdims)
        if ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D tensor, got "
                             f"{ndim} dimensions (pass axis)")
        axes: tuple = tuple(range(ndim))
    else:
        items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        if len(items) not in (1, 2):
            raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
        normalize_axes(items, ndim, "norm")  # checks types, ranges and repeats
        axes = tuple(int(a) % max(ndim, 1) for a in items)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    return _vnorm(x, ord=_vector_ord(ord), axis=axes, keepdims=keepdims)


# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {
    np.linalg.norm: norm, np.linalg.det: det, np.linalg.slogdet: slogdet, np.linalg.inv: inv,
    np.linalg.solve: solve,
}
