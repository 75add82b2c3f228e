"""The tape and the backward pass.

``topological_order(root)`` lists every node of the graph after all of its
parents: read forwards it is the tape of the computation, read backwards it
is the order in which the chain rule can be applied.  ``backward_pass`` walks
it backwards once, asking ``local_derivatives`` for each node's local
derivatives (the one function that applies a rule to a node) and adding
``upstream grad * local`` into each parent.  That one line is the only place
where float gradients accumulate; ``create_graph=True`` has its own single
line, which adds gradient Values instead (``_graph_gradients``), and gradients
that a compiled tape computed join through ``accumulate``.
``backward`` runs that pass; the step-through (``autograd.steps``) and the
player record the same pass step by step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ._mode import (
    MODE,
    creation_site,
    creation_watcher,
    enable_grad,
    is_grad_enabled,
    no_grad,
    watch_comparisons,
    watch_creation,
)
from .ops import OPS, rule_for

if TYPE_CHECKING:  # value.py imports this module: the name is for annotations only
    from .value import Value

__all__ = [
    "backward",
    "backward_pass",
    "creation_watcher",
    "derivative_error",
    "enable_grad",
    "gradients",
    "is_grad_enabled",
    "local_derivatives",
    "no_grad",
    "topological_order",
    "watch_comparisons",
    "watch_creation",
]


def topological_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after all of its parents.

    Iterative depth-first search with an explicit stack, so depth is limited
    by memory, not by Python's recursion limit.  Parents are visited in
    operand order, so the order is the same on every run.
    """
    order: list = []
    visited: set = set()
    # A None pushed above a node means "every parent of the node below has been
    # emitted": popping it emits that node.  Cheaper than a (node, flag) pair per entry.
    stack: list = [root]
    # Bound methods as locals: this loop runs once per node of every graph.
    push, pop, emit, mark = stack.append, stack.pop, order.append, visited.add
    while stack:
        node = pop()
        if node is None:
            emit(pop())
            continue
        if node in visited:
            continue
        mark(node)
        push(node)
        push(None)
        for parent in reversed(node._parents):
            if parent not in visited:
                push(parent)
    return order


def local_derivatives(node, graph: bool = False) -> tuple:
    """d(node)/d(parent_i) for each parent of ``node``: its rule from the table, applied.

    This is the one place where a rule meets a node; the backward pass, the
    step-through, edge labels and anomaly mode all ask it.  By default the
    rule runs on the parents' data and gives floats; with ``graph=True`` it
    runs on the parent Values and gives Values, whose own graphs can be
    differentiated again (``create_graph=True``).  Where a derivative is not
    finite (sqrt'(0)) it raises, with the message of ``derivative_error``.
    """
    row = OPS.get(node._op)
    if row is None:
        raise AssertionError(rule_for(node._op))  # rule_for raises, naming the op
    parents = node._parents
    try:
        if graph:
            return row.backward(parents, node, node._arg)
        return row.backward([p.data for p in parents], node.data, node._arg)
    except (ArithmeticError, ValueError) as err:
        values = [p.data for p in parents]
        raise type(err)(derivative_error(node._op, values, node._arg, err, node)) from None


def derivative_error(op: str, values, arg, err: BaseException, node=None) -> str:
    """The message for a derivative that is not finite: the op, its operands, where it was made.

    Compiled tapes report their failures with it too, so both speak alike.
    """
    shown = [repr(v) for v in values]
    if arg is not None:  # the exponent of x ** n, the slope of leaky_relu
        shown.append(repr(arg))
    text = f"backward of {op}({', '.join(shown)}): the derivative is not finite here ({err})"
    site = None if node is None else creation_site(node)
    return text if site is None else f"{text}; the {op} node was created at {site}"


