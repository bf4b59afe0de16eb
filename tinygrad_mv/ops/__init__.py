"""Differentiable primitives, grouped by family. Each module keeps forwards beside their VJPs
and how pictures draw them.

- ``elementwise``: arithmetic, unary functions, clip, maximum/minimum, where, astype.
- ``reduce``: sum, mean, max, min, and the stable logsumexp/softmax family.
- ``shape``: reshape, transpose, broadcast_to, indexing and its adjoint, concatenate, stack.
- ``linalg``: matmul, dot, outer, the fused linear layer, einsum, tensordot, kron.
- ``unary``, ``binary``: NumPy's other ufuncs (inverse trigonometric, hyperbolic, log1p, hypot,
  logaddexp, mod, ...); ``rounding``: sign, floor, ceil, trunc, rint (slope 0).
- ``statistics``: prod, cumsum, cumprod, var, std, average, sort, diff.
- ``arrange``: tile, repeat, flip, roll, pad, moveaxis, triu/tril, diag, trace, ...
- ``matrix``: norm, det, slogdet, inv, solve (``tg.linalg``); ``spectral``: the symmetric
  eigen-decomposition and singular values the matrix norms of order 2, -2, 'nuc' use.
- ``inplace``: ``+=``, ``-=``, ``*=``, ``/=``, ``**=`` and ``t[index] = value``, as PyTorch's.
- ``numpy_interop``: NumPy's ufuncs and functions on Tensors (``__array_ufunc__``, ...).
- ``methods``: Tensor's operators and op methods, bound onto the class.
- ``_util``: helpers the rules share (values, axes, broadcasting a gradient).
"""
from .elementwise import (  # noqa: F401
    absolute, add, astype, clip, cos, div, exp, log, log_sigmoid, maximum, minimum, mul, neg,
    power, relu, sigmoid, sin, sqrt, square, sub, tan, tanh, where,
)
from .inplace import iadd, imul, ipow, isub, itruediv, setitem  # noqa: F401
from .linalg import dot, linear, matmul, outer  # noqa: F401
from .reduce import log_softmax, logsumexp, max, mean, min, softmax, sum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, concatenate, flatten, getitem, reshape, squeeze, stack, swapaxes, transpose,
    unsqueeze,
)
from . import methods  # noqa: F401,E402  (binds Tensor's operators and op methods)
