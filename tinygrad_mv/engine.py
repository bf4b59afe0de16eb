"""The reverse-mode engine: one walk of the graph from the outputs back to the leaves, in
decreasing creation order (a reverse topological order, iteratively: deep graphs never touch the
recursion limit), calling each node's VJP rules and adding the contributions up.

First-order backward calls the rules on plain NumPy arrays: no graph is recorded. With
``create_graph=True`` the same rules are called on Tensors rebuilt around the saved arrays (each
attached to the node that produced it), so the backward pass is itself recorded and higher
derivatives come for free. While ``tg.jit`` records, the first-order pass is the recorder's
(tracing/recorder.py), which makes the same calls.
"""
from __future__ import annotations

import functools
import heapq
import sys
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from . import autograd, rules, versions
from .autograd import Node, _anomaly, _grad_enabled
from . import forward
from .forward import ReverseInside
from .indexed import IndexedGrad
from .observer import Observer
from .tensor import Tensor, _make

__all__ = ["backward", "check_versions"]



# The axes to sum a gradient over, by (its shape, the input's shape): a bias or a number
# parameter meets the same pair at every step, and finding them is most of the cost in Python.
_SUM_AXES: dict[tuple, tuple] = {}


def _sum_to_shape(g: Any, shape: tuple) -> Any:
    """Undo NumPy broadcasting: sum ``g`` over the axes along which ``shape`` was broadcast."""
    if g.shape == shape:
        return g
    key = (g.shape, shape)
    axes = _SUM_AXES.get(key)
    if axes is None:
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
        if len(_SUM_AXES) >= 1_024:  # shapes that keep changing: no unbounded growth
            _SUM_AXES.clear()
        _SUM_AXES[key] = axes
    if axes:  # the ufunc's own reduce skips ndarray.sum's Python wrapper
        g = (np.add.reduce(g, axis=axes, keepdims=True) if type(g) is np.ndarray else
             g.sum(axis=axes, keepdims=True))
    if g.shape != shape:
        if g.shape[g.ndim - len(shape):] != shape:  # only leading axes (now of size 1) go
            raise ValueError(f"a gradient of shape {g.shape} for an input of shape {shape}")
        g = g.reshape(shape)
    return g


def _fitted(node: Node, i: int, grad: Any, shape: tuple) -> Any:
    """A rule's result summed back to its input's shape, or a ValueError naming the rule."""
    if getattr(grad, "ndim", 0) > max(len(shape), len(node.shape)):  # (np.ndim: slower)
        # more axes than the input and the output have: no broadcast made them, and summing
        # them away would hide a wrong rule
        raise ValueError(f"'{node.op}': the VJP rule for input {i} returned a gradient of shape "
                         f"{np.shape(grad)} for an input of shape {shape} (the output has "
                         f"shape {node.shape})")
    try:
        fitted = _sum_to_shape(grad, shape)
    except (ValueError, AttributeError, IndexError) as exc:
        raise ValueError(f"'{node.op}': the VJP rule for input {i} returned a gradient of shape "
                         f"{np.shape(grad)}, which does not sum to the input's shape "
                         f"{shape}") from exc
    if fitted.shape != shape:
        raise ValueError(f"'{node.op}': the VJP rule for input {i} returned a gradient of shape "
                         f"{np.shape(grad)} for an input of shape {shape}")
    return fitted


def _released_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the saved buffers of '{node.op}' "
        "(and the rest of the graph) were freed by an earlier backward. Pass retain_graph=True to "
        "the first backward() or tg.autograd.grad() if you need to backward through it again.")


def check_versions(node: Node) -> None:
    """Refuse to run ``node``'s rules when a value they read was written in place after the node
    was recorded (call only for nodes older than ``versions.last_write``)."""
    datas, out = node.saved
    stale = None
    for i, parent in enumerate(node.parents):
        if parent is None or stale:
            continue
        reads = rules.rule_reads(node.vjps[i], len(datas))
        if reads[0] and versions.written_since(out, node.seq):
            stale = "its output"
        for k, data in enumerate(datas):
            if reads[k + 1] and versions.written_since(data, node.seq):
                stale = f"its input {k} (shape {np.shape(data)})"
                break
    if stale is None:
        return
    where = f"\nThe operation was created at:\n{node.trace}" if node.trace else (
        "\nWith tg.detect_anomaly() on, this message also says where the operation was created.")
    raise RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: '{node.op}' (output shape {node.shape}) saved {stale}, which was changed in "
        f"place after '{node.op}' was recorded, so its gradient would be computed from the new "
        f"values. Write out of place (y = y + 1) or clone the tensor before changing it.{where}")


