"""The objective a model is trained and scored on: a loss given by name, and ``evaluate``.

``resolve_loss`` turns 'hinge', 'mse', 'bce' or 'cross_entropy' into a loss
function over a batch and the output threshold that makes a prediction a
class; ``score`` gives (loss + l2 * sum p^2, accuracy) of a model's outputs,
which eager and compiled training and ``evaluate`` all report.
``checked_labels`` turns labels into plain Python numbers (numpy ones
included) and refuses anything else before a model is trained on them.

A model whose outputs are NaN has no accuracy: it is reported as nan, never
as the share of one class that a NaN compared with a threshold would give.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from autograd import Value, no_grad

from . import functional as F
from .data import DataLike, Dataset, as_dataset
from .module import Module

LOSSES = ("hinge", "mse", "bce", "cross_entropy")


def default_loss(data) -> str:
    """micrograd's hinge loss for two classes, softmax cross-entropy for more."""
    return "cross_entropy" if as_dataset(data).n_classes > 2 else "hinge"


def _binary_labels(loss: str, data: Dataset) -> None:
    labels = set(data.y)
    if not labels <= {0, 1} and not labels <= {-1, 1}:
        raise ValueError(
            f"loss={loss!r} needs two classes labelled 0/1 or -1/+1, but the data has labels "
            f"{sorted(labels)!r}; use loss='cross_entropy' and one output per class"
        )


def _label(who: str, what: str, i: int, y):
    """One label as a Python int or float, or a ValueError/TypeError saying what it is."""
    if isinstance(y, (bool, str, bytes)) or not isinstance(y, numbers.Real):
        raise TypeError(
            f"{who}: label {i} of the {what} is {type(y).__name__} {y!r}; labels must be "
            "numbers: class indices 0..k-1 (0/1 or -1/+1 for two classes), or targets for mse"
        )
    value = int(y) if isinstance(y, numbers.Integral) else float(y)
    if not math.isfinite(value):
        raise ValueError(f"{who}: label {i} of the {what} is {value!r}; labels must be finite")
    return value


def checked_labels(data, who: str = "fit", what: str = "training data") -> Dataset:
    """``data`` as a Dataset whose labels are plain ints and floats (numpy numbers converted).

    Strings, bools, None and non-finite labels raise, naming the label's index,
    before anything is trained or scored.
    """
    if isinstance(data, Dataset):
        X, ys, name, n_classes = data.X, data.y, data.name, data.n_classes
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        X, ys = data
        name, n_classes = "", 0
    else:
        return as_dataset(data)  # its TypeError names what was given
    labels = [_label(who, what, i, y) for i, y in enumerate(ys)]
    if isinstance(data, Dataset) and all(type(a) is type(b) for a, b in zip(labels, ys)):
        return data  # already plain numbers
    return Dataset([list(row) for row in X], labels, name, n_classes)


def check_class_indices(data: Dataset, n_classes: int, who: str = "fit", what: str = "data"):
    """Cross-entropy labels: each an int in 0..n_classes-1, one per output of the model."""
    for i, y in enumerate(data.y):
        if not isinstance(y, int) or not 0 <= y < n_classes:
            raise ValueError(
                f"{who}: cross_entropy needs class indices 0..{n_classes - 1} (the model has "
                f"{n_classes} outputs); label {i} of the {what} is {y!r}"
            )


def mse_threshold(data: Dataset) -> float:
    """The output above which an mse model predicts the upper class, from the label set.

    Labels -1/+1: 0.  Class indices (0/1, or 0..k-1 with ``n_classes`` known):
    midway between the smallest and largest class, so 0.5 for two classes,
    even when the set scored holds one class only.  Other targets: midway
    between their smallest and largest.
    """
    labels = set(data.y)
    if not labels:
        return 0.0
    if labels <= {-1, 1} and -1 in labels:
        return 0.0
    if all(float(y).is_integer() and y >= 0 for y in labels):
        top = max(max(labels), data.n_classes - 1, 1)
        return top / 2
    return (min(labels) + max(labels)) / 2


def resolve_loss(loss, data: Dataset) -> tuple[Callable, float]:
    """(loss_fn(outputs, targets) -> Value, accuracy threshold) for a name or a callable."""
    if callable(loss):
        return loss, 0.0
    if loss == "hinge":
        _binary_labels(loss, data)
        return (lambda outs, ys: F.hinge(outs, [1.0 if y > 0 else -1.0 for y in ys])), 0.0
    if loss == "bce":
        _binary_labels(loss, data)
        return (lambda outs, ys: F.bce_with_logits(outs, [1.0 if y > 0 else 0.0 for y in ys])), 0.0
    if loss == "mse":
        # A prediction counts as right when it is nearer the right label than the other one.
        return F.mse, mse_threshold(data)
    if loss == "cross_entropy":
        return F.cross_entropy, 0.0
    raise ValueError(f"loss must be one of {', '.join(LOSSES)} or a function; got {loss!r}")


def evaluate(
    model: Module,
    data: DataLike,
    loss: str | Callable = "hinge",
    l2: float = 0.0,
    threshold: float | None = None,
) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``data``, in evaluation mode and under ``no_grad``.

    ``threshold`` (one output per sample) is the output above which the
    prediction is the upper class; by default 0 for hinge and bce, and for mse
    the one ``mse_threshold`` takes from the label set.  ``fit`` passes the
    training labels' threshold, so a validation set of one class is scored
    against the same line.
    """
    data = checked_labels(data, "evaluate", "data")
    resolve_loss(loss, data)  # bad names and labels fail before the model runs
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = [model(x) for x in data.X]
        return score(outputs, data, loss, model.parameters(), l2, threshold)
    finally:
        model.train(was_training)


def _number(x) -> float:
    return x.data if isinstance(x, Value) else x


def has_nan(outputs) -> bool:
    """True when any output (a number, a Value, or a list of them per sample) is NaN."""
    for out in outputs:
        for x in out if isinstance(out, (list, tuple)) else (out,):
            if math.isnan(_number(x)):
                return True
    return False


def accuracy(outputs, targets, threshold: float) -> float:
    """``functional.accuracy``, or nan when an output is NaN (it predicts no class)."""
    return math.nan if has_nan(outputs) else F.accuracy(outputs, targets, threshold)


def score(
    outputs, data: Dataset, loss, params, l2: float, threshold: float | None = None
) -> tuple[float, float]:
    """(loss + l2 * sum p^2, accuracy) of the model's outputs (Values or plain numbers)."""
    loss_fn, own = resolve_loss(loss, data)
    with no_grad():
        value = loss_fn(outputs, data.y)
        if l2:
            value = value + l2 * F.l2_penalty(params)
    return value.data, accuracy(outputs, data.y, own if threshold is None else threshold)
