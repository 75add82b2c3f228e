"""The backprop player: step through the forward and the backward pass on the graph's picture.

``Player(root)`` records a computation as a list of frames that a page plays:

- step 0: nothing computed yet;
- one forward step per node of the tape (``topological_order``): its data appears;
- the seed step: d root / d root = 1;
- one backward step per node the engine's backward pass processes, recorded
  through ``engine.backward_pass(root, order, on_step=...)``: the node is
  highlighted, its upstream gradient is shown, each edge into it carries the
  local derivative d node / d parent and the contribution upstream x local,
  and each parent's grad becomes what the engine just made it; a parent that
  already had a grad shows the sum of what it received (a node used twice).

Python computes every number; the page only shows them.  The page is the
graph's SVG (``autograd.viz.to_svg``) with a small inline script
(``player.js``) and style (``player.css``): no framework, no network request.
Its contract, for tests and for anyone embedding it: ``window.tapegradPlayer``
has ``steps``, ``step`` and ``goto(k)``; every Value's SVG group carries
``data-node`` (its place on the tape), ``data-label`` and, at the current
step, ``data-data`` and ``data-grad`` (the numbers as shown; absent while
not yet computed).

The grads shown are those of one backward pass started from zero grads (what
``backward()`` gives after ``zero_grad()``); every ``.grad`` of the graph is
put back as it was afterwards, so making a player changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .engine import backward_pass, topological_order
from .files import write_atomic
from .formatting import fmt_number
from .formatting import formula as _formula
from .formatting import value_names as _names
from .value import Value

__all__ = ["Frame", "Player", "play"]

RANKSEP = 0.9  # inches between the columns of the graph: room for two lines of edge label
MAX_NODES = 3000  # a player of more steps than this is not something anyone can step through
MAX_EXPLAINED_LEAVES = 200  # beyond this, clicking a leaf points to explain() instead


def format_number(x: float, precision: int = 4) -> str:
    """A number as the player shows it: the graph pictures' rule, so a record reads the same."""
    return fmt_number(x, precision)


@dataclass
class Frame:
    """One step of the player: what it computes, as numbers straight from the engine.

    ``data`` and ``grads`` hold only what changes at this step ({Value: number});
    ``edges`` are (parent, node, slot, local derivative, contribution);
    ``sums`` are the terms a parent's grad is now the sum of (where it has more than one).
    """

    phase: str  # "start", "forward", "seed" or "backward"
    title: str
    node: Value | None = None
    lines: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    grads: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    sums: dict = field(default_factory=dict)


