"""The training loop: ``fit`` returns a ``History``.

One epoch is: for each mini-batch, run the model on every point, compute the
loss (plus ``l2 * sum p^2`` if asked), ``zero_grad``, ``backward``, ``step``.
Then the model is evaluated on the validation data under ``no_grad`` in
evaluation mode, the epoch is recorded, the learning-rate schedule steps and
the callbacks may stop training.  Ctrl-C stops gracefully: ``fit`` returns the
history so far with ``interrupted=True``.

Divergence: after every step the loss, every gradient and every parameter
must be finite (one ``sum`` each, so the check costs next to nothing).  The
first that is not stops training with ``stop_reason='diverged'``; the weights
go back to what they were before that step, so the model stays finite and
saveable, and ``History.stop_message`` says which epoch, which number (the
loss, the gradient or value of which parameter, the validation loss) and what
to try.  The epoch that diverged is not recorded: the history holds the
epochs that finished with finite numbers.

Labels are checked before the first step: numpy numbers are taken as the
plain numbers they are, anything else (strings, bools, None, NaN, a class
index the model has no output for) is refused with its index.

The pieces live beside it: ``nn.history`` (History), ``nn.callbacks``
(Callback, EarlyStopping), ``nn.objective`` (losses by name, ``evaluate``) and
``nn.compiled`` (``compile=True``: the same steps on compiled tapes).
"""

from __future__ import annotations

import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from autograd import no_grad

from . import functional as F
from .callbacks import Callback, FunctionCallback
from .data import DataLike, Dataset, batches
from .history import History
from .module import Module
from .objective import accuracy, check_class_indices, checked_labels, evaluate, resolve_loss
from .optim import SGD, LRScheduler, Optimizer


def _progress_bar(epochs: int, verbose: bool) -> Any:
    """A tqdm bar on a terminal or in Jupyter (a widget there); None when output is redirected.

    tqdm is a required dependency, imported only here: ``tqdm.auto`` picks the
    notebook widget in a Jupyter kernel (whose stdout is not a terminal).
    """
    in_jupyter = type(sys.stdout).__module__.startswith("ipykernel")
    if not verbose or not (in_jupyter or sys.stdout.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, unit="epoch", leave=False, file=sys.stdout)


