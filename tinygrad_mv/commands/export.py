"""Export a model, or its gradient, to an ONNX file that ONNX Runtime (or Netron) opens.

  --model curve      the 1-6-7-2 sigmoid network, trained on the heart curve first (--steps of
                     Adam); input t of shape (N, 1), output the points (N, 2); its weights are
                     initializers named as in state_dict(). With --grad: the course's cost and
                     its gradient with respect to every weight and bias, which are then inputs.
  --model gaussian   the chi-squared of a Gaussian fitted to the heights histogram, a function
                     of mu and sigma (--at mu=...,sigma=... sets the example point); with --grad
                     its value and gradient.
  --model EXPR       an expression as the graph command takes it, with its inputs from --at;
                     with --grad its value and its gradient with respect to every input.

Needs the onnx extra: pip install "tinygrad_mv[onnx]".

examples:
  tinygrad-mv export --model curve --out curve.onnx
  tinygrad-mv export --model gaussian --grad --out chi2.onnx
  tinygrad-mv export --model "sum(exp(x)*w)" --at "x=[1,2,3],w=[0.5,0.2,0.1]" --grad --out f.onnx
"""
from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

HELP = "export a model, an expression or their gradient to an ONNX file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="curve", metavar="curve|gaussian|EXPR",
                        help="'curve', 'gaussian' or an expression (default: curve)")
    parser.add_argument("--at", default=None, metavar="NAME=VALUE,...",
                        help="example inputs: an expression's values, or mu=...,sigma=... for "
                             "the gaussian model")
    parser.add_argument("--out", required=True, metavar="FILE.onnx", help="the file to write")
    parser.add_argument("--grad", action="store_true",
                        help="export the value and its gradient (forward and reverse pass)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="training steps for the curve network before export (default 2000)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18)")


def curve(steps: int, grad: bool) -> tuple[Callable, tuple, list[str], str]:
    """The trained curve network (a Module), or its cost's value and gradient as a function of
    the input and every parameter."""
    import tinygrad_mv as tg
    from tinygrad_mv import datasets
    from tinygrad_mv.apps import curve as app

    t, xy = datasets.curve("heart")
    model = app.train_curve(t, xy, "adam", steps=steps, progress=False).model
    if not grad:
        return model, (t,), ["t"], f"the 1-6-7-2 network trained for {steps} Adam steps"
    state = model.state_dict()
    cost = app.cost_of_parameters(xy)

    def state_array(value: Any) -> np.ndarray:
        return np.asarray(getattr(value, "data", value))

    names = list(state)
    function = tg.value_and_grad(cost, argnums=tuple(range(1, len(names) + 1)))
    return (function, (t, *(state_array(state[n]) for n in names)), ["t", *names],
            "the curve network's cost and its gradient with respect to every parameter")


def gaussian(at: str | None, grad: bool) -> tuple[Callable, tuple, list[str], str]:
    import tinygrad_mv as tg
    from tinygrad_mv import datasets
    from tinygrad_mv.apps import gaussian as app
    from tinygrad_mv.expr import parse_assignments

    centres, density, _ = app.histogram(datasets.heights())
    point = {"mu": np.array(app.MU0), "sigma": np.array(app.SIGMA0)}
    if at:
        given = parse_assignments(at)
        unknown = set(given) - set(point)
        if unknown:
            raise ValueError(f"--at for the gaussian model takes mu and sigma, not "
                             f"{', '.join(sorted(unknown))}")
        point.update({k: np.asarray(v, dtype=np.float64) for k, v in given.items()})

    def chi2(mu: Any, sigma: Any) -> Any:
        return app.chi_squared(app.gaussian_pdf, centres, density, mu, sigma)

    function = tg.value_and_grad(chi2, argnums=(0, 1)) if grad else chi2
    return (function, (point["mu"], point["sigma"]), ["mu", "sigma"],
            "chi-squared of the Gaussian fit to the heights histogram")


def expression(text: str, at: str | None, grad: bool) -> tuple[Callable, tuple, list[str], str]:
    import tinygrad_mv as tg
    from tinygrad_mv.expr import ExpressionError, parse_assignments, parse_expression

    values = parse_assignments(at) if at else {}
    parsed = parse_expression(text, variables=values if at else None)
    missing = [name for name in parsed.variables if name not in values]
    if missing:
        raise ExpressionError(f"the expression uses {', '.join(missing)}: give their values "
                              f"with --at, e.g. --at {','.join(f'{m}=1.0' for m in missing)}")
    names = list(parsed.variables)
    if grad and not names:
        raise ExpressionError(f"--grad: {text!r} has no inputs to differentiate with respect to")

    def function(*inputs: Any) -> Any:
        out = parsed.evaluate(dict(zip(names, inputs)))
        return out if isinstance(out, tg.Tensor) else tg.Tensor(out)

    if grad:
        function = tg.value_and_grad(function, argnums=tuple(range(len(names))))
    return function, tuple(values[n] for n in names), names, f"f = {text}"


def run(args: argparse.Namespace) -> int:
    import sys

    import tinygrad_mv as tg

    try:
        import onnx  # noqa: F401  (checked before training anything)
    except ImportError:
        print('tinygrad-mv export: error: exporting needs the onnx and onnxruntime packages: '
              'pip install "tinygrad_mv[onnx]"', file=sys.stderr)
        return 2

    if args.model == "curve":
        if args.at:
            raise ValueError("--at gives example inputs of an expression or of the gaussian "
                             "model; the curve network's input is the curve's 100 points")
        if args.steps < 0:
            raise ValueError(f"--steps must be non-negative, got {args.steps}")
        function, inputs, names, what = curve(args.steps, args.grad)
    elif args.model == "gaussian":
        function, inputs, names, what = gaussian(args.at, args.grad)
    else:
        function, inputs, names, what = expression(args.model, args.at, args.grad)
    outputs = None
    if args.grad:  # the curve's input t is data, not differentiated
        outputs = ["value"] + [f"grad_{n}" for n in (names[1:] if args.model == "curve"
                                                     else names)]
    try:
        path = tg.onnx.export(function, inputs, args.out, input_names=names,
                              output_names=outputs, opset=args.opset)
    except tg.onnx.ExportError as exc:
        raise ValueError(str(exc)) from None
    print(f"wrote {path}: {what}")
    print(f"  inputs : {', '.join(f'{n} {np.shape(x)}' for n, x in zip(names, inputs))}")
    print(f"  outputs: {', '.join(outputs) if outputs else 'the value'}")
    return 0
