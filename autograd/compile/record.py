"""Recording: run the function once on Values, watch its reads, number the graph."""

from __future__ import annotations

import inspect
import keyword
import os
import re
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar

from .. import engine
from ..ops import OPS
from ..value import Value
from .errors import TraceError
from .render import ATOM, literal

# The autograd package (this file is in autograd/compile/): frames there are the engine's.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

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


class Program:
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
            text, prec = literal(self.data[i])
            return text if prec == ATOM else f"({text})"
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


def record(fn, example_inputs, params, wrt, allow_data_reads: bool):
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


def _number_graph(out: Value, leaves, params, recorder: _Recorder) -> Program:
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

    p = Program()
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


def _mark_active(p: Program) -> None:
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
