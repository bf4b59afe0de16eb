"""A small, safe expression language for the command line: ``"sin(x)*y + x**2"``.

The text is parsed with :mod:`ast` and every syntax node is checked against a whitelist before
anything is evaluated: numbers, names of inputs, ``+ - * / **``, unary ``-``/``+`` and calls to a
fixed set of ``tg`` functions. There is no ``eval``: the checked tree is walked and each node is
mapped to a differentiable operation, so the result is a Tensor with a recorded graph.

Errors are :class:`ExpressionError` (a ``ValueError``) naming the position in the text, e.g.::

    attribute access ('.path') is not allowed, at position 7
      sin(x).path
            ^
"""
from __future__ import annotations

import ast
import math
import re
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["ExpressionError", "Expression", "parse_expression", "parse_assignments",
           "FUNCTIONS", "CONSTANTS"]

MAX_LENGTH = 500          # characters of expression text
MAX_SYNTAX_NODES = 300    # ast nodes: bounds the work and the size of the graph
MAX_DEPTH = 60            # nesting depth: keeps the checker and evaluator far from recursion limits
MAX_CONSTANT = 1e15       # absolute value of a number written in the expression or in --at
MAX_EXPONENT = 100        # absolute value of a constant exponent in a ** b
MAX_VECTOR = 10_000       # elements of one --at vector


class ExpressionError(ValueError):
    """A bad expression or input assignment; ``position`` is the 1-based column (or None)."""

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.reason = message
        self.text = text
        self.position = position
        full = message
        if position is not None:
            full += f", at position {position}"
            if text and "\n" not in text and len(text) <= 120:
                full += f"\n  {text}\n  {' ' * (position - 1)}^"
        super().__init__(full)


def _functions() -> dict[str, tuple[Callable[..., Any], int]]:
    import tinygrad_mv as tg
    return {name: (getattr(tg, name), arity) for name, arity in FUNCTIONS.items()}


# Name -> arity; the callables are looked up lazily (this module is imported by the package).
FUNCTIONS: dict[str, int] = {
    **{name: 1 for name in ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
                            "abs", "square", "sum", "mean", "max", "min", "logsumexp")},
    "maximum": 2, "minimum": 2, "dot": 2,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}
_OPERATOR_WORDS = {
    ast.MatMult: "'@' (matrix product; use dot(a, b))", ast.FloorDiv: "'//'", ast.Mod: "'%'",
    ast.LShift: "'<<'", ast.RShift: "'>>'", ast.BitOr: "'|'", ast.BitAnd: "'&'",
    ast.BitXor: "'^' (for powers write **)", ast.Invert: "'~'", ast.Not: "'not'",
}
_CONSTRUCT_WORDS = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Compare: "a comparison",
    ast.BoolOp: "'and'/'or'", ast.IfExp: "a conditional expression", ast.Lambda: "lambda",
    ast.List: "a list (give vector inputs as x=[1,2,3])", ast.Tuple: "a tuple",
    ast.Dict: "a dictionary", ast.Set: "a set", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression", ast.Starred: "'*' unpacking",
    ast.JoinedStr: "an f-string", ast.NamedExpr: "':=' assignment", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice",
}


def _position(text: str, node: ast.AST) -> int:
    """1-based character column of ``node`` (ast gives UTF-8 byte offsets)."""
    byte_offset = getattr(node, "col_offset", 0)
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore")) + 1


class Expression:
    """A checked expression; call :meth:`evaluate` with the input values."""

    def __init__(self, text: str, tree: ast.Expression, variables: tuple[str, ...]) -> None:
        self.text = text
        self._tree = tree
        self.variables = variables  # input names in order of first appearance

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, variables={self.variables})"

    def __call__(self, **inputs: Any) -> Any:
        return self.evaluate(inputs)

    def evaluate(self, inputs: Mapping[str, Any], keep: list | None = None) -> Any:
        """The expression's value as a Tensor recorded on the tape.

        ``inputs`` maps each variable to a Tensor, array or number (non-Tensors become constant
        Tensors). With ``keep`` (a list), every intermediate Tensor is appended to it and named
        after its piece of the expression, so a graph drawn while ``keep`` lives shows those names
        and values. A value that becomes infinite or NaN raises :class:`ExpressionError` naming the
        sub-expression and its position.
        """
        from .tensor import Tensor
        missing = [name for name in self.variables if name not in inputs]
        if missing:
            raise ExpressionError(f"no value given for {', '.join(map(repr, missing))} (the "
                                  f"expression uses {', '.join(self.variables)})")
        values = {name: value if isinstance(value, Tensor) else Tensor(value, name=name)
                  for name, value in inputs.items() if name in self.variables}
        table = _functions()
        with np.errstate(all="ignore"):
            return _Evaluator(self.text, values, table, keep).visit(self._tree.body)


