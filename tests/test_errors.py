"""Errors that explain themselves: each names the op and the operand values.

Domain errors raise the matching Python exception; nothing here may return a
complex number or a silent NaN.
"""

from __future__ import annotations

import math
import re

import pytest

import autograd
from autograd import Value, constant, explain, linear

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def numbers_in(message: str) -> list[float]:
    """Every number written in ``message``, as floats."""
    return [float(m) for m in _NUMBER.findall(message)]


def assert_explains(err, op: str, *operands: float):
    """The message names ``op`` as a word and writes each operand's value."""
    message = str(err.value)
    assert re.search(rf"\b{re.escape(op)}\b", message), f"{op!r} not named in: {message}"
    found = numbers_in(message)
    for x in operands:
        assert x in found, f"operand {x!r} not named in: {message}"


# (id, expression, exception type, op named, operand values named)
DOMAIN_ERRORS = [
    ("log(0)", lambda: Value(0.0).log(), ValueError, "log", (0.0,)),
    ("log(-2)", lambda: Value(-2.0).log(), ValueError, "log", (-2.0,)),
    ("sqrt(-1)", lambda: Value(-1.0).sqrt(), ValueError, "sqrt", (-1.0,)),
    ("(-8)**0.5", lambda: Value(-8.0) ** 0.5, ValueError, "pow", (-8.0, 0.5)),
    ("(-8)**(1/3)", lambda: Value(-8.0) ** (1 / 3), ValueError, "pow", (-8.0, 1 / 3)),
    ("Value(-8)**Value(0.5)", lambda: Value(-8.0) ** Value(0.5), ValueError, "pow", (-8.0, 0.5)),
    ("-8 ** Value(0.5)", lambda: (-8) ** Value(0.5), ValueError, "pow", (-8.0, 0.5)),
    ("0**-1", lambda: Value(0.0) ** -1, ZeroDivisionError, "pow", (0.0, -1.0)),
    ("0**Value(-1)", lambda: 0 ** Value(-1.0), ZeroDivisionError, "pow", (0.0, -1.0)),
    ("Value/0", lambda: Value(3.5) / 0, ZeroDivisionError, "div", (3.5, 0.0)),
    ("number/Value(0)", lambda: 1 / Value(0.0), ZeroDivisionError, "div", (1.0, 0.0)),
    ("Value/Value(0)", lambda: Value(2.5) / Value(0.0), ZeroDivisionError, "div", (2.5, 0.0)),
    ("exp(1000)", lambda: Value(1000.0).exp(), OverflowError, "exp", (1000.0,)),
    ("exp(710)", lambda: Value(710.0).exp(), OverflowError, "exp", (710.0,)),
    ("10**400", lambda: Value(10.0) ** 400, OverflowError, "pow", (10.0, 400.0)),
    ("10**Value(400)", lambda: Value(10.0) ** Value(400.0), OverflowError, "pow", (10.0, 400.0)),
    ("10 ** Value(400)", lambda: 10 ** Value(400.0), OverflowError, "pow", (10.0, 400.0)),
    ("generic log(0)", lambda: autograd.log(0.0), ValueError, "log", (0.0,)),
    ("generic sqrt(-1)", lambda: autograd.sqrt(-1.0), ValueError, "sqrt", (-1.0,)),
    ("generic exp(1000)", lambda: autograd.exp(1000.0), OverflowError, "exp", (1000.0,)),
]


@pytest.mark.parametrize(
    "expr, kind, op, operands", [e[1:] for e in DOMAIN_ERRORS], ids=[e[0] for e in DOMAIN_ERRORS]
)
def test_domain_errors_name_the_op_and_operands(expr, kind, op, operands):
    with pytest.raises(kind) as err:
        expr()
    assert type(err.value) is kind
    assert_explains(err, op, *operands)


def test_exp_just_below_the_overflow_threshold_is_finite():
    largest = math.log(1.7976931348623157e308)
    assert math.isfinite(Value(largest).exp().data)
    with pytest.raises(OverflowError):
        Value(math.nextafter(largest, math.inf)).exp()  # where math.exp overflows too


# Derivatives that do not exist where the value does: backward says so, by op and value.
BACKWARD_ERRORS = [
    ("sqrt at 0", lambda x: x.sqrt(), 0.0, "sqrt", (0.0,)),
    ("x**0.5 at 0", lambda x: x**0.5, 0.0, "pow", (0.0, 0.5)),
]


