"""Functions several test files share: a map R^3 -> R^2 with its Jacobian written out by hand, the
Rosenbrock function (chained over n variables, and of two), and the models of the fitting tests."""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_mv as tg


# --- a vector function R^3 -> R^2 ---------------------------------------------------------------
def F(v: Any) -> Any:
    x, y, z = v[0], v[1], v[2]
    return tg.stack([x * y * z, x ** 2 + tg.sin(y) * tg.exp(z)])


def F_numpy(v: np.ndarray) -> np.ndarray:
    x, y, z = v
    return np.array([x * y * z, x ** 2 + np.sin(y) * np.exp(z)])


def F_jacobian(v: np.ndarray) -> np.ndarray:
    x, y, z = v
    return np.array([[y * z, x * z, x * y],
                     [2 * x, np.cos(y) * np.exp(z), np.sin(y) * np.exp(z)]])


V0 = np.array([0.8, -1.1, 0.5])


# --- Rosenbrock ---------------------------------------------------------------------------------
def rosenbrock(x: Any) -> Any:
    """The chained Rosenbrock function of n >= 2 variables, written with slices."""
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def rosenbrock2(v: Any) -> Any:
    """The Rosenbrock function of two variables, written with indexing (minimum 0 at (1, 1))."""
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


# --- models y(x; p) for least_squares_fit -------------------------------------------------------
def gauss(x: Any, p: Any) -> Any:
    """A Gaussian peak: height p[0], centre p[1], width p[2]."""
    return p[0] * tg.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2))


def decay(x: Any, p: Any) -> Any:
    """An exponential decay: p[0] e^(-p[1] x)."""
    return p[0] * tg.exp(-p[1] * x)
