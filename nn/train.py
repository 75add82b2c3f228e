"""The training loop: ``fit`` returns a ``History``; ``EarlyStopping`` is a callback.

One epoch is: for each mini-batch, run the model on every point, compute the
loss (plus ``l2 * sum p^2`` if asked), ``zero_grad``, ``backward``, ``step``.
Then the model is evaluated on the validation data under ``no_grad`` in
evaluation mode, the epoch is recorded, the learning-rate schedule steps and
the callbacks may stop training.  Ctrl-C stops gracefully: ``fit`` returns the
history so far with ``interrupted=True``.

``fit(..., compile=True)`` runs the same steps on compiled tapes
(``autograd.compile``): the loss of one sample recorded once and replayed
over each batch, its gradients summed into ``p.grad``, then the same
``optimizer.step()``.  The history holds the same numbers as eager training,
up to the rounding of sums taken in another order (so an output that sits
within rounding of the decision threshold, e.g. a bias alone where every
hidden ReLU is off, may be counted differently by the accuracy).  Whenever a
tape cannot stand for the model (see ``_Compiled``), training is eager instead.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from autograd import Value, no_grad

from . import functional as F
from .data import Dataset, as_dataset, batches
from .io import write_text_atomic
from .layers import Dropout
from .optim import SGD

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")
COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")


def _finite_or_none(x):
    return x if x is None or math.isfinite(x) else None


@dataclass
class History:
    """Per-epoch records of a ``fit`` run, one list entry per epoch.

    ``val_loss``/``val_acc`` hold None when there is no validation data;
    ``time`` is the seconds since ``fit`` started, at the end of each epoch;
    ``lr`` is the learning rate used during the epoch.  ``stop_reason`` is None
    (all epochs ran), 'early_stopping', 'interrupted' (Ctrl-C) or 'diverged'.
    ``compiled`` is True when every step ran on compiled tapes (``compile=True``
    and no fall-back to eager training).
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    val_acc: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    interrupted: bool = False
    stop_reason: str | None = None
    restored_epoch: int | None = None
    compiled: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict:
        """Plain lists and flags, ready for JSON (NaN and inf become None)."""
        doc = {name: [_finite_or_none(v) for v in getattr(self, name)] for name in COLUMNS}
        doc["interrupted"] = self.interrupted
        doc["stop_reason"] = self.stop_reason
        doc["restored_epoch"] = self.restored_epoch
        return doc

    def save(self, path) -> None:
        """Write the history to ``path`` as JSON (.json) or CSV (.csv), atomically."""
        name = str(path)
        if name.endswith(".json"):
            # One line per column: a readable file that any JSON reader accepts.
            items = self.to_dict().items()
            body = ",\n".join(
                f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in items
            )
            text = "{\n" + body + "\n}\n"
        elif name.endswith(".csv"):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\n")
            writer.writerow(COLUMNS)
            rows = self.to_dict()
            for i in range(len(self)):
                writer.writerow(["" if rows[c][i] is None else rows[c][i] for c in COLUMNS])
            text = buf.getvalue()
        else:
            raise ValueError(f"History.save: {name!r} must end in .json or .csv")
        write_text_atomic(path, text)

    def best_epoch(self, monitor: str = "val_loss", mode: str = "auto") -> int:
        """The epoch number with the lowest loss (or highest accuracy) of ``monitor``."""
        mode = _check_monitor(monitor, mode)
        pairs = [
            (v, e)
            for e, v in zip(self.epoch, getattr(self, monitor), strict=True)
            if v is not None and not math.isnan(v)
        ]
        if not pairs:
            raise ValueError(f"best_epoch: the history has no {monitor} values")
        if mode == "min":
            return min(pairs, key=lambda p: p[0])[1]
        return max(pairs, key=lambda p: p[0])[1]


def _check_monitor(monitor: str, mode: str) -> str:
    if monitor not in METRICS:
        raise ValueError(f"monitor must be one of {', '.join(METRICS)}; got {monitor!r}")
    if mode == "auto":
        return "min" if monitor.endswith("loss") else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    return mode


