"""Check every differentiable operation of the core against central finite differences.

For each operation, tg.gradcheck compares the reverse-mode and the forward-mode Jacobians with
central differences (first derivatives), and tg.gradgradcheck does the same for the recorded
backward pass (second derivatives, create_graph=True). Inputs are float64 and kept away from
kinks (relu, abs, max, clip) where a derivative does not exist. Prints a table: operation,
largest absolute error of each check, and whether it passed (|analytic - numerical| <= atol +
rtol * |numerical| everywhere).
Exit status 0 when every check passes, 1 otherwise.

example:
  tinygrad-mv gradcheck
  tinygrad-mv gradcheck --op matmul --op softmax --atol 1e-7
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

HELP = "check every core operation's gradient against central finite differences"


@dataclass
class OpCase:
    """One operation (or one use of it) and float64 inputs at which its derivatives exist."""

    label: str
    fn: Callable[..., Any]
    inputs: tuple


def op_cases() -> list[OpCase]:
    """The core operation set, each used the way users do (broadcasting, axes, indexing)."""
    import tinygrad_mv as tg
    from tinygrad_mv import ops as tg_ops
    from tinygrad_mv.ops import astype
    from tinygrad_mv.ops.inplace import setitem_op
    from tinygrad_mv.ops.shape import _scatter_add

    from .cases import numpy_cases

    rng = np.random.default_rng(7)

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    def positive(*shape: int) -> np.ndarray:
        return rng.uniform(0.5, 2.0, shape)

    def away_from_zero(*shape: int) -> np.ndarray:  # |x| in [0.2, 1.5]: no kink at 0 nearby
        return rng.uniform(0.2, 1.5, shape) * rng.choice([-1.0, 1.0], shape)

    cases_for_newer_ops = []
    log_sigmoid = getattr(tg_ops, "log_sigmoid", None)
    if log_sigmoid is not None:
        cases_for_newer_ops.append(OpCase("log_sigmoid", log_sigmoid, (normal(2, 3) * 3,)))

    distinct = rng.permutation(12).reshape(3, 4) * 0.25 - 1.3  # ties and kinks far apart

    def written_in_place(a: Any, b: Any) -> Any:
        h = a * 1.0  # a non-leaf: its in-place writes are recorded
        h *= b
        h[0] = b[0] ** 2
        h -= a
        return h ** 2
    repeated = np.array([0, 2, 2, 1])
    return [
        OpCase("add (broadcast)", lambda a, b: a + b, (normal(2, 3), normal(3))),
        OpCase("sub (broadcast)", lambda a, b: a - b, (normal(2, 1), normal(1, 3))),
        OpCase("mul (broadcast)", lambda a, b: a * b, (normal(2, 3), normal(2, 1))),
        OpCase("div", lambda a, b: a / b, (normal(2, 3), positive(3))),
        OpCase("neg", lambda a: -a, (normal(4),)),
        OpCase("pow (tensor exponent)", lambda a, b: a ** b, (positive(2, 3), normal(2, 3))),
        OpCase("pow (number exponent)", lambda a: a ** 3, (normal(5),)),
        OpCase("exp", tg.exp, (normal(2, 3),)),
        OpCase("log", tg.log, (positive(2, 3),)),
        OpCase("sqrt", tg.sqrt, (positive(2, 3),)),
        OpCase("sin", tg.sin, (normal(2, 3),)),
        OpCase("cos", tg.cos, (normal(2, 3),)),
        OpCase("tan", tg.tan, (rng.uniform(-1.0, 1.0, (2, 3)),)),
        OpCase("tanh", tg.tanh, (normal(2, 3),)),
        OpCase("sigmoid", tg.sigmoid, (normal(2, 3),)),
        OpCase("square", tg.square, (normal(2, 3),)),
        OpCase("abs", tg.abs, (away_from_zero(2, 3),)),
        OpCase("relu", tg.relu, (away_from_zero(2, 3),)),
        OpCase("clip", lambda a: tg.clip(a, -0.5, 0.5), (distinct,)),
        OpCase("maximum", tg.maximum, (distinct, distinct.T[::-1].reshape(3, 4) + 0.1)),
        OpCase("minimum", tg.minimum, (distinct, distinct.T[::-1].reshape(3, 4) + 0.1)),
        OpCase("where", lambda a, b: tg.where(distinct > 0, a, b), (normal(3, 4), normal(4))),
        OpCase("astype (float64)", lambda a: astype(a, dtype=np.float64) * a, (normal(3),)),
        OpCase("sum (axis)", lambda a: (a * a).sum(axis=1), (normal(3, 4),)),
        OpCase("mean (keepdims)", lambda a: (a * a).mean(axis=0, keepdims=True), (normal(3, 4),)),
        OpCase("max (axis)", lambda a: a.max(axis=1) * a.sum(), (distinct,)),
        OpCase("min (all)", lambda a: a.min() * a, (distinct,)),
        OpCase("logsumexp", lambda a: tg.logsumexp(a, axis=1), (normal(3, 4),)),
        OpCase("softmax", lambda a: tg.softmax(a, axis=-1), (normal(3, 4),)),
        OpCase("log_softmax", lambda a: tg.log_softmax(a, axis=0), (normal(3, 4),)),
        OpCase("matmul (2-D)", lambda a, b: a @ b, (normal(2, 3), normal(3, 4))),
        OpCase("matmul (batched)", lambda a, b: a @ b, (normal(2, 2, 3), normal(3, 2))),
        OpCase("matmul (1-D)", lambda a, b: (a @ b) * a, (normal(3), normal(3, 3))),
        OpCase("dot", lambda a, b: tg.dot(a, b), (normal(3), normal(3))),
        OpCase("outer", tg.outer, (normal(3), normal(2))),
        OpCase("linear", lambda x, w, b: tg.sigmoid(tg.linear(x, w, b)),
               (normal(4, 3), normal(2, 3), normal(2))),
        OpCase("reshape", lambda a: a.reshape(3, 2) * a.reshape(3, 2), (normal(2, 3),)),
        OpCase("transpose", lambda a: a.transpose(2, 0, 1) ** 2, (normal(2, 3, 2),)),
        OpCase("broadcast_to", lambda a: a.broadcast_to((2, 3)) ** 2, (normal(3),)),
        OpCase("squeeze/unsqueeze", lambda a: a.unsqueeze(0).squeeze(2) ** 2, (normal(3, 1),)),
        OpCase("getitem (slice)", lambda a: a[1:, ::2] ** 2, (normal(3, 4),)),
        OpCase("getitem (repeated indices)", lambda a: a[repeated] ** 2, (normal(3),)),
        OpCase("getitem (mask)", lambda a: a[distinct > 0] ** 2, (normal(3, 4),)),
        OpCase("scatter_add", lambda g: _scatter_add(g, shape=(3,), index=repeated) ** 2,
               (normal(4),)),
        OpCase("setitem (repeated indices)",
               lambda a, b: setitem_op(a, b, index=repeated) ** 2, (normal(3), normal(4))),
        OpCase("in-place mul_, setitem, sub_", written_in_place, (normal(2, 3), normal(2, 3))),
        *cases_for_newer_ops,
        OpCase("concatenate", lambda a, b: tg.concatenate([a, b], axis=1) ** 2,
               (normal(2, 2), normal(2, 3))),
        OpCase("stack", lambda a, b: tg.stack([a, b], axis=1) ** 2, (normal(3), normal(3))),
        *numpy_cases(rng),
    ]


def ops_in_graph(root: Any) -> set[str]:
    """Names of the operations recorded in the graph that ends at ``root``."""
    names: set[str] = set()
    if root.grad_fn is None:
        return names
    seen = {id(root.grad_fn)}
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        names.add(node.op)
        for parent in node.parents:
            if parent is not None and hasattr(parent, "op") and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return names


def ops_exercised(case: OpCase) -> set[str]:
    """Operations recorded by the case's forward pass and by its recorded backward pass."""
    import tinygrad_mv as tg

    inputs = [tg.Tensor(a, requires_grad=True) for a in case.inputs]
    out = case.fn(*inputs)
    cotangent = np.random.default_rng(0).standard_normal(out.shape)
    grads = tg.autograd.grad(out, inputs, grad_outputs=cotangent, create_graph=True,
                             allow_unused=True)
    names = ops_in_graph(out)
    for g in grads:
        if g is not None:
            names |= ops_in_graph(g)
    return names


