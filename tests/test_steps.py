"""backward_steps (the chain rule node by node), explain (a gradient as a sum of paths), stats."""

from __future__ import annotations

import io
import math
import re

import pytest

from autograd import Value, gradients, topological_order
from autograd.steps import backward_steps, explain, graph_stats
from autograd.viz import DONE, HIGHLIGHT

# backward_steps ----------------------------------------------------------------


def test_steps_leave_exactly_the_grads_backward_leaves(readme_graph):
    _, _, g = readme_graph(backward=False)
    order = topological_order(g)
    list(backward_steps(g))  # no backward() before: the steps run the chain rule themselves
    stepped = [v.grad for v in order]
    for v in order:
        v.grad = 0.0
    g.backward()
    assert stepped == [v.grad for v in order]
    a = order[0]
    assert a.label == "a" and round(a.grad, 4) == 138.8338


def test_steps_follow_the_tape_backwards_one_per_op(readme_graph):
    _, _, g = readme_graph(backward=False)
    order = topological_order(g)
    steps = list(backward_steps(g))
    assert [s.node for s in steps] == [v for v in reversed(order) if not v.is_leaf]
    assert [s.index for s in steps] == list(range(len(steps)))
    assert all(s.total == len(steps) for s in steps)
    for s in steps:
        # what arrived from above is the node's final gradient (every consumer came earlier)
        assert s.upstream == s.node.grad
        assert s.contributions == tuple(s.upstream * d for d in s.local)
        assert s.parents == s.node.parents


def test_a_step_holds_upstream_local_derivatives_and_contributions():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = x * w
    y.label = "y"
    (step,) = backward_steps(y)
    assert (step.upstream, step.local, step.contributions) == (1.0, (-3.0, 2.0), (-3.0, 2.0))
    assert (x.grad, w.grad) == (-3.0, 2.0)
    assert repr(step) == (
        "step 1/1: y = x * w = -6.0000\n"
        "  upstream dy/dy = 1.0000\n"
        "  -> x: local dy/dx = -3.0000, contribution 1.0000 * (-3.0000) = -3.0000\n"
        "  -> w: local dy/dw = 2.0000, contribution 1.0000 * 2.0000 = 2.0000"
    )


def test_step_text_brackets_negative_factors_as_explain_does():
    x = Value(2.0, label="x")
    y = (x * -0.5).tanh()
    y.label = "y"
    step = list(backward_steps(y))[1]
    # dy/d%2 = 1 - tanh(-1)^2 = 0.419974, times the locals -0.5 and x = 2: -0.209987, 0.839948
    assert str(step) == (
        "step 2/2: %2 = x * (-0.5) = -1.0000\n"
        "  upstream dy/d%2 = 0.4200\n"
        "  -> x: local d%2/dx = -0.5000, contribution 0.4200 * (-0.5000) = -0.2100\n"
        "  -> (-0.5): local d%2/d(-0.5) = 2.0000, contribution 0.4200 * 2.0000 = 0.8399"
    )
    z = -x  # a negative upstream is bracketed too: dw/dz = 2z = -4, dz/dx = -1
    z.label = "z"
    w = z * z
    w.label = "w"
    assert str(list(backward_steps(w))[1]).endswith(
        "-> x: local dz/dx = -1.0000, contribution (-4.0000) * (-1.0000) = 4.0000"
    )


def test_steps_accumulate_into_leaves_like_backward():
    x = Value(3.0, label="x")
    y = x * x
    list(backward_steps(y))
    list(backward_steps(y))
    assert x.grad == 12.0  # 2 * (2x), as two backward() calls give
    assert y.grad == 1.0


def test_steps_of_a_leaf_root_and_bad_input():
    x = Value(1.0)
    assert list(backward_steps(x)) == []
    assert x.grad == 1.0
    with pytest.raises(TypeError, match="backward_steps: root must be a Value"):
        backward_steps(2.0)  # refused at the call, before any next()
    with pytest.raises(ZeroDivisionError, match=r"backward of sqrt\(0\.0\)"):
        list(backward_steps(Value(0.0).sqrt()))


