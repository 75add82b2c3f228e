"""The derivative-rule table: every op's forward and its local derivatives.

Each op is one row of ``OPS``: a name, a ``forward(xs, arg)`` on plain floats
and a ``backward(xs, out, arg)`` rule.  ``xs`` holds the operands in order,
``out`` the forward result, ``arg`` an optional constant of the op (the
exponent of ``x ** n``, the slope of ``leaky_relu``).

A rule returns one *local* derivative d(out)/d(x_i) per operand.  It never
touches ``.grad``: the engine multiplies by the upstream gradient and adds the
result into each parent, in one place.  Rules use only arithmetic and the
generic functions below, so the same text runs on floats (first-order
gradients) and on ``Value`` objects (``create_graph=True``, for derivatives of
derivatives).

Adding an op is adding a row: a forward, a rule, a symbol for pictures.

Numbers follow one policy for every op: finite inputs give a finite result
or an error that names the op and its operands.  An input outside the op's
domain raises ``ValueError`` or ``ZeroDivisionError`` (``log(0)``,
``sqrt(-1)``, ``1 / 0``, a negative base to a non-integer power); a result
too large for a float raises ``OverflowError`` (``exp(800)``, ``1e308 * 10``:
``overflow_error``, checked for every op where a Value is made).  A NaN or
inf that comes in goes out, as in PyTorch (``relu(nan)`` is nan, never 0;
``sin(inf)`` is nan): ``detect_anomaly()`` names the op that first saw one,
and ``fit`` stops with ``stop_reason='diverged'`` when one reaches the loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:  # value.py imports this module: the names are for annotations only
    from typing_extensions import TypeIs

    from .value import Value

# The generic functions below: a float (or int) in, a float out; a Value in, a Value out.
Num = TypeVar("Num", float, "Value")

# Forward helpers -------------------------------------------------------------

_EXP_MAX = math.log(1.7976931348623157e308)  # ~709.78: exp() above this overflows


def _fmt(x: float) -> str:
    return repr(float(x))


def overflow_error(op: str, xs, arg=None, note: str = "") -> OverflowError:
    """The error for finite operands whose result is too large for a float."""
    shown = [_fmt(x) for x in xs] + ([] if arg is None else [_fmt(arg)])
    if len(shown) > 8:  # a wide linear node: enough to recognise it
        shown = [*shown[:6], f"... ({len(shown)} operands)"]
    extra = f" ({note})" if note else ""
    return OverflowError(f"{op}: result overflows a float: {op}({', '.join(shown)}){extra}")


def _is_number(x: object) -> TypeIs[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# Generic math: floats in, floats out; Values in, Values out -------------------
# The rules call these, which is what lets one rule serve both kinds of input.


def exp(x: Num) -> Num:
    """e ** x."""
    return _exp_fwd((x,), None) if _is_number(x) else x.exp()


def log(x: Num) -> Num:
    """Natural logarithm, defined for x > 0."""
    return _log_fwd((x,), None) if _is_number(x) else x.log()


def sqrt(x: Num) -> Num:
    """Square root, defined for x >= 0."""
    return _sqrt_fwd((x,), None) if _is_number(x) else x.sqrt()


def tanh(x: Num) -> Num:
    """Hyperbolic tangent."""
    return math.tanh(x) if _is_number(x) else x.tanh()


def sigmoid(x: Num) -> Num:
    """Logistic function 1 / (1 + e^-x)."""
    return _sigmoid_fwd((x,), None) if _is_number(x) else x.sigmoid()


def softplus(x: Num) -> Num:
    """log(1 + e^x), a smooth ReLU."""
    return _softplus_fwd((x,), None) if _is_number(x) else x.softplus()


def relu(x: Num) -> Num:
    """max(x, 0)."""
    return _relu_fwd((x,), None) if _is_number(x) else x.relu()


def leaky_relu(x: Num, slope: float = 0.01) -> Num:
    """x for x > 0, slope * x otherwise."""
    return _leaky_fwd((x,), slope) if _is_number(x) else x.leaky_relu(slope)


def sin(x: Num) -> Num:
    """Sine."""
    return _sin_fwd((x,), None) if _is_number(x) else x.sin()


def cos(x: Num) -> Num:
    """Cosine."""
    return _cos_fwd((x,), None) if _is_number(x) else x.cos()


def _sign(x) -> float:
    # The derivative of |x| and the kinks follow PyTorch: sign(0) = 0.
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _is_zero(x) -> bool:
    # Values compare by identity with ==, so a rule asks about the number itself.
    return (x.data if hasattr(x, "data") else x) == 0


def _is_negative(x) -> bool:
    return (x.data if hasattr(x, "data") else x) < 0


# Forward functions (floats only) -----------------------------------------------


def _add_fwd(xs, arg):
    return xs[0] + xs[1]


def _sub_fwd(xs, arg):
    return xs[0] - xs[1]


def _mul_fwd(xs, arg):
    return xs[0] * xs[1]


def _div_fwd(xs, arg):
    x, y = xs
    if y == 0:
        raise ZeroDivisionError(f"div: division by zero in {_fmt(x)} / {_fmt(y)}")
    return x / y


def _neg_fwd(xs, arg):
    return -xs[0]


def _power(op: str, x: float, n: float) -> float:
    """x ** n over the reals, raising a clear error where it has no real value."""
    if x < 0 and not float(n).is_integer():
        raise ValueError(
            f"{op}: a negative base to a non-integer power has no real value: "
            f"({_fmt(x)}) ** {_fmt(n)}"
        )
    if x == 0 and n < 0:
        raise ZeroDivisionError(f"{op}: zero to a negative power: ({_fmt(x)}) ** {_fmt(n)}")
    try:
        return float(x) ** n
    except OverflowError:
        raise overflow_error(op, (x, n)) from None


def _pow_fwd(xs, n):
    return _power("pow", xs[0], n)


def _vpow_fwd(xs, arg):
    return _power("pow", xs[0], xs[1])


def _abs_fwd(xs, arg):
    return abs(xs[0])


def _exp_fwd(xs, arg):
    x = xs[0]
    if _EXP_MAX < x < math.inf:  # exp(inf) = inf: an inf that came in, not an overflow
        raise overflow_error("exp", xs, note=f"inputs above {_EXP_MAX:.2f} overflow")
    return math.exp(x)


def _log_fwd(xs, arg):
    x = xs[0]
    if x <= 0:
        raise ValueError(f"log: input must be > 0, got log({_fmt(x)})")
    return math.log(x)


def _sqrt_fwd(xs, arg):
    x = xs[0]
    if x < 0:
        raise ValueError(f"sqrt: input must be >= 0, got sqrt({_fmt(x)})")
    return math.sqrt(x)


def _tanh_fwd(xs, arg):
    return math.tanh(xs[0])


def _sigmoid_fwd(xs, arg):
    x = xs[0]
    # Two branches so that exp() only ever sees a non-positive argument.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus_fwd(xs, arg):
    x = xs[0]
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): no overflow for large |x|.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _relu_fwd(xs, arg):
    x = xs[0]
    return 0.0 if x <= 0 else x  # written so that NaN passes through (nan <= 0 is False)


def _leaky_fwd(xs, slope):
    x = xs[0]
    return x if x > 0 else slope * x


def _sin_fwd(xs, arg):
    x = xs[0]
    return math.sin(x) if math.isfinite(x) else math.nan  # IEEE: sin(+-inf) is nan


def _cos_fwd(xs, arg):
    x = xs[0]
    return math.cos(x) if math.isfinite(x) else math.nan


def _linear_fwd(xs, arg):
    n = len(xs) // 2
    acc = xs[-1]
    for w, x in zip(xs, xs[n:-1]):  # (w_1..w_n, x_1..x_n, b): zip stops after w_n
        acc += w * x
    return acc


# Backward rules: local derivatives, one per operand ------------------------------


def add_rule(xs, out, arg):
    """d(x + y)/dx = 1,  d(x + y)/dy = 1."""
    return 1.0, 1.0


def sub_rule(xs, out, arg):
    """d(x - y)/dx = 1,  d(x - y)/dy = -1."""
    return 1.0, -1.0


def mul_rule(xs, out, arg):
    """d(x * y)/dx = y,  d(x * y)/dy = x."""
    x, y = xs
    return y, x


def div_rule(xs, out, arg):
    """d(x / y)/dx = 1/y,  d(x / y)/dy = -x/y^2 = -out/y."""
    y = xs[1]
    return 1.0 / y, -out / y


def neg_rule(xs, out, arg):
    """d(-x)/dx = -1."""
    return (-1.0,)


def pow_rule(xs, out, n):
    """d(x^n)/dx = n * x^(n-1), for a constant exponent n."""
    if n == 0:
        return (0.0,)
    return (n * xs[0] ** (n - 1),)


def vpow_rule(xs, out, arg):
    """d(x^y)/dx = y * x^(y-1),  d(x^y)/dy = x^y * log(x).

    Each derivative is computed on its own, so one that does not exist never
    stops the other (as in PyTorch): d/dy of a negative base is nan (log(x)
    has no real value), and d/dx at x = 0 for 0 < y < 1 is inf.
    """
    x, y = xs
    if _is_zero(x):
        # 0 ** 0 takes the limit 0 (PyTorch); 0 ** y for 0 < y < 1 is infinitely steep.
        if _is_zero(y):
            dx = 0.0
        elif _is_negative(y - 1):
            dx = math.inf
        else:
            dx = y * x ** (y - 1)
        return dx, 0.0  # the limit of x^y * log(x) at x = 0 for y > 0 (PyTorch agrees)
    # The product keeps dx's dependence on y, which higher derivatives need even where y == 0.
    dx = y * x ** (y - 1)
    return dx, (math.nan if _is_negative(x) else out * log(x))


def abs_rule(xs, out, arg):
    """d|x|/dx = sign(x), with sign(0) = 0."""
    return (_sign(xs[0]),)


def exp_rule(xs, out, arg):
    """d(e^x)/dx = e^x: the forward output itself."""
    return (out,)


def log_rule(xs, out, arg):
    """d(log x)/dx = 1/x."""
    return (1.0 / xs[0],)


def sqrt_rule(xs, out, arg):
    """d(sqrt x)/dx = 1 / (2 sqrt x), infinite at x = 0."""
    return (0.5 / out,)


def tanh_rule(xs, out, arg):
    """d(tanh x)/dx = 1 - tanh(x)^2, reusing the forward output."""
    return (1.0 - out * out,)


def sigmoid_rule(xs, out, arg):
    """d(s(x))/dx = s(x) (1 - s(x)), reusing the forward output."""
    return (out * (1.0 - out),)


def softplus_rule(xs, out, arg):
    """d(log(1 + e^x))/dx = sigmoid(x)."""
    return (sigmoid(xs[0]),)


def relu_rule(xs, out, arg):
    """d(max(x, 0))/dx = 1 if x > 0 else 0 (0 at the kink, as PyTorch)."""
    return (0.0 if xs[0] <= 0 else 1.0,)  # 1 at NaN, as PyTorch: the NaN upstream carries on


def leaky_relu_rule(xs, out, slope):
    """d/dx = 1 if x > 0 else slope (slope at the kink, as PyTorch)."""
    return (1.0 if xs[0] > 0 else slope,)


def sin_rule(xs, out, arg):
    """d(sin x)/dx = cos x."""
    return (cos(xs[0]),)


def cos_rule(xs, out, arg):
    """d(cos x)/dx = -sin x."""
    return (-sin(xs[0]),)


def linear_rule(xs, out, arg):
    """out = b + sum_i w_i x_i:  d/dw_i = x_i,  d/dx_i = w_i,  d/db = 1.

    Operands are (w_1..w_n, x_1..x_n, b): one node for a whole neuron's
    weighted sum, instead of 2n nodes of ``*`` and ``+``.
    """
    n = len(xs) // 2
    return (*xs[n : 2 * n], *xs[:n], 1.0)


# The table -------------------------------------------------------------------


class Op(NamedTuple):
    """One row of the table: how to compute an op and how to differentiate it."""

    name: str
    forward: Callable
    backward: Callable
    symbol: str  # how pictures and tapes show it


OPS: dict[str, Op] = {}


def register(name: str, forward: Callable, backward: Callable, symbol: str) -> None:
    """Add an op to the table; each name has exactly one rule."""
    if name in OPS:
        raise ValueError(f"op {name!r} is already registered")
    OPS[name] = Op(name, forward, backward, symbol)


register("add", _add_fwd, add_rule, "+")
register("sub", _sub_fwd, sub_rule, "-")
register("mul", _mul_fwd, mul_rule, "*")
register("div", _div_fwd, div_rule, "/")
register("neg", _neg_fwd, neg_rule, "neg")
register("pow", _pow_fwd, pow_rule, "**")
register("vpow", _vpow_fwd, vpow_rule, "**")
register("abs", _abs_fwd, abs_rule, "abs")
register("exp", _exp_fwd, exp_rule, "exp")
register("log", _log_fwd, log_rule, "log")
register("sqrt", _sqrt_fwd, sqrt_rule, "sqrt")
register("tanh", _tanh_fwd, tanh_rule, "tanh")
register("sigmoid", _sigmoid_fwd, sigmoid_rule, "sigmoid")
register("softplus", _softplus_fwd, softplus_rule, "softplus")
register("relu", _relu_fwd, relu_rule, "ReLU")
register("leaky_relu", _leaky_fwd, leaky_relu_rule, "LeakyReLU")
register("sin", _sin_fwd, sin_rule, "sin")
register("cos", _cos_fwd, cos_rule, "cos")
register("linear", _linear_fwd, linear_rule, "linear")


def rule_for(op: str) -> Callable:
    """The backward rule of ``op``, or a clear error when the table has none."""
    try:
        return OPS[op].backward
    except KeyError:
        raise NotImplementedError(
            f"no derivative rule for op {op!r}: add a row for it in autograd/ops.py"
        ) from None