def _number(positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number >= 0 (> 0 with ``positive``): a negative or NaN
    tolerance would pass every check."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0 or positive and value == 0:
            raise argparse.ArgumentTypeError(
                f"must be a finite number {'> 0' if positive else '>= 0'}, got {text!r}")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", action="append", metavar="NAME",
                        help="check only operations whose label contains NAME (repeatable)")
    parser.add_argument("--eps", type=_number(positive=True), default=1e-6,
                        help="finite-difference step (default 1e-6)")
    parser.add_argument("--atol", type=_number(), default=1e-5, help="absolute tolerance "
                        "(default 1e-5)")
    parser.add_argument("--rtol", type=_number(), default=1e-3, help="relative tolerance "
                        "(default 1e-3)")
    parser.add_argument("--first-only", action="store_true",
                        help="skip the second-derivative (gradgradcheck) column")


def run(args: argparse.Namespace) -> int:
    from tinygrad_mv.gradcheck import compare_jacobians, compare_second_jacobians

    cases = op_cases()
    if args.op:
        cases = [c for c in cases if any(name in c.label for name in args.op)]
        if not cases:
            raise ValueError(f"no operation matches {args.op}; labels are: "
                             + ", ".join(c.label for c in op_cases()))
    width = max(len(c.label) for c in cases)
    second = not args.first_only
    header = f"{'operation':<{width}}  {'max |error| grad':>16}  {'forward mode':>12}"
    if second:
        header += f"  {'max |error| grad of grad':>24}"
    print(f"gradcheck: reverse and forward mode vs central differences (eps={args.eps:g}, "
          f"atol={args.atol:g}, rtol={args.rtol:g})")
    print(header + "  pass")
    print("-" * (len(header) + 6))
    failures = []
    for case in cases:
        first = compare_jacobians(case.fn, case.inputs, args.eps, args.atol, args.rtol)
        forward = compare_jacobians(case.fn, case.inputs, args.eps, args.atol, args.rtol,
                                    mode="fwd")
        line = (f"{case.label:<{width}}  {first.max_abs_error:>16.2e}"
                f"  {forward.max_abs_error:>12.2e}")
        ok = first.passed and forward.passed
        problems = [] if first.passed else [first.message(f"{case.label} (gradcheck)")]
        if not forward.passed:
            problems.append(forward.message(f"{case.label} (forward mode)"))
        if second:
            again = compare_second_jacobians(case.fn, case.inputs, None, args.eps, args.atol,
                                             args.rtol)
            line += f"  {again.max_abs_error:>24.2e}"
            ok = ok and again.passed
            if not again.passed:
                problems.append(again.message(f"{case.label} (gradgradcheck)"))
        print(f"{line}  {'yes' if ok else 'NO'}")
        failures.extend(problems)
    print("-" * (len(header) + 6))
    if failures:
        print(f"{len(failures)} check(s) FAILED:")
        for message in failures:
            print(f"  {message}")
        return 1
    print(f"all {len(cases)} cases pass")
    if not args.op:
        return _check_coverage(cases)
    return 0


def _check_coverage(cases: list[OpCase]) -> int:
    """Every core operation in the registry that primitive() fills must be exercised."""
    from tinygrad_mv import autograd

    core = set(autograd.core_ops())
    missing = core - set().union(*(ops_exercised(c) for c in cases))
    if missing:
        print(f"registered core operations no case exercises: {', '.join(sorted(missing))}")
        return 1
    print(f"the cases exercise all {len(core)} registered core operations")
    return 0
