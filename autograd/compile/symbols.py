"""Symbols: running a function on names instead of numbers, one run per branch."""

from __future__ import annotations

from contextvars import ContextVar

from ..ops import OPS

# A Sym is an expression tree.  Arithmetic on it builds a bigger tree, a
# comparison builds a condition, and asking a condition for its truth value
# (``if x > 0``) picks a branch; explore runs a function once per branch and
# _merge folds the results back into conditional expressions.

# The branch chooser of the explore call in progress (None outside one).
_DECIDE: ContextVar = ContextVar("tapegrad_decide", default=None)


class Unsupported(TypeError):
    """A function did something with a symbol that has no code form (e.g. ``math.exp``)."""


class Sym:
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
        return self.args[0] if self.kind == "neg" else Sym("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return Sym("call", "abs", (self,), None)

    def __lt__(self, other):
        return Sym("cmp", "<", self, sym(other))

    def __le__(self, other):
        return Sym("cmp", "<=", self, sym(other))

    def __gt__(self, other):
        return Sym("cmp", ">", self, sym(other))

    def __ge__(self, other):
        return Sym("cmp", ">=", self, sym(other))

    def __eq__(self, other):
        return Sym("cmp", "==", self, sym(other))

    def __ne__(self, other):
        return Sym("cmp", "!=", self, sym(other))

    __hash__ = None  # type: ignore[assignment]  # compares build symbols: not hashable

    def __bool__(self) -> bool:
        # Python asks for a truth value at a branch: the explorer chooses the side.
        cond = self if self.kind == "cmp" else Sym("cmp", "!=", self, Sym("num", 0))
        decide = _DECIDE.get()
        if decide is None:
            raise Unsupported("a symbolic condition was tested outside an exploration")
        return decide(cond)

    def __float__(self):
        raise Unsupported("a symbol has no float value (a math function was called on it)")

    __int__ = __index__ = __float__

    def __getattr__(self, name):
        # The generic functions of autograd.ops call x.exp(), x.leaky_relu(slope), ...
        # on anything that is not a number: every op of the table becomes a call.
        if name.startswith("_") or name not in OPS:
            raise AttributeError(name)
        return lambda arg=None: Sym("call", name, (self,), arg)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def sym(x) -> Sym:
    if isinstance(x, Sym):
        return x
    if _is_num(x):
        return Sym("num", x)
    raise Unsupported(f"{type(x).__name__} {x!r} has no code form")


def num_is(s: Sym, value: float) -> bool:
    return s.kind == "num" and s.args[0] == value


def _binary(op: str, a, b) -> Sym:
    """``a op b``, dropping factors that change no bit: x * 1, x / 1, x ** 1, x * -1 = -x."""
    a, b = sym(a), sym(b)
    if op == "*":
        for one, other in ((a, b), (b, a)):
            if num_is(one, 1.0):
                return other
            if num_is(one, -1.0):
                return -other
    if op in ("/", "**") and num_is(b, 1.0):
        return a
    return Sym("bin", op, a, b)


class _Path:
    """Chooses the branches of one run: the forced prefix, then True for each new branch."""

    def __init__(self, forced: tuple, todo: list) -> None:
        self.forced = forced
        self.todo = todo
        self.made: list[tuple[Sym, bool]] = []

    def __call__(self, cond: Sym) -> bool:
        k = len(self.made)
        if k < len(self.forced):
            choice = self.forced[k]
        else:
            choice = True
            # Come back later for the other side of this branch.
            self.todo.append((*(c for _, c in self.made), False))
        self.made.append((cond, choice))
        return choice


def explore(run, limit: int = 64) -> list:
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
            raise Unsupported(f"more than {limit} branches")
    return paths
