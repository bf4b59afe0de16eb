"""``tg.onnx``: export functions, transforms and models to ONNX (optional extra ``onnx``).

``tg.onnx.export(f, example_inputs, path)`` runs ``f`` once on the example inputs and writes
every operation it records as ONNX nodes: the forward pass, and for ``tg.grad(f)`` or
``tg.value_and_grad(f)`` the reverse pass too, as one graph. The ``onnx`` package is imported
only when ``export`` is called.
"""
from .export import export
from .recorder import ExportError

__all__ = ["export", "ExportError"]
