"""The ``tapegrad`` command: ``tapegrad train`` (the main job), ``graph`` and ``doctor``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``; this file only dispatches, and imports a subcommand's
module only when that subcommand runs: ``tapegrad graph`` needs the engine
and the pictures (``autograd.graph_cmd``), not nn's training code.  With no
subcommand, ``tapegrad`` runs ``train`` with its defaults.  When ``autograd``
is not tapegrad's (HIPS autograd shares the name), only ``doctor`` and
``--version`` run; anything else prints why and how to fix it, exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import import_module

import nn

COMMANDS = {"train": "nn._train_cmd", "graph": "autograd.graph_cmd", "doctor": "nn._doctor_cmd"}


def version() -> str:
    """tapegrad's version: ``autograd.__version__``, or the installed metadata on a clash."""
    if nn._CLASH is None:
        import autograd

        return autograd.__version__
    import importlib.metadata

    try:
        return importlib.metadata.version("tapegrad")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _hips_beside_ours() -> bool:
    """True when HIPS autograd's modules sit in the folder of our ``autograd``."""
    import os

    import autograd

    clash = nn._clash_module()
    return clash is not None and bool(clash.hips_modules_in(os.path.dirname(autograd.__file__)))


class _Version(argparse.Action):
    """``--version``: print and exit 0 (the version is looked up only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"tapegrad {version()}")
        parser.exit()


def build_parser(commands=tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The top-level parser, with a subparser for each of ``commands``."""
    parser = argparse.ArgumentParser(
        prog="tapegrad",
        description="Train a small MLP on a built-in dataset, or draw the gradient graph "
        "of an expression, or check the installation (doctor).",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name in commands:
        import_module(COMMANDS[name]).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status.

    Without ``argv`` (the command line) warnings are printed as plain lines on
    stderr; with ``argv`` (called from Python) they are ordinary warnings.
    """
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["train", *argv]
    if nn._CLASH is not None and argv[0] not in ("doctor", "--version"):
        print(f"tapegrad: {nn._CLASH}", file=sys.stderr)
        return 1
    if argv[0] != "doctor" and _hips_beside_ours():
        print(
            "tapegrad: warning: HIPS autograd's modules share tapegrad's `autograd` folder: "
            "tapegrad works, HIPS autograd does not; `tapegrad doctor` explains how to fix it",
            file=sys.stderr,
        )
    # Build only the chosen subcommand's parser; help and typos get all of them.
    chosen = (argv[0],) if argv[0] in COMMANDS else tuple(COMMANDS)
    if argv[0] == "--version":
        chosen = ()
    args = build_parser(chosen).parse_args(argv)  # exits with status 2 on bad arguments
    if not from_command_line:  # called from Python: warnings are the caller's to show or catch
        return import_module(COMMANDS[args.command]).run(args)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return import_module(COMMANDS[args.command]).run(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings and notices on the command line: one plain line on stderr, no source line."""
    kind = "notice" if category.__name__.endswith("Notice") else "warning"
    print(f"tapegrad: {kind}: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
