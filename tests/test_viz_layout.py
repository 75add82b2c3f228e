"""Where things land in the rendered picture: nn graphs read in order, pictures fit.

These read the coordinates of the SVG the renderer writes (Graphviz puts each
node and box in a ``<g>`` with a ``<title>``; its texts carry x and y), so they
test the picture a reader sees, not the DOT text that asks for it.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

import nn
from autograd import Value
from autograd.viz import to_svg

SVG = "{http://www.w3.org/2000/svg}"
pytestmark = pytest.mark.renderer


def _bbox(element) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the shapes drawn in an SVG group."""
    xs, ys = [], []
    for shape in element:
        if shape.tag not in (SVG + "polygon", SVG + "path"):
            continue
        text = shape.get("points") or shape.get("d")
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
        xs += numbers[0::2]
        ys += numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def read_svg(svg: str):
    """({box label: bbox}, [(text, x, y)]) from Graphviz's SVG (y grows downwards)."""
    root = ET.fromstring(svg)
    boxes, texts = {}, []
    for g in root.iter(SVG + "g"):
        if g.get("class") == "cluster":
            label = next(t.text for t in g.iter(SVG + "text"))
            boxes[label] = _bbox(g)
    for t in root.iter(SVG + "text"):
        texts.append((t.text, float(t.get("x")), float(t.get("y"))))
    return boxes, texts


def mlp_picture(**options):
    model = nn.MLP(2, [4, 4, 1], seed=0)
    out = model([Value(1.0, label="x0"), Value(-2.0, label="x1")])
    out.backward()
    return model, to_svg(out, module=model, **options)


def inside(point, box, slack=0.5):
    x, y = point
    left, top, right, bottom = box
    return left - slack <= x <= right + slack and top - slack <= y <= bottom + slack


def test_an_mlp_reads_left_to_right_by_layer_and_top_to_bottom_by_neuron():
    _, svg = mlp_picture()
    boxes, texts = read_svg(svg)
    layers = [boxes[f"layers.{k}"] for k in range(3)]
    # layers stand left to right, each wholly right of the one before
    for before, after in itertools.pairwise(layers):
        assert before[2] < after[0]
    # inside a layer, neurons stand top to bottom by index, one under the other
    for k, size in enumerate([4, 4, 1]):
        neurons = [boxes[f"layers.{k}.neurons.{j}"] for j in range(size)]
        for above, below in itertools.pairwise(neurons):
            assert above[3] <= below[1]
    # the inputs stand left of the first layer, x0 above x1
    (x0,) = [(x, y) for t, x, y in texts if t == "x0"]
    (x1,) = [(x, y) for t, x, y in texts if t == "x1"]
    assert x0[0] < layers[0][0] and x1[0] < layers[0][0]
    assert x0[1] < x1[1]


def test_each_neurons_weights_stand_in_index_order_with_the_bias_last():
    _model, svg = mlp_picture()
    boxes, texts = read_svg(svg)
    for k, (fan_in, size) in enumerate([(2, 4), (4, 4), (4, 1)]):
        for j in range(size):
            box = boxes[f"layers.{k}.neurons.{j}"]
            names = sorted(
                (y, t) for t, x, y in texts if inside((x, y), box) and re.fullmatch(r"w\.\d+|b", t)
            )
            assert [t for _, t in names] == [f"w.{i}" for i in range(fan_in)] + ["b"]


def test_the_same_graph_is_laid_out_the_same_way_every_time():
    assert mlp_picture()[1] == mlp_picture()[1]


def test_top_to_bottom_the_same_order_turned():
    _, svg = mlp_picture(rankdir="TB")
    boxes, texts = read_svg(svg)
    layers = [boxes[f"layers.{k}"] for k in range(3)]
    for above, below in itertools.pairwise(layers):
        assert above[3] < below[1]  # layers stand top to bottom
    for k, (fan_in, size) in enumerate([(2, 4), (4, 4), (4, 1)]):
        neurons = [boxes[f"layers.{k}.neurons.{j}"] for j in range(size)]
        for left, right in itertools.pairwise(neurons):
            assert left[2] <= right[0]  # neurons left to right
        for box in neurons:  # a neuron's parameters left to right, the bias last
            names = sorted(
                (x, t) for t, x, y in texts if inside((x, y), box) and re.fullmatch(r"w\.\d+|b", t)
            )
            assert [t for _, t in names] == [f"w.{i}" for i in range(fan_in)] + ["b"]
