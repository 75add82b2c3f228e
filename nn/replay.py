"""A recorded training run as one page: ``training.html``, with a slider over the epochs.

``Recorder`` keeps the model's weights after each epoch (a few hundred
floats each); ``write_training_html(history, model, data, path, states)``
draws the loss and accuracy curves of the whole run and, at up to
``max_frames`` of the recorded epochs, the network's weights and (for 2-D
data) the decision boundary, and writes
them with a small inline script (``replay.js``) as one self-contained file:
no network request, it opens from disk.  Python computes every number; the
page shows the epoch the slider points at.

Contract: ``window.tapegradTraining`` has ``epochs``, ``epoch`` (1 to
``epochs``) and ``goto(k)``; the element ``.tgt`` carries ``data-epoch``,
``data-loss`` and ``data-acc`` (the numbers as shown) for the epoch shown.
"""

from __future__ import annotations

import json
import os
import secrets
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from autograd.files import write_atomic

from .callbacks import Callback

if TYPE_CHECKING:
    from .data import DataLike
    from .history import History
    from .layers import MLP
    from .module import Module
from .live import (
    MARGIN,
    NET_W,
    PANEL_H,
    PANEL_W,
    boundary_svg,
    curves_svg,
    network_svg,
    network_weights,
    two_d,
)

__all__ = ["Recorder", "write_training_html"]

MAX_FRAMES = 25  # boundaries drawn; each is resolution**2 forward passes


class Recorder(Callback):
    """Keeps ``model.state_dict()`` before training (epoch 0) and after every epoch."""

    def __init__(self) -> None:
        self.states: dict[int, dict] = {}

    def on_train_begin(self, model: Module | None, history: History | None) -> None:
        """Forget any earlier run; keep the starting weights as epoch 0."""
        self.states = {0: model.state_dict()} if model is not None else {}

    def on_epoch_end(self, model: Module, history: History) -> None:
        """Keep this epoch's weights."""
        self.states[history.epoch[-1]] = model.state_dict()


def _metric(x) -> str:
    """A loss as the page shows it (as fit's log line: four decimals)."""
    if x is None:
        return ""
    return f"{x:.4f}" if abs(x) < 1e4 else f"{x:.4g}"


def _percent(x) -> str:
    return "" if x is None else f"{100 * x:.1f}%"


def _snapshots(epochs: list[int], recorded, max_frames: int) -> list[int]:
    """Up to ``max_frames`` recorded epochs, evenly spread, always with the last one."""
    have = [e for e in epochs if e in recorded]
    if len(have) <= max_frames:
        return have
    step = (len(have) - 1) / (max_frames - 1)
    return sorted({have[round(k * step)] for k in range(max_frames)})


def _frames(model, data, states, epochs, resolution, max_frames) -> dict:
    """{epoch: (decision grid or None, weights or None)}; the model ends with its own weights."""
    from .plot import decision_grid

    def frame():
        grid = decision_grid(model, data, resolution=resolution) if two_d(data) else None
        return grid, network_weights(model)

    if not states:
        return {epochs[-1]: frame()}
    final = model.state_dict()
    frames = {}
    try:
        for epoch in _snapshots(epochs, states, max_frames):
            model.load_state_dict(states[epoch])
            frames[epoch] = frame()
    finally:
        model.load_state_dict(final)
    return frames


