"""Matrix products: matmul (1-D, 2-D and batched), dot, outer, a fused linear layer, and
Einstein summation (einsum) with tensordot and kron built on it."""
from __future__ import annotations

import builtins
import operator
import string
from typing import Any, Callable, Sequence

import numpy as np

from ..autograd import Drawing, primitive
from ..tensor import Tensor
from ._util import batch_shape, constant_like

__all__: list[str] = ["einsum", "tensordot", "kron"]  # the NumPy-coverage names defined here

# NumPy callable -> the implementation here; numpy_interop routes np.NAME(tensor) through it.
NUMPY: dict[Any, Callable[..., Any]] = {}  # filled at the end of the module


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
    if (a._data.ndim if isinstance(a, Tensor) else np.ndim(a)) == 0 or (
            b._data.ndim if isinstance(b, Tensor) else np.ndim(b)) == 0:
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
# in that factor's place. They also take tangents with leading batch axes (tg.jacfwd's one pass):
# the right factor's tangent is then lined up below the left factor's own batch axes.
def _right_factor(x: Any, t: Any, lead: tuple, shape: tuple) -> Any:
    """``t``, a right factor of ``shape`` behind batch axes ``lead``, with ones inserted so that
    ``x @`` it broadcasts x's own stack axes, not the batch axes (a vector as a column)."""
    shape = (shape[0], 1) if len(shape) == 1 else tuple(shape)
    return t.reshape(lead + (1,) * builtins.max(x.ndim - len(shape), 0) + shape)


def _matmul_dx_jvp(t: Any, out: Any, x: Any, y: Any) -> Any:
    if t.ndim == x.ndim or y.ndim == 1 or x.ndim >= y.ndim:
        return t @ y
    # y has more stack axes than x: x's tangent as rows below the batch axes
    shape = (1, x.shape[0]) if x.ndim == 1 else tuple(x.shape)
    product = t.reshape(batch_shape(t, x) + (1,) * (y.ndim - len(shape)) + shape) @ y
    return product[..., 0, :] if x.ndim == 1 else product


def _matmul_dy_jvp(t: Any, out: Any, x: Any, y: Any) -> Any:
    if t.ndim == y.ndim:
        return x @ t
    product = x @ _right_factor(x, t, batch_shape(t, y), y.shape)
    return product[..., 0] if y.ndim == 1 else product


def _linear_dw_jvp(t: Any, out: Any, x: Any, w: Any, b: Any = None) -> Any:
    if t.ndim == w.ndim:
        return x @ t.swapaxes(-1, -2)
    return x @ _right_factor(x, t.swapaxes(-1, -2), batch_shape(t, w), w.shape[::-1])


def _linear_db_jvp(t: Any, out: Any, x: Any, w: Any, b: Any) -> Any:
    if t.ndim == b.ndim:
        return t
    return t.reshape(batch_shape(t, b) + (1,) * (out.ndim - 1) + tuple(b.shape))


_matmul.jvps = (_matmul_dx_jvp, _matmul_dy_jvp)
_linear.jvps = (lambda t, out, x, w, b=None: t @ w.swapaxes(-1, -2), _linear_dw_jvp,
                _linear_db_jvp)
_matmul.batching = _linear.batching = "trailing"


# --- einsum, tensordot, kron --------------------------------------------------------------------
# Subscript letters in NumPy's order: sublist integers 0-51 name them so, implicit outputs sort so.
_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _einsum_error(subscripts: str, shapes: Sequence[tuple], why: str) -> ValueError:
    listed = ", ".join(str(s) for s in shapes) or "none"
    return ValueError(f"einsum: {why} (subscripts {subscripts!r}, operand shapes {listed})")


def _letters(text: str, subscripts: str, shapes: Sequence[tuple], what: str) -> tuple[str, bool]:
    """A term's letters without its ellipsis, and whether it had one."""
    letters = text.replace("...", "", 1)
    for c in letters:
        if c not in _LETTERS:
            why = ("a '.' that is not part of an ellipsis '...'" if c == "." else
                   f"the invalid subscript {c!r} (subscripts are letters)")
            raise _einsum_error(subscripts, shapes, f"{what} has {why}")
    return letters, len(letters) != len(text)


