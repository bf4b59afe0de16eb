"""Neural-network building blocks: Module, Parameter, layers, activations and losses."""
from . import functional
from .layers import Linear, ReLU, Sigmoid, Tanh
from .losses import BCELoss, ChiSquaredLoss, CrossEntropyLoss, MSELoss, SSELoss
from .module import IncompatibleKeys, Module, Parameter, Sequential, StateDictError

__all__ = [
    "functional", "Module", "Parameter", "Sequential", "StateDictError", "IncompatibleKeys",
    "Linear", "Sigmoid", "Tanh", "ReLU",
    "MSELoss", "SSELoss", "ChiSquaredLoss", "BCELoss", "CrossEntropyLoss",
]
