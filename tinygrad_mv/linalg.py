"""``tg.linalg``: NumPy's ``linalg`` functions on Tensors, differentiable (``tg.linalg.norm``,
``det``, ``slogdet``, ``inv``, ``solve``)."""
from .ops.matrix import *  # noqa: F401,F403
