"""The rule table, one op at a time: forward against ``math``, backward against central differences.

``CASES`` is the catalogue: every row of ``autograd.ops.OPS`` needs at least one
case, and ``test_every_op_has_a_case`` fails when a new op arrives without one.
"""

from __future__ import annotations

import math
import operator
import random
import re
from collections.abc import Callable
from typing import NamedTuple

import pytest

import autograd
from autograd import OPS, Value, gradcheck, gradients, linear, numerical_grad
from autograd.functional import GradcheckError

# Points away from every kink, so central differences are valid everywhere below.
GRID = (-2.5, -1.3, -0.7, -0.1, 0.2, 0.9, 1.6, 3.0)
POSITIVE = (0.1, 0.5, 1.3, 2.7, 7.0)
PAIRS = tuple((x, y) for x in (-2.5, -0.7, 0.2, 1.6) for y in (-1.3, -0.1, 0.9, 3.0))
POSITIVE_BASE_PAIRS = tuple((x, y) for x in (0.1, 0.8, 2.7) for y in (-2.5, -0.5, 0.0, 1.0, 2.2))
LINEAR_POINTS = (
    (0.5, -1.2, 2.0, 0.3, -0.4),
    (-2.0, 0.7, -0.1, 1.5, 3.0),
    (1.1, 1.1, -1.1, 1.1, 0.0),
)


def one(points):
    """Wrap single numbers as 1-tuples of arguments."""
    return tuple((p,) for p in points)


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _tanh(x):
    return (math.exp(2 * x) - 1.0) / (math.exp(2 * x) + 1.0)


class Case(NamedTuple):
    """One expression that exercises ``op``, its ``math`` reference and where to test it."""

    op: str
    build: Callable  # Values -> Value whose op is ``op``
    ref: Callable  # floats -> float, written with ``math`` only
    points: tuple  # argument tuples at which the op is smooth


CASES = [
    Case("add", lambda x, y: x + y, operator.add, PAIRS),
    Case("add", lambda x: 2.5 + x, lambda x: 2.5 + x, one(GRID)),
    Case("sub", lambda x, y: x - y, operator.sub, PAIRS),
    Case("sub", lambda x: 2.5 - x, lambda x: 2.5 - x, one(GRID)),
    Case("mul", lambda x, y: x * y, operator.mul, PAIRS),
    Case("mul", lambda x: x * x, lambda x: x * x, one(GRID)),
    Case("mul", lambda x: -1.5 * x, lambda x: -1.5 * x, one(GRID)),
    Case("div", lambda x, y: x / y, operator.truediv, PAIRS),
    Case("div", lambda x: 1.5 / x, lambda x: 1.5 / x, one(GRID)),
    Case("neg", lambda x: -x, operator.neg, one(GRID)),
    Case("pow", lambda x: x**2, lambda x: x * x, one(GRID)),
    Case("pow", lambda x: x**3, lambda x: x * x * x, one(GRID)),
    Case("pow", lambda x: x**-1, lambda x: 1.0 / x, one(GRID)),
    Case("pow", lambda x: x**0, lambda x: 1.0, one(GRID)),
    Case("pow", lambda x: x**0.5, math.sqrt, one(POSITIVE)),
    Case("pow", lambda x: x**-1.5, lambda x: math.pow(x, -1.5), one(POSITIVE)),
    Case("vpow", lambda x, y: x**y, math.pow, POSITIVE_BASE_PAIRS),
    Case("vpow", lambda y: 2.0**y, lambda y: math.pow(2.0, y), one(GRID)),
    Case("abs", abs, math.fabs, one(GRID)),
    Case("exp", lambda x: x.exp(), math.exp, one(GRID)),
    Case("log", lambda x: x.log(), math.log, one(POSITIVE)),
    Case("sqrt", lambda x: x.sqrt(), math.sqrt, one(POSITIVE)),
    Case("tanh", lambda x: x.tanh(), _tanh, one(GRID)),
    Case("sigmoid", lambda x: x.sigmoid(), _sigmoid, one(GRID)),
    Case("softplus", lambda x: x.softplus(), lambda x: math.log(1.0 + math.exp(x)), one(GRID)),
    Case("relu", lambda x: x.relu(), lambda x: max(x, 0.0), one(GRID)),
    Case("leaky_relu", lambda x: x.leaky_relu(), lambda x: x if x > 0 else 0.01 * x, one(GRID)),
    Case("leaky_relu", lambda x: x.leaky_relu(0.2), lambda x: x if x > 0 else 0.2 * x, one(GRID)),
    Case("sin", lambda x: x.sin(), math.sin, one(GRID)),
    Case("cos", lambda x: x.cos(), math.cos, one(GRID)),
    Case(
        "linear",
        lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b),
        lambda w1, w2, x1, x2, b: b + w1 * x1 + w2 * x2,
        LINEAR_POINTS,
    ),
]

CASE_IDS = [f"{c.op}-{i}" for i, c in enumerate(CASES)]


