"""Anomaly mode: find the first NaN or inf and the line of code that made it.

IEEE arithmetic lets a NaN or an infinity travel silently through a
computation, so by the time a loss or a gradient reads ``nan`` the culprit is
long gone.  Inside ``with detect_anomaly():``

- every new node remembers where it was created: the first frame outside the
  ``autograd`` package, i.e. the user's ``file:line``;
- forward: the first op whose result is NaN or inf raises ``AnomalyError``
  naming the op, its operand values and that line;
- backward: after ``backward()`` the pass is checked in the order it ran, and
  the first non-finite local derivative or contribution ``upstream * local``
  raises ``AnomalyError`` naming the node's op, operands and creation line.
  The pass has completed by then, so the ``.grad`` fields show where the
  NaN/inf went.  With ``create_graph=True`` the gradients are ordinary nodes,
  so the forward check covers them as they are built.
- compiled tapes (``autograd.compile``) build no nodes; a replay that gives a
  NaN or inf runs the traced function again eagerly, so the same error names
  the op and line.

Outside the block nothing is recorded and nothing is checked: an op pays only
the ``watcher is not None`` test it always makes, and ``backward()`` one
lookup per call.

``AnomalyError`` is a ``FloatingPointError`` (hence an ``ArithmeticError``):
what went wrong is a floating-point result, not a bad argument.
"""

from __future__ import annotations

import linecache
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import NamedTuple

from ._mode import creation_site, record_site, watch_creation
from .engine import local_derivatives

# Frames from files in this folder are the engine's own; the user's line is the first other one.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class Site(NamedTuple):
    """Where a node was created: ``file:line in function``."""

    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno} in {self.function}"

    @property
    def source(self) -> str:
        """The text of that line ('' when the file cannot be read)."""
        return linecache.getline(self.filename, self.lineno).strip()


class AnomalyError(FloatingPointError):
    """An op or a backward step produced NaN or inf (raised only in anomaly mode).

    ``phase`` is 'forward' or 'backward', ``op`` the op's name, ``operands`` its
    input values and ``site`` the ``Site`` that created the node (or None).
    """

    def __init__(
        self,
        message: str,
        *,
        phase: str | None = None,
        op: str | None = None,
        operands: Sequence[float] = (),
        site: Site | None = None,
    ) -> None:
        super().__init__(message)
        self.phase = phase
        self.op = op
        self.operands = tuple(operands)
        self.site = site


def _user_site() -> Site | None:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def _call_text(op: str, values, arg) -> str:
    shown = [repr(v) for v in values]
    if len(shown) > 8:  # a wide linear node: enough to recognise it
        shown = [*shown[:6], f"... ({len(shown)} operands)"]
    if arg is not None:
        shown.append(f"arg={arg!r}")
    return f"{op}({', '.join(shown)})"


def _where(site: Site | None) -> str:
    if site is None:
        return "  created outside any Python source file"
    source = site.source
    return f"  created at {site}" + (f"\n    {source}" if source else "")


def _origin(i: int, node) -> str:
    """Why operand i was already non-finite: a leaf, or a node made outside anomaly mode."""
    what = "a leaf" if node.is_leaf else f"made by {node.op} outside anomaly mode"
    return f"\n  operand {i} was already {node.data!r} ({what})"


class _Watcher:
    """Records each new node's site and checks forward results and backward passes."""

    def __call__(self, out, op, operands) -> None:
        site = _user_site()
        if site is not None:
            record_site(out, site)
        if math.isfinite(out.data):
            return
        datas = [v.data for v in operands]
        message = f"anomaly in forward: {_call_text(op, datas, out.arg)} gave {out.data!r}\n"
        message += _where(site)
        for i, v in enumerate(operands):
            if not math.isfinite(v.data):
                message += _origin(i, v)
        raise AnomalyError(message, phase="forward", op=op, operands=datas, site=site)

    def check_backward(self, order) -> None:
        """Replay the pass just made by ``backward`` and report its first non-finite step.

        Each non-leaf node's ``.grad`` is final once backward is done, and it is
        exactly the upstream gradient that node passed on, so recomputing the
        local derivatives finds the same numbers the pass used, in the same order.
        """
        for node in reversed(order):
            parents = node.parents
            if not parents:
                continue
            upstream = node.grad
            datas = [p.data for p in parents]
            local = local_derivatives(node)
            for i, d in enumerate(local):
                contribution = upstream * d
                if math.isfinite(d) and math.isfinite(contribution):
                    continue
                site = creation_site(node)
                message = (
                    f"anomaly in backward: {_call_text(node.op, datas, node.arg)} = {node.data!r} "
                    f"has local derivative {d!r} for operand {i}; with upstream gradient "
                    f"{upstream!r} it passes {contribution!r} back\n" + _where(site)
                )
                raise AnomalyError(message, phase="backward", op=node.op, operands=datas, site=site)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Inside this block, raise ``AnomalyError`` at the first NaN or inf, naming its source line.

    For example ``Value(0.0) * Value(float("inf"))`` inside the block raises
    "anomaly in forward: mul(0.0, inf) gave nan", followed by the file, line
    and text of that expression.  Also usable as a decorator.
    """
    with watch_creation(_Watcher()):
        yield
