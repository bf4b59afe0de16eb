"""List the example programs and the course notebooks, with one line each (run one with
`tinygrad-mv run NAME --out DIR`).

They are shipped with the package (tinygrad_mv/examples/, the notebooks in its notebooks/
folder); $TINYGRAD_MV_EXAMPLES points at another folder of examples instead.
"""
from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

HELP = "list the example programs and the course notebooks"


def examples_dir() -> Path:
    """The folder holding the examples; FileNotFoundError naming the places searched."""
    chosen = os.environ.get("TINYGRAD_MV_EXAMPLES")
    if chosen:  # the user's own choice: no silent fall-back to the shipped examples
        folder = Path(chosen)
        if not (folder.is_dir() and any(folder.glob("*.py"))):
            raise FileNotFoundError(f"TINYGRAD_MV_EXAMPLES={chosen}: not a folder of examples "
                                    "(*.py files); unset it to use the shipped examples")
        return folder
    candidates = [Path(__file__).resolve().parents[1] / "examples", Path.cwd() / "examples"]
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.py")):
            return folder
    raise FileNotFoundError("no examples folder found (looked in "
                            + ", ".join(str(c) for c in candidates)
                            + "); reinstall tinygrad_mv or set TINYGRAD_MV_EXAMPLES to a "
                              "folder of examples")


def available() -> dict[str, Path]:
    """Example name (file stem) -> path, sorted by name: the programs, then the notebooks."""
    folder = examples_dir()
    programs = {p.stem: p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}
    notebooks = {p.stem: p for p in sorted((folder / "notebooks").glob("[0-9][0-9]_*.py"))}
    return {**programs, **notebooks}


def is_notebook(path: Path) -> bool:
    return path.parent.name == "notebooks"


def summary(path: Path) -> str:
    """The first line of the example's docstring (a notebook's first heading), read without
    running it."""
    try:
        text = path.read_text(encoding="utf-8")
        if is_notebook(path):
            headings = [line[2:].lstrip("# ").strip() for line in text.splitlines()
                        if line.startswith("# #")]
            return headings[0] if headings else "(no title)"
        doc = ast.get_docstring(ast.parse(text))
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
        if not is_notebook(path):
            print(f"  {name.ljust(width)}  {summary(path)}")
    notebooks = {name: path for name, path in found.items() if is_notebook(path)}
    if notebooks:
        print("the course notebooks (run one to write it, executed with its pictures, to DIR):")
        for name, path in notebooks.items():
            print(f"  {name.ljust(width)}  {summary(path)}")
    return 0
