"""The README is the front door: at most about 200 lines, the Quickstart exactly two commands,
and its tour runs as written."""
from __future__ import annotations

from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _code_block(section: str, language: str) -> str:
    text = README.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1]
    return body.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_readme_is_a_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines"
    commands = [line for line in _code_block("Quickstart", "bash").splitlines() if line.strip()]
    assert commands == ['pip install ".[plot]" && tinygrad-mv demo',
                        'pip install ".[test]" && python -m pytest -q']


def test_the_tour_runs(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    monkeypatch.chdir(tmp_path)  # it writes curve.onnx
    namespace: dict = {}
    exec(compile(_code_block("A short tour", "python"), "README tour", "exec"), namespace)
    assert namespace["x"].grad.item() == 8.0 and namespace["y"].grad.item() == 3.0
    assert 0 < namespace["loss"].item() < 0.2  # trained from random weights
    assert (tmp_path / "curve.onnx").stat().st_size > 0
