"""The layers of the package, bottom up, as written in pyproject.toml ([tool.importlinter]): a
module imports only from its own layer or below. lint-imports checks it; a deliberately upward
import in a copy of the package must make it fail, naming both modules."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT is None, reason="import-linter is in the test extra")


def _lint(cwd: Path, package_parent: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_package_keeps_its_layers():
    result = _lint(ROOT, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "tinygrad_mv", tmp_path / "tinygrad_mv",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    tensor = tmp_path / "tinygrad_mv" / "tensor.py"
    tensor.write_text(tensor.read_text() + "\nfrom . import viz  # noqa: E402,F401\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode != 0
    assert "tinygrad_mv.tensor is not allowed to import tinygrad_mv.viz" in result.stdout
    assert sys.modules["tinygrad_mv"].__file__.startswith(str(ROOT))  # the real one untouched
