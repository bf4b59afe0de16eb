"""Forward mode: tangents carried beside values, one operation at a time.

A :class:`Level` is active while a forward-mode computation runs (``tg.jvp``, ``fwAD.dual_level``).
It maps Tensors to their tangents (held weakly: a tangent goes when its Tensor goes, so memory
does not grow with the number of operations), and every primitive hands it its operands and
result: the level sums the operation's JVP rules, ``jvps[i](t_i, out, *inputs, **params)``, over
the inputs that carry a tangent. No tape is needed and no backward pass runs.

The rules run on NumPy arrays, unless something on the way requires grad (then on Tensors, so
that reverse mode can differentiate the tangents: ``tg.grad`` of a function that calls
``tg.jvp``). While a level's rules run, only outer levels are active: a nested ``jvp`` of a
``jvp`` sees the inner tangents' own tangents.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Callable

import numpy as np

from . import autograd, versions
from .tensor import Tensor

__all__ = ["Level", "ReverseInside", "batched_rule", "current", "fit_batch"]


class ReverseInside(Exception):
    """A reverse pass ran inside a forward-mode evaluation that cannot carry tangents through
    it (``tg.jvp`` of a function that takes a gradient): ``tg.jvp`` then uses reverse mode."""


class _Stale:
    """The tangent of a view whose base was written in place after the view was taken."""

    def __repr__(self) -> str:
        return "<stale tangent>"


STALE = _Stale()


class Level:
    """One forward-mode evaluation: the tangents of the Tensors computed while it is active."""

    def __init__(self, refuse_reverse: bool = False, record: bool = True,
                 on_tensors: bool = False, batch: int | None = None) -> None:
        self.parent: Level | None = None
        self.thread = threading.get_ident()
        self.refuse_reverse = refuse_reverse
        # record=False: nothing outside differentiates this level's tangents by reverse mode,
        # so they stay arrays even where values require grad (a gradient taken inside tg.jvp)
        self.record = record
        # on_tensors: the rules always run on Tensors, as operations a tracer (tg.jit, ONNX
        # export) records like any other
        self.on_tensors = on_tensors
        # batch=n: every tangent is n tangents stacked on a leading axis (tg.jacfwd)
        self.batch = batch
        # No outer level, arrays, no batch axes: propagate's fast path
        self.plain = not on_tensors and batch is None
        self._tangents: dict[int, tuple[Any, Any]] = {}
        # The tangent of each recorded value by its node: a recorded backward pass rebuilds its
        # inputs as new Tensors around the saved arrays, and gives them these tangents.
        self._by_node: dict[int, tuple[Any, Any]] = {}
        # The tangents of a recorded node's constant operands (Tensors carrying a tangent that
        # need no gradient), by node and operand: a recorded backward pass rebuilds those
        # operands from bare arrays, and gives them these tangents.
        self._constants: dict[int, tuple[Any, dict[int, Any]]] = {}
        self.closed = False

    def __enter__(self) -> Level:
        self.parent = current()
        self.plain = self.plain and self.parent is None
        _install(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _install(self.parent)
        self._tangents.clear()  # tangents are dropped with the level
        self._by_node.clear()
        self._constants.clear()
        self.closed = True

    # --- tangents ----------------------------------------------------------------------------
    def tangent(self, tensor: Any) -> Any:
        """The tangent ``tensor`` carries at this level (an array or Tensor), or None."""
        entry = self._tangents.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            return None
        return entry[1]

    def set(self, tensor: Tensor, tangent: Any) -> None:
        """Attach ``tangent`` to ``tensor`` (None: it carries none)."""
        key = id(tensor)
        if tangent is None:
            self._tangents.pop(key, None)
            return
        tangents = self._tangents
        self._tangents[key] = (weakref.ref(tensor, lambda _ref: tangents.pop(key, None)), tangent)
        node = tensor._node
        if node is not None:
            by_node, node_key = self._by_node, id(node)
            by_node[node_key] = (weakref.ref(node, lambda _ref: by_node.pop(node_key, None)),
                                 tangent)

    def mark_views_stale(self, written: Tensor) -> None:
        """After an in-place write to ``written``: the tangents of other Tensors showing its
        memory (views taken before the write) describe the old values. (Found among the Tensors
        carrying tangents at the write, so that taking a view costs forward mode nothing.)"""
        owner = versions._owner(written._data)
        for ref, tangent in list(self._tangents.values()):
            tensor = ref()
            if (tensor is not None and tensor is not written and tangent is not STALE
                    and versions._owner(tensor._data) is owner):
                self.set(tensor, STALE)

    def node_tangent(self, node: Any) -> Any:
        """The tangent of the value ``node`` recorded, or None."""
        entry = self._by_node.get(id(node))
        if entry is None or entry[0]() is not node:
            return None
        return entry[1]

    def note_constants(self, node: Any, carried: list) -> None:
        """Remember the tangents ``carried`` (pairs of operand index and tangent) of ``node``'s
        constant operands."""
        key = id(node)
        entry = self._constants.get(key)
        if entry is None or entry[0]() is not node:
            constants = self._constants
            entry = constants[key] = (weakref.ref(node, lambda _ref: constants.pop(key, None)),
                                      {})
        entry[1].update(carried)

    def copy_constant_tangents(self, node: Any, index: int, target: Tensor) -> None:
        """Give ``target`` (operand ``index`` of ``node``, rebuilt) the tangents that operand
        carried when ``node`` was recorded, at this level and the outer ones."""
        level: Level | None = self
        while level is not None:
            entry = level._constants.get(id(node))
            if entry is not None and entry[0]() is node and index in entry[1]:
                level.set(target, entry[1][index])
            level = level.parent

    def carries(self, tensor: Any) -> bool:
        """Whether ``tensor`` carries a tangent at this level or an outer one."""
        level: Level | None = self
        while level is not None:
            if level.tangent(tensor) is not None:
                return True
            level = level.parent
        return False

    def copy_tangents(self, source: Any, target: Tensor) -> None:
        """Give ``target`` the tangents ``source`` (a Tensor or a node) carries, at this level and
        the outer ones."""
        level: Level | None = self
        while level is not None:
            tangent = (level.tangent(source) if isinstance(source, Tensor) else
                       level.node_tangent(source))
            if tangent is not None:
                level.set(target, tangent)
            level = level.parent

    # --- called by every primitive (autograd.primitive) --------------------------------------
    def propagate(self, op: Callable, args: tuple, datas: list, params: dict,
                  result: Tensor) -> None:
        if not self.plain:
            self._propagate_general(op, args, datas, params, result)
            return
        # The common case, inline (it runs for every operation inside tg.jvp): one level, the
        # rules on arrays. Anything else (a tangent that is a Tensor or stale, a result that
        # outer reverse mode differentiates) is handed to _propagate_general.
        if self.record and result._requires_grad and autograd._grad_enabled.get():
            self._propagate_general(op, args, datas, params, result)
            return
        tangents = self._tangents
        rules = None
        tangent = None
        constants = None
        recorded = result._node is not None
        out = result._data
        i = -1
        for arg in args:
            i += 1
            if not isinstance(arg, Tensor):
                continue
            entry = tangents.get(id(arg))
            if entry is None or entry[0]() is not arg:
                continue
            t = entry[1]
            if type(t) is not np.ndarray:
                self._propagate_general(op, args, datas, params, result)
                return
            if recorded and not arg._requires_grad:  # a constant of the recorded node
                constants = [(i, t)] if constants is None else constants + [(i, t)]
            if rules is None:
                rules = op.jvps
                if rules is None:  # (after any stale tangent's error: the general way)
                    self._propagate_general(op, args, datas, params, result)
                    return
                levels = autograd._forward
                ident = self.thread
                active = levels[ident]
            levels[ident] = None  # a rule's own operations (a Function's jvp) carry nothing
            try:
                contribution = (rules[i](t, out, *datas, **params) if params else
                                rules[i](t, out, *datas))
            finally:
                levels[ident] = active
            tangent = contribution if tangent is None else tangent + contribution
        if tangent is None:
            return
        if (type(tangent) is not np.ndarray or tangent.shape != out.shape
                or tangent.dtype is not out.dtype and tangent.dtype != out.dtype):
            tangent = _fit(tangent, result, op)
        if recorded:
            self.set(result, tangent)
            if constants is not None:
                self.note_constants(result._node, constants)
            return
        key = id(result)  # self.set, inlined
        tangents[key] = (weakref.ref(result, lambda _ref: tangents.pop(key, None)), tangent)

    def _propagate_general(self, op: Callable, args: tuple, datas: list, params: dict,
                           result: Tensor) -> None:
        """``propagate`` with outer levels, Tensor tangents or batch axes."""
        if self.parent is not None:  # outer levels first: this level's rules may read theirs
            self.parent.propagate(op, args, datas, params, result)
        carried = []
        arrays = True  # every tangent found is an array: the rules may run on arrays
        for i, arg in enumerate(args):
            t = self.tangent(arg) if isinstance(arg, Tensor) else None
            if t is None:
                continue
            if t is STALE:
                raise RuntimeError(
                    f"forward mode: '{op.__name__}' uses a view taken before the tensor it "
                    "views was written in place: its tangent describes the values before the "
                    "write. Take the view again after the write.")
            if isinstance(t, Tensor):
                arrays = False
            carried.append((i, t))
        if not carried:
            return
        rules = op.jvps
        if rules is None:
            raise NotImplementedError(
                f"forward mode: the operation '{op.__name__}' has no forward rule (pass jvps= "
                "to tg.primitive); use reverse mode (tg.vjp, tg.jacrev) for it")
        self._propagate(op, rules, carried, arrays, args, datas, params, result)

    def _propagate(self, op: Callable, rules: Any, carried: list, arrays: bool, args: tuple,
                   datas: list, params: dict, result: Tensor) -> None:
        """``propagate`` where the rules run on Tensors (the tangent is itself differentiated:
        by reverse mode, a tracer or an outer level) or take batch axes (tg.jacfwd)."""
        if not arrays or self.on_tensors or self.parent is not None or (
                self.record and result._requires_grad and autograd._grad_enabled.get()):
            out, inputs = result, args
            tracer = autograd._tracer
            if tracer is not None and not tracer.active():
                tracer = None
        else:
            out = result._data
            inputs = datas
            tracer = None
        levels = autograd._forward
        ident = self.thread
        active = levels[ident]
        levels[ident] = self.parent  # the rules' own operations belong to outer levels
        if tracer is not None:  # a mask a rule computes from .data would be frozen: refused
            tracer.rule_passes += 1
        batch = self.batch
        try:
            tangent = None
            for i, t in carried:
                contribution = (rules[i](t, out, *inputs, **params) if batch is None else
                                batched_rule(op.batching, rules[i], t, out, inputs, params))
                tangent = contribution if tangent is None else tangent + contribution
        finally:
            levels[ident] = active
            if tracer is not None:
                tracer.rule_passes -= 1
        if batch is not None:
            tangent = fit_batch(tangent, out, batch)
        elif tangent.shape != out.shape or tangent.dtype != out.dtype:
            tangent = _fit(tangent, result, op)
        self.set(result, tangent)
        if result._node is not None:
            constants = [(i, t) for i, t in carried if not args[i]._requires_grad]
            if constants:
                self.note_constants(result._node, constants)


def batched_rule(batching: str | None, rule: Callable, t: Any, out: Any, inputs: Any,
                 params: dict) -> Any:
    """One input's contribution to a result's stacked tangents, from its own (``t``, one batch
    axis first: each Level stacks its own), by the operation's ``batching``: one call of the
    rule where it takes batch axes, one call per batch element otherwise. On arrays or Tensors
    alike."""
    if batching == "elementwise":  # line the tangent up with the broadcast result
        t = t.reshape(t.shape[:1] + (1,) * (out.ndim - t.ndim + 1) + t.shape[1:])
        return rule(t, out, *inputs, **params)
    if batching == "trailing":
        return rule(t, out, *inputs, **params)
    if not len(t):
        return np.zeros((0,) + out.shape, out.dtype)
    return np.stack([np.broadcast_to(rule(part, out, *inputs, **params), out.shape)
                     for part in t])


def fit_batch(tangent: Any, out: Any, batch: int) -> Any:
    """Stacked tangents in the shape (batch,) + out's shape and out's dtype."""
    shape = (batch,) + tuple(out.shape)
    if tangent.shape != shape:
        tangent = np.broadcast_to(tangent, shape)  # an operation on a Tensor
        if not isinstance(tangent, Tensor):
            tangent = tangent.copy()
    return tangent if tangent.dtype == out.dtype else tangent.astype(out.dtype)


def _fit(tangent: Any, result: Tensor, op: Callable) -> Any:
    """The tangent in the result's shape and dtype (a rule may return it unbroadcast, or as a
    NumPy scalar); ValueError naming the operation for a shape that does not broadcast to it."""
    if not isinstance(tangent, (np.ndarray, Tensor)):
        tangent = np.asarray(tangent)
    try:
        fits = np.broadcast_shapes(tangent.shape, result.shape) == result.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"forward mode: the JVP rules of '{op.__name__}' returned a tangent of "
                         f"shape {tangent.shape} for its output of shape {result.shape}")
    if tangent.shape != result.shape:
        tangent = (np.broadcast_to(tangent, result.shape) if isinstance(tangent, Tensor) else
                   np.broadcast_to(tangent, result.shape).copy())
    dtype = result._data.dtype
    if tangent.dtype != dtype:
        tangent = tangent.astype(dtype)
    return tangent


_installing = threading.Lock()


def current() -> Level | None:
    """This thread's innermost forward-mode level, or None."""
    levels = autograd._forward
    return None if levels is None else levels.get(threading.get_ident())


def _install(level: Level | None) -> None:
    """Make ``level`` this thread's innermost level (None: no forward mode in this thread); the
    table is None while no thread runs forward mode, so operations pay nothing then."""
    ident = threading.get_ident()
    with _installing:
        levels = autograd._forward
        if level is not None:
            if levels is None:
                levels = autograd._forward = {}
            levels[ident] = level
        elif levels is not None:
            levels.pop(ident, None)
            if not levels:
                autograd._forward = None
