"""Matrix lowering: a one-sample tape of a layered model replayed as matrix products.

A tape of ``loss(model(x), y)`` holds one ``linear`` node per neuron, each
``b + sum_i w_i x_i`` over the same inputs, then an activation per neuron,
layer after layer, and a few nodes of loss at the end.  Over a batch of n
samples (rows of ``x``) a layer of k neurons is one matrix product::

    z1 = x @ W1.T + b1        # (n, k): W1[r, c] is weight c of neuron r
    h1 = relu(z1)             # the activation, element by element

and its backward pass is two more, with the transposes::

    dW1 = dz1.T @ x           # summed over the samples by the product itself
    db1 = dz1.sum(0)
    dx = dz1 @ W1             # what flows on to the layer below

``lower(tape)`` finds that structure in the recorded graph (``Tape.graph``):

- a *layer* is every ``linear`` node whose weights and bias are leaves
  (parameters, frozen Values or constants) and whose inputs are the same
  nodes in the same order;
- an *activation* is one unary op (relu, tanh, ...) applied to every output
  of a layer, the same op and constant for each;
- every other node (the loss, a target, a guard's operand) is replayed as
  the batch replay does, one numpy array of n samples per node, its code
  written from the rule table (``node_code``);
- a long chain of adds over one op on leaves (``sum_p p * p``, the L2
  penalty) is that op on a vector of leaves and one ``.sum()``;
- the sum over samples is a reduction (``.sum()``), and gradients of leaves
  that appear in several places are added up by one ``bincount``.

``source()`` shows the generated code.  Where the graph has nothing to lower
(a model built from ``*`` and ``+``, a tape with ``check=True``), ``lower``
warns (``MatrixFallback``), names what is missing, and the replay is the
tape's numpy batch replay (``autograd.batch.batch_replay``) instead.

The guarantees are the tape's: recorded comparisons are checked for every
sample (``TapeMismatch`` on another path), and floating-point trouble
(overflow, division by zero, a non-finite result) hands the batch to the
scalar tape, which raises the eager engine's error for the first bad sample
or returns its exact numbers.  Sums are taken in another order than the
scalar tape's, so numbers agree up to rounding (about 1e-15 relative).
"""

from __future__ import annotations

import heapq
import itertools
import linecache
import math
import re
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .batch import NUMPY_FORWARD, batch_replay, column_arrays
from .compile import Tape, TapeMismatch, node_code
from .compile.codegen import RETRACE
from .ops import OPS

__all__ = ["MatrixFallback", "MatrixTape", "lower"]

_LEAF_KINDS = ("param", "captured", "const")


class MatrixFallback(UserWarning):
    """A tape could not be lowered to matrices: it is replayed with numpy batch replay instead."""


class _GuardFailed(TapeMismatch):
    """A guard failed for some sample: raised as is, never answered by the scalar fallback."""


class _Vector:
    """Several nodes computed together as the columns of one (n, k) array.

    kind: 'input' (a list argument), 'layer' (``source @ W.T + b``), 'act'
    (an op applied to every column of ``source``), 'stack' (nodes gathered
    into columns, when a layer reads nodes that no vector holds in order) or
    'sum' (a chain of adds over one op on leaves, such as sum_p p * p: the op
    on a vector of leaves, then ``.sum()``; its columns are the terms).
    """

    def __init__(self, kind: str, name: str, cols: tuple, source=None, position: int = -1):
        self.kind = kind
        self.name = name
        self.cols = cols
        self.source = source
        self.position = position
        self.weights: list = []  # layer: per neuron, its weight leaves
        self.bias: list = []  # layer: per neuron, its bias leaf
        self.inputs: tuple = ()  # layer: the nodes it reads, in order
        self.op = ""  # act and sum: the op and its constant
        self.arg = None
        self.top = -1  # sum: the last add of the chain, which the reduction computes
        self.slots: list = []  # sum: per operand of the op, the leaf slot of each term
        self.others: list = []  # sum: terms of the chain that are not the op on leaves
        self.locals: tuple = ()  # its generated code's local names
        self.operand_names: list = []


