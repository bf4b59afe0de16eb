"""The Tensor: a NumPy array plus the edge to the operation that produced it."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from . import autograd

__all__ = ["Tensor"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # in native byte order


def _working_float(dtype: np.dtype) -> np.dtype:
    """The dtype data of ``dtype`` computes in when it is not float32 or float64 in native byte
    order: float32 for a byte-swapped float32, float64 for anything else (integers, bools, half,
    long double, byte-swapped float64)."""
    return _FLOATS[0] if dtype.char == "f" else _FLOATS[1]


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Validate and convert user data: float32/float64 keep their dtype, anything else numeric
    becomes float64 unless ``dtype`` forces one."""
    if isinstance(data, Tensor):
        data = data._data
    forced = None
    if dtype is not None:
        try:
            forced = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"Tensor: dtype={dtype!r} is not a NumPy dtype") from exc
        if forced.kind not in "fiub" or (forced.kind == "f" and forced not in _FLOATS):
            raise TypeError(f"Tensor: dtype={forced} is not supported (use np.float32, "
                            "np.float64, or an integer or bool dtype for data without gradients)")
    try:
        arr = np.array(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Tensor: data of type {type(data).__name__} is not a rectangular numeric "
                        f"array (a ragged nested list?): {exc}") from exc
    kind = arr.dtype.kind
    if kind not in "fiub":
        what = type(data).__name__
        raise TypeError(f"Tensor: data must be numeric, got {what} ({arr.dtype} "
                        f"{'strings' if kind in 'US' else 'objects' if kind == 'O' else 'values'}"
                        f"{': ' + repr(data)[:60] if kind in 'USO' else ''})")
    if forced is not None:
        return arr.astype(forced, copy=False)
    if arr.dtype not in _FLOATS:
        arr = arr.astype(_working_float(arr.dtype))
    return arr


