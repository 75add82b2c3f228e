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

from __future__ import annotations

import inspect
import itertools
import keyword
import linecache
import math
import numbers
import os
import re
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from . import engine
from .ops import OPS
from .value import Value

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


class TapeMismatch(ValueError):
    """A replay would leave the recorded path: a guard failed or an input has another shape."""


class TraceError(RuntimeError):
    """``trace`` cannot record the function as a tape that stays valid for new inputs."""


# Symbols: running a rule on names instead of numbers ---------------------------------------
#
# A _Sym is an expression tree.  Arithmetic on it builds a bigger tree, a
# comparison builds a condition, and asking a condition for its truth value
# (``if x > 0``) picks a branch; _explore runs a function once per branch and
# _merge folds the results back into conditional expressions.

_PREC = {"if": 0, "cmp": 1, "+": 2, "-": 2, "*": 3, "/": 3, "neg": 4, "**": 5}
_ATOM = 6

# The branch chooser of the _explore call in progress (None outside one).
_DECIDE: ContextVar = ContextVar("tapegrad_decide", default=None)


class _Unsupported(TypeError):
    """A function did something with a symbol that has no code form (e.g. ``math.exp``)."""


class _Sym:
    """An expression built by running code on symbols; ``kind`` says what ``args`` hold.

    Kinds: 'operand' (j), 'out', 'num' (number), 'bin' (op, a, b), 'neg' (a),
    'call' (op name, operands, arg), 'if' (condition, a, b), 'cmp' (op, a, b).
    """

    __slots__ = ("args", "kind")

    def __init__(self, kind: str, *args) -> None:
        self.kind = kind
        self.args = args

    def __add__(self, other):
        return _binary("+", self, other)

    def __radd__(self, other):
        return _binary("+", other, self)

    def __sub__(self, other):
        return _binary("-", self, other)

    def __rsub__(self, other):
        return _binary("-", other, self)

    def __mul__(self, other):
        return _binary("*", self, other)

    def __rmul__(self, other):
        return _binary("*", other, self)

    def __truediv__(self, other):
        return _binary("/", self, other)

    def __rtruediv__(self, other):
        return _binary("/", other, self)

    def __pow__(self, other):
        return _binary("**", self, other)

    def __rpow__(self, other):
        return _binary("**", other, self)

    def __neg__(self):
        return self.args[0] if self.kind == "neg" else _Sym("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _Sym("call", "abs", (self,), None)

    def __lt__(self, other):
        return _Sym("cmp", "<", self, _sym(other))

    def __le__(self, other):
        return _Sym("cmp", "<=", self, _sym(other))

    def __gt__(self, other):
        return _Sym("cmp", ">", self, _sym(other))

    def __ge__(self, other):
        return _Sym("cmp", ">=", self, _sym(other))

    def __eq__(self, other):
        return _Sym("cmp", "==", self, _sym(other))

    def __ne__(self, other):
        return _Sym("cmp", "!=", self, _sym(other))

    __hash__ = None  # type: ignore[assignment]  # compares build symbols: not hashable

    def __bool__(self) -> bool:
        # Python asks for a truth value at a branch: the explorer chooses the side.
        cond = self if self.kind == "cmp" else _Sym("cmp", "!=", self, _Sym("num", 0))
        decide = _DECIDE.get()
        if decide is None:
            raise _Unsupported("a symbolic condition was tested outside an exploration")
        return decide(cond)

    def __float__(self):
        raise _Unsupported("a symbol has no float value (a math function was called on it)")

    __int__ = __index__ = __float__

    def __getattr__(self, name):
        # The generic functions of autograd.ops call x.exp(), x.leaky_relu(slope), ...
        # on anything that is not a number: every op of the table becomes a call.
        if name.startswith("_") or name not in OPS:
            raise AttributeError(name)
        return lambda arg=None: _Sym("call", name, (self,), arg)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _sym(x) -> _Sym:
    if isinstance(x, _Sym):
        return x
    if _is_num(x):
        return _Sym("num", x)
    raise _Unsupported(f"{type(x).__name__} {x!r} has no code form")


def _num_is(s: _Sym, value: float) -> bool:
    return s.kind == "num" and s.args[0] == value


def _binary(op: str, a, b) -> _Sym:
    """``a op b``, dropping factors that change no bit: x * 1, x / 1, x ** 1, x * -1 = -x."""
    a, b = _sym(a), _sym(b)
    if op == "*":
        for one, other in ((a, b), (b, a)):
            if _num_is(one, 1.0):
                return other
            if _num_is(one, -1.0):
                return -other
    if op in ("/", "**") and _num_is(b, 1.0):
        return a
    return _Sym("bin", op, a, b)


class _Path:
    """Chooses the branches of one run: the forced prefix, then True for each new branch."""

    def __init__(self, forced: tuple, todo: list) -> None:
        self.forced = forced
        self.todo = todo
        self.made: list[tuple[_Sym, bool]] = []

    def __call__(self, cond: _Sym) -> bool:
        k = len(self.made)
        if k < len(self.forced):
            choice = self.forced[k]
        else:
            choice = True
            # Come back later for the other side of this branch.
            self.todo.append((*(c for _, c in self.made), False))
        self.made.append((cond, choice))
        return choice


def _explore(run, limit: int = 64) -> list:
    """Run ``run()`` once per path through its branches: [(decisions, result or exception)]."""
    paths: list = []
    todo: list = [()]
    while todo:
        path = _Path(todo.pop(), todo)
        token = _DECIDE.set(path)
        try:
            outcome = run()
        except Exception as err:  # any failure means: no code form on this path
            outcome = err
        finally:
            _DECIDE.reset(token)
        paths.append((path.made, outcome))
        if len(paths) > limit:
            raise _Unsupported(f"more than {limit} branches")
    return paths


def _merge(paths: list) -> _Sym:
    """One expression for all paths [(decisions, expression)]: nested conditionals."""
    first = paths[0][1]
    key = _key(first)
    if all(_key(e) == key for _, e in paths[1:]):
        return first
    # Every run takes the same first branch test (runs differ only after a choice).
    cond = paths[0][0][0][0]
    yes = [(d[1:], e) for d, e in paths if d[0][1]]
    no = [(d[1:], e) for d, e in paths if not d[0][1]]
    return _Sym("if", cond, _merge(yes), _merge(no))


# The code form of each op, built once per (op, arity, arg) ---------------------------------

_TEMPLATES: dict = {}


def _templates(op: str, arity: int, arg):
    """(forward expression, one local-derivative expression per operand) for ``op``."""
    key = (op, arity, repr(arg))
    found = _TEMPLATES.get(key)
    if found is None:
        found = _TEMPLATES[key] = (
            _forward_template(op, arity, arg),
            _rule_template(op, arity, arg),
        )
    return found


def _operands(arity: int) -> list:
    return [_Sym("operand", j) for j in range(arity)]


def _forward_template(op: str, arity: int, arg) -> _Sym:
    """The op's forward as an expression; a path with no code form calls the table's forward."""
    xs = _operands(arity)
    call = _Sym("call", op, tuple(xs), arg)
    forward = OPS[op].forward
    try:
        paths = _explore(lambda: _sym(forward(list(xs), arg)))
    except _Unsupported:
        return call
    return _merge([(d, r if isinstance(r, _Sym) else call) for d, r in paths])


def _rule_template(op: str, arity: int, arg) -> tuple:
    """The op's backward rule run on symbols: one expression per operand, or a TraceError."""
    xs = _operands(arity)
    out = _Sym("out")
    rule = OPS[op].backward
    try:
        paths = _explore(lambda: rule(list(xs), out, arg))
    except _Unsupported as err:
        paths = [([], err)]
    results = []
    for decisions, r in paths:
        try:
            if isinstance(r, BaseException):
                raise r
            if len(r) != arity:
                raise _Unsupported(f"it returned {len(r)} derivatives for {arity} operands")
            results.append((decisions, [_sym(d) for d in r]))
        except Exception as err:
            raise TraceError(
                f"the backward rule of op {op!r} cannot be turned into code ({err}); "
                "write it with arithmetic and the generic functions of autograd.ops"
            ) from None
    return tuple(_merge([(d, r[j]) for d, r in results]) for j in range(arity))


# Rendering expressions as code ---------------------------------------------------------------


def _literal(x) -> tuple[str, int]:
    if isinstance(x, float) and not math.isfinite(x):
        text = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    else:
        text = repr(x)
    return text, (_PREC["neg"] if text.startswith("-") else _ATOM)


class _Renderer:
    """Prints expressions as Python: plain floats ('py') or numpy arrays ('np').

    ``names[j]`` is the code for operand j, ``out`` for the op's own result.
    The only difference between flavours: a conditional is ``a if c else b``
    for floats and ``where(c, a, b)`` for arrays (numpy picks per element).
    """

    def __init__(self, numpy: bool = False) -> None:
        self.numpy = numpy
        self.calls: set[str] = set()  # op functions the code refers to
        self.names_used: set[str] = set()  # inf, nan

    def text(self, e: _Sym, names, out: str = "") -> str:
        return self.render(e, names, out)[0]

    def wrap(self, e: _Sym, names, out: str, above: int) -> str:
        """The code of e, in parentheses unless its precedence is above ``above``."""
        text, prec = self.render(e, names, out)
        return text if prec > above else f"({text})"

    def render(self, e: _Sym, names, out: str) -> tuple[str, int]:
        kind, args = e.kind, e.args
        if kind == "operand":
            text = names[args[0]]
            return text, (_PREC["neg"] if text.startswith("-") else _ATOM)
        if kind == "out":
            return out, _ATOM
        if kind == "num":
            text, prec = _literal(args[0])
            if text.lstrip("-") in ("inf", "nan"):
                self.names_used.add(text.lstrip("-"))
            return text, prec
        if kind == "bin":
            return self._binary(e, names, out)
        if kind == "neg":
            return "-" + self.wrap(args[0], names, out, _PREC["neg"]), _PREC["neg"]
        if kind == "call":
            op, operands, arg = args
            self.calls.add(op)
            parts = [self.text(x, names, out) for x in operands]
            if arg is not None:
                parts.append(f"arg={_literal(arg)[0]}")
            return f"{op}({', '.join(parts)})", _ATOM
        if kind == "cmp":
            op, a, b = args
            left = self.wrap(a, names, out, _PREC["cmp"])
            right = self.wrap(b, names, out, _PREC["cmp"])
            return f"{left} {op} {right}", _PREC["cmp"]
        if kind == "if":
            cond, a, b = args
            if self.numpy:
                texts = (self.text(x, names, out) for x in (cond, a, b))
                return "where({}, {}, {})".format(*texts), _ATOM
            yes = self.wrap(a, names, out, _PREC["if"])
            test = self.wrap(cond, names, out, _PREC["if"])
            no = self.wrap(b, names, out, _PREC["if"])
            return f"{yes} if {test} else {no}", _PREC["if"]
        raise AssertionError(f"unknown expression kind {kind!r}")

    def _binary(self, e: _Sym, names, out: str) -> tuple[str, int]:
        op, a, b = e.args
        prec = _PREC[op]
        if op == "**":  # right-associative: (a ** b) ** c keeps its parentheses
            left = self.wrap(a, names, out, prec)
            return f"{left} ** {self.wrap(b, names, out, prec - 1)}", prec
        # Walk down the left spine without recursion, so a linear node with
        # thousands of terms prints fine; the right side of each + - * / keeps
        # its parentheses, since floating-point a + (b + c) != (a + b) + c.
        rights = []
        while e.kind == "bin" and _PREC.get(e.args[0]) == prec and e.args[0] != "**":
            rights.append((e.args[0], e.args[2]))
            e = e.args[1]
        text = self.wrap(e, names, out, prec - 1)
        for sym, right in reversed(rights):
            text = f"{text} {sym} {self.wrap(right, names, out, prec)}"
        return text, prec


def _key(e: _Sym) -> str:
    """A text that identifies an expression (to spot branches that agree)."""
    return _Renderer().text(e, [f"<{j}>" for j in range(_max_operand(e) + 1)], "<out>")


def _max_operand(e: _Sym) -> int:
    top, stack = -1, [e]
    while stack:
        x = stack.pop()
        if x.kind == "operand":
            top = max(top, x.args[0])
        for a in x.args:
            if isinstance(a, _Sym):
                stack.append(a)
            elif isinstance(a, tuple):
                stack.extend(s for s in a if isinstance(s, _Sym))
    return top


# Recording ---------------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

# The recorder of the trace in progress in this thread / task (None outside trace()).
_RECORDER: ContextVar = ContextVar("tapegrad_recorder", default=None)
# True inside allow_reads(): reads of .data there are declared safe to freeze into a tape.
_READS_ALLOWED: ContextVar = ContextVar("tapegrad_reads_allowed", default=False)


@contextmanager
def allow_reads():
    """Inside this block, reading ``.data`` while tracing is allowed: the number is frozen.

    For reads that cannot change the result, such as the max subtracted before
    exp() in a stable log-sum-exp: any shift gives the same value and gradients.
    """
    token = _READS_ALLOWED.set(True)
    try:
        yield
    finally:
        _READS_ALLOWED.reset(token)


def _user_frame(frame):
    """The first frame outside the autograd package (the user's code)."""
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame


def _site(frame) -> str:
    if frame is None:
        return "an unknown place"
    name = os.path.basename(frame.f_code.co_filename)
    return f"{name}:{frame.f_lineno} in {frame.f_code.co_name}"


class _WatchedSlot:
    """Stands in for a slot of ``Value`` while a trace runs, to see reads by user code.

    Reads by the engine itself (files of this package) are its business; a
    read from anywhere else means the function looked at a number, which a
    tape cannot replay.  ``Value.detach`` counts as such a read: it copies data.
    """

    def __init__(self, name: str, slot) -> None:
        self.name = name
        self.slot = slot

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.slot
        value = self.slot.__get__(obj, owner)
        recorder = _RECORDER.get()
        if recorder is not None and not _READS_ALLOWED.get():
            frame = sys._getframe(1)
            if (
                not frame.f_code.co_filename.startswith(_PACKAGE_DIR)
                or frame.f_code is _DETACH_CODE
            ):
                recorder.reads.append((obj, self.name, _site(_user_frame(frame))))
        return value

    def __set__(self, obj, value) -> None:
        self.slot.__set__(obj, value)


_SLOTS = {name: Value.__dict__[name] for name in ("data", "grad")}
_DETACH_CODE = Value.detach.__code__
_watch_lock = threading.Lock()
_watch_depth = 0


@contextmanager
def _watching_reads():
    """Swap Value's data/grad slots for watchers for the duration (nested and threads: counted).

    Outside a trace the class is untouched, so eager code pays nothing.
    """
    global _watch_depth
    with _watch_lock:
        _watch_depth += 1
        if _watch_depth == 1:
            for name, slot in _SLOTS.items():
                setattr(Value, name, _WatchedSlot(name, slot))
    try:
        yield
    finally:
        with _watch_lock:
            _watch_depth -= 1
            if _watch_depth == 0:
                for name, slot in _SLOTS.items():
                    setattr(Value, name, slot)


class _Recorder:
    """Everything ``f`` did while traced that its graph alone does not show."""

    def __init__(self) -> None:
        self.previous = engine.creation_watcher()  # first: __getattr__ below reads it
        self.guards: list = []  # (value, symbol, other, result, site)
        self.reads: list = []  # (value, 'data' or 'grad', site)
        self.detached: dict = {}  # node made under no_grad -> (op, operands, arg)

    # Called by Value comparisons (engine.watch_comparisons).
    def compared(self, v, symbol, other, result) -> None:
        self.guards.append((v, symbol, other, result, _site(_user_frame(sys._getframe(1)))))

    # Called for every new node (engine.watch_creation); chains to anomaly mode's watcher.
    def __call__(self, out, op, operands) -> None:
        if op and not out.parents:
            self.detached[out] = (op, operands, out.arg)
        if self.previous is not None:
            self.previous(out, op, operands)

    def __getattr__(self, name):
        # Anomaly mode's watcher also checks backward passes: keep that working.
        if self.previous is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.previous, name)

    @contextmanager
    def recording(self):
        token = _RECORDER.set(self)
        try:
            with (
                engine.watch_comparisons(self.compared),
                engine.watch_creation(self),
                _watching_reads(),
            ):
                yield
        finally:
            _RECORDER.reset(token)


