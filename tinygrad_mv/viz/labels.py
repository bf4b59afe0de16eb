"""Short text for labels: numbers, value summaries, shapes, operation parameters, DOT escaping, and
filling the inputs' names into a formula.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterable

import numpy as np


def _num(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return f"{float(value):.4g}"


_LISTED = 4  # data with at most this many elements is shown in full, larger as min/mean/max


def _summary(data: Any) -> str:
    """The values of data with up to four elements (flattened), else min / mean / max."""
    a = np.asarray(data)
    if a.size == 0:
        return "empty"
    if a.size == 1:
        return _num(a.reshape(-1)[0])
    if a.size <= _LISTED:
        return "[" + ", ".join(_num(v) for v in a.reshape(-1)) + "]"
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true"
    if a.size <= 64:  # small arrays: plain Python floats are several times faster than ufuncs
        values = a.ravel().tolist()
        if all(v == v for v in values):  # no NaN (NaN breaks min/max ordering)
            low, high = min(values), max(values)
            return f"min {low:.3g}, mean {sum(values) / len(values):.3g}, max {high:.3g}"
    low, high = float(np.minimum.reduce(a, axis=None)), float(np.maximum.reduce(a, axis=None))
    if -1e300 < low and high < 1e300:  # the sum cannot overflow: no errstate needed (it is slow)
        mean = float(np.add.reduce(a, axis=None)) / a.size
    else:
        with np.errstate(all="ignore"):
            mean = float(np.mean(a))
    return f"min {low:.3g}, mean {mean:.3g}, max {high:.3g}"


_FLOAT64 = np.dtype(np.float64)


def _shape_text(shape: tuple, dtype: Any) -> str:
    text = "scalar" if shape == () else f"shape {tuple(shape)}"
    if dtype is not None and dtype != _FLOAT64:
        text += f" {np.dtype(dtype).name}"
    return text


def _index_text(index: Any) -> str:
    items = index if isinstance(index, tuple) else (index,)
    parts = []
    for item in items:
        if isinstance(item, slice):
            text = ":".join("" if v is None else str(v) for v in (item.start, item.stop))
            parts.append(text + (f":{item.step}" if item.step is not None else ""))
        elif item is None:
            parts.append("None")
        elif item is Ellipsis:
            parts.append("...")
        elif isinstance(item, np.ndarray):
            parts.append(f"{'mask' if item.dtype == bool else 'array'}{item.shape}")
        else:
            parts.append(str(item))
    return ", ".join(parts)


def _params_text(params: dict) -> str:
    parts = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        if key == "index":
            parts.append(f"[{_index_text(value)}]")
            continue
        if isinstance(value, np.ndarray):
            text = f"array{value.shape}"
        elif isinstance(value, (np.dtype, type)):
            text = np.dtype(value).name
        else:
            text = repr(value)
        parts.append(f"{key}={text if len(text) <= 24 else text[:21] + '...'}")
    return ", ".join(parts)


def _escape(text: str) -> str:
    """User text inside a double-quoted DOT string (backslash sequences are ours alone)."""
    text = str(text)
    if '"' not in text and "\\" not in text and "\n" not in text and "\r" not in text:
        return text
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            .replace("\r", " "))


def _label(lines: Iterable[str]) -> str:
    return "\\n".join(_escape(line) for line in lines)


def _short_name(name: str | None, limit: int = 32) -> str | None:
    if name is None:
        return None
    name = str(name)
    return name if len(name) <= limit else name[:limit - 3] + "..."


_SIMPLE_NAME = re.compile(r"-?[\w.]+(\([^()]*\))?(\^[\w.]+|²)?|-?\d[\d.e+-]*")


@functools.lru_cache(maxsize=4096)
def _operand_name(name: str) -> str:
    return name if _SIMPLE_NAME.fullmatch(name) else f"({name})"


@functools.lru_cache(maxsize=256)
def _template(template: str) -> tuple[tuple[str, int, bool], ...]:
    """A formula split into (text before, input index or -1, enclosed by a call's parentheses)."""
    parts = []
    position = 0
    for match in re.finditer(r"\{(\d)\}", template):
        start, end = match.span()
        enclosed = template[start - 1:start] == "(" and template[end:end + 1] == ")"
        parts.append((template[position:start], int(match.group(1)), enclosed))
        position = end
    parts.append((template[position:], -1, False))
    return tuple(parts)


def _fill(template: str, names: list[str]) -> str:
    """Put the names into a formula, in parentheses unless a call's parentheses enclose them."""
    out = []
    for text, index, enclosed in _template(template):
        out.append(text)
        if index >= 0:
            out.append(names[index] if enclosed else _operand_name(names[index]))
    return "".join(out)
