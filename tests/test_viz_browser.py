"""Graph pictures as a browser shows them: text inside its boxes in a wide font, pictures that fit.

A viewer without Helvetica substitutes another sans-serif; DejaVu Sans (any
Linux desktop) is one of the widest.  The SVG is shown in headless Chromium
with that font forced on every text, and each text's box, as the browser
measured it, must stay inside its node and clear of the node's other texts.
"""

from __future__ import annotations

import pytest
from browser import chromium_page, screenshot

import nn
from autograd import Value
from autograd.viz import NOTEBOOK_WIDTH, mimebundle, to_svg

pytestmark = [pytest.mark.browser, pytest.mark.renderer]

# For each node: its texts' boxes and the box of its shapes, in the SVG's units.
MEASURE = """() => {
  const out = [];
  for (const node of document.querySelectorAll("g.node")) {
    const shapes = [...node.querySelectorAll("polygon, path, ellipse")].map(s => s.getBBox());
    if (!shapes.length) continue;
    const outline = {
      left: Math.min(...shapes.map(b => b.x)), right: Math.max(...shapes.map(b => b.x + b.width)),
      top: Math.min(...shapes.map(b => b.y)), bottom: Math.max(...shapes.map(b => b.y + b.height)),
    };
    const texts = [...node.querySelectorAll("text")].map(t => {
      const b = t.getBBox();
      const r = {left: b.x, right: b.x + b.width, top: b.y, bottom: b.y + b.height};
      return {text: t.textContent, ...r};
    });
    out.push({id: node.querySelector("title").textContent, outline, texts});
  }
  return out;
}"""


def show(page, svg: str) -> None:
    style = "<style>text { font-family: 'DejaVu Sans' !important; }</style>"
    page.set_content(f"<html><head>{style}</head><body style='margin:0'>{svg}</body></html>")


def overlap(a, b) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def check_text_fits(nodes) -> int:
    checked = 0
    for node in nodes:
        box = node["outline"]
        for t in node["texts"]:
            assert box["left"] <= t["left"] and t["right"] <= box["right"], (node["id"], t)
            checked += 1
        texts = node["texts"]
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert not overlap(a, b), (node["id"], a["text"], b["text"])
    return checked


def test_record_text_fits_its_box_in_a_wide_font(readme_graph, tmp_path):
    _, _, g = readme_graph()
    model = nn.MLP(2, [4, 4, 1], seed=0)
    out = model([Value(1.0, label="x0"), Value(-2.0, label="x1")])
    out.backward()
    pictures = {
        "readme": to_svg(g, edge_labels=True),
        "mlp": to_svg(out, module=model),
        "summary": to_svg(out, max_nodes=20),
    }
    with chromium_page() as (page, log):
        for name, svg in pictures.items():
            show(page, svg)
            family = page.evaluate(
                "getComputedStyle(document.querySelector('g.node text')).fontFamily"
            )
            assert "DejaVu Sans" in family
            assert check_text_fits(page.evaluate(MEASURE)) > 20, name
            screenshot(page, tmp_path / f"{name}.png")
        assert log["console_errors"] == []


def test_a_notebook_picture_fits_the_width_without_scrolling(tmp_path):
    x = Value(0.5, label="x")
    deep = x
    for _ in range(60):
        deep = deep.tanh()  # a long chain: left to right it would need scrolling
    deep.backward()
    svg = mimebundle(deep)["image/svg+xml"]
    with chromium_page(viewport=(1000, 800)) as (page, _):
        show(page, svg)
        width = page.evaluate("document.querySelector('svg').getBoundingClientRect().width")
        assert 0 < width <= NOTEBOOK_WIDTH
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        screenshot(page, tmp_path / "deep.png")
