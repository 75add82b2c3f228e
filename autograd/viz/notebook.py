"""Notebook display: a graph as SVG and PNG that fit a notebook, and text; never an error."""

from __future__ import annotations

import re

from ..value import Value
from .dot import to_dot
from .rendering import RendererNotFound, dot_source, run_dot

# A notebook PNG is drawn at PNG_SCALE pixels per CSS pixel (sharp on high-density
# screens) and shown at the SVG's size; larger scales only make the lessons heavier.
PNG_SCALE = 1.25
_CSS_PX_PER_PT = 96 / 72


def _svg_width_pt(svg: str) -> float | None:
    """The width the SVG asks for, in points (Graphviz writes width="123pt")."""
    m = re.search(r'<svg[^>]*\bwidth="([0-9.]+)pt"', svg)
    return float(m.group(1)) if m else None


def to_png(obj, scale: float = PNG_SCALE, **options) -> bytes:
    """PNG bytes of the same picture as ``to_svg``, ``scale`` pixels per CSS pixel."""
    dpi = 96 * scale
    return run_dot(dot_source(obj, **options), "png", f"-Gdpi={dpi:g}")


# A notebook picture is at most NOTEBOOK_WIDTH CSS pixels wide: Graphviz's
# ``size`` (in inches, 96 CSS px each) scales a wider drawing down to fit.
NOTEBOOK_WIDTH = 900
_FIT = f"-Gsize={NOTEBOOK_WIDTH / 96:g},1000"
# Below this scale text gets too small to read: draw fewer nodes instead.
MIN_SCALE = 0.6
_MIN_NODES = 12


def compact_png(png: bytes) -> bytes:
    """The PNG with 64 colours (about half the bytes) when Pillow is installed, else as is.

    A graph picture has a few fills and anti-aliased edges: 64 colours show it
    unchanged to the eye, and a lesson holding many pictures stays small.
    """
    try:
        from PIL import Image
    except ImportError:
        return png
    import io

    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").quantize(colors=64).save(out, "PNG", optimize=True)
    return out.getvalue()


def _fitted(obj) -> tuple[str, str]:
    """(DOT, SVG) of ``obj`` for a notebook: no wider than NOTEBOOK_WIDTH.

    A Value's graph is drawn left to right, else top to bottom if that is
    narrower; when even that would shrink text below MIN_SCALE, fewer nodes
    are drawn (the nearest the output) and the rest summarised in a box.
    Other objects (a graphviz graph, DOT text) are drawn as they are, scaled down.
    """
    limit_pt = NOTEBOOK_WIDTH / _CSS_PX_PER_PT

    def draw(source):
        return source, run_dot(source, "svg", _FIT).decode("utf-8")

    def natural(source):  # the width before scaling, in points
        svg = run_dot(source, "svg").decode("utf-8")
        return _svg_width_pt(svg) or 0.0

    if not isinstance(obj, Value):
        return draw(dot_source(obj))
    max_nodes = 200
    while True:
        across = to_dot(obj, max_nodes=max_nodes)  # left to right, the usual picture
        width = natural(across)
        if width <= limit_pt:
            return draw(across)
        down = to_dot(obj, rankdir="TB", max_nodes=max_nodes)
        source, width = min([(across, width), (down, natural(down))], key=lambda sw: sw[1])
        if width <= limit_pt / MIN_SCALE or max_nodes <= _MIN_NODES:
            return draw(source)
        max_nodes = max(_MIN_NODES, max_nodes // 2)


def mimebundle(obj, *, metadata: bool = False) -> dict | tuple[dict, dict]:
    """Jupyter's display of ``obj``: its graph as SVG and PNG plus text, or text alone.

    The picture fits a notebook (see ``_fitted``: at most NOTEBOOK_WIDTH
    pixels wide, turned or summarised rather than shrunk past reading).
    The PNG is there for frontends that do not show SVG from a notebook they
    have not executed themselves (JupyterLab with an untrusted notebook); it is
    drawn at ``PNG_SCALE`` pixels per CSS pixel.  With ``metadata=True`` the
    result is (bundle, metadata) as ``_repr_mimebundle_`` may return it, the
    metadata giving the PNG the SVG's width so both show at the same size.
    Never raises: a notebook must always show something.
    """
    try:
        text = repr(obj)
    except Exception:  # display must not raise, whatever repr does
        text = f"<{type(obj).__name__}>"
    try:
        source, svg = _fitted(obj)
        png = compact_png(run_dot(source, "png", _FIT, f"-Gdpi={96 * PNG_SCALE:g}"))
    except RendererNotFound as err:
        reason = str(err)
    except Exception as err:  # a picture is a bonus: fall back to the text
        reason = f"{type(err).__name__}: {err}"
    else:
        bundle = {"text/plain": text, "image/svg+xml": svg, "image/png": png}
        width = _svg_width_pt(svg)
        size = {"image/png": {"width": round(width * _CSS_PX_PER_PT)}} if width else {}
        return (bundle, size) if metadata else bundle
    bundle = {"text/plain": f"{text}\n(no graph picture: {reason})"}
    return (bundle, {}) if metadata else bundle