# The program: the recorded graph, numbered ------------------------------------------------


class _Program:
    """The recorded graph as numbered nodes: all the code generator needs, no Values.

    Node i is the variable ``v{i}``: inputs first, then parameters, then
    captured leaves (Values ``f`` used that are neither: read at each call),
    then every other node in topological order.  Constants are printed as
    literals.  ``kinds[i]`` is 'input', 'param', 'captured', 'const' or 'op'.
    """

    def __init__(self) -> None:
        self.name = "tape"
        self.arg_names: list[str] = []
        self.shapes: list = []  # per argument: None for a number, n for a list of n
        self.input_nodes: list[list[int]] = []
        self.param_nodes: list[int] = []
        self.captured_nodes: list[int] = []
        self.kinds: list[str] = []
        self.ops: list[str] = []
        self.args: list = []
        self.operands: list[tuple] = []
        self.backprop: list[bool] = []  # False for nodes made under no_grad
        self.labels: list[str] = []
        self.data: list[float] = []  # values at trace time
        self.root = 0
        self.wrt: list[int] = []  # the nodes whose gradients a replay returns, in order
        self.guards: list = []  # (lhs, symbol, rhs, result, site); lhs/rhs: node or number
        self.active: list[bool] = []  # node lies on a backward path from a wrt leaf to the root
        self.captured_values: list = []  # the captured Values themselves, until Tape takes them

    @property
    def who(self) -> str:
        """How error messages name the tape."""
        return "tape" if self.name == "tape" else f"tape {self.name}"

    def name_of(self, i: int) -> str:
        if self.kinds[i] == "const":
            text, prec = _literal(self.data[i])
            return text if prec == _ATOM else f"({text})"
        return f"v{i}"

    def signature(self) -> tuple:
        """Everything that decides the code: equal signatures, equal tapes."""
        nodes = tuple(
            (k, op, repr(arg), ops, bp, repr(d) if k == "const" else None)
            for k, op, arg, ops, bp, d in zip(
                self.kinds, self.ops, self.args, self.operands, self.backprop, self.data
            )
        )
        guards = tuple((a, s, b, r) for a, s, b, r, _ in self.guards)
        return (tuple(self.shapes), nodes, guards, self.root, tuple(self.captured_nodes))


