"""Run one example program or course notebook by name (see `tinygrad-mv examples`), writing its
files to --out.

An example with a ``main(out=..., quick=...)`` function is called directly (``quick`` only when
it takes it); any other is run as a script with ``--out DIR`` on its command line. A notebook is
executed top to bottom in a fresh kernel and written to DIR/NAME.ipynb with its outputs and
pictures (this needs the notebooks extra: pip install "tinygrad_mv[notebooks]").
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import runpy
import sys
from pathlib import Path

from .examples import available, is_notebook

HELP = "run one example program by name"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the example's name, e.g. newton_raphson "
                                     "(list them with: tinygrad-mv examples)")
    parser.add_argument("--out", default="tinygrad_mv_out", help="folder for the files it writes")
    parser.add_argument("--quick", action="store_true",
                        help="small settings, where the example supports them")


def _defines_main(path: Path) -> bool:
    """Whether the file defines a top-level ``main`` function (read, not executed: a script
    without one may do its work at import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def run(args: argparse.Namespace) -> int:
    found = available()
    name = args.name[:-3] if args.name.endswith(".py") else args.name
    if name not in found:
        raise ValueError(f"no example named {args.name!r}; the examples are: "
                         f"{', '.join(found)}")
    path = found[name]
    if Path(args.out).exists() and not Path(args.out).is_dir():  # before it runs, not after
        raise NotADirectoryError(f"--out {args.out!r} exists and is not a folder")
    if is_notebook(path):
        return _run_notebook(path, Path(args.out))
    if _defines_main(path):
        spec = importlib.util.spec_from_file_location(f"tinygrad_mv_example_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # examples with main() do their work under __main__
        entry = module.main
        params = inspect.signature(entry).parameters
        kwargs = {"out": args.out} if "out" in params else {}
        if args.quick and "quick" in params:
            kwargs["quick"] = True
        entry(**kwargs)
        return 0
    saved = sys.argv
    sys.argv = [str(path), "--out", args.out]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:  # an example script may end with sys.exit(code)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0


def _run_notebook(source: Path, out: Path) -> int:
    try:
        import jupytext
        import nbclient
        import nbformat
    except ImportError:
        print('tinygrad-mv run: error: running a notebook needs jupytext, nbclient and ipykernel: '
              'pip install "tinygrad_mv[notebooks]"', file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    notebook = jupytext.read(source)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(out)}}).execute()
    target = out / f"{source.stem}.ipynb"
    nbformat.write(notebook, target)
    print(f"ran {source.name}; wrote {target} with its outputs")
    return 0
