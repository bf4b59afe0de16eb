"""Placeholder while the 'bench' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'bench' is not implemented yet")