def _literal(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "(-inf)"
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


def _vectorized(op: str):
    forward = OPS[op].forward

    def run(*xs, arg=None):
        return np.vectorize(lambda *row: forward(row, arg), otypes=[float])(*xs)

    return run


def _columns(n, *cols):
    """An (n, k) array from k columns, each an array of n samples or one number for all."""
    out = np.empty((n, len(cols)))
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _total(v, n):
    """The sum over the samples of a per-sample array (a number stands for n equal samples)."""
    return float(v.sum()) if isinstance(v, np.ndarray) and v.ndim else float(v) * n


class _Lowering:
    """The analysis of one tape's graph and the code written from it."""

    def __init__(self, tape: Tape) -> None:
        self.tape = tape
        g = self.graph = tape.graph
        self.nodes = g.nodes
        self.reason: str | None = None
        self.code: list[str] = []
        self.calls: set[str] = set()
        self.names: set[str] = set()
        self.helpers: dict = {}  # (op, repr(arg)) -> (forward name, derivative name, arg)
        self._leaf_at: dict = {}
        self.namespace: dict = {}
        self.arg_names = self._arg_names()
        self._find_leaves()
        self._find_vectors()
        if self.reason is None:
            self._order_units()

    # Analysis ------------------------------------------------------------------------------

    def _arg_names(self) -> list[str]:
        """The tape's argument names, unless one could clash with a generated name."""
        names = list(self.graph.arg_names)
        generated = re.compile(r"^(d?[zhsqxW]\d+\w*|d?b\d+|g_v\d+|v\d+|d_\w+|n|leaves|backward)$")
        helpers = {"where", "array", "zeros", "full", "bincount", "concatenate", "columns"}
        helpers |= {"total", "guard", "inf", "nan", *OPS}
        if any(generated.match(a) or a.startswith("_") or a in helpers for a in names):
            return [f"arg{k}" for k in range(len(names))]
        return names

    def _find_leaves(self) -> None:
        """Slots of the leaf vector: parameters, then frozen Values, then constants in layers."""
        g = self.graph
        self.slot = {i: k for k, i in enumerate((*g.params, *g.captured))}
        self.consts: list[float] = []

    def _leaf_slot(self, i: int) -> int:
        if i not in self.slot:  # a constant used as a weight or a bias
            self.slot[i] = len(self.graph.params) + len(self.graph.captured) + len(self.consts)
            self.consts.append(self.nodes[i].data)
        return self.slot[i]

    def _find_vectors(self) -> None:
        g, nodes = self.graph, self.nodes
        self.vectors: list[_Vector] = []
        self.by_cols: dict = {}  # cols tuple -> vector holding exactly these nodes in order
        self.home: dict = {}  # node -> (vector, column) for nodes a vector computes
        for name, row, shape in zip(self.arg_names, g.inputs, g.shapes):
            if shape is not None:
                self._add(_Vector("input", name, tuple(row)))

        # Layers: linear nodes with leaf weights and bias, grouped by their inputs.
        groups: dict = {}
        for i, node in enumerate(nodes):
            if node.kind != "op" or node.op != "linear" or not node.backprop:
                continue
            k = len(node.operands) // 2
            ws, xs, b = node.operands[:k], node.operands[k : 2 * k], node.operands[-1]
            if all(nodes[j].kind in _LEAF_KINDS for j in (*ws, b)):
                groups.setdefault(xs, []).append(i)
        self._find_sums()
        if not groups and not self.sums:
            has_linear = any(n.kind == "op" and n.op == "linear" for n in nodes)
            self.reason = (
                "no layer to lower: the graph has no `linear` node whose weights and bias are "
                "leaves"
                + (
                    " (its linear nodes compute their weights)"
                    if has_linear
                    else " (a neuron's sum written with * and +, e.g. MLP(..., fused=False), "
                    "is not recognised as a weighted sum)"
                )
                + ", and no long sum of one op on leaves (such as sum_p p * p)"
            )
            return
        layers = []
        for number, (xs, members) in enumerate(
            sorted(groups.items(), key=lambda item: item[1][0]), start=1
        ):
            v = _Vector("layer", f"z{number}", tuple(members), position=members[0])
            v.weights = [
                [self._leaf_slot(j) for j in nodes[i].operands[: len(xs)]] for i in members
            ]
            v.bias = [self._leaf_slot(nodes[i].operands[-1]) for i in members]
            v.inputs = xs
            layers.append(v)
            self._add(v)
        # Activations of layers (and of activations), found by their consumers.
        consumers: dict = {}
        for i, node in enumerate(nodes):
            if node.kind == "op" and node.backprop and len(node.operands) == 1:
                consumers.setdefault(node.operands[0], []).append(i)
        todo = list(layers)
        while todo:
            v = todo.pop(0)
            kinds: dict = {}
            for j, col in enumerate(v.cols):
                for i in consumers.get(col, ()):
                    key = (nodes[i].op, repr(nodes[i].arg))
                    kinds.setdefault(key, {}).setdefault(j, i)
            for (op, _), found in kinds.items():
                if len(found) != len(v.cols) or op == "linear":
                    continue
                cols = tuple(found[j] for j in range(len(v.cols)))
                if any(c in self.home for c in cols):
                    continue
                name = ("h" + v.name[1:]) if v.name.startswith("z") else f"{v.name}_{op}"
                act = _Vector("act", name, cols, source=v, position=min(cols))
                act.op, act.arg = op, nodes[cols[0]].arg
                self._add(act)
                todo.append(act)
        # Each layer reads a vector: one that holds its inputs in order, or a stack of them.
        stacks = itertools.count(1)
        for v in layers:
            source = self.by_cols.get(v.inputs)
            if source is None:
                source = _Vector("stack", f"s{next(stacks)}", v.inputs, position=v.position)
                self.vectors.append(source)
                self.by_cols[v.inputs] = source
            v.source = source

    def _find_sums(self, shortest: int = 4) -> None:
        """Chains of adds whose terms are mostly one op on leaves: sum_p p * p, sum_p |p|."""
        g, nodes = self.graph, self.nodes
        uses = [0] * len(nodes)
        for node in nodes:
            for j in node.operands:
                uses[j] += 1
        for lhs, _, rhs, _ in g.guards:
            for j in (lhs, rhs):
                if isinstance(j, int):
                    uses[j] += 2  # a guard needs the node's own value: never absorbed
        uses[g.root] += 2

        def is_add(i: int) -> bool:
            node = nodes[i]
            return node.kind == "op" and node.op == "add" and node.backprop

        # An add used once, as the left operand of another add, is inside a chain.
        inner = set()
        for i, node in enumerate(nodes):
            left = node.operands[0] if node.operands else -1
            if is_add(i) and uses[left] == 1 and is_add(left) and node.operands[1] != left:
                inner.add(left)
        self.sums: list[_Vector] = []
        self.absorbed: set[int] = set()
        for top in range(len(nodes)):
            if not is_add(top) or top in inner:
                continue
            chain, terms, cur = [top], [], top
            while True:
                left, right = nodes[cur].operands
                terms.append(right)
                if left in inner:
                    chain.append(left)
                    cur = left
                else:
                    terms.append(left)
                    break
            if len(terms) < shortest:
                continue
            kinds: dict = {}
            for t in terms:
                node = nodes[t]
                if (
                    node.kind == "op"
                    and node.backprop
                    and uses[t] == 1
                    and node.op != "linear"  # a layer's (found later), not a sum's
                    and all(nodes[j].kind in _LEAF_KINDS for j in node.operands)
                ):
                    key = (node.op, repr(node.arg), len(node.operands))
                    kinds.setdefault(key, []).append(t)
            if not kinds:
                continue
            members = max(kinds.values(), key=len)
            if len(members) < shortest:
                continue
            members.sort()
            v = _Vector("sum", f"q{len(self.sums) + 1}", tuple(members), position=top)
            v.top = top
            v.op, v.arg = nodes[members[0]].op, nodes[members[0]].arg
            v.slots = [
                [self._leaf_slot(nodes[t].operands[k]) for t in members]
                for k in range(len(nodes[members[0]].operands))
            ]
            chosen = set(members)
            v.others = [t for t in reversed(terms) if t not in chosen]
            self.sums.append(v)
            self.absorbed |= chosen | set(chain)

    def _add(self, v: _Vector) -> None:
        self.vectors.append(v)
        self.by_cols.setdefault(v.cols, v)
        if v.kind != "stack":
            for j, c in enumerate(v.cols):
                self.home.setdefault(c, (v, j))

    def _order_units(self) -> None:
        """Vectors and the remaining op nodes in an order where each comes after its inputs."""
        nodes = self.nodes
        self.head = [
            i
            for i, node in enumerate(nodes)
            if node.kind == "op" and i not in self.home and i not in self.absorbed
        ]
        tops = {v.top: v for v in self.sums}
        units: list[tuple[str, Any]] = [("vector", v) for v in self.vectors if v.kind != "input"]
        units += [("vector", v) for v in self.sums]
        units += [("node", i) for i in self.head]

        def producer(i: int):
            home = self.home.get(i)
            if home is not None:
                return None if home[0].kind == "input" else ("vector", id(home[0]))
            if i in tops:
                return ("vector", id(tops[i]))
            return ("node", i) if nodes[i].kind == "op" else None

        deps: dict = {}
        position: dict = {}
        for kind, u in units:
            key = (kind, id(u) if kind == "vector" else u)
            if kind == "node":
                needs = {producer(j) for j in nodes[u].operands}
                position[key] = u
            elif u.kind == "stack":
                needs = {producer(j) for j in u.cols}
                position[key] = u.position
            elif u.kind == "sum":
                needs = {producer(j) for j in u.others}
                position[key] = u.position
            else:
                needs = {("vector", id(u.source))} if u.source.kind != "input" else set()
                position[key] = u.position
            needs.discard(None)
            needs.discard(key)
            deps[key] = needs
        lookup = {(k, id(u) if k == "vector" else u): (k, u) for k, u in units}
        waiting = {key: len(need) for key, need in deps.items()}
        users: dict = {}
        for key, need in deps.items():
            for d in need:
                users.setdefault(d, []).append(key)
        ready = [(position[key], n, key) for n, key in enumerate(deps) if not waiting[key]]
        heapq.heapify(ready)
        order = []
        count = itertools.count(len(deps))
        while ready:
            _, _, key = heapq.heappop(ready)
            order.append(lookup[key])
            for user in users.get(key, ()):
                waiting[user] -= 1
                if not waiting[user]:
                    heapq.heappush(ready, (position[user], next(count), user))
        if len(order) != len(units):
            self.reason = "the layers and the other nodes cannot be put in one order"
        self.order = order

    # Code ------------------------------------------------------------------------------------

    def expr(self, i: int) -> str:
        """The code for node i's value: a column of a vector, a variable or a literal."""
        node = self.nodes[i]
        home = self.home.get(i)
        if home is not None:
            v, j = home
            return f"{v.name}[:, {j}]"
        if node.kind == "const":
            return _literal(node.data)
        if node.kind == "input":
            for name, row in zip(self.arg_names, self.graph.inputs):
                if row == (i,):
                    return name
        return f"v{i}"

    def emit(self, line: str = "", indent: int = 1) -> None:
        self.code.append("    " * indent + line if line else "")

    def helper(self, op: str, arg) -> tuple[str, str]:
        """Names of the forward and derivative functions an activation group calls."""
        key = (op, repr(arg))
        if key not in self.helpers:
            taken = {names[0] for names in self.helpers.values()}
            name = op if op not in taken else f"{op}_{len(self.helpers) + 1}"
            self.helpers[key] = (name, f"d_{name}", arg)
        return self.helpers[key][:2]

    def write(self) -> str:
        g, nodes = self.graph, self.nodes
        wrt = set(g.wrt)
        fname = f"{g.name}_matrix"
        args = [*self.arg_names, "leaves", "backward=True"]
        self.emit(f"def {fname}({', '.join(args)}):", 0)
        self.emit('"""The rows of the batch through the graph: (sum over rows, [d/d wrt])."""')
        # A tape without inputs is one evaluation, not a sum over no samples.
        self.emit(f"n = len({self.arg_names[0]})" if self.arg_names else "n = 1")
        for i in self.head_leaves():
            self.emit(f"v{i} = leaves[{self.slot[i]}]  # {self.leaf_words(i)}")

        # Forward ---------------------------------------------------------------------------
        self.emit("# forward")
        for kind, u in self.order:
            if kind == "node":
                self.forward_node(u)
            elif u.kind == "layer":
                self.emit(
                    f"W{u.name[1:]} = leaves[_W{u.name[1:]}]  # ({len(u.cols)}, "
                    f"{len(u.source.cols)}): {_neurons(len(u.cols))}, "
                    + (f"v{u.cols[0]}..v{u.cols[-1]}" if len(u.cols) > 1 else f"v{u.cols[0]}")
                )
                self.emit(f"b{u.name[1:]} = leaves[_b{u.name[1:]}]")
                self.namespace[f"_W{u.name[1:]}"] = np.array(u.weights, dtype=np.intp)
                self.namespace[f"_b{u.name[1:]}"] = np.array(u.bias, dtype=np.intp)
                self.emit(f"{u.name} = {u.source.name} @ W{u.name[1:]}.T + b{u.name[1:]}")
            elif u.kind == "act":
                fwd, _ = self.helper(u.op, u.arg)
                self.emit(f"{u.name} = {fwd}({u.source.name})")
            elif u.kind == "sum":
                self.forward_sum(u)
            else:  # stack
                cols = ", ".join(self.expr(c) for c in u.cols)
                self.emit(f"{u.name} = columns(n, {cols})")
        for k, (lhs, symbol, rhs, result) in enumerate(g.guards):
            right = self.expr(rhs) if isinstance(rhs, int) else _literal(rhs)
            self.emit(f"guard({k}, {self.expr(lhs)} {symbol} {right}, {result})")
        root = self.expr(g.root)
        self.emit("if not backward:")
        self.emit(f"return {root}", 2)

        # Backward --------------------------------------------------------------------------
        self.emit("# backward: the chain rule, last unit first; matrices for the layers")
        self.assigned: set[int] = set()
        self.pending: dict = {id(v): [] for v in self.vectors + self.sums}
        self.scatter: list[tuple[str, str]] = []
        grad_of: dict = {}
        if nodes[g.root].active:
            self.contribute(g.root, "1.0")
        for kind, u in reversed(self.order):
            if kind == "node":
                self.backward_node(u)
            else:
                grad_of[id(u)] = self.backward_vector(u, wrt)
        for v in self.vectors:
            if v.kind == "input":
                grad_of[id(v)] = self.assemble(v)

        # Gradients of the leaves: layers' through one bincount, the rest summed over samples.
        n_leaves = len(g.params) + len(g.captured) + len(self.consts)
        leaf_grads = [i for i in (*g.params, *g.captured) if i in wrt]
        if self.scatter:
            idx = ", ".join(i for i, _ in self.scatter)
            vals = ", ".join(v for _, v in self.scatter)
            self.emit(f"grads = bincount(concatenate([{idx}]), concatenate([{vals}]), {n_leaves})")
        elif leaf_grads:
            self.emit(f"grads = zeros({n_leaves})")
        for i in leaf_grads:
            if i in self.assigned:
                self.emit(f"grads[{self.slot[i]}] += total(g_v{i}, n)")
        results = []
        for i in g.wrt:
            if nodes[i].kind in ("param", "captured"):
                results.append(f"grads[{self.slot[i]}]")
            elif i in self.home and id(self.home[i][0]) in grad_of and grad_of[id(self.home[i][0])]:
                v, j = self.home[i]
                results.append(f"{grad_of[id(v)]}[:, {j}].sum()")
            elif i in self.assigned:
                results.append(f"total(g_v{i}, n)")
            else:
                results.append("0.0")
        params_only = list(g.wrt) == list(g.params) and all(
            r == f"grads[{k}]" for k, r in enumerate(results)
        )
        value = f"total({root}, n)"
        if params_only and results:
            self.emit(f"return {value}, grads[:{len(results)}]")
        else:
            self.emit(f"return {value}, array([{', '.join(results)}])")
        return fname

    def head_leaves(self) -> list[int]:
        """Parameters and frozen Values used as numbers: outside layers, or as a layer's input."""
        stacked = [c for v in self.vectors if v.kind == "stack" for c in v.cols]
        used = sorted(
            {
                j
                for j in [*(j for i in self.head for j in self.nodes[i].operands), *stacked]
                if self.nodes[j].kind in ("param", "captured")
            }
            | {
                j
                for lhs, _, rhs, _ in self.graph.guards
                for j in (lhs, rhs)
                if isinstance(j, int) and self.nodes[j].kind in ("param", "captured")
            }
        )
        return used

    def leaf_words(self, i: int) -> str:
        node = self.nodes[i]
        what = "parameter" if node.kind == "param" else "frozen Value"
        return f"{what} {node.label}".strip()

    def forward_node(self, i: int) -> None:
        node = self.nodes[i]
        names = [self.expr(j) for j in node.operands]
        code = node_code(node.op, names, node.arg, out=f"v{i}", numpy=True)
        self.calls |= code.calls
        self.names |= code.names
        note = node.op + ("" if node.backprop else ", under no_grad")
        note += f": {node.label}" if node.label else ""
        self.emit(f"v{i} = {code.forward}  # {note}")

    def contribute(self, target: int, term: str, negative: bool = False) -> None:
        g = f"g_v{target}"
        if target not in self.assigned:
            self.emit(f"{g} = {'-' if negative else ''}{term}")
        else:  # no += : a gradient may share its array with another
            self.emit(f"{g} = {g} {'-' if negative else '+'} {term}")
        self.assigned.add(target)

    def backward_node(self, i: int) -> None:
        node = self.nodes[i]
        if not node.active or not node.backprop or i not in self.assigned:
            return
        names = [self.expr(j) for j in node.operands]
        code = node_code(node.op, names, node.arg, out=self.expr(i), numpy=True)
        self.calls |= code.calls
        self.names |= code.names
        for j, local in zip(node.operands, code.locals):
            if not self.nodes[j].active:
                continue
            if local in ("1.0", "-1.0"):
                self.contribute(j, f"g_v{i}", local == "-1.0")
            else:
                self.contribute(j, f"g_v{i} * {local}")

    def assemble(self, v: _Vector):
        """``d<name>``: the gradient of a vector, from the matrices and columns that use it."""
        mats = self.pending[id(v)]
        cols = [
            (j, c)
            for j, c in enumerate(v.cols)
            if c in self.assigned and self.home.get(c) == (v, j)
        ]
        if not mats and not cols:
            return None
        d = f"d{v.name}"
        if mats:
            self.emit(f"{d} = {' + '.join(mats)}")
            for j, c in cols:
                self.emit(f"{d}[:, {j}] += g_v{c}")
        else:
            have = dict(cols)
            parts = ", ".join(f"g_v{have[j]}" if j in have else "0.0" for j in range(len(v.cols)))
            self.emit(f"{d} = columns(n, {parts})")
        return d

    def forward_sum(self, v: _Vector) -> None:
        """q = op(leaves[...], ...) over the terms, then v<top> = q.sum() (+ the other terms)."""
        names: list[str] = []
        for k, slots in enumerate(v.slots):
            same = next((j for j in range(k) if v.slots[j] == slots), None)
            if same is not None:
                names.append(names[same])
                continue
            names.append(f"{v.name}_{k}")
            self.namespace[f"_{v.name}_{k}"] = np.array(slots, dtype=np.intp)
            self.emit(f"{v.name}_{k} = leaves[_{v.name}_{k}]  # {len(slots)} leaves")
        code = node_code(v.op, names, v.arg, out=v.name, numpy=True)
        self.calls |= code.calls
        self.names |= code.names
        v.locals = code.locals
        v.operand_names = names
        self.emit(f"{v.name} = {code.forward}  # {v.op} of {len(v.cols)} terms")
        rest = "".join(f" + {self.expr(t)}" for t in v.others)
        self.emit(
            f"v{v.top} = {v.name}.sum(){rest}  # a chain of {len(v.cols) + len(v.others) - 1} adds"
        )

    def backward_sum(self, v: _Vector) -> None:
        if v.top not in self.assigned:
            return
        self.emit(f"d{v.name} = full({len(v.cols)}, total(g_v{v.top}, n))")
        for k, local in enumerate(v.locals):
            if local == "1.0":
                term = f"d{v.name}"
            elif local == "-1.0":
                term = f"-d{v.name}"
            else:
                term = f"d{v.name} * {local}"
            self.scatter.append((f"_{v.operand_names[k]}", term))
        for t in v.others:
            if self.nodes[t].active:
                self.contribute(t, f"g_v{v.top}")

    def backward_vector(self, v: _Vector, wrt: set):
        if v.kind == "sum":
            return self.backward_sum(v)
        d = self.assemble(v)
        if d is None:
            return None
        if v.kind == "layer":
            k = v.name[1:]
            leaves = {self.leaf_node(s) for row in v.weights for s in row} | {
                self.leaf_node(s) for s in v.bias
            }
            if leaves & wrt:
                self.emit(f"dW{k} = {d}.T @ {v.source.name}")
                self.emit(f"db{k} = {d}.sum(0)")
                self.scatter += [(f"_W{k}.ravel()", f"dW{k}.ravel()"), (f"_b{k}", f"db{k}")]
            if any(self.nodes[c].active for c in v.source.cols):
                self.pending[id(v.source)].append(f"{d} @ W{k}")
        elif v.kind == "act":
            if any(self.nodes[c].active for c in v.source.cols):
                _, dname = self.helper(v.op, v.arg)
                self.pending[id(v.source)].append(f"{d} * {dname}({v.source.name}, {v.name})")
        elif v.kind == "stack":
            for j, c in enumerate(v.cols):
                if self.nodes[c].active:
                    self.contribute(c, f"{d}[:, {j}]")
        return d

    def leaf_node(self, slot: int) -> int:
        if len(self._leaf_at) != len(self.slot):
            self._leaf_at = {s: i for i, s in self.slot.items()}
        return self._leaf_at[slot]

    # The module ------------------------------------------------------------------------------

    def header(self) -> str:
        """Helper functions: each activation's forward and derivative, from the rule table."""
        lines = []
        for (op, _), (name, dname, arg) in self.helpers.items():
            code = node_code(op, ["x"], arg, out="out", numpy=True)
            self.calls |= code.calls
            self.names |= code.names
            if code.forward != f"{op}(x)" or name != op:
                lines += [
                    f"def {name}(x):",
                    f'    """op {op!r} of the rule table on arrays."""',
                    f"    return {code.forward}",
                    "",
                    "",
                ]
            lines += [
                f"def {dname}(x, out):",
                f'    """The local derivative of op {op!r} (out = {name}(x)), from its rule."""',
                f"    return {code.locals[0]}",
                "",
                "",
            ]
        return "\n".join(lines)


_counter = itertools.count()


class MatrixTape:
    """A tape replayed over a batch with matrix products (see the module docstring).

    ``lowered`` says whether the structure was found; when it was not,
    ``reason`` says what was missing and calls go to ``autograd.batch.batch_replay``.
    """

    def __init__(self, tape: Tape, warn: bool = True) -> None:
        if not isinstance(tape, Tape):
            raise TypeError(f"lower: expects a Tape (from trace), got {type(tape).__name__}")
        self.tape = tape
        self.reason: str | None = None
        self._function: Callable[..., Any] | None = None
        self._source = ""
        self.layers: list[str] = []
        if tape.check:
            self.reason = "the tape has check=True: every sample must re-run the function"
        else:
            low = _Lowering(tape)
            self.reason = low.reason
            if self.reason is None:
                self._build(low)
        if self.reason is not None and warn:
            name = tape.graph.name
            warnings.warn(
                f"lower: {'the tape' if name == 'tape' else f'tape {name}'} is replayed with "
                f"numpy batch replay, not matrices: {self.reason}",
                MatrixFallback,
                stacklevel=3,
            )

    @property
    def lowered(self) -> bool:
        """True when the replay runs on matrices, False when it is the batch replay."""
        return self.reason is None

    def _build(self, low: _Lowering) -> None:
        tape = self.tape
        name = low.write()
        header = low.header()
        body = "\n".join(low.code) + "\n"
        self.layers = [
            f"{v.name}: {_neurons(len(v.cols))} on {len(v.source.cols)} inputs"
            + (f", then {u.op}" if (u := _act_of(low, v)) else "")
            for v in low.vectors
            if v.kind == "layer"
        ]
        intro = [
            f'"""Tape {low.graph.name} lowered to matrices: one row per sample."""',
            "",
            "# W<k>, b<k>: the weights and biases of layer k gathered from `leaves` (params,",
            "# then frozen Values and constants) by the index arrays _W<k>, _b<k>;",
            "# where, columns, total, bincount, ...: numpy; g_v<i>: d(value)/d(v<i>).",
            "",
            "",
            "",
        ]
        self._source = "\n".join(intro) + header + ("\n" if header else "") + body
        namespace = low.namespace
        namespace.update(
            where=np.where,
            array=np.array,
            zeros=np.zeros,
            full=np.full,
            bincount=np.bincount,
            concatenate=np.concatenate,
            columns=_columns,
            total=_total,
            inf=math.inf,
            nan=math.nan,
            guard=self._guard,
        )
        for op in low.calls:
            namespace[op] = NUMPY_FORWARD.get(op) or _vectorized(op)
        self._consts = np.array(low.consts, dtype=np.float64)
        self._n_params = len(tape.params)
        filename = f"<matrix tape {low.graph.name} #{next(_counter)}>"
        lines = self._source.splitlines(keepends=True)
        linecache.cache[filename] = (len(self._source), None, lines, filename)
        weakref.finalize(self, linecache.cache.pop, filename, None)
        exec(compile(self._source, filename, "exec"), namespace)
        self._function = namespace[name]
        self._shapes = tape.graph.shapes
        self._who = f"tape {low.graph.name}"

    def _guard(self, k: int, cond, expected: bool) -> None:
        ok = np.asarray(cond) == expected
        if not ok.all():
            sample = int(np.argmin(ok)) if ok.ndim else 0
            raise _GuardFailed(
                f"{self._who}: sample {sample}: guard {k}: {self.tape.guards[k]}, not now{RETRACE}"
            )

    def source(self) -> str:
        """The generated numpy code (or, when not lowered, why, and the scalar tape's code)."""
        if self.lowered:
            return self._source
        return f"# not lowered to matrices: {self.reason}\n" + self.tape.source()

    def __repr__(self) -> str:
        state = "; ".join(self.layers) if self.lowered else f"not lowered: {self.reason}"
        return f"<MatrixTape of {self.tape!r}: {state}>"

    # Replay ----------------------------------------------------------------------------------

    def _leaves(self, params):
        if (
            isinstance(params, np.ndarray)
            and params.dtype == np.float64
            and params.shape == (self._n_params,)
        ):
            values = params
        else:
            values = np.array(self.tape.param_values(params), dtype=np.float64)
        captured = self.tape.captured
        if captured or len(self._consts):
            values = np.concatenate([values, [v.data for v in captured], self._consts])
        return values

    def _arrays(self, columns):
        """One float64 array per argument: (n,) for a number, (n, k) for a list of k."""
        return column_arrays(self.tape, columns, self._who)

    def __call__(self, *columns, params=None):
        """``(sum of values, summed gradients as a float64 array)`` over all samples.

        Same contract as ``batch_replay(tape, *columns)``: one column per argument of
        the traced function (an (n, k) array or list of rows for a list input).
        """
        if not self.lowered:
            value, grads = batch_replay(self.tape, *columns, params=params)
            return value, np.array(grads, dtype=np.float64)
        try:
            arrays, n = self._arrays(columns)
        except (TypeError, ValueError) as err:
            if isinstance(err, TapeMismatch):
                raise
            value, grads = self.tape.sum_over(*columns, params=params)  # names the bad sample
            return value, np.array(grads, dtype=np.float64)
        if n == 0 and self._shapes:
            return 0.0, np.zeros(len(self.tape.graph.wrt))
        leaves = self._leaves(params)
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                value, grads = self._function(*arrays, leaves)
        except _GuardFailed:
            raise
        except (ArithmeticError, ValueError, TypeError):
            value = None
        if value is None or not (math.isfinite(value) and np.isfinite(grads).all()):
            # The scalar tape decides: the eager error for the first bad sample, or exact numbers.
            value, grads = self.tape.sum_over(*columns, params=params)
            return value, np.array(grads, dtype=np.float64)
        return value, grads

    def forward(self, *columns, params=None) -> np.ndarray:
        """The recorded function's value for each sample, an array of n (no backward pass)."""
        if self.lowered:
            try:
                arrays, n = self._arrays(columns)
            except TapeMismatch:
                raise
            except (TypeError, ValueError):
                arrays = None
            if arrays is not None:
                if n == 0:
                    return np.zeros(0)
                leaves = self._leaves(params)
                try:
                    function = self._function
                    assert function is not None  # lowered: the function was generated
                    with np.errstate(divide="raise", over="raise", invalid="raise"):
                        out = function(*arrays, leaves, backward=False)
                    out = np.broadcast_to(np.asarray(out, dtype=np.float64), (n,))
                    if np.isfinite(out).all():
                        return out
                except _GuardFailed:
                    raise
                except (ArithmeticError, ValueError, TypeError):
                    pass
        values = [self.tape(*sample, params=params)[0] for sample in zip(*columns, strict=True)]
        return np.array(values, dtype=np.float64)


def _neurons(k: int) -> str:
    return "1 neuron" if k == 1 else f"{k} neurons"


def _act_of(low: _Lowering, layer: _Vector):
    return next((v for v in low.vectors if v.kind == "act" and v.source is layer), None)


def lower(tape: Tape, *, warn: bool = True) -> MatrixTape:
    """The tape replayed with matrix products over a batch: ``lower(tape)(X, Y)``.

    Warns (``MatrixFallback``) and replays with ``autograd.batch.batch_replay`` where the graph
    has no layer to lower; ``warn=False`` leaves the reason in ``.reason`` only.
    """
    return MatrixTape(tape, warn=warn)
