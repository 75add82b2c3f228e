"""The tape and the backward pass.

``topological_order(root)`` lists every node of the graph after all of its
parents: read forwards it is the tape of the computation, read backwards it
is the order in which the chain rule can be applied.  ``backward`` walks it
backwards once, asking each node's rule for its local derivatives and adding
``upstream grad * local`` into each parent.  That one line is the only place
where float gradients accumulate; ``create_graph=True`` has its own single
line, which adds gradient Values instead (``_graph_gradients``).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from .ops import rule_for

# (grad enabled, creation watcher or None).  One ContextVar so each op pays a
# single lookup, and so threads and async tasks each get their own mode.
_MODE: ContextVar[tuple] = ContextVar("tapegrad_mode", default=(True, None))

# Called as watcher(value, symbol, other, result) by every comparison of a Value
# (v < x, v >= w, ...): a compiled tape records them as guards (autograd.compile).
_COMPARISON_WATCHER: ContextVar = ContextVar("tapegrad_comparison_watcher", default=None)


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``: ops then record no parents."""
    return _MODE.get()[0]


def creation_watcher():
    """The callable that sees every new node (anomaly mode), or None."""
    return _MODE.get()[1]


@contextmanager
def no_grad():
    """Inside this block, ops compute values but record no graph (for evaluation)."""
    token = _MODE.set((False, _MODE.get()[1]))
    try:
        yield
    finally:
        _MODE.reset(token)


@contextmanager
def enable_grad():
    """Record graphs again inside a ``no_grad()`` block."""
    token = _MODE.set((True, _MODE.get()[1]))
    try:
        yield
    finally:
        _MODE.reset(token)


@contextmanager
def watch_creation(watcher):
    """Call ``watcher(out, op, operands)`` for every node created inside the block.

    A watcher may also have a ``check_backward(order)`` method, which
    ``backward`` then calls once after its pass (anomaly mode uses both).
    """
    token = _MODE.set((_MODE.get()[0], watcher))
    try:
        yield
    finally:
        _MODE.reset(token)


@contextmanager
def watch_comparisons(watcher):
    """Call ``watcher(value, symbol, other, result)`` for each comparison of a Value."""
    token = _COMPARISON_WATCHER.set(watcher)
    try:
        yield
    finally:
        _COMPARISON_WATCHER.reset(token)


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


def _local_grads(node, rule, operands, out):
    try:
        return rule(operands, out, node._arg)
    except (ArithmeticError, ValueError) as err:
        shown = [repr(p.data) for p in node._parents]
        if node._arg is not None:  # the exponent of x ** n, the slope of leaky_relu
            shown.append(repr(node._arg))
        args = ", ".join(shown)
        raise type(err)(
            f"backward of {node._op}({args}): the derivative is not finite here ({err})"
            + _created_at(node)
        ) from None


def _created_at(node) -> str:
    """Where anomaly mode saw ``node`` being made, for error messages ('' if not recorded)."""
    from .anomaly import creation_site

    site = creation_site(node)
    return "" if site is None else f"; the {node._op} node was created at {site}"


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
    # Leaves sum this pass's contributions from zero and add the total to what
    # they held once, at the end (as PyTorch does): adding each contribution to
    # the old grad would round differently, and a second call would then not
    # give exactly twice the first.
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
            local = _local_grads(node, rule_for(node._op), [p.data for p in parents], node.data)
            for parent, d in zip(parents, local):
                parent.grad += upstream * d  # the one place where float gradients add up
    except BaseException:
        # A pass that fails part-way must not leave half-updated parameters.
        for leaf, before in zip(leaves, held):
            leaf.grad = before
        raise
    for leaf, before in zip(leaves, held):
        leaf.grad += before
    # One lookup per call, none per node: only anomaly mode's watcher checks the pass.
    watcher = _MODE.get()[1]
    if watcher is not None and hasattr(watcher, "check_backward"):
        watcher.check_backward(order)
    return None


def _graph_gradients(root, order) -> dict:
    """The chain rule on Values: {node: d(root)/d(node) as a Value with its own graph}."""
    from .value import Value

    # The seed d(root)/d(root) = 1, labelled so it can be found in pictures of the gradient graph.
    grads = {root: Value(1.0, label="seed")}
    with enable_grad():
        for node in reversed(order):
            upstream = grads.get(node)
            if upstream is None or not node._parents:
                continue
            local = _local_grads(node, rule_for(node._op), node._parents, node)
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
    from .value import Value

    order = topological_order(output)
    if create_graph:
        grads = _graph_gradients(output, order)
        return [grads[x] if x in grads else Value(0.0) for x in inputs]
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
