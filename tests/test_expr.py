"""The safe expression parser: what it builds, and everything it refuses (with where)."""

from __future__ import annotations

import builtins
import math

import pytest

from autograd.expr import FUNCTIONS, ExpressionError, build, evaluate, parse, variables


def test_builds_the_graph_and_gradients_of_a_neuron():
    out, leaves = build("tanh(x*w + b)", {"x": 2, "w": -3, "b": 6.88})
    out.backward()
    t = math.tanh(2 * -3 + 6.88)
    assert out.data == pytest.approx(t)
    dt = 1 - t * t
    assert leaves["x"].grad == pytest.approx(-3 * dt)
    assert leaves["w"].grad == pytest.approx(2 * dt)
    assert leaves["b"].grad == pytest.approx(dt)
    assert [v.label for v in leaves.values()] == ["x", "w", "b"]


def test_a_name_used_twice_is_one_leaf():
    out, leaves = build("x*x + 3*x", {"x": 2.0})
    out.backward()
    assert out.data == 10.0 and leaves["x"].grad == 7.0  # 2x + 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("2 ** 3 ** 2", 512.0),  # right-associative, as in Python
        ("-x ** 2", -4.0),  # unary minus binds looser than **
        ("+x - -x", 4.0),
        ("x / 4", 0.5),
        ("2 ** x", 4.0),
        ("x ** y", 8.0),
        ("x ** -1", 0.5),
        ("x ** 0.5", math.sqrt(2)),
        ("exp(x) + log(x) + sqrt(x)", math.exp(2) + math.log(2) + math.sqrt(2)),
        (
            "sigmoid(x) + relu(-x) + softplus(x)",
            1 / (1 + math.exp(-2)) + 0 + math.log1p(math.exp(2)),
        ),
        ("sin(x) * cos(x) + abs(-x)", math.sin(2) * math.cos(2) + 2),
        ("leaky_relu(-x) + leaky_relu(-x, 0.5) + leaky_relu(x, -0.5)", -0.02 - 1 + 2),
        ("  x + 1", 3.0),
        ("7", 7.0),
    ],
)
def test_values_match_plain_math(text, expected):
    assert evaluate(text, {"x": 2.0, "y": 3.0}) == pytest.approx(expected)


def test_every_whitelisted_function_works():
    for name in FUNCTIONS:
        out, leaves = build(f"{name}(x)", {"x": 0.7})
        out.backward()
        assert math.isfinite(leaves["x"].grad)


def test_literal_exponents_stay_constants_of_the_op_and_negative_literals_fold():
    out, _ = build("x ** 2", {"x": 3.0})
    assert (out.op, out.arg) == ("pow", 2)
    out, _ = build("x ** y", {"x": 3.0, "y": 2.0})
    assert out.op == "vpow"
    out, _ = build("x * -3", {"x": 1.0})
    assert out.op == "mul" and out.parents[1].op == "const" and out.parents[1].data == -3.0
    out, _ = build("7", {})
    assert out.op == "const" and out.data == 7.0


def test_variables_in_order_of_appearance():
    assert variables(parse("tanh(w*x + b) + w")) == ["w", "x", "b"]
    assert variables(parse("exp(2)")) == []


