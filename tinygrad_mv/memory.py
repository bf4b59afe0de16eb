"""How freed memory is kept: on Linux with glibc, arrays up to 32 MiB come from the heap, and the
heap keeps what it frees at its top up to 64 MiB instead of handing it back to the system above
128 KiB.

Repeated work on arrays of 10,000 elements and more (a gradient step, a jvp) frees and allocates
the same arrays at every call. glibc gives freed memory at the top of the heap back to the
system once it exceeds 128 KiB, and maps arrays above 128 KiB afresh until one is freed; the next
call touches fresh pages again, a page fault per 4 KiB. Whether that happens depends on whatever
else the process holds, and it made the same gradient step 3 to 4 times slower on this project's
machine, NumPy written by hand as much as tinygrad_mv (arrays of 200 KB to 8 MB: 3 to 7 times).
These are about the values glibc's own dynamic rule reaches once a program frees one large mapped
array (setting either turns that rule off, so both are set).

The cost is memory kept after it is freed: freed space below a block still in use stays with the
process (after 200 MB of arrays were freed, 233 MB stayed resident against 42 MB without this).
Peak use does not change. It is a setting of the whole process, done once at import:
``TINYGRAD_MV_KEEP_FREED_MEMORY=0`` in the environment leaves the allocator as it is, as do
glibc's own ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_`` and ``GLIBC_TUNABLES`` malloc
settings (the process's owner has chosen); ``ctypes.CDLL("libc.so.6").malloc_trim(0)`` hands
freed memory back at any time.
"""
from __future__ import annotations

import ctypes
import os
import sys
from typing import Any, Mapping

__all__ = ["keep_freed_memory", "TRIM_THRESHOLD", "MMAP_THRESHOLD"]

TRIM_THRESHOLD = 64 << 20  # bytes of freed memory the heap keeps at its top
MMAP_THRESHOLD = 32 << 20  # arrays up to this size come from the heap
_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_OPT_OUT = "TINYGRAD_MV_KEEP_FREED_MEMORY"


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")  # (find_library would start a subprocess)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") else None
    except OSError:
        return None


def keep_freed_memory(libc: Any = None, environ: Mapping[str, str] | None = None) -> bool:
    """Set glibc's thresholds as the module says, unless the environment says otherwise; True
    when set. (``libc`` and ``environ`` default to the process's own.)"""
    environ = os.environ if environ is None else environ
    if environ.get(_OPT_OUT, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if ("MALLOC_TRIM_THRESHOLD_" in environ or "MALLOC_MMAP_THRESHOLD_" in environ
            or "glibc.malloc." in environ.get("GLIBC_TUNABLES", "")):
        return False
    libc = _glibc() if libc is None else libc
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


kept = keep_freed_memory()
