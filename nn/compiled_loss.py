"""A loss compiled for training loops: one sample's tape, replayed over the data.

``compile_loss(model, loss_fn, x, y)`` traces ``loss_fn(model(x), y)`` once
(``autograd.compile.trace``) and returns a ``CompiledLoss``: calling it on a
sample, or ``sum_over`` a dataset (``batch=True``: numpy batch replay), gives
the loss and adds its gradients to the parameters' ``.grad`` through
``autograd.engine.accumulate``, as ``backward`` would.  ``fit(compile=...)``
builds on it (``nn.compiled``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from autograd import Value
from autograd.compile import Tape, TapeMismatch, TraceError, trace
from autograd.engine import accumulate


class CompiledLoss:
    """``loss_fn(model(x), y)`` for one sample, compiled; gradients go into ``p.grad``.

    Built by ``compile_loss``.  Targets are either an input of the tape or,
    when the loss uses them as plain numbers (a class index, a ±1 label),
    frozen into one tape per distinct target value.
    """

    max_tapes = 64  # distinct frozen targets before giving up (regression targets are many)

    def __init__(self, model, loss_fn, example_x, example_y, targets: str, check: bool) -> None:
        if targets not in ("auto", "input", "static"):
            raise ValueError(
                f"compile_loss: targets must be 'auto', 'input' or 'static', got {targets!r}"
            )
        self.model = model
        self.loss_fn = loss_fn
        self.params = list(model.parameters())
        self.check = check
        self._tapes: dict = {}
        self.static = targets == "static" or (
            targets == "auto" and isinstance(example_y, int) and not isinstance(example_y, bool)
        )
        if not self.static:
            try:
                self._tapes[None] = self._trace(example_x, example_y, static=False)
            except TraceError:
                if targets == "input":
                    raise
                self.static = True  # the loss reads the target as a number: freeze it
        if self.static:
            self._tape(example_y, example_x)

    def _trace(self, x, y, static: bool) -> Tape:
        model, loss_fn = self.model, self.loss_fn
        sample_loss: Callable[..., Value]
        if static:

            def sample_loss(x):
                return loss_fn(model(x), y)

            tape = trace(sample_loss, x, params=self.params, check=self.check)
        else:

            def sample_loss(x, y):
                return loss_fn(model(x), y)

            tape = trace(sample_loss, x, y, params=self.params, check=self.check)
        tape.source(summed=True)  # compile the loop that sum_over runs now, not mid-training
        return tape

    def _tape(self, y, x) -> Tape:
        key = y if self.static else None
        tape = self._tapes.get(key)
        if tape is None:
            if len(self._tapes) >= self.max_tapes:
                raise TraceError(
                    f"compile_loss: the loss uses each target as a plain number, so every "
                    f"distinct target needs a tape of its own, and {self.max_tapes} are built "
                    f"(new target {y!r}). Write the loss with the target as a Value, e.g. "
                    "(out - y) ** 2, and pass targets='input'"
                )
            tape = self._tapes[key] = self._trace(x, y, static=True)
        return tape

    @property
    def tapes(self) -> list[Tape]:
        """The tapes built so far (one, or one per target value when targets are frozen)."""
        return list(self._tapes.values())

    def _check_model(self) -> None:
        """Refuse to replay when the model's parameters are no longer the recorded ones.

        A tape holds the network it recorded.  If layers were added, removed or
        replaced since, replaying it would train and score the old network
        while the new one sits untouched, so the difference is an error.
        """
        now = self.model.parameters()
        if len(now) == len(self.params) and all(map(operator.is_, now, self.params)):
            return
        raise TapeMismatch(
            f"compile_loss: the model's parameters are not the ones recorded "
            f"({len(self.params)} recorded, {len(now)} now): its layers or parameters changed "
            "after compile_loss, and the tapes would replay the old network. "
            "Call compile_loss again for the model as it is now"
        )

    def __call__(self, x, y) -> float:
        """The loss of one sample; its gradients are added to the parameters' ``.grad``."""
        self._check_model()
        tape = self._tape(y, x)
        value, grads = tape(x) if self.static else tape(x, y)
        accumulate(self.params, grads)
        return value

    def sum_over(self, X, Y, scale: float = 1.0, batch: bool = False) -> float:
        """``scale * sum_i loss(x_i, y_i)``; adds ``scale`` times the gradients to ``.grad``.

        ``batch=True`` replays all samples at once with numpy (``autograd.batch.batch_replay``).
        """
        if len(X) != len(Y):
            raise ValueError(f"sum_over: {len(X)} inputs but {len(Y)} targets")
        self._check_model()
        values = [p.data for p in self.params]
        total, grads = 0.0, [0.0] * len(self.params)
        if self.static:
            groups: dict = {}
            for x, y in zip(X, Y):
                groups.setdefault(y, []).append(x)
            parts: list[tuple[Tape, tuple]] = [
                (self._tape(y, xs[0]), (xs,)) for y, xs in groups.items()
            ]
        else:
            parts = [(self._tape(None, None), (X, Y))]
        for tape, columns in parts:
            if batch:
                from autograd.batch import batch_replay  # numpy, only when asked for

                value, gs = batch_replay(tape, *columns, params=values)
            else:
                value, gs = tape.sum_over(*columns, params=values)
            total += value
            grads = [a + b for a, b in zip(grads, gs)]
        accumulate(self.params, grads, scale)
        return scale * total


def compile_loss(
    model, loss_fn, example_x, example_y, *, targets: str = "auto", check: bool = False
) -> CompiledLoss:
    """Compile ``loss_fn(model(x), y)`` for one sample, for training loops.

    ``model`` needs ``parameters()`` and ``model(x)``.  ``targets='input'``
    makes y an input of the tape; 'static' freezes each distinct y into its
    own tape (for losses that use y as a number, such as a class index);
    'auto' uses 'static' for int targets, else tries 'input' and falls back.
    """
    return CompiledLoss(model, loss_fn, example_x, example_y, targets, check)
