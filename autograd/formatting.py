"""How numbers, ops and formulas are written in pictures and explanations (viz, steps and
the player share it)."""

from __future__ import annotations

import math

from .ops import OPS
from .value import Value


def fmt_number(x: float, precision: int) -> str:
    """Fixed-point with ``precision`` decimals, scientific where fixed would lie or sprawl."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return f"{0.0:.{precision}f}"  # never show -0.0000
    if abs(x) >= 1e6 or abs(x) < 0.5 * 10.0**-precision:
        return f"{x:.{precision}e}"
    return f"{x:.{precision}f}"


def op_symbol(node: Value) -> str:
    """The op's picture symbol: '**2' shows the exponent, 'LeakyReLU(0.1)' the slope."""
    row = OPS.get(node.op)
    symbol = row.symbol if row is not None else node.op
    if node.op == "pow":
        n = float(node.arg)
        return f"{symbol}{int(n) if n.is_integer() else f'{n:g}'}"
    if node.op == "leaky_relu":
        return f"{symbol}({node.arg:g})"
    return symbol


def value_names(order: list) -> dict:
    """A short name per Value: its label, a constant's number, else '%k', its place on the tape.

    A negative constant is bracketed, so that 'b * (-1)' and 'd%2/d(-1)' read right.
    """
    names = {}
    for i, v in enumerate(order):
        if v.label:
            names[v] = v.label
        elif v.op == "const":
            names[v] = f"({v.data:g})" if v.data < 0 else f"{v.data:g}"
        else:
            names[v] = f"%{i}"
    return names


def formula(node: Value, names: dict) -> str:
    """'a * b', 'a**3', 'tanh(a)': how ``node`` was computed, in the names of its parents."""
    args = [names[p] for p in node.parents]
    symbol = op_symbol(node)
    if node.op in ("add", "sub", "mul", "div", "vpow"):
        return f" {symbol} ".join(args)
    if node.op == "pow":
        return f"{args[0]}{symbol}"
    if node.op == "neg":
        return f"-{args[0]}"
    return f"{symbol}({', '.join(args)})"
