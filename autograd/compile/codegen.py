"""Code generation: a numbered program printed as a straight-line forward and backward pass."""

from __future__ import annotations

from typing import NamedTuple

from .record import Program
from .render import PREC, Renderer, literal
from .symbols import num_is
from .templates import op_templates


class _Code:
    """Lines of generated code, with what each line computes (to explain errors)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.info: dict[int, tuple] = {}  # line number (1-based) -> (what, node or argument)

    def add(self, text: str, info: tuple | None = None) -> None:
        if not text:
            return
        for line in text.split("\n"):
            self.lines.append(line)
            if info is not None:
                self.info[len(self.lines)] = info


def _names_lines(names: list[str], indent: str, rhs: str, width: int = 96) -> str:
    """``a, b, c = rhs`` wrapped in parentheses when long (one statement)."""
    if len(names) == 1:
        return f"{indent}({names[0]},) = {rhs}"
    flat = f"{indent}{', '.join(names)} = {rhs}"
    if len(flat) <= width:
        return flat
    rows: list = []
    row: list = []
    for name in names:
        if row and len(indent) + 1 + len(", ".join([*row, name])) > width:
            rows.append(", ".join(row))
            row = []
        row.append(name)
    rows.append(", ".join(row))
    body = (",\n" + indent + " ").join(rows)
    return f"{indent}({body}) = {rhs}"


RETRACE = ": the function takes another path for these inputs, so trace it again for them"


def _comment_text(label: str) -> str:
    """A label as it may appear in a ``#`` comment of generated code: on one line, inert.

    Labels are the only user text that reaches a tape's source, and only ever
    inside comments.  A comment ends at a line break, so a label holding one
    (``\n``, ``\r``, ``\x0c``, ``\u2028``, ... : anything not printable) is
    shown as its repr, in which every such character is an escape sequence;
    a printable label cannot leave its comment.
    """
    label = str(label)
    return label if label.isprintable() else repr(label)


def _label_comments(p: Program, nodes: list[int], indent: str, width: int = 96) -> str:
    """Comment lines naming labelled leaves (``# v3 = w, v4 = b``); '' when none has a label."""
    pairs = [f"v{i} = {_comment_text(p.labels[i])}" for i in nodes if p.labels[i]]
    rows, row = [], ""
    for pair in pairs:
        if row and len(indent) + len(row) + len(pair) + 4 > width:
            rows.append(row)
            row = ""
        row = f"{row}, {pair}" if row else pair
    if row:
        rows.append(row)
    return "\n".join(f"{indent}# {r}" for r in rows)


def _guard_test(p: Program, k: int) -> str:
    lhs, symbol, rhs, _, _ = p.guards[k]
    right = p.name_of(rhs) if isinstance(rhs, int) else literal(rhs)[0]
    return f"{p.name_of(lhs)} {symbol} {right}"


def describe_guard(p: Program, k: int) -> str:
    _, _, _, result, site = p.guards[k]
    return f"{_guard_test(p, k)} (compared at {site}) was {result} when recorded"


def emit(p: Program, numpy: bool = False, summed: bool = False) -> tuple[str, _Code, Renderer]:
    """The tape as a Python function.

    ``numpy``: every variable may be an array (one element per sample);
    ``summed``: loop over the samples of ``columns`` and sum value and gradients.
    """
    r = Renderer(numpy)
    code = _Code()
    name = p.name + ("_sum" if summed else "_batch" if numpy else "")
    args = ["columns"] if summed else list(p.arg_names)
    if p.param_nodes:
        args.append("params")
    if p.captured_nodes:
        args.append("captured")
    wrt = set(p.wrt)
    # Gradients of wrt leaves are sums: over uses in one sample, and in a loop over samples.
    code.add(f"def {name}({', '.join(args)}):")
    what = "summed over the samples" if summed else "for one sample"
    shown = ", ".join(f"d/dv{i}" for i in p.wrt[:3]) + (", ..." if len(p.wrt) > 3 else "")
    code.add(f'    """Forward and backward {what}: (value, [{shown}])."""')

    def unpack_inputs(indent: str) -> None:
        for k, (arg, shape) in enumerate(zip(p.arg_names, p.shapes)):
            nodes = p.input_nodes[k]
            if shape is None:
                code.add(f"{indent}v{nodes[0]} = {arg}", ("input", k))
            elif shape:
                code.add(_names_lines([f"v{i}" for i in nodes], indent, arg), ("input", k))

    if p.param_nodes:
        code.add(_label_comments(p, p.param_nodes, "    "))
        code.add(_names_lines([f"v{i}" for i in p.param_nodes], "    ", "params"), ("params",))
    if p.captured_nodes:
        code.add(
            _names_lines([f"v{i}" for i in p.captured_nodes], "    ", "captured"), ("captured",)
        )
    indent = "    "
    if summed:
        accumulators = [f"g_v{i}" for i in p.wrt]
        code.add("    total = 0.0")
        for start in range(0, len(accumulators), 8):
            code.add("    " + " = ".join([*accumulators[start : start + 8], "0.0"]))
        row = ", ".join(p.arg_names) + ("," if len(p.arg_names) == 1 else "")
        code.add(f"    for i, ({row}) in enumerate(zip(*columns)):")
        indent = "        "
    unpack_inputs(indent)

    # Guards go right after the last of their operands is known.
    guards_after: dict[int, list[int]] = {}
    for k, (lhs, _, rhs, _, _) in enumerate(p.guards):
        last = max(lhs, rhs if isinstance(rhs, int) else -1)
        guards_after.setdefault(last, []).append(k)

    def emit_guards(i: int) -> None:
        for k in guards_after.get(i, ()):
            lhs, result = p.guards[k][0], p.guards[k][3]
            test = _guard_test(p, k)
            if numpy:
                code.add(f"{indent}_guard({k}, {test}, {result})", ("guard", k))
                continue
            # An f-string in the generated code: literal braces doubled, values filled in.
            words = describe_guard(p, k).replace("{", "{{").replace("}", "}}")
            where = "sample {i}: " if summed else ""
            nodes = [lhs] + [rhs for rhs in p.guards[k][2:3] if isinstance(rhs, int)]
            now = ", ".join(f"{p.name_of(j)} = {{{p.name_of(j)}!r}}" for j in nodes)
            message = f"{where}guard {k}: {words}, not now ({now}){RETRACE}"
            code.add(f"{indent}if {'not ' if result else ''}{test}:", ("guard", k))
            code.add(f"{indent}    raise TapeMismatch(f{message!r})", ("guard", k))

    for i, kind in enumerate(p.kinds):
        if kind != "op":
            emit_guards(i)
    code.add(f"{indent}# forward: one line per node")
    for i, kind in enumerate(p.kinds):
        if kind != "op":
            continue
        names = [p.name_of(j) for j in p.operands[i]]
        forward, _ = op_templates(p.ops[i], len(names), p.args[i])
        note = p.ops[i] + ("" if p.backprop[i] else ", under no_grad")
        note += f": {_comment_text(p.labels[i])}" if p.labels[i] else ""
        code.add(f"{indent}v{i} = {r.text(forward, names)}  # {note}", ("forward", i))
        emit_guards(i)

    code.add(f"{indent}# backward: the chain rule, last node first")
    assigned: set[int] = set()

    def contribute(target: int, term: str, negative: bool, info: tuple) -> None:
        g = f"g_v{target}"
        # In a summing loop the wrt leaves accumulate across samples (set to 0 before it).
        accumulate = target in assigned or (summed and target in wrt)
        if not accumulate:
            code.add(f"{indent}{g} = {'-' if negative else ''}{term}", info)
        elif numpy:  # no += on arrays: a gradient may share its array with another
            code.add(f"{indent}{g} = {g} {'-' if negative else '+'} {term}", info)
        else:
            code.add(f"{indent}{g} {'-' if negative else '+'}= {term}", info)
        assigned.add(target)

    if p.active[p.root]:
        contribute(p.root, "1.0", False, ("seed",))
    for i in range(len(p.kinds) - 1, -1, -1):
        if p.kinds[i] != "op" or not p.active[i] or not p.backprop[i]:
            continue
        operands = p.operands[i]
        names = [p.name_of(j) for j in operands]
        _, locals_ = op_templates(p.ops[i], len(names), p.args[i])
        for j, local in zip(operands, locals_):
            if not p.active[j]:
                continue
            if num_is(local, 1.0) or num_is(local, -1.0):
                term, negative = f"g_v{i}", local.args[0] < 0
            else:
                local_code = r.wrap(local, names, f"v{i}", PREC["*"])
                term, negative = f"g_v{i} * {local_code}", False
            contribute(j, term, negative, ("backward", i))

    value = p.name_of(p.root)
    results = [f"g_v{i}" if i in assigned else "0.0" for i in p.wrt]
    if summed:
        code.add(f"        total += {value}")
        value = "total"
    code.add(_return_line(value, results))
    return name, code, r


def _return_line(value: str, grads: list[str], width: int = 96) -> str:
    """``return value, [grads]``, the list wrapped over several lines when long."""
    flat = f"    return {value}, [{', '.join(grads)}]"
    if len(flat) <= width:
        return flat
    rows: list = []
    row: list = []
    for g in grads:
        if row and 8 + len(", ".join([*row, g])) > width:
            rows.append(", ".join(row))
            row = []
        row.append(g)
    rows.append(", ".join(row))
    body = "".join(f"        {r},\n" for r in rows)
    return f"    return {value}, [\n{body}    ]"


def module_header(r: Renderer) -> str:
    """Imports and the table's forward functions the code calls by name."""
    lines = [
        '"""A tape recorded by autograd.compile.trace: straight-line forward and backward code."""',
        "",
        "from autograd.compile import TapeMismatch",
    ]
    if r.calls:
        lines.append("from autograd.ops import OPS")
    for name in sorted(r.names_used):
        lines.append(f"{name} = float({name!r})")
    for op in sorted(r.calls):
        lines += [
            "",
            "",
            f"def {op}(*xs, arg=None, _forward=OPS[{op!r}].forward):",
            f'    """The forward of op {op!r} from the rule table."""',
            "    return _forward(xs, arg)",
        ]
    return "\n".join(lines) + "\n\n\n"


class NodeCode(NamedTuple):
    """The code of one node: its forward expression and one local derivative per operand."""

    forward: str
    locals: tuple  # each wrapped to be multiplied: g * (local)
    calls: frozenset  # op functions the code calls by name (bound to the table's or numpy's)
    names: frozenset  # 'inf', 'nan' when the code uses them


def node_code(op: str, operands, arg=None, out: str = "out", numpy: bool = False) -> NodeCode:
    """The code the tape writes for one ``op`` node over operand expressions ``operands``.

    ``out`` names the node's own result (rules reuse it); ``numpy=True`` writes
    conditionals as ``where(c, a, b)``.  Derivatives of 1 and -1 are '1.0', '-1.0'.
    """
    r = Renderer(numpy)
    names = list(operands)
    forward, locals_ = op_templates(op, len(names), arg)
    texts = []
    for local in locals_:
        if num_is(local, 1.0) or num_is(local, -1.0):
            texts.append(repr(local.args[0]))
        else:
            texts.append(r.wrap(local, names, out, PREC["*"]))
    return NodeCode(
        r.text(forward, names), tuple(texts), frozenset(r.calls), frozenset(r.names_used)
    )