def test_every_op_has_a_case():
    missing = sorted(set(OPS) - {case.op for case in CASES})
    assert not missing, f"ops with no case in the catalogue of tests/test_ops.py: {missing}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_matches_math(case):
    for point in case.points:
        out = case.build(*map(Value, point))
        assert out.op == case.op, f"{case.op} case built a {out.op!r} node at {point}"
        assert out.data == pytest.approx(case.ref(*point), rel=1e-12, abs=1e-15), point


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_matches_central_differences(case):
    for point in case.points:
        xs = [Value(p) for p in point]
        analytic = gradients(case.build(*xs), xs)
        numeric = numerical_grad(case.build, point)
        for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
            assert math.isclose(a, n, rel_tol=1e-6, abs_tol=1e-7), (
                f"{case.op} at {point}: d/dx{i} analytic {a} vs central differences {n}"
            )


def _as_float(x) -> float:
    return x.data if isinstance(x, Value) else float(x)


def _check_rule_on_floats_and_values(node):
    """The rule of ``node`` gives the same local derivatives on floats and on Values."""
    rule = OPS[node.op].backward
    on_floats = rule([p.data for p in node.parents], node.data, node.arg)
    on_values = rule(list(node.parents), node, node.arg)
    assert len(on_floats) == len(on_values) == len(node.parents), node.op
    for f, v in zip(on_floats, on_values, strict=True):
        assert isinstance(f, float), f"{node.op}: a rule on floats returned {f!r}"
        assert _as_float(v) == pytest.approx(f, rel=1e-12, abs=1e-15), node.op
    return on_floats


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_rule_works_on_floats_and_on_values(case):
    for point in case.points:
        _check_rule_on_floats_and_values(case.build(*map(Value, point)))


# Points where a rule needs a convention (kinks, a zero base or exponent): local
# derivatives as PyTorch defines them, on floats and on Values alike.
SPECIAL_POINTS = [
    ("relu(0)", lambda: Value(0.0).relu(), (0.0,)),
    ("abs(0)", lambda: abs(Value(0.0)), (0.0,)),
    ("leaky_relu(0)", lambda: Value(0.0).leaky_relu(0.3), (0.3,)),
    ("0 ** 2", lambda: Value(0.0) ** 2, (0.0,)),
    ("0 ** 0", lambda: Value(0.0) ** 0, (0.0,)),
    ("0 ** Value(2)", lambda: Value(0.0) ** Value(2.0), (0.0, 0.0)),
    ("0 ** Value(0)", lambda: Value(0.0) ** Value(0.0), (0.0, 0.0)),
    ("3 ** Value(0)", lambda: Value(3.0) ** Value(0.0), (0.0, math.log(3.0))),
    ("(-2) ** 3", lambda: Value(-2.0) ** 3, (12.0,)),
]


@pytest.mark.parametrize(
    "build, expected", [p[1:] for p in SPECIAL_POINTS], ids=[p[0] for p in SPECIAL_POINTS]
)
def test_local_derivatives_at_special_points(build, expected):
    assert _check_rule_on_floats_and_values(build()) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "name, build, expected",
    [
        ("relu", lambda x: x.relu(), 0.0),
        ("abs", abs, 0.0),
        ("leaky_relu", lambda x: x.leaky_relu(0.3), 0.3),
        ("leaky_relu default slope", lambda x: x.leaky_relu(), 0.01),
    ],
)
def test_kinks_follow_pytorch(name, build, expected):
    x = Value(0.0)
    out = build(x)
    out.backward()
    assert out.data == 0.0
    assert x.grad == expected, name