class _Evaluator:
    def __init__(self, text: str, values: dict[str, Any], table: dict, keep: list | None) -> None:
        self.text = text
        self.values = values
        self.table = table
        self.keep = keep

    def visit(self, node: ast.AST) -> Any:
        import tinygrad_mv as tg
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.values:
                return self.values[node.id]
            return CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.UAdd):
                return operand
            if isinstance(operand, float):  # -2 is a number, not an operation on the tape
                return -operand
            return self._checked(node, tg.neg(operand), (operand,))
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            op = {ast.Add: tg.add, ast.Sub: tg.sub, ast.Mult: tg.mul, ast.Div: tg.div,
                  ast.Pow: tg.power}[type(node.op)]
            return self._checked(node, op(left, right), (left, right))
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        args = [self.visit(a) for a in node.args]
        fn = self.table[node.func.id][0]
        try:
            result = fn(*args)
        except ValueError as exc:
            raise ExpressionError(f"{node.func.id}(): {exc}", self.text,
                                  _position(self.text, node)) from exc
        return self._checked(node, result, args)

    def _checked(self, node: ast.AST, result: Any, operands: tuple | list) -> Any:
        data = np.asarray(result.data)
        if not np.isfinite(data).all() and all(np.isfinite(np.asarray(
                o.data if hasattr(o, "data") else o)).all() for o in operands):
            segment = ast.get_source_segment(self.text, node) or "this part"
            raise ExpressionError(f"'{segment}' is not finite at these inputs (inf or NaN: an "
                                  "overflow, or a value outside the function's domain)",
                                  self.text, _position(self.text, node))
        if self.keep is not None:
            if result.name is None:
                segment = ast.get_source_segment(self.text, node) or ""
                result.name = segment if len(segment) <= 28 else segment[:25] + "..."
            self.keep.append(result)
        return result


