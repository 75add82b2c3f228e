"""``tapegrad graph``: draw the gradient graph of a one-line expression.

    tapegrad graph "tanh(x*w + b)" x=2 w=-3 b=6.88 -o graph.svg
    tapegrad graph "tanh(x*w + b)" x=2 w=-3 b=6.88 --html graph.html

The expression goes through the safe parser of ``autograd.expr`` (a
whitelist; nothing is evaluated by Python), backward runs, the value and
every input's gradient are printed, and the picture is written as svg, png or
dot (by the extension of ``-o``).  ``--html`` writes the backprop player
(``autograd.player``): one self-contained page that steps through the forward
and the backward pass.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

from . import expr

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*$")
_EXTENSIONS = ("svg", "png", "dot")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``graph`` subcommand."""
    parser = subparsers.add_parser(
        "graph",
        help="draw the gradient graph of an expression",
        description="Build the graph of EXPRESSION with the given inputs, run backward, print "
        "the value and each input's gradient, and draw the graph (svg, png or dot, by the "
        "extension of -o). Allowed: numbers, the bound names, + - * / ** and the functions "
        + ", ".join(expr.FUNCTIONS)
        + ". Put -- before an expression that starts with a minus sign.",
    )
    parser.add_argument("expression", help='e.g. "tanh(x*w + b)"')
    parser.add_argument("bindings", nargs="*", metavar="NAME=VALUE", help="e.g. x=2 w=-3 b=6.88")
    parser.add_argument("-o", "--output", help="picture to write: .svg, .png or .dot")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the backprop player: a self-contained page that steps through the "
        "forward and backward pass (opens from disk, no network)",
    )
    parser.add_argument("--rankdir", default="LR", choices=["LR", "TB"], help="layout direction")
    parser.add_argument(
        "--edge-labels",
        action="store_true",
        help="label each edge with its local derivative and contribution",
    )
    parser.add_argument("--precision", type=int, default=4, help="decimals shown (default 4)")
    return parser


def _fail(message: str, status: int = 2) -> int:
    print(f"tapegrad graph: error: {message}", file=sys.stderr)
    return status


def _parse_bindings(items: list[str]) -> dict[str, float]:
    """'x=2' -> {'x': 2.0}, refusing bad names, bad numbers and repeats."""
    bindings: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"{item!r} is not NAME=VALUE (e.g. x=2)")
        if not _NAME.match(name) or name in expr.FUNCTIONS:
            raise ValueError(
                f"{name!r} cannot be a name: use letters, digits and _, starting with a letter, "
                f"and not one of the functions ({', '.join(expr.FUNCTIONS)})"
            )
        if name in bindings:
            raise ValueError(f"{name} is given twice")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"the value of {name} must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"the value of {name} must be finite, got {text!r}")
        bindings[name] = value
    return bindings


def run(args: argparse.Namespace) -> int:
    """Parse, check, compute, print and draw; returns the exit status (2 for bad input)."""
    from autograd import viz

    try:
        bindings = _parse_bindings(args.bindings)
        tree = expr.parse(args.expression, bindings)
    except ValueError as err:  # ExpressionError is a ValueError
        return _fail(str(err))
    unused = [name for name in bindings if name not in expr.variables(tree)]
    if unused:
        return _fail(f"{', '.join(unused)} given but not used in {args.expression!r}")
    fmt = None
    if args.output is not None:
        # Path's idea of the extension, as render's: '.svg' alone is a name with no extension.
        fmt = Path(args.output).suffix.lstrip(".").lower()
        if fmt not in _EXTENSIONS:
            return _fail(
                f"-o must name a file ending in {', '.join('.' + e for e in _EXTENSIONS)}, "
                f"got {args.output!r}"
            )
        if Path(args.output).is_dir():
            return _fail(f"-o {args.output!r} is a folder; name a file in it", 1)
    if args.html is not None and Path(args.html).is_dir():
        return _fail(f"--html {args.html!r} is a folder; name a file in it", 1)
    # Expressions are short (the parser caps them), so draw every node.
    options = {
        "rankdir": args.rankdir,
        "edge_labels": args.edge_labels,
        "precision": args.precision,
        "max_nodes": None,
    }
    try:
        out, leaves = expr.build(args.expression, bindings)
        if not out.is_leaf:
            out.label = "out"
        viz.layout(out, **options)  # checks the options before anything is printed
        out.backward()
    except (ArithmeticError, ValueError) as err:
        # A value or derivative outside its domain (sqrt'(0), log(-1), 1/0) is bad input.
        return _fail(str(err))

    digits = args.precision
    print(f"{args.expression.strip()} = {out.data:.{digits}f}")
    for name, leaf in leaves.items():
        print(f"  d/d{name} = {leaf.grad:.{digits}f}")
    if args.output is None and args.html is None:
        print("(add -o graph.svg to draw the graph, or --html graph.html to step through it)")
        return 0
    if args.output is not None:
        try:
            viz.render(out, args.output, format=fmt, **options)
        except viz.RendererNotFound as err:
            return _fail(str(err), 1)
        except (viz.RenderError, OSError) as err:
            return _fail(f"could not write {args.output}: {err}", 1)
        print(f"wrote {args.output}")
    if args.html is not None:
        return _write_player(out, args)
    return 0


def _write_player(out, args: argparse.Namespace) -> int:
    """The backprop player of ``out`` as one page at ``args.html``."""
    from autograd import viz
    from autograd.player import Player

    try:
        player = Player(
            out,
            rankdir=args.rankdir,
            precision=args.precision,
            max_nodes=None,
            title=f"{args.expression.strip()}: backpropagation step by step",
        )
        player.save_html(args.html)
    except viz.RendererNotFound as err:
        return _fail(str(err), 1)
    except (viz.RenderError, OSError) as err:
        return _fail(f"could not write {args.html}: {err}", 1)
    print(f"wrote {args.html} (open it in a browser: {player.steps} steps)")
    return 0
