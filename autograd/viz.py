"""Pictures of the computation graph: DOT text, graphviz objects, SVG/PNG files, notebook display.

One function, ``layout``, decides what the picture contains (a record per
Value showing label | data | grad, an ellipse per operation, edges, colours,
clusters, the summary of what did not fit); two thin emitters turn that into
DOT text (``to_dot``, no third-party package needed) or into a real
``graphviz.Digraph`` (``draw_dot``) whose ``.source`` is the same text.

Rendering runs a Graphviz ``dot`` executable: a system one when it is on
PATH, else ``graphviz-pure`` (installed by ``pip install "tapegrad[viz]"``),
found on PATH or beside the running interpreter, since a notebook kernel need
not have its virtual environment on PATH.  The graph is read only through
``topological_order`` and the public properties of ``Value``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from . import engine
from .engine import topological_order
from .ops import OPS
from .value import Value

__all__ = [
    "INSTALL_HINT",
    "RENDERER",
    "RenderError",
    "RendererNotFound",
    "draw_dot",
    "find_renderer",
    "layout",
    "mimebundle",
    "render",
    "to_dot",
    "to_png",
    "to_svg",
    "write_atomic",
]

INSTALL_HINT = 'pip install "tapegrad[viz]" (or a system Graphviz)'

# Where the renderer is: None looks it up; a path (or command name) uses that one.
# The environment variable TAPEGRAD_DOT does the same without touching code.
RENDERER: str | None = None
RENDERER_ENV = "TAPEGRAD_DOT"

RANKDIRS = ("LR", "TB")
FORMATS = ("svg", "png", "pdf", "dot")
MAX_PRECISION = 15
RENDER_TIMEOUT = 120  # seconds; a picture that takes longer is not worth waiting for

# Fill colours by kind; the legend shows the same table.
COLOURS = {
    "parameter": "#fbd38d",
    "input": "#bee3f8",
    "constant": "#e2e8f0",
    "intermediate": "#ffffff",
    "output": "#c6f6d5",
}
HIGHLIGHT = "#e53e3e"
DONE = "#2f855a"
DONE_FILL = "#e6f4ea"

_GRAPH_ATTRS = {"bgcolor": "white", "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.35"}
_NODE_ATTRS = {
    "fontname": "Helvetica",
    "fontsize": "11",
    "shape": "box",
    "style": "filled",
}

# Graphviz sizes text with Helvetica's metrics, but a viewer without Helvetica
# substitutes another sans-serif, usually wider (DejaVu Sans: about 0.64 em a
# character against Helvetica's 0.56).  Record fields get a minimum width
# measured for the wide font, so the text fits whichever one is used.
_FONT_PT = 11
_WIDE_EM = 0.64
_CELL_PAD_PT = 8
_EDGE_ATTRS = {"arrowsize": "0.7", "fontcolor": "#4a5568", "fontname": "Helvetica", "fontsize": "9"}


class RendererNotFound(RuntimeError):
    """No Graphviz executable was found to turn DOT text into a picture."""


class RenderError(RuntimeError):
    """The Graphviz executable ran but did not produce the picture."""


# Number and label formatting ------------------------------------------------


def _fmt(x: float, precision: int) -> str:
    """Fixed-point with ``precision`` decimals, scientific where fixed would lie or sprawl."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return f"{0.0:.{precision}f}"  # never show -0.0000
    if abs(x) >= 1e6 or abs(x) < 0.5 * 10.0**-precision:
        return f"{x:.{precision}e}"
    return f"{x:.{precision}f}"


def _escape(text: str) -> str:
    """Text inside a quoted DOT string: backslashes and quotes escaped, newlines kept."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class HtmlLabel(str):
    """A Graphviz HTML-like label, '<...>': emitted as it is, not quoted."""


def _escape_html(text: str) -> str:
    """Text inside an HTML-like label: markup characters as entities, newlines as breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("\n", "<br/>")


def _record_label(fields: list[str], rankdir: str) -> HtmlLabel:
    """label | data | grad as a table: a row in LR pictures, a column in TB ones.

    Each field is at least as wide as its text in a wide sans-serif font.
    """
    side = "l" if rankdir == "LR" else "t"
    cells = []
    for k, text in enumerate(fields):
        width = math.ceil(len(text) * _WIDE_EM * _FONT_PT + _CELL_PAD_PT)
        border = f' border="1" sides="{side}"' if k else ""
        cells.append(f'<td width="{width}"{border}>{_escape_html(text)}</td>')
    rows = "".join(cells) if rankdir == "LR" else "</tr><tr>".join(cells)
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
    return HtmlLabel(f"<{table}<tr>{rows}</tr></table>>")


