"""The whiteboard picture of a network: a circle per input and neuron, a column per layer.

``draw_network(model)`` draws an ``MLP`` the way it is drawn in class (and in
TensorFlow Playground): inputs on the left, one column per layer, an edge
from every input of a neuron to it.  An edge's colour is the sign of its
weight (blue +, vermillion -: a pair colour-blind readers tell apart) and its
width grows with the weight's magnitude, |w| / max |w| of the picture.  With
``show="grad"`` the same is drawn for the gradients of the weights (after
``backward()``); with an input ``x`` each circle shows its activation.

The picture is SVG written directly (simple geometry, no Graphviz); notebooks
also get a PNG of it, drawn with matplotlib when it is installed.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autograd import Value, no_grad
from autograd.files import write_atomic
from autograd.viz.notebook import compact_png

if TYPE_CHECKING:
    from .layers import MLP, Layer

__all__ = ["NetworkView", "draw_network"]

SHOWS = ("weight", "grad")
POSITIVE = "#0072b2"  # Okabe-Ito blue
NEGATIVE = "#d55e00"  # Okabe-Ito vermillion
ZERO = "#b0b0b0"
MIN_WIDTH, MAX_WIDTH = 0.6, 6.0  # stroke widths for |w| = 0 and |w| = max |w|

_MAX_WIDTH_PX = 900  # fits a notebook
_RADIUS = 15
_MARGIN = 70  # room for the column titles at both ends
_TOP = 52  # room for the column titles
_BOTTOM = 44  # room for the key
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


@dataclass
class _Picture:
    """The geometry both outputs draw: circles, edges and texts, in pixels."""

    width: float
    height: float
    circles: list = field(default_factory=list)  # (x, y, fill, kind, column, index, text)
    edges: list = field(default_factory=list)  # (x1, y1, x2, y2, colour, width, value, ids)
    texts: list = field(default_factory=list)  # (x, y, text, size, anchor)


def _check(model, x, show):
    if show not in SHOWS:
        raise ValueError(f"draw_network: show must be one of {SHOWS!r}, got {show!r}")
    layers = getattr(model, "layers", None)
    if layers is None and hasattr(model, "neurons"):
        layers = [model]  # a single Layer
    if not layers or not all(hasattr(layer, "neurons") for layer in layers):
        raise TypeError(
            f"draw_network: model must be an MLP or a Layer (layers of neurons), "
            f"got {type(model).__name__}"
        )
    nin = len(layers[0].neurons[0].w)
    not_a_list = isinstance(x, (Value, int, float)) or not hasattr(x, "__len__")
    if x is not None and (not_a_list or len(x) != nin):
        raise ValueError(f"draw_network: x must be a list of {nin} inputs, got {x!r}")
    return layers, nin


def _activations(layers, x) -> list[list[float]]:
    """The inputs, then each layer's outputs, as numbers (no graph is recorded)."""
    values = [float(v.data if isinstance(v, Value) else v) for v in x]
    out = [values]
    with no_grad():
        for layer in layers:
            values = [v.data for v in layer(values)]
            out.append(values)
    return out


def _short(a: float) -> str:
    """A number short enough to fit inside its circle (six characters at most): 0.25, -12, 3e4."""
    if not math.isfinite(a):
        return str(a)
    if abs(a) < 9.995:
        return f"{a:.2f}"
    if abs(a) < 999.5:
        return f"{a:.0f}"
    mantissa, exponent = f"{a:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _geometry(layers, nin: int, x, show: str) -> _Picture:
    sizes = [nin] + [len(layer.neurons) for layer in layers]
    columns = len(sizes)
    gap_x = min(200.0, (_MAX_WIDTH_PX - 2 * _MARGIN) / max(columns - 1, 1))
    gap_y = max(2.4 * _RADIUS, min(56.0, 640.0 / max(sizes)))
    tallest = (max(sizes) - 1) * gap_y
    width = 2 * _MARGIN + gap_x * (columns - 1)
    height = _TOP + tallest + 2 * _RADIUS + _BOTTOM
    pic = _Picture(width, height)

    def position(column, index):
        top = _TOP + _RADIUS + (tallest - (sizes[column] - 1) * gap_y) / 2
        return _MARGIN + column * gap_x, top + index * gap_y

    numbers = [
        [[(w.grad if show == "grad" else w.data) for w in n.w] for n in layer.neurons]
        for layer in layers
    ]
    biggest = max((abs(v) for layer in numbers for n in layer for v in n), default=0.0)
    for k, layer in enumerate(numbers):
        for j, weights in enumerate(layer):
            x2, y2 = position(k + 1, j)
            for i, value in enumerate(weights):
                x1, y1 = position(k, i)
                share = abs(value) / biggest if biggest > 0 else 0.0
                colour = POSITIVE if value > 0 else NEGATIVE if value < 0 else ZERO
                stroke = MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * share
                ids = (f"{k}.{i}", f"{k + 1}.{j}")
                pic.edges.append((x1, y1, x2, y2, colour, stroke, value, ids))

    acts = _activations(layers, x) if x is not None else None
    for column, size in enumerate(sizes):
        kind = "input" if column == 0 else "neuron"
        fill = "#e8f1fa" if column == 0 else "#ffffff"
        for index in range(size):
            cx, cy = position(column, index)
            text = _short(acts[column][index]) if acts is not None else ""
            pic.circles.append((cx, cy, fill, kind, column, index, text))
        title = "inputs" if column == 0 else f"layer {column - 1}"
        if column > 0:
            title += f" ({layers[column - 1].neurons[0].activation})"
        pic.texts.append((position(column, 0)[0], _TOP - 24, title, 12, "middle"))

    what = "gradient dL/dw" if show == "grad" else "weight"
    key = f"edges: {what} > 0 blue, < 0 vermillion; width grows with |{what.split()[-1]}|"
    if biggest == 0 and show == "grad":
        key += " (all 0: call backward() first)"
    if acts is not None:
        key += "; circles: activations"
    pic.texts.append((_MARGIN - _RADIUS, height - 16, key, 11, "start"))
    return pic


