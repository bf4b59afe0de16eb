"""Placeholder while the 'examples' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) examples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'examples' is not implemented yet")