def _table_label(rows: list, fill: str) -> HtmlLabel:
    """Several records as the rows of one table; each row's last cell is a port, its id.

    ``rows`` holds (port, fields, outline) triples, ``outline`` the colour and
    pen width the row's cells are drawn with (none: the usual black).
    """
    lines = []
    for port, fields, outline in rows:
        colour = f' color="{outline["color"]}"' if outline else ""
        cells = []
        for k, text in enumerate(fields):
            width = math.ceil(len(text) * _WIDE_EM * _FONT_PT + _CELL_PAD_PT)
            at = f' port="{port}"' if k == len(fields) - 1 else ""
            cells.append(f'<td width="{width}"{at}{colour}>{_escape_html(text)}</td>')
        lines.append(f"<tr>{''.join(cells)}</tr>")
    table = f'<table border="0" cellborder="1" cellspacing="0" cellpadding="3" bgcolor="{fill}">'
    return HtmlLabel(f"<{table}{''.join(lines)}</table>>")


def _op_symbol(node: Value) -> str:
    """The op's picture symbol: '**2' shows the exponent, 'LeakyReLU(0.1)' the slope."""
    row = OPS.get(node.op)
    symbol = row.symbol if row is not None else node.op
    if node.op == "pow":
        n = float(node.arg)
        return f"{symbol}{int(n) if n.is_integer() else f'{n:g}'}"
    if node.op == "leaky_relu":
        return f"{symbol}({node.arg:g})"
    return symbol


def _join_terms(terms: list[float], precision: int, limit: int = 4) -> str:
    """'1.0000 + 2.0000 - 0.5000', cut after ``limit`` terms."""
    shown = terms[:limit]
    text = _fmt(shown[0], precision)
    for t in shown[1:]:
        sign = "-" if t < 0 else "+"
        text += f" {sign} {_fmt(abs(t), precision)}"
    if len(terms) > limit:
        text += f" + … ({len(terms)} terms)"
    return text


def local_derivatives(node: Value) -> tuple[float, ...] | None:
    """d(node)/d(parent) for each parent (``engine.local_derivatives``); None where not finite."""
    try:
        return tuple(engine.local_derivatives(node))
    except (ArithmeticError, ValueError, NotImplementedError):
        return None


# The drawing: what a picture contains, independent of how it is emitted ------


@dataclass
class Cluster:
    """A boxed group of nodes (one neuron, one layer, the legend)."""

    name: str
    attrs: dict
    nodes: list = field(default_factory=list)  # (id, attrs) pairs
    children: list = field(default_factory=list)
    ranks: list = field(default_factory=list)  # ids in one column, as Drawing.ranks


@dataclass
class Drawing:
    """Everything a picture shows: attributes, nodes, clusters and edges, in emission order."""

    graph_attrs: dict
    node_attrs: dict
    edge_attrs: dict
    clusters: list  # top-level Clusters, each with its nodes and nested clusters
    nodes: list  # (id, attrs) pairs outside any cluster
    edges: list  # (tail id, head id, attrs) triples
    values: dict  # Value -> record id, for every Value drawn
    # Node ids drawn side by side in one column (LR) or row (TB), in reading order:
    # top to bottom (LR) or left to right (TB).
    ranks: list = field(default_factory=list)