def _svg(pic: _Picture) -> str:
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pic.width:.0f}" '
        f'height="{pic.height:.0f}" viewBox="0 0 {pic.width:.0f} {pic.height:.0f}" '
        f'font-family="{_FONT}">',
        f'<rect width="{pic.width:.0f}" height="{pic.height:.0f}" fill="white"/>',
    ]
    for x1, y1, x2, y2, colour, width, value, (a, b) in pic.edges:
        parts.append(
            f'<line class="edge" data-from="{a}" data-to="{b}" data-value="{value:.6g}" '
            f'x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{colour}" stroke-width="{width:.2f}" stroke-linecap="round" '
            f'stroke-opacity="0.85"/>'
        )
    for cx, cy, fill, kind, column, index, text in pic.circles:
        parts.append(
            f'<circle class="{kind}" data-column="{column}" data-index="{index}" '
            f'cx="{cx:.1f}" cy="{cy:.1f}" r="{_RADIUS}" fill="{fill}" '
            f'stroke="#4a5568" stroke-width="1.2"/>'
        )
        if text:
            parts.append(
                f'<text x="{cx:.1f}" y="{cy + 3.5:.1f}" font-size="9" '
                f'text-anchor="middle">{esc(text)}</text>'
            )
    for x, y, text, size, anchor in pic.texts:
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="#2d3748">{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _png(pic: _Picture, scale: float = 1.25) -> bytes:
    """The same picture drawn with matplotlib (ImportError when it is not installed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    dpi = 96 * scale
    fig = Figure(figsize=(pic.width / 96, pic.height / 96), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, pic.width)
    ax.set_ylim(pic.height, 0)
    ax.axis("off")
    pt = 72 / 96  # SVG pixels to matplotlib points
    for x1, y1, x2, y2, colour, width, _, _ in pic.edges:
        ax.plot([x1, x2], [y1, y2], color=colour, lw=width * pt, alpha=0.85,
                solid_capstyle="round", zorder=1)  # fmt: skip
    for cx, cy, fill, _, _, _, text in pic.circles:
        ax.add_patch(Circle((cx, cy), _RADIUS, facecolor=fill, edgecolor="#4a5568",
                            lw=1.2 * pt, zorder=2))  # fmt: skip
        if text:
            ax.text(cx, cy, text, fontsize=9 * pt, ha="center", va="center", zorder=3)
    for x, y, text, size, anchor in pic.texts:
        ha = "left" if anchor == "start" else "center"
        ax.text(x, y, text, fontsize=size * pt, ha=ha, va="baseline", color="#2d3748")
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=dpi, facecolor="white")
    return compact_png(out.getvalue())


class NetworkView:
    """A drawn network: ``.svg`` text, ``.save(path)``, and a display in notebooks."""

    def __init__(self, picture: _Picture, description: str) -> None:
        self._picture = picture
        self.svg = _svg(picture)
        self._description = description

    def __repr__(self) -> str:
        return f"<NetworkView: {self._description}>"

    def png(self, scale: float = 1.25) -> bytes:
        """The picture as PNG bytes (needs matplotlib)."""
        return _png(self._picture, scale)

    def save(self, path) -> str:
        """Write the picture to ``path`` (.svg, or .png with matplotlib) atomically; the path."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            write_atomic(path, self.svg)
        elif suffix == ".png":
            write_atomic(path, self.png())
        else:
            raise ValueError(
                f"NetworkView.save: the file must end in .svg or .png, got {str(path)!r}"
            )
        return str(path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "image/svg+xml": self.svg}
        try:
            bundle["image/png"] = self.png()
        except ImportError:  # no matplotlib: the SVG alone
            return bundle, {}
        return bundle, {"image/png": {"width": math.ceil(self._picture.width)}}


def draw_network(
    model: MLP | Layer, x: Sequence[float] | None = None, show: str = "weight"
) -> NetworkView:
    """The neuron-level picture of ``model`` (an ``MLP`` or a ``Layer``).

    One circle per input and neuron, a column per layer; each edge is one
    weight, blue when positive and vermillion when negative, its width
    MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * |w| / max |w|.  ``show="grad"``
    draws the weights' gradients the same way (run ``backward()`` first);
    ``x`` (a list of inputs) writes each neuron's activation in its circle.
    """
    layers, nin = _check(model, x, show)
    picture = _geometry(layers, nin, x, show)
    sizes = [nin] + [len(layer.neurons) for layer in layers]
    description = f"{' -> '.join(map(str, sizes))} network, edges show {show}s"
    return NetworkView(picture, description)
