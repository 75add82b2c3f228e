"""How numbers and ops are written in pictures and explanations (viz and steps share it)."""

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