# Callbacks ---------------------------------------------------------------------------------


class Callback:
    """Hooks called by ``fit``; ``on_epoch_end`` returns True to stop training."""

    def on_train_begin(self, model, history: History) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, model, history: History) -> bool | None:
        """Called after each epoch is recorded; True stops training."""
        return None

    def on_train_end(self, model, history: History) -> None:
        """Called once at the end, also after early stopping or Ctrl-C."""


class _FunctionCallback(Callback):
    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def on_epoch_end(self, model, history: History) -> bool | None:
        return self.fn(model, history)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best=True`` the model ends with the weights of its best
    epoch.  ``mode='auto'`` minimises losses and maximises accuracies.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
    ) -> None:
        self.mode = _check_monitor(monitor, mode)
        self.monitor = monitor
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if (
            isinstance(min_delta, bool)
            or not isinstance(min_delta, (int, float))
            or not min_delta >= 0
        ):
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.on_train_begin(None, None)

    def on_train_begin(self, model, history) -> None:
        """Forget any previous run."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, model, history: History) -> bool:
        """Track the best value; True once ``patience`` epochs passed without improvement."""
        value = getattr(history, self.monitor)[-1]
        if value is None:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but fit() has no validation data"
            )
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, history.epoch[-1], 0
            if self.restore_best:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = history.epoch[-1]
            history.stop_reason = "early_stopping"
            return True
        return False

    def on_train_end(self, model, history: History) -> None:
        """Put back the best weights, if they are not the ones the model has."""
        if (
            self.restore_best
            and self.best_state is not None
            and history.epoch
            and self.best_epoch != history.epoch[-1]
        ):
            model.load_state_dict(self.best_state)
            history.restored_epoch = self.best_epoch


# Losses by name ------------------------------------------------------------------------------

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


# Evaluation and training ------------------------------------------------------------------


def evaluate(model, data, loss="hinge", l2: float = 0.0) -> tuple[float, float]:
    """(loss, accuracy) of ``model`` on ``data``, in evaluation mode and under ``no_grad``."""
    data = as_dataset(data)
    resolve_loss(loss, data)  # bad names and labels fail before the model runs
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = [model(x) for x in data.X]
        return _score(outputs, data, loss, model.parameters(), l2)
    finally:
        model.train(was_training)


def _score(outputs, data: Dataset, loss, params, l2: float) -> tuple[float, float]:
    """(loss + l2 * sum p^2, accuracy) of the model's outputs (Values or plain numbers)."""
    loss_fn, threshold = resolve_loss(loss, data)
    with no_grad():
        value = loss_fn(outputs, data.y)
        if l2:
            value = value + l2 * F.l2_penalty(params)
    return value.data, F.accuracy(outputs, data.y, threshold)


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


class _Eager:
    """The training step on the graph: forward, loss, ``zero_grad``, ``backward``, ``step``."""

    compiled = False

    def __init__(self, model, loss, loss_fn, optimizer, l2: float) -> None:
        self.model = model
        self.loss = loss
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.l2 = l2
        self.params = model.parameters()

    def step(self, batch: Dataset) -> tuple[float, list]:
        """(objective, the model's outputs) of one batch; steps only on a finite objective."""
        outputs = [self.model(x) for x in batch.X]
        objective = self.loss_fn(outputs, batch.y)
        if self.l2:
            objective = objective + self.l2 * F.l2_penalty(self.params)
        if math.isfinite(objective.data):
            self.optimizer.zero_grad()
            objective.backward()
            self.optimizer.step()
        return objective.data, outputs

    def evaluate(self, data: Dataset) -> tuple[float, float]:
        """(loss, accuracy) on ``data`` in evaluation mode, as ``evaluate``."""
        return evaluate(self.model, data, self.loss, self.l2)


class _CannotCompile(Exception):
    """Why ``fit(compile=True)`` trains eagerly: the model or loss has no faithful tape."""


