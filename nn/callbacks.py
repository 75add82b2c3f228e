"""Callbacks: hooks that ``fit`` calls around each epoch, and ``EarlyStopping``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from .history import History, check_monitor

if TYPE_CHECKING:
    from .module import Module


class Callback:
    """Hooks called by ``fit``; ``on_epoch_end`` returns True to stop training."""

    def on_train_begin(self, model: Module, history: History) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, model: Module, history: History) -> bool | None:
        """Called after each epoch is recorded; True stops training."""
        return None

    def on_train_end(self, model: Module, history: History) -> None:
        """Called once at the end, also after early stopping or Ctrl-C."""


class FunctionCallback(Callback):
    """A plain function ``fn(model, history) -> bool | None`` used as ``on_epoch_end``."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def on_epoch_end(self, model: Module, history: History) -> bool | None:
        return self.fn(model, history)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best=True`` the model ends with the weights of its best
    epoch.  ``mode='auto'`` minimises losses and maximises accuracies.
    ``restore_best_weights`` is Keras's name for ``restore_best`` (whose
    default here is True, Keras's False).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
        *,
        restore_best_weights: bool | None = None,
    ) -> None:
        if restore_best_weights is not None:
            if not restore_best and restore_best_weights:
                raise ValueError(
                    "EarlyStopping: restore_best=False and restore_best_weights=True disagree; "
                    "give one of them"
                )
            restore_best = restore_best_weights
        self.mode = check_monitor(monitor, mode)
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

    def on_train_begin(self, model: Module | None, history: History | None) -> None:
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

    def on_epoch_end(self, model: Module, history: History) -> bool:
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

    def on_train_end(self, model: Module, history: History) -> None:
        """Put back the best weights, if they are not the ones the model has."""
        if (
            self.restore_best
            and self.best_state is not None
            and history.epoch
            and self.best_epoch != history.epoch[-1]
        ):
            model.load_state_dict(self.best_state)
            history.restored_epoch = self.best_epoch
