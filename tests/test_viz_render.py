"""Real pictures: the renderer lookup, SVG and PNG files, and notebook display with its fallback.

These run whatever renderer the install provides (a system ``dot`` or the
``graphviz-pure`` binary of the viz extra).  When the viz extra is installed
and no renderer is found, the tests fail: pictures must not be skipped silently.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autograd import Value, viz
from autograd.steps import backward_steps, graph_stats
from autograd.viz import (
    INSTALL_HINT,
    RendererNotFound,
    find_renderer,
    mimebundle,
    render,
    rendering,
    to_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def no_renderer(monkeypatch, tmp_path):
    """Point the lookup at a file that does not exist."""
    monkeypatch.setenv(viz.RENDERER_ENV, str(tmp_path / "no-such-dot"))


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return [t.text for t in root.iter(SVG + "text") if t.text]


# The renderer lookup ---------------------------------------------------------------


def test_a_renderer_is_found_when_the_viz_extra_is_installed(has_renderer):
    if not has_renderer:
        pytest.skip("neither the viz extra nor a system Graphviz is installed")
    path = find_renderer()  # must not raise: CI may not skip pictures
    assert os.path.isfile(path) and os.access(path, os.X_OK)


def test_graphviz_pure_is_found_beside_the_interpreter_without_path(monkeypatch, viz_extra):
    if not viz_extra:
        pytest.skip("the viz extra is not installed")
    monkeypatch.setenv("PATH", "")  # as in a notebook kernel that lacks the venv on PATH
    path = Path(find_renderer())
    assert path.name.startswith("graphviz-pure")
    assert path.parent in {Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))}


def test_missing_renderer_says_exactly_what_to_install(no_renderer):
    with pytest.raises(RendererNotFound) as err:
        find_renderer()
    assert 'pip install "tapegrad[viz]" (or a system Graphviz)' in str(err.value)
    assert INSTALL_HINT == 'pip install "tapegrad[viz]" (or a system Graphviz)'
    assert isinstance(err.value, RuntimeError)


def test_nothing_on_path_and_nothing_beside_python(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(viz.RENDERER_ENV, raising=False)
    monkeypatch.setattr(rendering.sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setattr(rendering.sysconfig, "get_path", lambda name: str(tmp_path / "scripts"))
    with pytest.raises(RendererNotFound, match="neither 'dot' nor 'graphviz-pure'"):
        find_renderer()


def test_module_setting_overrides_the_lookup(monkeypatch, tmp_path):
    monkeypatch.setattr(viz, "RENDERER", str(tmp_path / "missing"))
    with pytest.raises(RendererNotFound, match=r"autograd\.viz\.RENDERER"):
        find_renderer()


# Files -----------------------------------------------------------------------------------


@pytest.mark.renderer
def test_svg_shows_data_and_grad_of_every_node(tmp_path, readme_graph):
    _, _, g = readme_graph()
    out = render(g, tmp_path / "g.svg")
    texts = svg_texts(Path(out).read_text(encoding="utf-8"))
    for expected in ["g", "data 24.7041", "grad 138.8338", "grad 645.5773", "**2", "ReLU"]:
        assert expected in texts
    assert sum(t.startswith("data ") for t in texts) == sum(t.startswith("grad ") for t in texts)


@pytest.mark.renderer
def test_png_is_a_png_of_plausible_size(tmp_path, readme_graph):
    _, _, g = readme_graph()
    path = Path(render(g, tmp_path / "g.png"))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width > 1000 and 100 < height < width


@pytest.mark.renderer
def test_graph_objects_and_dot_text_render_too(tmp_path):
    pytest.importorskip("graphviz")
    x = Value(2.0, label="x")
    y = (x * x).tanh()
    y.label = "y"
    y.backward()
    texts = svg_texts(to_svg(viz.draw_dot(y, edge_labels=True)))
    # d(x*x)/dx through each operand slot is x = 2
    assert texts.count("local 2.0000") == 2 and "grad 1.0000" in texts
    assert "y" in svg_texts(to_svg(viz.to_dot(y)))
    assert "y" in svg_texts(y.to_svg())


def test_dot_format_writes_the_source_without_a_renderer(tmp_path, no_renderer):
    x = Value(1.0, label="x")
    path = render(x * 2, tmp_path / "g.dot")
    assert Path(path).read_text(encoding="utf-8") == viz.to_dot(x * 2)


@pytest.mark.renderer
def test_special_characters_survive_rendering():
    x = Value(1.0, label='w{0}|<b> "q"')
    assert 'w{0}|<b> "q"' in svg_texts(to_svg(x * 2))


def test_bad_format_and_bad_objects_are_refused(tmp_path):
    x = Value(1.0)
    with pytest.raises(ValueError, match="must be one of svg, png, pdf, dot, got 'jpg'"):
        render(x, tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="format must be one of"):
        render(x, tmp_path / "g.svg", format="bmp")
    with pytest.raises(TypeError, match="expected a Value, a graphviz graph or DOT text"):
        to_svg(42)


def test_a_failed_render_leaves_no_file_and_keeps_the_old_one(tmp_path, no_renderer):
    old = tmp_path / "g.svg"
    old.write_text("old picture", encoding="utf-8")
    with pytest.raises(RendererNotFound):
        render(Value(1.0), old)
    assert old.read_text(encoding="utf-8") == "old picture"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg"]


@pytest.mark.renderer
def test_renderer_errors_are_reported(tmp_path):
    with pytest.raises(viz.RenderError, match="failed"):
        to_svg("digraph { a -> }")
    assert sorted(tmp_path.iterdir()) == []


# Notebook display --------------------------------------------------------------------------


@pytest.mark.renderer
def test_value_displays_as_svg_with_text(readme_graph):
    _, _, g = readme_graph()
    bundle, _ = g._repr_mimebundle_()
    assert bundle["text/plain"] == repr(g)
    assert "data 24.7041" in svg_texts(bundle["image/svg+xml"])


@pytest.mark.renderer
def test_display_carries_a_png_shown_at_the_svgs_width(readme_graph):
    # JupyterLab shows no SVG from an untrusted notebook (a fresh clone): the PNG is shown.
    _, _, g = readme_graph()
    bundle, metadata = g._repr_mimebundle_()
    png = bundle["image/png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    px_wide = struct.unpack(">I", png[16:20])[0]
    css_wide = metadata["image/png"]["width"]
    svg_pt = float(re.search(r'width="([0-9.]+)pt"', bundle["image/svg+xml"]).group(1))
    assert css_wide == round(svg_pt * 96 / 72)
    assert px_wide == pytest.approx(css_wide * viz.PNG_SCALE, rel=0.03)
    assert mimebundle(g) == bundle  # without metadata: the bundle alone


def test_display_falls_back_to_text_when_the_renderer_is_missing(no_renderer, readme_graph):
    _, _, g = readme_graph()
    bundle, metadata = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and metadata == {}
    assert bundle["text/plain"].startswith(repr(g))
    assert INSTALL_HINT in bundle["text/plain"]


def test_graph_objects_display_through_the_same_lookup(no_renderer):
    pytest.importorskip("graphviz")
    dot = viz.draw_dot(Value(1.0) * 2)
    bundle, _ = dot._repr_mimebundle_()
    assert set(bundle) == {"text/plain"} and INSTALL_HINT in bundle["text/plain"]


@pytest.mark.renderer
def test_graph_objects_display_as_svg():
    pytest.importorskip("graphviz")
    x = Value(3.0, label="x")
    bundle, _ = viz.draw_dot(x * x)._repr_mimebundle_()
    assert "x" in svg_texts(bundle["image/svg+xml"])
    assert bundle["image/png"].startswith(b"\x89PNG")


def test_display_never_raises():
    class Broken:
        def __repr__(self):
            raise RuntimeError("repr fails")

        @property
        def source(self):
            raise RuntimeError("source fails")

    bundle = mimebundle(Broken())
    assert list(bundle) == ["text/plain"]
    assert "no graph picture" in bundle["text/plain"]
    assert list(mimebundle("digraph { a -> }")) == ["text/plain"]


@pytest.mark.renderer
def test_steps_and_stats_display():
    x = Value(2.0, label="x")
    y = x * x
    y.label = "y"
    step = next(backward_steps(y))
    bundle, _ = step._repr_mimebundle_()
    assert bundle["text/plain"].startswith("step 1/1: y = x * x")
    assert "grad 1.0000" in svg_texts(bundle["image/svg+xml"])
    stats = graph_stats(y)
    assert stats._repr_mimebundle_() == {"text/plain": repr(stats)}


@pytest.mark.renderer
def test_step_frames_render(tmp_path, readme_graph):
    _, _, g = readme_graph()
    steps = list(backward_steps(g))
    path = render(steps[3].to_dot(), tmp_path / "frame.svg")
    texts = svg_texts(Path(path).read_text(encoding="utf-8"))
    assert "g" in texts and any(t.startswith("%") for t in texts)


# graphviz's own methods on the returned graph ------------------------------------------


@pytest.mark.renderer
def test_digraph_render_and_pipe_use_the_same_renderer(tmp_path):
    pytest.importorskip("graphviz")
    x = Value(2.0, label="x")
    dot = viz.draw_dot(x * 3)
    assert repr(dot) == "<GradGraph: 3 Values drawn; .source holds the DOT text>"
    path = dot.render(tmp_path / "g", format="png")
    assert path == str(tmp_path / "g.png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "g").read_text(encoding="utf-8") == dot.source
    path = dot.render(tmp_path / "h", cleanup=True)  # svg by default
    assert "x" in svg_texts(Path(path).read_text(encoding="utf-8"))
    assert not (tmp_path / "h").exists()
    assert dot.render(outfile=tmp_path / "o.png") == str(tmp_path / "o.png")
    assert (tmp_path / "o.gv").exists()
    assert "x" in svg_texts(dot.pipe(encoding="utf-8"))
    assert dot.pipe(format="png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_digraph_methods_report_a_missing_renderer(no_renderer, tmp_path):
    pytest.importorskip("graphviz")
    dot = viz.draw_dot(Value(1.0) * 2)
    with pytest.raises(RendererNotFound, match=re.escape(INSTALL_HINT)):
        dot.pipe()
    with pytest.raises(RendererNotFound):
        dot.render(tmp_path / "g")
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.renderer
def test_notebook_pictures_fit_the_width_turning_or_summarising_long_graphs():
    import nn

    def shown(value):
        svg = mimebundle(value)["image/svg+xml"]
        width_px = float(re.search(r'width="([0-9.]+)pt"', svg).group(1)) * 96 / 72
        m = re.search(r"scale\(([0-9.]+)", svg)
        return svg, width_px, float(m.group(1)) if m else 1.0

    x = Value(3.0, label="x")
    svg, width, scale = shown(x * x)  # small: left to right, full size
    assert width < viz.NOTEBOOK_WIDTH and scale == 1.0
    deep = x
    for _ in range(60):
        deep = deep.tanh()
    svg, width, scale = shown(deep)  # long: turned top to bottom, text full size
    assert width <= viz.NOTEBOOK_WIDTH and scale == 1.0
    model = nn.MLP(2, [16, 16, 1], seed=0)
    svg, width, scale = shown(model([1.0, -2.0]))  # big: fewer nodes, and a summary
    assert width <= viz.NOTEBOOK_WIDTH + 1 and scale >= viz.MIN_SCALE
    assert any(t.startswith("… ") and "more nodes" in t for t in svg_texts(svg))


@pytest.mark.renderer
def test_to_png_draws_the_same_picture_at_a_scale():
    x = Value(3.0, label="x")
    y = x * x
    svg_pt = float(re.search(r'width="([0-9.]+)pt"', to_svg(y)).group(1))
    for scale in (1.0, 2.0):
        png = viz.to_png(y, scale=scale)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        px_wide = struct.unpack(">I", png[16:20])[0]
        assert px_wide == pytest.approx(svg_pt * 96 / 72 * scale, rel=0.03)
