"""Backpropagation made visible: the backward pass one node at a time, and one gradient explained.

``backward_steps(root)`` runs the chain rule itself, in tape order, and yields
a ``Step`` per node: the gradient arriving from above, the local derivative
of each operand, and what each operand receives (upstream x local).  Each step
can be drawn as a frame of the graph.  ``explain(leaf, root)`` writes one
gradient as the sum over all paths from the leaf to the output of the
product of local derivatives along the path.  ``graph_stats`` counts what a
graph is made of.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TextIO

from .engine import backward_pass, topological_order
from .formatting import fmt_number as _fmt
from .formatting import formula as _formula
from .formatting import value_names as _names
from .value import Value
from .viz import emit_digraph, emit_dot, layout, local_derivatives

__all__ = ["Explanation", "GraphStats", "Step", "backward_steps", "explain", "graph_stats"]

MAX_LISTED_PATHS = 20
MAX_LISTED_LINES = 40


def _check_root(fn: str, root) -> None:
    if not isinstance(root, Value):
        raise TypeError(f"{fn}: root must be a Value, got {type(root).__name__} {root!r}")


class _Run:
    """What every Step of one backward_steps call shares: the tape and the grads as they grew."""

    def __init__(self, root: Value, order: list) -> None:
        self.root = root
        self.order = order
        self.names = _names(order)
        self.start: dict = {}  # grads after the reset and the seed, before any step
        self.steps: list[Step] = []
        self.total = sum(1 for v in order if not v.is_leaf)

    def grads_after(self, k: int) -> dict:
        """Every node's grad once steps 0..k have run (replayed, so old frames stay true)."""
        grads = dict(self.start)
        for step in self.steps[: k + 1]:
            for parent, c in zip(step.parents, step.contributions, strict=True):
                grads[parent] += c
        return grads


