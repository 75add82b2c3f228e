"""The drawing of a graph as DOT text: nodes, edges, labels, fan-out sums, colours, clusters.

Nothing here needs a Graphviz executable; rendering is tested in test_viz_render.py.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograd import Value, linear, topological_order
from autograd.viz import COLOURS, HIGHLIGHT, draw_dot, layout, to_dot
from nn.graphgroups import graph_groups


def _cells(label: str) -> list[str]:
    """The texts of an HTML-like label's cells, unescaped."""
    texts = re.findall(r"<td[^>]*>(.*?)</td>", label)
    return [html.unescape(t.replace("<br/>", "\n")) for t in texts]


def parse(drawing):
    """(nodes {id: attrs}, edges [(tail, head, attrs)], clusters {name: (attrs, member ids)}).

    A record's attrs carry "fields", the texts of its cells; each row of a
    parameter table is a node of its own, 'table:port', as edges and
    ``drawing.values`` name it.
    """
    nodes, clusters = {}, {}

    def add(node_id, attrs, into):
        if attrs.get("shape") == "plain":  # a table of records, a row each
            for row, port in re.findall(r"<tr>(.*?port=\"(\w+)\".*?)</tr>", attrs["label"]):
                fill = re.search(r'bgcolor="([^"]+)"', attrs["label"]).group(1)
                row_id = f"{node_id}:{port}"
                nodes[row_id] = {"fields": _cells(row), "fillcolor": fill}
                into += [row_id]
            return
        attrs = dict(attrs)
        if str(attrs.get("label", "")).startswith("<"):
            attrs["fields"] = _cells(attrs["label"])
        nodes[node_id] = attrs
        into.append(node_id)

    def walk(cluster, stack):
        clusters[cluster.name] = (cluster.attrs, [])
        for child in cluster.children:
            walk(child, [*stack, cluster.name])
        for node_id, attrs in cluster.nodes:
            members = []
            add(node_id, attrs, members)
            for name in [*stack, cluster.name]:
                clusters[name][1].extend(members)

    for cluster in drawing.clusters:
        walk(cluster, [])
    for node_id, attrs in drawing.nodes:
        add(node_id, attrs, [])
    edges = [e for e in drawing.edges if e[2].get("style") != "invis"]
    return nodes, edges, clusters


def records(nodes: dict) -> dict:
    return {i: a for i, a in nodes.items() if "fields" in a}


def fields(attrs: dict) -> list[str]:
    return attrs["fields"]


def record_of(nodes, value_label):
    found = [a for a in records(nodes).values() if fields(a)[0] == value_label]
    assert len(found) == 1, value_label
    return found[0]


# Structure ---------------------------------------------------------------------


def test_readme_graph_has_a_record_per_value_and_an_op_node_per_operation(readme_graph):
    _, _, g = readme_graph()
    order = topological_order(g)
    nodes, edges, _ = parse(layout(g))
    ops = [v for v in order if not v.is_leaf]
    assert len(records(nodes)) == len(order)
    assert len([n for n in nodes.values() if n.get("shape") == "ellipse"]) == len(ops)
    # one edge per operand into the op, one from the op to its result
    assert len(edges) == sum(len(v.parents) for v in ops) + len(ops)
    assert fields(record_of(nodes, "g")) == ["g", "data 24.7041", "grad 1.0000"]
    assert fields(record_of(nodes, "a")) == ["a", "data -4.0000", "grad 138.8338"]
    assert fields(record_of(nodes, "b")) == ["b", "data 2.0000", "grad 645.5773"]
    for attrs in records(nodes).values():
        f = fields(attrs)
        assert f[-2].startswith("data ") and f[-1].startswith("grad ")


def test_op_nodes_show_the_symbol_and_the_exponent_or_slope():
    x = Value(2.0, label="x")
    y = (x**3).leaky_relu(0.2) + x.tanh()
    nodes, _, _ = parse(layout(y))
    symbols = sorted(a["label"] for a in nodes.values() if a.get("shape") == "ellipse")
    assert symbols == ["**3", "+", "LeakyReLU(0.2)", "tanh"]


def test_edges_connect_operands_to_the_op_and_the_op_to_its_result_in_operand_order():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    y = x * w
    y.label = "y"
    nodes, edges, _ = parse(layout(y))
    by_label = {fields(a)[0]: i for i, a in records(nodes).items()}
    op = next(i for i, a in nodes.items() if a.get("shape") == "ellipse")
    assert [(t, h) for t, h, _ in edges] == [
        (by_label["x"], op),
        (by_label["w"], op),
        (op, by_label["y"]),
    ]


