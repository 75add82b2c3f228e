"""Value: a scalar that remembers how it was computed.

Every operation on Values makes a new Value whose ``parents`` are its operands
and whose ``op`` names the row of the rule table (``autograd/ops.py``) that
knows its derivative.  ``backward()`` walks that graph in reverse topological
order and applies the chain rule (``autograd/engine.py``).

A Value holds no closure and no reference to its children, so a graph is a
tree of plain references from the output back to the inputs and is freed by
reference counting as soon as the output is dropped.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Sequence
from typing import Any, SupportsFloat

from . import _mode, engine
from .ops import OPS, overflow_error

_OPS_FORWARD = {name: op.forward for name, op in OPS.items()}
_mode_get = _mode.MODE.get  # (grad enabled, creation watcher): read by every op
_new = object.__new__  # a Value without running __init__'s checks: _apply fills every field


def _check_data(data) -> float:
    """Any real number (int, float, Fraction, numpy scalars...) as a float; anything else raises."""
    if type(data) is float:  # the common case first
        return data
    if isinstance(data, numbers.Real) and not isinstance(data, bool):
        try:
            return float(data)
        except OverflowError:
            raise OverflowError(f"Value(): {data!r} is too large for a float") from None
    what = type(data).__name__
    hint = " (use v.data, or v.detach() for a new leaf)" if isinstance(data, Value) else ""
    raise TypeError(
        f"Value() takes a real number (int, float, Fraction, numpy scalar), got {what} "
        f"{data!r}{hint}"
    )


class Value:
    """A scalar node of a computation graph: ``data``, ``grad`` and how it was made.

    >>> a = Value(2.0); b = Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad   # dc/da = b + 1, dc/db = a
    (-2.0, 2.0)
    """

    __slots__ = ("data", "grad", "label", "_parents", "_op", "_arg", "__weakref__")

    def __init__(self, data: SupportsFloat, label: str = "") -> None:
        self.data = _check_data(data)
        self.grad = 0.0
        self.label = label
        self._parents = ()
        self._op = ""
        self._arg = None

    # Read-only view of the graph -----------------------------------------------

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this Value was computed from, in operand order (empty for a leaf)."""
        return self._parents

    @property
    def _prev(self) -> frozenset:
        """The parents as a set, as micrograd names it, so its lecture's graph code runs."""
        return frozenset(self._parents)

    @property
    def op(self) -> str:
        """The name of the op that made this Value ('' for a leaf, 'const' for a wrapped number)."""
        return self._op

    @property
    def arg(self) -> Any:
        """The op's constant, if any: the exponent of ``x ** n``, the slope of ``leaky_relu``."""
        return self._arg

    @property
    def is_leaf(self) -> bool:
        """True when no op made this Value (an input, a parameter or a constant)."""
        return not self._parents

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # Arithmetic -----------------------------------------------------------------

    def __add__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("add", (self, other))

    def __radd__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("add", (other, self))

    def __sub__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("sub", (self, other))

    def __rsub__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("sub", (other, self))

    def __mul__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("mul", (self, other))

    def __rmul__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("mul", (other, self))

    def __truediv__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("div", (self, other))

    def __rtruediv__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("div", (other, self))

    def __pow__(self, other):
        if isinstance(other, Value):
            return _apply("vpow", (self, other))
        if not _is_real(other):
            return NotImplemented
        return _apply("pow", (self,), float(other))

    def __rpow__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("vpow", (other, self))

    def __neg__(self):
        return _apply("neg", (self,))

    def __pos__(self):
        return self

    def __abs__(self):
        return _apply("abs", (self,))

    # Functions ------------------------------------------------------------------

    def exp(self) -> Value:
        """e ** self."""
        return _apply("exp", (self,))

    def log(self) -> Value:
        """Natural logarithm; raises ValueError for data <= 0."""
        return _apply("log", (self,))

    def sqrt(self) -> Value:
        """Square root; raises ValueError for data < 0."""
        return _apply("sqrt", (self,))

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return _apply("tanh", (self,))

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x), stable for any finite input."""
        return _apply("sigmoid", (self,))

    def softplus(self) -> Value:
        """log(1 + e^x), stable for any finite input."""
        return _apply("softplus", (self,))

    def relu(self) -> Value:
        """max(x, 0)."""
        return _apply("relu", (self,))

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope * x."""
        if not _is_real(slope):
            raise TypeError(f"leaky_relu: slope must be a number, got {slope!r}")
        return _apply("leaky_relu", (self,), float(slope))

    def sin(self) -> Value:
        """Sine."""
        return _apply("sin", (self,))

    def cos(self) -> Value:
        """Cosine."""
        return _apply("cos", (self,))

    # Comparisons look at data only; == and hash stay identity so Values can key dicts.
    # A comparison steers the caller's code path, so a compiled tape records it as a guard.

    def __lt__(self, other):
        return _compare(self, "<", other)

    def __le__(self, other):
        return _compare(self, "<=", other)

    def __gt__(self, other):
        return _compare(self, ">", other)

    def __ge__(self, other):
        return _compare(self, ">=", other)

    # Gradients ------------------------------------------------------------------

    def backward(self, create_graph: bool = False) -> dict[Value, Value] | None:
        """Fill ``.grad`` of every node with d(self)/d(node); see ``engine.backward``."""
        return engine.backward(self, create_graph=create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data and label, cut off from this graph."""
        return Value(self.data, self.label)

    # Notebook display (rendering lives in autograd.viz, imported only when asked).

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .viz import mimebundle

        return mimebundle(self, metadata=True)

    def to_svg(self, **options: Any) -> str:
        """This Value's graph as SVG text (needs a renderer; see autograd.viz)."""
        from .viz import to_svg

        return to_svg(self, **options)


def _is_real(x) -> bool:
    """A real number that is not a bool: int, float, Fraction, numpy scalars..."""
    if isinstance(x, (int, float)):  # the common case, without the slower ABC check
        return not isinstance(x, bool)
    return isinstance(x, numbers.Real)


def _number(x):
    if isinstance(x, Value):
        return x.data
    return float(x) if _is_real(x) else None


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _compare(v: Value, symbol: str, other):
    """``v <symbol> other`` on data, told to the comparison watcher if one is set (tracing)."""
    x = _number(other)
    if x is None:
        return NotImplemented
    result = _COMPARE[symbol](v.data, x)
    watcher = _mode.COMPARISON_WATCHER.get()
    if watcher is not None:
        watcher(v, symbol, other, result)
    return result


def _coerce(x):
    """Operands: Values pass, numbers become constant leaves, anything else is None."""
    if isinstance(x, Value):
        return x
    return constant(x) if _is_real(x) else None


def constant(x: SupportsFloat) -> Value:
    """A leaf for a plain number used in an expression (``op == 'const'``)."""
    v = Value(x)
    v._op = "const"
    return v


def _apply(op: str, operands: tuple, arg=None) -> Value:
    """Run ``op``'s forward on the operands' data and record the new node."""
    out = _new(Value)
    xs = [v.data for v in operands]
    out.data = data = _OPS_FORWARD[op](xs, arg)
    # x - x is 0.0 for every finite x and nan for nan and +-inf: one cheap test per op.
    if data - data != 0.0 and all(x - x == 0.0 for x in xs):
        raise overflow_error(op, xs, arg)  # finite in, not finite out: an overflow
    out.grad = 0.0
    out.label = ""
    out._arg = arg
    grad_enabled, watcher = _mode_get()
    if grad_enabled:
        out._parents = operands
        out._op = op
    else:
        out._parents = ()
        out._op = ""
    if watcher is not None:
        watcher(out, op, operands)
    return out


def linear(
    weights: Sequence[Value | float],
    inputs: Sequence[Value | float],
    bias: Value | float,
    *,
    all_values: bool = False,
) -> Value:
    """``bias + sum_i weights[i] * inputs[i]`` as one node (one neuron's weighted sum).

    Same value and gradients as the loop of ``*`` and ``+``, with 1 node
    instead of 2n; numbers among the operands become constants.  A caller
    that knows every operand is already a Value (nn's layers: parameters, and
    inputs they have wrapped) passes ``all_values=True`` to skip that check,
    which is a third of the node's cost.
    """
    operands = (*weights, *inputs, bias)
    if len(operands) != 2 * len(weights) + 1:
        raise ValueError(f"linear: got {len(weights)} weights for {len(inputs)} inputs")
    if not all_values and set(map(type, operands)) != _ONLY_VALUES:
        operands = tuple(_operand("linear", v) for v in operands)
    return _apply("linear", operands)


_ONLY_VALUES = {Value}


def _operand(op: str, x) -> Value:
    v = _coerce(x)
    if v is None:
        raise TypeError(f"{op}: operands must be Values or numbers, got {type(x).__name__} {x!r}")
    return v
