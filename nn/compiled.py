"""Training on compiled tapes: ``fit(..., compile=True)`` or ``compile='tape'|'batch'|'matrix'``.

The loss of one sample is recorded once per distinct label and replayed over
each batch (``autograd.compile``), its gradients summed into ``p.grad``, then
the same ``optimizer.step()`` as eager training.  The modes differ in how a
batch is replayed: 'tape' (``True``) loops the straight-line code over the
samples, 'batch' runs it once with numpy arrays of samples (``batch_replay``),
'matrix' lowers each layer to one matrix product over the batch
(``autograd.matrix``; where the model has no layer to lower, it says so and
uses the batch replay).  The history holds the same
numbers as eager training, up to the rounding of sums taken in another order
(so an output that sits within rounding of the decision threshold, e.g. a
bias alone where every hidden ReLU is off, may be counted differently by the
accuracy).  Whenever a tape cannot stand for the model (see ``Compiled``),
training is eager instead, with a notice: never a wrong number.  The notice
is a ``CompileFallbackWarning`` always (also with ``verbose=False``), and a
line of the log when verbose.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from types import FrameType
from typing import Any

from autograd import Value, no_grad
from autograd.engine import accumulate

from . import functional as F
from .data import Dataset
from .layers import Dropout
from .objective import score

_NN_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep


class CompileFallbackWarning(UserWarning):
    """``fit(compile=True)`` trains eagerly: the numbers are right, only slower."""


def _fell_back(message: str, notice) -> None:
    """Say that training went eager: a warning always, and the log line when verbose."""
    # Point the warning at the caller's fit(...) line: the first frame outside nn.
    level = 1
    frame: FrameType | None = sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_NN_FOLDER):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, CompileFallbackWarning, stacklevel=level)
    if notice is not None:
        notice(message)


MODES = ("tape", "batch", "matrix")


def compile_mode(compile) -> str | None:
    """``fit``'s ``compile=`` as a mode name: None (eager), 'tape', 'batch' or 'matrix'."""
    if compile is True:
        return "tape"
    if compile is False or compile is None:
        return None
    if not isinstance(compile, str):
        raise TypeError(
            f"fit: compile must be True, False or a mode name ({', '.join(map(repr, MODES))}), "
            f"got {compile!r}"
        )
    if compile not in MODES:
        raise ValueError(
            f"fit: compile={compile!r} is not a mode; the modes are {', '.join(map(repr, MODES))} "
            "(True means 'tape')"
        )
    return compile


class CannotCompile(Exception):
    """Why ``fit(compile=True)`` trains eagerly: the model or loss has no faithful tape."""


def dropouts(model) -> list[str]:
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


