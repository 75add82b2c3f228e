"""The tape and the backward pass: order, accumulation, no_grad, constants, memory."""

from __future__ import annotations

import contextvars
import gc
import sys
import threading
import weakref
from contextlib import contextmanager

import pytest

from autograd import (
    OPS,
    Value,
    enable_grad,
    gradients,
    is_grad_enabled,
    linear,
    no_grad,
    topological_order,
)


@contextmanager
def gc_disabled():
    """Only reference counting may free objects inside this block."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def small_graph(first="a", second="b"):
    """e = (a*b + a) * (a*b), with leaves created in the order given."""
    leaves = {name: Value(v, label=name) for name, v in ((first, 2.0), (second, -3.0))}
    a, b = leaves["a"], leaves["b"]
    c = a * b
    c.label = "c"
    d = c + a
    d.label = "d"
    e = d * c
    e.label = "e"
    return a, b, c, d, e


# Topological order ----------------------------------------------------------


def assert_is_topological(order, root):
    """Each node once, root last, every parent present and earlier."""
    position = {node: i for i, node in enumerate(order)}
    assert len(position) == len(order), "a node appears twice"
    assert order[-1] is root
    for node in order:
        for parent in node.parents:
            assert parent in position, "a reachable node is missing"
            assert position[parent] < position[node], "a node comes before its parent"


def test_every_node_comes_after_its_parents():
    a, b, c, d, e = small_graph()
    order = topological_order(e)
    assert_is_topological(order, e)
    assert set(order) == {a, b, c, d, e}


def test_order_is_deterministic_and_independent_of_creation_order():
    labels = [[n.label for n in topological_order(small_graph()[-1])] for _ in range(3)]
    swapped = [n.label for n in topological_order(small_graph(first="b", second="a")[-1])]
    assert labels[0] == labels[1] == labels[2] == swapped


def test_order_of_a_leaf_is_the_leaf():
    a = Value(1.0)
    assert topological_order(a) == [a]


def test_order_is_iterative_beyond_the_recursion_limit():
    x = Value(0.5)
    chain = [x]
    for _ in range(5 * sys.getrecursionlimit()):
        chain.append(chain[-1].sin())
    assert topological_order(chain[-1]) == chain


# Accumulation: the cases micrograd users know ------------------------------------


def test_a_plus_a():
    a = Value(3.0)
    b = a + a
    b.backward()
    assert a.grad == 2.0


def test_reused_intermediate():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0
    assert b.grad == 2.0


def test_a_times_a():
    a = Value(-1.5)
    (a * a).backward()
    assert a.grad == 2 * -1.5


def test_diamond():
    a = Value(1.5)
    left = a * 2.0
    right = a + 3.0
    out = left * right  # 2a(a + 3): d/da = 4a + 6
    out.backward()
    assert a.grad == 4 * 1.5 + 6
    assert left.grad == right.data and right.grad == left.data


def test_shared_subexpression_in_a_deeper_graph():
    x, y = Value(0.5), Value(-2.0)
    s = x * y
    out = s + s * s  # s + s^2: d/dx = (1 + 2s) y, d/dy = (1 + 2s) x
    out.backward()
    s_val = 0.5 * -2.0
    assert s.grad == 1 + 2 * s_val
    assert x.grad == (1 + 2 * s_val) * -2.0
    assert y.grad == (1 + 2 * s_val) * 0.5


def test_every_node_keeps_its_grad():
    a, b, c, d, e = small_graph()  # e = d * c, d = c + a, c = a * b
    e.backward()
    assert e.grad == 1.0
    assert d.grad == c.data
    assert c.grad == d.data + d.grad  # via e directly and via d
    assert a.grad == c.grad * b.data + d.grad
    assert b.grad == c.grad * a.data


def test_backward_of_a_leaf_seeds_it():
    a = Value(2.0)
    a.backward()
    assert a.grad == 1.0


def test_backward_twice_doubles_only_leaf_grads():
    e = small_graph()[-1]
    const = (e * 3.0).parents[1]
    out = e * const  # includes a constant leaf
    out.backward()
    first = {node: node.grad for node in topological_order(out)}
    out.backward()
    for node in topological_order(out):
        if node.is_leaf:
            assert node.grad == 2 * first[node], node.label or node.op
        else:
            assert node.grad == first[node], node.label or node.op


def test_backward_twice_doubles_exactly_when_a_leaf_is_reused():
    # Two contributions to x: added one by one onto the old grad they would
    # round differently from 2 * (first grad); summed first, they cannot.
    x = Value(1.0)
    out = (x + x.tanh() ** 3) * 1.5
    out.backward()
    first = x.grad
    out.backward()
    assert x.grad == 2 * first


def test_a_backward_that_fails_part_way_leaves_leaf_grads_as_they_were():
    x = Value(0.0, label="x")
    w = Value(3.0, label="w")
    w.grad = 0.25  # a grad from an earlier pass, still to be used by an optimizer
    out = w * x + x.sqrt()  # sqrt'(0) is infinite: the pass fails once it has started
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        out.backward()
    assert w.grad == 0.25
    assert x.grad == 0.0


def test_backward_resets_intermediate_grads_of_its_graph():
    a = Value(2.0)
    h = a * a
    (h * 5.0).backward()
    assert h.grad == 5.0
    a.grad = 0.0
    (h * 7.0).backward()  # a second graph through h: h's grad is not accumulated
    assert h.grad == 7.0
    assert a.grad == 7.0 * 2 * 2.0


def test_constants_are_leaves_that_receive_grads():
    a = Value(1.5)
    out = 2 * a + 1
    out.backward()
    assert a.grad == 2.0
    product = out.parents[0]
    two, one = product.parents[0], out.parents[1]
    assert two.op == "const" and one.op == "const"
    assert two.grad == 1.5 and one.grad == 1.0


def test_gradients_leave_grad_untouched():
    a, b, c, d, e = small_graph()
    for i, node in enumerate((a, b, c, d, e)):
        node.grad = 10.0 + i
    unrelated = Value(4.0)
    ga, gb, gu = gradients(e, [a, b, unrelated])
    assert [n.grad for n in (a, b, c, d, e)] == [10.0, 11.0, 12.0, 13.0, 14.0]
    # Compare with a plain backward on a fresh copy of the graph.
    a2, b2, _, _, e2 = small_graph()
    e2.backward()
    assert (ga, gb, gu) == (a2.grad, b2.grad, 0.0)


def test_gradients_with_create_graph_returns_values():
    x = Value(3.0)
    (dx,) = gradients(x * x * x, [x], create_graph=True)
    assert isinstance(dx, Value) and dx.data == 27.0
    assert gradients(dx, [x]) == [6 * 3.0]


def test_a_missing_rule_names_the_op(monkeypatch):
    out = Value(0.5).sin()
    monkeypatch.delitem(OPS, "sin")
    with pytest.raises(NotImplementedError, match="'sin'"):
        out.backward()


# no_grad ---------------------------------------------------------------------------


def test_no_grad_records_no_parents():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 3.0).tanh() + x
        z = linear([x], [x], 1.0)
    assert is_grad_enabled()
    for v in (y, z):
        assert v.parents == () and v.op == "" and v.is_leaf
    assert z.data == 5.0
    assert (x * 3.0).parents != ()  # recording resumes


def test_enable_grad_inside_no_grad_and_nesting():
    x = Value(2.0)
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            y = x * x
        with no_grad():
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert y.parents == (x, x)


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ValueError), no_grad():
        Value(-1.0).log()
    assert is_grad_enabled()


def test_no_grad_in_one_thread_does_not_affect_another():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with no_grad():
            inside.set()
            release.wait(10)
            seen["parents"] = (Value(1.0) + 1.0).parents

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(10)
        x = Value(2.0)
        assert is_grad_enabled()
        assert (x * 3.0).parents[0] is x
    finally:
        release.set()
        thread.join(10)
    assert seen["parents"] == ()


def test_a_new_thread_records_even_when_started_inside_no_grad():
    seen = {}

    def worker():
        seen["parents"] = len((Value(1.0) * 2.0).parents)

    with no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
    assert seen["parents"] == 2


def test_no_grad_follows_the_context_variable():
    def n_parents():
        return len((Value(1.0) + 2.0).parents)

    recording = contextvars.copy_context()
    with no_grad():
        quiet = contextvars.copy_context()
        assert recording.run(n_parents) == 2
    assert quiet.run(n_parents) == 0


# Depth and memory ----------------------------------------------------------------


def test_a_million_deep_chain_forward_backward_and_freed():
    depth = 1_000_000
    with gc_disabled():
        x = Value(1.0)
        out = x
        for i in range(depth):
            out = out + x
            if i == depth // 2:
                middle = weakref.ref(out)
        out.backward()
        assert out.data == depth + 1
        assert x.grad == depth + 1
        assert middle().grad == 1.0
        del out
        assert middle() is None


def _neuron_graph():
    ws = [Value(0.1 * i - 0.3) for i in range(4)]
    xs = [Value(1.0 - 0.2 * i) for i in range(4)]
    b = Value(0.05)
    hidden = linear(ws, xs, b).tanh()
    loss = (hidden - 0.5) ** 2 + sum(w * w for w in ws) * 1e-3
    return ws + xs + [b], loss


def test_a_graph_is_freed_by_reference_counting_alone():
    with gc_disabled():
        leaves, loss = _neuron_graph()
        loss.backward()
        inner = [weakref.ref(n) for n in topological_order(loss) if not n.is_leaf]
        assert inner and all(ref() is not None for ref in inner)
        del loss
        assert all(ref() is None for ref in inner)
        assert all(leaf.grad != 0.0 for leaf in leaves)  # leaves live on, with their grads


def test_a_create_graph_backward_is_freed_by_reference_counting_alone():
    with gc_disabled():
        leaves, loss = _neuron_graph()
        grads = loss.backward(create_graph=True)
        second = gradients(grads[leaves[0]], leaves)
        assert any(g != 0.0 for g in second)
        refs = [weakref.ref(n) for g in grads.values() for n in topological_order(g)]
        refs += [weakref.ref(n) for n in topological_order(loss) if not n.is_leaf]
        del loss, grads
        survivors = [r() for r in refs if r() is not None]
        assert all(v in leaves for v in survivors)
