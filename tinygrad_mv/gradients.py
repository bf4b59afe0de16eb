"""The entry points of reverse mode: the seed of a backward pass, and ``tg.autograd.grad`` (the
gradients of outputs with respect to inputs, as ``torch.autograd.grad``), over the engine's walk."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd
from .engine import backward
from .tensor import Tensor, _make

__all__ = ["grad"]


def _seed(output: Any, grad_output: Any, create_graph: bool, what: str) -> Any:
    """The starting gradient for one output: ones for one-element outputs, else the given one."""
    if grad_output is None:
        if output._data.size != 1:
            raise RuntimeError(
                f"{what}: grad can be implicitly created only for one-element outputs, but the "
                f"output has shape {output.shape}; pass a gradient of that shape "
                f"(e.g. {what.split('(')[0]}(gradient=tg.ones({output.shape})))")
        seed = np.array(1, dtype=output._data.dtype)  # np.ones costs a microsecond more
        if output._data.ndim:
            seed = seed.reshape(output.shape)
        return Tensor(seed) if create_graph else seed
    if isinstance(grad_output, Tensor):
        if autograd._tracer is not None:  # tg.jit: a closure's cotangent is read at each call
            autograd._tracer.read(grad_output)
        seed_data = grad_output._data
    else:
        seed_data = Tensor(grad_output).data
    if seed_data.shape != output.shape:
        raise ValueError(f"{what}: gradient has shape {seed_data.shape} but the output has shape "
                         f"{output.shape}")
    seed_data = seed_data.astype(output.dtype, copy=False)
    if create_graph:
        return grad_output if isinstance(grad_output, Tensor) else Tensor(seed_data)
    return seed_data


def _as_tensor_list(values: Any, what: str) -> list[Any]:
    if isinstance(values, Tensor):
        return [values]
    try:
        values = list(values)  # any iterable: model.parameters() may be a generator
    except TypeError as exc:
        raise TypeError(f"{what} must be a Tensor or a sequence of Tensors, got "
                        f"{type(values).__name__}") from exc
    for v in values:
        if not isinstance(v, Tensor):
            raise TypeError(f"{what} must be Tensors, got {type(v).__name__}")
    return values


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple of Tensors (one per input),
    without touching any ``.grad``. As ``torch.autograd.grad``."""
    outputs = _as_tensor_list(outputs, "grad(): outputs")
    inputs = _as_tensor_list(inputs, "grad(): inputs")
    if not outputs:
        raise ValueError("grad(): outputs is empty")
    if grad_outputs is None or isinstance(grad_outputs, Tensor) or not isinstance(
            grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad; create it with "
                               "requires_grad=True")
    for out in outputs:
        if not out._requires_grad:
            raise RuntimeError("grad(): an output does not require grad: it does not depend on "
                               "any tensor that requires grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(o, g, create_graph, "grad()") for o, g in zip(outputs, grad_outputs)]
    results = backward(outputs, seeds, retain_graph, create_graph, inputs=inputs)
    final = []
    for t, g in zip(inputs, results):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): an input of shape {t.shape} was not used in computing the outputs; "
                    "pass allow_unused=True to get None for it")
            final.append(None)
        elif isinstance(g, Tensor):
            final.append(g)
        else:
            copy = np.array(g, dtype=t._data.dtype, copy=True)
            tracer = autograd._tracer
            if tracer is not None:
                tracer.record_copy(g, copy)
            final.append(_make(copy, None))
    return tuple(final)
