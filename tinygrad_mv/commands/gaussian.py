"""Placeholder while the 'gaussian' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) gaussian"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'gaussian' is not implemented yet")
