"""Batch replay: a one-sample tape run on numpy arrays, one array element per sample.

The code is the tape's own (the same statements, generated from the same rule
table), printed with conditionals as ``where(c, a, b)`` so that each sample
takes its own branch (a ReLU's mask), and with the table's forward functions
(``exp``, ``log``, ...) bound to numpy versions.  Values and gradients come
out per sample and are summed at the end, like ``Tape.sum_over``.

numpy reports floating-point trouble with a warning and a NaN instead of an
error, so the replay runs with division by zero, overflow and invalid
operations raising.  On such an error, or a non-finite result, the scalar
tape replays the samples one by one instead: it raises the eager engine's
error for the first bad sample (with its index), or returns its exact numbers
(``where`` computes both branches, so a branch a sample does not take can
trip an error that the sample never meets).

This module is the only one that imports numpy, and only when a batch replay
is asked for.
"""

from __future__ import annotations

import math

import numpy as np

from .compile import Tape, TapeMismatch
from .compile.codegen import RETRACE, describe_guard
from .compile.tape import Flavour
from .ops import OPS

__all__ = ["NUMPY_FORWARD", "batch_replay", "column_arrays"]


def _sigmoid(x, arg=None):
    # The table's two stable branches, written with exp(-|x|) <= 1 for both.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(x, arg=None):
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), as in the table.
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# Element-wise versions of the forwards a tape calls by name.  An op missing
# here still works, through np.vectorize of the table's own forward (slower).
NUMPY_FORWARD = {
    "div": lambda x, y, arg=None: x / y,
    "pow": lambda x, arg=None: np.power(x, arg),
    "vpow": lambda x, y, arg=None: np.power(x, y),
    "abs": lambda x, arg=None: np.abs(x),
    "exp": lambda x, arg=None: np.exp(x),
    "log": lambda x, arg=None: np.log(x),
    "sqrt": lambda x, arg=None: np.sqrt(x),
    "tanh": lambda x, arg=None: np.tanh(x),
    "sin": lambda x, arg=None: np.sin(x),
    "cos": lambda x, arg=None: np.cos(x),
    "sigmoid": _sigmoid,
    "softplus": _softplus,
}


def _vectorized(op: str):
    forward = OPS[op].forward

    def run(*xs, arg=None):
        return np.vectorize(lambda *row: forward(row, arg), otypes=[float])(*xs)

    return run


class _GuardFailed(TapeMismatch):
    """A guard failed for some sample: raised as is, never answered by the scalar fallback."""


def _namespace(tape: Tape, calls) -> dict:
    program = tape.program

    def guard(k, cond, expected):
        ok = np.asarray(cond) == expected
        if not ok.all():
            sample = int(np.argmin(ok)) if ok.ndim else 0
            raise _GuardFailed(
                f"sample {sample}: guard {k}: {describe_guard(program, k)}, not now{RETRACE}"
            )

    namespace = {
        "where": np.where,
        "inf": math.inf,
        "nan": math.nan,
        "_guard": guard,
        "TapeMismatch": TapeMismatch,
    }
    for op in calls:
        namespace[op] = NUMPY_FORWARD.get(op) or _vectorized(op)
    return namespace


def _flavour(tape: Tape) -> Flavour:
    return tape.numpy_flavour(lambda calls: _namespace(tape, calls))


def column_arrays(tape: Tape, columns, who: str) -> tuple[list, int]:
    """(one float64 array per argument of ``tape``, the number of samples n).

    A row per sample: shape (n,) for a number, (n, k) for a list of k.  Every
    sample is checked as ``Tape.sum_over`` checks it (numpy would read True as
    1.0, None as nan and '3' as 3.0), and each message starts with ``who``.
    Batch replay and matrix replay read their inputs through this one function.
    """
    p = tape.program
    if len(columns) != len(p.shapes):
        raise TypeError(
            f"{who} takes one column per input ({', '.join(p.arg_names)}), got {len(columns)}"
        )
    if not all(isinstance(c, np.ndarray) and c.dtype.kind in "fiu" for c in columns):
        # A quick pass for lists of floats, with sum_over's message naming the sample.
        columns = tape.check_columns(columns)
    arrays, lengths = [], set()
    for k, (column, shape) in enumerate(zip(columns, p.shapes)):
        try:
            a = np.asarray(column, dtype=np.float64)
        except (TypeError, ValueError) as err:
            tape.check_columns(columns)  # names the sample and the problem, if it can
            raise TypeError(
                f"{who}: column {k} ({p.arg_names[k]}) is not an array of numbers: {err}"
            ) from None
        if a.size == 0:  # no samples (an empty list has no second axis)
            a = a.reshape((0,) if shape is None else (0, shape))
        want = 1 if shape is None else 2
        if a.ndim != want or (shape is not None and len(a) and a.shape[1] != shape):
            recorded = "a number" if shape is None else f"a list of {shape}"
            raise TapeMismatch(
                f"{who}: input {p.arg_names[k]} was {recorded} per sample when "
                f"recorded; column {k} has shape {a.shape}"
            )
        lengths.add(len(a))
        arrays.append(a)
    if len(lengths) > 1:
        raise TapeMismatch(f"{who}: columns of different lengths {sorted(lengths)}")
    return arrays, (lengths.pop() if lengths else 0)


def _arrays(tape: Tape, columns) -> tuple[list, int]:
    """``column_arrays`` with list inputs transposed to (k, n): the replay reads rows of k."""
    arrays, n = column_arrays(tape, columns, f"{tape.program.who}: batch")
    shapes = tape.program.shapes
    return [
        a if shape is None else np.ascontiguousarray(a.T) for a, shape in zip(arrays, shapes)
    ], n


def _totals(results: list, n: int) -> list[float]:
    """Sum each per-sample result over the samples (a result equal for all counts n times)."""
    totals = [0.0] * len(results)
    rows = []
    for k, r in enumerate(results):
        if isinstance(r, np.ndarray) and r.ndim == 1:
            rows.append(k)
        else:
            totals[k] = float(r) * n
    if rows:
        sums = np.vstack([results[k] for k in rows]).sum(axis=1)
        for k, s in zip(rows, sums.tolist()):
            totals[k] = s
    return totals


def batch_replay(tape: Tape, *columns, params=None):
    """``(sum of values, summed gradients)`` over all samples, computed with numpy.

    Same contract as ``tape.sum_over(*columns)``: one column per argument of
    the traced function (a 2-D array or list of lists for a list input).
    """
    if tape.check:  # every sample must be verified by running the function: no shortcut
        return tape.sum_over(*columns, params=params)
    arrays, n = _arrays(tape, columns)
    if n == 0:
        return 0.0, [0.0] * len(tape.program.wrt)
    extra = tape.extra_args(params)
    flavour = _flavour(tape)
    try:
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            value, grads = flavour.function(*arrays, *extra)
            totals = _totals([value, *grads], n)
    except _GuardFailed:
        raise
    except (ArithmeticError, ValueError, TypeError):
        totals = None
    if totals is None or not all(math.isfinite(t) for t in totals):
        # The scalar tape decides: the eager error for the first bad sample, or exact numbers.
        return tape.sum_over(*columns, params=params)
    return totals[0], totals[1:]
