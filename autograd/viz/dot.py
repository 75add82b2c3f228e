"""DOT text from a Drawing: what Graphviz reads (needs no third-party package)."""

from __future__ import annotations

import re
from typing import Any

from ..value import Value
from .drawing import Cluster, Drawing, HtmlLabel, layout

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


def to_dot(root: Value, **options: Any) -> str:
    """The DOT source of ``root``'s graph (plain text; needs no third-party package)."""
    return emit_dot(layout(root, **options))