def _arg_names(fn, n: int) -> list[str]:
    """Names for the tape's arguments: f's own parameter names when usable, else x0, x1, ..."""
    fallback = [f"x{k}" for k in range(n)]
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fallback
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = [p.name for p in params[:n] if p.kind in positional]
    reserved = {"params", "captured", "columns", "total", "i", "where", "inf", "nan"}
    reserved |= {"TapeMismatch", "OPS", "_guard", *OPS}
    ok = (
        len(names) == n
        and len(set(names)) == n
        and all(
            x.isidentifier()
            and not keyword.iskeyword(x)
            and x not in reserved
            and not re.fullmatch(r"(g_)?v\d+", x)  # the names of nodes and gradients
            for x in names
        )
    )
    return names if ok else fallback


def _function_name(fn) -> str:
    name = getattr(fn, "__name__", "")
    if name.isidentifier() and not keyword.iskeyword(name) and name not in OPS:
        return name
    return "tape"


def _as_input(who: str, name: str, x, label: str) -> Value:
    if isinstance(x, Value):
        if not x.is_leaf:
            raise ValueError(
                f"{who}: input {name} is the result of an op ({x.op}); pass a leaf, "
                "e.g. v.detach(), or a number"
            )
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(
            f"{who}: input {name} must be a number, a Value or a list of them, "
            f"got {type(x).__name__} {x!r}"
        )
    return Value(x, label)


