"""Compiled tapes: record a function of Values once, replay it as straight-line Python.

``tape = trace(f, *example_inputs, params=...)`` runs ``f`` once on Values and
keeps its graph as a Wengert list: one line of code per node, then the chain
rule line by line in reverse order.  ``tape.source()`` shows that code, and
``tape(*inputs)`` runs it on new numbers and returns ``(value, gradients)``
without building a single Value.  ``tape.sum_over(*columns)`` loops the same
code over a data set and sums, which is how a one-sample tape trains a model.

Both halves of the code come from the rule table in ``autograd.ops``: each
op's forward function and backward rule is run once on *symbols* instead of
numbers, and the expression it builds is printed as code (a comparison inside
a rule becomes a conditional expression).  Forward functions that cannot run
on symbols (``exp``, ``log``, ...) are called by name, and those names are
bound to the table's own forward functions.  So the table stays the one
source of truth, and an op added to it is compiled without touching this file.

A tape is valid only for the path ``f`` took while it was recorded:

- comparisons of Values (``if v > 0``) are recorded as guards and re-checked
  on every replay;
- ``f`` reading ``.data`` or ``.grad`` cannot be re-checked, so ``trace``
  refuses it (while tracing, ``Value``'s two slots are swapped for watchers
  that report reads from outside the engine), unless the read is wrapped in
  ``allow_reads()`` or ``check=True`` re-runs ``f`` eagerly on every call to
  verify the path;
- inputs must have the recorded shape (a list of the same length).

A replay that would take another path raises ``TapeMismatch``: a tape never
returns gradients for a graph it did not record.  Domain errors (log of a
negative number, division by zero) raise the same error as the eager engine.
Randomness inside ``f`` (dropout masks) is frozen at trace time.  Inside
``detect_anomaly()``, a replay whose value or gradients are not finite runs
``f`` again eagerly on those inputs, so the op that made the NaN or inf raises
``AnomalyError`` naming itself and its line, as without a tape.

Labels are user text and never become code: they appear only in comments,
as their ``repr`` when they hold a line break or another unprintable character.
"""

from .codegen import NodeCode, node_code
from .errors import TapeMismatch, TraceError
from .record import allow_reads
from .tape import Tape, TapeGraph, TapeNode, trace

__all__ = [
    "NodeCode",
    "Tape",
    "TapeGraph",
    "TapeMismatch",
    "TapeNode",
    "TraceError",
    "allow_reads",
    "node_code",
    "trace",
]

# Shown (in tracebacks, reprs and help) under the name users import them by.
for _name in __all__:
    globals()[_name].__module__ = __name__
