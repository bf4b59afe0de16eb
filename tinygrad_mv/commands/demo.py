"""Tour the chain rule: a small function of two variables, its partial derivatives by reverse mode,
and the same numbers by central finite differences."""
from __future__ import annotations

import argparse

import numpy as np

HELP = "run the main demonstration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="tinygrad_mv_out", help="folder for the files it writes")


def run(args: argparse.Namespace) -> int:
    import tinygrad_mv as tg

    x = tg.Tensor(1.5, requires_grad=True, name="x")
    y = tg.Tensor(-0.5, requires_grad=True, name="y")
    f = tg.sin(x * y) + x ** 2 * y
    f.backward()
    print("f(x, y) = sin(x y) + x^2 y at x = 1.5, y = -0.5")
    print(f"  f          = {f.item():+.10f}")
    print(f"  df/dx      = {x.grad.item():+.10f}   (hand: y cos(xy) + 2xy)")
    print(f"  df/dy      = {y.grad.item():+.10f}   (hand: x cos(xy) + x^2)")
    eps = 1e-6
    fd_x = (np.sin((1.5 + eps) * -0.5) + (1.5 + eps) ** 2 * -0.5
            - np.sin((1.5 - eps) * -0.5) - (1.5 - eps) ** 2 * -0.5) / (2 * eps)
    fd_y = (np.sin(1.5 * (-0.5 + eps)) + 2.25 * (-0.5 + eps)
            - np.sin(1.5 * (-0.5 - eps)) - 2.25 * (-0.5 - eps)) / (2 * eps)
    print(f"  central differences: df/dx = {fd_x:+.10f}, df/dy = {fd_y:+.10f}")
    return 0