@dataclass(frozen=True, eq=False)
class Step:
    """One node of the backward pass: d(root)/d(node) arrives, and is passed on to the parents.

    ``upstream`` is d(root)/d(node); ``local[i]`` is d(node)/d(parents[i]);
    ``contributions[i] = upstream * local[i]`` is what parents[i] receives.
    """

    index: int
    node: Value
    upstream: float
    parents: tuple
    local: tuple
    contributions: tuple
    _run: _Run

    @property
    def total(self) -> int:
        """How many steps the whole backward pass has (one per non-leaf node)."""
        return self._run.total

    def describe(self) -> str:
        """The step as text, with the chain rule written out."""
        names, root = self._run.names, self._run.names[self._run.root]
        node = names[self.node]
        lines = [
            f"step {self.index + 1}/{self.total}: {node} = {_formula(self.node, names)} "
            f"= {_fmt(self.node.data, 4)}",
            f"  upstream d{root}/d{node} = {_fmt(self.upstream, 4)}",
        ]
        for p, d, c in zip(self.parents, self.local, self.contributions, strict=True):
            lines.append(
                f"  -> {names[p]}: local d{node}/d{names[p]} = {_fmt(d, 4)}, "
                f"contribution {_num(self.upstream)} * {_num(d)} = {_fmt(c, 4)}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.describe()

    def _frame_options(self, options: dict) -> dict:
        done = {s.node for s in self._run.steps[: self.index]}
        return {
            "ids": True,
            **options,
            "grads": self._run.grads_after(self.index),
            "done": done,
            "current": self.node,
        }

    def to_dot(self, **options) -> str:
        """DOT text of the frame: the graph with grads as they are after this step."""
        return emit_dot(layout(self._run.root, **self._frame_options(options)))

    def draw(self, **options):
        """This step as a frame (``graphviz.Digraph``): processed nodes in green, this one in red.

        Options are those of ``draw_dot``; the grads shown are those after this step.
        """
        return emit_digraph(layout(self._run.root, **self._frame_options(options)))

    @property
    def frame(self):
        """``draw()`` with the default options."""
        return self.draw()

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .viz import mimebundle

        return mimebundle(self, metadata=True)


def backward_steps(root: Value) -> Iterator[Step]:
    """Run backward on ``root`` one node at a time, yielding a ``Step`` for each, in tape order.

    Each step is one step of the engine's own pass (``engine.backward_pass``),
    recorded as it ran, so the semantics are ``root.backward()``'s: non-leaf
    grads are reset, the seed is 1, leaves accumulate, and every ``.grad`` is
    what ``backward()`` leaves.  Each step's frame shows the grads as they
    were right after it.
    """
    _check_root("backward_steps", root)  # now, not at the first next()
    return _steps(root)


def _steps(root: Value) -> Iterator[Step]:
    order = topological_order(root)
    run = _Run(root, order)
    # What backward_pass sets before its first step: every grad 0, the seed 1.
    run.start = dict.fromkeys(order, 0.0)
    run.start[root] = 1.0

    def record(node, upstream, local):
        contributions = tuple(upstream * d for d in local)  # what the pass just added
        step = Step(len(run.steps), node, upstream, node.parents, tuple(local), contributions, run)
        run.steps.append(step)

    backward_pass(root, order, on_step=record)
    yield from run.steps


# explain: one gradient as a sum over paths --------------------------------------------


@dataclass(frozen=True)
class Path:
    """One route from the leaf to the output: the nodes, and each edge's local derivative.

    ``slots[i]`` is the operand position through which ``nodes[i]`` enters ``nodes[i + 1]``
    (in ``a * a`` the two paths through the product differ only there).
    """

    nodes: tuple
    factors: tuple
    slots: tuple

    @property
    def product(self) -> float:
        """The product of the local derivatives along the path: its share of the gradient."""
        return math.prod(self.factors)


@dataclass(frozen=True)
class Explanation:
    """``d root / d leaf`` derived by hand: ``total`` equals what backward() computes."""

    leaf: Value
    root: Value
    total: float
    n_paths: int
    paths: tuple  # the Paths, when they were few enough to list; else empty
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Explanation: {self.text.splitlines()[-1]}>"


def _relevant(order: list, leaf: Value) -> set:
    """The nodes on some path from ``leaf`` to the root (the leaf and what depends on it)."""
    reach = {leaf} if leaf in set(order) else set()
    for v in order:
        if any(p in reach for p in v.parents):
            reach.add(v)
    return reach


def explain(
    leaf: Value,
    root: Value | None = None,
    *,
    max_paths: int = MAX_LISTED_PATHS,
    file: TextIO | None = None,
    quiet: bool = False,
) -> Explanation:
    """Print and return how d(root)/d(leaf) follows from the chain rule, with the numbers.

    The gradient is the sum, over every path from ``leaf`` to ``root``, of the
    product of the local derivatives along the path.  Up to ``max_paths``
    paths are listed one by one; beyond that (paths multiply quickly) the
    derivation is shown as backward computes it, one node at a time.
    Prints to ``file`` (standard output by default; nothing when ``quiet``)
    and returns an ``Explanation`` whose ``total`` is the gradient.  Reads
    only data: no ``.grad`` is changed.
    """
    if root is None:
        raise ValueError(
            "explain: pass root=, the output to differentiate (a Value does not know "
            "which outputs were computed from it)"
        )
    _check_root("explain", root)
    if not isinstance(leaf, Value):
        raise TypeError(f"explain: leaf must be a Value, got {type(leaf).__name__} {leaf!r}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise ValueError(f"explain: max_paths must be an int >= 0, got {max_paths!r}")
    order = topological_order(root)
    names = _names(order)
    r = names[root]
    x = names.get(leaf) or leaf.label or "leaf"
    relevant = _relevant(order, leaf)
    nodes = [v for v in order if v in relevant]
    if not nodes:
        return _finish(
            leaf, root, 0.0, 0, (), [f"d{r}/d{x} = 0: {r} does not depend on {x}"], file, quiet
        )
    if leaf is root:
        return _finish(leaf, root, 1.0, 1, (), [f"d{r}/d{x} = 1 (the output itself)"], file, quiet)

    local = {}
    consumers: dict = {v: [] for v in nodes}  # v -> [(consumer, slot)], one entry per edge
    for c in nodes:
        if c.is_leaf:
            continue
        d = local_derivatives(c)
        local[c] = d if d is not None else (math.nan,) * len(c.parents)
        for slot, p in enumerate(c.parents):
            if p in consumers:
                consumers[p].append((c, slot))

    # How many paths reach each node from the leaf: the sum over its incoming edges.
    count = {leaf: 1}
    for v in nodes:
        if v is not leaf:
            count[v] = sum(count.get(p, 0) for p in v.parents)
    n_paths = count[root]

    lines = []
    if n_paths <= max_paths:
        paths = tuple(_paths(leaf, root, consumers, local))
        total = math.fsum(p.product for p in paths)
        if n_paths == 1:
            route, chain = _chain(paths[0], names)
            lines.append(
                f"d{r}/d{x} = the product of the local derivatives along the one path "
                f"from {x} to {r} (the chain rule):"
            )
            lines.append(f"  path: {route}")
            chain = chain if len(paths[0].factors) > 1 else ""  # not 'dy/dx = dy/dx = ...'
            lines.append(f"d{r}/d{x} = {chain}{_fmt(total, 4)}")
            return _finish(leaf, root, total, n_paths, paths, lines, file, quiet)
        lines.append(f"d{r}/d{x} = sum over {n_paths} paths from {x} to {r} of the product")
        lines.append("of the local derivatives along the path (the chain rule):")
        for k, path in enumerate(paths, 1):
            route, chain = _chain(path, names)
            lines.append(f"  path {k}: {route}")
            lines.append(f"    {chain}{_fmt(path.product, 4)}")
        terms = " + ".join(_num(p.product) for p in paths)
        lines.append(f"d{r}/d{x} = {terms} = {_fmt(total, 4)}")
        return _finish(leaf, root, total, n_paths, paths, lines, file, quiet)

    # Too many paths: accumulate per node, in reverse tape order, as backward does.
    adj = dict.fromkeys(nodes, 0.0)
    adj[root] = 1.0
    body = []
    for v in reversed(nodes):
        if v is root:
            continue
        edges = consumers[v]
        adj[v] = math.fsum(adj[c] * local[c][slot] for c, slot in edges)
        # d root/d root = 1, so an edge straight into the root is just its local derivative.
        symbols = " + ".join(
            f"d{r}/d{names[v]}" if c is root else f"d{r}/d{names[c]} * d{names[c]}/d{names[v]}"
            for c, _ in edges
        )
        numbers = " + ".join(
            _num(local[c][s]) if c is root else f"{_num(adj[c])} * {_num(local[c][s])}"
            for c, s in edges
        )
        body.append(f"  d{r}/d{names[v]} = {symbols} = {numbers} = {_fmt(adj[v], 4)}")
    if len(body) > MAX_LISTED_LINES:
        half = MAX_LISTED_LINES // 2
        skipped = len(body) - 2 * half
        body = [*body[:half], f"  … {skipped:,} more nodes …", *body[-half:]]
    lines.append(
        f"d{r}/d{x}: {n_paths:,} paths from {x} to {r}, more than max_paths={max_paths}; "
        "summing per node instead, as backward does:"
    )
    lines.append(f"  d{r}/d{r} = 1")
    lines += body
    lines.append(f"d{r}/d{x} = {_fmt(adj[leaf], 4)}")
    return _finish(leaf, root, adj[leaf], n_paths, (), lines, file, quiet)


def _chain(path: Path, names: dict) -> tuple[str, str]:
    """The route 'x -> u -> L' and the chain 'du/dx * dL/du = 2.0000 * (-1.0000) = '.

    Where the same Value is several operands of one op (a * a), the route says
    which operand this path goes through.  A one-edge path's chain is 'dL/dx = '.
    """
    route = names[path.nodes[0]]
    for a, b, slot in zip(path.nodes[:-1], path.nodes[1:], path.slots, strict=True):
        twice = b.parents.count(a) > 1
        route += f" -> {names[b]}" + (f" (as operand {slot})" if twice else "")
    symbols = " * ".join(f"d{names[b]}/d{names[a]}" for a, b in pairwise(path.nodes))
    if len(path.factors) == 1:
        return route, f"{symbols} = "
    return route, f"{symbols} = {' * '.join(_num(f) for f in path.factors)} = "


def _num(x: float) -> str:
    """A number inside a formula: negatives in parentheses, so '2 * (-3)' reads right."""
    text = _fmt(x, 4)
    return f"({text})" if text.startswith("-") else text


def _finish(leaf, root, total, n_paths, paths, lines, file, quiet) -> Explanation:
    text = "\n".join(lines)
    if not quiet:
        print(text, file=sys.stdout if file is None else file)
    return Explanation(leaf, root, total, n_paths, paths, text)


def _paths(leaf, root, consumers, local):
    """Every path leaf -> root with its edge factors (one per edge, so a * a gives two)."""
    stack = [((leaf,), (), ())]
    while stack:
        route, factors, slots = stack.pop()
        here = route[-1]
        if here is root:
            yield Path(route, factors, slots)
            continue
        for c, slot in reversed(consumers[here]):
            stack.append(((*route, c), (*factors, local[c][slot]), (*slots, slot)))


# graph_stats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphStats:
    """What a graph is made of: counts of nodes, leaves, ops and edges, and its depth."""

    nodes: int
    leaves: int
    inputs: int
    constants: int
    parameters: int
    ops: int
    edges: int
    depth: int
    op_histogram: dict

    def __repr__(self) -> str:
        hist = ", ".join(f"{op} {n:,}" for op, n in self.op_histogram.items()) or "none"
        return (
            f"{self.nodes:,} nodes: {self.leaves:,} leaves ({self.parameters:,} parameters, "
            f"{self.inputs:,} other inputs, {self.constants:,} constants) and {self.ops:,} ops\n"
            f"{self.edges:,} edges, depth {self.depth:,} (ops on the longest path to the output)\n"
            f"ops: {hist}"
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self)}


def graph_stats(root: Value, params: Any = None) -> GraphStats:
    """Count the graph behind ``root``; ``params`` (Values or a module) count as parameters."""
    _check_root("graph_stats", root)
    if params is not None and hasattr(params, "named_parameters"):
        params = [p for _, p in params.named_parameters()]
    elif isinstance(params, Value):
        params = [params]
    param_set = set(params or ())
    order = topological_order(root)
    depth: dict = {}
    hist: Counter = Counter()
    leaves = inputs = constants = n_params = edges = 0
    for v in order:
        edges += len(v.parents)
        if v.is_leaf:
            leaves += 1
            depth[v] = 0
            if v in param_set:
                n_params += 1
            elif v.op == "const":
                constants += 1
            else:
                inputs += 1
        else:
            hist[v.op] += 1
            depth[v] = 1 + max(depth[p] for p in v.parents)
    return GraphStats(
        nodes=len(order),
        leaves=leaves,
        inputs=inputs,
        constants=constants,
        parameters=n_params,
        ops=len(order) - leaves,
        edges=edges,
        depth=depth[root],
        op_histogram=dict(hist.most_common()),
    )
