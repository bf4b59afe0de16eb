"""Placeholder while the 'run' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'run' is not implemented yet")