def _record(fn, example_inputs, params, wrt, allow_data_reads: bool):
    """Run fn once on Values and number its graph: (program, input leaves)."""
    who = "trace"
    if not callable(fn):
        raise TypeError(f"{who}: fn must be a function, got {type(fn).__name__} {fn!r}")
    names = _arg_names(fn, len(example_inputs))
    args: list = []
    leaves: list[list[Value]] = []
    shapes: list[int | None] = []
    for name, x in zip(names, example_inputs):
        if isinstance(x, (list, tuple)):
            row = [_as_input(who, f"{name}[{j}]", e, f"{name}[{j}]") for j, e in enumerate(x)]
            args.append(row)
            leaves.append(row)
            shapes.append(len(row))
        else:
            v = _as_input(who, name, x, name)
            args.append(v)
            leaves.append([v])
            shapes.append(None)
    params = list(params)
    for k, p in enumerate(params):
        if not isinstance(p, Value) or not p.is_leaf:
            what = type(p).__name__ if not isinstance(p, Value) else f"the result of op {p.op!r}"
            raise TypeError(f"{who}: params[{k}] must be a leaf Value (a parameter), got {what}")
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{who}: params lists the same Value twice")
    flat_inputs = [v for row in leaves for v in row]
    if len({id(v) for v in flat_inputs}) != len(flat_inputs) or {id(v) for v in flat_inputs} & {
        id(p) for p in params
    }:
        raise ValueError(f"{who}: the same Value is passed twice among the inputs and params")
    if wrt is None:
        wrt = "params" if params else "inputs"
    if wrt not in ("params", "inputs", "all"):
        raise ValueError(f"{who}: wrt must be 'params', 'inputs' or 'all', got {wrt!r}")

    recorder = _Recorder()
    with recorder.recording():
        out = fn(*args)
    if not isinstance(out, Value):
        raise TypeError(
            f"{who}: fn must return one Value (the quantity to differentiate), "
            f"got {type(out).__name__} {out!r}"
        )
    reads = [r for r in recorder.reads if not (isinstance(r[0], Value) and r[0].op == "const")]
    if reads and not allow_data_reads:
        v, slot, site = reads[0]
        more = f" (and {len(reads) - 1} more reads)" if len(reads) > 1 else ""
        raise TraceError(
            f"trace: {_function_name(fn)} read .{slot} of a Value at {site}{more}. A tape "
            f"replays ops, not Python decisions on numbers, so it would freeze {v.data!r} "
            "there. Compare Values instead (if v > 0: recorded as a guard), write the "
            "branch with ops (relu, abs, ...), wrap a read that cannot change the result "
            "in autograd.compile.allow_reads(), or trace with check=True to verify "
            "every replay by running the function again."
        )

    program = _number_graph(out, leaves, params, recorder)
    program.name = _function_name(fn)
    program.arg_names = names
    program.shapes = shapes
    wanted = []
    if wrt in ("params", "all"):
        wanted += program.param_nodes
    if wrt in ("inputs", "all"):
        wanted += [i for row in program.input_nodes for i in row]
    program.wrt = wanted
    _mark_active(program)
    return program, params


def _number_graph(out: Value, leaves, params, recorder: _Recorder) -> _Program:
    """Number every node reachable from the output and the guards' operands."""
    detached = recorder.detached

    def parents_of(node):
        made = detached.get(node)
        return made[1] if made is not None else node.parents

    roots = [out]
    for v, _, other, _, _ in recorder.guards:
        roots.append(v)
        if isinstance(other, Value):
            roots.append(other)
    order = _topological(roots, parents_of)

    p = _Program()
    index: dict = {}

    def add(node, kind: str, op: str = "", arg=None, operands=(), backprop=True) -> int:
        i = len(p.kinds)
        index[node] = i
        p.kinds.append(kind)
        p.ops.append(op)
        p.args.append(arg)
        p.operands.append(tuple(operands))
        p.backprop.append(backprop)
        p.labels.append(node.label)
        p.data.append(node.data)
        return i

    for row in leaves:
        p.input_nodes.append([add(v, "input") for v in row])
    p.param_nodes = [add(v, "param") for v in params]
    for node in order:
        if node in index:
            continue
        made = detached.get(node)
        if made is not None:
            op, operands, arg = made
            add(node, "op", op, arg, [index[x] for x in operands], backprop=False)
        elif node.parents:
            add(node, "op", node.op, node.arg, [index[x] for x in node.parents])
        elif node.op == "const":
            add(node, "const")
        else:
            p.captured_nodes.append(add(node, "captured"))
            p.captured_values.append(node)
    p.root = index[out]
    for v, symbol, other, result, site in recorder.guards:
        rhs = index[other] if isinstance(other, Value) else float(other)
        guard = (index[v], symbol, rhs, result, site)
        if guard[:4] not in [g[:4] for g in p.guards]:
            p.guards.append(guard)
    return p


def _topological(roots, parents_of) -> list:
    """Every node reachable from ``roots``, each after its parents (iterative, deterministic)."""
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            stack.extend((x, False) for x in reversed(parents_of(node)) if x not in seen)
    return order


def _mark_active(p: _Program) -> None:
    """Active nodes carry gradient: they lead back to a wrt leaf and forward to the root."""
    n = len(p.kinds)
    wanted = set(p.wrt)
    needs = [False] * n
    for i in range(n):
        if i in wanted:
            needs[i] = True
        elif p.kinds[i] == "op" and p.backprop[i]:
            needs[i] = any(needs[j] for j in p.operands[i])
    reaches = [False] * n
    reaches[p.root] = True
    for i in range(n - 1, -1, -1):
        if reaches[i] and p.kinds[i] == "op" and p.backprop[i]:
            for j in p.operands[i]:
                reaches[j] = True
    p.active = [a and b for a, b in zip(needs, reaches)]


# Code generation ---------------------------------------------------------------------------


