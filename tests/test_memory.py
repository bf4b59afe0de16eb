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
])
def test_the_environment_can_leave_the_allocator_alone(environ: dict) -> None:
    libc = _Libc()
    assert memory.keep_freed_memory(libc, environ) is False
    assert libc.calls == []


def test_a_refusing_allocator_is_reported() -> None:
    assert memory.keep_freed_memory(_Libc(answer=0), {}) is False


@pytest.mark.skipif(memory._glibc() is None, reason="not Linux with glibc")
def test_importing_the_package_sets_them_once() -> None:
    code = "import tinygrad_mv.memory as m; print(m.kept)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "TINYGRAD_MV_KEEP_FREED_MEMORY": "0"})
    assert off.stdout.strip() == "False"
