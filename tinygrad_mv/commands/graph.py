"""Placeholder while the 'graph' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) graph"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'graph' is not implemented yet")
