"""tinygrad_mv: a small, honest reverse-mode automatic differentiation framework on NumPy."""
from . import memory  # noqa: F401  (the heap keeps what it frees: see memory.py)
from . import autograd  # first: tensor.py imports it
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import (
    absolute as abs, add, clip, concatenate, cos, div, dot, exp, flatten, linear, log,
    log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mul, neg, outer, power,
    relu, reshape, sigmoid, log_sigmoid, sin, softmax, sqrt, square, squeeze, stack, sub, sum,
    tan, tanh, transpose, unsqueeze, where, broadcast_to,
)
# NumPy coverage: each family lists its public names in __all__
from .ops.unary import *  # noqa: F401,F403
from .ops.binary import *  # noqa: F401,F403
from .ops.rounding import *  # noqa: F401,F403
from .ops.statistics import *  # noqa: F401,F403
from .ops.arrange import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from . import linalg
from .tensor import Tensor
from .creation import (
    arange, eye, full, linspace, ones, ones_like, rand, randn, tensor, zeros, zeros_like,
)

from .functional import grad, jacobian, value_and_grad, vjp
from .forward_mode import hessian, hvp, jacfwd, jacrev, jvp, linearize
from .autograd import primitive
from . import forward_ad

# checking derivatives
from .functional import taylor
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_jacobian
# nn, optim, save/load, datasets
from . import nn, optim
from .serialization import load, save
from . import datasets
# optimize
from . import optimize
# graphs
from .viz import draw_graph, graph_text
from . import onnx

# compiled replay of recorded functions
from .tracing import JitError, jit

__version__ = "0.1.0"
