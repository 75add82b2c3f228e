"""The code form of each op (forward and backward rule), built once per (op, arity, arg)."""

from __future__ import annotations

from ..ops import OPS
from .errors import TraceError
from .render import expression_key
from .symbols import Sym, Unsupported, explore, sym


def _merge(paths: list) -> Sym:
    """One expression for all paths [(decisions, expression)]: nested conditionals."""
    first = paths[0][1]
    key = expression_key(first)
    if all(expression_key(e) == key for _, e in paths[1:]):
        return first
    # Every run takes the same first branch test (runs differ only after a choice).
    cond = paths[0][0][0][0]
    yes = [(d[1:], e) for d, e in paths if d[0][1]]
    no = [(d[1:], e) for d, e in paths if not d[0][1]]
    return Sym("if", cond, _merge(yes), _merge(no))


_TEMPLATES: dict = {}


def op_templates(op: str, arity: int, arg):
    """(forward expression, one local-derivative expression per operand) for ``op``."""
    key = (op, arity, repr(arg))
    found = _TEMPLATES.get(key)
    if found is None:
        found = _TEMPLATES[key] = (
            _forward_template(op, arity, arg),
            _rule_template(op, arity, arg),
        )
    return found


def _operands(arity: int) -> list:
    return [Sym("operand", j) for j in range(arity)]


def _forward_template(op: str, arity: int, arg) -> Sym:
    """The op's forward as an expression; a path with no code form calls the table's forward."""
    xs = _operands(arity)
    call = Sym("call", op, tuple(xs), arg)
    forward = OPS[op].forward
    try:
        paths = explore(lambda: sym(forward(list(xs), arg)))
    except Unsupported:
        return call
    return _merge([(d, r if isinstance(r, Sym) else call) for d, r in paths])


def _rule_template(op: str, arity: int, arg) -> tuple:
    """The op's backward rule run on symbols: one expression per operand, or a TraceError."""
    xs = _operands(arity)
    out = Sym("out")
    rule = OPS[op].backward
    try:
        paths = explore(lambda: rule(list(xs), out, arg))
    except Unsupported as err:
        paths = [([], err)]
    results = []
    for decisions, r in paths:
        try:
            if isinstance(r, BaseException):
                raise r
            if len(r) != arity:
                raise Unsupported(f"it returned {len(r)} derivatives for {arity} operands")
            results.append((decisions, [sym(d) for d in r]))
        except Exception as err:
            raise TraceError(
                f"the backward rule of op {op!r} cannot be turned into code ({err}); "
                "write it with arithmetic and the generic functions of autograd.ops"
            ) from None
    return tuple(_merge([(d, r[j]) for d, r in results]) for j in range(arity))
