"""The ``tapegrad`` command: ``tapegrad train`` (the main job) and ``tapegrad graph``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; this file only dispatches, and imports a subcommand's
module only when that subcommand runs: ``tapegrad graph`` needs the engine
and the pictures (``autograd.graph_cmd``), not nn's training code.  With no
subcommand, ``tapegrad`` runs ``train`` with its defaults.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

COMMANDS = {"train": "nn._train_cmd", "graph": "autograd.graph_cmd"}


def build_parser(commands=tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The top-level parser, with a subparser for each of ``commands``."""
    parser = argparse.ArgumentParser(
        prog="tapegrad",
        description="Train a small MLP on a built-in dataset, or draw the gradient graph "
        "of an expression.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name in commands:
        import_module(COMMANDS[name]).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["train", *argv]
    # Build only the chosen subcommand's parser; help and typos get all of them.
    chosen = (argv[0],) if argv[0] in COMMANDS else tuple(COMMANDS)
    args = build_parser(chosen).parse_args(argv)  # exits with status 2 on bad arguments
    return import_module(COMMANDS[args.command]).run(args)


if __name__ == "__main__":
    sys.exit(main())
