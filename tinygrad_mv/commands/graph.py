"""Draw the computation graph of a model or of an expression, forwards or backwards.

Examples:
  tinygrad-mv graph                                   # the 1-6-7-2 curve network -> graph.svg
  tinygrad-mv graph --model gaussian --format png --out gaussian.png
  tinygrad-mv graph --model "sin(x)*y + x**2" --at x=1.0,y=2.0 --backward
  tinygrad-mv graph --model "sum(exp(x)*w)" --at "x=[1,2,3],w=[0.5,0.2,0.1]" --format text

An expression may use numbers, input names, + - * / **, unary -, the constants pi and e, and the
functions abs cos dot exp log logsumexp max maximum mean min minimum relu sigmoid sin sqrt square
sum tan tanh. It is parsed safely (no eval); a mistake is reported with its position.
The graph is drawn after a backward pass with retain_graph=True, so it shows every value and
the inputs' gradients (and, with --backward, the gradient at every step).
svg and png need the Graphviz 'dot' program; dot and text do not.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from tinygrad_mv.files import write_atomically

HELP = "draw the computation graph of a model or an expression (svg, png, dot or text)"

FORMATS = ("svg", "png", "dot", "text")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="curve", metavar="curve|gaussian|EXPR",
                        help="'curve' (the 1-6-7-2 sigmoid network and its sum-of-squares cost), "
                             "'gaussian' (the chi-squared cost of a Gaussian fit) or an "
                             "expression such as \"sin(x)*y + x**2\" (default: curve)")
    parser.add_argument("--at", default=None, metavar="NAME=VALUE,...",
                        help="input values for an expression: scalars or vectors, e.g. "
                             "x=1.0,y=2.0 or \"x=[1,2,3],y=0.5\"")
    parser.add_argument("--format", choices=FORMATS, default="svg",
                        help="output format (default: svg)")
    parser.add_argument("--backward", action="store_true",
                        help="draw the reverse pass: which gradient flows into which input "
                             "through which local derivative")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="output file (default: graph.FORMAT; '-' writes to standard "
                             "output; text goes to standard output by default)")
    parser.add_argument("--collapse", action="store_true",
                        help="draw each layer of a model as a single node")
    parser.add_argument("--max-nodes", type=_positive_int, default=2000,
                        help="refuse to draw more nodes than this (default: 2000)")


# --- the course's two models, built from core operations ---------------------------------------

def curve_network(points: int = 4, seed: int = 0) -> tuple[Any, list[Any]]:
    """The 1-6-7-2 sigmoid network evaluated on a few points of a curve, and its sum-of-squares
    cost C = sum |a3 - y|^2. Returns (cost, tensors to keep alive while drawing)."""
    import tinygrad_mv as tg
    from tinygrad_mv.viz import scope

    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, points).reshape(-1, 1)
    target = np.hstack([0.5 + 0.4 * np.cos(np.pi * t), 0.5 + 0.4 * np.sin(np.pi * t)])
    x = tg.Tensor(t, name="x")
    y = tg.Tensor(target, name="y")
    sizes = [1, 6, 7, 2]
    params = []
    for k in range(3):
        n_in, n_out = sizes[k], sizes[k + 1]
        weight = tg.Tensor(rng.standard_normal((n_out, n_in)) / np.sqrt(n_in),
                           requires_grad=True, name=f"W{k + 1}")
        bias = tg.Tensor(rng.standard_normal(n_out) * 0.1, requires_grad=True, name=f"b{k + 1}")
        params += [weight, bias]
    activation = x
    kept = [x, y, *params]
    for k in range(3):
        with scope(f"layer {k + 1}"):
            z = tg.linear(activation, params[2 * k], params[2 * k + 1])
            z.name = f"z{k + 1}"
            activation = tg.sigmoid(z)
            activation.name = f"a{k + 1}"
        kept += [z, activation]
    with scope("cost"):
        diff = activation - y
        diff.name = "a3 - y"
        cost = (diff ** 2).sum()
        cost.name = "C"
    kept.append(diff)
    return cost, kept


def gaussian_cost(seed: int = 0) -> tuple[Any, list[Any]]:
    """chi^2(mu, sigma) = sum_i (y_i - f(x_i))^2 for the Gaussian
    f(x) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi)), on six noisy data points."""
    import tinygrad_mv as tg

    rng = np.random.default_rng(seed)
    xs = np.linspace(-2.5, 2.5, 6)
    true_mu, true_sigma = 0.3, 1.1
    ys = np.exp(-(xs - true_mu) ** 2 / (2 * true_sigma ** 2)) / (true_sigma * np.sqrt(2 * np.pi))
    ys = ys + 0.01 * rng.standard_normal(xs.shape)
    x = tg.Tensor(xs, name="x")
    y = tg.Tensor(ys, name="y")
    mu = tg.Tensor(0.0, requires_grad=True, name="mu")
    sigma = tg.Tensor(1.0, requires_grad=True, name="sigma")
    shift = x - mu
    shift.name = "x - mu"
    exponent = -(shift ** 2) / (2 * sigma ** 2)
    exponent.name = "exponent"
    f = tg.exp(exponent) / (sigma * np.sqrt(2 * np.pi))
    f.name = "f(x)"
    residual = y - f
    residual.name = "y - f"
    chi2 = (residual ** 2).sum()
    chi2.name = "chi2"
    return chi2, [x, y, mu, sigma, shift, exponent, f, residual]


def _expression(text: str, at: str | None) -> tuple[Any, list[Any]]:
    import tinygrad_mv as tg
    from tinygrad_mv.expr import ExpressionError, parse_assignments, parse_expression

    values = parse_assignments(at) if at else {}
    expression = parse_expression(text, variables=values if at else None)
    missing = [name for name in expression.variables if name not in values]
    if missing:
        raise ExpressionError(f"the expression uses {', '.join(missing)}: give "
                              f"{'its value' if len(missing) == 1 else 'their values'} with "
                              f"--at, e.g. --at {','.join(f'{m}=1.0' for m in missing)}")
    inputs = {name: tg.Tensor(values[name], requires_grad=True, name=name)
              for name in expression.variables}
    kept: list[Any] = list(inputs.values())
    root = expression.evaluate(inputs, keep=kept)
    if not isinstance(root, tg.Tensor):  # a bare number
        root = tg.Tensor(root)
    if root.grad_fn is not None or not root.requires_grad:  # not an input itself
        root.name = "f"
    return root, kept


def build(model: str, at: str | None) -> tuple[Any, list[Any], str]:
    """The root tensor, the tensors to keep alive, and a description."""
    if model == "curve":
        if at:
            raise ValueError("--at gives the inputs of an expression; the curve model has none")
        root, kept = curve_network()
        return root, kept, "the 1-6-7-2 sigmoid network's cost on 4 points of a curve"
    if model == "gaussian":
        if at:
            raise ValueError("--at gives the inputs of an expression; the gaussian model has "
                             "none")
        root, kept = gaussian_cost()
        return root, kept, "the chi-squared cost of a Gaussian fit"
    root, kept = _expression(model, at)
    return root, kept, f"f = {model}"


def run(args: argparse.Namespace) -> int:
    import tinygrad_mv as tg
    from tinygrad_mv.viz import GraphvizNotInstalled

    if args.format == "text" and (args.backward or args.collapse):
        flag = "--backward" if args.backward else "--collapse"
        print(f"tinygrad-mv graph: error: {flag} applies to pictures (svg, png, dot); the text "
              "tree has no such view", file=sys.stderr)
        return 2
    root, kept, description = build(args.model, args.at)
    if root.requires_grad:
        # Keep the saved buffers so the picture shows every value and gradient.
        seed = None if root.size == 1 else tg.ones(root.shape)
        root.backward(seed, retain_graph=True)
    out = args.out
    if args.format == "text":
        text = tg.graph_text(root, max_nodes=args.max_nodes, constants=kept)
        if out is None or out == "-":
            print(text)
        else:
            _write(out, text.encode("utf-8") + b"\n")
            print(f"wrote {out}: {description}")
        return 0
    graph = tg.draw_graph(root, backward=args.backward, collapse=args.collapse,
                          max_nodes=args.max_nodes, constants=kept,
                          title=description + ("" if root.size == 1 else
                                               " (gradients of the sum of its elements)"))
    if args.format == "dot":
        if out == "-":
            sys.stdout.write(graph.source)
            return 0
        data = graph.source.encode("utf-8")
    else:
        try:
            data = graph.pipe(format=args.format)
        except GraphvizNotInstalled as exc:
            print(f"tinygrad-mv graph: error: {exc}\nOr write the DOT source with --format dot "
                  "(or a text tree with --format text).", file=sys.stderr)
            return 2
    if out == "-":  # (svg or png: bytes, not a file named '-')
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    out = out or f"graph.{args.format}"
    _write(out, data)
    kind = "backward pass" if args.backward else "graph"
    print(f"wrote {out}: the {kind} of {description}; value {_value_text(root)}")
    return 0


def _value_text(root: Any) -> str:
    from tinygrad_mv.viz.labels import _summary
    return _summary(root.data)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _write(path: str, data: bytes) -> None:
    try:
        write_atomically(path, lambda handle: handle.write(data), "graph")
    except OSError as exc:
        if exc.strerror is None:  # write_atomically's own message, which names the path
            raise
        raise OSError(f"cannot write {path}: {exc.strerror}") from exc