class _Code:
    """Lines of generated code, with what each line computes (to explain errors)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.info: dict[int, tuple] = {}  # line number (1-based) -> (what, node or argument)

    def add(self, text: str, info: tuple | None = None) -> None:
        if not text:
            return
        for line in text.split("\n"):
            self.lines.append(line)
            if info is not None:
                self.info[len(self.lines)] = info


def _names_lines(names: list[str], indent: str, rhs: str, width: int = 96) -> str:
    """``a, b, c = rhs`` wrapped in parentheses when long (one statement)."""
    if len(names) == 1:
        return f"{indent}({names[0]},) = {rhs}"
    flat = f"{indent}{', '.join(names)} = {rhs}"
    if len(flat) <= width:
        return flat
    rows: list = []
    row: list = []
    for name in names:
        if row and len(indent) + 1 + len(", ".join([*row, name])) > width:
            rows.append(", ".join(row))
            row = []
        row.append(name)
    rows.append(", ".join(row))
    body = (",\n" + indent + " ").join(rows)
    return f"{indent}({body}) = {rhs}"


_RETRACE = ": the function takes another path for these inputs, so trace it again for them"


def _comment_text(label: str) -> str:
    """A label as it may appear in a ``#`` comment of generated code: on one line, inert.

    Labels are the only user text that reaches a tape's source, and only ever
    inside comments.  A comment ends at a line break, so a label holding one
    (``\n``, ``\r``, ``\x0c``, ``\u2028``, ... : anything not printable) is
    shown as its repr, in which every such character is an escape sequence;
    a printable label cannot leave its comment.
    """
    label = str(label)
    return label if label.isprintable() else repr(label)


def _label_comments(p: _Program, nodes: list[int], indent: str, width: int = 96) -> str:
    """Comment lines naming labelled leaves (``# v3 = w, v4 = b``); '' when none has a label."""
    pairs = [f"v{i} = {_comment_text(p.labels[i])}" for i in nodes if p.labels[i]]
    rows, row = [], ""
    for pair in pairs:
        if row and len(indent) + len(row) + len(pair) + 4 > width:
            rows.append(row)
            row = ""
        row = f"{row}, {pair}" if row else pair
    if row:
        rows.append(row)
    return "\n".join(f"{indent}# {r}" for r in rows)


def _guard_test(p: _Program, k: int) -> str:
    lhs, symbol, rhs, _, _ = p.guards[k]
    right = p.name_of(rhs) if isinstance(rhs, int) else _literal(rhs)[0]
    return f"{p.name_of(lhs)} {symbol} {right}"


def _describe_guard(p: _Program, k: int) -> str:
    _, _, _, result, site = p.guards[k]
    return f"{_guard_test(p, k)} (compared at {site}) was {result} when recorded"


def _emit(p: _Program, numpy: bool = False, summed: bool = False) -> tuple[str, _Code, _Renderer]:
    """The tape as a Python function.

    ``numpy``: every variable may be an array (one element per sample);
    ``summed``: loop over the samples of ``columns`` and sum value and gradients.
    """
    r = _Renderer(numpy)
    code = _Code()
    name = p.name + ("_sum" if summed else "_batch" if numpy else "")
    args = ["columns"] if summed else list(p.arg_names)
    if p.param_nodes:
        args.append("params")
    if p.captured_nodes:
        args.append("captured")
    wrt = set(p.wrt)
    # Gradients of wrt leaves are sums: over uses in one sample, and in a loop over samples.
    code.add(f"def {name}({', '.join(args)}):")
    what = "summed over the samples" if summed else "for one sample"
    shown = ", ".join(f"d/dv{i}" for i in p.wrt[:3]) + (", ..." if len(p.wrt) > 3 else "")
    code.add(f'    """Forward and backward {what}: (value, [{shown}])."""')

    def unpack_inputs(indent: str) -> None:
        for k, (arg, shape) in enumerate(zip(p.arg_names, p.shapes)):
            nodes = p.input_nodes[k]
            if shape is None:
                code.add(f"{indent}v{nodes[0]} = {arg}", ("input", k))
            elif shape:
                code.add(_names_lines([f"v{i}" for i in nodes], indent, arg), ("input", k))

    if p.param_nodes:
        code.add(_label_comments(p, p.param_nodes, "    "))
        code.add(_names_lines([f"v{i}" for i in p.param_nodes], "    ", "params"), ("params",))
    if p.captured_nodes:
        code.add(
            _names_lines([f"v{i}" for i in p.captured_nodes], "    ", "captured"), ("captured",)
        )
    indent = "    "
    if summed:
        accumulators = [f"g_v{i}" for i in p.wrt]
        code.add("    total = 0.0")
        for start in range(0, len(accumulators), 8):
            code.add("    " + " = ".join([*accumulators[start : start + 8], "0.0"]))
        row = ", ".join(p.arg_names) + ("," if len(p.arg_names) == 1 else "")
        code.add(f"    for i, ({row}) in enumerate(zip(*columns)):")
        indent = "        "
    unpack_inputs(indent)

    # Guards go right after the last of their operands is known.
    guards_after: dict[int, list[int]] = {}
    for k, (lhs, _, rhs, _, _) in enumerate(p.guards):
        last = max(lhs, rhs if isinstance(rhs, int) else -1)
        guards_after.setdefault(last, []).append(k)

    def emit_guards(i: int) -> None:
        for k in guards_after.get(i, ()):
            lhs, result = p.guards[k][0], p.guards[k][3]
            test = _guard_test(p, k)
            if numpy:
                code.add(f"{indent}_guard({k}, {test}, {result})", ("guard", k))
                continue
            # An f-string in the generated code: literal braces doubled, values filled in.
            words = _describe_guard(p, k).replace("{", "{{").replace("}", "}}")
            where = "sample {i}: " if summed else ""
            nodes = [lhs] + [rhs for rhs in p.guards[k][2:3] if isinstance(rhs, int)]
            now = ", ".join(f"{p.name_of(j)} = {{{p.name_of(j)}!r}}" for j in nodes)
            message = f"{where}guard {k}: {words}, not now ({now}){_RETRACE}"
            code.add(f"{indent}if {'not ' if result else ''}{test}:", ("guard", k))
            code.add(f"{indent}    raise TapeMismatch(f{message!r})", ("guard", k))

    for i, kind in enumerate(p.kinds):
        if kind != "op":
            emit_guards(i)
    code.add(f"{indent}# forward: one line per node")
    for i, kind in enumerate(p.kinds):
        if kind != "op":
            continue
        names = [p.name_of(j) for j in p.operands[i]]
        forward, _ = _templates(p.ops[i], len(names), p.args[i])
        note = p.ops[i] + ("" if p.backprop[i] else ", under no_grad")
        note += f": {_comment_text(p.labels[i])}" if p.labels[i] else ""
        code.add(f"{indent}v{i} = {r.text(forward, names)}  # {note}", ("forward", i))
        emit_guards(i)

    code.add(f"{indent}# backward: the chain rule, last node first")
    assigned: set[int] = set()

    def contribute(target: int, term: str, negative: bool, info: tuple) -> None:
        g = f"g_v{target}"
        # In a summing loop the wrt leaves accumulate across samples (set to 0 before it).
        accumulate = target in assigned or (summed and target in wrt)
        if not accumulate:
            code.add(f"{indent}{g} = {'-' if negative else ''}{term}", info)
        elif numpy:  # no += on arrays: a gradient may share its array with another
            code.add(f"{indent}{g} = {g} {'-' if negative else '+'} {term}", info)
        else:
            code.add(f"{indent}{g} {'-' if negative else '+'}= {term}", info)
        assigned.add(target)

    if p.active[p.root]:
        contribute(p.root, "1.0", False, ("seed",))
    for i in range(len(p.kinds) - 1, -1, -1):
        if p.kinds[i] != "op" or not p.active[i] or not p.backprop[i]:
            continue
        operands = p.operands[i]
        names = [p.name_of(j) for j in operands]
        _, locals_ = _templates(p.ops[i], len(names), p.args[i])
        for j, local in zip(operands, locals_):
            if not p.active[j]:
                continue
            if _num_is(local, 1.0) or _num_is(local, -1.0):
                term, negative = f"g_v{i}", local.args[0] < 0
            else:
                local_code = r.wrap(local, names, f"v{i}", _PREC["*"])
                term, negative = f"g_v{i} * {local_code}", False
            contribute(j, term, negative, ("backward", i))

    value = p.name_of(p.root)
    results = [f"g_v{i}" if i in assigned else "0.0" for i in p.wrt]
    if summed:
        code.add(f"        total += {value}")
        value = "total"
    code.add(_return_line(value, results))
    return name, code, r


def _return_line(value: str, grads: list[str], width: int = 96) -> str:
    """``return value, [grads]``, the list wrapped over several lines when long."""
    flat = f"    return {value}, [{', '.join(grads)}]"
    if len(flat) <= width:
        return flat
    rows: list = []
    row: list = []
    for g in grads:
        if row and 8 + len(", ".join([*row, g])) > width:
            rows.append(", ".join(row))
            row = []
        row.append(g)
    rows.append(", ".join(row))
    body = "".join(f"        {r},\n" for r in rows)
    return f"    return {value}, [\n{body}    ]"


def _header(r: _Renderer) -> str:
    """Imports and the table's forward functions the code calls by name."""
    lines = [
        '"""A tape recorded by autograd.compile.trace: straight-line forward and backward code."""',
        "",
        "from autograd.compile import TapeMismatch",
    ]
    if r.calls:
        lines.append("from autograd.ops import OPS")
    for name in sorted(r.names_used):
        lines.append(f"{name} = float({name!r})")
    for op in sorted(r.calls):
        lines += [
            "",
            "",
            f"def {op}(*xs, arg=None, _forward=OPS[{op!r}].forward):",
            f'    """The forward of op {op!r} from the rule table."""',
            "    return _forward(xs, arg)",
        ]
    return "\n".join(lines) + "\n\n\n"


_counter = itertools.count()


# The tape ----------------------------------------------------------------------------------


class _Flavour:
    """One compiled form of a tape: its function, source, file name and line map.

    Plain floats: the source is a whole module (header included) that runs on
    its own.  numpy (``make_namespace`` given): the same function body, run in
    a namespace that binds the names it calls to array versions.
    """

    def __init__(self, p: _Program, numpy: bool, summed: bool, make_namespace=None) -> None:
        name, code, renderer = _emit(p, numpy=numpy, summed=summed)
        body = "\n".join(code.lines) + "\n"
        if make_namespace is None:
            header = _header(renderer)
            offset = header.count("\n")
            self.source = header + body
            namespace: dict = {"__name__": "autograd.compile.generated"}
        else:
            offset = 0
            self.source = body
            namespace = make_namespace(renderer.calls)
        self.info = {line + offset: what for line, what in code.info.items()}
        self.filename = f"<tape {p.name} #{next(_counter)}>"
        # Registered so that tracebacks show the generated lines; dropped with the tape.
        lines = self.source.splitlines(keepends=True)
        linecache.cache[self.filename] = (len(self.source), None, lines, self.filename)
        weakref.finalize(self, linecache.cache.pop, self.filename, None)
        exec(compile(self.source, self.filename, "exec"), namespace)
        self.function = namespace[name]


class TapeNode(NamedTuple):
    """One node of a recorded graph (``Tape.graph``); operands are node numbers."""

    kind: str  # 'input', 'param', 'captured', 'const' or 'op'
    op: str
    arg: object
    operands: tuple
    backprop: bool  # False for a node made under no_grad
    active: bool  # on a backward path from a differentiated leaf to the root
    label: str
    data: float  # the value when recorded


class TapeGraph(NamedTuple):
    """A tape's graph: node v{i} is ``nodes[i]``; ``guards`` are (lhs, symbol, rhs, result).

    ``inputs[k]`` lists the nodes of argument k (one for a number), ``wrt`` the
    nodes whose gradients a replay returns.  A guard's rhs is a node number
    (an int) or a number (a float).
    """

    name: str
    arg_names: tuple
    shapes: tuple
    nodes: tuple
    inputs: tuple
    params: tuple
    captured: tuple
    root: int
    wrt: tuple
    guards: tuple


class NodeCode(NamedTuple):
    """The code of one node: its forward expression and one local derivative per operand."""

    forward: str
    locals: tuple  # each wrapped to be multiplied: g * (local)
    calls: frozenset  # op functions the code calls by name (bound to the table's or numpy's)
    names: frozenset  # 'inf', 'nan' when the code uses them


def node_code(op: str, operands, arg=None, out: str = "out", numpy: bool = False) -> NodeCode:
    """The code the tape writes for one ``op`` node over operand expressions ``operands``.

    ``out`` names the node's own result (rules reuse it); ``numpy=True`` writes
    conditionals as ``where(c, a, b)``.  Derivatives of 1 and -1 are '1.0', '-1.0'.
    """
    r = _Renderer(numpy)
    names = list(operands)
    forward, locals_ = _templates(op, len(names), arg)
    texts = []
    for local in locals_:
        if _num_is(local, 1.0) or _num_is(local, -1.0):
            texts.append(repr(local.args[0]))
        else:
            texts.append(r.wrap(local, names, out, _PREC["*"]))
    return NodeCode(
        r.text(forward, names), tuple(texts), frozenset(r.calls), frozenset(r.names_used)
    )


class Tape:
    """A recorded function, replayed as generated straight-line code.

    ``tape(*inputs)`` returns ``(value, grads)``: ``grads[k]`` is the derivative
    of the value with respect to ``params[k]`` (with ``wrt='inputs'``: to each
    input number, lists flattened, in argument order; ``wrt='all'``: params
    first, then inputs).  Parameters are read from the Values at each call,
    so an optimizer's updates are seen.
    """

    def __init__(self, fn, program: _Program, params: list, check: bool) -> None:
        self._fn = fn
        self._program = program
        self.params = tuple(params)
        self._captured = tuple(program.captured_values)
        program.captured_values = []  # the tape keeps these Values, the program keeps numbers
        self.check = check
        self._signature = program.signature() if check else None
        self._one = _Flavour(program, numpy=False, summed=False)
        self._sum: _Flavour | None = None
        self._batch: Any = None  # built by autograd.batch on first use
        self.value = program.data[program.root]
        self.build_seconds = 0.0

    # What was recorded ---------------------------------------------------------------------

    @property
    def n_nodes(self) -> int:
        """Number of nodes in the tape (inputs, parameters and constants included)."""
        return len(self._program.kinds)

    @property
    def guards(self) -> list[str]:
        """The recorded comparisons a replay re-checks, in words."""
        return [_describe_guard(self._program, k) for k in range(len(self._program.guards))]

    @property
    def input_shapes(self) -> list:
        """Per argument: None for a number, n for a list of n numbers."""
        return list(self._program.shapes)

    @property
    def graph(self) -> TapeGraph:
        """The recorded graph as numbered nodes (read-only), for code that lowers a tape further."""
        p = self._program
        nodes = tuple(
            TapeNode(*fields)
            for fields in zip(
                p.kinds, p.ops, p.args, p.operands, p.backprop, p.active, p.labels, p.data
            )
        )
        return TapeGraph(
            name=p.name,
            arg_names=tuple(p.arg_names),
            shapes=tuple(p.shapes),
            nodes=nodes,
            inputs=tuple(tuple(row) for row in p.input_nodes),
            params=tuple(p.param_nodes),
            captured=tuple(p.captured_nodes),
            root=p.root,
            wrt=tuple(p.wrt),
            guards=tuple((a, s, b, r) for a, s, b, r, _ in p.guards),
        )

    @property
    def captured(self) -> tuple:
        """The Values ``f`` used that are neither inputs nor params: read at each replay."""
        return self._captured

    def param_values(self, params=None) -> list[float]:
        """The parameters' numbers for a replay: ``params`` checked, or the Values' data."""
        return self._param_values(params)

    def source(self, summed: bool = False) -> str:
        """The generated code: a module you can read, save and run with autograd installed.

        ``summed=True`` shows the loop over samples that ``sum_over`` runs.
        """
        return self._sum_flavour().source if summed else self._one.source

    def __repr__(self) -> str:
        p = self._program
        args = ", ".join(p.arg_names)
        return (
            f"<Tape {p.name}({args}): {self.n_nodes} nodes, {len(self.params)} params, "
            f"{len(p.guards)} guards>"
        )

    # Replay --------------------------------------------------------------------------------

    def __call__(self, *inputs, params=None):
        """Replay on new inputs: ``(value, grads)`` as plain floats."""
        args = self._check_call(inputs)
        if self.check:
            self._verify(args)
        extra = self._extra(params)
        try:
            result = self._one.function(*args, *extra)
        except TapeMismatch:
            raise
        except (ArithmeticError, ValueError, TypeError) as err:
            raise self._explain(err, self._one) from None
        if _anomaly_mode() and not _all_finite(result):
            self._find_anomaly(args, params)
        return result

    def sum_over(self, *columns, params=None):
        """Replay once per sample and sum: ``(sum of values, summed grads)``.

        ``columns`` holds one sequence per argument of the traced function
        (e.g. ``tape.sum_over(X, Y)`` for ``f(x, y)``), all of the same length.
        """
        columns = self._check_columns(columns)
        if self.check:
            for sample in zip(*columns):
                self._verify(list(sample))
        extra = self._extra(params)
        flavour = self._sum_flavour()
        try:
            result = flavour.function(columns, *extra)
        except TapeMismatch:
            raise
        except (ArithmeticError, ValueError, TypeError) as err:
            raise self._explain(err, flavour) from None
        if _anomaly_mode() and not _all_finite(result):
            for i, sample in enumerate(zip(*columns)):
                if not _all_finite(self._one.function(*sample, *extra)):
                    self._find_anomaly(list(sample), params, f"sample {i}: ")
        return result

    def _find_anomaly(self, args, params, where: str = "") -> None:
        """Anomaly mode: replay ``f`` eagerly on these inputs, so the op that made a NaN or an
        inf raises ``AnomalyError`` naming itself and its line, as it would without a tape."""
        from .anomaly import AnomalyError

        p = self._program
        if params is None:  # the Values f closes over hold the numbers the tape read
            inputs = [[Value(x) for x in a] if isinstance(a, list) else Value(a) for a in args]
            out = self._fn(*inputs)
            out.backward()
        raise AnomalyError(
            f"anomaly in {p.who}: {where}its replay gave a value or gradient that is NaN or "
            "inf; call the traced function itself inside detect_anomaly() to find the op",
            phase="replay",
            op=p.name,
        )

    def _sum_flavour(self) -> _Flavour:
        if self._sum is None:
            self._sum = _Flavour(self._program, numpy=False, summed=True)
        return self._sum

    def _extra(self, params) -> list:
        extra = []
        if self._program.param_nodes:
            extra.append(self._param_values(params))
        if self._captured:
            extra.append([v.data for v in self._captured])
        return extra

    def _param_values(self, params) -> list:
        if params is None:
            return [p.data for p in self.params]
        values = list(params)
        if len(values) != len(self.params):
            raise TapeMismatch(
                f"{self._program.who}: {len(values)} parameter values given, "
                f"the tape was recorded with {len(self.params)}"
            )
        return [_check_number(self._program.who, f"params[{k}]", x) for k, x in enumerate(values)]

    def _check_call(self, inputs) -> list:
        p = self._program
        if len(inputs) != len(p.shapes):
            raise TypeError(
                f"{p.who}({', '.join(p.arg_names)}) takes {len(p.shapes)} inputs, got {len(inputs)}"
            )
        return [_check_input(p, k, x) for k, x in enumerate(inputs)]

    def _check_columns(self, columns) -> list:
        p = self._program
        if len(columns) != len(p.shapes):
            raise TypeError(
                f"{p.who}: sum_over takes one column per input "
                f"({', '.join(p.arg_names)}), got {len(columns)}"
            )
        lengths = set()
        checked = []
        for k, column in enumerate(columns):
            if isinstance(column, (str, bytes)) or not hasattr(column, "__len__"):
                raise TypeError(
                    f"{p.who}: column {k} ({p.arg_names[k]}) must be a sequence of "
                    f"samples, got {type(column).__name__}"
                )
            lengths.add(len(column))
            checked.append(
                [_check_input(p, k, x, sample=i) for i, x in enumerate(column)]
                if not _already_floats(column, p.shapes[k])
                else column
            )
        if len(lengths) > 1:
            raise TapeMismatch(f"{p.who}: columns of different lengths {sorted(lengths)}")
        return checked

    def _verify(self, args) -> None:
        """check=True: run the function again on these inputs and compare the graphs."""
        program, _ = _record(self._fn, args, self.params, None, allow_data_reads=True)
        now = [v.data for v in program.captured_values]
        if program.signature() != self._signature or now != [v.data for v in self._captured]:
            raise TapeMismatch(
                f"{self._program.who}: for these inputs the function builds another "
                f"graph than the recorded one ({_first_difference(self._program, program)}); "
                "trace it again for these inputs"
            )

    def _explain(self, err: BaseException, flavour: _Flavour) -> BaseException:
        """The eager engine's error for a failure inside the generated code."""
        # The outermost frame of the generated file is the tape function (inner ones
        # are the forward helpers of its header).
        tb = err.__traceback__
        frame: Any = None  # the tape function's frame, once found
        line: Any = None
        while tb is not None and frame is None:
            if tb.tb_frame.f_code.co_filename == flavour.filename:
                frame, line = tb.tb_frame, tb.tb_lineno
            tb = tb.tb_next
        what = flavour.info.get(line) if frame is not None else None
        if what is None or what[0] not in ("forward", "backward"):
            return err
        p = self._program
        i = what[1]
        values = [
            p.data[j] if p.kinds[j] == "const" else frame.f_locals.get(f"v{j}")
            for j in p.operands[i]
        ]
        prefix = f"sample {frame.f_locals['i']}: " if "i" in frame.f_locals else ""
        if what[0] == "forward":
            try:
                OPS[p.ops[i]].forward(values, p.args[i])
            except Exception as table_err:
                return type(table_err)(f"{prefix}{table_err}")
            return type(err)(f"{prefix}{p.ops[i]}: {err}")
        # The same message as the eager engine's (one formatter for both).
        return type(err)(prefix + engine.derivative_error(p.ops[i], values, p.args[i], err))


def _anomaly_mode() -> bool:
    """True inside ``detect_anomaly()`` (its watcher is the one that also checks backward)."""
    return hasattr(engine.creation_watcher(), "check_backward")


def _all_finite(result) -> bool:
    value, grads = result
    return math.isfinite(value) and all(math.isfinite(g) for g in grads)


def _first_difference(a: _Program, b: _Program) -> str:
    if a.shapes != b.shapes:
        return f"input shapes {a.shapes} vs {b.shapes}"
    for i, (x, y) in enumerate(zip(a.signature()[1], b.signature()[1])):
        if x != y:
            return f"node v{i}: recorded {_node_words(x)}, now {_node_words(y)}"
    if len(a.kinds) != len(b.kinds):
        return f"{len(a.kinds)} nodes recorded, {len(b.kinds)} now"
    if a.guards != b.guards:
        return "its comparisons of Values differ"
    return "a Value it creates or uses holds another number"


def _node_words(entry: tuple) -> str:
    kind, op, arg, operands, _, data = entry
    if kind == "const":
        return f"the constant {data}"
    if kind == "op":
        extra = f", arg {arg}" if arg != "None" else ""
        return f"{op} of {', '.join(f'v{j}' for j in operands)}{extra}"
    return kind


def _check_number(tape: str, what: str, x) -> float:
    """A real number as a float (numpy scalars and Fractions too, as ``Value``); never a bool."""
    if type(x) is float:
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{tape}: {what} must be a number, got {type(x).__name__} {x!r}")
    return float(x)


def _already_floats(column, shape) -> bool:
    """Quick test: a column of plain floats (or rows of n floats) needs no conversion."""
    if shape is None:
        return all(type(x) is float for x in column)
    return all(
        isinstance(row, (list, tuple)) and len(row) == shape and all(type(x) is float for x in row)
        for row in column
    )


def _check_input(p: _Program, k: int, x, sample: int | None = None):
    """One argument of a replay, checked against the recorded shape (floats out)."""
    where = f"sample {sample}: " if sample is not None else ""
    name = p.arg_names[k]
    shape = p.shapes[k]
    is_list = isinstance(x, (list, tuple)) or (
        hasattr(x, "__len__") and hasattr(x, "__getitem__") and not isinstance(x, (str, bytes))
    )
    if shape is None:
        if is_list:
            raise TapeMismatch(
                f"{p.who}: {where}input {name} was a number when recorded, "
                f"got a sequence of {len(x)}"
            )
        return _check_number(p.who, f"{where}input {name}", x)
    if not is_list:
        raise TapeMismatch(
            f"{p.who}: {where}input {name} was a list of {shape} when recorded, "
            f"got {type(x).__name__} {x!r}"
        )
    if len(x) != shape:
        raise TapeMismatch(
            f"{p.who}: {where}input {name} has {len(x)} items, the tape was recorded "
            f"with {shape}; trace again for this length"
        )
    return [_check_number(p.who, f"{where}{name}[{j}]", e) for j, e in enumerate(x)]


def trace(fn, *example_inputs, params=(), wrt=None, check: bool = False) -> Tape:
    """Record ``fn(*example_inputs)`` once and compile it to straight-line code.

    ``example_inputs`` are numbers, Values (leaves) or lists of them; ``fn``
    receives Values in their place and must return one Value.  ``params``
    (e.g. ``model.parameters()``) are leaves ``fn`` uses whose gradients the
    tape returns; they are read at each replay.  ``wrt`` chooses the
    gradients: 'params' (the default when params are given), 'inputs' (the
    default otherwise) or 'all'.  ``check=True`` runs ``fn`` again on every
    replay to verify the path (slow; for functions that read ``.data``).

    >>> tape = trace(lambda x, y: (x * y).tanh(), 0.5, -1.0)
    >>> value, (dx, dy) = tape(1.0, 2.0)
    """
    start = time.perf_counter()
    program, params = _record(fn, example_inputs, params, wrt, allow_data_reads=check)
    tape = Tape(fn, program, params, check)
    tape.build_seconds = time.perf_counter() - start
    return tape