def _dropouts(model) -> list[str]:
    """The dropout modules of ``model`` with p > 0, described for an error message."""
    if not hasattr(model, "named_modules"):
        return []
    return [
        f"Dropout(p={m.p}) at {name or 'the model'!r}"
        for name, m in model.named_modules()
        if isinstance(m, Dropout) and m.p > 0
    ]


def _first_sentence(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text.split(". ")[0]


class _Compiled:
    """The training step on compiled tapes, giving the eager step's numbers.

    Three kinds of tape, recorded once before the first epoch:

    - the loss of one sample, ``loss_fn([model(x)], [y])``, one tape per
      distinct label (``compile_loss`` freezes each target), replayed over a
      batch by ``sum_over`` with scale 1/len(batch): the batch mean that the
      eager losses take, its gradients added to ``p.grad``;
    - ``l2 * sum p^2``, a tape of its own;
    - the model's outputs for one sample, forward only: the batch accuracy
      (from the weights before the step, as eager) and the evaluation.

    Only what a one-sample tape can stand for is compiled: a loss given by
    name (a mean over samples; a loss function of one's own need not be),
    an optimizer over the model's own parameters, and no dropout (checked by
    ``fit``).  Anything else, a model a tape cannot record (``TraceError``),
    or a replay that fails (a guard: ``TapeMismatch``; an overflow) makes the
    step eager from then on: a notice, never a wrong number.
    """

    compiled = True

    def __init__(self, eager: _Eager, data: Dataset, notice) -> None:
        self.eager = eager
        self.notice = notice
        self.failed = False
        if not isinstance(eager.loss, str):
            raise _CannotCompile(
                "a loss function of your own need not be a mean over samples, which a "
                "one-sample tape needs; pass the loss by name"
            )
        model, params = eager.model, eager.params
        known = {id(p) for p in params}
        opt_params = getattr(eager.optimizer, "params", None)
        if opt_params is None or any(id(p) not in known for p in opt_params):
            raise _CannotCompile(
                "the optimizer updates Values that are not model.parameters(), "
                "which a tape of the model does not differentiate"
            )
        # Imported here: nn loads the compiler only when asked to compile.
        from autograd.compile import TraceError, compile_loss, trace

        # A replay that fails raises one of these (TapeMismatch is a ValueError).
        self._replay_errors = (ArithmeticError, ValueError, TraceError)
        start = time.perf_counter()
        self.params = params
        model.train()
        self._outputs = _outputs_tape(model, data.X[0])
        loss_fn = eager.loss_fn

        def sample_loss(out, y):
            return loss_fn([out], [y])

        # Record every label's tape now, not mid-training; the replays' gradients are discarded.
        first = {}
        for x, y in zip(data.X, data.y, strict=True):
            first.setdefault(y, x)
        (y0, x0), *others = first.items()
        self.sample = compile_loss(model, sample_loss, x0, y0, targets="static")
        grads = [p.grad for p in params]
        try:
            for y, x in others:
                self.sample(x, y)
        finally:
            for p, g in zip(params, grads, strict=True):
                p.grad = g
        self.penalty = None
        if eager.l2:
            l2 = eager.l2

            def l2_penalty():
                return l2 * F.l2_penalty(params)

            self.penalty = trace(l2_penalty, params=params)
        self.build_seconds = time.perf_counter() - start
        self.n_tapes = len(self.sample.tapes) + 1 + (self.penalty is not None)

    def _fall_back(self, err: BaseException) -> None:
        self.failed = True
        self.compiled = False
        if self.notice is not None:
            self.notice(
                f"fit: training eagerly from here on, a compiled tape failed: "
                f"{_first_sentence(err)}"
            )

    def step(self, batch: Dataset) -> tuple[float, list]:
        """(objective, outputs) of one batch, as ``_Eager.step``, on the tapes."""
        if self.failed:
            return self.eager.step(batch)
        try:
            outputs = [self._outputs(x) for x in batch.X]
            self.eager.optimizer.zero_grad()
            objective = self.sample.sum_over(batch.X, batch.y, scale=1.0 / len(batch))
            if self.penalty is not None:
                reg, grads = self.penalty()
                for p, g in zip(self.params, grads, strict=True):
                    p.grad += g
                objective = objective + reg
        except self._replay_errors as err:
            # Nothing was stepped yet: the eager step redoes this batch from scratch.
            self._fall_back(err)
            return self.eager.step(batch)
        if math.isfinite(objective):
            self.eager.optimizer.step()
        return objective, outputs

    def evaluate(self, data: Dataset) -> tuple[float, float]:
        """(loss, accuracy) on ``data`` from the outputs tape, as ``evaluate``."""
        if self.failed:
            return self.eager.evaluate(data)
        try:
            outputs = [self._outputs(x) for x in data.X]
        except self._replay_errors as err:
            self._fall_back(err)
            return self.eager.evaluate(data)
        return _score(outputs, data, self.eager.loss, self.params, self.eager.l2)


def _outputs_tape(model, example_x):
    """``outputs(x)``: the model's output(s) for one sample as plain numbers, from a tape.

    A tape returns one value and its gradients.  Here the value is
    sum_j u_j * z_j over the model's outputs z_j, with one probe leaf u_j per
    output as the tape's parameters: d/du_j = z_j, so the gradients are the
    outputs themselves, and the backward pass is one multiplication each.
    The model's own parameters are read, not differentiated, at each replay.
    """
    from autograd.compile import trace

    with no_grad():
        out = model(example_x)
    several = isinstance(out, (list, tuple))
    probes = [Value(1.0, f"u{j}") for j in range(len(out) if several else 1)]

    def outputs(x):
        out = model(x)
        zs = list(out) if several else [out]
        total = probes[0] * zs[0]
        for u, z in zip(probes[1:], zs[1:], strict=True):
            total = total + u * z
        return total

    tape = trace(outputs, example_x, params=probes)

    def replay(x):
        _, zs = tape(x)
        return zs if several else zs[0]

    return replay


def _compiled_or_eager(eager: _Eager, data: Dataset, notice):
    """A ``_Compiled`` trainer, or ``eager`` (with a notice) when no tape can stand for it."""
    from autograd.compile import TraceError

    try:
        trainer = _Compiled(eager, data, notice)
    except (_CannotCompile, TraceError) as err:
        if notice is not None:
            notice(
                f"fit: training eagerly, compile=True cannot be used here: {_first_sentence(err)}"
            )
        return eager
    if notice is not None:
        notice(
            f"fit: compiled the training step into {trainer.n_tapes} tapes "
            f"in {1000 * trainer.build_seconds:.0f} ms"
        )
    return trainer


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
    compile: bool = False,
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
    rounding, several times faster (see the module docstring).  It refuses a
    model with dropout (a tape would freeze one mask), and trains eagerly, with
    a notice when ``verbose``, wherever a tape cannot stand for the model.
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
    if not isinstance(compile, bool):
        raise TypeError(f"fit: compile must be True or False, got {compile!r}")
    dropout = _dropouts(model) if compile else []
    if dropout:
        raise ValueError(
            f"fit: compile=True cannot train a model with dropout ({', '.join(dropout)}): "
            "a compiled tape would replay the one dropout mask drawn while recording at "
            "every step. Use compile=False, or dropout p=0"
        )
    loss_fn, threshold = resolve_loss(loss, train_set)
    if val_set is not None:
        resolve_loss(loss, val_set)  # the same label checks for the validation data
    cbs = [c if isinstance(c, Callback) else _FunctionCallback(c) for c in callbacks]
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
    trainer = _Eager(model, loss, loss_fn, optimizer, l2)
    for c in cbs:
        c.on_train_begin(model, history)
    try:
        if compile:  # recorded once, before the first epoch (its time counts in history.time)
            trainer = _compiled_or_eager(trainer, train_set, say if verbose else None)
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