def _check_options(rankdir, precision, max_nodes, edge_labels, legend, clusters, ids) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(
            f"rankdir must be one of {', '.join(map(repr, RANKDIRS))}, got {rankdir!r}"
        )
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int)
        or not 0 <= precision <= MAX_PRECISION
    ):
        raise ValueError(f"precision must be an int from 0 to {MAX_PRECISION}, got {precision!r}")
    if max_nodes is not None and (
        isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
    ):
        raise ValueError(f"max_nodes must be a positive int or None (no limit), got {max_nodes!r}")
    for name, flag in (("edge_labels", edge_labels), ("legend", legend), ("ids", ids)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if clusters is not None and not isinstance(clusters, bool):
        raise ValueError(f"clusters must be True, False or None (automatic), got {clusters!r}")


def _named_params(params, module) -> tuple[dict, str | None]:
    """({Value: dotted name}, the module's class name or None) from Values or a module."""
    if params is not None and module is not None:
        raise ValueError("pass either params= or module=, not both")
    source = module if module is not None else params
    if source is None:
        return {}, None
    named = {}
    if hasattr(source, "named_parameters"):
        for name, p in source.named_parameters():
            if not isinstance(p, Value):
                raise TypeError(f"params: named_parameters() gave {type(p).__name__} for {name!r}")
            named[p] = name or p.label
        return named, type(source).__name__
    if module is not None:
        raise TypeError(f"module must have named_parameters(), got {type(module).__name__}")
    if isinstance(source, Value):
        source = [source]
    for p in source:
        if not isinstance(p, Value):
            raise TypeError(f"params must hold Values, got {type(p).__name__} {p!r}")
        named[p] = p.label
    return named, None


def _owner(name: str) -> str:
    """'layers.0.neurons.3.w.1' -> 'layers.0.neurons.3': the module that holds the parameter."""
    parts = name.split(".")
    while parts and parts[-1].isdigit():
        parts.pop()
    return ".".join(parts[:-1])


def _cluster_levels(owner: str) -> list[str]:
    """Nested cluster names for an owner: each container item, then the owner itself."""
    parts = owner.split(".")
    levels = [".".join(parts[: k + 1]) for k, part in enumerate(parts) if part.isdigit()]
    if owner not in levels:
        levels.append(owner)
    return levels


def _assign_clusters(order, named, home, uses) -> dict:
    """{Value: owner path} for parameters and the computation of the neuron that owns them.

    A neuron's box holds act(b + sum_i w_i x_i) and nothing else.  A node joins
    neuron N when it
    - weighs: uses parameters of N (of no other neuron) together with a value from
      outside N, an input or a previous layer's output: w * x, linear(w, x, b);
    - gathers: adds partial results of N, each used only here, to parameters of N
      or to a constant 0 (where Python's sum() starts): b + w*x, s + w*x;
    - activates: one single-operand op on a partial result of N used only there;
      the activation closes N (what uses it, like the next layer, is outside).
    A use of parameters that meets no input, such as p * p in an L2 penalty or
    p ** 2 in a weight norm, is about the parameters, not the neuron's output: it,
    and everything built on it, stays outside the box.  Parameters named without
    an owner ('w.0', 'b' of a lone neuron) belong to ``home``, the module itself.
    """
    owner = {p: _owner(name) or home for p, name in named.items()}
    owner = {p: o for p, o in owner.items() if o}
    partial = {}  # an open partial result of a neuron (not yet activated) -> the neuron

    for node in order:
        if node.is_leaf:
            continue
        by_params = {owner[p] for p in node.parents if p in named and p in owner}
        neurons = by_params or {partial[p] for p in node.parents if p in partial}
        if len(neurons) != 1:
            continue
        (n,) = neurons
        own = [p for p in node.parents if partial.get(p) == n and uses[p] == 1]
        outside = [p for p in node.parents if owner.get(p) != n]
        if len(node.parents) == 1:
            if own:  # activates
                owner[node] = n
        elif node.op == "add":
            if own and all(p.op == "const" and p.data == 0 for p in outside):  # gathers
                owner[node] = partial[node] = n
        elif by_params and outside:  # weighs
            owner[node] = partial[node] = n
    return owner


def _nearest(root: Value, limit: int) -> list:
    """The ``limit`` Values closest to ``root`` (breadth-first over parents), in visit order."""
    kept, seen, queue = [], {root}, deque([root])
    while queue and len(kept) < limit:
        node = queue.popleft()
        kept.append(node)
        for p in node.parents:
            if p not in seen:
                seen.add(p)
                queue.append(p)
    return kept


def _summary_label(hidden: list) -> str:
    ops = Counter(v.op for v in hidden if not v.is_leaf)
    leaves = sum(1 for v in hidden if v.is_leaf)
    top = ", ".join(f"{op} {n:,}" for op, n in ops.most_common(4))
    if len(ops) > 4:
        top += ", …"
    parts = [f"ops: {top}"] if ops else []
    if leaves:
        parts.append(f"leaves: {leaves:,}")
    return f"… {len(hidden):,} more nodes\n({'; '.join(parts)})"


def layout(
    root: Value,
    *,
    rankdir: str = "LR",
    precision: int = 4,
    edge_labels: bool = False,
    params=None,
    module=None,
    clusters: bool | None = None,
    legend: bool = False,
    highlight: Value | None = None,
    max_nodes: int | None = 200,
    ids: bool = False,
    grads: dict | None = None,
    done: frozenset | set = frozenset(),
    current: Value | None = None,
) -> Drawing:
    """Decide what the picture of ``root``'s graph shows; see ``draw_dot`` for the options.

    ``grads`` overrides the ``.grad`` shown for some Values, ``done`` marks
    Values the backward pass has already processed and ``current`` the one it
    is processing (used by ``autograd.steps`` to draw frames).
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_dot: root must be a Value, got {type(root).__name__} {root!r}")
    _check_options(rankdir, precision, max_nodes, edge_labels, legend, clusters, ids)
    named, home = _named_params(params, module)
    grad_of = (lambda v: grads.get(v, v.grad)) if grads is not None else (lambda v: v.grad)

    order = topological_order(root)
    index = {v: i for i, v in enumerate(order)}
    if highlight is not None and highlight not in index:
        raise ValueError("highlight must be a Value of this graph (one that root depends on)")
    if current is not None and current not in index:
        raise ValueError("current must be a Value of this graph")

    if max_nodes is not None and len(order) > max_nodes:
        kept = set(_nearest(root, max_nodes))
        hidden = [v for v in order if v not in kept]
    else:
        kept, hidden = set(order), []

    # Contributions upstream * local: the edge labels, and the sums in the records of
    # Values used more than once.  Only what is drawn is computed.
    def labelled(v):
        return v in kept and (edge_labels or v is current)

    contributions: dict = {}  # parent -> [contribution, ...], one per edge into a consumer
    edge_text: dict = {}  # (consumer, slot) -> label
    if edge_labels or current is not None:
        for node in order:
            if node.is_leaf or not (labelled(node) or any(labelled(p) for p in node.parents)):
                continue
            local = local_derivatives(node)
            up = grad_of(node)
            for slot, p in enumerate(node.parents):
                if local is None:
                    c, text = math.nan, "local: not finite here"
                else:
                    c = up * local[slot]
                    text = f"local {_fmt(local[slot], precision)}\ncontrib {_fmt(c, precision)}"
                contributions.setdefault(p, []).append(c)
                if labelled(node):
                    edge_text[node, slot] = text

    on_path = set()
    if highlight is not None:
        for v in order:
            if v is highlight or any(p in on_path for p in v.parents):
                on_path.add(v)

    use_clusters = home is not None if clusters is None else clusters
    owner: dict = {}  # Value -> the module path whose box it is drawn in
    if use_clusters and named:
        uses = Counter(p for v in order for p in v.parents)
        owner = _assign_clusters(order, named, home, uses)

    def kind(v):
        if v is root:
            return "output"
        if v in named:
            return "parameter"
        if v.op == "const":
            return "constant"
        return "input" if v.is_leaf else "intermediate"

    def record_fields(v):
        g = grad_of(v)
        grad_text = f"grad {_fmt(g, precision)}"
        terms = contributions.get(v, [])
        if len(terms) > 1 and labelled(v):
            joined = _join_terms(terms, precision)
            agrees = math.isclose(sum(terms), g, rel_tol=1e-9, abs_tol=1e-12)
            grad_text += f" = {joined}" if agrees else f" (edges: {joined})"
        fields = [f"data {_fmt(v.data, precision)}", grad_text]
        label = v.label or ("const" if v.op == "const" else (f"%{index[v]}" if ids else ""))
        if named.get(v) and v in owner:
            # inside its neuron's box, 'w.1' says enough
            label = named[v].removeprefix(owner[v] + ".")
        if label:
            fields.insert(0, label)
        return fields

    def outline(v):
        if v in on_path or v is current:
            return {"color": HIGHLIGHT, "penwidth": "2.5"}
        return {"color": DONE, "penwidth": "2"} if v in done else {}

    def record(v):
        label = _record_label(record_fields(v), rankdir)
        return {"label": label, "fillcolor": COLOURS[kind(v)], "margin": "0", **outline(v)}

    def op_attrs(v):
        attrs = {"label": _escape(_op_symbol(v)), "shape": "ellipse", "fillcolor": "#ffffff"}
        if v in done:
            attrs["color"], attrs["fillcolor"] = DONE, DONE_FILL
        if v in on_path or v is current:
            attrs["color"], attrs["penwidth"] = HIGHLIGHT, "2"
        return attrs

    drawing = Drawing(
        graph_attrs={**_GRAPH_ATTRS, "rankdir": rankdir},
        node_attrs=dict(_NODE_ATTRS),
        edge_attrs=dict(_EDGE_ATTRS),
        clusters=[],
        nodes=[],
        edges=[],
        values={v: f"v{index[v]}" for v in order if v in kept},
    )
    node_id = drawing.values

    if legend:
        shown = {kind(v) for v in kept}
        items = [k for k in COLOURS if k in shown]
        if rankdir == "LR":
            items.reverse()  # a rank is stacked bottom-up in LR: this reads top-down
        legend_nodes = [
            (f"legend{i}", {"label": k, "fillcolor": COLOURS[k], "shape": "box"})
            for i, k in enumerate(items)
        ]
        if highlight is not None:
            legend_nodes.append(
                (
                    "legend_path",
                    {
                        "label": "path to output",
                        "color": HIGHLIGHT,
                        "fillcolor": "#ffffff",
                        "penwidth": "2.5",
                        "shape": "box",
                    },
                )
            )
        attrs = {"label": "legend", "style": "rounded,dashed", "color": "#a0aec0"}
        drawing.clusters.append(Cluster("cluster_legend", attrs, legend_nodes))

    by_path: dict = {}

    def cluster_for(path):
        if path in by_path:
            return by_path[path]
        levels = _cluster_levels(path)
        parent = None
        for depth, level in enumerate(levels):
            if level not in by_path:
                style = "rounded,dashed" if depth < len(levels) - 1 else "rounded,filled"
                attrs = {"label": _escape(level), "style": style, "color": "#a0aec0"}
                if depth == len(levels) - 1:
                    attrs["fillcolor"] = "#f7fafc"
                by_path[level] = Cluster(f"cluster_{len(by_path)}", attrs)
                (parent.children if parent else drawing.clusters).append(by_path[level])
            parent = by_path[level]
        return by_path[path]

    # A box's parameters form one table, a row each in name order: their order
    # is then fixed, and the edges leave from the rows' right-hand ends.
    tables: dict = {}  # box path -> [parameters]
    for p in named:  # boxes in the order of the parameters' names
        if p in owner and p in kept:
            cluster_for(owner[p])
            tables.setdefault(owner[p], []).append(p)
    for k, (path, members) in enumerate(tables.items()):
        table_id = f"p{k}"
        rows = [(node_id[p].split(":")[0], record_fields(p), outline(p)) for p in members]
        attrs = {"label": _table_label(rows, COLOURS["parameter"]), "shape": "plain"}
        cluster_for(path).nodes.append((table_id, attrs))
        for p in members:
            node_id[p] = f"{table_id}:{node_id[p]}"
    for v in order:
        if v not in kept:
            continue
        target = cluster_for(owner[v]).nodes if v in owner else drawing.nodes
        if not (v.is_leaf and v in named and v in owner):
            target.append((node_id[v], record(v)))
        if not v.is_leaf:
            target.append((node_id[v] + "op", op_attrs(v)))

    if hidden:
        summary = {
            "label": _escape(_summary_label(hidden)),
            "margin": "0.3,0.1",  # room for a font wider than Helvetica
            "shape": "box",
            "style": "filled,dashed",
            "fillcolor": "#fff5f5",
        }
        drawing.nodes.append(("more", summary))

    for v in order:
        if v not in kept or v.is_leaf:
            continue
        op_id = node_id[v] + "op"
        from_hidden = False
        for slot, p in enumerate(v.parents):
            if p not in kept:
                from_hidden = True
                continue
            attrs = {}
            if (v, slot) in edge_text:
                attrs["label"] = _escape(edge_text[v, slot])
            if (p in on_path and v in on_path) or v is current:
                attrs["color"], attrs["penwidth"] = HIGHLIGHT, "2"
            drawing.edges.append((node_id[p], op_id, attrs))
        if from_hidden:
            drawing.edges.append(("more", op_id, {"style": "dashed"}))
        attrs = {"color": HIGHLIGHT, "penwidth": "2"} if v in on_path or v is current else {}
        drawing.edges.append((op_id, node_id[v], attrs))
    if owner:
        _reading_order(drawing, order, owner)
    return drawing


def _reading_order(drawing: Drawing, order: list, owner: dict) -> None:
    """Constraints that lay a grouped graph out in reading order, the same way every time.

    An edge that enters a box with a parameter table from outside (from an
    input, or the previous layer's output) spans two ranks, so the box's
    table stands one rank after what feeds it: the boxes of a layer share
    their columns, the layers follow each other left to right, and the leaves
    outside every box that feed one (the inputs) share the first column.
    ``newrank`` lets Graphviz rank the whole graph at once, across the boxes.
    """
    node_id = drawing.values
    boxed = {path for v, path in owner.items() if v in node_id and ":" in node_id[v]}
    into = {}  # (tail id, head id) of the edges that enter a box
    feeding: list = []  # leaves outside every box that feed one, in order of use
    for v in order:
        path = owner.get(v)
        if v not in node_id or v.is_leaf or path not in boxed:
            continue
        for p in v.parents:
            if p in node_id and owner.get(p) != path:
                into[node_id[p], node_id[v] + "op"] = True
                if p.is_leaf and p not in owner and node_id[p] not in feeding:
                    feeding.append(node_id[p])
    for tail, head, attrs in drawing.edges:
        if (tail, head) in into:
            attrs["minlen"] = "2"
    if len(feeding) > 1:
        drawing.ranks.append(feeding)
    drawing.graph_attrs["newrank"] = "true"


# Emitters ---------------------------------------------------------------------

# Graphviz's own rule for a bare identifier; anything else is quoted.
_ID = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))$")
_PORT = re.compile(r"[a-z]\w*:[a-z]\w*$")  # 'p3:v12', node p3's port v12 (our ids only)
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _quote(text: str) -> str:
    if isinstance(text, HtmlLabel) or _PORT.match(text):
        return text
    if _ID.match(text) and text.lower() not in _KEYWORDS:
        return text
    return f'"{text}"'


def _a_list(attrs: dict, label_first: bool = True) -> str:
    """'k=v k=v' sorted by key (label first on nodes and edges), as the graphviz package does."""
    items = sorted(attrs.items())
    if label_first and "label" in attrs:
        items = [("label", attrs["label"])] + [kv for kv in items if kv[0] != "label"]
    return " ".join(f"{_quote(k)}={_quote(v)}" for k, v in items)


def _attr_list(attrs: dict) -> str:
    return f" [{_a_list(attrs)}]" if attrs else ""


def _cluster_lines(cluster: Cluster, indent: str) -> list[str]:
    lines = [f"{indent}subgraph {cluster.name} {{"]
    if cluster.attrs:
        lines.append(f"{indent}\t{_a_list(cluster.attrs, label_first=False)}")
    for child in cluster.children:
        lines += _cluster_lines(child, indent + "\t")
    lines += [f"{indent}\t{_quote(i)}{_attr_list(a)}" for i, a in cluster.nodes]
    lines += [_same_rank(ids, indent + "\t") for ids in cluster.ranks]
    lines.append(f"{indent}}}")
    return lines


def _same_rank(ids: list, indent: str) -> str:
    """An anonymous subgraph ranking ``ids`` together, written as the graphviz package does."""
    lines = [f"{indent}{{", f"{indent}\trank=same"]
    lines += [f"{indent}\t{_quote(i)}" for i in ids]
    return "\n".join([*lines, f"{indent}}}"])


def emit_dot(drawing: Drawing) -> str:
    """The DOT text of a drawing (the same text ``draw_dot(...).source`` holds)."""
    lines = ["digraph {"]
    for kw in ("graph", "node", "edge"):
        attrs = getattr(drawing, f"{kw}_attrs")
        if attrs:
            lines.append(f"\t{kw} [{_a_list(attrs, label_first=False)}]")
    for cluster in drawing.clusters:
        lines += _cluster_lines(cluster, "\t")
    lines += [f"\t{_quote(i)}{_attr_list(a)}" for i, a in drawing.nodes]
    lines += [_same_rank(ids, "\t") for ids in drawing.ranks]
    lines += [f"\t{_quote(t)} -> {_quote(h)}{_attr_list(a)}" for t, h, a in drawing.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


@functools.cache
def _graph_class():
    """graphviz.Digraph that displays in notebooks through this module's renderer lookup."""
    import graphviz

    class GradGraph(graphviz.Digraph):
        """A ``graphviz.Digraph`` that notebooks show through tapegrad's renderer lookup."""

        def __repr__(self) -> str:
            drawn = sum(1 for line in self.body if re.match(r"\s*v\d+ \[", line))
            return f"<GradGraph: {drawn} Values drawn; .source holds the DOT text>"

        def _repr_mimebundle_(self, include=None, exclude=None, **_):
            return mimebundle(self, metadata=True)

        # pipe() and render() keep graphviz's signatures but draw through find_renderer(),
        # so they work without a system Graphviz; options only Graphviz itself knows
        # (another engine, renderer or formatter, view=True) go to graphviz's own code.

        def pipe(
            self,
            format=None,
            renderer=None,
            formatter=None,
            neato_no_op=None,
            quiet=False,
            *,
            engine=None,
            encoding=None,
        ):
            """The picture as bytes (str when ``encoding`` is given)."""
            if renderer or formatter or neato_no_op or engine not in (None, "dot"):
                return super().pipe(
                    format,
                    renderer,
                    formatter,
                    neato_no_op,
                    quiet,
                    engine=engine,
                    encoding=encoding,
                )
            data = _run(self.source, format or self.format)
            return data.decode(encoding) if encoding else data

        def render(
            self,
            filename=None,
            directory=None,
            view=False,
            cleanup=False,
            format=None,
            renderer=None,
            formatter=None,
            neato_no_op=None,
            quiet=False,
            quiet_view=False,
            *,
            outfile=None,
            engine=None,
            raise_if_result_exists=False,
            overwrite_source=False,
        ):
            """Save the DOT source and the picture beside it; return the picture's path."""
            if (
                view
                or renderer
                or formatter
                or neato_no_op
                or engine not in (None, "dot")
                or raise_if_result_exists
                or overwrite_source
            ):
                return super().render(
                    filename,
                    directory,
                    view,
                    cleanup,
                    format,
                    renderer,
                    formatter,
                    neato_no_op,
                    quiet,
                    quiet_view,
                    outfile=outfile,
                    engine=engine,
                    raise_if_result_exists=raise_if_result_exists,
                    overwrite_source=overwrite_source,
                )
            folder = Path(directory if directory is not None else self.directory or "")
            if outfile is not None:
                out = folder / outfile
                fmt = format or out.suffix.lstrip(".")
                source = folder / filename if filename is not None else out.with_suffix(".gv")
            else:
                source = folder / (filename if filename is not None else self.filename)
                fmt = format or self.format
                out = Path(f"{source}.{fmt}")
            source.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(source, self.source.encode("utf-8"))
            render(self, out, format=fmt)
            if cleanup:
                source.unlink()
            return str(out)

    return GradGraph


def emit_digraph(drawing: Drawing):
    """A ``graphviz.Digraph`` built from a drawing with the package's public API."""
    from graphviz import nohtml

    def attrs(d):
        return {k: v if isinstance(v, HtmlLabel) else nohtml(v) for k, v in d.items()}

    def same_rank(graph, ranks):
        for ids in ranks:
            with graph.subgraph() as same:
                same.attr(rank="same")
                for node_id in ids:
                    same.node(node_id)

    def fill(graph, cluster):
        with graph.subgraph(name=cluster.name) as sub:
            if cluster.attrs:
                sub.attr(**attrs(cluster.attrs))
            for child in cluster.children:
                fill(sub, child)
            for node_id, a in cluster.nodes:
                sub.node(node_id, **attrs(a))
            same_rank(sub, cluster.ranks)

    dot = _graph_class()(
        format="svg",  # what every renderer can write (graphviz's default is pdf)
        graph_attr=drawing.graph_attrs,
        node_attr=drawing.node_attrs,
        edge_attr=drawing.edge_attrs,
    )
    for cluster in drawing.clusters:
        fill(dot, cluster)
    for node_id, a in drawing.nodes:
        dot.node(node_id, **attrs(a))
    same_rank(dot, drawing.ranks)
    for tail, head, a in drawing.edges:
        dot.edge(tail, head, **attrs(a))
    return dot


def to_dot(root: Value, **options) -> str:
    """The DOT source of ``root``'s graph (plain text; needs no third-party package)."""
    return emit_dot(layout(root, **options))


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    precision: int = 4,
    edge_labels: bool = False,
    params=None,
    module=None,
    clusters: bool | None = None,
    legend: bool = False,
    highlight: Value | None = None,
    max_nodes: int | None = 200,
    ids: bool = False,
):
    """``root``'s computation graph as a ``graphviz.Digraph`` (displays inline in Jupyter).

    Options: ``rankdir`` "LR" or "TB"; ``precision`` decimals of data and grad;
    ``edge_labels`` shows each edge's local derivative and its contribution
    (upstream grad x local), and the sum of contributions where a Value is used
    more than once; ``params`` (Values, or a module with ``named_parameters()``)
    or ``module`` colours parameters, and a module groups them by neuron and
    layer (``clusters``); ``legend`` explains the colours; ``highlight`` marks
    every path from that Value to the output; ``max_nodes`` draws only the
    Values nearest the output and summarises the rest (None draws everything);
    ``ids`` names unlabelled Values '%k' by their place on the tape, as
    ``backward_steps`` and ``explain`` do.
    """
    options = {
        "rankdir": rankdir,
        "precision": precision,
        "edge_labels": edge_labels,
        "params": params,
        "module": module,
        "clusters": clusters,
        "legend": legend,
        "highlight": highlight,
        "max_nodes": max_nodes,
        "ids": ids,
    }
    return emit_digraph(layout(root, **options))


# Rendering --------------------------------------------------------------------


def _exe_name(name: str) -> str:
    return name + ".exe" if os.name == "nt" else name


def _not_found(reason: str) -> RendererNotFound:
    return RendererNotFound(f"{reason}; to draw graphs, install one: {INSTALL_HINT}")


def find_renderer() -> str:
    """Path of the Graphviz executable to use, or ``RendererNotFound`` saying what to install.

    Order: ``RENDERER`` (module setting) or ``$TAPEGRAD_DOT`` when set; else a
    system ``dot`` on PATH; else ``graphviz-pure`` on PATH; else
    ``graphviz-pure`` beside the running Python (its scripts folder).
    """
    override = RENDERER if RENDERER is not None else os.environ.get(RENDERER_ENV) or None
    if override is not None:
        found = shutil.which(override)
        if found is None:
            origin = "autograd.viz.RENDERER" if RENDERER is not None else f"${RENDERER_ENV}"
            raise _not_found(f"{origin} is {override!r}, which is not an executable")
        return found
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name)
        if found:
            return found
    exe = Path(sys.executable).parent
    folders = [exe, exe / "Scripts", Path(sysconfig.get_path("scripts"))]
    for folder in folders:
        candidate = folder / _exe_name("graphviz-pure")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise _not_found("no Graphviz renderer found (neither 'dot' nor 'graphviz-pure')")


