"""The tape: a recorded program compiled to Python, replayed with guards and input checks."""

from __future__ import annotations

import itertools
import linecache
import math
import numbers
import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from .. import engine
from ..ops import OPS
from ..value import Value
from .codegen import describe_guard, emit, module_header
from .errors import TapeMismatch
from .record import Program, record

_counter = itertools.count()


# The tape ----------------------------------------------------------------------------------


class Flavour:
    """One compiled form of a tape: its function, source, file name and line map.

    Plain floats: the source is a whole module (header included) that runs on
    its own.  numpy (``make_namespace`` given): the same function body, run in
    a namespace that binds the names it calls to array versions.
    """

    def __init__(self, p: Program, numpy: bool, summed: bool, make_namespace=None) -> None:
        name, code, renderer = emit(p, numpy=numpy, summed=summed)
        body = "\n".join(code.lines) + "\n"
        if make_namespace is None:
            header = module_header(renderer)
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


class Tape:
    """A recorded function, replayed as generated straight-line code.

    ``tape(*inputs)`` returns ``(value, grads)``: ``grads[k]`` is the derivative
    of the value with respect to ``params[k]`` (with ``wrt='inputs'``: to each
    input number, lists flattened, in argument order; ``wrt='all'``: params
    first, then inputs).  Parameters are read from the Values at each call,
    so an optimizer's updates are seen.
    """

    def __init__(self, fn, program: Program, params: list, check: bool) -> None:
        self._fn = fn
        self._program = program
        self.params = tuple(params)
        self._captured = tuple(program.captured_values)
        program.captured_values = []  # the tape keeps these Values, the program keeps numbers
        self.check = check
        self._signature = program.signature() if check else None
        self._one = Flavour(program, numpy=False, summed=False)
        self._sum: Flavour | None = None
        self._numpy: Flavour | None = None  # built on first use (autograd.batch)
        self.value = program.data[program.root]
        self.build_seconds = 0.0

    # What was recorded ---------------------------------------------------------------------

    @property
    def program(self) -> Program:
        """The recorded graph, numbered (read by replays built on the tape, such as batch)."""
        return self._program

    @property
    def n_nodes(self) -> int:
        """Number of nodes in the tape (inputs, parameters and constants included)."""
        return len(self._program.kinds)

    @property
    def guards(self) -> list[str]:
        """The recorded comparisons a replay re-checks, in words."""
        return [describe_guard(self._program, k) for k in range(len(self._program.guards))]

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
        extra = self.extra_args(params)
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
        columns = self.check_columns(columns)
        if self.check:
            for sample in zip(*columns):
                self._verify(list(sample))
        extra = self.extra_args(params)
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
        from ..anomaly import AnomalyError

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

    def _sum_flavour(self) -> Flavour:
        if self._sum is None:
            self._sum = Flavour(self._program, numpy=False, summed=True)
        return self._sum

    def numpy_flavour(self, make_namespace: Callable[[set[str]], dict]) -> Flavour:
        """The tape's code over numpy arrays (one element per sample), built once and kept.

        ``make_namespace(calls)`` returns the namespace the code runs in: array
        versions of the functions it calls (``autograd.batch`` supplies them).
        """
        if self._numpy is None:
            self._numpy = Flavour(
                self._program, numpy=True, summed=False, make_namespace=make_namespace
            )
        return self._numpy

    def extra_args(self, params) -> list:
        """The arguments after the inputs: parameter values, then captured numbers."""
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

    def check_columns(self, columns) -> list:
        """The columns, each sample checked as a call checks its inputs (errors name it)."""
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
        program, _ = record(self._fn, args, self.params, None, allow_data_reads=True)
        now = [v.data for v in program.captured_values]
        if program.signature() != self._signature or now != [v.data for v in self._captured]:
            raise TapeMismatch(
                f"{self._program.who}: for these inputs the function builds another "
                f"graph than the recorded one ({_first_difference(self._program, program)}); "
                "trace it again for these inputs"
            )

    def _explain(self, err: BaseException, flavour: Flavour) -> BaseException:
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


def _first_difference(a: Program, b: Program) -> str:
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


def _check_input(p: Program, k: int, x, sample: int | None = None):
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
    program, params = record(fn, example_inputs, params, wrt, allow_data_reads=check)
    tape = Tape(fn, program, params, check)
    tape.build_seconds = time.perf_counter() - start
    return tape
