"""What a picture of the graph shows, decided once: the structured ``Drawing``.

``layout`` turns a graph into a Drawing: a record per Value (label | data |
grad, as an HTML-like table whose cells are wide enough for any sans-serif
font), an ellipse per operation, the edges between them, colours by kind,
boxes (clusters) for groups of Values, and a summary of what did not fit.
The emitters (``autograd.viz.dot``, ``autograd.viz.digraph``) and the
step-through frames all start from it.  The graph is read only through
``topological_order`` and the public properties of ``Value``.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .. import engine
from ..engine import topological_order
from ..formatting import fmt_number as _fmt
from ..formatting import op_symbol
from ..value import Value

RANKDIRS = ("LR", "TB")
MAX_PRECISION = 15

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


def _escape(text: str) -> str:
    """Text inside a quoted DOT string: backslashes and quotes escaped, newlines kept."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class HtmlLabel(str):
    """A Graphviz HTML-like label, '<...>': emitted as it is, not quoted."""


def _escape_html(text: str) -> str:
    """Text inside an HTML-like label: markup characters as entities, newlines as breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;").replace("\n", "<br/>")


def _record_label(fields: list[str]) -> HtmlLabel:
    """label / data / grad as a table of one column, each field under the one before.

    Stacked, a record is about half as wide as in a row, so pictures read
    left to right fit a notebook more often.  Each field is at least as wide
    as its text in a wide sans-serif font.
    """
    cells = []
    for k, text in enumerate(fields):
        width = math.ceil(len(text) * _WIDE_EM * _FONT_PT + _CELL_PAD_PT)
        border = ' border="1" sides="t"' if k else ""
        cells.append(f'<td width="{width}"{border}>{_escape_html(text)}</td>')
    rows = "</tr><tr>".join(cells)
    table = '<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
    return HtmlLabel(f"<{table}<tr>{rows}</tr></table>>")


def _table_label(rows: list, fill: str, rankdir: str = "LR") -> HtmlLabel:
    """Several records as one table; each record's last cell is a port, its id.

    In an LR picture each record is a row (stacked top to bottom, edges leave
    from the right); in a TB one each is a column (side by side, left to
    right, edges leave from the bottom).  ``rows`` holds (port, fields,
    outline) triples, ``outline`` the colour the record's cells are drawn with.
    """
    grid = []  # one list of cells per record
    for port, fields, outline in rows:
        colour = f' color="{outline["color"]}"' if outline else ""
        cells = []
        for k, text in enumerate(fields):
            width = math.ceil(len(text) * _WIDE_EM * _FONT_PT + _CELL_PAD_PT)
            at = f' port="{port}"' if k == len(fields) - 1 else ""
            cells.append(f'<td width="{width}"{at}{colour}>{_escape_html(text)}</td>')
        grid.append(cells)
    if rankdir != "LR":  # records as columns: the k-th table row holds every k-th field
        grid = [list(row) for row in zip(*grid, strict=True)]
    lines = [f"<tr>{''.join(cells)}</tr>" for cells in grid]
    table = f'<table border="0" cellborder="1" cellspacing="0" cellpadding="3" bgcolor="{fill}">'
    return HtmlLabel(f"<{table}{''.join(lines)}</table>>")


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


def _groups_by_name(named: dict, home: str | None) -> dict:
    """{parameter: box path} from the parameters' dotted names alone ('a.0.w' is in 'a.0')."""
    owner = {p: _owner(name) or home for p, name in named.items()}
    return {p: path for p, path in owner.items() if path}


def _check_groups(groups) -> dict:
    if not hasattr(groups, "items"):
        raise TypeError(f"groups must map Values to box names, got {type(groups).__name__}")
    for v, path in groups.items():
        if not isinstance(v, Value) or not isinstance(path, str) or not path:
            raise TypeError(f"groups must map Values to box names (str), got {v!r}: {path!r}")
    return dict(groups)


def _nearest(root: Value, limit: int) -> list:
    """The ``limit`` Values closest to ``root`` (breadth-first over parents), in visit order."""
    kept: list[Value] = []
    seen, queue = {root}, deque([root])
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
    params: Any = None,
    module: Any = None,
    clusters: bool | None = None,
    legend: bool = False,
    highlight: Value | None = None,
    max_nodes: int | None = 200,
    ids: bool = False,
    groups: dict | None = None,
    grads: dict | None = None,
    done: frozenset | set = frozenset(),
    current: Value | None = None,
    param_tables: bool = True,
) -> Drawing:
    """Decide what the picture of ``root``'s graph shows; see ``draw_dot`` for the options.

    ``groups`` maps Values to the dotted path of the box they are drawn in
    ('layers.0.neurons.3' nests in 'layers.0'); a box's parameters (from
    ``params`` or ``module``) form one table, a row each in name order, and
    ``drawing.values`` names such a row 'table:port'.  Without ``groups``, a
    ``module`` that has ``graph_groups(root)`` (every nn module) says how its
    graph is boxed; anything else with ``named_parameters()`` is boxed by the
    parameters' dotted names.  ``param_tables=False`` draws each parameter
    as a record of its own (for pictures that address every Value by its id).

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

    automatic = home is not None or groups is not None
    use_clusters = automatic if clusters is None else clusters
    owner: dict = {}  # Value -> the path of the box it is drawn in
    if use_clusters:
        if groups is None and callable(getattr(module, "graph_groups", None)):
            groups = module.graph_groups(root)  # the module knows its own structure
        owner = _check_groups(groups) if groups is not None else _groups_by_name(named, home)

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
        label = _record_label(record_fields(v))
        return {"label": label, "fillcolor": COLOURS[kind(v)], "margin": "0", **outline(v)}

    def op_attrs(v):
        attrs = {"label": _escape(op_symbol(v)), "shape": "ellipse", "fillcolor": "#ffffff"}
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
    for p in named if param_tables else ():  # boxes in the order of the parameters' names
        if p in owner and p in kept:
            cluster_for(owner[p])
            tables.setdefault(owner[p], []).append(p)
    for k, (path, members) in enumerate(tables.items()):
        table_id = f"p{k}"
        rows = [(node_id[p].split(":")[0], record_fields(p), outline(p)) for p in members]
        attrs = {"label": _table_label(rows, COLOURS["parameter"], rankdir), "shape": "plain"}
        cluster_for(path).nodes.append((table_id, attrs))
        for p in members:
            node_id[p] = f"{table_id}:{node_id[p]}"
    for v in order:
        if v not in kept:
            continue
        target = cluster_for(owner[v]).nodes if v in owner else drawing.nodes
        if not (param_tables and v.is_leaf and v in named and v in owner):
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