def _check_finite_grad(node: Node, index: int, grad: Any, shape: tuple) -> None:
    data = grad._data if isinstance(grad, Tensor) else grad
    if np.isfinite(data).all():
        return
    where = f"\nThe operation was created at:\n{node.trace}" if node.trace else ""
    raise FloatingPointError(
        f"detect_anomaly: backward of '{node.op}' (output shape {node.shape}) produced NaN or "
        f"infinity in the gradient of its input {index} (shape {shape}).{where}")


def _run_hooks(hooks: list[Callable], grad: Any, create_graph: bool) -> Any:
    for hook in hooks:
        wrapped = grad if create_graph else _make(np.asarray(grad), None)
        result = hook(wrapped)
        if result is not None:
            shape = np.shape(grad)
            # A replacement must be a gradient of the same shape, not fail later deep in NumPy.
            try:
                kind = np.asarray(result._data if isinstance(result, Tensor) else result).dtype.kind
            except ValueError:  # a ragged list
                kind = "O"
            if kind not in "fiub":
                raise TypeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} "
                                f"returned {type(result).__name__}; it must return None or a "
                                f"gradient of shape {shape}")
            if create_graph:
                new = result if isinstance(result, Tensor) else Tensor(result)
            else:
                new = result._data if isinstance(result, Tensor) else np.asarray(result)
            if np.shape(new) != shape:
                raise ValueError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} "
                                 f"returned a gradient of shape {np.shape(new)}, expected {shape}")
            grad = new
    return grad


def _as_input(data: Any, parent: Any, level: Any = None, node: Any = None,
              index: int = 0) -> Any:
    """A saved input (operand ``index`` of ``node``) as a Tensor attached to the graph (for
    ``create_graph``), with the tangents of the value it stands for when forward mode is on
    (``level``)."""
    if type(data) is not np.ndarray:
        return data  # a number, or a value no rule reads (None, an ArrayMeta)
    if parent is None:  # a constant: a Tensor too, so that what a rule does with it (matmul's
        constant = _make(data, None)  # transpose) is an operation tg.jit records, not NumPy's
        if level is not None:
            level.copy_constant_tangents(node, index, constant)
        return constant
    if type(parent) is Node:
        tensor = _make(data, parent)
        if level is not None:
            level.copy_tangents(parent, tensor)
        return tensor
    return parent  # a leaf Tensor


