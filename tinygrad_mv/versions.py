"""Version counters for in-place writes, kept off the hot path.

PyTorch gives every tensor a counter that each in-place write bumps, and every recorded operation
notes the counters of the values it saved. Here the same check costs nothing until something is
written in place: a write notes, for the memory it touched (the array that owns it, so views and
the arrays they view count as one), the sequence number it happened at, drawn from the same
counter that numbers the graph's nodes. A node whose number is smaller was recorded before the
write; backward asks only those nodes whether their rule reads a value that was written since.

Which saved values a rule reads comes from rules.py (read off the rule's code).
"""
from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any, Callable

import numpy as np

__all__ = ["sequence", "note_write", "last_write", "written_since", "note_view", "views_of"]

# Numbers graph nodes and in-place writes alike, so "recorded before this write" is a comparison.
sequence = itertools.count()

# id(owner array) -> (weak reference to it, sequence number of its latest in-place write).
_writes: dict[int, tuple[Any, int]] = {}
# The sequence number of the latest in-place write anywhere (-1: none yet).
last_write = -1


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (NumPy points a view's ``base`` at its owner)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _forget(key: int) -> Callable[[Any], None]:
    return lambda _ref: _writes.pop(key, None)


def note_write(array: np.ndarray) -> None:
    """Record that ``array`` (and every view of its memory) was just written in place."""
    global last_write
    owner = _owner(array)
    key = id(owner)
    stamp = next(sequence)
    entry = _writes.get(key)
    if entry is not None and entry[0]() is owner:
        _writes[key] = (entry[0], stamp)
    else:
        _writes[key] = (weakref.ref(owner, _forget(key)), stamp)
    last_write = stamp


def written_since(value: Any, seq: int) -> bool:
    """True when ``value``'s memory was written in place after sequence number ``seq``."""
    if not isinstance(value, np.ndarray):
        return False
    owner = _owner(value)
    entry = _writes.get(id(owner))
    return entry is not None and entry[1] > seq and entry[0]() is owner




# Weak references to the Tensors recorded as views of another array's memory (a slice, a
# reshape): a list, as appending costs a fifth of a WeakSet's add and nothing when the view dies.
# References to dead views are dropped whenever the list has doubled since the last time.
_views: list = []
_prune_above = 1_024
_pruning = threading.Lock()


def note_view(ref: Callable[[], Any]) -> None:
    """Remember the Tensor ``ref`` refers to (weakly; its data views another array) for
    :func:`views_of`."""
    global _prune_above
    _views.append(ref)
    if len(_views) > _prune_above and _pruning.acquire(blocking=False):
        try:
            # Only the references seen here are replaced: another thread's appends stay.
            seen = len(_views)
            alive = [r for r in _views[:seen] if r() is not None]
            del _views[:seen]
            _views[:0] = alive
            _prune_above = max(1_024, 2 * len(alive))
        finally:
            _pruning.release()


def views_of(array: np.ndarray) -> list:
    """The live recorded views of ``array``'s memory."""
    if not _views:
        return []
    owner = _owner(array)
    found = []
    for ref in list(_views):
        tensor = ref()
        if tensor is not None and _owner(tensor._data) is owner:
            found.append(tensor)
    return found
