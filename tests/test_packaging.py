"""What a plain ``pip install .`` gets: the wheel holds the package with its example programs
and course notebooks, so ``tinygrad-mv examples`` and ``tinygrad-mv run NAME`` work from any
folder, not only in a source checkout."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tinygrad_mv import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tinygrad_mv" / "examples"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of the sources: a build leaves build/ beside them, which is not ours to touch
    source = tmp_path_factory.mktemp("source") / "tinygrad_mv"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "site", "*.egg-info", "__pycache__", ".hypothesis",
        ".benchmarks", "tinygrad_mv_out"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.skip(f"could not build a wheel here: {result.stderr[-500:]}")
    (found,) = out.glob("tinygrad_mv-*.whl")
    return found


def test_the_wheel_ships_every_example_and_notebook(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    programs = [p.name for p in EXAMPLES.glob("*.py") if p.name != "__init__.py"]
    notebooks = [p.name for p in (EXAMPLES / "notebooks").glob("[0-9][0-9]_*")]
    assert len(programs) >= 10 and len(notebooks) == 20  # ten .py sources and ten .ipynb
    for name in programs:
        assert f"tinygrad_mv/examples/{name}" in names, name
    for name in notebooks:
        assert f"tinygrad_mv/examples/notebooks/{name}" in names, name
    assert not any(n.startswith(("tests/", "docs/", "bench/")) for n in names)


def test_examples_and_run_work_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no examples/ here: they come from the package
    monkeypatch.delenv("TINYGRAD_MV_EXAMPLES", raising=False)
    assert cli.main(["examples"]) == 0
    listing = capsys.readouterr().out
    assert "newton_raphson" in listing and "01_derivatives" in listing
    assert str(EXAMPLES) in listing


def test_run_writes_an_executed_notebook_where_out_says(tmp_path, monkeypatch, capsys):
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    out = tmp_path / "lesson"
    assert cli.main(["run", "03_hessian", "--out", str(out)]) == 0
    import nbformat
    notebook = nbformat.read(out / "03_hessian.ipynb", as_version=4)
    pictures = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                if "image/png" in o.get("data", {})]
    assert pictures, "the executed notebook holds its plots"
    assert "wrote" in capsys.readouterr().out


def test_run_gradient_descent_from_outside_the_checkout(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYGRAD_MV_EXAMPLES", raising=False)
    assert cli.main(["run", "gradient_descent", "--out", "pictures", "--quick"]) == 0
    assert (tmp_path / "pictures" / "gradient_descent.png").stat().st_size > 5_000