def backward(outputs: Sequence[Any], grad_outputs: Sequence[Any], retain_graph: bool,
             create_graph: bool, inputs: Sequence[Any] | None = None,
             observer: Observer | None = None) -> list[Any] | None:
    """Run reverse mode from ``outputs`` seeded with ``grad_outputs``.

    Without ``inputs``, gradients accumulate into the ``.grad`` of every leaf reached (and of
    tensors that called ``retain_grad``). With ``inputs``, nothing is written to ``.grad`` and the
    gradients of those tensors are returned (None for an input the outputs do not depend on).
    ``observer`` (tg.jit's recorder while it records, by default) watches a first-order walk.

    Nodes are visited in decreasing creation order (a heap keyed on the sequence number), which is
    a reverse topological order, iteratively: deep graphs never touch the recursion limit.
    """
    level = None if autograd._forward is None else forward.current()  # (no call otherwise)
    if level is not None and level.refuse_reverse and not create_graph:
        # A pass on arrays cannot carry tangents: tg.jvp computes this by reverse mode instead.
        # A recorded pass (create_graph) can: its rules are operations, and its inputs get the
        # tangents of the values they stand for.
        raise ReverseInside
    tracer = autograd._tracer
    if tracer is not None:
        if not tracer.active():
            tracer = None
        elif not create_graph and observer is None:
            observer = tracer
    if observer is not None:
        observer.begin(inputs)
    grads: dict[Node, Any] = {}
    leaf_grads: dict[int, list] = {}
    heap: list[tuple[int, Node]] = []
    captured: dict[int, Any] = {}
    capture_ids = None
    if inputs is not None:
        capture_ids = {id(t._node) if t._node is not None else id(t) for t in inputs}
    anomaly = _anomaly.get()
    last_write = versions.last_write
    # ids of the gradient arrays that this pass allocated and nothing else holds: contributions
    # are added into them in place (first-order only; popped gradients are handed to rules).
    owned: set[int] | None = None if create_graph else set()
    push = heapq.heappush
    pop = heapq.heappop

    for out, grad in zip(outputs, grad_outputs):
        target = out._node or out
        if type(target) is Node:
            if target in grads:
                grads[target] = grads[target] + grad
            else:
                grads[target] = grad
                push(heap, (-target.seq, target))
        elif id(target) in leaf_grads:  # the same leaf given twice: its seeds add up
            leaf_grads[id(target)][1] = leaf_grads[id(target)][1] + grad
        else:
            leaf_grads[id(target)] = [target, grad]

    # The rules record themselves only when create_graph asks for it.
    mode = _grad_enabled.set(create_graph)
    if tracer is not None and create_graph:
        tracer.rule_passes += 1  # tg.jit records this pass: the rules run on Tensors
    # Outside anomaly mode, NumPy warns about overflow in backward as it does in forward (rules
    # whose infinities are results, such as sqrt at 0, silence their own); in anomaly mode the
    # engine names the operation instead.
    quiet = np.errstate(all="ignore") if anomaly else None
    if quiet is not None:
        quiet.__enter__()
    try:
        while heap:
            node = pop(heap)[1]
            grad = grads.pop(node)
            if owned:
                owned.discard(id(grad))
            if observer is not None:
                observer.visit(node, grad)
            if node.hooks and (observer is None or observer.runs_hooks):
                grad = _run_hooks(node.hooks, grad, create_graph)
            if capture_ids is not None:
                if id(node) in capture_ids:
                    captured[id(node)] = grad
            elif node.retains_grad:
                tensor = node.out_ref() if node.out_ref is not None else None
                if tensor is not None:
                    _accumulate(tensor, grad, create_graph)
            saved = node.saved
            if saved is None:
                raise _released_error(node)
            if node.seq < last_write:
                check_versions(node)
            datas, out = saved
            parents = node.parents
            if create_graph:
                datas = [_as_input(d, p, level, node, k)
                         for k, (d, p) in enumerate(zip(datas, parents))]
                if type(out) is np.ndarray:
                    out = _make(out, node)
                    if level is not None:
                        level.copy_tangents(node, out)
            params = node.params
            vjps = node.vjps
            kept = None
            for i, parent in enumerate(parents):
                if parent is None:
                    # What a picture shows of a constant array once the values are released (a
                    # constant that is no array is a number: its shape is ()).
                    constant = saved[0][i]
                    if type(constant) is np.ndarray:
                        if kept is None:
                            kept = {}
                        kept[i] = (constant.shape, constant.dtype, weakref.ref(constant))
                    continue
                input_grad = (vjps[i](grad, out, *datas, **params) if params else
                              vjps[i](grad, out, *datas))
                if observer is not None:
                    observer.rule(node, i, grad, out, datas, input_grad)
                is_node = type(parent) is Node
                if is_node:
                    shape, dtype = parent.shape, parent.dtype
                else:
                    shape, dtype = parent._data.shape, parent._data.dtype
                if input_grad.shape != shape:
                    if type(input_grad) is IndexedGrad:
                        if anomaly:
                            _check_finite_grad(node, i, input_grad.values, shape)
                        if observer is not None:
                            observer.edge(node, i, input_grad)
                        if is_node:
                            if parent not in grads:
                                push(heap, (-parent.seq, parent))
                            grads[parent] = _add_indexed(grads.get(parent), input_grad,
                                                         shape, dtype, owned, observer)
                        else:
                            entry = leaf_grads.get(id(parent))
                            if entry is None:
                                entry = leaf_grads[id(parent)] = [parent, None]
                            entry[1] = _add_indexed(entry[1], input_grad, shape, dtype,
                                                    owned, observer)
                        continue
                    fitted = _fitted(node, i, input_grad, shape)
                    if observer is not None:
                        observer.step(functools.partial(_sum_to_shape, shape=shape),
                                      (input_grad,), fitted)
                    input_grad = fitted
                if input_grad.dtype is not dtype and input_grad.dtype != dtype:
                    cast = input_grad.astype(dtype)
                    if observer is not None:
                        observer.step(functools.partial(_astype, dtype=dtype),
                                      (input_grad,), cast)
                    input_grad = cast
                if anomaly:
                    _check_finite_grad(node, i, input_grad, shape)
                if observer is not None:
                    observer.edge(node, i, input_grad)
                if is_node:
                    if parent in grads:
                        grads[parent] = _add(grads[parent], input_grad, owned, observer)
                    else:
                        grads[parent] = input_grad
                        push(heap, (-parent.seq, parent))
                else:
                    entry = leaf_grads.get(id(parent))
                    if entry is None:
                        leaf_grads[id(parent)] = [parent, input_grad]
                    else:
                        entry[1] = _add(entry[1], input_grad, owned, observer)
            if not retain_graph:
                if kept is not None:
                    node.kept_constants = kept
                node.saved = None

        # the walk's last values, held no longer (a leaf's gradient may be one of them)
        grad = input_grad = fitted = cast = datas = out = saved = None
        for leaf, grad in leaf_grads.values():
            if observer is not None:
                observer.leaf(leaf)
            hooked = bool(leaf._hooks)  # (before they run: a hook may remove itself)
            if hooked and (observer is None or observer.runs_hooks):
                grad = _run_hooks(leaf._hooks, grad, create_graph)
            if capture_ids is not None:
                captured[id(leaf)] = grad
            elif not leaf._requires_grad:
                continue  # frozen after the graph was recorded: no .grad, as PyTorch's
            elif create_graph:
                _accumulate(leaf, grad, True)
            else:
                # A gradient nothing else holds becomes .grad without a copy: one this pass
                # allocated, or an array of its own that no other name refers to (the entry
                # and this loop's name: a rule's fresh result), unless a hook has seen it.
                fresh = not hooked and type(grad) is np.ndarray and (
                    id(grad) in owned or _COUNTS_REFERENCES and sys.getrefcount(grad) == 3
                    and grad.flags.owndata and grad.flags.writeable)
                if fresh and leaf.grad is None and grad.dtype is leaf._data.dtype:
                    leaf.grad = _make(grad, None)
                else:
                    _accumulate(leaf, grad, False, fresh)
    finally:
        if quiet is not None:
            quiet.__exit__(None, None, None)
        _grad_enabled.reset(mode)
        if tracer is not None and create_graph:
            tracer.rule_passes -= 1

    if inputs is None:
        return None
    results = []
    for t in inputs:
        key = id(t._node) if t._node is not None else id(t)
        results.append(captured.get(key))
    return results