def _parse(subscripts: str, shapes: Sequence[tuple]) -> tuple[str, list]:
    """NumPy's subscripts spelled out ('...' as letters, the output named), and per operand the
    shape to reshape it to (None: as it is) so that no length-1 axis broadcasts against a longer
    one of the same subscript: it is dropped, and the subscript broadcasts as a missing one."""
    text = subscripts.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    if "->" in rhs:
        raise _einsum_error(subscripts, shapes, "more than one '->'")
    texts = lhs.split(",")
    if len(texts) != len(shapes):
        raise _einsum_error(subscripts, shapes, f"the subscripts name {len(texts)} operand(s) "
                            f"but {len(shapes)} were given")
    ellipsis_ndim = 0
    for k, (term, shape) in enumerate(zip(texts, shapes)):
        letters, dots = _letters(term, subscripts, shapes, f"operand {k}")
        if len(letters) > len(shape) or not dots and len(letters) != len(shape):
            raise _einsum_error(subscripts, shapes, f"operand {k} has {len(shape)} dimension(s) "
                                f"but {len(letters)} subscript(s)")
        if dots:
            ellipsis_ndim = max(ellipsis_ndim, len(shape) - len(letters))
    spare = [c for c in _LETTERS if c not in text]
    if ellipsis_ndim > len(spare):
        raise _einsum_error(subscripts, shapes, "too many dimensions for the letters left")
    spelled = "".join(spare[:ellipsis_ndim])  # '...' right-aligned, as broadcasting aligns
    terms = [term.replace("...", spelled[ellipsis_ndim - len(shape) + len(term) - 3:])
             for term, shape in zip(texts, shapes)]
    if arrow:
        letters, dots = _letters(rhs, subscripts, shapes, "the output")
        if ellipsis_ndim and not dots:
            raise _einsum_error(subscripts, shapes, "the output needs '...' for the dimensions "
                                "the operands' '...' stand for")
        for c in letters:
            if letters.count(c) > 1 or c not in lhs:
                raise _einsum_error(subscripts, shapes, f"output subscript {c!r} is repeated"
                                    if c in lhs else f"output subscript {c!r} is in no operand")
        out = rhs.replace("...", spelled)
    else:  # implicit: '...', then the subscripts used once, sorted
        out = spelled + "".join(sorted(c for c in set(lhs) if c in _LETTERS and lhs.count(c) == 1))
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                raise _einsum_error(subscripts, shapes, f"subscript {c!r} is repeated in operand "
                                    f"{k} with different lengths {own[c]} and {n}")
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise _einsum_error(subscripts, shapes, f"subscript {c!r} has length {n} in "
                                    f"operand {k}, which does not broadcast with {sizes[c]}")
    reshapes: list = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        keep = [a for a, (c, n) in enumerate(zip(term, shape)) if n != 1 or sizes[c] == 1]
        reshapes.append(None if len(keep) == len(term) else tuple(shape[a] for a in keep))
        terms[k] = "".join(term[a] for a in keep)
    return ",".join(terms) + "->" + out, reshapes


def _from_sublists(args: tuple) -> tuple[str, tuple]:
    """NumPy's other form, ``einsum(x, [0, 1], y, [1, 2], [0, 2])``, as a subscripts string."""
    def spell(sublist: Any) -> str:
        try:
            ints = [s if s is Ellipsis else operator.index(s) for s in sublist]
        except TypeError:
            ints = [-1]
        if not all(s is Ellipsis or 0 <= s < len(_LETTERS) for s in ints):
            raise TypeError("einsum: the subscripts must be a string, or a list of integers "
                            f"0-51 and Ellipsis after each operand; got {sublist!r}")
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in ints)
    lists = [spell(s) for s in args[1::2]]
    text = ",".join(lists[:len(args) // 2]) + ("->" + spell(args[-1]) if len(args) % 2 else "")
    return text, args[0:len(args) - len(args) % 2:2]


def _array(x: Any) -> Any:
    """NumPy scalars from np.einsum as 0-d arrays (Tensors pass through)."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def _einsum_forward(*xs: np.ndarray, subscripts: str, optimize: Any) -> np.ndarray:
    out = np.einsum(subscripts, *xs, optimize=optimize)
    # With one operand np.einsum may return a view ('ii->i', 'ij->ji'): results stay apart.
    return out.copy() if len(xs) == 1 and np.may_share_memory(out, xs[0]) else out


def _einsum_vjp(i: int, g: Any, out: Any, *xs: Any, subscripts: str, optimize: Any) -> Any:
    """Operand i's gradient: the einsum of g with the other operands giving operand i's distinct
    subscripts, then put on the diagonal of each repeated subscript, and broadcast along the
    subscripts operand i alone has (summed in the forward: every position had weight one)."""
    inputs, result = subscripts.split("->")
    terms = inputs.split(",")
    term = terms[i]
    elsewhere = set(result).union(*(t for j, t in enumerate(terms) if j != i))
    kept = "".join(dict.fromkeys(c for c in term if c in elsewhere))
    others = [j for j in range(len(xs)) if j != i]
    grad = g
    if others or kept != result:
        path = optimize if isinstance(optimize, (bool, str)) else "greedy"  # a path fits forward
        grad = _array(np.einsum(",".join([result] + [terms[j] for j in others]) + "->" + kept,
                                g, *(xs[j] for j in others), optimize=path))
    if kept == term:
        return grad
    spare = iter(c for c in _LETTERS if c not in term)
    factors, target, seen = [], "", set()
    for c, n in zip(term, xs[i].shape):
        if c in seen:  # a repeat: an identity ties it to the first occurrence
            target += (d := next(spare))
            factors.append((c + d, constant_like(np.eye(n, dtype=g.dtype), grad)))
        else:
            seen.add(c)
            target += c
            if c not in elsewhere:
                factors.append((c, constant_like(np.ones(n, dtype=g.dtype), grad)))
    return np.einsum(",".join([kept] + [f for f, _ in factors]) + "->" + target, grad,
                     *(a for _, a in factors))


def _einsum_jvp(i: int, t: Any, out: Any, *xs: Any, subscripts: str, optimize: Any) -> Any:
    # linear in each operand: the same einsum with the tangent in operand i's place
    return _array(np.einsum(subscripts, *xs[:i], t, *xs[i + 1:], optimize=optimize))


_einsum = primitive("einsum", _einsum_forward, variadic=_einsum_vjp, jvps=_einsum_jvp)


def einsum(subscripts: Any, *operands: Any, optimize: Any = False, **kwargs: Any) -> Tensor:
    """``np.einsum``: explicit ('ij,jk->ik') or implicit ('ij,jk') output, '...', repeated
    subscripts (diagonals, traces), length-1 axes broadcast, any number of operands, also in
    NumPy's sublist form; ``optimize`` is passed to np.einsum."""
    if kwargs:
        raise TypeError(f"einsum: unsupported keyword argument(s) {sorted(kwargs)}; only "
                        "optimize= is accepted")
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts, *operands))
    canonical, reshapes = _parse(subscripts, [_shape(x) for x in operands])
    if any(r is not None for r in reshapes):
        from .shape import reshape
        operands = tuple(x if r is None else reshape(x, r) for x, r in zip(operands, reshapes))
    if isinstance(optimize, list):  # an explicit path, ['einsum_path', (0, 1), ...]
        optimize = tuple(optimize)
    return _einsum(*operands, subscripts=canonical, optimize=optimize)


