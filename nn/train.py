"""The training loop: ``fit`` returns a ``History``.

One epoch is: for each mini-batch, run the model on every point, compute the
loss (plus ``l2 * sum p^2`` if asked), ``zero_grad``, ``backward``, ``step``.
Then the model is evaluated on the validation data under ``no_grad`` in
evaluation mode, the epoch is recorded, the learning-rate schedule steps and
the callbacks may stop training.  Ctrl-C stops gracefully: ``fit`` returns the
history so far with ``interrupted=True``.

The pieces live beside it: ``nn.history`` (History), ``nn.callbacks``
(Callback, EarlyStopping), ``nn.objective`` (losses by name, ``evaluate``) and
``nn.compiled`` (``compile=True``: the same steps on compiled tapes).
"""

from __future__ import annotations

import math
import random
import sys
import time

from . import functional as F
from .callbacks import Callback, FunctionCallback
from .data import Dataset, as_dataset, batches
from .history import History
from .objective import evaluate, resolve_loss
from .optim import SGD


def _progress_bar(epochs: int, verbose: bool):
    """A tqdm bar on a terminal; None when output is redirected or tqdm is missing."""
    if not verbose or not sys.stdout.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
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
    if history.val_loss[i] is not None:
        parts += [
            f"val_loss {_fmt_loss(history.val_loss[i])}",
            f"val_acc {100 * history.val_acc[i]:5.1f}%",
        ]
    parts += [f"lr {history.lr[i]:.4g}", f"{history.time[i]:.2f}s"]
    return "  ".join(parts)


def _train_epoch(model, batch_list, trainer, threshold) -> tuple[float, float]:
    """One pass of zero_grad, backward, step per batch: (mean objective, accuracy).

    A non-finite loss ends the pass before its step, so the weights stay
    finite, and is returned as the loss.
    """
    model.train()
    loss_sum, right, seen = 0.0, 0, 0
    for batch in batch_list:
        objective, outputs = trainer.step(batch)
        if not math.isfinite(objective):
            return objective, math.nan
        # Each batch's loss is a mean: weight it by its size for the epoch's mean.
        loss_sum += objective * len(batch)
        right += round(F.accuracy(outputs, batch.y, threshold) * len(batch))
        seen += len(batch)
    if seen == len(batch):  # one batch: its own loss, without a rounding detour
        return objective, right / seen
    return loss_sum / seen, right / seen


class Eager:
    """One eager training step on the graph: forward, loss, zero_grad, backward, step."""

    compiled = False

    def __init__(self, model, loss, loss_fn, optimizer, l2: float) -> None:
        self.model = model
        self.loss = loss
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.l2 = l2
        self.params = model.parameters()

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
        except OverflowError:
            return math.inf, []
        if math.isfinite(objective.data):
            self.optimizer.zero_grad()
            objective.backward()
            self.optimizer.step()
        return objective.data, outputs

    def evaluate(self, data: Dataset) -> tuple[float, float]:
        """(loss, accuracy) on ``data`` in evaluation mode, as ``evaluate``."""
        return evaluate(self.model, data, self.loss, self.l2)


def fit(
    model,
    data,
    loss="hinge",
    optimizer=None,
    epochs: int = 100,
    batch_size: int | None = None,
    val=None,
    callbacks=(),
    lr_schedule=None,
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
    train_set = as_dataset(data)
    val_set = as_dataset(val) if val is not None else None
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
    loss_fn, threshold = resolve_loss(loss, train_set)
    if val_set is not None:
        resolve_loss(loss, val_set)  # the same label checks for the validation data
    cbs = [c if isinstance(c, Callback) else FunctionCallback(c) for c in callbacks]
    for c in cbs:
        if getattr(c, "monitor", "").startswith("val_") and val_set is None:
            raise ValueError(
                f"{type(c).__name__} monitors {c.monitor!r} but fit() got no val data: "
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
    trainer = Eager(model, loss, loss_fn, optimizer, l2)
    for c in cbs:
        c.on_train_begin(model, history)
    try:
        if mode:  # recorded once, before the first epoch (its time counts in history.time)
            trainer = compiled_or_eager(trainer, train_set, say if verbose else None, mode)
        for epoch in range(1, epochs + 1):
            lr = optimizer.lr
            order = batches(train_set, batch_size, shuffle and batch_size is not None, order_rng)
            train_loss, train_acc = _train_epoch(model, order, trainer, threshold)
            if not math.isfinite(train_loss):
                history.stop_reason = "diverged"
                if verbose:
                    say(
                        f"epoch {epoch}: the loss is {train_loss}; training diverged "
                        "(try a smaller learning rate)"
                    )
                break
            val_loss = val_acc = None
            if val_set is not None:
                val_loss, val_acc = trainer.evaluate(val_set)
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
    if verbose and history.stop_reason is not None and history.stop_reason != "diverged":
        done = history.epoch[-1] if history.epoch else 0
        note = f"stopped after epoch {done}: {history.stop_reason.replace('_', ' ')}"
        if history.restored_epoch is not None:
            note += f"; restored the weights of epoch {history.restored_epoch}"
        say(note)
    return history
