"""Neural-network building blocks: Module, Parameter, layers, activations and losses.

- ``module``: Module (parameters found by attribute, state dicts), Parameter, Sequential.
- ``layers``: Linear and the activations Sigmoid, Tanh, ReLU.
- ``functional``: the losses as functions, each one fused primitive with its own VJP.
- ``losses``: the loss modules (MSE, SSE, chi-squared, BCE, cross-entropy).
"""
from . import functional
from .layers import Linear, ReLU, Sigmoid, Tanh
from .losses import BCELoss, ChiSquaredLoss, CrossEntropyLoss, MSELoss, SSELoss
from .module import IncompatibleKeys, Module, Parameter, Sequential, StateDictError

__all__ = [
    "functional", "Module", "Parameter", "Sequential", "StateDictError", "IncompatibleKeys",
    "Linear", "Sigmoid", "Tanh", "ReLU",
    "MSELoss", "SSELoss", "ChiSquaredLoss", "BCELoss", "CrossEntropyLoss",
]