def test_a_leaf_alone_is_one_record_and_no_edges():
    nodes, edges, _ = parse(layout(Value(1.5, label="x")))
    assert list(nodes) == ["v0"] and edges == []


def test_ids_are_deterministic_and_follow_the_tape(readme_graph):
    def build():
        _, _, g = readme_graph()
        return to_dot(g, edge_labels=True)

    first, second = build(), build()
    assert first == second
    _, _, g = readme_graph()
    nodes, _, _ = parse(layout(g))
    assert "v0" in nodes and not any(re.fullmatch(r"v\d{6,}", i) for i in nodes)


def test_draw_dot_is_a_graphviz_digraph_with_the_same_source(readme_graph):
    graphviz = pytest.importorskip("graphviz")
    a, _, g = readme_graph()
    for options in [
        {},
        {"edge_labels": True, "precision": 2},
        {"rankdir": "TB", "legend": True, "highlight": a},
        {"max_nodes": 6, "legend": True},
    ]:
        dot = draw_dot(g, **options)
        assert isinstance(dot, graphviz.Digraph)
        assert dot.source == to_dot(g, **options)


def test_rankdir_and_precision(readme_graph):
    _, _, g = readme_graph()
    assert "rankdir=TB" in to_dot(g, rankdir="TB")
    assert "rankdir=LR" in to_dot(g)
    nodes, _, _ = parse(layout(g, precision=2))
    assert fields(record_of(nodes, "g")) == ["g", "data 24.70", "grad 1.00"]
    nodes, _, _ = parse(layout(g, precision=0))
    assert fields(record_of(nodes, "a")) == ["a", "data -4", "grad 139"]


def test_tiny_and_huge_numbers_are_not_shown_as_zero_or_sprawling():
    x = Value(3e-9, label="x")
    y = x * 1e12
    y.label = "y"
    nodes, _, _ = parse(layout(y))
    assert fields(record_of(nodes, "x"))[1] == "data 3.0000e-09"
    assert fields(record_of(nodes, "y"))[1] == "data 3000.0000"
    z = Value(0.0) * -1.0  # -0.0 is shown as 0
    assert "data -0.0000" not in to_dot(z)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("rankdir", "XY", "rankdir must be one of 'LR', 'TB'"),
        ("rankdir", "lr", "rankdir must be one of 'LR', 'TB'"),
        ("precision", -1, "precision must be an int from 0 to 15"),
        ("precision", 2.5, "precision must be an int from 0 to 15"),
        ("precision", True, "precision must be an int from 0 to 15"),
        ("max_nodes", 0, "max_nodes must be a positive int or None"),
        ("max_nodes", "10", "max_nodes must be a positive int or None"),
        ("edge_labels", "yes", "edge_labels must be True or False"),
        ("legend", 1, "legend must be True or False"),
        ("clusters", "auto", "clusters must be True, False or None"),
    ],
)
def test_invalid_options_name_the_option_and_the_accepted_values(
    option, value, expected, readme_graph
):
    _, _, g = readme_graph()
    with pytest.raises(ValueError, match=re.escape(expected)) as err:
        to_dot(g, **{option: value})
    assert repr(value) in str(err.value)


def test_bad_root_params_and_highlight_are_refused():
    x = Value(1.0)
    y = x * 2
    with pytest.raises(TypeError, match="root must be a Value"):
        to_dot(1.0)
    with pytest.raises(TypeError, match="params must hold Values"):
        to_dot(y, params=[x, 3.0])
    with pytest.raises(TypeError, match="module must have named_parameters"):
        to_dot(y, module=object())
    with pytest.raises(ValueError, match="highlight must be a Value of this graph"):
        to_dot(y, highlight=Value(5.0))
    with pytest.raises(ValueError, match="either params= or module="):
        to_dot(y, params=[x], module=FakeModule([]))


# Edge labels and fan-out ---------------------------------------------------------


