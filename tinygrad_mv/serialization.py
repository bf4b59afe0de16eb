"""``tg.save(state_dict, path)`` and ``tg.load(path)``: named arrays in a NumPy ``.npz`` file.

No pickle either way: arrays are written as ``.npy`` members of an uncompressed zip with
``allow_pickle=False`` and read back the same way, so loading a file cannot run code. Saving is
atomic: the file is written under a temporary name in the same folder and moved over ``path``
with ``os.replace`` only when complete, so an error never leaves a half-written file (an existing
file at ``path`` stays as it was). Loading reads and checks every array before returning, so a
missing, truncated, corrupted or foreign file raises an error naming it and nothing is returned.
The roundtrip is bitwise: dtype, shape and every bit of the data are kept.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from typing import Any, BinaryIO, Mapping

import numpy as np

from .files import write_atomically
from .tensor import Tensor

__all__ = ["save", "load"]

_PathLike = Any  # str or os.PathLike


def _arrays(state_dict: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate everything before anything is written."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"tg.save: expected a dict of names to arrays (e.g. model.state_dict()), "
                        f"got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key or "/" in key or "\\" in key or "\0" in key:
            raise ValueError(f"tg.save: key {key!r} is not a usable name (a non-empty string "
                             "without slashes or NUL characters)")
        try:
            arr = np.asarray(value._data if isinstance(value, Tensor) else value)
        except ValueError as exc:  # a ragged list
            raise ValueError(f"tg.save: '{key}' is not a rectangular array: {exc}") from None
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"tg.save: '{key}' has dtype {arr.dtype}; only numeric arrays can be "
                            "saved (no pickled objects)")
        arrays[key] = arr
    return arrays


def save(state_dict: Mapping[str, Any], path: _PathLike) -> None:
    """Write ``state_dict`` (name -> array or Tensor) to ``path`` as a ``.npz`` file, atomically.

    The file is written exactly at ``path`` (no suffix is added).
    """
    arrays = _arrays(state_dict)

    def write(handle: BinaryIO) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED,
                             allowZip64=True) as archive:
            for key, arr in arrays.items():
                with archive.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, arr, allow_pickle=False)
    write_atomically(path, write, "tg.save")


def _check_entry_count(archive: zipfile.ZipFile) -> None:
    """A damaged length field in the zip's directory makes zipfile stop reading it early and
    list fewer members, with no error: compare with the count the end record states."""
    end_record = getattr(zipfile, "_EndRecData", None)  # private, but in every CPython 3
    if end_record is None or archive.fp is None:
        return
    record = end_record(archive.fp)
    if record is None:
        return
    stated = record[zipfile._ECD_ENTRIES_TOTAL]
    if stated != len(archive.infolist()):
        raise ValueError(f"the zip directory lists {len(archive.infolist())} member(s) but its "
                         f"end record says {stated}")


def _check_declared_size(archive: zipfile.ZipFile, name: str) -> None:
    """Refuse a member whose header declares more data than the member holds (a damaged header
    could otherwise ask for terabytes before the read finds the data missing)."""
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        header = member.tell()
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    held = archive.getinfo(name).file_size - header
    if needed > held:
        raise ValueError(f"member {name!r} declares shape {shape} of {dtype} ({needed} bytes) "
                         f"but holds {held} bytes")


def load(path: _PathLike) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save` (or any ``.npz`` of plain numeric arrays) into a dict
    of name -> ``np.ndarray``, in the saved order. Never unpickles.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for one
    that is not a complete ``.npz`` of arrays (truncated, corrupted, or another kind of file).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"tg.load: no such file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"tg.load: {path!r} is a folder, not a .npz file")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04" and magic != b"PK\x05\x06":  # a zip (an empty zip starts with EOCD)
        kind = "a single .npy array" if magic == b"\x93NUM" else "not a .npz (zip) file"
        raise ValueError(f"tg.load: {path!r} is {kind}; expected a .npz file written by tg.save")
    result: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            _check_entry_count(archive)
            for name in archive.namelist():
                if not name.endswith(".npy"):
                    raise ValueError(f"member {name!r} is not a .npy array")
                _check_declared_size(archive, name)
                with archive.open(name) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
                    if arr.dtype.kind not in "biufc":  # as tg.save writes only these
                        raise ValueError(f"member {name!r} holds {arr.dtype} values, not "
                                         "numbers")
                    if member.read(1):
                        raise ValueError(f"member {name!r} has trailing data")
                key = name[:-len(".npy")]
                if key in result:
                    raise ValueError(f"member {name!r} appears twice")
                result[key] = arr
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
            zlib.error, KeyError, NotImplementedError, RuntimeError, MemoryError) as exc:
        raise ValueError(f"tg.load: {path!r} is not a complete .npz file of arrays (truncated, "
                         f"corrupted or of another kind): {exc}") from exc
    return result
