"""The objective a model is trained and scored on: a loss given by name, and ``evaluate``.

``resolve_loss`` turns 'hinge', 'mse', 'bce' or 'cross_entropy' into a loss
function over a batch and the output threshold that makes a prediction a
class; ``score`` gives (loss + l2 * sum p^2, accuracy) of a model's outputs,
which eager and compiled training and ``evaluate`` all report.
"""

from __future__ import annotations

from collections.abc import Callable

from autograd import no_grad

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
        threshold = (min(data.y) + max(data.y)) / 2 if len(data) else 0.0
        return F.mse, threshold
    if loss == "cross_entropy":
        return F.cross_entropy, 0.0
    raise ValueError(f"loss must be one of {', '.join(LOSSES)} or a function; got {loss!r}")


def evaluate(
    model: Module, data: DataLike, loss: str | Callable = "hinge", l2: float = 0.0
) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``data``, in evaluation mode and under ``no_grad``."""
    data = as_dataset(data)
    resolve_loss(loss, data)  # bad names and labels fail before the model runs
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = [model(x) for x in data.X]
        return score(outputs, data, loss, model.parameters(), l2)
    finally:
        model.train(was_training)


def score(outputs, data: Dataset, loss, params, l2: float) -> tuple[float, float]:
    """(loss + l2 * sum p^2, accuracy) of the model's outputs (Values or plain numbers)."""
    loss_fn, threshold = resolve_loss(loss, data)
    with no_grad():
        value = loss_fn(outputs, data.y)
        if l2:
            value = value + l2 * F.l2_penalty(params)
    return value.data, F.accuracy(outputs, data.y, threshold)
