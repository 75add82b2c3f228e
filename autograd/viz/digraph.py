"""A real ``graphviz.Digraph`` from a Drawing (``draw_dot``), drawn through tapegrad's renderer.

Needs the ``graphviz`` package (the viz extra); its ``.source`` is the same
text ``to_dot`` writes.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..value import Value
from .drawing import Drawing, HtmlLabel, layout
from .rendering import render, run_dot


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
            from .notebook import mimebundle  # the notebook display draws this graph

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
            data = run_dot(self.source, format or self.format)
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
                return super().render(  # by keyword: graphviz deprecates positional options
                    filename,
                    directory=directory,
                    view=view,
                    cleanup=cleanup,
                    format=format,
                    renderer=renderer,
                    formatter=formatter,
                    neato_no_op=neato_no_op,
                    quiet=quiet,
                    quiet_view=quiet_view,
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


def draw_dot(
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
) -> Any:
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
