"""Training you can watch: ``fit(..., callbacks=[LiveView(data)])`` redraws as the model learns.

The view is one picture, replaced in place in the notebook (IPython's
``display(..., display_id=True)`` and its ``update``: no widget, no front-end
extension, so it works in JupyterLab, Notebook 7 and VS Code as installed):
the loss and accuracy per epoch, and for 2-D data the decision boundary on a
grid with the points on top, and the network itself (a line per weight, its
colour the sign, its width the size).  The picture is SVG drawn here from the numbers
(``panels_svg``); ``nn.replay`` draws the recorded run's page from the same
panels.

It costs at most ``budget`` (15%) of the training time: each redraw is
timed, and the next one waits until the time spent drawing is within the
budget's share of the time spent training.  The target is 20%: the margin
covers what the drawing costs beyond its own clock (the garbage collector
walks the grid's Values later).  ``benchmarks/live_view.py`` measures it.
Outside a notebook nothing is shown (``fit`` prints its log).
"""

from __future__ import annotations

import base64
import html
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .callbacks import Callback
from .netview import NEGATIVE, POSITIVE

if TYPE_CHECKING:
    from .data import DataLike
    from .history import History
    from .module import Module

__all__ = ["LiveView", "network_weights", "panels_svg"]

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
REGION = ("#c9d6ea", "#f4d9c6", "#cde5d2", "#edcbcc", "#dcd6e9", "#e3d9d0", "#f2d9ea")
PANEL_W, PANEL_H = 300, 220
NET_W = 240
POSITIVE_TINT, NEGATIVE_TINT = "#cce3f0", "#f7d8c4"  # light POSITIVE and NEGATIVE, for fills
MARGIN = 46


def _num(x: float) -> str:
    """A number on an axis or in a caption: four significant digits."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.4g}"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _axes(x0: float, title: str, lo: float, hi: float, epochs: int) -> list[str]:
    """A panel's frame, title and the y range / epoch range as text."""
    top, bottom = 24, PANEL_H - 24
    return [
        f'<rect x="{x0 + MARGIN}" y="{top}" width="{PANEL_W - MARGIN - 8}" '
        f'height="{bottom - top}" fill="#ffffff" stroke="#a0aec0"/>',
        f'<text x="{x0 + PANEL_W / 2}" y="16" text-anchor="middle" font-weight="bold">'
        f"{title}</text>",
        f'<text x="{x0 + MARGIN - 3}" y="{top + 10}" text-anchor="end">{_num(hi)}</text>',
        f'<text x="{x0 + MARGIN - 3}" y="{bottom}" text-anchor="end">{_num(lo)}</text>',
        f'<text x="{x0 + MARGIN}" y="{bottom + 14}">1</text>',
        f'<text x="{x0 + PANEL_W - 8}" y="{bottom + 14}" text-anchor="end">epoch {epochs}</text>',
    ]


def _curve(x0, values, lo, hi, epochs, colour, dashed=False) -> str:
    """One series as a polyline in a panel (None and non-finite points are gaps)."""
    top, bottom = 24, PANEL_H - 24
    left, right = x0 + MARGIN, x0 + PANEL_W - 8
    span = (hi - lo) or 1.0
    runs: list[list[str]] = []
    run: list[str] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            runs, run = [*runs, run] if run else runs, []
            continue
        x = left + (right - left) * (i / max(1, epochs - 1))
        y = bottom - (bottom - top) * (v - lo) / span
        run.append(f"{x:.1f},{y:.1f}")
    if run:
        runs.append(run)
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.6"{dash} points="{" ".join(r)}"/>'
        for r in runs
    )


def _series_range(*series) -> tuple[float, float]:
    finite = [v for s in series for v in s if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    return min(finite), max(finite)


def curves_svg(history, x0: float = 0.0) -> list[str]:
    """The loss panel and the accuracy panel of ``history`` (all its epochs), as SVG elements."""
    epochs = max(1, len(history.train_loss))
    parts = []
    lo, hi = _series_range(history.train_loss, history.val_loss)
    lo = min(lo, 0.0)
    parts += _axes(x0, "loss", lo, hi, epochs)
    parts.append(_curve(x0, history.train_loss, lo, hi, epochs, PALETTE[0]))
    parts.append(_curve(x0, history.val_loss, lo, hi, epochs, PALETTE[1], dashed=True))
    x1 = x0 + PANEL_W
    parts += _axes(x1, "accuracy", 0.0, 1.0, epochs)
    parts.append(_curve(x1, history.train_acc, 0.0, 1.0, epochs, PALETTE[0]))
    parts.append(_curve(x1, history.val_acc, 0.0, 1.0, epochs, PALETTE[1], dashed=True))
    has_val = any(v is not None for v in history.val_loss)
    legend = [("train", PALETTE[0])] + ([("validation", PALETTE[1])] if has_val else [])
    for k, (name, colour) in enumerate(legend):
        y = PANEL_H - 4
        x = x0 + MARGIN + 90 * k
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 16}" y2="{y - 4}" stroke="{colour}" '
            f'stroke-width="2"/><text x="{x + 20}" y="{y}">{name}</text>'
        )
    return parts


