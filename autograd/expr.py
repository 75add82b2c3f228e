"""A safe calculator for expressions like ``tanh(x*w + b)``: text in, a graph of Values out.

The text is parsed with Python's own parser (``ast.parse(mode="eval")``) and
the tree is checked against a whitelist before anything is built: numbers,
names the caller binds, unary ``+``/``-``, binary ``+ - * / **`` and calls of
a few math functions by their bare name.  Everything else (attributes,
subscripts, lambdas, comprehensions, strings, keyword arguments, unknown
names, huge exponents) is refused with an ``ExpressionError`` that points at
the offending part.  Nothing is ever passed to ``eval``: the tree is walked
and each node becomes a ``Value`` operation.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping
from typing import Any

from .engine import no_grad
from .value import Value, constant

__all__ = ["FUNCTIONS", "ExpressionError", "build", "evaluate", "parse", "variables"]

MAX_LENGTH = 1000  # characters
MAX_NODES = 500  # syntax-tree nodes
MAX_DEPTH = 50  # nesting of operations
MAX_EXPONENT = 100  # |n| in x ** n: beyond it numbers overflow or mean nothing here


def _leaky_relu(x: Value, slope: float = 0.01) -> Value:
    return x.leaky_relu(slope)


# name -> (function of Values, number of Value arguments, number of optional numeric arguments)
FUNCTIONS = {
    "tanh": (Value.tanh, 1, 0),
    "exp": (Value.exp, 1, 0),
    "log": (Value.log, 1, 0),
    "sqrt": (Value.sqrt, 1, 0),
    "sigmoid": (Value.sigmoid, 1, 0),
    "relu": (Value.relu, 1, 0),
    "sin": (Value.sin, 1, 0),
    "cos": (Value.cos, 1, 0),
    "abs": (Value.__abs__, 1, 0),
    "softplus": (Value.softplus, 1, 0),
    "leaky_relu": (_leaky_relu, 1, 1),
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}

# What the refused node types are called in messages.
_NAMES = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripting",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Compare: "a comparison",
    ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional expression",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.JoinedStr: "an f-string",
    ast.NamedExpr: "an assignment (:=)",
    ast.Starred: "a starred argument",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}

ALLOWED = "numbers, the names you bind (x=2), + - * / ** and calls to " + ", ".join(FUNCTIONS)


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be computed; says what and where."""

    def __init__(self, message: str, column: int | None = None, part: str = "") -> None:
        where = f"column {column}: " if column is not None else ""
        super().__init__(where + message)
        self.column = column  # 1-based, as editors count
        self.part = part


def _part(text: str, node: ast.AST) -> str:
    segment = ast.get_source_segment(text, node) or type(node).__name__
    return segment if len(segment) <= 40 else segment[:37] + "..."


def _refuse(text: str, node: ast.AST, what: str) -> ExpressionError:
    column = getattr(node, "col_offset", None)
    part = _part(text, node)
    return ExpressionError(
        f"{what} is not allowed: {part!r} (allowed: {ALLOWED})",
        None if column is None else column + 1,
        part,
    )


