"""``History``: what ``fit`` records each epoch, and its JSON and CSV files.

JSON has no NaN or infinity, so a non-finite number is written as ``null`` in
its column (any JSON reader, any plot, takes that as a gap) and listed in a
``"non_finite"`` table by column and epoch index (``{"val_loss": {"3": "nan"}}``),
from which ``History.load`` gives back the exact number.  CSV writes ``nan``,
``inf`` and ``-inf`` as they are (Python's ``float`` and pandas read them) and
an empty cell for None (no validation data).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from autograd.files import write_atomic

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")
COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")


FLAGS = ("interrupted", "stop_reason", "restored_epoch", "stop_message", "compiled")


_NOTHING = object()


def _number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _finite_or_none(x):
    return x if x is None or math.isfinite(x) else None


def _non_finite_text(x) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _cell(x) -> str:
    """A CSV cell: '' for None, nan/inf/-inf spelled out, repr otherwise."""
    if x is None:
        return ""
    return repr(x) if math.isfinite(x) else _non_finite_text(x)


@dataclass
class History:
    """Per-epoch records of a ``fit`` run, one list entry per epoch.

    ``val_loss``/``val_acc`` hold None when there is no validation data;
    ``time`` is the seconds since ``fit`` started, at the end of each epoch;
    ``lr`` is the learning rate used during the epoch.  ``stop_reason`` is None
    (all epochs ran), 'early_stopping', 'callback' (a callback of one's own
    returned True), 'interrupted' (Ctrl-C) or 'diverged'; ``stop_message``
    says it in words (for 'diverged': the epoch, the number that was not
    finite and what to try).
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
    stop_message: str | None = None

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def history(self) -> dict[str, list[float | None]]:
        """Keras's ``history.history``: lists under 'loss' and 'accuracy', and with validation
        data 'val_loss' and 'val_accuracy' (the keys Keras uses).  A copy of the columns."""
        keras: dict[str, list[float | None]] = {
            "loss": list(self.train_loss),
            "accuracy": list(self.train_acc),
        }
        if any(v is not None for v in self.val_loss):
            keras["val_loss"] = list(self.val_loss)
            keras["val_accuracy"] = list(self.val_acc)
        return keras

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and flags, ready for JSON (NaN and inf become None, see ``non_finite``)."""
        doc: dict[str, Any] = {
            name: [_finite_or_none(v) for v in getattr(self, name)] for name in COLUMNS
        }
        for flag in FLAGS:
            doc[flag] = getattr(self, flag)
        doc["non_finite"] = self.non_finite()
        return doc

    def non_finite(self) -> dict[str, dict[str, str]]:
        """{column: {epoch index as a string: 'nan', 'inf' or '-inf'}} for each non-finite entry."""
        table = {}
        for name in COLUMNS:
            found = {
                str(i): _non_finite_text(v)
                for i, v in enumerate(getattr(self, name))
                if v is not None and not math.isfinite(v)
            }
            if found:
                table[name] = found
        return table

    def save(self, path: str | os.PathLike[str]) -> None:
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
            for i in range(len(self)):
                writer.writerow([_cell(getattr(self, c)[i]) for c in COLUMNS])
            text = buf.getvalue()
        else:
            raise ValueError(f"History.save: {name!r} must end in .json or .csv")
        write_atomic(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> History:
        """A History read back from a file written by ``save`` (.json or .csv).

        The numbers come back exactly, NaN and infinities included; a CSV file
        holds the columns only, so the flags (``stop_reason`` ...) keep their
        defaults.
        """
        name = str(path)
        if not name.endswith((".json", ".csv")):
            raise ValueError(f"History.load: {name!r} must end in .json or .csv")
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
        if name.endswith(".json"):
            return cls._from_json(name, text)
        return cls._from_csv(name, text)

    @classmethod
    def _from_json(cls, name: str, text: str) -> History:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise ValueError(f"History.load: {name} is not valid JSON ({err})") from None
        if not isinstance(doc, dict) or not all(isinstance(doc.get(c), list) for c in COLUMNS):
            raise ValueError(f"History.load: {name} has no columns {', '.join(COLUMNS)}")
        history = cls(**{c: list(doc[c]) for c in COLUMNS})  # type: ignore[arg-type]
        lengths = {len(doc[c]) for c in COLUMNS}
        if len(lengths) != 1:
            raise ValueError(f"History.load: {name} has columns of different lengths")
        for c in COLUMNS:
            bad = next((v for v in doc[c] if not _number_or_none(v)), _NOTHING)
            if bad is not _NOTHING:
                raise ValueError(f"History.load: {name}: {c} holds {bad!r}, not a number")
        for column, entries in (doc.get("non_finite") or {}).items():
            if column not in COLUMNS or not isinstance(entries, dict):
                raise ValueError(f"History.load: {name}: bad non_finite entry {column!r}")
            values = getattr(history, column)
            for index, text in entries.items():
                if text not in ("nan", "inf", "-inf") or not index.isdigit():
                    raise ValueError(f"History.load: {name}: bad non_finite entry {text!r}")
                values[int(index)] = float(text)
        for flag in FLAGS:
            if flag in doc:
                setattr(history, flag, doc[flag])
        return history

    @classmethod
    def _from_csv(cls, name: str, text: str) -> History:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or tuple(rows[0]) != COLUMNS:
            raise ValueError(f"History.load: {name} does not start with {','.join(COLUMNS)}")
        history = cls()
        for line, row in enumerate(rows[1:], start=2):
            try:
                for column, cell in zip(COLUMNS, row, strict=True):
                    value = None if cell == "" else int(cell) if column == "epoch" else float(cell)
                    getattr(history, column).append(value)
            except ValueError as err:
                raise ValueError(f"History.load: {name} line {line}: {err}") from None
        return history

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
