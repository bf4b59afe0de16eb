"""The ``tinygrad-mv`` command line. Each command lives in ``tinygrad_mv/commands/NAME.py`` with
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any, Sequence

COMMANDS = ["demo", "curve", "gaussian", "graph", "gradcheck", "bench", "export", "examples",
            "run"]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="tinygrad-mv",
        description="tinygrad_mv: watch reverse-mode automatic differentiation apply the "
                    "multivariate chain rule, check it, and train models with it.")
    parser.add_argument("--version", action="version", version=f"tinygrad_mv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"tinygrad_mv.commands.{name}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    new_folders = _missing_folders(getattr(args, "out", None))
    code = 1
    try:
        code = int(args.run(args) or 0)
    except (ValueError, TypeError, OSError) as exc:  # user errors: a message, not a traceback
        print(f"tinygrad-mv {args.command}: error: {exc}", file=sys.stderr)
        code = 2
    except MemoryError as exc:  # e.g. --steps 1e11: the arrays it would need do not fit
        print(f"tinygrad-mv {args.command}: error: not enough memory: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        if code:  # a failed command leaves no empty --out folder behind
            _remove_empty(new_folders)
    return code


def _missing_folders(out: Any) -> list[Path]:
    """``--out`` and those of its parents that do not exist yet, deepest first."""
    if not isinstance(out, str) or out in ("", "-"):
        return []
    missing = []
    for path in (Path(out), *Path(out).parents):
        if os.path.lexists(path):
            break
        missing.append(path)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; a file, or a folder with anything in it, stays
        try:
            folder.rmdir()
        except OSError:
            return


if __name__ == "__main__":
    sys.exit(main())
