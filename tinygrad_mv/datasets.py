"""Data for the two course applications: curves for the network to draw, and heights to fit.

Curves
    ``curve(name, n)`` samples one of :data:`CURVES` (``"heart"``, ``"spiral"``, ``"lissajous"``) at
    ``n`` evenly spaced parameter values ``t`` in [0, 1]. It returns ``(t, xy)``: ``t`` of shape
    ``(n, 1)`` (the network's input) and ``xy`` of shape ``(n, 2)`` (the point it should output),
    scaled into the box [0.1, 0.9]^2 with the aspect ratio kept, because the network's last layer is
    a logistic sigmoid whose outputs lie in (0, 1).

    ``load_curve_csv(path)`` reads a user's own curve. Each data row is either ``x,y`` (the rows are
    taken in order, at evenly spaced ``t`` from 0 to 1) or ``t,x,y`` (``t`` any real numbers; they
    are rescaled linearly so the smallest is 0 and the largest is 1). Every row must have the same
    number of columns. Blank lines and lines starting with ``#`` are skipped, and a first line
    of words without any number (for example ``x,y``) is taken as a header. The points are scaled
    into the same box as the built-in curves.

Heights
    ``heights(n, seed)`` is a reproducible synthetic sample of adult heights in centimetres: an
    equal mix of two normal populations with the parameters in :data:`HEIGHTS_SOURCE`, drawn with
    ``numpy.random.default_rng(seed)`` (default seed :data:`HEIGHTS_SEED`). It is invented data with
    realistic numbers, not a survey.

    ``load_heights_csv(path)`` reads one height per row (one column; an optional header line,
    blank lines and ``#`` comments allowed). Heights must be finite and positive.

Malformed files raise ``ValueError`` naming the file, the line number and the reason.
"""
from __future__ import annotations

import csv
import math
import os
from typing import Callable

import numpy as np

__all__ = ["CURVES", "curve", "normalize_curve", "load_curve_csv", "HEIGHTS_SEED",
           "HEIGHTS_SOURCE", "heights", "load_heights_csv"]


