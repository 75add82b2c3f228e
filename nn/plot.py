"""Plots for training: loss and accuracy curves, a classifier's decision boundary, activations.

matplotlib (the ``notebooks`` extra) is imported only when a plot is made.
Outside IPython, figures are built without pyplot, so nothing depends on a
display or on pyplot's global state.  Each function returns a
``matplotlib.figure.Figure`` (shown inline when it is a notebook cell's
result) and, given ``path``, saves it atomically (png, svg or pdf by the
extension).
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

from autograd import Value, no_grad
from autograd.files import write_atomic

__all__ = [
    "activation_curves",
    "decision_grid",
    "plot_activations",
    "plot_decision_boundary",
    "plot_history",
]

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")
SAVE_FORMATS = ("png", "svg", "pdf")
MAX_RESOLUTION = 1000


def _figure(**kwargs):
    """A new Figure; outside IPython it never touches pyplot (no display, no global registry)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            'plots need matplotlib: pip install "tapegrad[notebooks]" (or pip install matplotlib)'
        ) from None
    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        # In a notebook, making the figure through pyplot loads the inline backend, which
        # teaches IPython to show Figures; closing it at once means it is shown only as
        # the cell's result, not a second time when the cell ends.
        import matplotlib.pyplot as plt

        fig = plt.figure(**kwargs)
        plt.close(fig)
        return fig
    return Figure(**kwargs)


