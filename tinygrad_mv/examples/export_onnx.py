"""Export the trained curve network to ONNX and run it with ONNX Runtime.

The course's 1-6-7-2 sigmoid network is trained on the heart curve (Adam), exported with
tg.onnx.export (its weights become initializers named as in state_dict()), and run by ONNX
Runtime on other inputs of the same shape (an exported graph has fixed shapes). The largest
difference from tinygrad_mv is printed, and the time per batch of each. Then the cost's value
and gradient with respect to every weight are exported as one graph (forward and reverse pass):
a gradient computed without Python.

Needs the onnx extra: pip install "tinygrad_mv[onnx]".

Run:  python examples/export_onnx.py [--out DIR] [--steps N]
Writes DIR/curve_network.onnx and DIR/curve_network_grad.onnx (open them in Netron to see the
chain rule as a graph).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

import tinygrad_mv as tg
from tinygrad_mv import datasets
from tinygrad_mv.apps import curve

STEPS = 2_000
REPEATS = 50


def best_time(run: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(out: str = "tinygrad_mv_out", steps: int = STEPS) -> dict:
    import onnxruntime

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    t, xy = datasets.curve("heart")
    model = curve.train_curve(t, xy, "adam", steps=steps, progress=False).model
    path = tg.onnx.export(model, (t,), folder / "curve_network.onnx", input_names=["t"],
                          output_names=["xy"])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    # Other points than the recorded ones, as many (an exported graph has fixed shapes).
    new_t = np.random.default_rng(1).uniform(0, 1, t.shape)
    batch = len(new_t)
    ours = model(tg.Tensor(new_t)).data
    theirs = session.run(None, {"t": new_t})[0]
    difference = float(np.max(np.abs(ours - theirs)))
    with tg.no_grad():
        ours_seconds = best_time(lambda: model(tg.Tensor(new_t)))
    theirs_seconds = best_time(lambda: session.run(None, {"t": new_t}))
    print(f"exported {path} ({path.stat().st_size:,} bytes)")
    print(f"largest |tinygrad_mv - ONNX Runtime| on {batch} new points: {difference:.1e}")
    print(f"time per batch of {batch}: tinygrad_mv {ours_seconds * 1e6:.0f} us, "
          f"ONNX Runtime {theirs_seconds * 1e6:.0f} us")

    # The cost and its gradient as one graph: the weights are inputs now.
    names = list(model.state_dict())
    weights = [p.data for p in model.parameters()]

    cost = curve.cost_of_parameters(xy)  # the weights as inputs, not initializers
    value_and_grad = tg.value_and_grad(cost, argnums=tuple(range(1, len(weights) + 1)))
    grad_path = tg.onnx.export(value_and_grad, (t, *weights), folder / "curve_network_grad.onnx",
                               input_names=["t", *names],
                               output_names=["cost"] + [f"grad_{n}" for n in names])
    grad_session = onnxruntime.InferenceSession(str(grad_path),
                                                providers=["CPUExecutionProvider"])
    moved = [w + 0.01 for w in weights]  # other weights than the recorded ones
    onnx_cost, *onnx_grads = grad_session.run(None, dict(zip(["t", *names], [t, *moved])))
    tg_cost, tg_grads = value_and_grad(t, *moved)
    grad_difference = max(float(np.max(np.abs(a - b.data))) for a, b in zip(onnx_grads, tg_grads))
    print(f"exported {grad_path}: cost {float(onnx_cost):.6f} (tinygrad_mv {tg_cost.item():.6f}), "
          f"largest gradient difference {grad_difference:.1e}")
    return {"path": path, "grad_path": grad_path, "difference": difference,
            "grad_difference": grad_difference, "cost_difference":
                abs(float(onnx_cost) - tg_cost.item()), "seconds": (ours_seconds, theirs_seconds)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tinygrad_mv_out")
    parser.add_argument("--steps", type=int, default=STEPS)
    options = parser.parse_args()
    main(options.out, options.steps)
