"""The ``tapegrad`` command: ``tapegrad train`` (the main job) and ``tapegrad graph``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; this file only dispatches.  With no subcommand,
``tapegrad`` runs ``train`` with its defaults.
"""

from __future__ import annotations

import argparse
import sys

from . import _graph_cmd, _train_cmd

COMMANDS = {"train": _train_cmd, "graph": _graph_cmd}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="tapegrad",
        description="Train a small MLP on a built-in dataset, or draw the gradient graph "
        "of an expression.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,graph}")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)  # exits with status 2 on bad arguments
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