def _dot_source(obj, **options) -> str:
    """DOT text from a Value, a graphviz object, anything with ``to_dot()``, or DOT text."""
    if isinstance(obj, Value):
        return to_dot(obj, **options)
    if options:
        raise TypeError("drawing options apply to a Value only; pass them to draw_dot instead")
    if isinstance(obj, str):
        return obj
    if hasattr(obj, "to_dot"):
        return obj.to_dot()
    if isinstance(getattr(obj, "source", None), str):
        return obj.source
    raise TypeError(
        f"expected a Value, a graphviz graph or DOT text, got {type(obj).__name__} {obj!r}"
    )


def _run(source: str, fmt: str, *args: str) -> bytes:
    renderer = find_renderer()
    try:
        done = subprocess.run(
            [renderer, f"-T{fmt}", *args],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"{renderer} took more than {RENDER_TIMEOUT} s; draw fewer nodes (max_nodes=...)"
        ) from None
    except OSError as err:
        raise RenderError(f"could not run {renderer}: {err}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or "no output"
        raise RenderError(f"{renderer} -T{fmt} failed (exit {done.returncode}): {message}")
    return done.stdout


def to_svg(obj, **options) -> str:
    """SVG text of a Value's graph (``options`` as in ``draw_dot``), a graphviz graph or DOT."""
    return _run(_dot_source(obj, **options), "svg").decode("utf-8")


def render(obj, path, format: str | None = None, **options) -> str:
    """Write a picture of ``obj`` to ``path`` and return the path.

    ``format`` is one of svg, png, pdf, dot, taken from the file extension
    when not given.  "dot" writes the source and needs no renderer.  The file
    is written to a temporary name beside ``path`` and then renamed, so a
    failed render never leaves half a file.
    """
    path = Path(path)
    fmt = format if format is not None else path.suffix.lstrip(".").lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        origin = "format" if format is not None else f"the extension of {str(path)!r}"
        raise ValueError(f"{origin} must be one of {', '.join(FORMATS)}, got {fmt!r}")
    source = _dot_source(obj, **options)
    data = source.encode("utf-8") if fmt == "dot" else _run(source, fmt)
    write_atomic(path, data)
    return str(path)


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``path``, then rename it over ``path``.

    Readers see the old file or the new one, never half of one; the new file
    gets the usual permissions (the umask applies, as for any new file).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# Notebook display ----------------------------------------------------------------


# A notebook PNG is drawn at PNG_SCALE pixels per CSS pixel (sharp on high-density
# screens) and shown at the SVG's size; larger scales only make the lessons heavier.
PNG_SCALE = 1.25
_CSS_PX_PER_PT = 96 / 72


def _svg_width_pt(svg: str) -> float | None:
    """The width the SVG asks for, in points (Graphviz writes width="123pt")."""
    m = re.search(r'<svg[^>]*\bwidth="([0-9.]+)pt"', svg)
    return float(m.group(1)) if m else None


def to_png(obj, scale: float = PNG_SCALE, **options) -> bytes:
    """PNG bytes of the same picture as ``to_svg``, ``scale`` pixels per CSS pixel."""
    dpi = 96 * scale
    return _run(_dot_source(obj, **options), "png", f"-Gdpi={dpi:g}")


# A notebook picture is at most NOTEBOOK_WIDTH CSS pixels wide: Graphviz's
# ``size`` (in inches, 96 CSS px each) scales a wider drawing down to fit.
NOTEBOOK_WIDTH = 900
_FIT = f"-Gsize={NOTEBOOK_WIDTH / 96:g},1000"
# Below this scale text gets too small to read: draw fewer nodes instead.
MIN_SCALE = 0.6
_MIN_NODES = 12


def _compact_png(png: bytes) -> bytes:
    """The PNG with 64 colours (about half the bytes) when Pillow is installed, else as is.

    A graph picture has a few fills and anti-aliased edges: 64 colours show it
    unchanged to the eye, and a lesson holding many pictures stays small.
    """
    try:
        from PIL import Image
    except ImportError:
        return png
    import io

    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").quantize(colors=64).save(out, "PNG", optimize=True)
    return out.getvalue()


def _fitted(obj) -> tuple[str, str]:
    """(DOT, SVG) of ``obj`` for a notebook: no wider than NOTEBOOK_WIDTH.

    A Value's graph is drawn left to right, else top to bottom if that is
    narrower; when even that would shrink text below MIN_SCALE, fewer nodes
    are drawn (the nearest the output) and the rest summarised in a box.
    Other objects (a graphviz graph, DOT text) are drawn as they are, scaled down.
    """
    limit_pt = NOTEBOOK_WIDTH / _CSS_PX_PER_PT

    def draw(source):
        return source, _run(source, "svg", _FIT).decode("utf-8")

    def natural(source):  # the width before scaling, in points
        svg = _run(source, "svg").decode("utf-8")
        return _svg_width_pt(svg) or 0.0

    if not isinstance(obj, Value):
        return draw(_dot_source(obj))
    max_nodes = 200
    while True:
        across = to_dot(obj, max_nodes=max_nodes)  # left to right, the usual picture
        width = natural(across)
        if width <= limit_pt:
            return draw(across)
        down = to_dot(obj, rankdir="TB", max_nodes=max_nodes)
        source, width = min([(across, width), (down, natural(down))], key=lambda sw: sw[1])
        if width <= limit_pt / MIN_SCALE or max_nodes <= _MIN_NODES:
            return draw(source)
        max_nodes = max(_MIN_NODES, max_nodes // 2)


def mimebundle(obj, *, metadata: bool = False) -> dict | tuple[dict, dict]:
    """Jupyter's display of ``obj``: its graph as SVG and PNG plus text, or text alone.

    The picture fits a notebook (see ``_fitted``: at most NOTEBOOK_WIDTH
    pixels wide, turned or summarised rather than shrunk past reading).
    The PNG is there for frontends that do not show SVG from a notebook they
    have not executed themselves (JupyterLab with an untrusted notebook); it is
    drawn at ``PNG_SCALE`` pixels per CSS pixel.  With ``metadata=True`` the
    result is (bundle, metadata) as ``_repr_mimebundle_`` may return it, the
    metadata giving the PNG the SVG's width so both show at the same size.
    Never raises: a notebook must always show something.
    """
    try:
        text = repr(obj)
    except Exception:  # display must not raise, whatever repr does
        text = f"<{type(obj).__name__}>"
    try:
        source, svg = _fitted(obj)
        png = _compact_png(_run(source, "png", _FIT, f"-Gdpi={96 * PNG_SCALE:g}"))
    except RendererNotFound as err:
        reason = str(err)
    except Exception as err:  # a picture is a bonus: fall back to the text
        reason = f"{type(err).__name__}: {err}"
    else:
        bundle = {"text/plain": text, "image/svg+xml": svg, "image/png": png}
        width = _svg_width_pt(svg)
        size = {"image/png": {"width": round(width * _CSS_PX_PER_PT)}} if width else {}
        return (bundle, size) if metadata else bundle
    bundle = {"text/plain": f"{text}\n(no graph picture: {reason})"}
    return (bundle, {}) if metadata else bundle
