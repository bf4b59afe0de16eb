"""The course's backpropagation exercise, written in plain NumPy, run unchanged on Tensors.

The 1-6-7-2 sigmoid network of the course in its own conventions: one column per training
point (a0 has shape (1, N)), weights W1 (6, 1), W2 (7, 6), W3 (2, 7), biases as columns, the
slope of the sigmoid written as sigma'(z) = cosh(z/2)^-2 / 4, and the cost |a3 - y|^2 / N with
np.linalg.norm. The Jacobians of the cost with respect to every weight and bias are derived by
hand with the chain rule, layer by layer, as the course teaches.

Then the very same functions are called with the weights as tinygrad_mv Tensors: NumPy's own
np.cosh and np.linalg.norm record the graph, one backward() gives all six Jacobians, and they
agree with the hand-derived ones to rounding. A few steps of steepest descent with them lower the
cost.

Run:  python examples/numpy_backprop.py
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mv as tg

SEED = 0
POINTS = 100
STEPS = 200
LEARNING_RATE = 5.0


# --- the course's code: plain NumPy, no tinygrad_mv in sight ---------------------------------
def sigma(z: Any) -> Any:
    return 1 / (1 + np.exp(-z))


def d_sigma(z: Any) -> Any:
    return np.cosh(z / 2) ** (-2) / 4


def network_function(params: dict, a0: Any) -> tuple:
    z1 = params["W1"] @ a0 + params["b1"]
    a1 = sigma(z1)
    z2 = params["W2"] @ a1 + params["b2"]
    a2 = sigma(z2)
    z3 = params["W3"] @ a2 + params["b3"]
    a3 = sigma(z3)
    return a0, z1, a1, z2, a2, z3, a3


def cost(params: dict, x: Any, y: Any) -> Any:
    return np.linalg.norm(network_function(params, x)[-1] - y) ** 2 / x.size


def hand_jacobians(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """dC/dW and dC/db for every layer by the chain rule: the error signal of a layer is the one
    of the layer above, sent back through its weights and scaled by the sigmoid's slope."""
    a0, z1, a1, z2, a2, z3, a3 = network_function(params, x)
    delta3 = 2 * (a3 - y) * d_sigma(z3) / x.size  # dC/dz3
    delta2 = (params["W3"].T @ delta3) * d_sigma(z2)  # dC/dz2
    delta1 = (params["W2"].T @ delta2) * d_sigma(z1)  # dC/dz1
    jacobians = {}
    for layer, delta, below in ((3, delta3, a2), (2, delta2, a1), (1, delta1, a0)):
        jacobians[f"W{layer}"] = delta @ below.T
        jacobians[f"b{layer}"] = np.sum(delta, axis=1, keepdims=True)
    return jacobians


def initial_params(seed: int = SEED, n1: int = 6, n2: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    shapes = {"W1": (n1, 1), "W2": (n2, n1), "W3": (2, n2),
              "b1": (n1, 1), "b2": (n2, 1), "b3": (2, 1)}
    return {name: rng.standard_normal(shape) / 2 for name, shape in shapes.items()}


def training_data(points: int = POINTS) -> tuple[np.ndarray, np.ndarray]:
    """A curve to learn: t in [0, 1] in, a point of a closed loop out (inside (0, 1)^2)."""
    t = np.linspace(0, 1, points)[None, :]
    y = np.concatenate([0.5 + 0.35 * np.sin(2 * np.pi * t) ** 3,
                        0.5 + 0.3 * np.cos(2 * np.pi * t) - 0.1 * np.cos(4 * np.pi * t)])
    return t, y


# --- the same code on Tensors -------------------------------------------------------------------
def reverse_mode_jacobians(params: dict, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """The cost and its Jacobians from one backward pass through the course's own functions."""
    tensors = {name: tg.Tensor(value, requires_grad=True) for name, value in params.items()}
    c = cost(tensors, x, y)  # np.linalg.norm and np.cosh on Tensors: recorded on the tape
    c.backward()
    return float(c.item()), {name: t.grad.data for name, t in tensors.items()}


def main(steps: int = STEPS) -> dict:
    x, y = training_data()
    params = initial_params()
    value, reverse = reverse_mode_jacobians(params, x, y)
    hand = hand_jacobians(params, x, y)
    differences = {name: float(np.max(np.abs(reverse[name] - hand[name]))) for name in hand}
    print(f"cost {value:.6f} (NumPy: {cost(params, x, y):.6f})")
    print("largest |reverse mode - hand-derived| per Jacobian:")
    for name, diff in differences.items():
        print(f"  dC/d{name} {str(hand[name].shape):>8}: {diff:.1e}")

    slope = tg.grad(lambda z: sigma(z).sum())(tg.linspace(-4, 4, 9))
    slope_difference = float(np.max(np.abs(slope.data - d_sigma(np.linspace(-4, 4, 9)))))
    print(f"sigma' by reverse mode vs cosh(z/2)^-2 / 4: {slope_difference:.1e}")

    costs = [value]
    for _ in range(steps):
        _, jacobians = reverse_mode_jacobians(params, x, y)
        params = {name: params[name] - LEARNING_RATE * jacobians[name] for name in params}
        costs.append(float(cost(params, x, y)))
    print(f"steepest descent, {steps} steps of lr {LEARNING_RATE}: cost {costs[0]:.4f} -> "
          f"{costs[-1]:.4f}")
    return {"cost": value, "differences": differences, "slope_difference": slope_difference,
            "costs": costs, "hand": hand, "reverse": reverse}


if __name__ == "__main__":
    main()