@pytest.mark.parametrize(
    "build, at, op, operands", [e[1:] for e in BACKWARD_ERRORS], ids=[e[0] for e in BACKWARD_ERRORS]
)
def test_backward_errors_name_the_op_and_operands(build, at, op, operands):
    x = Value(at)
    out = build(x)
    with pytest.raises((ArithmeticError, ValueError)) as err:
        out.backward()
    assert_explains(err, op, *operands)
    message = str(err.value)
    assert "backward" in message and "derivative" in message
    # Raised afresh with that message, not the rule's bare ZeroDivisionError chained below it.
    assert err.value.__cause__ is None and err.value.__suppress_context__


@pytest.mark.parametrize("base", [-8.0, -2.0, -0.5, -1e-300])
@pytest.mark.parametrize("exponent", [0.5, 1 / 3, -0.25, 2.5, 1e-9])
def test_negative_base_to_fractional_power_never_gives_complex(base, exponent):
    for expr in (
        lambda: Value(base) ** exponent,
        lambda: Value(base) ** Value(exponent),
        lambda: base ** Value(exponent),
    ):
        with pytest.raises(ValueError, match="pow"):
            expr()


@pytest.mark.parametrize("base", [-8.0, -2.0, -0.5])
@pytest.mark.parametrize("exponent", [-3, -2.0, 0, 1, 2, 3.0])
def test_negative_base_to_integer_power_is_real(base, exponent):
    for out in (Value(base) ** exponent, Value(base) ** Value(exponent)):
        assert type(out.data) is float
        assert out.data == pytest.approx(math.pow(base, exponent), rel=1e-15)


@pytest.mark.parametrize(
    "data, type_name",
    [(True, "bool"), ("abc", "str"), (None, "NoneType"), (1j, "complex"), ([1.0], "list")],
)
def test_value_rejects_non_numbers_with_a_sentence(data, type_name):
    with pytest.raises(TypeError) as err:
        Value(data)
    message = str(err.value)
    assert type_name in message and repr(data) in message  # what was given
    assert "int" in message and "float" in message  # what is accepted


def test_value_of_a_value_points_to_data_or_detach():
    with pytest.raises(TypeError) as err:
        Value(Value(1.0))
    message = str(err.value)
    assert "Value" in message and ("v.data" in message or "detach" in message)


def test_false_is_rejected_too():
    with pytest.raises(TypeError, match="bool"):
        Value(False)


@pytest.mark.parametrize("slope", ["0.1", None, True])
def test_leaky_relu_slope_must_be_a_number(slope):
    with pytest.raises(TypeError) as err:
        Value(1.0).leaky_relu(slope)
    assert "leaky_relu" in str(err.value) and repr(slope) in str(err.value)


def test_linear_needs_as_many_weights_as_inputs():
    with pytest.raises(ValueError) as err:
        linear([Value(1.0), Value(2.0)], [Value(3.0)], 0.0)
    assert_explains(err, "linear", 2.0, 1.0)  # the two counts


@pytest.mark.parametrize("bad", ["w", None, True, 1j])
def test_linear_rejects_non_numbers(bad):
    with pytest.raises(TypeError) as err:
        linear([bad], [Value(1.0)], 0.0)
    assert "linear" in str(err.value) and repr(bad) in str(err.value)


# Value ** Value: each derivative on its own, as PyTorch; one that does not exist stops nothing.
POW_CASES = [
    # (base, exponent, d/dbase, d/dexponent)
    (-2.0, 2.0, -4.0, math.nan),  # log(-2) has no real value: nan for the exponent only
    (0.0, 0.5, math.inf, 0.0),  # infinitely steep at 0; the exponent's limit is 0
    (0.0, 0.0, 0.0, 0.0),  # 0 ** 0: PyTorch's limits
    (0.0, 2.0, 0.0, 0.0),
    (2.0, 3.0, 12.0, 8.0 * math.log(2.0)),
]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(("x", "y", "dx", "dy"), POW_CASES)
def test_value_to_a_value_power_gives_each_derivative_that_exists(x, y, dx, dy):
    base, exponent = Value(x), Value(y)
    (base**exponent).backward()
    assert _same(base.grad, dx) and _same(exponent.grad, dy)


@pytest.mark.parametrize(("x", "y", "dx", "dy"), POW_CASES)
def test_a_constant_operand_of_a_power_never_stops_the_other_gradient(x, y, dx, dy):
    base, exponent = Value(x), Value(y)
    (base ** constant(y)).backward()
    assert _same(base.grad, dx)
    (constant(x) ** exponent).backward()
    assert _same(exponent.grad, dy)


def test_explain_of_a_power_with_a_negative_base_is_the_base_gradient():
    x = Value(-2.0, label="x")
    explanation = explain(x, x ** Value(2.0), quiet=True)
    assert explanation.total == -4.0