def test_edge_labels_show_local_derivative_and_contribution():
    x, w = Value(0.5, label="x"), Value(-1.0, label="w")
    y = (x * w).tanh()
    y.label = "y"
    y.backward()
    nodes, edges, _ = parse(layout(y, edge_labels=True))
    labels = {fields(a)[0]: i for i, a in records(nodes).items()}
    into = {t: a["label"] for t, h, a in edges if "label" in a}
    # d tanh(u)/du at u = -0.5 is 1 - tanh(0.5)^2 = 0.786448 (tanh 0.5 = 0.462117)
    assert into[labels["x"]] == "local -1.0000\\ncontrib -0.7864"
    assert into[labels["w"]] == "local 0.5000\\ncontrib 0.3932"
    tanh_op = next(i for i, n in nodes.items() if n.get("label") == "tanh")
    assert [a["label"] for _, h, a in edges if h == tanh_op] == ["local 0.7864\\ncontrib 0.7864"]


def test_a_value_used_twice_shows_both_contributions_and_their_sum():
    a = Value(3.0, label="a")
    b = a + a
    b.label = "b"
    b.backward()
    nodes, edges, _ = parse(layout(b, edge_labels=True))
    rec = record_of(nodes, "a")
    assert fields(rec)[2] == "grad 2.0000 = 1.0000 + 1.0000"
    a_id = next(i for i, r in records(nodes).items() if r is rec)
    from_a = [e for e in edges if e[0] == a_id]
    assert len(from_a) == 2
    assert all(e[2]["label"] == "local 1.0000\\ncontrib 1.0000" for e in from_a)


def test_square_fans_out_through_both_operand_slots():
    a = Value(3.0, label="a")
    s = a * a
    s.backward()
    nodes, _, _ = parse(layout(s, edge_labels=True))
    assert fields(record_of(nodes, "a"))[2] == "grad 6.0000 = 3.0000 + 3.0000"


def test_negative_terms_and_long_sums_read_naturally():
    a = Value(2.0, label="a")
    y = a - 3 * a  # dy/da = -3 (through 3 * a, first on the tape) + 1
    y.backward()
    nodes, _, _ = parse(layout(y, edge_labels=True))
    assert fields(record_of(nodes, "a"))[2] == "grad -2.0000 = -3.0000 + 1.0000"
    x = Value(1.0, label="x")
    total = x
    for _ in range(9):
        total = total + x  # x used 10 times
    total.backward()
    nodes, _, _ = parse(layout(total, edge_labels=True))
    grad_field = fields(record_of(nodes, "x"))[2]
    assert grad_field.startswith("grad 10.0000 = 1.0000 + 1.0000 + 1.0000 + 1.0000 + … (10 terms)")


def test_leaf_grads_accumulated_over_two_passes_are_not_passed_off_as_the_sum():
    a = Value(3.0, label="a")
    b = a + a
    b.backward()
    b.backward()  # leaves accumulate: a.grad == 4, this pass contributed 1 + 1
    nodes, _, _ = parse(layout(b, edge_labels=True))
    assert fields(record_of(nodes, "a"))[2] == "grad 4.0000 (edges: 1.0000 + 1.0000)"


def test_edge_label_where_the_derivative_is_not_finite():
    x = Value(0.0, label="x")
    y = x.sqrt()
    _, edges, _ = parse(layout(y, edge_labels=True))
    assert edges[0][2]["label"] == "local: not finite here"


# Colours, legend, highlight ---------------------------------------------------------


def test_kinds_have_distinct_colours():
    assert len(set(COLOURS.values())) == len(COLOURS)
    w = Value(0.5, label="w")
    x = Value(2.0, label="x")
    h = w * x
    h.label = "h"
    y = h + 1.0
    y.label = "y"
    nodes, _, _ = parse(layout(y, params=[w]))
    fill = {fields(a)[0]: a["fillcolor"] for a in records(nodes).values()}
    assert fill == {
        "w": COLOURS["parameter"],
        "x": COLOURS["input"],
        "h": COLOURS["intermediate"],
        "const": COLOURS["constant"],
        "y": COLOURS["output"],
    }
    # without params, w is just another input
    nodes, _, _ = parse(layout(y))
    assert record_of(nodes, "w")["fillcolor"] == COLOURS["input"]


def test_legend_lists_the_kinds_present():
    w = Value(0.5, label="w")
    y = w * 2.0
    nodes, _, clusters = parse(layout(y, legend=True, params=[w], rankdir="TB"))
    attrs, members = clusters["cluster_legend"]
    assert attrs["label"] == "legend"
    assert [nodes[m]["label"] for m in members] == ["parameter", "constant", "output"]
    # Graphviz stacks a rank bottom-up in LR, so the legend is emitted reversed to read down
    nodes, _, clusters = parse(layout(y, legend=True, params=[w]))
    assert [nodes[m]["label"] for m in clusters["cluster_legend"][1]] == [
        "output",
        "constant",
        "parameter",
    ]
    assert "cluster_legend" not in parse(layout(y))[2]


