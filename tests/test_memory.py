"""memory.py: the heap keeps freed memory (glibc's thresholds), unless the environment says no."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinygrad_mv import memory


class _Libc:
    def __init__(self, answer: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.answer = answer

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return self.answer


def test_both_thresholds_are_set() -> None:
    libc = _Libc()
    assert memory.keep_freed_memory(libc, {}) is True
    assert sorted(libc.calls) == sorted([(-1, memory.TRIM_THRESHOLD), (-3, memory.MMAP_THRESHOLD)])
    assert memory.TRIM_THRESHOLD >= 2 * memory.MMAP_THRESHOLD  # freed arrays stay on the heap


@pytest.mark.parametrize("environ", [
    {"TINYGRAD_MV_KEEP_FREED_MEMORY": "0"}, {"TINYGRAD_MV_KEEP_FREED_MEMORY": "off"},
    {"MALLOC_TRIM_THRESHOLD_": "131072"}, {"MALLOC_MMAP_THRESHOLD_": "131072"},
    {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"},
])
def test_the_environment_can_leave_the_allocator_alone(environ: dict) -> None:
    libc = _Libc()
    assert memory.keep_freed_memory(libc, environ) is False
    assert libc.calls == []


def test_a_refusing_allocator_is_reported() -> None:
    assert memory.keep_freed_memory(_Libc(answer=0), {}) is False


_EFFECT = """
import ctypes, numpy as np
import tinygrad_mv
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
mapped = libc.mallinfo2().hblkhd
a = np.ones(1 << 17)  # 1 MiB: glibc maps it afresh unless the heap serves it
print(tinygrad_mv.memory.kept, libc.mallinfo2().hblkhd - mapped >= a.nbytes)
"""


def _run(code: str, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(
        ("MALLOC_", "GLIBC_TUNABLES", "TINYGRAD_MV_KEEP_FREED_MEMORY"))}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**env, **extra})
    return run.stdout.strip()


@pytest.mark.skipif(memory._glibc() is None or not hasattr(memory._glibc(), "mallinfo2"),
                    reason="not Linux with glibc 2.33 or later")
def test_importing_the_package_makes_the_heap_serve_a_1_mib_array() -> None:
    assert _run(_EFFECT) == "True False"
    assert _run(_EFFECT, TINYGRAD_MV_KEEP_FREED_MEMORY="0") == "False True"
    assert _run(_EFFECT, GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072") == "False True"
