"""The course notebooks (examples/notebooks/NN_topic.py, Jupytext percent format): each runs top
to bottom in a fresh kernel (its check cells assert the key numbers against hand-derived
formulas), and each .ipynb beside it holds the same cells as its .py source."""
from __future__ import annotations

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "examples" / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
TOPICS = ["derivatives", "jacobian", "hessian", "backpropagation", "taylor", "newton",
          "gradient_descent", "lagrange", "regression", "gaussian"]


def test_there_is_one_notebook_per_topic_of_the_course():
    names = [p.stem for p in SOURCES]
    assert len(names) == len(TOPICS), names
    for number, (name, topic) in enumerate(zip(names, TOPICS), start=1):
        assert name.startswith(f"{number:02d}_") and topic in name, (name, topic)


def _cells(notebook) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_ipynb_matches_its_source(source):
    paired = source.with_suffix(".ipynb")
    assert paired.is_file(), f"make it with: jupytext --to ipynb {source.name}"
    assert _cells(jupytext.read(paired)) == _cells(jupytext.read(source)), (
        f"{paired.name} differs from {source.name}: run jupytext --to ipynb {source.name}")


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_notebook_runs_top_to_bottom_and_its_checks_pass(source, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = jupytext.read(source)
    assert any("assert" in c.source for c in notebook.cells if c.cell_type == "code"), (
        f"{source.name} has no check cell")
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell that failed
    images = sum(1 for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}))
    assert images >= 1, f"{source.name} shows no picture"