def backward_pass(root, order=None, on_step=None) -> None:
    """The chain rule over root's graph, one node at a time: the engine's backward pass.

    Resets every non-leaf grad to 0 and seeds ``root.grad = 1``, then walks
    the tape backwards; for each node that has parents it adds
    ``upstream * local[i]`` into ``parents[i].grad`` and then calls
    ``on_step(node, upstream, local)`` if given: ``backward`` runs the pass
    without one, ``backward_steps`` and the player record each step with one.
    Leaves sum this pass's contributions from zero, and what they held
    before is added once at the end (as PyTorch does): adding each
    contribution to the old grad would round differently, and a second call
    would then not give exactly twice the first.  A pass that fails part-way
    puts the leaves' grads back as they were, so parameters are never
    half-updated.
    """
    if order is None:
        order = topological_order(root)
    leaves = [node for node in order if not node._parents]
    held = [leaf.grad for leaf in leaves]
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    try:
        for node in reversed(order):
            parents = node._parents
            if not parents:
                continue
            upstream = node.grad
            local = local_derivatives(node)
            for parent, d in zip(parents, local):
                parent.grad += upstream * d  # the one place where float gradients add up
            if on_step is not None:
                on_step(node, upstream, local)
    except BaseException:
        for leaf, before in zip(leaves, held):
            leaf.grad = before
        raise
    for leaf, before in zip(leaves, held):
        leaf.grad += before


def accumulate(leaves: Iterable[Value], grads: Iterable[float], scale: float = 1.0) -> None:
    """``leaf.grad += scale * g`` for each pair: gradients a compiled tape computed join
    the ones ``backward`` leaves, the same way (leaves accumulate)."""
    for leaf, g in zip(leaves, grads, strict=True):
        leaf.grad += scale * g if scale != 1.0 else g


def backward(root: Value, create_graph: bool = False) -> dict[Value, Value] | None:
    """Set ``node.grad = d(root)/d(node)`` for every node of root's graph.

    The seed is ``root.grad = 1``.  Grads of non-leaf nodes are reset first,
    and leaves accumulate (as in PyTorch), so calling it twice doubles the
    leaf grads and changes nothing else.  Every node keeps its grad
    afterwards, so pictures can show it.

    With ``create_graph=True`` the same rules run on Values instead of floats,
    so the gradients are themselves graphs that can be differentiated again;
    ``.grad`` still holds their float value, and the call returns a dict
    ``{leaf: gradient Value}``.
    """
    order = topological_order(root)
    if create_graph:
        grads = _graph_gradients(root, order)
        for node in order:
            g = grads.get(node)
            value = 0.0 if g is None else g.data
            node.grad = node.grad + value if node.is_leaf else value
        return {n: g for n, g in grads.items() if n.is_leaf}
    backward_pass(root, order)
    # One lookup per call, none per node: only anomaly mode's watcher checks the pass.
    watcher = MODE.get()[1]
    if watcher is not None and hasattr(watcher, "check_backward"):
        watcher.check_backward(order)
    return None


def _graph_gradients(root, order) -> dict:
    """The chain rule on Values: {node: d(root)/d(node) as a Value with its own graph}."""
    # The seed d(root)/d(root) = 1, labelled so it can be found in pictures of the gradient
    # graph.  type(root) is Value: the engine needs no import of it.
    grads = {root: type(root)(1.0, label="seed")}
    with enable_grad():
        for node in reversed(order):
            upstream = grads.get(node)
            if upstream is None or not node._parents:
                continue
            local = local_derivatives(node, graph=True)
            for parent, d in zip(node._parents, local):
                contribution = upstream * d
                # The one place where gradient graphs add up.
                grads[parent] = grads[parent] + contribution if parent in grads else contribution
    return grads


def gradients(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list:
    """d(output)/d(x) for each x in ``inputs``, leaving every ``.grad`` as it was.

    Floats by default; with ``create_graph=True``, Values that can be
    differentiated again (like ``torch.autograd.grad``).  An input that
    ``output`` does not depend on gets 0.
    """
    # Checked by what they can do, not by class: the engine imports no Value.
    if not hasattr(output, "_parents"):
        raise TypeError(
            f"gradients: output must be a Value, got {type(output).__name__} {output!r}"
        )
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not hasattr(x, "_parents"):
            raise TypeError(
                f"gradients: inputs[{i}] must be a Value (the leaf to differentiate by), "
                f"got {type(x).__name__} {x!r}"
            )
    order = topological_order(output)
    if create_graph:
        grads = _graph_gradients(output, order)
        return [grads[x] if x in grads else type(output)(0.0) for x in inputs]
    saved = [n.grad for n in order]
    try:
        for n in order:
            n.grad = 0.0
        backward(output)
        reached = set(order)
        return [x.grad if x in reached else 0.0 for x in inputs]
    finally:
        for n, g in zip(order, saved):
            n.grad = g