def records(dot: str) -> dict:
    """{first cell: (cells joined by ' | ', the DOT line)} for each record of a frame."""
    found = {}
    for line in dot.splitlines():
        cells = re.findall(r"<td[^>]*>(.*?)</td>", line)
        if cells:
            found[cells[0]] = (" | ".join(cells), line)
    return found


def test_frames_show_the_grads_as_they_were_at_that_step():
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    h = x * w
    h.label = "h"
    y = h.tanh()
    y.label = "y"
    first, second = list(backward_steps(y))  # drawn after the pass has finished
    # dy/dh = 1 - tanh(0.5)^2 = 0.786448; dy/dx = w * dy/dh = -0.786448
    early = records(first.to_dot())
    assert early["x"][0] == "x | data 0.5000 | grad 0.0000"  # x has not received anything yet
    assert early["h"][0] == "h | data -0.5000 | grad 0.7864"
    late = records(second.to_dot())
    assert late["x"][0] == "x | data 0.5000 | grad -0.7864"
    # the current node is red, the processed ones green
    assert f'color="{HIGHLIGHT}"' in late["h"][1]
    assert f'color="{DONE}"' in late["y"][1]
    # frames name unlabelled nodes as the text does
    z = x * 2.0
    assert records(next(backward_steps(z)).to_dot())["%2"][0].startswith("%2 | data 1.0000")


def test_frame_draw_is_a_digraph_with_the_same_source(readme_graph):
    graphviz = pytest.importorskip("graphviz")
    _, _, g = readme_graph(backward=False)
    step = list(backward_steps(g))[5]
    dot = step.draw(rankdir="TB")
    assert isinstance(dot, graphviz.Digraph)
    assert dot.source == step.to_dot(rankdir="TB")
    assert step.frame.source == step.to_dot()


# explain -----------------------------------------------------------------------


def test_explain_lists_every_path_and_sums_to_the_gradient():
    x = Value(3.0, label="x")
    y = x * x + x
    y.label = "y"
    out = io.StringIO()
    e = explain(x, y, file=out)
    # dy/dx = 2x + 1 = 7: paths x->(x*x) twice (local 3 each), then ->y (local 1); x->y (1)
    assert e.total == 7.0 and e.n_paths == 3
    assert sorted(p.product for p in e.paths) == [1.0, 3.0, 3.0]
    assert out.getvalue() == e.text + "\n"
    assert e.text.splitlines()[-1] == "dy/dx = 3.0000 + 3.0000 + 1.0000 = 7.0000"
    assert "  path 3: x -> y" in e.text
    assert repr(e) == "<Explanation: dy/dx = 3.0000 + 3.0000 + 1.0000 = 7.0000>"


def test_explain_tells_apart_the_paths_through_each_operand_of_a_square():
    a = Value(3.0, label="a")
    s = a * a
    s.label = "s"
    c = s + a
    c.label = "c"
    e = explain(a, c, quiet=True)
    # dc/da = 2a + 1 = 7: through s as its first operand (3), as its second (3), directly (1)
    assert [p.slots for p in e.paths] == [(0, 0), (1, 0), (1,)]
    assert e.text.splitlines()[2:8:2] == [
        "  path 1: a -> s (as operand 0) -> c",
        "  path 2: a -> s (as operand 1) -> c",
        "  path 3: a -> c",
    ]


def test_explain_of_a_single_path_ends_with_the_chain_once():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    u = x * w
    u.label = "u"
    loss = u + 1.0
    loss.label = "L"
    # dL/dx = dL/du * du/dx = 1 * w = -3
    assert explain(x, loss, quiet=True).text.splitlines() == [
        "dL/dx = the product of the local derivatives along the one path from x to L "
        "(the chain rule):",
        "  path: x -> u -> L",
        "dL/dx = du/dx * dL/du = (-3.0000) * 1.0000 = -3.0000",
    ]
    # one edge: the number alone, not 'du/dx = du/dx = ...'
    assert explain(x, u, quiet=True).text.splitlines()[-1] == "du/dx = -3.0000"


