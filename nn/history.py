"""``History``: what ``fit`` records each epoch, and its JSON and CSV files."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

from autograd.files import write_atomic as write_text_atomic

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
    (all epochs ran), 'early_stopping', 'callback' (a callback of one's own
    returned True), 'interrupted' (Ctrl-C) or 'diverged'.
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
        mode = check_monitor(monitor, mode)
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


def check_monitor(monitor: str, mode: str) -> str:
    if monitor not in METRICS:
        raise ValueError(f"monitor must be one of {', '.join(METRICS)}; got {monitor!r}")
    if mode == "auto":
        return "min" if monitor.endswith("loss") else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    return mode