# --- curves -------------------------------------------------------------------------------------
def _heart(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The classic heart curve: x = 16 sin^3, y = 13 cos - 5 cos 2 - 2 cos 3 - cos 4.
    x = 16 * np.sin(theta) ** 3
    y = 13 * np.cos(theta) - 5 * np.cos(2 * theta) - 2 * np.cos(3 * theta) - np.cos(4 * theta)
    return x, y


def _spiral(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # One and a half turns of an Archimedean spiral, starting away from the centre so the
    # inner end is not a single crowded point.
    angle = 1.5 * theta
    radius = 1.0 + angle
    return radius * np.cos(angle), radius * np.sin(angle)


def _lissajous(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Frequencies 3:2 with a quarter-period phase: a closed figure that crosses itself.
    return np.sin(3 * theta + math.pi / 2), np.sin(2 * theta)


_CURVE_FUNCTIONS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "heart": _heart, "spiral": _spiral, "lissajous": _lissajous}
CURVES: tuple[str, ...] = tuple(_CURVE_FUNCTIONS)


def normalize_curve(xy: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """Scale and shift points of shape (n, 2) into [margin, 1 - margin]^2, keeping the aspect ratio
    and centring the shorter side."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"normalize_curve: points must have shape (n, 2), got {xy.shape}")
    if not 0 <= margin < 0.5:
        raise ValueError(f"normalize_curve: margin must be in [0, 0.5), got {margin}")
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = float((high - low).max())
    if extent == 0:
        raise ValueError("normalize_curve: all points are the same; a curve needs at least two "
                         "distinct points")
    scale = (1 - 2 * margin) / extent
    return (xy - (low + high) / 2) * scale + 0.5


def curve(name: str = "heart", n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """``(t, xy)``: ``n`` evenly spaced ``t`` in [0, 1] (shape (n, 1)) and the points of curve
    ``name`` (shape (n, 2), inside [0.1, 0.9]^2)."""
    if name not in _CURVE_FUNCTIONS:
        raise ValueError(f"curve: unknown curve {name!r}; choose one of {', '.join(CURVES)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"curve: n must be an integer of at least 2, got {n!r}")
    t = np.linspace(0.0, 1.0, int(n))
    x, y = _CURVE_FUNCTIONS[name](2 * math.pi * t)
    return t[:, None], normalize_curve(np.stack([x, y], axis=1))


# --- CSV reading --------------------------------------------------------------------------------
def _read_rows(path: str | os.PathLike, what: str) -> list[tuple[int, list[float]]]:
    """Numeric rows of a CSV file as (line number, values); raises ValueError naming the file,
    line and reason for anything that is not a number."""
    name = os.fspath(path)
    try:
        with open(name, newline="", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not a text (UTF-8) CSV file of {what}: {exc.reason}") from exc
    rows: list[tuple[int, list[float]]] = []
    first_content = True
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = [field.strip() for field in next(csv.reader([text]))]
        header_allowed, first_content = first_content, False
        values = []
        for column, field in enumerate(fields, start=1):
            try:
                value = float(field)
            except ValueError:
                value = None
            if value is None:
                if header_allowed and _is_header(fields):
                    break  # the first line names the columns
                hint = (" (separate the columns with commas)"
                        if any(sep in field for sep in ";\t ") else "")
                raise ValueError(f"{name}, line {number}: column {column} is {field!r}, "
                                 f"not a number{hint}")
            if not math.isfinite(value):
                raise ValueError(f"{name}, line {number}: column {column} is {field!r}; "
                                 f"{what} must be finite numbers")
            values.append(value)
        else:
            rows.append((number, values))
    return rows


def _is_header(fields: list[str]) -> bool:
    """A header names the columns: no field is a number and there are letters in it."""
    for field in fields:
        try:
            float(field)
            return False
        except ValueError:
            pass
    return any(ch.isalpha() for field in fields for ch in field)


def load_curve_csv(path: str | os.PathLike, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Read a user's curve from CSV (rows ``x,y`` or ``t,x,y``; see the module docstring) and
    return ``(t, xy)`` like :func:`curve`, scaled into [margin, 1 - margin]^2."""
    name = os.fspath(path)
    rows = _read_rows(path, "curve points")
    if len(rows) < 2:
        raise ValueError(f"{name}: a curve needs at least 2 points, found {len(rows)} data "
                         f"row{'s' if len(rows) != 1 else ''}")
    first_line, first = rows[0]
    width = len(first)
    if width not in (2, 3):
        raise ValueError(f"{name}, line {first_line}: expected 2 columns (x,y) or 3 columns "
                         f"(t,x,y), got {width}")
    for number, values in rows[1:]:
        if len(values) != width:
            raise ValueError(f"{name}, line {number}: expected {width} columns like line "
                             f"{first_line}, got {len(values)}")
    data = np.array([values for _, values in rows], dtype=np.float64)
    if width == 2:
        t = np.linspace(0.0, 1.0, len(data))
    else:
        t = data[:, 0]
        span = t.max() - t.min()
        if span == 0:
            raise ValueError(f"{name}: every t value is {float(t[0]):g}; t must vary along "
                             "the curve")
        t = (t - t.min()) / span
    try:
        xy = normalize_curve(data[:, -2:], margin)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return t[:, None], xy


# --- heights ------------------------------------------------------------------------------------
HEIGHTS_SEED = 2024
#: Source parameters of the synthetic sample: half from each population (in cm).
HEIGHTS_SOURCE: dict[str, dict[str, float]] = {
    "women": {"mean": 162.0, "sd": 6.5},
    "men": {"mean": 176.0, "sd": 7.0},
}


def heights(n: int = 10_000, seed: int = HEIGHTS_SEED) -> np.ndarray:
    """A reproducible synthetic sample of ``n`` adult heights in cm: ``n // 2`` drawn from the
    women's normal distribution in :data:`HEIGHTS_SOURCE` and the rest from the men's, with
    ``numpy.random.default_rng(seed)``, shuffled."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"heights: n must be an integer of at least 2, got {n!r}")
    rng = np.random.default_rng(seed)
    women, men = HEIGHTS_SOURCE["women"], HEIGHTS_SOURCE["men"]
    half = int(n) // 2
    sample = np.concatenate([rng.normal(women["mean"], women["sd"], half),
                             rng.normal(men["mean"], men["sd"], int(n) - half)])
    rng.shuffle(sample)
    return sample


def load_heights_csv(path: str | os.PathLike) -> np.ndarray:
    """Read heights from CSV, one positive number per row (see the module docstring)."""
    name = os.fspath(path)
    rows = _read_rows(path, "heights")
    for number, values in rows:
        if len(values) != 1:
            raise ValueError(f"{name}, line {number}: expected one height per row, got "
                             f"{len(values)} columns")
        if values[0] <= 0:
            raise ValueError(f"{name}, line {number}: height {values[0]!r} is not positive")
    if len(rows) < 2:
        raise ValueError(f"{name}: need at least 2 heights to fit a distribution, found "
                         f"{len(rows)}")
    return np.array([values[0] for _, values in rows], dtype=np.float64)