def _number(text: str, node: ast.AST) -> float | None:
    """The value of a number literal, possibly signed (-3, +2.5); None for anything else."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        try:
            value = float(node.value)  # type: ignore[arg-type]  # an int or a float (above)
        except OverflowError:
            raise _refuse(text, node, "a number this large") from None
        if not math.isfinite(value):
            raise _refuse(text, node, "a number this large")
        return sign * value
    return None


def _check(text: str, tree: ast.Expression, names: Mapping | None) -> None:
    """Walk the tree once, refusing anything outside the whitelist."""
    count = 0
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"the expression is too long (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise _refuse(text, node, f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            if _number(text, node) is None:
                kind = "a string" if isinstance(node.value, (str, bytes)) else repr(node.value)
                raise _refuse(text, node, kind)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise _refuse(text, node, f"the function {node.id} without a call")
            if names is not None and node.id not in names:
                column = node.col_offset + 1
                raise ExpressionError(
                    f"unknown name {node.id!r}; bind it on the command line, e.g. {node.id}=1.5",
                    column,
                    node.id,
                )
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise _refuse(text, node, f"the operator {type(node.op).__name__}")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                symbol = {
                    ast.FloorDiv: "//",
                    ast.Mod: "%",
                    ast.MatMult: "@",
                    ast.LShift: "<<",
                    ast.RShift: ">>",
                    ast.BitOr: "|",
                    ast.BitAnd: "&",
                    ast.BitXor: "^",
                }.get(type(node.op), type(node.op).__name__)
                raise _refuse(text, node, f"the operator {symbol}")
            if isinstance(node.op, ast.Pow):
                n = _number(text, node.right)
                if n is not None and abs(n) > MAX_EXPONENT:
                    raise _refuse(text, node.right, f"an exponent beyond ±{MAX_EXPONENT}")
            stack.append((node.right, depth + 1))
            stack.append((node.left, depth + 1))
        elif isinstance(node, ast.Call):
            _check_call(text, node)
            for arg in reversed(node.args):
                stack.append((arg, depth + 1))
        else:
            what = _NAMES.get(type(node), f"a {type(node).__name__} expression")
            raise _refuse(text, node, what)


def _check_call(text: str, node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        what = "calling an attribute" if isinstance(node.func, ast.Attribute) else "this call"
        raise _refuse(text, node.func, what)
    name = node.func.id
    if name not in FUNCTIONS:
        raise _refuse(text, node.func, f"the function {name!r} (unknown)")
    if node.keywords:
        raise _refuse(text, node.keywords[0].value, f"a keyword argument to {name}")
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise _refuse(text, arg, "a starred argument")
    _, n_values, n_optional = FUNCTIONS[name]
    if not n_values <= len(node.args) <= n_values + n_optional:
        expected = f"{n_values}" if not n_optional else f"{n_values} or {n_values + n_optional}"
        raise ExpressionError(
            f"{name} takes {expected} argument(s), got {len(node.args)}",
            node.col_offset + 1,
            _part(text, node),
        )
    for extra in node.args[n_values:]:
        if _number(text, extra) is None:
            raise _refuse(text, extra, f"a non-number as the constant argument of {name}")


def parse(text: str, names: Mapping | None = None) -> ast.Expression:
    """Parse and check ``text``; with ``names``, every name used must be one of them."""
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long ({len(text)} > {MAX_LENGTH} chars)")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    # Python refuses leading blanks in an expression: parse without them, then
    # shift the columns back so that messages point into the text as given.
    lead = len(text) - len(text.lstrip(" \t"))
    try:
        tree = ast.parse(text[lead:], mode="eval")
    except SyntaxError as err:
        column = err.offset + lead if err.offset else None
        raise ExpressionError(f"not a valid expression: {err.msg}", column, text) from None
    except (RecursionError, MemoryError, ValueError) as err:
        raise ExpressionError(f"not a valid expression: {err}") from None
    if lead:
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) == 1:
                node.col_offset += lead  # type: ignore[attr-defined]
            if getattr(node, "end_lineno", None) == 1:
                node.end_col_offset += lead  # type: ignore[attr-defined]
    _check(text, tree, names)
    return tree


def variables(tree: ast.Expression) -> list[str]:
    """The names an expression uses, in order of first appearance."""
    seen: dict[tuple[int, int], str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            seen.setdefault((node.lineno, node.col_offset), node.id)
    return list(dict.fromkeys(name for _, name in sorted(seen.items())))


def build(text: str, bindings: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Build the graph of ``text`` with each name a leaf ``Value`` bound to its number.

    Returns the output and ``{name: leaf}``.  A computation that fails (log of
    0, an overflow) raises ``ExpressionError`` at the part that failed.
    """
    for name, value in bindings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"the value of {name} must be a number, got {value!r}")
    tree = parse(text, bindings)
    leaves = {name: Value(float(bindings[name]), label=name) for name in variables(tree)}
    out = _build(text, tree.body, leaves)
    if not isinstance(out, Value):  # a bare number: still a graph with one node
        out = constant(out)
    return out, leaves


def _build(text: str, root: ast.AST, leaves: dict[str, Value]):
    """Post-order walk with an explicit stack: each node's operands first, then the op."""
    results: dict[int, object] = {}
    stack: list[tuple[Any, bool]] = [(root, False)]  # parse() checked each node's kind
    while stack:
        node, ready = stack.pop()
        n = _number(text, node)
        if n is not None:
            results[id(node)] = constant(n)
            continue
        if isinstance(node, ast.Name):
            results[id(node)] = leaves[node.id]
            continue
        if isinstance(node, ast.UnaryOp):
            children = [node.operand]
        elif isinstance(node, ast.BinOp):
            children = [node.left, node.right]
        else:  # ast.Call, checked by parse()
            children = node.args[: FUNCTIONS[node.func.id][1]]
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children))
            continue
        args = [results[id(c)] for c in children]
        try:
            results[id(node)] = _apply(text, node, args)
        except (ArithmeticError, ValueError) as err:
            if isinstance(err, ExpressionError):
                raise
            raise ExpressionError(
                f"{_part(text, node)!r} cannot be computed: {err}",
                node.col_offset + 1,
                _part(text, node),
            ) from None
    return results[id(root)]


def _apply(text: str, node: Any, args: list):
    if isinstance(node, ast.UnaryOp):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.BinOp):
        left, right = args
        if isinstance(node.op, ast.Pow):
            n = _number(text, node.right)
            if n is not None:
                # A literal exponent stays a constant of the op: the picture shows x**2.
                return left ** (int(n) if n.is_integer() else n)
            if abs(right.data) > MAX_EXPONENT:
                raise _refuse(text, node.right, f"an exponent beyond ±{MAX_EXPONENT}")
            return left**right
        return _BINARY[type(node.op)](left, right)
    fn, n_values, _ = FUNCTIONS[node.func.id]
    extra = [_number(text, a) for a in node.args[n_values:]]
    return fn(*args, *extra)


def evaluate(text: str, bindings: Mapping[str, float]) -> float:
    """The number ``text`` computes, without recording a graph."""
    with no_grad():
        return build(text, bindings)[0].data