def test_explain_totals_equal_backward_for_the_readme_example(readme_graph):
    a, b, g = readme_graph(backward=False)
    g.backward()
    before = [v.grad for v in topological_order(g)]
    for leaf in (a, b):
        listed = explain(leaf, g, max_paths=1000, quiet=True)
        summed = explain(leaf, g, max_paths=0, quiet=True)
        assert listed.paths and not summed.paths
        assert listed.n_paths == summed.n_paths == len(listed.paths)
        assert math.isclose(listed.total, leaf.grad, rel_tol=1e-12)
        assert math.isclose(summed.total, leaf.grad, rel_tol=1e-12)
    assert [v.grad for v in topological_order(g)] == before  # explain changes no grad
    assert explain(a, g, quiet=True).text.endswith("dg/da = 138.8338")


def test_explain_falls_back_when_paths_explode():
    x = Value(1.0, label="x")
    v = x
    for _ in range(60):
        v = v * v  # x ** (2 ** 60): 2 ** 60 paths
    e = explain(x, v, quiet=True)
    assert e.n_paths == 2**60 and e.paths == ()
    assert e.total == 2.0**60  # d/dx x^n at x = 1 is n
    assert "1,152,921,504,606,846,976 paths" in e.text
    assert len(e.text.splitlines()) < 60  # the per-node listing is cut short
    assert e.total == gradients(v, [x])[0]


def test_explain_edge_cases():
    x, z = Value(2.0, label="x"), Value(5.0, label="z")
    y = x * 3.0
    y.label = "y"
    assert explain(z, y, quiet=True).total == 0.0
    assert explain(z, y, quiet=True).text == "dy/dz = 0: y does not depend on z"
    assert explain(y, y, quiet=True).total == 1.0
    with pytest.raises(ValueError, match="pass root="):
        explain(x)
    with pytest.raises(ValueError, match="max_paths must be an int >= 0"):
        explain(x, y, max_paths=-1)
    with pytest.raises(TypeError, match="leaf must be a Value"):
        explain(2.0, y)


def test_explain_of_a_kink_or_an_infinite_derivative():
    x = Value(0.0, label="x")
    y = x.sqrt()
    y.label = "y"
    e = explain(x, y, quiet=True)
    assert math.isnan(e.total)  # 1 / (2 sqrt 0) is not finite: shown as nan, not a number


# graph_stats -----------------------------------------------------------------------


def test_graph_stats_counts_by_hand():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    y = (x * w + b).tanh() + 2
    s = graph_stats(y, params=[w, b])
    # x, w, mul, b, add, tanh, const 2, add
    assert (s.nodes, s.leaves, s.ops, s.edges, s.depth) == (8, 4, 4, 7, 4)
    assert (s.parameters, s.inputs, s.constants) == (2, 1, 1)
    assert s.op_histogram == {"add": 2, "mul": 1, "tanh": 1}
    assert repr(s).splitlines()[0] == (
        "8 nodes: 4 leaves (2 parameters, 1 other inputs, 1 constants) and 4 ops"
    )


def test_graph_stats_takes_a_module_and_deep_graphs():
    class Module:
        def __init__(self, ps):
            self.ps = ps

        def named_parameters(self):
            return ((f"p.{i}", p) for i, p in enumerate(self.ps))

    w = Value(0.5)
    v = w
    for _ in range(100_000):
        v = v * 1.0
    s = graph_stats(v, Module([w, Value(3.0)]))
    assert s.depth == 100_000 and s.parameters == 1 and s.constants == 100_000
    assert "depth 100,000" in repr(s)
    with pytest.raises(TypeError, match="graph_stats: root must be a Value"):
        graph_stats([v])