class Tensor:
    """An n-dimensional array whose operations are recorded for reverse-mode differentiation.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``; ``data`` is a number, a nested
    list, a NumPy array or a Tensor (copied, and cut from any graph).

    This class knows no operation: its arithmetic operators, in-place operators, indexing and op
    methods (``exp``, ``sum``, ``reshape``, ...) are bound by ``ops/methods.py``, the layer above.
    """

    __slots__ = ("_data", "grad", "_requires_grad", "_node", "name", "_hooks", "__weakref__")
    __hash__ = object.__hash__  # == is elementwise, identity hashing keeps Tensors usable as keys

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        self._data = _to_array(data, dtype)
        tracer = autograd._tracer
        if tracer is not None:  # tg.jit is recording: the copy is a step of it
            if isinstance(data, Tensor):  # (a parameter copied: its value at each call)
                tracer.read(data)
            tracer.record_copy(data._data if isinstance(data, Tensor) else data, self._data)
        self.grad: Tensor | None = None
        self._node: autograd.Node | None = None
        self._hooks: list[Callable] | None = None
        self.name = name
        self._requires_grad = False
        if requires_grad is not False:
            self.requires_grad = requires_grad

    # --- attributes ---------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The values: always an ``np.ndarray`` (a 0-d array for a scalar). Assigning takes an
        array, a Tensor's values or a number (a Python number becomes a float64 0-d array); a
        Tensor that requires grad refuses non-floating values, as PyTorch."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        # As PyTorch's ``p.data = ...``: a Tensor gives its values (cut from any graph), and a
        # number or NumPy scalar becomes a 0-d array (0-d arithmetic returns scalars), so that
        # .data stays an ndarray however a user's update loop computes it.
        if type(value) is np.ndarray and value.dtype.kind == "f":  # the usual update, first
            self._data = value
            return
        if isinstance(value, Tensor):
            value = value._data
        elif isinstance(value, (int, float)):  # (bool too) a Python number: float64, as Tensor()
            value = np.asarray(value, dtype=np.float64)
        elif type(value) is not np.ndarray:
            if not isinstance(value, (np.ndarray, np.generic)):
                raise TypeError(f".data must be an np.ndarray, a Tensor or a number, got "
                                f"{type(value).__name__}")
            value = np.asarray(value)
        if value.dtype.kind not in "fiub":  # strings, dates, objects: as Tensor() refuses them
            raise TypeError(f".data must hold numbers, got an array of dtype {value.dtype}")
        if value.dtype.kind != "f" and getattr(self, "_requires_grad", False):
            # As PyTorch: integer values would make integer gradients and optimizer steps fail
            raise TypeError(f".data of a Tensor that requires grad must be floating, got "
                            f"{value.dtype}")
        self._data = value

    @property
    def requires_grad(self) -> bool:
        """Whether gradients are computed for this Tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            # bool("no") is True: anything but a bool would be a silent guess
            raise TypeError(f"requires_grad must be True or False, got {value!r}")
        if value and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad=True is only possible for floating dtypes, not "
                            f"{self._data.dtype}: gradients of integer or bool data do not exist")
        if not value and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf tensor; use "
                               "detach() to cut a non-leaf from the graph")
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        """True for a Tensor made by the user (or by no recorded operation)."""
        return self._node is None

    @property
    def grad_fn(self) -> autograd.Node | None:
        """The node that produced this tensor (None for leaves)."""
        return self._node

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self._data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self._data.ndim

    @property
    def size(self) -> int:
        """The number of elements."""
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of ``data``."""
        return self._data.dtype

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if autograd._tracer is not None:
            _refuse_while_recording("np.asarray()")
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def numpy(self) -> np.ndarray:
        """A copy of the data."""
        _refuse_while_recording("numpy()")
        return self._data.copy()

    def item(self) -> float:
        """The value of a one-element Tensor as a Python number."""
        _refuse_while_recording("item()")
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        value = self._data.item()
        return float(value) if self._data.dtype.kind == "f" else value

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        _refuse_while_recording("tolist()")
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """A one-element integer tensor is an index (``range(t)``, ``a[t]``), as in PyTorch."""
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            hint = (" (numbers become float64 here: use int(t), or dtype=np.int64 when "
                    "creating)" if self._data.dtype.kind == "f" and self._data.size == 1 else "")
            raise TypeError(f"only integer tensors of one element can be used as an index, this "
                            f"one has shape {self.shape} and dtype {self._data.dtype}{hint}")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value, as in PyTorch."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(f"format spec {spec!r} needs a 0-d tensor, this one has shape "
                        f"{self.shape}; format t.item() or t.tolist() instead")

    def __bool__(self) -> bool:
        _refuse_while_recording("bool()")
        if self._data.size != 1:
            raise ValueError(f"the truth value of a Tensor of shape {self.shape} is ambiguous; "
                             "use .data.any() or .data.all()")
        return bool(self._data.item())

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", threshold=60)
        extras = [f"shape={self.shape}"]
        if self._data.dtype != np.float64:
            extras.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node.op}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        """Jupyter display: the repr, plus the graph that produced this tensor when a display
        hook is registered (viz registers one; this layer does not import it)."""
        if _display_hook is None:
            return {"text/plain": repr(self)}
        return _display_hook(self, include, exclude)

    # --- autograd -----------------------------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (a vector-Jacobian product with
        ``gradient``, which defaults to 1 for one-element tensors). ``retain_graph`` defaults to
        ``create_graph``, as in PyTorch."""
        if not self._requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph: "
                               "no input it was computed from has requires_grad=True")
        if retain_graph is None:
            retain_graph = create_graph or autograd.keep_graphs.get()
        seed = autograd._seed(self, gradient, create_graph, "backward()")
        autograd.backward([self], [seed], retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        if autograd._tracer is not None:  # tg.jit: a replay reads self._data at each call
            autograd._tracer.read(self)
        return _make(self._data, None)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self._node is None:
            if not self._requires_grad:
                raise RuntimeError("retain_grad() on a tensor that does not require grad")
            return
        self._node.retains_grad = True
        self._node.out_ref = _weakref(self)

    def register_hook(self, hook: Callable[[Tensor], Any]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned value replaces
        the gradient. Returns a function that removes the hook."""
        if not self._requires_grad:
            raise RuntimeError("register_hook() on a tensor that does not require grad")
        if not callable(hook):
            raise TypeError(f"register_hook(): hook must be callable, got {type(hook).__name__}")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        hooks.append(hook)
        return lambda: hooks.remove(hook) if hook in hooks else None

    # Comparisons with what is not a number (a string, None, ...) return NotImplemented: Python
    # then answers == with False and != with True, and refuses < with a TypeError, as in PyTorch.
    def __lt__(self, other: Any) -> Tensor:
        """``self < other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        """``self <= other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        """``self > other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        """``self >= other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        """``self == other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        """``self != other``, elementwise: a bool Tensor that never requires grad."""
        return _compare(np.not_equal, self, other)

# Draws a Tensor in Jupyter (viz registers it): fn(tensor, include, exclude) -> mimebundle.
_display_hook: Callable[[Tensor, Any, Any], dict] | None = None


def register_display(hook: Callable[[Tensor, Any, Any], dict]) -> None:
    """Set the function that draws Tensors in Jupyter (the layer above registers it)."""
    global _display_hook
    _display_hook = hook


def _make(data: np.ndarray, node: autograd.Node | None) -> Tensor:
    """Fast internal constructor: no validation, ``data`` must already be an ndarray."""
    t = object.__new__(Tensor)
    t._data = data
    t.grad = None
    t._node = node
    t._requires_grad = node is not None
    t.name = None
    t._hooks = None
    return t


def _refuse_while_recording(what: str) -> None:
    if autograd._tracer is not None:  # (no call at all when tg.jit is not recording)
        autograd.refuse_replay(f"{what} reads a value while recording, so the program would "
                               "freeze it; keep the computation in tinygrad_mv operations, or "
                               "call the function without tg.jit")


def _comparand(value: Any) -> Any:
    """A comparison's operand as an array, or None when it is not numbers (strings, None)."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        return value if value.dtype.kind in "biuf" else None
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:  # ragged
            return None
        return array if array.dtype.kind in "biuf" else None
    return None


def _compare(ufunc: np.ufunc, a: Any, b: Any) -> Tensor:
    """Comparisons give bool Tensors that never require grad."""
    tracer = autograd._tracer
    for operand in (a, b) if tracer is not None else ():
        if isinstance(operand, Tensor):  # tg.jit: a parameter compared is read at each call
            tracer.read(operand)
    a, b = _comparand(a), _comparand(b)
    if a is None or b is None:
        return NotImplemented
    try:
        result = np.asarray(ufunc(a, b))
    except ValueError as exc:
        raise ValueError(f"{ufunc.__name__}: incompatible shapes {np.shape(a)} and "
                         f"{np.shape(b)}: {exc}") from exc
    if tracer is not None:
        tracer.record_call(autograd._ndarray_result(ufunc), (a, b), result)
    return _make(result, None)


def _weakref(t: Tensor) -> Any:
    import weakref
    return weakref.ref(t)