def _save(fig, path) -> None:
    """Save ``fig`` as png, svg or pdf (by the extension), atomically."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in SAVE_FORMATS:
        raise ValueError(f"path must end in one of .png, .svg, .pdf, got {str(path)!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=120, bbox_inches="tight")
    write_atomic(path, buffer.getvalue())


# Training curves ------------------------------------------------------------------


def _column(history, key: str) -> list:
    values = history.get(key) if isinstance(history, dict) else getattr(history, key, None)
    return list(values) if values is not None else []


def plot_history(history, path=None):
    """Loss and accuracy per epoch, train and validation, from a ``History`` or a dict of lists.

    Validation curves are drawn where values exist (None marks an epoch
    without validation); the accuracy panel is left out when no accuracy was
    recorded.
    """
    if not isinstance(history, dict) and not hasattr(history, "train_loss"):
        raise TypeError(
            f"plot_history: expected a History or a dict with keys {', '.join(HISTORY_KEYS)}, "
            f"got {type(history).__name__}"
        )
    train_loss = _column(history, "train_loss")
    if not train_loss:
        raise ValueError("plot_history: the history has no epochs (train_loss is empty)")
    epochs = _column(history, "epoch") or list(range(1, len(train_loss) + 1))
    series = {key: _column(history, key) for key in ("train_acc", "val_loss", "val_acc")}
    for key, values in {"epoch": epochs, **series}.items():
        if values and len(values) != len(train_loss):
            raise ValueError(
                f"plot_history: {key} has {len(values)} entries but train_loss has "
                f"{len(train_loss)}"
            )

    def points(values):
        pairs = [
            (e, v)
            for e, v in zip(epochs, values, strict=True)
            if v is not None and math.isfinite(v)
        ]
        return [e for e, _ in pairs], [v for _, v in pairs]

    from matplotlib.ticker import MaxNLocator

    has_acc = any(v is not None for v in series["train_acc"] + series["val_acc"])
    fig = _figure(figsize=(10 if has_acc else 5.5, 3.8), layout="constrained")
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    panels = [("loss", train_loss, series["val_loss"])]
    if has_acc:
        panels.append(("accuracy", series["train_acc"], series["val_acc"]))
    for ax, (name, train, val) in zip(axes, panels, strict=True):
        ax.plot(*points(train), label=f"train {name}", color="tab:blue")
        if any(v is not None for v in val):
            ax.plot(*points(val), label=f"validation {name}", color="tab:orange")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if path is not None:
        _save(fig, path)
    return fig


# Decision boundary ------------------------------------------------------------------


def _xy(data):
    """(X, y) from a pair or from anything with ``.X`` and ``.y``, checked to be 2-D points."""
    if hasattr(data, "X") and hasattr(data, "y"):
        X, y = data.X, data.y
    else:
        try:
            X, y = data
        except (TypeError, ValueError):
            raise TypeError(
                f"data must be (X, y) or have .X and .y, got {type(data).__name__}"
            ) from None
    X, y = [list(map(float, row)) for row in X], list(y)
    if not X:
        raise ValueError("data has no points")
    if len(X) != len(y):
        raise ValueError(f"data has {len(X)} points but {len(y)} labels")
    bad = next((row for row in X if len(row) != 2), None)
    if bad is not None:
        raise ValueError(f"a decision boundary needs 2-D points, got a point with {len(bad)}")
    return X, y


def _scores(out) -> list[float]:
    if isinstance(out, Value):
        return [out.data]
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return [float(out)]
    try:
        if isinstance(out, (str, bytes)):
            raise TypeError
        return [o.data if isinstance(o, Value) else float(o) for o in out]
    except (TypeError, ValueError):
        raise TypeError(
            f"the model must return a Value or a list of Values, got {type(out).__name__}"
        ) from None


def decision_grid(model, data, resolution: int = 80, threshold: float = 0.0, margin: float = 0.5):
    """The class the model predicts on a grid covering the data: (xs, ys, classes[row][col]).

    ``model([x1, x2])`` is evaluated under ``no_grad`` and in eval mode.  One output: class 1
    where the score is above ``threshold``, else 0.  Several outputs: the
    index of the largest.
    """
    X, _ = _xy(data)
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise ValueError(
            f"resolution must be an int from 2 to {MAX_RESOLUTION}, got {resolution!r}"
        )
    if not 2 <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution must be an int from 2 to {MAX_RESOLUTION}, got {resolution!r}"
        )
    lo = [min(p[i] for p in X) - margin for i in (0, 1)]
    hi = [max(p[i] for p in X) + margin for i in (0, 1)]
    xs = [lo[0] + (hi[0] - lo[0]) * k / (resolution - 1) for k in range(resolution)]
    ys = [lo[1] + (hi[1] - lo[1]) * k / (resolution - 1) for k in range(resolution)]
    classes = []
    # A picture of what the model predicts: dropout off (eval mode), then restored.
    was_training = getattr(model, "training", None)
    if was_training:
        model.eval()
    try:
        with no_grad():
            for yv in ys:
                row = []
                for xv in xs:
                    scores = _scores(model([xv, yv]))
                    if len(scores) == 1:
                        row.append(1 if scores[0] > threshold else 0)
                    else:
                        row.append(max(range(len(scores)), key=scores.__getitem__))
                classes.append(row)
    finally:
        if was_training:
            model.train()
    return xs, ys, classes


def plot_decision_boundary(
    model, data, path=None, resolution: int = 80, threshold: float = 0.0, title: str = "", ax=None
):
    """The regions a 2-D classifier assigns to each class, with the data points on top.

    ``data`` is ``(X, y)`` or a dataset with ``.X`` and ``.y``.  A binary model
    (one output) is split at ``threshold``: labels are shown as the lower and
    the higher class (so -1/1 and 0/1 both work).  A multiclass model returns
    one score per class; its argmax is the class.  Pass a matplotlib ``ax`` to
    draw into it (e.g. several models side by side); returns the Figure.
    """
    from matplotlib.colors import ListedColormap

    X, y = _xy(data)
    xs, ys, classes = decision_grid(model, (X, y), resolution, threshold)
    labels = sorted(set(y))
    n_classes = max(2, len(labels), 1 + max(max(row) for row in classes))
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
    colours = [palette[k % len(palette)] for k in range(n_classes)]

    # Binary labels may be -1/1 or 0/1: the lower one is class 0, the higher class 1.
    binary = len(labels) <= 2 and all(max(row) <= 1 for row in classes)
    index = {lab: k for k, lab in enumerate(labels)} if binary else {}

    if ax is None:
        fig = _figure(figsize=(5.5, 5), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.contourf(
        xs,
        ys,
        classes,
        levels=[k - 0.5 for k in range(n_classes + 1)],
        cmap=ListedColormap(colours),
        alpha=0.3,
    )
    for lab in labels:
        if binary:
            k = index[lab]
        else:  # class indices 0..K-1 as the model's outputs; anything else by rank
            k = int(lab) if isinstance(lab, (int, float)) and float(lab).is_integer() else 0
            k = k if 0 <= k < n_classes else labels.index(lab)
        pts = [p for p, t in zip(X, y, strict=True) if t == lab]
        ax.scatter(
            [p[0] for p in pts],
            [p[1] for p in pts],
            s=18,
            color=colours[k % len(colours)],
            edgecolors="black",
            linewidths=0.4,
            label=f"class {lab}",
        )
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    if path is not None:
        _save(fig, path)
    return fig


# Activations --------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": lambda v: v.relu(),
    "sigmoid": lambda v: v.sigmoid(),
    "tanh": lambda v: v.tanh(),
    "leaky_relu(0.1)": lambda v: v.leaky_relu(0.1),
}


def activation_curves(lo: float = -4.0, hi: float = 4.0, n: int = 401) -> dict:
    """{name: (xs, f(xs), f'(xs))}, each derivative computed by the engine's backward."""
    xs = [lo + (hi - lo) * k / (n - 1) for k in range(n)]
    curves = {}
    for name, f in ACTIVATIONS.items():
        ys, ds = [], []
        for x in xs:
            v = Value(x)
            out = f(v)
            out.backward()
            ys.append(out.data)
            ds.append(v.grad)
        curves[name] = (xs, ys, ds)
    return curves


def plot_activations(path=None):
    """relu, sigmoid, tanh and leaky_relu with their derivatives (from backward), side by side."""
    curves = activation_curves()
    fig = _figure(figsize=(12, 3.2), layout="constrained")
    axes = fig.subplots(1, len(curves), sharey=True)
    for ax, (name, (xs, ys, ds)) in zip(axes, curves.items(), strict=True):
        ax.plot(xs, ys, label=f"{name.split('(')[0]}(x)", color="tab:blue")
        ax.plot(xs, ds, label="derivative", color="tab:orange", linestyle="--")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.axvline(0, color="grey", linewidth=0.5)
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if path is not None:
        _save(fig, path)
    return fig