def boundary_svg(grid, data, x0: float, caption: str = "") -> list[str]:
    """The predicted class on a grid (one rect per run of equal cells in a row), points on top.

    ``grid`` is ``(xs, ys, classes)`` from ``nn.plot.decision_grid``; ``data`` has
    ``.X`` and ``.y``.  Binary labels (-1/1 or 0/1) map to classes 0 and 1 by rank.
    """
    xs, ys, classes = grid
    size = PANEL_H - 32
    left, top = x0 + 8, 24
    nx, ny = len(xs), len(ys)
    cw, ch = size / nx, size / ny
    parts = [
        f'<text x="{x0 + 8 + size / 2}" y="16" text-anchor="middle" font-weight="bold">'
        f"decision boundary{_xml(caption)}</text>"
    ]
    for r, row in enumerate(classes):
        y = top + size - (r + 1) * ch  # row 0 is the lowest y
        start = 0
        for c in range(1, nx + 1):
            if c == nx or row[c] != row[start]:
                colour = REGION[row[start] % len(REGION)]
                x, w = left + start * cw, (c - start) * cw + 0.5  # 0.5: no hairline gaps
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{ch + 0.5:.1f}" '
                    f'fill="{colour}"/>'
                )
                start = c
    labels = sorted(set(data.y))
    rank = {lab: k for k, lab in enumerate(labels)}
    sx = size / ((xs[-1] - xs[0]) or 1.0)
    sy = size / ((ys[-1] - ys[0]) or 1.0)
    for (px, py), lab in zip(data.X, data.y, strict=True):
        cx = left + (px - xs[0]) * sx
        cy = top + size - (py - ys[0]) * sy
        colour = PALETTE[rank[lab] % len(PALETTE)]
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.6" fill="{colour}" stroke="#1a202c" '
            f'stroke-width="0.4"/>'
        )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#a0aec0"/>'
    )
    return parts


def network_weights(model) -> list | None:
    """[[(w list, b) per neuron] per layer] for a network of Layers of Neurons, else None."""
    layers = getattr(model, "layers", None)
    if not layers or not all(hasattr(layer, "neurons") for layer in layers):
        return None
    return [[([w.data for w in n.w], n.b.data) for n in layer.neurons] for layer in layers]


def network_svg(weights, x0: float, caption: str = "") -> list[str]:
    """The network as it is drawn on paper: inputs left, a column per layer, a line per weight.

    A weight's sign is its colour, the same as ``nn.draw_network``'s (blue positive,
    vermillion negative), and its size the line's width, relative to the largest
    weight; a neuron's fill shows its bias's sign in a light tint of the same colours.
    """
    sizes = [len(weights[0][0][0])] + [len(layer) for layer in weights]
    width, top, bottom = NET_W, 30, PANEL_H - 10
    xs = [x0 + 14 + (width - 28) * k / (len(sizes) - 1) for k in range(len(sizes))]

    def ys(n):
        gap = min(22.0, (bottom - top) / max(1, n))
        middle = (top + bottom) / 2
        return [middle + gap * (i - (n - 1) / 2) for i in range(n)]

    flat = [abs(w) for layer in weights for ws, _ in layer for w in ws]
    biggest = max(flat, default=1.0) or 1.0
    parts = [
        f'<text x="{x0 + width / 2}" y="16" text-anchor="middle" font-weight="bold">'
        f"network{_xml(caption)}</text>"
    ]
    for k, layer in enumerate(weights):
        left, right = ys(sizes[k]), ys(sizes[k + 1])
        for j, (ws, _) in enumerate(layer):
            for i, w in enumerate(ws):
                colour = POSITIVE if w > 0 else NEGATIVE
                stroke = 0.2 + 2.6 * abs(w) / biggest
                parts.append(
                    f'<line x1="{xs[k]:.1f}" y1="{left[i]:.1f}" x2="{xs[k + 1]:.1f}" '
                    f'y2="{right[j]:.1f}" stroke="{colour}" stroke-width="{stroke:.2f}" '
                    f'stroke-opacity="0.7"/>'
                )
    biases = [abs(b) for layer in weights for _, b in layer]
    top_bias = max(biases, default=1.0) or 1.0
    radius = 4.5 if max(sizes) > 8 else 6
    for k, n in enumerate(sizes):
        for i, y in enumerate(ys(n)):
            fill = "#ffffff"
            if k:
                b = weights[k - 1][i][1]
                shade = POSITIVE_TINT if b > 0 else NEGATIVE_TINT
                fill = shade if abs(b) > 0.05 * top_bias else "#ffffff"
            parts.append(
                f'<circle cx="{xs[k]:.1f}" cy="{y:.1f}" r="{radius}" fill="{fill}" '
                f'stroke="#2d3748" stroke-width="0.8"/>'
            )
    return parts


SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def panels_svg(
    history, grid=None, data=None, caption: str = "", namespace: bool = True, weights=None
) -> str:
    """One SVG: loss and accuracy curves; the decision boundary and the network when given.

    ``namespace=False`` leaves out the xmlns, which SVG inside an HTML page does not need.
    """
    parts = curves_svg(history)
    width = 2 * PANEL_W
    if grid is not None and data is not None:
        parts += boundary_svg(grid, data, width + 8, caption)
        width += PANEL_H + 8
    if weights is not None:
        parts += network_svg(weights, width + 8)
        width += NET_W + 8
    body = "".join(parts)
    xmlns = f' xmlns="{SVG_NAMESPACE}"' if namespace else ""
    return (
        f'<svg{xmlns} width="{width}" height="{PANEL_H}" viewBox="0 0 {width} {PANEL_H}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11">{body}</svg>'
    )


def two_d(data) -> bool:
    """True for a dataset of 2-D points with labels (one whose decision boundary can be drawn)."""
    X = getattr(data, "X", None)
    return X is not None and len(X) > 0 and all(len(row) == 2 for row in X)


class _Picture:
    """What the notebook shows: the SVG, and a line of text for plain-text front ends."""

    def __init__(self, svg: str, text: str) -> None:
        self.svg, self.text = svg, text

    def _repr_mimebundle_(self, include=None, exclude=None):
        # An <img> of the SVG, not the SVG itself: JupyterLab shows raw SVG only in
        # notebooks it trusts, and keeps an <img> in the ones it does not (a clone's).
        data = base64.b64encode(self.svg.encode("utf-8")).decode("ascii")
        img = f'<img alt="{html.escape(self.text)}" src="data:image/svg+xml;base64,{data}">'
        return {"text/html": img, "text/plain": self.text}


def _notebook_display():
    """IPython's ``display`` when running in a kernel, else None (nothing to show into)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    return display


class LiveView(Callback):
    """Curves and the decision boundary, redrawn in place while ``fit`` trains.

    ``data`` (optional) is the training data: with 2-D points the boundary is
    drawn on a ``resolution`` x ``resolution`` grid.  A redraw is considered
    every ``every`` epochs and made only while drawing has cost at most
    ``budget`` of the training time so far; the last epoch is always drawn.
    ``display`` is the function that shows a picture and returns a handle
    with ``update`` (IPython's, in a notebook); ``redraws`` counts the
    pictures made and ``seconds`` the time they took.
    """

    def __init__(
        self,
        data: DataLike | None = None,
        *,
        every: int = 1,
        resolution: int = 24,
        budget: float = 0.15,
        display: Callable[..., Any] | None = None,
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"LiveView: every must be a positive int, got {every!r}")
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
            raise ValueError(f"LiveView: resolution must be an int >= 2, got {resolution!r}")
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget <= 1:
            raise ValueError(f"LiveView: budget must be a number in (0, 1], got {budget!r}")
        if data is not None:
            from .data import as_dataset

            data = as_dataset(data)
        self.data = data
        self.every = every
        self.resolution = resolution
        self.budget = float(budget)
        self.display = display
        self.picture: _Picture | None = None
        self.on_train_begin(None, None)

    def on_train_begin(self, model: Module | None, history: History | None) -> None:
        """Start the clock; show an empty picture that the epochs will replace."""
        self.redraws = 0
        self.seconds = 0.0
        self._last_cost = 0.0
        self._handle = None
        self._start = time.perf_counter()
        if history is not None:
            show = self.display or _notebook_display()
            if show is not None:
                self._handle = show(
                    _Picture("<svg width='1' height='1'></svg>", "training…"), display_id=True
                )

    def on_epoch_end(self, model: Module, history: History) -> None:
        """Redraw when it is time and the drawing budget allows."""
        epoch = history.epoch[-1]
        if epoch % self.every:
            return
        training = time.perf_counter() - self._start - self.seconds
        # The next redraw is expected to cost what the last one did; draw only if it fits
        # with room left for the final picture, which on_train_end always draws.
        if self.seconds + 2 * self._last_cost <= self.budget * training:
            self.draw(model, history)

    def on_train_end(self, model: Module, history: History) -> None:
        """The final picture, whatever the budget: the run as it ended."""
        if history.epoch:
            self.draw(model, history)

    def draw(self, model: Module, history: History) -> _Picture:
        """Make the picture of the run so far and show it in place; returns it."""
        began = time.perf_counter()
        grid = None
        if self.data is not None and two_d(self.data):
            from .plot import decision_grid

            grid = decision_grid(model, self.data, resolution=self.resolution)
        epoch = history.epoch[-1]
        caption = f" (epoch {epoch})"
        text = (
            f"epoch {epoch}: loss {_num(history.train_loss[-1])}, "
            f"accuracy {100 * history.train_acc[-1]:.1f}%"
        )
        svg = panels_svg(history, grid, self.data, caption, weights=network_weights(model))
        self.picture = _Picture(svg, text)
        if self._handle is not None:
            self._handle.update(self.picture)
        cost = time.perf_counter() - began
        self._last_cost = cost
        self.seconds += cost
        self.redraws += 1
        return self.picture
