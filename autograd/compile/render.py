"""Rendering symbolic expressions as Python code (plain floats or numpy arrays)."""

from __future__ import annotations

import math

from .symbols import Sym

PREC = {"if": 0, "cmp": 1, "+": 2, "-": 2, "*": 3, "/": 3, "neg": 4, "**": 5}
ATOM = 6


def literal(x) -> tuple[str, int]:
    if isinstance(x, float) and not math.isfinite(x):
        text = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    else:
        text = repr(x)
    return text, (PREC["neg"] if text.startswith("-") else ATOM)


class Renderer:
    """Prints expressions as Python: plain floats ('py') or numpy arrays ('np').

    ``names[j]`` is the code for operand j, ``out`` for the op's own result.
    The only difference between flavours: a conditional is ``a if c else b``
    for floats and ``where(c, a, b)`` for arrays (numpy picks per element).
    """

    def __init__(self, numpy: bool = False) -> None:
        self.numpy = numpy
        self.calls: set[str] = set()  # op functions the code refers to
        self.names_used: set[str] = set()  # inf, nan

    def text(self, e: Sym, names, out: str = "") -> str:
        return self.render(e, names, out)[0]

    def wrap(self, e: Sym, names, out: str, above: int) -> str:
        """The code of e, in parentheses unless its precedence is above ``above``."""
        text, prec = self.render(e, names, out)
        return text if prec > above else f"({text})"

    def render(self, e: Sym, names, out: str) -> tuple[str, int]:
        kind, args = e.kind, e.args
        if kind == "operand":
            text = names[args[0]]
            return text, (PREC["neg"] if text.startswith("-") else ATOM)
        if kind == "out":
            return out, ATOM
        if kind == "num":
            text, prec = literal(args[0])
            if text.lstrip("-") in ("inf", "nan"):
                self.names_used.add(text.lstrip("-"))
            return text, prec
        if kind == "bin":
            return self._binary(e, names, out)
        if kind == "neg":
            return "-" + self.wrap(args[0], names, out, PREC["neg"]), PREC["neg"]
        if kind == "call":
            op, operands, arg = args
            self.calls.add(op)
            parts = [self.text(x, names, out) for x in operands]
            if arg is not None:
                parts.append(f"arg={literal(arg)[0]}")
            return f"{op}({', '.join(parts)})", ATOM
        if kind == "cmp":
            op, a, b = args
            left = self.wrap(a, names, out, PREC["cmp"])
            right = self.wrap(b, names, out, PREC["cmp"])
            return f"{left} {op} {right}", PREC["cmp"]
        if kind == "if":
            cond, a, b = args
            if self.numpy:
                texts = (self.text(x, names, out) for x in (cond, a, b))
                return "where({}, {}, {})".format(*texts), ATOM
            yes = self.wrap(a, names, out, PREC["if"])
            test = self.wrap(cond, names, out, PREC["if"])
            no = self.wrap(b, names, out, PREC["if"])
            return f"{yes} if {test} else {no}", PREC["if"]
        raise AssertionError(f"unknown expression kind {kind!r}")

    def _binary(self, e: Sym, names, out: str) -> tuple[str, int]:
        op, a, b = e.args
        prec = PREC[op]
        if op == "**":  # right-associative: (a ** b) ** c keeps its parentheses
            left = self.wrap(a, names, out, prec)
            return f"{left} ** {self.wrap(b, names, out, prec - 1)}", prec
        # Walk down the left spine without recursion, so a linear node with
        # thousands of terms prints fine; the right side of each + - * / keeps
        # its parentheses, since floating-point a + (b + c) != (a + b) + c.
        rights = []
        while e.kind == "bin" and PREC.get(e.args[0]) == prec and e.args[0] != "**":
            rights.append((e.args[0], e.args[2]))
            e = e.args[1]
        text = self.wrap(e, names, out, prec - 1)
        for sym, right in reversed(rights):
            text = f"{text} {sym} {self.wrap(right, names, out, prec)}"
        return text, prec


def expression_key(e: Sym) -> str:
    """A text that identifies an expression (to spot branches that agree)."""
    return Renderer().text(e, [f"<{j}>" for j in range(_max_operand(e) + 1)], "<out>")


def _max_operand(e: Sym) -> int:
    top, stack = -1, [e]
    while stack:
        x = stack.pop()
        if x.kind == "operand":
            top = max(top, x.args[0])
        for a in x.args:
            if isinstance(a, Sym):
                stack.append(a)
            elif isinstance(a, tuple):
                stack.extend(s for s in a if isinstance(s, Sym))
    return top