def _fmt_loss(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e4 else f"{x:.4g}"


def _log_line(history: History, epochs: int) -> str:
    i = -1
    width = len(str(epochs))
    parts = [
        f"epoch {history.epoch[i]:>{width}}/{epochs}",
        f"loss {_fmt_loss(history.train_loss[i])}",
        f"acc {100 * history.train_acc[i]:5.1f}%",
    ]
    val_loss, val_acc = history.val_loss[i], history.val_acc[i]
    if val_loss is not None and val_acc is not None:
        parts += [f"val_loss {_fmt_loss(val_loss)}", f"val_acc {100 * val_acc:5.1f}%"]
    parts += [f"lr {history.lr[i]:.4g}", f"{history.time[i]:.2f}s"]
    return "  ".join(parts)


def _first_non_finite(values) -> int | None:
    """Index of the first non-finite number, or None (one C-speed sum when all are finite)."""
    if math.isfinite(sum(values)):
        return None
    # A NaN or an inf among them, or finite numbers whose sum overflows: look one by one.
    return next((k for k, v in enumerate(values) if not math.isfinite(v)), None)


def _overflow_words(message: str) -> str:
    """'linear: result overflows a float: linear(<33 operands>)' -> the op and what, not all."""
    return ": ".join(message.split(": ")[:2])


def _param_name(model, k: int) -> str:
    if hasattr(model, "named_parameters"):
        for j, (name, _) in enumerate(model.named_parameters()):
            if j == k:
                return name
    return f"parameter {k}"


def _divergence(trainer, objective: float, params) -> str | None:
    """What made this step diverge: the loss, a gradient or a parameter that is not finite."""
    if not math.isfinite(objective):
        overflow = getattr(getattr(trainer, "eager", trainer), "overflow", None)
        if overflow is not None and objective == math.inf:
            return f"the loss overflowed ({_overflow_words(overflow)})"
        return f"the loss is {objective}"
    k = _first_non_finite([p.grad for p in params])
    if k is not None:
        return f"the gradient of {_param_name(trainer.model, k)} is {params[k].grad}"
    k = _first_non_finite([p.data for p in params])
    if k is not None:
        return f"the step made {_param_name(trainer.model, k)} {params[k].data}"
    return None


def _train_epoch(model, batch_list, trainer, threshold) -> tuple[float, float, str | None]:
    """One pass of zero_grad, backward, step per batch: (mean objective, accuracy, problem).

    ``problem`` is None, or what diverged: then the pass ends there and the
    weights are put back as they were before that step, so they stay finite.
    """
    model.train()
    params = trainer.params
    loss_sum, right, seen = 0.0, 0.0, 0  # right turns NaN with a NaN output
    for batch in batch_list:
        before = [p.data for p in params]
        objective, outputs = trainer.step(batch)
        problem = _divergence(trainer, objective, params)
        if problem is not None:
            for p, value in zip(params, before, strict=True):
                p.data = value
            return objective, math.nan, problem
        # Each batch's loss is a mean: weight it by its size for the epoch's mean.
        loss_sum += objective * len(batch)
        acc = accuracy(outputs, batch.y, threshold)
        right += math.nan if math.isnan(acc) else round(acc * len(batch))
        seen += len(batch)
    if seen == len(batch):  # one batch: its own loss, without a rounding detour
        return objective, right / seen, None
    return loss_sum / seen, right / seen, None


class Eager:
    """One eager training step on the graph: forward, loss, zero_grad, backward, step."""

    compiled = False

    def __init__(self, model, loss, loss_fn, optimizer, l2: float, threshold: float = 0.0) -> None:
        self.model = model
        self.loss = loss
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.l2 = l2
        self.threshold = threshold  # from the training labels, for every set scored
        self.params = model.parameters()
        self.overflow: str | None = None  # the last OverflowError's message

    def step(self, batch: Dataset) -> tuple[float, list]:
        """(objective, the model's outputs) of one batch; steps only on a finite objective.

        An op that overflows (finite weights, a result too large for a float)
        is the training diverging: the objective is inf and nothing is stepped.
        """
        try:
            outputs = [self.model(x) for x in batch.X]
            objective = self.loss_fn(outputs, batch.y)
            if self.l2:
                objective = objective + self.l2 * F.l2_penalty(self.params)
        except OverflowError as err:
            self.overflow = str(err)
            return math.inf, []
        if math.isfinite(objective.data):
            self.optimizer.zero_grad()
            objective.backward()
            self.optimizer.step()
        return objective.data, outputs

    def evaluate(self, data: Dataset) -> tuple[float, float]:
        """(loss, accuracy) on ``data`` in evaluation mode, as ``evaluate``."""
        return evaluate(self.model, data, self.loss, self.l2, self.threshold)


def fit(
    model: Module,
    data: DataLike,
    loss: str | Callable = "hinge",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    val: DataLike | None = None,
    callbacks: Sequence[Callback | Callable] = (),
    lr_schedule: LRScheduler | None = None,
    l2: float = 0.0,
    verbose: bool = True,
    log_every: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    compile: bool | str = False,
) -> History:
    """Train ``model`` on ``data`` for ``epochs`` epochs and return the ``History``.

    ``loss`` is 'hinge' (micrograd's), 'mse', 'bce' (on logits), 'cross_entropy'
    or a function ``(outputs, targets) -> Value``.  ``optimizer`` defaults to
    ``SGD(lr=0.1)``; ``batch_size=None`` is full-batch; mini-batches are
    reshuffled each epoch from ``seed`` when ``shuffle``.  ``l2`` adds
    ``l2 * sum p^2`` to the loss (micrograd's demo uses 1e-4).  ``lr_schedule``
    steps once per epoch.  With ``verbose``, a log line every ``log_every``
    epochs (default: about ten lines in all) and a tqdm bar on a terminal.
    ``compile=True`` runs each step on compiled tapes: the same numbers up to
    rounding, several times faster (see ``nn.compiled``); ``compile='batch'``
    replays them with numpy, ``compile='matrix'`` as one matrix product per
    layer over the batch (``'tape'`` is ``True``).  It refuses a model with
    dropout (a tape would freeze one mask), and trains eagerly, with a notice
    when ``verbose``, wherever a tape cannot stand for the model.
    """
    train_set = checked_labels(data, "fit", "training data")
    val_set = checked_labels(val, "fit", "validation data") if val is not None else None
    if not len(train_set):
        raise ValueError("fit: the training data is empty")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not 0 <= l2 < math.inf:
        raise ValueError(f"fit: l2 must be a finite number >= 0, got {l2!r}")
    if log_every is None:
        log_every = max(1, epochs // 10)  # about ten lines, plus the first and the last
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"fit: log_every must be a positive int or None, got {log_every!r}")
    # Imported here: nn.compiled (which loads the compiler only when asked) stays out of import nn.
    from .compiled import compile_mode, compiled_or_eager, dropouts

    mode = compile_mode(compile)
    dropout = dropouts(model) if mode else []
    if dropout:
        raise ValueError(
            f"fit: compile={compile!r} cannot train a model with dropout ({', '.join(dropout)}): "
            "a compiled tape would replay the one dropout mask drawn while recording at "
            "every step. Use compile=False, or dropout p=0"
        )
    # The threshold of a one-output model comes from the training labels, once:
    # the validation data is scored against the same line, whatever classes it holds.
    loss_fn, threshold = resolve_loss(loss, train_set)
    if val_set is not None:
        resolve_loss(loss, val_set)  # the same label checks for the validation data
    if loss == "cross_entropy":
        # A bad class index in a later mini-batch must fail now, not after some steps.
        n_outputs = _n_outputs(model, train_set.X[0])
        if n_outputs is not None and n_outputs >= 2:
            check_class_indices(train_set, n_outputs, "fit", "training data")
            if val_set is not None:
                check_class_indices(val_set, n_outputs, "fit", "validation data")
    cbs = [c if isinstance(c, Callback) else FunctionCallback(c) for c in callbacks]
    for c in cbs:
        monitor = getattr(c, "monitor", "")
        if monitor.startswith("val_") and val_set is None:
            raise ValueError(
                f"{type(c).__name__} monitors {monitor!r} but fit() got no val data: "
                "pass val=..., or monitor 'train_loss'"
            )
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=0.1)
    order_rng = random.Random(seed)
    history = History()
    say = print
    bar = _progress_bar(epochs, verbose)
    if bar is not None:
        say = bar.write
    start = time.perf_counter()
    trainer = Eager(model, loss, loss_fn, optimizer, l2, threshold)
    for c in cbs:
        c.on_train_begin(model, history)
    try:
        if mode:  # recorded once, before the first epoch (its time counts in history.time)
            trainer = compiled_or_eager(trainer, train_set, say if verbose else None, mode)
        for epoch in range(1, epochs + 1):
            lr = optimizer.lr
            order = batches(train_set, batch_size, shuffle and batch_size is not None, order_rng)
            train_loss, train_acc, problem = _train_epoch(model, order, trainer, threshold)
            val_loss = val_acc = None
            if problem is None and val_set is not None:
                try:
                    val_loss, val_acc = trainer.evaluate(val_set)
                except OverflowError as err:
                    problem = f"the validation loss overflowed ({_overflow_words(str(err))})"
                else:
                    if not math.isfinite(val_loss):
                        problem = f"the validation loss is {val_loss}"
            if problem is not None:
                history.stop_reason = "diverged"
                history.stop_message = _diverged(epoch, problem, train_set, val_set, optimizer, l2)
                break
            history.epoch.append(epoch)
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            history.lr.append(lr)
            history.time.append(time.perf_counter() - start)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=_fmt_loss(train_loss), acc=f"{100 * train_acc:.1f}%")
            if verbose and (epoch % log_every == 0 or epoch == epochs or epoch == 1):
                say(_log_line(history, epochs))
            if lr_schedule is not None:
                lr_schedule.step()
            stop = False
            for c in cbs:
                stop = bool(c.on_epoch_end(model, history)) or stop
            if stop:
                history.stop_reason = history.stop_reason or "callback"
                break
    except KeyboardInterrupt:
        history.interrupted = True
        history.stop_reason = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    history.compiled = trainer.compiled
    for c in cbs:
        c.on_train_end(model, history)
    if history.stop_reason is not None:
        if history.stop_reason != "diverged":
            done = history.epoch[-1] if history.epoch else 0
            history.stop_message = (
                f"stopped after epoch {done}: {history.stop_reason.replace('_', ' ')}"
            )
        if history.restored_epoch is not None and history.stop_message:
            history.stop_message += f"; restored the weights of epoch {history.restored_epoch}"
        if verbose:
            say(history.stop_message)
        elif history.stop_reason == "diverged" and history.stop_message:
            # Never silent: a quiet run still says that its numbers went non-finite.
            warnings.warn(history.stop_message, RuntimeWarning, stacklevel=2)
    return history