# sys.getrefcount counts every reference up to Python 3.13; later versions may leave out
# borrowed ones, so there a rule's result is always copied into .grad.
_COUNTS_REFERENCES = sys.version_info < (3, 14)


def _astype(g: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return g.astype(dtype)


def _add(total: Any, contribution: Any, owned: set[int] | None,
         observer: Observer | None = None) -> Any:
    """``total + contribution``, written into ``total`` when this pass owns it."""
    if owned is None:
        return total + contribution
    if id(total) in owned:
        result = total
        result += contribution
    else:
        result = total + contribution
        if type(result) is np.ndarray:  # (a NumPy scalar, the sum of two, cannot be written)
            owned.add(id(result))
    if observer is not None:
        observer.added(total, contribution, result)
    return result


def _add_indexed(total: Any, indexed: IndexedGrad, shape: tuple, dtype: np.dtype,
                 owned: set[int] | None, observer: Observer | None = None) -> np.ndarray:
    """``total`` (None for zeros) plus an indexed gradient, in a buffer this pass owns."""
    if total is not None and owned is not None and id(total) in owned:
        indexed.add_into(total)
        result = total
    else:
        result = np.zeros(shape, dtype=dtype)
        indexed.add_into(result)
        if total is not None:
            result += total
        if owned is not None:
            owned.add(id(result))
    if observer is not None:
        observer.added_indexed(total, indexed, result, shape, dtype)
    return result


def _accumulate(tensor: Any, grad: Any, create_graph: bool, fresh: bool = False) -> None:
    """Add ``grad`` into ``tensor.grad`` (a fresh array: never aliased with another gradient;
    ``fresh`` says ``grad`` is one already)."""
    if create_graph:
        grad = grad if isinstance(grad, Tensor) else Tensor(grad)
        # a recorded copy: the Tensor a rule returned may be handed to several leaves, or be
        # the caller's gradient
        tensor.grad = _recorded_copy(grad) if tensor.grad is None else tensor.grad + grad
        return
    if isinstance(grad, Tensor):
        grad = grad._data
    dtype = tensor._data.dtype
    if tensor.grad is None:
        if fresh and grad.dtype == dtype and type(grad) is np.ndarray:
            tensor.grad = _make(grad, None)
        else:
            tensor.grad = _make(np.array(grad, dtype=dtype, copy=True), None)
    else:
        held = tensor.grad
        if not isinstance(held, Tensor) or held.shape != tensor.shape:
            # an assigned .grad that does not fit would broadcast into a wrong gradient
            what = (f"shape {held.shape}" if isinstance(held, Tensor) else
                    f"a value of type {type(held).__name__}")
            raise RuntimeError(f"backward: cannot accumulate into .grad, which holds {what}; "
                               f"the tensor has shape {tensor.shape} (set .grad to None or to a "
                               "Tensor of the tensor's shape)")
        tensor.grad = _make(np.asarray(held._data + grad, dtype=dtype), None)


def _no_copy_yet(grad: Any) -> Any:
    raise RuntimeError("tinygrad_mv.ops is not imported: no recorded copy for create_graph")


# The identity as a recorded operation with a new array for its result (np.positive's): the
# operations' layer registers it (register_copy), as this layer does not import it.
_recorded_copy: Callable[[Any], Any] = _no_copy_yet


def register_copy(op: Callable[[Any], Any]) -> None:
    """Set the recorded copy that ``backward(create_graph=True)`` stores as a leaf's .grad."""
    global _recorded_copy
    _recorded_copy = op
