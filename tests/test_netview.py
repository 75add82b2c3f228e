"""The neuron-level picture of a network, read back from its SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import nn
from nn.netview import NEGATIVE, POSITIVE, ZERO

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str):
    """(circles [(column, index, cx, cy)], edges {(from, to): (colour, width, value)}, texts)."""
    root = ET.fromstring(svg)
    circles = [
        (
            int(c.get("data-column")),
            int(c.get("data-index")),
            float(c.get("cx")),
            float(c.get("cy")),
        )
        for c in root.iter(SVG + "circle")
    ]
    edges = {
        (e.get("data-from"), e.get("data-to")): (
            e.get("stroke"),
            float(e.get("stroke-width")),
            float(e.get("data-value")),
        )
        for e in root.iter(SVG + "line")
    }
    texts = [t.text for t in root.iter(SVG + "text")]
    return circles, edges, texts


def test_a_column_of_circles_per_layer_in_order():
    model = nn.MLP(3, [5, 4, 2], seed=1)
    circles, edges, texts = parse(nn.draw_network(model).svg)
    assert Counter(c for c, *_ in circles) == {0: 3, 1: 5, 2: 4, 3: 2}
    xs = [{x for col, _, x, _ in circles if col == c} for c in range(4)]
    assert all(len(v) == 1 for v in xs)  # each column is vertical
    lefts = [x for (x,) in xs]
    assert lefts == sorted(lefts) and len(set(lefts)) == 4  # left to right
    for c in range(4):  # neurons top to bottom by index
        ys = [y for col, _, _, y in sorted(circles) if col == c]
        assert ys == sorted(ys)
    assert len(edges) == 3 * 5 + 5 * 4 + 4 * 2  # one edge per weight
    assert "inputs" in texts and "layer 0 (relu)" in texts and "layer 2 (linear)" in texts


def test_edges_coloured_by_sign_and_wider_with_magnitude():
    model = nn.MLP(2, [4, 4, 1], seed=0)
    model.layers[0].neurons[1].w[0].data = 0.0
    _, edges, _ = parse(nn.draw_network(model).svg)
    for (a, b), (colour, _, value) in edges.items():
        k, i = map(int, a.split("."))
        j = int(b.split(".")[1])
        assert value == pytest.approx(model.layers[k].neurons[j].w[i].data, abs=1e-6)
        assert colour == (POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO)
    assert POSITIVE != NEGATIVE and {POSITIVE, NEGATIVE} <= {c for c, _, _ in edges.values()}
    by_size = sorted((abs(v), w) for _, w, v in edges.values())
    widths = [w for _, w in by_size]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # monotone in |w|
    assert max(widths) == pytest.approx(nn.netview.MAX_WIDTH)


def test_gradients_after_backward_and_activations_for_an_input():
    model = nn.MLP(2, [3, 1], seed=0)
    x = [1.0, -2.0]
    out = model(x)
    out.backward()
    _, edges, texts = parse(nn.draw_network(model, show="grad").svg)
    grads = {(f"1.{i}", "2.0"): w.grad for i, w in enumerate(model.layers[1].neurons[0].w)}
    for key, grad in grads.items():
        assert edges[key][2] == pytest.approx(grad, abs=1e-6)
    assert any("gradient" in t for t in texts)
    _, _, texts = parse(nn.draw_network(model, x=x).svg)
    assert f"{out.data:.2f}" in texts and "1.00" in texts and "-2.00" in texts
    # before backward the gradient picture says so
    fresh = nn.MLP(2, [3, 1], seed=0)
    assert any(
        "call backward() first" in t for t in parse(nn.draw_network(fresh, show="grad").svg)[2]
    )


def test_bad_arguments_name_the_option():
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"show must be one of \('weight', 'grad'\), got 'w'"):
        nn.draw_network(model, show="w")
    with pytest.raises(ValueError, match="x must be a list of 2 inputs"):
        nn.draw_network(model, x=[1.0])
    with pytest.raises(TypeError, match="model must be an MLP or a Layer"):
        nn.draw_network(object())
    with pytest.raises(ValueError, match=r"must end in \.svg or \.png"):
        nn.draw_network(model).save("net.gif")


def test_save_and_notebook_display(tmp_path):
    pytest.importorskip("matplotlib")
    view = nn.draw_network(nn.MLP(2, [4, 1], seed=0))
    assert view.save(tmp_path / "net.svg") == str(tmp_path / "net.svg")
    assert (tmp_path / "net.svg").read_text(encoding="utf-8") == view.svg
    view.save(tmp_path / "net.png")
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.png", "net.svg"]
    bundle, metadata = view._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/svg+xml", "image/png"}
    assert metadata["image/png"]["width"] <= 900
    assert bundle["text/plain"] == "<NetworkView: 2 -> 4 -> 1 network, edges show weights>"


def test_tapegrad_train_draws_the_trained_network(tmp_path):
    pytest.importorskip("matplotlib")
    from nn.cli import main

    args = ["train", "--epochs", "2", "--samples", "20", "--hidden", "4,3", "--quiet"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    circles, edges, _ = parse((tmp_path / "network.svg").read_text(encoding="utf-8"))
    assert Counter(c for c, *_ in circles) == {0: 2, 1: 4, 2: 3, 3: 1}
    model = nn.load(tmp_path / "model.json")
    assert edges["2.0", "3.0"][2] == pytest.approx(model.layers[2].neurons[0].w[0].data, abs=1e-6)


def test_activations_are_written_short_enough_to_fit_their_circle():
    from nn.netview import _short

    cases = {0.25: "0.25", -1.0: "-1.00", 12.4: "12", -123.4: "-123", 31000.0: "3e4", 1e-9: "0.00"}
    assert {a: _short(a) for a in cases} == cases
    assert all(len(_short(a)) <= 6 for a in (-9.999, 999.4, -99999.0, 1e300, -1e-300, -1e300))
