"""The tape and the backward pass.

``topological_order(root)`` lists every node of the graph after all of its
parents: read forwards it is the tape of the computation, read backwards it
is the order in which the chain rule can be applied.  ``backward_pass`` walks
it backwards once, asking ``local_derivatives`` for each node's local
derivatives (the one function that applies a rule to a node) and adding
``upstream grad * local`` into each parent.  That one line is the only place
where float gradients accumulate; ``create_graph=True`` has its own single
line, which adds gradient Values instead (``_graph_gradients``).
``backward`` runs the pass to its end; the step-through
(``autograd.steps``) and the player watch the same pass step by step."""

from __future__ import annotations

from collections import deque

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
from .ops import rule_for

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


def topological_order(root) -> list:
    """Every node reachable from ``root``, each after all of its parents.

    Iterative depth-first search with an explicit stack, so depth is limited
    by memory, not by Python's recursion limit.  Parents are visited in
    operand order, so the order is the same on every run.
    """
    order = []
    visited = set()
    # Each stack entry is (node, expanded?): a node is emitted on its second
    # visit, after every parent pushed on its first visit has been emitted.
    stack = [(root, False)]
    # Bound methods as locals: this loop runs once per node of every graph.
    push, pop, emit = stack.append, stack.pop, order.append
    seen, mark = visited.__contains__, visited.add
    while stack:
        node, expanded = pop()
        if expanded:
            emit(node)
            continue
        if seen(node):
            continue
        mark(node)
        push((node, True))
        for parent in reversed(node._parents):
            if not seen(parent):
                push((parent, False))
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
    parents = node._parents
    try:
        if graph:
            return rule_for(node._op)(parents, node, node._arg)
        return rule_for(node._op)([p.data for p in parents], node.data, node._arg)
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


def backward_pass(root, order=None):
    """The chain rule over root's graph, one node at a time: the engine's backward pass.

    Resets every non-leaf grad to 0 and seeds ``root.grad = 1``, then walks
    the tape backwards; for each node that has parents it adds
    ``upstream * local[i]`` into ``parents[i].grad`` and yields
    ``(node, upstream, local)``.  ``backward`` runs it to the end;
    ``backward_steps`` and the player show each step.  Leaves sum this pass's
    contributions from zero, and what they held before is added once at the
    end (as PyTorch does): adding each contribution to the old grad would
    round differently, and a second call would then not give exactly twice
    the first.  A pass that fails or is abandoned part-way puts the leaves'
    grads back as they were, so parameters are never half-updated.
    """
    if order is None:
        order = topological_order(root)
    leaves, held = [], []
    for node in order:
        if not node._parents:
            leaves.append(node)
            held.append(node.grad)
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
            yield node, upstream, local
    except BaseException:
        for leaf, before in zip(leaves, held):
            leaf.grad = before
        raise
    for leaf, before in zip(leaves, held):
        leaf.grad += before


def backward(root, create_graph: bool = False):
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
    deque(backward_pass(root, order), maxlen=0)  # run the pass; its steps are not needed here
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


def gradients(output, inputs, create_graph: bool = False) -> list:
    """d(output)/d(x) for each x in ``inputs``, leaving every ``.grad`` as it was.

    Floats by default; with ``create_graph=True``, Values that can be
    differentiated again (like ``torch.autograd.grad``).  An input that
    ``output`` does not depend on gets 0.
    """
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