class Player:
    """The forward and backward pass of ``root``'s graph, frame by frame, as a playable page.

    Options: ``precision`` (decimals shown), ``rankdir`` ("LR" or "TB"),
    ``params``/``module`` (colour parameters; a module boxes each neuron, and
    the page collapses a box when it is clicked), ``max_nodes`` (as in
    ``draw_dot``), ``title`` (the page's heading).  ``steps`` is the number of
    steps after step 0; ``frames[k]`` is step k; ``state(k)`` is what is known
    after it.  Display it in Jupyter, or write it with ``save_html(path)``.
    """

    def __init__(
        self,
        root: Value,
        *,
        precision: int = 4,
        rankdir: str = "LR",
        params: Iterable[Value] | Mapping[str, Value] | None = None,
        module: Any = None,
        clusters: bool | None = None,
        max_nodes: int | None = 200,
        title: str | None = None,
    ) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"Player: root must be a Value, got {type(root).__name__} {root!r}")
        if isinstance(precision, bool) or not isinstance(precision, int):
            raise ValueError(f"Player: precision must be an int from 0 to 15, got {precision!r}")
        if not 0 <= precision <= 15:
            raise ValueError(f"Player: precision must be an int from 0 to 15, got {precision!r}")
        self.root = root
        self.precision = precision
        self.title = title if title is not None else "Backpropagation, step by step"
        self.order = topological_order(root)
        if len(self.order) > MAX_NODES:
            raise ValueError(
                f"Player: the graph has {len(self.order):,} nodes, more than {MAX_NODES:,} "
                "can be stepped through; play a smaller one (one sample's loss, a smaller "
                "network), or draw this one with draw_dot(root, max_nodes=...)"
            )
        self.names = _names(self.order)
        self._options = {
            "rankdir": rankdir,
            "precision": precision,
            "params": params,
            "module": module,
            "clusters": clusters,
            "max_nodes": max_nodes,
            "ids": True,
            "param_tables": False,  # every Value its own node, for data-node
        }
        from .viz import layout

        layout(root, **self._options)  # checks the drawing options now, not at display time
        self.frames: list[Frame] = [Frame("start", "step 0: nothing computed yet")]
        self._record_forward()
        self._record_backward()

    # Recording ------------------------------------------------------------------------

    def format(self, x: float) -> str:
        """``x`` as the page shows it (``precision`` decimals)."""
        return format_number(x, self.precision)

    @property
    def steps(self) -> int:
        """How many steps there are after step 0."""
        return len(self.frames) - 1

    def _record_forward(self) -> None:
        """One step per node, in tape order: each node's data, computed from its parents'."""
        n = len(self.order)
        for i, v in enumerate(self.order, 1):
            name = self.names[v]
            if v.is_leaf:
                kind = "a constant" if v.op == "const" else "given"
                text = f"{name} = {self.format(v.data)} ({kind})"
            else:
                text = f"{name} = {_formula(v, self.names)} = {self.format(v.data)}"
            self.frames.append(
                Frame("forward", f"forward {i}/{n}: {text}", node=v, data={v: v.data})
            )

    def _record_backward(self) -> None:
        """The engine's own backward pass, one frame per step; every .grad is restored after."""
        root, order, names = self.root, self.order, self.names
        saved = [v.grad for v in order]
        received: dict = {}  # Value -> the contributions it has received so far
        ops = sum(1 for v in order if not v.is_leaf)
        r = names[root]

        def record(node, upstream, local):
            k = len(self.frames) - self.seed_step
            name = names[node]
            frame = Frame(
                "backward",
                f"backward {k}/{ops}: {name} = {_formula(node, names)}",
                node=node,
                lines=[f"upstream d{r}/d{name} = {self.format(upstream)}"],
            )
            for slot, (parent, d) in enumerate(zip(node.parents, local)):
                c = upstream * d  # exactly the product the engine just added
                terms = received.setdefault(parent, [])
                terms.append(c)
                frame.edges.append((parent, node, slot, d, c))
                frame.grads[parent] = parent.grad  # the engine's running sum, read back
                p = names[parent]
                line = (
                    f"-> {p}: local d{name}/d{p} = {self.format(d)}, contribution "
                    f"{self.format(upstream)} x {self.format(d)} = {self.format(c)}"
                )
                if len(terms) > 1:
                    frame.sums[parent] = tuple(terms)
                    line += (
                        f"; {p} is used {len(terms)} times, its grad adds up: "
                        f"{self._sum_text(terms, parent.grad)}"
                    )
                frame.lines.append(line)
            self.frames.append(frame)

        self.seed_step = len(self.frames)
        self.frames.append(Frame("seed", f"seed: d{r}/d{r} = 1", node=root, grads={root: 1.0}))
        try:
            for leaf in order:
                if leaf.is_leaf:
                    leaf.grad = 0.0  # from zero, so the pass shows d root / d leaf alone
            backward_pass(root, order, on_step=record)
            self.final_grads = {v: v.grad for v in order}
        finally:
            for v, g in zip(order, saved):
                v.grad = g

    def _sum_text(self, terms, total: float) -> str:
        shown = " + ".join(
            f"({self.format(t)})" if self.format(t).startswith("-") else self.format(t)
            for t in terms
        )
        return f"{shown} = {self.format(total)}"

    def state(self, k: int) -> tuple[dict, dict]:
        """({Value: data}, {Value: grad}) known after step ``k`` (0 <= k <= steps)."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= self.steps:
            raise ValueError(f"Player.state: k must be an int from 0 to {self.steps}, got {k!r}")
        data, grads = {}, {}
        for frame in self.frames[1 : k + 1]:
            data.update(frame.data)
            grads.update(frame.grads)
        return data, grads

    # The page -----------------------------------------------------------------------

    def _dot(self) -> str:
        """The picture's DOT text with the final numbers, ranks spaced for the edge labels."""
        from .viz import to_dot

        dot = to_dot(self.root, grads=self.final_grads, **self._options).rstrip()
        # A graph attribute holds wherever it is set: this one gives each edge room for
        # 'local ... / contrib ...' between the columns.
        return dot.removesuffix("}") + f"\tgraph [ranksep={RANKSEP}]\n}}\n"

    def _svg(self) -> str:
        """The graph's SVG with the final numbers, each Value's group marked for the script."""
        from .viz import to_svg

        return _mark_svg(to_svg(self._dot()), self.order, self.names)

    def _payload(self) -> dict:
        index = {v: i for i, v in enumerate(self.order)}
        fmt = self.format
        leaves = [v for v in self.order if v.is_leaf and v.op != "const"]
        explained = len(leaves) <= MAX_EXPLAINED_LEAVES
        if explained:
            from .steps import explain

        nodes = {}
        for v in self.order:
            info = {
                "name": self.names[v],
                "label": v.label,
                "formula": "" if v.is_leaf else _formula(v, self.names),
            }
            if v.is_leaf and v.op != "const":
                info["explain"] = (
                    explain(v, self.root, quiet=True).text
                    if explained
                    else f"{len(leaves)} leaves: call explain(leaf, root) in Python for this one"
                )
            nodes[index[v]] = info
        frames = []
        for f in self.frames:
            frames.append(
                {
                    "phase": f.phase,
                    "title": f.title,
                    "current": None if f.node is None else index[f.node],
                    "lines": f.lines,
                    "data": {index[v]: fmt(x) for v, x in f.data.items()},
                    "grad": {index[v]: fmt(x) for v, x in f.grads.items()},
                    "edges": [
                        [index[p], index[n], slot, fmt(d), fmt(c)] for p, n, slot, d, c in f.edges
                    ],
                    "sums": {index[v]: self._sum_text(t, f.grads[v]) for v, t in f.sums.items()},
                }
            )
        return {"steps": self.steps, "nodes": nodes, "frames": frames}

    def _fragment(self, standalone: bool) -> str:
        """The player as one <div> with its style and script inline."""
        element = f"tgp-{secrets.token_hex(4)}"
        payload = self._payload()
        payload["standalone"] = standalone
        data = _script_json(payload)
        js = _asset("player.js")
        css = _asset("player.css")
        static = graph_hidden = start = ""
        if not standalone:
            # A notebook viewed without scripts (untrusted in JupyterLab, a sanitised
            # preview) drops the inline SVG: a picture of the last step shows instead,
            # as an <img>, which sanitisers keep. The script swaps it for the player.
            png = base64.b64encode(self.png()).decode("ascii")
            static = (
                f'<div class="tgp-static"><img alt="{_html_escape(self.title)}" '
                f'src="data:image/png;base64,{png}" style="max-width:100%"></div>\n'
            )
            graph_hidden = " hidden"
            start = (
                f'var el = document.getElementById("{element}");'
                'el.querySelector(".tgp-static").remove();'
                'el.querySelector(".tgp-graph").hidden = false;\n'
            )
        return (
            f"<style>{css}</style>\n"
            f'<div class="tgp" id="{element}" tabindex="0">\n'
            # Hidden until the script runs: where scripts are off (an untrusted notebook, a
            # sanitised preview) only the picture of the last step shows, with no dead buttons.
            f'<div class="tgp-controls" hidden>'
            f'<button data-act="reset" title="reset (Home)">&#x21BA; reset</button>'
            f'<button data-act="prev" title="previous (left arrow)">&#x25C0; prev</button>'
            f'<button data-act="play" title="play / pause (space)">&#x25B6; play</button>'
            f'<button data-act="next" title="next (right arrow)">next &#x25B6;</button>'
            f'<input type="range" min="0" max="{self.steps}" value="0" aria-label="step">'
            f'<span class="tgp-count"></span></div>\n'
            f'<div class="tgp-step" hidden></div>\n'
            f"{static}"
            f'<div class="tgp-graph"{graph_hidden}>{self._svg()}</div>\n'
            f'<pre class="tgp-info" hidden>Click a node for its formula, data and grad.</pre>\n'
            f"</div>\n"
            f"<script>{js}\n{start}tapegradStartPlayer(document.getElementById("
            f'"{element}"), {data});</script>'
        )

    def to_html(self) -> str:
        """One self-contained HTML page: the graph, the controls, the script and the style."""
        title = _html_escape(self.title)
        return (
            "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            f"<title>{title}</title>\n</head>\n<body class='tgp-page'>\n<h1>{title}</h1>\n"
            f"{self._fragment(standalone=True)}\n</body>\n</html>\n"
        )

    def save_html(self, path: str | os.PathLike[str]) -> str:
        """Write ``to_html()`` to ``path`` (atomically: never half a file); returns the path."""
        path = Path(path)
        if path.is_dir():
            raise IsADirectoryError(f"save_html: {str(path)!r} is a folder; name a file in it")
        write_atomic(path, self.to_html())
        return str(path)

    def png(self) -> bytes:
        """A static picture of the last step (every data and grad), as PNG bytes."""
        from .viz import render

        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "player.png"
            render(self._dot(), out, format="png")
            return out.read_bytes()

    def __repr__(self) -> str:
        ops = sum(1 for f in self.frames if f.phase == "backward")
        return (
            f"<Player: {len(self.order)} nodes, {self.steps} steps "
            f"({len(self.order)} forward, the seed, {ops} backward)>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The player (text/html), with a static picture (a PNG <img>) for viewers without scripts.

        Never raises: without a renderer the notebook shows the text and the reason.
        """
        bundle = {"text/plain": repr(self)}
        try:
            bundle["text/html"] = self._fragment(standalone=False)
        except Exception as err:  # display must not raise; say why there is no picture
            bundle.pop("text/html", None)
            bundle["text/plain"] += f"\n(no player: {type(err).__name__}: {err})"
        return bundle


def play(root: Value, **options: Any) -> Player:
    """``Player(root, **options)``: in a notebook, the cell shows the backprop player."""
    return Player(root, **options)


# Page helpers ----------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _script_json(obj) -> str:
    """JSON that is safe inside <script>: no '</' or '<!--' can end or confuse the element."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


_NODE_GROUP = re.compile(r'<g id="(node\d+)" class="node">\s*<title>v(\d+)(op)?</title>')
_EDGE_GROUP = re.compile(
    r'<g id="(edge\d+)" class="edge">\s*<title>v(\d+)&#45;&gt;v(\d+)op</title>'
)
_CLUSTER_GROUP = re.compile(r'<g id="(clust\d+)" class="cluster">')


def _mark_svg(svg: str, order: list, names: dict) -> str:
    """Inline-ready SVG: no XML prolog or namespaces (no URL in the page), groups marked.

    A Value's record gets ``data-node`` (tape index) and ``data-label``; an op's
    ellipse ``data-op``; an edge parent -> op ``data-from``, ``data-to`` and
    ``data-slot`` (which operand, for a * a); a neuron's box ``data-cluster``.
    """
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("the renderer did not return an SVG picture")
    svg = svg[start:]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)

    def node(m):
        i = int(m.group(2))
        if m.group(3):
            return m.group(0).replace('class="node"', f'class="node tgp-op" data-op="{i}"')
        label = _html_escape(order[i].label).replace('"', "&quot;")
        return m.group(0).replace(
            'class="node"', f'class="node tgp-value" data-node="{i}" data-label="{label}"'
        )

    seen: dict = {}

    def edge(m):
        tail, head = int(m.group(2)), int(m.group(3))
        # The k-th drawn edge tail -> head is the k-th operand slot holding that parent.
        slots = [s for s, p in enumerate(order[head].parents) if p is order[tail]]
        k = seen.get((tail, head), 0)
        seen[tail, head] = k + 1
        slot = slots[k] if k < len(slots) else slots[-1]
        return m.group(0).replace(
            'class="edge"',
            f'class="edge" data-from="{tail}" data-to="{head}" data-slot="{slot}"',
        )

    svg = _NODE_GROUP.sub(node, svg)
    svg = _EDGE_GROUP.sub(edge, svg)
    svg = _CLUSTER_GROUP.sub(r'<g id="\1" class="cluster" data-cluster="1">', svg)
    return svg