def test_nothing_is_evaluated_by_python(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert evaluate("tanh(x*w + b)", {"x": 1.0, "w": 0.0, "b": 0.0}) == 0.0


# Refusals -------------------------------------------------------------------------

HOSTILE = [
    # (expression, text expected in the message, column of the bad part)
    ("__import__('os').system('echo hi')", "calling an attribute", 1),
    ("__import__('os')", "the function '__import__' (unknown)", 1),
    ("x.__class__", "attribute access", 1),
    ("x.real + 1", "attribute access", 1),
    ("open('f', 'w')", "the function 'open' (unknown)", 1),
    ("eval('1')", "the function 'eval' (unknown)", 1),
    ("(lambda: 1)()", "this call", 2),
    ("x + (lambda: 1)", "a lambda", 6),
    ("[t for t in (1, 2)]", "a comprehension", 1),
    ("(t for t in (1,))", "a generator expression", 1),
    ("x[0]", "subscripting", 1),
    ("'abc'", "a string", 1),
    ("x + b'a'", "a string", 5),
    ("f'{x}'", "an f-string", 1),
    ("x if x else 1", "a conditional expression", 1),
    ("x < 1", "a comparison", 1),
    ("x and 1", "a boolean operator", 1),
    ("(x := 2)", "an assignment", 2),
    ("x // 2", "the operator //", 1),
    ("x % 2", "the operator %", 1),
    ("x @ x", "the operator @", 1),
    ("~x", "the operator Invert", 1),
    ("not x", "the operator Not", 1),
    ("tanh(x, y=1)", "a keyword argument to tanh", 11),
    ("tanh(*[x])", "a starred argument", 6),
    ("tanh", "the function tanh without a call", 1),
    ("leaky_relu(x, x)", "a non-number as the constant argument of leaky_relu", 15),
    ("x ** 1000", "an exponent beyond ±100", 6),
    ("x ** -101", "an exponent beyond ±100", 6),
    ("9 ** 9 ** 9", "an exponent beyond ±100", 6),
    ("1e999 * x", "a number this large", 1),
    ("True + x", "True", 1),
    ("None", "None", 1),
    ("1j * x", "1j", 1),
    ("[x]", "a list", 1),
    ("{x: 1}", "a dict", 1),
    ("(x, x)", "a tuple", 1),
    ("z + 1", "unknown name 'z'", 1),
    ("x +", "not a valid expression", None),
    ("x = 1", "not a valid expression", None),
    ("import os", "not a valid expression", None),
    ("x\n+ 1", "not a valid expression", None),
]


@pytest.mark.parametrize(("text", "message", "column"), HOSTILE)
def test_hostile_or_invalid_expressions_are_refused_with_the_place(text, message, column):
    with pytest.raises(ExpressionError) as err:
        build(text, {"x": 2.0, "y": 1.0})
    assert message in str(err.value)
    if column is not None:
        assert err.value.column == column
        assert str(err.value).startswith(f"column {column}: ")
    assert isinstance(err.value, ValueError)


def test_columns_count_in_the_text_as_given():
    with pytest.raises(ExpressionError) as err:
        parse("   x + y.z")
    assert err.value.column == 8 and err.value.part == "y.z"


def test_size_limits():
    with pytest.raises(ExpressionError, match="too long"):
        parse("x+" * 600 + "x")
    with pytest.raises(ExpressionError, match="nesting deeper than 50"):
        parse("-" * 60 + "x")
    with pytest.raises(ExpressionError, match="not a valid expression"):
        parse("(" * 300 + "x" + ")" * 300)
    with pytest.raises(ExpressionError, match="empty"):
        parse("   ")
    with pytest.raises(TypeError, match="expression must be a str"):
        parse(b"x")


def test_arity_is_checked():
    with pytest.raises(ExpressionError, match=r"tanh takes 1 argument\(s\), got 2"):
        parse("tanh(x, x)")
    with pytest.raises(ExpressionError, match=r"leaky_relu takes 1 or 2 argument\(s\), got 0"):
        parse("leaky_relu()")


def test_math_errors_point_at_the_failing_part():
    with pytest.raises(ExpressionError) as err:
        build("1 + log(x - 2)", {"x": 2.0})
    assert err.value.column == 5 and "log: input must be > 0" in str(err.value)
    with pytest.raises(ExpressionError, match="division by zero"):
        build("x / (x - x)", {"x": 1.0})
    with pytest.raises(ExpressionError, match="overflows"):
        build("exp(x * 1000)", {"x": 1.0})
    with pytest.raises(ExpressionError, match="an exponent beyond ±100"):
        build("x ** y", {"x": 1.0, "y": 101.0})


def test_bindings_must_be_numbers():
    with pytest.raises(TypeError, match="the value of x must be a number"):
        build("x", {"x": "2"})