class Compiled:
    """The training step on compiled tapes, giving the eager step's numbers.

    Three kinds of tape, recorded once before the first epoch:

    - the loss of one sample, ``loss_fn([model(x)], [y])``, one tape per
      distinct label (``compile_loss`` freezes each target), replayed over a
      batch by ``sum_over`` with scale 1/len(batch): the batch mean that the
      eager losses take, its gradients added to ``p.grad`` (mode 'batch':
      ``sum_over(batch=True)``; mode 'matrix': ``_MatrixReplay``, whose
      output tapes also give the accuracy);
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

    def __init__(self, eager, data: Dataset, notice, mode: str = "tape") -> None:
        self.eager = eager
        self.notice = notice
        self.failed = False
        self.mode = mode
        if not isinstance(eager.loss, str):
            raise CannotCompile(
                "a loss function of your own need not be a mean over samples, which a "
                "one-sample tape needs; pass the loss by name"
            )
        model, params = eager.model, eager.params
        known = {id(p) for p in params}
        opt_params = getattr(eager.optimizer, "params", None)
        if opt_params is None or any(id(p) not in known for p in opt_params):
            raise CannotCompile(
                "the optimizer updates Values that are not model.parameters(), "
                "which a tape of the model does not differentiate"
            )
        # Imported here: nn loads the compiler only when asked to compile.
        from autograd.compile import TraceError, trace

        from .compiled_loss import compile_loss

        # A replay that fails raises one of these (TapeMismatch is a ValueError).
        self._replay_errors = (ArithmeticError, ValueError, TraceError)
        start = time.perf_counter()
        self.params = params
        model.train()
        loss_fn = eager.loss_fn
        # Record every label's tape now, not mid-training.
        first: dict = {}
        for x, y in zip(data.X, data.y, strict=True):
            first.setdefault(y, x)
        self.matrix: Any = None
        self.sample: Any = None
        self._outputs: Any = None
        if mode == "matrix":
            self.matrix = _MatrixReplay(model, loss_fn, first, params)
        else:
            self._outputs = _outputs_tape(model, data.X[0])

            def sample_loss(out, y):
                return loss_fn([out], [y])

            (y0, x0), *others = first.items()
            self.sample = compile_loss(model, sample_loss, x0, y0, targets="static")
            grads = [p.grad for p in params]  # the replays' gradients are discarded
            try:
                for y, x in others:
                    self.sample(x, y)
            finally:
                for p, g in zip(params, grads, strict=True):
                    p.grad = g
        self.penalty: Any = None
        if eager.l2:
            l2 = eager.l2

            def l2_penalty():
                return l2 * F.l2_penalty(params)

            self.penalty = trace(l2_penalty, params=params)
            if mode == "matrix":  # sum_p p^2 as one vector op and a reduction
                from autograd.matrix import lower

                self.penalty = lower(self.penalty, warn=False)
        self.build_seconds = time.perf_counter() - start
        made = self.matrix.tapes if self.matrix is not None else [*self.sample.tapes, None]
        self.n_tapes = len(made) + (self.penalty is not None)

    def _fall_back(self, err: BaseException) -> None:
        self.failed = True
        self.compiled = False
        _fell_back(
            f"fit: training eagerly from here on, a compiled tape failed: {_first_sentence(err)}",
            self.notice,
        )

    def step(self, batch: Dataset) -> tuple[float, list]:
        """(objective, outputs) of one batch, as ``Eager.step``, on the tapes."""
        if self.failed:
            return self.eager.step(batch)
        try:
            self.eager.optimizer.zero_grad()
            if self.matrix is not None:
                outputs, objective = self.matrix.step(batch, self.params)
            else:
                outputs = [self._outputs(x) for x in batch.X]
                objective = self.sample.sum_over(
                    batch.X, batch.y, scale=1.0 / len(batch), batch=self.mode == "batch"
                )
            if self.penalty is not None:
                reg, grads = self.penalty()
                accumulate(self.params, grads)
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
            if self.matrix is not None:
                outputs = self.matrix.outputs(data.X)
            else:
                outputs = [self._outputs(x) for x in data.X]
        except self._replay_errors as err:
            self._fall_back(err)
            return self.eager.evaluate(data)
        return score(
            outputs, data, self.eager.loss, self.params, self.eager.l2, self.eager.threshold
        )


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


class _MatrixReplay:
    """compile='matrix': the loss and the outputs of a whole batch as matrix products.

    One tape of the loss per label (as the other modes), each lowered by
    ``autograd.matrix.lower``, replayed on the rows of the batch that carry its
    label; and one forward-only tape per model output for the accuracy and
    the evaluation.  A tape that has no layer to lower runs as a batch replay,
    and ``notes`` says why.
    """

    def __init__(self, model, loss_fn, first: dict, params) -> None:
        # Imported here: nn loads the compiler and numpy only when asked to compile.
        import numpy as np

        from autograd.compile import trace
        from autograd.matrix import lower

        self.np = np
        self.losses = {}
        for y, x in first.items():

            def sample_loss(x, y=y):
                return loss_fn([model(x)], [y])

            self.losses[y] = lower(trace(sample_loss, x, params=params), warn=False)
        x0 = next(iter(first.values()))
        with no_grad():
            out = model(x0)
        self.several = isinstance(out, (list, tuple))
        self.outs = []
        for j in range(len(out) if self.several else 1):

            def output(x, j=j):
                out = model(x)
                return out[j] if self.several else out

            self.outs.append(lower(trace(output, x0, params=params), warn=False))
        self.tapes = list(self.losses.values()) + self.outs
        self.notes = sorted({t.reason or "" for t in self.tapes if not t.lowered})

    def outputs(self, X) -> list:
        """The model's outputs for each row of X, as plain numbers (lists for several)."""
        X = self.np.asarray(X, dtype=self.np.float64)
        if not self.several:
            return self.outs[0].forward(X).tolist()
        return self.np.column_stack([t.forward(X) for t in self.outs]).tolist()

    def step(self, batch: Dataset, params) -> tuple[list, float]:
        """(outputs before the step, mean loss); the mean's gradients are added to ``.grad``."""
        np = self.np
        X = np.asarray(batch.X, dtype=np.float64)
        outputs = self.outputs(X)
        values = np.fromiter((p.data for p in params), dtype=np.float64, count=len(params))
        labels = batch.y
        total, grads = 0.0, None
        for y, tape in self.losses.items():
            rows = [i for i, t in enumerate(labels) if t == y]
            if not rows:
                continue
            value, g = tape(X if len(rows) == len(X) else X[rows], params=values)
            total += value
            grads = g if grads is None else grads + g
        scale = 1.0 / len(batch)
        if grads is not None:
            accumulate(params, (scale * grads).tolist())
        return outputs, scale * total


def compiled_or_eager(eager, data: Dataset, notice, mode: str = "tape"):
    """A ``Compiled`` trainer, or ``eager`` (with a notice) when no tape can stand for it."""
    from autograd.compile import TraceError

    asked = "compile=True" if mode == "tape" else f"compile={mode!r}"
    if mode in ("batch", "matrix"):
        try:
            import numpy  # noqa: F401
        except ImportError:
            raise ImportError(
                f"fit: {asked} replays with numpy, which is not installed: "
                "pip install numpy, or use compile=True"
            ) from None
    try:
        trainer = Compiled(eager, data, notice, mode)
    except (CannotCompile, TraceError) as err:
        _fell_back(
            f"fit: training eagerly, {asked} cannot be used here: {_first_sentence(err)}", notice
        )
        return eager
    if notice is not None:
        notice(
            f"fit: compiled the training step into {trainer.n_tapes} tapes "
            f"in {1000 * trainer.build_seconds:.0f} ms"
            + (" (replayed as matrix products)" if mode == "matrix" else "")
        )
        if trainer.matrix is not None:
            for note in trainer.matrix.notes:
                notice(f"fit: compile='matrix' uses the numpy batch replay here: {note}")
    return trainer
