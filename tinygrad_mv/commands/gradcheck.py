"""Placeholder while the 'gradcheck' command is being written (see the open issues)."""
import argparse

HELP = "(in progress) gradcheck"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("'gradcheck' is not implemented yet")
