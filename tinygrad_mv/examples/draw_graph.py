"""Seeing the computation graph: a function of two variables and the 1-6-7-2 curve network.

For f(x, y) = sin(x y) + x^2 y at (1.5, -0.5) it prints the graph as a text tree and draws it twice:
forwards (every tensor with its value and, after backward, its gradient) and backwards (the chain
rule: which gradient flows into which input through which local derivative; the numbers on the
edges add up to df/dx = y cos(xy) + 2xy and df/dy = x cos(xy) + x^2, checked here).
Then it draws the course's 1-6-7-2 sigmoid network on four points of a curve, each layer a
labelled cluster (tg.viz.scope), once in full and once with the layers collapsed.

Run:  python examples/draw_graph.py [--out DIR] [--readme]
Writes DIR/graph_*.dot always, and DIR/graph_*.svg and .png when the Graphviz 'dot' program is
installed (apt-get install graphviz / brew install graphviz). --readme writes the README's
pictures (svg and png, no dot) into docs/images/ instead.
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv import nn
from tinygrad_mv.viz import Graph, GraphvizNotInstalled


def two_variable_function() -> tuple[tg.Tensor, tg.Tensor, tg.Tensor]:
    x = tg.Tensor(1.5, requires_grad=True, name="x")
    y = tg.Tensor(-0.5, requires_grad=True, name="y")
    f = tg.sin(x * y) + x ** 2 * y
    f.name = "f"
    return x, y, f


def curve_network(points: int = 4) -> tuple[tg.Tensor, list[tg.Tensor]]:
    """The network t -> (x, y) with sigmoid layers of 6, 7 and 2 units; cost = sum of squares."""
    t = np.linspace(0.0, 1.0, points).reshape(-1, 1)
    inputs = tg.Tensor(t, name="t")
    targets = tg.Tensor(np.hstack([0.5 + 0.4 * np.cos(np.pi * t), 0.5 + 0.4 * np.sin(np.pi * t)]),
                        name="target")
    sizes = [1, 6, 7, 2]
    activation = inputs
    kept = [inputs, targets]  # names of intermediate results show while the tensors are alive
    for k in range(3):
        layer = nn.Linear(sizes[k], sizes[k + 1], rng=k + 1)
        layer.weight.name, layer.bias.name = f"W{k + 1}", f"b{k + 1}"
        with tg.viz.scope(f"layer {k + 1}"):  # one cluster per layer in the picture
            activation = tg.sigmoid(layer(activation))
        activation.name = f"a{k + 1}"
        kept.append(activation)
    with tg.viz.scope("cost"):
        cost = nn.functional.sse_loss(activation, targets)
    cost.name = "C"
    return cost, kept


def _save(graph: Graph, folder: Path, name: str, formats: tuple[str, ...],
         dot: bool = True) -> list[Path]:
    """The DOT source, and the pictures when Graphviz is there (else say how to get it)."""
    written = []
    if dot:
        written.append(folder / f"{name}.dot")
        graph.save(written[0])
    for fmt in formats:
        try:
            data = graph.pipe(format=fmt)
        except GraphvizNotInstalled as exc:
            print(f"(no {fmt} pictures: {exc})")
            break
        path = folder / f"{name}.{fmt}"
        path.write_bytes(data)
        written.append(path)
    return written


def main(out: str = "tinygrad_mv_out", readme: bool = False) -> dict:
    folder = Path(__file__).resolve().parents[1] / "docs" / "images" if readme else Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    formats = ("svg", "png")
    written: list[Path] = []
    if readme:  # the README shows pictures only
        save = functools.partial(_save, dot=False)
    else:
        save = _save

    x, y, f = two_variable_function()
    backward_view = tg.draw_graph(f, backward=True, title="f(x, y) = sin(x y) + x² y")
    f.backward(retain_graph=True)  # without retain_graph the intermediate values are freed
    print(tg.graph_text(f))
    hand_x = -0.5 * np.cos(-0.75) + 2 * 1.5 * -0.5
    hand_y = 1.5 * np.cos(-0.75) + 1.5 ** 2
    print(f"df/dx = {x.grad.item():+.6f} (by hand y cos(xy) + 2xy = {hand_x:+.6f})")
    print(f"df/dy = {y.grad.item():+.6f} (by hand x cos(xy) + x^2 = {hand_y:+.6f})")
    written += save(tg.draw_graph(f, title="f(x, y) = sin(x y) + x² y"), folder,
                    "graph_function", formats)
    written += save(backward_view, folder, "graph_chain_rule", formats)

    cost, kept = curve_network()
    cost.backward(retain_graph=True)  # keep the saved values so the picture shows all of them
    title = "the 1-6-7-2 sigmoid network on 4 points, after cost.backward()"
    written += save(tg.draw_graph(cost, rankdir="TB", constants=kept, title=title), folder,
                    "graph_curve", formats)
    written += save(tg.draw_graph(cost, collapse=True, constants=kept,
                                  title="the same graph with each layer collapsed"),
                    folder, "graph_curve_collapsed", formats)
    for path in written:
        print(f"wrote {path}")
    return {"df_dx": x.grad.item(), "df_dy": y.grad.item(), "hand": (hand_x, hand_y),
            "cost": cost.item(), "files": written}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tinygrad_mv_out", help="folder for the files")
    parser.add_argument("--readme", action="store_true",
                        help="write the README's pictures into docs/images/")
    args = parser.parse_args()
    main(out=args.out, readme=args.readme)
