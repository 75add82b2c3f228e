"""Pictures of the computation graph: DOT text, graphviz objects, SVG/PNG files, notebook display.

- ``drawing``: ``layout`` decides what a picture shows, as a structured ``Drawing``;
- ``dot``: ``to_dot``, the DOT text of a drawing (no third-party package needed);
- ``digraph``: ``draw_dot``, a ``graphviz.Digraph`` with the same source;
- ``rendering``: ``find_renderer``, ``to_svg``, ``render``: a Graphviz executable
  turns DOT into pictures;
- ``notebook``: ``mimebundle``, the display of graphs in Jupyter (SVG and PNG
  that fit a notebook, or text; never an error).
"""

from __future__ import annotations

import sys
import types

from ..files import write_atomic
from . import rendering as _rendering
from .digraph import draw_dot, emit_digraph
from .dot import emit_dot, to_dot
from .drawing import (
    COLOURS,
    DONE,
    DONE_FILL,
    HIGHLIGHT,
    MAX_PRECISION,
    RANKDIRS,
    Cluster,
    Drawing,
    HtmlLabel,
    layout,
    local_derivatives,
)
from .notebook import MIN_SCALE, NOTEBOOK_WIDTH, PNG_SCALE, mimebundle, to_png
from .rendering import (
    FORMATS,
    INSTALL_HINT,
    RENDER_TIMEOUT,
    RENDERER,
    RENDERER_ENV,
    RendererNotFound,
    RenderError,
    find_renderer,
    render,
    to_svg,
)

__all__ = [
    "COLOURS",
    "DONE",
    "DONE_FILL",
    "FORMATS",
    "HIGHLIGHT",
    "INSTALL_HINT",
    "MAX_PRECISION",
    "MIN_SCALE",
    "NOTEBOOK_WIDTH",
    "PNG_SCALE",
    "RANKDIRS",
    "RENDERER",
    "RENDERER_ENV",
    "RENDER_TIMEOUT",
    "Cluster",
    "Drawing",
    "HtmlLabel",
    "RenderError",
    "RendererNotFound",
    "draw_dot",
    "emit_digraph",
    "emit_dot",
    "find_renderer",
    "layout",
    "local_derivatives",
    "mimebundle",
    "render",
    "to_dot",
    "to_png",
    "to_svg",
    "write_atomic",
]


class _Settings(types.ModuleType):
    """``autograd.viz.RENDERER = path`` sets the renderer where the lookup reads it."""

    def __setattr__(self, name, value):
        if name == "RENDERER":
            _rendering.RENDERER = value
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if name == "RENDERER":
            _rendering.RENDERER = None
        super().__delattr__(name)


sys.modules[__name__].__class__ = _Settings