def _n_outputs(model, x) -> int | None:
    """How many outputs the model gives per sample (None for one number, or if it overflows)."""
    was_training = model.training
    model.eval()  # no dropout draw: the training's random numbers stay as they were
    try:
        with no_grad():
            out = model(x)
    except OverflowError:
        return None
    finally:
        model.train(was_training)
    return len(out) if isinstance(out, (list, tuple)) else None


def _non_finite_point(data: Dataset) -> str | None:
    """The first point with a NaN or infinite feature, described, or None."""
    for i, row in enumerate(data.X):
        if not all(math.isfinite(x) for x in row):
            shown = ", ".join(repr(float(x)) for x in row[:6]) + (", ..." if len(row) > 6 else "")
            return f"point {i} is [{shown}]"
    return None


def _diverged(epoch: int, problem: str, train_set, val_set, optimizer, l2: float) -> str:
    """The stop message of a diverged run: when, which number, and what to try."""
    message = f"epoch {epoch}: {problem}; training diverged"
    if problem.startswith("the validation"):
        bad = _non_finite_point(val_set)
        if bad is not None:
            return f"{message}. The validation data is not finite: {bad}; fix or drop such points"
        message += " (the weights are those of the last step)"
    else:
        bad = _non_finite_point(train_set)
        message += " (the weights are those before the step that diverged)"
        if bad is not None:
            return f"{message}. The training data is not finite: {bad}; fix or drop such points"
    lr = getattr(optimizer, "lr", None)
    hint = "try a smaller learning rate" + (
        f" (now {lr:g})" if isinstance(lr, (int, float)) else ""
    )
    if l2 >= 1:
        hint += f", or a smaller l2 (now {l2:g})"
    return f"{message}. {hint[0].upper()}{hint[1:]}"