# Stable ops: exact limits far out, no overflow, finite gradients.
@pytest.mark.parametrize("x", [1e6, -1e6, 800.0, -800.0, 1e300, -1e300])
@pytest.mark.parametrize(
    "op, value_limit, grad_limit",
    [
        ("sigmoid", lambda x: 1.0 if x > 0 else 0.0, lambda x: 0.0),
        ("tanh", lambda x: math.copysign(1.0, x), lambda x: 0.0),
        ("softplus", lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    ],
)
def test_stable_at_extreme_inputs(op, value_limit, grad_limit, x):
    v = Value(x)
    out = getattr(v, op)()
    out.backward()
    assert out.data == value_limit(x)
    assert v.grad == grad_limit(x)


@pytest.mark.parametrize("x", [-40.0, -30.0, 25.0, 40.0])
def test_stable_ops_keep_relative_precision_in_the_tails(x):
    # Naive formulas lose everything here: 1 + e^-40 == 1.0 in floats.
    tiny = math.exp(-abs(x))
    sig = Value(x).sigmoid().data
    soft = Value(x).softplus().data
    if x < 0:
        assert sig == pytest.approx(tiny / (1.0 + tiny), rel=1e-12)
        assert soft == pytest.approx(tiny - tiny * tiny / 2, rel=1e-12)  # log1p series
    else:
        assert 1.0 - sig == pytest.approx(tiny, rel=1e-3)  # 1 - s rounds to the ulp of 1
        assert soft - x == pytest.approx(tiny, rel=1e-3)


# The fused neuron node against the chain of * and + it replaces.


def _unfused(ws, xs, b):
    out = b
    for w, x in zip(ws, xs, strict=True):
        out = out + w * x
    return out


@pytest.mark.parametrize("n", [0, 1, 3, 16])
def test_linear_matches_the_unfused_chain(n):
    rng = random.Random(n)
    numbers = [rng.uniform(-2, 2) for _ in range(2 * n + 1)]

    def run(combine):
        ws = [Value(v) for v in numbers[:n]]
        xs = [Value(v) for v in numbers[n : 2 * n]]
        b = Value(numbers[-1])
        out = combine(ws, xs, b).tanh()  # a non-trivial upstream gradient
        out.backward()
        return out.data, [v.grad for v in (*ws, *xs, b)]

    fused_data, fused_grads = run(linear)
    chain_data, chain_grads = run(_unfused)
    # Same float operations in the same order, so the results are identical.
    assert fused_data == chain_data
    assert fused_grads == chain_grads


def test_linear_is_one_node_with_operands_in_order():
    ws = [Value(1.0), Value(2.0)]
    xs = [Value(3.0), Value(4.0)]
    b = Value(0.5)
    out = linear(ws, xs, b)
    assert out.op == "linear"
    assert out.parents == (*ws, *xs, b)
    assert out.data == 0.5 + 3.0 + 8.0


def test_linear_accepts_numbers_and_shared_operands():
    x = Value(1.5)
    out = linear([x, 2.0], [x, 3.0], 0.25)  # x*x + 2*3 + 0.25
    out.backward()
    assert out.data == 1.5 * 1.5 + 6.0 + 0.25
    assert x.grad == 2 * 1.5
    assert [p.op for p in out.parents] == ["", "const", "", "const", "const"]


# The gradient checker: public, and it must catch a wrong rule.


def test_numerical_grad_is_a_central_difference():
    def f(x, y):
        return x**3 * y

    assert numerical_grad(f, [2.0, -1.5]) == pytest.approx([3 * 4 * -1.5, 8.0], rel=1e-8)
    # For x^3 the central difference is exactly 3x^2 + eps^2 (times y); a one-sided one is not.
    eps = 0.1
    dx, dy = numerical_grad(f, [2.0, -1.5], eps=eps)
    assert dx == pytest.approx((12.0 + eps**2) * -1.5, rel=1e-9)
    assert dy == pytest.approx(8.0, rel=1e-9)


def test_numerical_grad_leaves_no_graph_and_no_grads():
    seen = []

    def f(x):
        out = x.exp() * x
        seen.append(out)
        return out

    numerical_grad(f, [0.3])
    assert seen and all(out.parents == () for out in seen)


@pytest.mark.parametrize(
    "f, inputs",
    [
        (lambda x, y: x * y.sin() + y.exp() / x, [0.7, -1.2]),
        (lambda x: (x.tanh() + 1.0).log() ** 2, [0.4]),
        (lambda x, y, z: linear([x, y], [y, z], z.sigmoid()).softplus(), [0.3, -0.8, 1.9]),
    ],
)
def test_gradcheck_passes_on_correct_rules(f, inputs):
    assert gradcheck(f, inputs) is True


def _wrong_sin_rule(xs, out, arg):
    """Deliberately wrong: sin'(x) is cos(x), not sin(x)."""
    return (autograd.sin(xs[0]),)


def _numbers_in(message):
    return [float(m) for m in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", message)]


def test_gradcheck_names_the_input_that_disagrees(monkeypatch):
    def f(x, y):
        return x * y.sin()  # d/dx = sin y is right even with the wrong rule; d/dy is not

    x, y = 0.7, -1.2
    with monkeypatch.context() as patch:
        patch.setitem(OPS, "sin", OPS["sin"]._replace(backward=_wrong_sin_rule))
        with pytest.raises(GradcheckError) as err:
            gradcheck(f, [x, y])
        assert gradcheck(f, [x, y], raise_exception=False) is False
    message = str(err.value)
    assert "input 1" in message and "input 0" not in message
    numbers = _numbers_in(message)
    assert y in numbers  # the input's value
    assert x * math.sin(y) in numbers  # the (wrong) analytic gradient, exactly
    assert any(math.isclose(n, x * math.cos(y), rel_tol=1e-6) for n in numbers)  # numerical
    # The table is restored once the patch is undone.
    assert gradcheck(f, [x, y]) is True


def _reference(ref, args) -> float:
    try:
        return float(ref(*args))
    except (ValueError, ArithmeticError):  # math refuses where IEEE says nan
        return math.nan


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_nan_in_any_operand_comes_out_as_nan(case):
    point = case.points[0]
    for i in range(len(point)):
        args = [math.nan if j == i else p for j, p in enumerate(point)]
        out = case.build(*[Value(a) for a in args])
        expected = _reference(case.ref, args)
        if math.isnan(expected):
            assert math.isnan(out.data), f"{case.op} with nan as operand {i} gave {out.data}"
        else:  # IEEE's few numbers from nan, e.g. nan ** 0 = 1
            assert out.data == expected
