"""What the pictures know about each operation, by name: the roles of its inputs, which are
commutative or elementwise, its local derivatives and its short formula.
"""
from __future__ import annotations

# Names of the inputs of operations whose argument order matters (drawn on the edges).
_ROLES: dict[str, tuple[str, ...]] = {
    "sub": ("a", "b"), "div": ("numerator", "denominator"), "pow": ("base", "exponent"),
    "matmul": ("left", "right"), "linear": ("x", "weight", "bias"),
    "where": ("if true", "if false", "condition"), "maximum": ("a", "b"), "minimum": ("a", "b"),
    "squared_error": ("prediction", "target"), "binary_cross_entropy": ("prediction", "target"),
    "cross_entropy": ("logits", "target"), "gaussian_pdf": ("x", "mu", "sigma"),
}
_COMMUTATIVE = {"add", "mul"}
_ELEMENTWISE = {"add", "sub", "mul", "div", "pow", "maximum", "minimum", "where"}

# Local derivatives, as the rule applies them: {0}, {1}, ... are the inputs' names.
_LOCAL: dict[str, tuple[str, ...]] = {
    "add": ("g", "g"), "sub": ("g", "-g"), "mul": ("g·{1}", "g·{0}"),
    "div": ("g / {1}", "-g·{0} / {1}²"), "neg": ("-g",),
    "pow": ("g·{1}·{0}^({1}-1)", "g·{0}^{1}·ln {0}"),
    "exp": ("g·exp({0})",), "log": ("g / {0}",), "sqrt": ("g / (2·sqrt({0}))",),
    "sin": ("g·cos({0})",), "cos": ("-g·sin({0})",), "tan": ("g / cos²({0})",),
    "tanh": ("g·(1 - tanh²({0}))",), "sigmoid": ("g·σ({0})·(1 - σ({0}))",),
    "relu": ("g·[{0} > 0]",), "abs": ("g·sign({0})",), "square": ("2·g·{0}",),
    "clip": ("g·[lo ≤ {0} ≤ hi]",),
    "maximum": ("g·[{0} ≥ {1}] (ties share)", "g·[{1} ≥ {0}] (ties share)"),
    "minimum": ("g·[{0} ≤ {1}] (ties share)", "g·[{1} ≤ {0}] (ties share)"),
    "where": ("g where condition", "g where not condition"),
    "matmul": ("g @ {1}ᵀ", "{0}ᵀ @ g"), "linear": ("g @ {1}", "gᵀ @ {0}", "Σ g over rows"),
    "sum": ("g copied to every element",), "mean": ("g / n to every element",),
    "max": ("g to the maximum (ties share)",), "min": ("g to the minimum (ties share)",),
    "logsumexp": ("g·softmax({0})",), "softmax": ("s·(g - Σ g·s), s = softmax",),
    "log_softmax": ("g - softmax({0})·Σ g",), "reshape": ("g reshaped back",),
    "transpose": ("g transposed back",), "broadcast_to": ("g summed over broadcast axes",),
    "getitem": ("g placed into zeros at the index",), "scatter_add": ("g at the index",),
    "astype": ("g cast back",),
    "squared_error": ("2·g·({0} - {1})", "-2·g·({0} - {1})"),
    "gaussian_pdf": ("-g·f·({0} - {1}) / {2}²", "g·f·({0} - {1}) / {2}²",
                     "g·f·(z² - 1) / {2}, z = ({0} - {1}) / {2}"),
}

# Short formulas for naming unnamed intermediate results in the backward view ("sin(x·y)").
_FORMULAS = {"add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0}·{1}", "div": "{0}/{1}",
             "neg": "-{0}", "pow": "{0}^{1}", "square": "{0}²", "matmul": "{0} @ {1}",
             "linear": "linear({0})"}