def test_highlight_marks_exactly_the_paths_to_the_output():
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
    ab = a * b
    ab.label = "ab"
    g = ab + c
    g.label = "g"
    nodes, edges, _ = parse(layout(g, highlight=a))
    red = {fields(r)[0] for r in records(nodes).values() if r.get("color") == HIGHLIGHT}
    assert red == {"a", "ab", "g"}
    red_ops = [n["label"] for n in nodes.values() if n.get("shape") and n.get("color") == HIGHLIGHT]
    assert sorted(red_ops) == ["*", "+"]
    assert sum(1 for e in edges if e[2].get("color") == HIGHLIGHT) == 4  # a->*, *->ab, ab->+, +->g


# Clusters for nn graphs --------------------------------------------------------------


class FakeModule:
    """Stands in for an nn module: named_parameters() with dotted names."""

    def __init__(self, named):
        self.named = named

    def named_parameters(self):
        return iter(self.named)

    def graph_groups(self, root):  # as nn modules do: box by neuron and layer
        return graph_groups(self, root)


class NamesOnly(FakeModule):
    """named_parameters() and nothing more: boxed by the parameters' names alone."""

    graph_groups = None


def tiny_mlp(fused: bool):
    """2 inputs -> 2 tanh neurons -> 1 linear neuron, labels like nn's; returns (module, loss)."""
    named, layers = [], []
    for li, (nin, nout) in enumerate([(2, 2), (2, 1)]):
        neurons = []
        for ni in range(nout):
            prefix = f"layers.{li}.neurons.{ni}"
            ws = [Value(0.1 * (k + 1) * (-1) ** ni, label=f"{prefix}.w.{k}") for k in range(nin)]
            b = Value(0.05, label=f"{prefix}.b")
            named += [(w.label, w) for w in ws] + [(b.label, b)]
            neurons.append((ws, b))
        layers.append(neurons)
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    for li, neurons in enumerate(layers):
        outs = []
        for ws, b in neurons:
            s = linear(ws, x, b) if fused else sum((w * xi for w, xi in zip(ws, x, strict=True)), b)
            outs.append(s.tanh() if li == 0 else s)
        x = outs
    loss = (x[0] - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    return FakeModule(named), loss


@pytest.mark.parametrize("fused", [True, False])
def test_module_graphs_cluster_by_layer_and_neuron(fused):
    module, loss = tiny_mlp(fused)
    nodes, _, clusters = parse(layout(loss, module=module))
    by_label = {attrs["label"]: members for attrs, members in clusters.values()}
    assert set(by_label) == {
        "layers.0",
        "layers.0.neurons.0",
        "layers.0.neurons.1",
        "layers.1",
        "layers.1.neurons.0",
    }
    label_of = {i: fields(a)[0] for i, a in records(nodes).items()}
    for neuron in ("layers.0.neurons.0", "layers.0.neurons.1", "layers.1.neurons.0"):
        members = by_label[neuron]
        # inside the neuron's box its parameters go by their short names
        fills = {label_of[m]: nodes[m]["fillcolor"] for m in members if m in label_of}
        params = {name for name, fill in fills.items() if fill == COLOURS["parameter"]}
        assert params == {"w.0", "w.1", "b"}
        # the weighted sum is inside its neuron: with linear() one op, else 2 * and 2 +
        ops = sorted(nodes[m]["label"] for m in members if nodes[m].get("shape") == "ellipse")
        expected = ["linear"] if fused else ["*", "*", "+", "+"]
        if neuron.startswith("layers.0"):
            expected = sorted([*expected, "tanh"])
        assert ops == expected
    # a layer cluster holds its neurons; the loss and the inputs are outside every cluster
    assert set(by_label["layers.0.neurons.1"]) <= set(by_label["layers.0"])
    clustered = {m for _, members in clusters.values() for m in members}
    outside = {label_of[i] for i in label_of if i not in clustered}
    assert {"loss", "x0", "x1"} <= outside
    # without clusters the full dotted names are shown
    nodes, _, _ = parse(layout(loss, module=module, clusters=False))
    shown = {fields(a)[0] for a in records(nodes).values()}
    assert {"layers.0.neurons.1.w.0", "layers.1.neurons.0.b"} <= shown


def neuron_boxes(drawing) -> dict:
    """{node id: label of the innermost neuron box holding it} from a drawing."""
    _, _, clusters = parse(drawing)
    boxes = [(attrs["label"], members) for attrs, members in clusters.values()]
    boxes.sort(key=lambda box: len(box[1]), reverse=True)  # inner boxes last, so they win
    return {m: label for label, members in boxes if "neurons." in label for m in members}


@pytest.mark.parametrize("fused", [True, False])
def test_a_neuron_box_holds_its_forward_computation_not_a_penalty_on_its_parameters(fused):
    import nn

    model = nn.MLP(2, [2, 1], seed=0, fused=fused)
    out = model([Value(1.0, label="x0"), Value(-2.0, label="x1")])
    penalty = nn.functional.l2_penalty(model.parameters())
    loss = (out - 1.0) ** 2 + 0.01 * penalty
    ids = layout(loss, module=model).values
    box = neuron_boxes(layout(loss, module=model))

    def box_of(v):
        return box.get(ids[v] + ("" if v.is_leaf else "op"))

    neuron_of = {p: ".".join(name.split(".")[:4]) for name, p in model.named_parameters()}
    assert {box_of(p) for p in neuron_of} == set(neuron_of.values())
    # the penalty (p * p for every parameter, and their sum) is outside every neuron's box
    squares = [v for v in topological_order(penalty) if v.op == "mul"]
    assert len(squares) == 9 and all(v.parents[0] is v.parents[1] for v in squares)
    assert [v for v in topological_order(penalty) if not v.is_leaf and box_of(v)] == []
    # every op of the forward pass is in a neuron's box: the one of the parameters it
    # weighs inputs with (linear, w * x, b + ...), else that of what it sums or activates
    forward_ops = [v for v in topological_order(out) if not v.is_leaf]
    assert {v.op for v in forward_ops} == ({"linear", "relu"} if fused else {"mul", "add", "relu"})
    for v in forward_ops:
        params = [neuron_of[p] for p in v.parents if p in neuron_of]
        assert box_of(v) == (params[0] if params else box_of(v.parents[0])) is not None


def test_a_lone_neuron_gets_one_box():
    import nn

    neuron = nn.Neuron(2, seed=0)
    y = neuron([1.0, -2.0])
    nodes, _, clusters = parse(layout(y, module=neuron))
    ((attrs, members),) = clusters.values()
    assert attrs["label"] == "Neuron"
    params = [m for m in members if nodes[m].get("fillcolor") == COLOURS["parameter"]]
    ops = sorted(nodes[m]["label"] for m in members if nodes[m].get("shape") == "ellipse")
    assert sorted(fields(nodes[m])[0] for m in params) == ["b", "w.0", "w.1"]
    assert ops == ["ReLU", "linear"]  # its weighted sum and activation, as in an MLP's box


def test_groups_box_any_values_and_names_alone_box_the_parameters():
    module, loss = tiny_mlp(True)
    # an object with named_parameters() only: its parameters are boxed, nothing else
    nodes, _, clusters = parse(layout(loss, module=NamesOnly(module.named)))
    members = {m for _, ms in clusters.values() for m in ms}
    assert {fields(nodes[m])[0] for m in members if "fields" in nodes[m]} == {"w.0", "w.1", "b"}
    assert not any(nodes[m].get("shape") == "ellipse" for m in members)
    # groups= boxes whatever it is given, nested by the dotted path
    x0 = next(v for v in topological_order(loss) if v.label == "x0")
    drawing = layout(loss, groups={x0: "inputs.0", loss: "end"})
    _, _, clusters = parse(drawing)
    by_label = {attrs["label"]: ms for attrs, ms in clusters.values()}
    loss_id = drawing.values[loss]
    assert by_label == {"inputs.0": [drawing.values[x0]], "end": [loss_id, loss_id + "op"]}
    with pytest.raises(TypeError, match="groups must map Values to box names"):
        layout(loss, groups={x0: 3})


def test_clusters_can_be_turned_off_or_requested_for_plain_params():
    module, loss = tiny_mlp(True)
    assert parse(layout(loss, module=module, clusters=False))[2] == {}
    params = [p for _, p in module.named_parameters()]
    assert parse(layout(loss, params=params))[2] == {}
    assert len(parse(layout(loss, params=params, clusters=True))[2]) == 5


# Size limit ---------------------------------------------------------------------------


def test_max_nodes_draws_the_nearest_values_and_summarises_the_rest():
    x = Value(0.5, label="x")
    v = x
    for _ in range(999):
        v = v.tanh()  # 1000 Values: x and 999 tanh
    nodes, edges, _ = parse(layout(v, max_nodes=50))
    assert len(records(nodes)) == 50
    summary = nodes["more"]["label"]
    assert summary == "… 950 more nodes\\n(ops: tanh 949; leaves: 1)"
    # the summary feeds the op of the farthest Value drawn
    assert [(t, h) for t, h, a in edges if t == "more"] == [("more", "v950op")]
    assert "x" not in {fields(a)[0] for a in records(nodes).values()}


def test_default_limit_applies_and_none_draws_everything():
    v = Value(1.0)
    for _ in range(299):
        v = v + 1.0  # 599 Values with the constants
    nodes, _, _ = parse(layout(v))
    assert len(records(nodes)) == 200 and "more" in nodes
    nodes, _, _ = parse(layout(v, max_nodes=None))
    assert len(records(nodes)) == 599 and "more" not in nodes


def test_a_deep_chain_draws_without_recursion():
    v = Value(1.0)
    for _ in range(50_000):
        v = v * 1.0
    assert len(records(parse(layout(v, max_nodes=100))[0])) == 100


# Labels that need escaping -------------------------------------------------------------


def test_record_special_characters_are_escaped():
    text = 'a{b}|<c> "q" & \\'
    x = Value(1.0, label=text)
    nodes, _, _ = parse(layout(x * 2))
    (record,) = [a for a in records(nodes).values() if fields(a)[0] == text]
    assert '<td width="' in record["label"] and "&lt;c&gt; &quot;q&quot; &amp;" in record["label"]
    assert "<c>" not in to_dot(x * 2)


def test_layout_is_the_single_source_of_both_emitters(readme_graph):
    _, _, g = readme_graph()
    drawing = layout(g, edge_labels=True)
    ids = set(drawing.values.values())
    nodes, _, _ = parse(layout(g, edge_labels=True))
    assert ids == set(records(nodes))


def test_viz_imports_and_writes_dot_without_the_graphviz_package():
    code = (
        "import sys; sys.modules['graphviz'] = None\n"
        "from autograd import Value\n"
        "from autograd.viz import to_dot, draw_dot\n"
        "x = Value(2.0, label='x'); y = x * x\n"
        "assert 'digraph' in to_dot(y)\n"
        "try:\n    draw_dot(y)\nexcept ImportError:\n    print('needs graphviz')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "needs graphviz"


def _autograd_imports() -> dict:
    """{module: {modules it imports, at the top or inside functions}} within autograd."""
    import ast

    import autograd

    root = Path(autograd.__file__).parent
    graph = {}
    for path in root.rglob("*.py"):
        parts = ["autograd", *path.relative_to(root).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        package = parts[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    as_path = root.parent / sub.replace(".", "/")
                    is_module = as_path.exists() or as_path.with_suffix(".py").exists()
                    found.add(sub if is_module else target)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m.startswith("autograd") and m != name}
    return graph


def test_no_module_imports_private_names_of_the_pictures():
    import autograd

    root = Path(autograd.__file__).parent
    import ast

    ours = ("viz", "formatting", "files", "dot", "drawing", "rendering", "notebook", "digraph")
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            relative = isinstance(node, ast.ImportFrom) and node.level and node.module
            if relative and node.module.split(".")[0] in ours:
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert private == [], (path.name, node.module, private)


def test_the_public_names_stay_where_they_were():
    import autograd
    from autograd import viz

    for name in ["layout", "to_dot", "draw_dot", "render", "to_svg", "mimebundle"]:
        assert callable(getattr(viz, name))
    for name in ["find_renderer", "local_derivatives", "emit_dot", "emit_digraph"]:
        assert callable(getattr(viz, name))
    assert issubclass(viz.RendererNotFound, RuntimeError)
    assert issubclass(viz.RenderError, RuntimeError)
    assert viz.Drawing.__name__ == "Drawing" and viz.Cluster.__name__ == "Cluster"
    assert (autograd.draw_dot, autograd.render, autograd.to_dot) == (
        viz.draw_dot,
        viz.render,
        viz.to_dot,
    )
