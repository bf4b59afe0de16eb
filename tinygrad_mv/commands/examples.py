"""List the example programs in examples/ with one line each (run one with `tinygrad-mv run NAME`).

The examples live in the source tree, not in the installed package: they are found in
$TINYGRAD_MV_EXAMPLES, else in the examples/ folder beside the package (a source checkout or an
editable install), else in ./examples.
"""
from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

HELP = "list the example programs (the course's methods and the applications)"


def examples_dir() -> Path:
    """The folder holding the examples; FileNotFoundError naming the places searched."""
    candidates = []
    if os.environ.get("TINYGRAD_MV_EXAMPLES"):
        candidates.append(Path(os.environ["TINYGRAD_MV_EXAMPLES"]))
    candidates.append(Path(__file__).resolve().parents[2] / "examples")
    candidates.append(Path.cwd() / "examples")
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.py")):
            return folder
    raise FileNotFoundError("no examples folder found (looked in "
                            + ", ".join(str(c) for c in candidates)
                            + "); run from a source checkout of tinygrad_mv or set "
                              "TINYGRAD_MV_EXAMPLES to its examples/ folder")


def available() -> dict[str, Path]:
    """Example name (file stem) -> path, sorted by name."""
    return {p.stem: p for p in sorted(examples_dir().glob("*.py")) if not p.name.startswith("_")}


def summary(path: Path) -> str:
    """The first line of the example's docstring, read without running it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, UnicodeDecodeError, OSError) as exc:
        return f"(unreadable: {exc})"
    return doc.strip().splitlines()[0] if doc else "(no description)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    found = available()
    width = max(len(name) for name in found)
    print(f"examples in {examples_dir()} (run one with: tinygrad-mv run NAME [--out DIR]):")
    for name, path in found.items():
        print(f"  {name.ljust(width)}  {summary(path)}")
    return 0
