"""The ``tinygrad-mv`` command line. Each command lives in ``tinygrad_mv/commands/NAME.py`` with
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

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
    try:
        return int(args.run(args) or 0)
    except (ValueError, TypeError, OSError) as exc:  # user errors: a message, not a traceback
        print(f"tinygrad-mv {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