def _page(history, data, frames: dict) -> str:
    epochs = list(history.epoch)
    n = len(epochs)
    parts = curves_svg(history)
    # The marker's x in both panels, one per epoch (the curves' own x scale).
    xs = [MARGIN + (PANEL_W - 8 - MARGIN) * (i / max(1, n - 1)) for i in range(n)]
    for x0 in (0, PANEL_W):
        parts.append(
            f'<line class="tgt-marker" data-x0="{x0}" x1="{x0 + xs[-1]:.1f}" '
            f'x2="{x0 + xs[-1]:.1f}" y1="24" y2="{PANEL_H - 24}" stroke="#e53e3e" '
            f'stroke-width="1.5"/>'
        )
    width = 2 * PANEL_W
    grid, weights = next(iter(frames.values()), (None, None))
    net_x = width + (PANEL_H + 8 if grid is not None else 0)
    for epoch, (grid, weights) in frames.items():
        if grid is None and weights is None:
            continue
        parts.append(f'<g class="tgt-boundary" data-shows="{epoch}">')
        if grid is not None:
            parts += boundary_svg(grid, data, width + 8, f" (epoch {epoch})")
        if weights is not None:
            parts += network_svg(weights, net_x + 8, f" (epoch {epoch})")
        parts.append("</g>")
    if grid is not None:
        width += PANEL_H + 8
    if weights is not None:
        width += NET_W + 8
    svg = (
        f'<svg width="{width}" height="{PANEL_H}" viewBox="0 0 {width} {PANEL_H}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11">{"".join(parts)}</svg>'
    )
    rows = []
    for i, e in enumerate(epochs):
        text = (
            f"epoch {e}/{epochs[-1]}: train loss {_metric(history.train_loss[i])}, "
            f"accuracy {_percent(history.train_acc[i])}"
        )
        if history.val_loss[i] is not None:
            text += (
                f"; validation loss {_metric(history.val_loss[i])}, "
                f"accuracy {_percent(history.val_acc[i])}"
            )
        text += f"; lr {history.lr[i]:.4g}"
        rows.append(
            {
                "epoch": e,
                "loss": _metric(history.train_loss[i]),
                "acc": _percent(history.train_acc[i]),
                "x": round(xs[i], 1),
                "text": text,
            }
        )
    shown = sorted(e for e, (g, w) in frames.items() if g is not None or w is not None)
    payload = json.dumps({"rows": rows, "shown": shown}, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")
    element = f"tgt-{secrets.token_hex(4)}"
    js = resources.files(__package__).joinpath("replay.js").read_text(encoding="utf-8")
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<title>tapegrad: the training run</title>\n<style>\n"
        "body { font-family: Helvetica, Arial, sans-serif; margin: 16px; color: #1a202c; }\n"
        "h1 { font-size: 18px; margin: 0 0 8px; }\n"
        ".tgt-controls { display: flex; gap: 6px; align-items: center; margin: 6px 0; }\n"
        ".tgt-controls input { flex: 1 1 300px; }\n"
        ".tgt-controls button { font: inherit; padding: 3px 10px; }\n"
        ".tgt-text { font-family: Menlo, Consolas, monospace; font-size: 12px; "
        "margin: 4px 0; }\n"
        "</style>\n</head>\n<body>\n<h1>The training run, epoch by epoch</h1>\n"
        f'<div class="tgt" id="{element}">\n'
        '<div class="tgt-controls"><button data-act="play">&#x25B6; play</button>'
        f'<input type="range" min="1" max="{n}" value="{n}" aria-label="epoch">'
        '<span class="tgt-count"></span></div>\n'
        f'<div class="tgt-text"></div>\n{svg}\n</div>\n'
        f"<script>{js}\ntapegradStartTraining(document.getElementById("
        f'"{element}"), {payload});</script>\n</body>\n</html>\n'
    )


def write_training_html(
    history: History,
    model: MLP,
    data: DataLike | None,
    path: str | os.PathLike[str],
    states: dict[int, dict[str, float]] | None = None,
    resolution: int = 24,
    max_frames: int = MAX_FRAMES,
) -> str:
    """Write the recorded run as one self-contained page at ``path`` (atomically); returns it.

    ``history`` is fit's ``History``; ``model`` the trained model; ``data`` the
    training data (its decision boundary is drawn when its points are 2-D);
    ``states`` the weights per epoch from a ``Recorder`` (without them only
    the final boundary is drawn).  The model keeps its final weights.
    """
    if not len(history):
        raise ValueError("write_training_html: the history has no epochs")
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 2:
        raise ValueError(f"write_training_html: max_frames must be an int >= 2, got {max_frames!r}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"write_training_html: {str(path)!r} is a folder; name a file")
    frames = _frames(model, data, states, list(history.epoch), resolution, max_frames)
    text = _page(history, data, frames)
    write_atomic(path, text)
    return str(path)