def parse_expression(text: str, variables: Any = None) -> Expression:
    """Check ``text`` against the whitelist and return an :class:`Expression`.

    ``variables`` (optional): the allowed input names; any other name is refused. Without it,
    every name that is neither a function nor a constant (``pi``, ``e``) is an input.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; at most "
                              f"{MAX_LENGTH} are accepted")
    if "\n" in text or "\r" in text:
        raise ExpressionError("the expression must be a single line", text,
                              min(i for i in (text.find("\n"), text.find("\r")) if i >= 0) + 1)
    source = text.strip()
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        column = (exc.offset or 1) + lead
        reason = "invalid syntax" if exc.msg == "invalid syntax" else f"invalid syntax: {exc.msg}"
        raise ExpressionError(reason, text, column) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ExpressionError(f"cannot parse the expression: {exc}") from None
    allowed = None if variables is None else set(variables)
    found: list[str] = []
    _check(tree.body, source, allowed, found, lead)
    return Expression(source, tree, tuple(found))


def _check(root: ast.AST, text: str, allowed: set | None, found: list[str], lead: int) -> None:
    """Walk the tree (iteratively) and refuse anything outside the whitelist."""
    count = 0
    stack: list[tuple[ast.AST, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, is_callee = stack.pop()
        count += 1

        def fail(message: str, at: ast.AST = node) -> None:
            raise ExpressionError(message, " " * lead + text, _position(text, at) + lead)

        if count > MAX_SYNTAX_NODES:
            fail(f"the expression is too large (more than {MAX_SYNTAX_NODES} parts)")
        if depth > MAX_DEPTH:
            fail(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = "strings" if isinstance(value, (str, bytes)) else repr(value)
                fail(f"only numbers are allowed as constants, not {kind}")
            if isinstance(value, int) and abs(value) > MAX_CONSTANT:
                fail(f"the constant has {len(str(abs(value)))} digits; numbers larger than "
                     f"{MAX_CONSTANT:g} are refused")
            if not math.isfinite(value) or abs(value) > MAX_CONSTANT:
                fail(f"the constant {value!r} is too large (at most {MAX_CONSTANT:g} in "
                     "absolute value)")
        elif isinstance(node, ast.Name):
            name = node.id
            if name.startswith("_"):
                fail(f"names starting with '_' are not allowed ('{name}')")
            if name in FUNCTIONS and not is_callee:
                fail(f"'{name}' is a function: call it as {name}(...)")
            if name in CONSTANTS or is_callee:
                continue
            if allowed is not None and name not in allowed:
                given = ", ".join(sorted(allowed)) or "none"
                fail(f"unknown name '{name}' (inputs given: {given}; functions: "
                     f"{', '.join(sorted(FUNCTIONS))}; constants: pi, e)")
            if name not in found:
                found.append(name)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                word = _OPERATOR_WORDS.get(type(node.op), type(node.op).__name__)
                fail(f"the operator {word} is not allowed (allowed: + - * / ** and unary -)",
                     node.right if hasattr(node, "right") else node)
            if isinstance(node.op, ast.Pow):
                exponent = node.right
                if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.operand,
                                                                    ast.Constant):
                    exponent = exponent.operand
                if (isinstance(exponent, ast.Constant) and isinstance(exponent.value, (int, float))
                        and not isinstance(exponent.value, bool)
                        and abs(exponent.value) > MAX_EXPONENT):
                    fail(f"the exponent {exponent.value!r} is too large (at most {MAX_EXPONENT} "
                         "in absolute value)", node.right)
            stack.append((node.right, depth + 1, False))
            stack.append((node.left, depth + 1, False))
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                fail(f"the operator {_OPERATOR_WORDS.get(type(node.op), '?')} is not allowed "
                     "(allowed: + - * / ** and unary -)")
            stack.append((node.operand, depth + 1, False))
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name):
                if isinstance(func, ast.Attribute):
                    fail(f"attribute access ('.{func.attr}') is not allowed",
                         _attribute_dot(text, func))
                fail("only calls to named functions are allowed, like sin(x)")
            name = func.id
            if name not in FUNCTIONS:
                fail(f"unknown function '{name}' (allowed: {', '.join(sorted(FUNCTIONS))})")
            if node.keywords:
                fail(f"{name}() takes no keyword arguments", node.keywords[0])
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    fail("'*' unpacking is not allowed", arg)
            arity = FUNCTIONS[name]
            if len(node.args) != arity:
                hint = " (for the elementwise maximum of two values use maximum(a, b))" if (
                    name in ("max", "min") and len(node.args) == 2) else ""
                fail(f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, got "
                     f"{len(node.args)}{hint}")
            for arg in reversed(node.args):
                stack.append((arg, depth + 1, False))
            stack.append((func, depth + 1, True))
        else:
            if isinstance(node, ast.Attribute):
                fail(f"attribute access ('.{node.attr}') is not allowed",
                     _attribute_dot(text, node))
            word = _CONSTRUCT_WORDS.get(type(node), type(node).__name__)
            fail(f"{word} is not allowed in an expression")


def _attribute_dot(text: str, node: ast.Attribute) -> ast.AST:
    """A stand-in node positioned at the '.' of an attribute access (clearer than its start)."""
    end = getattr(node.value, "end_col_offset", None)
    marker = ast.Name(id="", ctx=ast.Load())
    marker.col_offset = end if end is not None else node.col_offset
    return marker


_ASSIGNMENT = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$", re.S)


def parse_assignments(text: str) -> dict[str, np.ndarray]:
    """``"x=1.0,y=2.0"`` or ``"x=[1,2,3], y=2"`` as ``{name: float64 array}``.

    Scalars and flat vectors only; numbers must be finite and at most 1e15 in absolute value.
    """
    values: dict[str, np.ndarray] = {}
    for part, start in _split_top_level(text):
        match = _ASSIGNMENT.fullmatch(part)
        if not match or not match.group(2):
            raise ExpressionError(f"expected name=value, got {part.strip()!r}", text,
                                  start + 1)
        name, raw = match.group(1), match.group(2)
        if name in FUNCTIONS or name in CONSTANTS:
            raise ExpressionError(f"'{name}' is a function or constant name and cannot be an "
                                  "input", text, start + 1)
        if name in values:
            raise ExpressionError(f"'{name}' is given twice", text, start + 1)
        values[name] = _parse_value(name, raw, text, start + part.index("=") + 2)
    if not values:
        raise ExpressionError("no inputs given (expected e.g. x=1.0,y=[1,2,3])")
    return values


def _split_top_level(text: str) -> list[tuple[str, int]]:
    """Split on commas outside brackets; returns (piece, start offset) pairs."""
    pieces, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
            if depth > 1:
                raise ExpressionError("only scalars and flat vectors like [1,2,3] are accepted",
                                      text, i + 1)
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise ExpressionError("unbalanced ']'", text, i + 1)
        elif char == "," and depth == 0:
            pieces.append((text[start:i], start))
            start = i + 1
    if depth:
        raise ExpressionError("unclosed '['", text, len(text))
    pieces.append((text[start:], start))
    return [(p, s) for p, s in pieces if p.strip()]


def _parse_value(name: str, raw: str, text: str, position: int) -> np.ndarray:
    vector = raw.startswith("[")
    if vector:
        if not raw.endswith("]"):
            raise ExpressionError(f"{name}: expected a vector like [1,2,3]", text, position)
        items = [s for s in raw[1:-1].split(",")]
        if len(items) == 1 and not items[0].strip():
            raise ExpressionError(f"{name}: the vector is empty", text, position)
        if len(items) > MAX_VECTOR:
            raise ExpressionError(f"{name}: at most {MAX_VECTOR} elements", text, position)
    else:
        items = [raw]
    numbers = []
    for item in items:
        item = item.strip()
        try:
            number = float(item)
        except ValueError:
            raise ExpressionError(f"{name}: {item!r} is not a number", text, position) from None
        if not math.isfinite(number) or abs(number) > MAX_CONSTANT:
            raise ExpressionError(f"{name}: {item} is not a finite number of at most "
                                  f"{MAX_CONSTANT:g} in absolute value", text, position)
        numbers.append(number)
    return np.array(numbers if vector else numbers[0], dtype=np.float64)
