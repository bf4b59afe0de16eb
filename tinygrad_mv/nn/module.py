"""Modules: containers of Parameters and sub-modules, found automatically by attribute.

A Module needs no registration calls: ``named_parameters()`` walks the instance's attributes (in
assignment order) and collects every Parameter, every sub-Module, and the Parameters and Modules
held in lists, tuples and dicts. Names are dotted paths (``"0.weight"``,
``"encoder.layers.1.bias"``), as in PyTorch, so a Sequential's state dict has the same keys as
``torch.nn.Sequential``'s.
A Parameter reachable by two paths is reported once, under the first name found.
"""
from __future__ import annotations

import reprlib
from typing import Any, Iterator, NamedTuple

import numpy as np

from .. import versions
from ..optim import _clear_grads
from ..tensor import Tensor

__all__ = ["Parameter", "Module", "Sequential", "StateDictError", "IncompatibleKeys"]


class StateDictError(ValueError, RuntimeError):
    """A state dict that does not fit the model. A ``ValueError`` (wrong values) and, as in
    PyTorch, a ``RuntimeError``."""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as PyTorch's: the keys it did not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Parameter(Tensor):
    """A Tensor that is a model's trainable state: a leaf that requires grad.

    ``Parameter(data, requires_grad=True, dtype=None, name=None)``; the data is copied. Floating
    data keeps its dtype (float32 stays float32), anything else numeric becomes float64.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None,
                 name: str | None = None) -> None:
        super().__init__(data, requires_grad=False, dtype=dtype, name=name)
        if self._data.dtype.kind != "f":
            raise TypeError(f"Parameter: data of dtype {self._data.dtype} cannot be trained; "
                            "use np.float32 or np.float64")
        self.requires_grad = requires_grad

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


def _children(value: Any, name: str) -> Iterator[tuple[str, Any]]:
    """(dotted name, item) for a Parameter, a Module, or the ones inside a list/tuple/dict."""
    if isinstance(value, (Parameter, Module)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _children(item, f"{name}.{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _children(item, f"{name}.{key}")


class Module:
    """Base class of layers, activations, losses and models.

    Subclasses assign Parameters and sub-Modules as attributes in ``__init__`` and define
    ``forward``; calling the module runs ``forward``. Calling ``super().__init__()`` is
    welcome but not required.
    """

    training: bool = True

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- structure ----------------------------------------------------------------------------
    def _attributes(self) -> Iterator[tuple[str, Any]]:
        """The (name, value) pairs searched for Parameters and sub-Modules."""
        return iter(vars(self).items())

    def _direct(self) -> Iterator[tuple[str, Any]]:
        for attr, value in self._attributes():
            yield from _children(value, attr)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every sub-module, each once, depth first."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            subs = [(f"{name}.{n}" if name else n, m) for n, m in module._direct()
                    if isinstance(m, Module)]
            stack.extend(reversed(subs))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in self._direct():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(self, prefix: str = "",
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) for every Parameter of this module and its sub-modules,
        depth first in assignment order, each Parameter once (under the first name found).
        ``remove_duplicate=False`` (as PyTorch's) gives a shared Parameter or sub-module under
        every name it is reachable by; a cycle back to a module being walked is not followed."""
        seen_params: set[int] = set()
        seen_modules: set[int] = {id(self)}
        # Iterative depth-first walk: a stack of attribute iterators, so cycles and deep nesting
        # are harmless. ``walking`` holds the modules on the stack (the current path).
        stack: list[tuple[str, Iterator[tuple[str, Any]]]] = [(prefix, self._direct())]
        walking: list[int] = [id(self)]
        while stack:
            base, items = stack[-1]
            entry = next(items, None)
            if entry is None:
                stack.pop()
                walking.pop()
                continue
            name, value = entry
            full = f"{base}.{name}" if base else name
            if isinstance(value, Parameter):
                if not remove_duplicate or id(value) not in seen_params:
                    seen_params.add(id(value))
                    yield full, value
            elif id(value) not in (seen_modules if remove_duplicate else walking):
                seen_modules.add(id(value))
                stack.append((full, value._direct()))
                walking.append(id(value))

    def parameters(self) -> Iterator[Parameter]:
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters: ``.grad = None`` (PyTorch's default), or with
        ``set_to_none=False`` a gradient of zeros (one that was None stays None), as PyTorch."""
        _clear_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # --- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter name -> a copy of its array (later training does not change it). A shared
        (tied) Parameter is listed under each of its names, as in PyTorch."""
        return {name: p._data.copy()
                for name, p in self.named_parameters(remove_duplicate=False)}

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters by name, cast to each parameter's dtype.

        With ``strict=True`` every key must match a parameter and every parameter must be
        given; ``strict=False`` loads the keys that match and skips the rest. Given entries
        must have the parameter's shape. Otherwise :class:`StateDictError` (a ``ValueError``
        and a ``RuntimeError``) names the offenders and nothing is loaded. Returns the missing
        and unexpected keys, as PyTorch does.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got "
                            f"{type(state_dict).__name__}")
        if not isinstance(strict, (bool, np.bool_)):
            raise TypeError(f"load_state_dict: strict must be True or False, got {strict!r}")
        # every name of a shared Parameter, as state_dict() (and PyTorch's) lists them
        params = dict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise StateDictError(f"load_state_dict for {type(self).__name__}: "
                                 f"{' and '.join(parts)}; nothing was loaded")
        params = {name: p for name, p in params.items() if name in state_dict}
        staged = {}
        bad = []
        for name, p in params.items():
            value = state_dict[name]
            arr = np.asarray(value._data if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict for {type(self).__name__}: '{name}' has "
                                f"non-numeric dtype {arr.dtype}; nothing was loaded")
            if arr.shape != p.shape:
                bad.append(f"'{name}': parameter shape {p.shape}, given {arr.shape}")
            staged[name] = arr
        if bad:
            raise StateDictError(f"load_state_dict for {type(self).__name__}: shape mismatch "
                                 f"for {'; '.join(bad)}; nothing was loaded")
        for name, p in params.items():
            # Written into the parameter's own array, as PyTorch's copy_: views stay current.
            np.copyto(p._data, staged[name], casting="unsafe")
            versions.note_write(p._data)
        return IncompatibleKeys(missing, unexpected)

    # --- display ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    @reprlib.recursive_repr(fillvalue="<cycle>")
    def __repr__(self) -> str:
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [head]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """``Sequential(*modules)``: applies the modules in order, each to the previous output.

    Parameter names start with the position (``"0.weight"``), as in PyTorch. A slice keeps
    its layers' names, as PyTorch's does: ``seq[2:]``'s first layer is still ``"2"``.
    """

    def __init__(self, *modules: Any) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a "
                                "tg.nn.Module")
        self._layers = tuple(modules)
        self._names = tuple(str(i) for i in range(len(modules)))

    def _attributes(self) -> Iterator[tuple[str, Any]]:
        yield from zip(self._names, self._layers)
        for name, value in vars(self).items():
            if name not in ("_layers", "_names"):
                yield name, value

    def forward(self, x: Any) -> Any:
        for layer in self._layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            part = Sequential(*self._layers[index])
            part._names = self._names[index]
            return part
        return self._layers[index]
