"""Placeholder while the 'curve' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) curve"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'curve' is not implemented yet")
