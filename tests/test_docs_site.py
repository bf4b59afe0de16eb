"""The documentation site's build code (docs/hooks.py, docs/check_site.py) documents and runs the
package of the checkout it is built from, whatever other copy of tinygrad_mv is installed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_imports_this_checkout_not_an_installed_copy(tmp_path):
    pytest.importorskip("mkdocs")
    # A fresh process outside the checkout, without PYTHONPATH: as `mkdocs build` runs, where
    # a plain `import tinygrad_mv` finds an installed copy (or none).
    script = textwrap.dedent(f"""
        import importlib.util, os, types

        def load(name):
            spec = importlib.util.spec_from_file_location(name, {str(ROOT / "docs")!r} + "/"
                                                          + name + ".py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module

        hooks = load("hooks")
        hooks.on_config(types.SimpleNamespace(config_file_path={str(ROOT / "mkdocs.yml")!r},
                                              nav=[]))
        import tinygrad_mv
        print(tinygrad_mv.__file__)
        print(os.environ["PYTHONPATH"].split(os.pathsep)[0])  # what the notebooks' kernels see
        print(load("check_site").tg.__file__)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYGRAD_MV_NOTEBOOKS")}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported, kernel_path, checked = result.stdout.split()
    package = ROOT / "tinygrad_mv" / "__init__.py"
    assert Path(imported) == package and Path(checked) == package
    assert Path(kernel_path) == ROOT