def _axis_list(axes: Any) -> list:
    return [axes] if isinstance(axes, (int, np.integer)) else list(axes)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """``np.tensordot``: the sum of products over a's ``axes[0]`` and b's ``axes[1]`` (an int n:
    a's last n axes and b's first n); the result has a's other axes, then b's."""
    sa, sb = _shape(a), _shape(b)

    def fail(why: str) -> ValueError:
        return ValueError(f"tensordot: {why} (shapes {sa} and {sb}, axes {axes!r})")
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= min(len(sa), len(sb)):  # as PyTorch (NumPy misreads a negative n)
            raise fail(f"an int axes must be between 0 and {min(len(sa), len(sb))}")
        left, right = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        try:
            left, right = (_axis_list(x) for x in axes)
            left, right = [operator.index(p) for p in left], [operator.index(q) for q in right]
        except (TypeError, ValueError) as exc:
            raise TypeError(f"tensordot: axes must be an int or a pair of sequences of ints, got "
                            f"{axes!r}") from exc
        for p, ndim, name in [(p, len(sa), "a") for p in left] + [(q, len(sb), "b") for q in right]:
            if not -ndim <= p < ndim:
                raise fail(f"axis {p} is out of range for {name}, which has {ndim} dimension(s)")
        left, right = [p % len(sa) for p in left], [q % len(sb) for q in right]
        if len(left) != len(right) or len(set(left)) < len(left) or len(set(right)) < len(right):
            raise fail("the two sequences of axes must have the same length, without repeats")
    for p, q in zip(left, right):
        if sa[p] != sb[q]:
            raise fail(f"a's axis {p} has length {sa[p]} but b's axis {q} has length {sb[q]}")
    if len(sa) + len(sb) > len(_LETTERS):
        raise fail(f"more than {len(_LETTERS)} dimensions in all")
    la, lb = _LETTERS[:len(sa)], list(_LETTERS[len(sa):len(sa) + len(sb)])
    for p, q in zip(left, right):
        lb[q] = la[p]
    out = [c for k, c in enumerate(la) if k not in left] + [
        c for k, c in enumerate(lb) if k not in right]
    return einsum(f"{la},{''.join(lb)}->{''.join(out)}", a, b)


def kron(a: Any, b: Any) -> Tensor:
    """``np.kron``: the Kronecker product, blocks ``a[i, j, ...] * b`` (the operand with fewer
    dimensions is read with leading length-1 axes)."""
    sa, sb = _shape(a), _shape(b)
    n = max(len(sa), len(sb))
    if 2 * n > len(_LETTERS):
        raise ValueError(f"kron: operands of shapes {sa} and {sb} have too many dimensions")
    pa, pb = (1,) * (n - len(sa)) + tuple(sa), (1,) * (n - len(sb)) + tuple(sb)
    # a's axis k is letter k, b's is letter n + k; the result interleaves them, then merges pairs
    out = "".join((_LETTERS[k] if k >= n - len(sa) else "") +
                  (_LETTERS[n + k] if k >= n - len(sb) else "") for k in range(n))
    product = einsum(f"{_LETTERS[n - len(sa):n]},{_LETTERS[2 * n - len(sb):2 * n]}->{out}", a, b)
    shape = tuple(p * q for p, q in zip(pa, pb))
    if product.shape == shape:
        return product
    from .shape import reshape
    return reshape(product, shape)


NUMPY.update({np.einsum: einsum, np.tensordot: tensordot, np.kron: kron})
