"""Derivatives of derivatives: create_graph=True, grad(grad(f)), Hessians, Newton's method.

Second and third derivatives of every op are checked against central
differences of the next lower derivative (so each order rests on the one
below, down to plain function values), against pure finite differences of f
itself, and against closed forms worked out by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import OPS, Value, grad, hessian, linear, no_grad, value_and_grad
from autograd.engine import gradients

# Safe domains: away from kinks, poles and overflow, where every op is smooth.
REAL = st.floats(-4.0, 4.0)
POSITIVE = st.floats(0.3, 4.0)
AWAY_FROM_ZERO = st.one_of(st.floats(0.3, 4.0), st.floats(-4.0, -0.3))
EXPONENTS = st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.5])


class Case(NamedTuple):
    """One op: ``build(extra)`` returns f(*xs) using only that op; ``domains`` for xs."""

    build: Callable
    domains: tuple
    extra: st.SearchStrategy = st.none()


def unary(method: str) -> Callable:
    return lambda extra: lambda x: getattr(x, method)()


CASES: dict[str, Case] = {
    "add": Case(lambda _: lambda x, y: x + y, (REAL, REAL)),
    "sub": Case(lambda _: lambda x, y: x - y, (REAL, REAL)),
    "mul": Case(lambda _: lambda x, y: x * y, (REAL, REAL)),
    "div": Case(lambda _: lambda x, y: x / y, (REAL, AWAY_FROM_ZERO)),
    "neg": Case(lambda _: lambda x: -x, (REAL,)),
    "pow": Case(lambda n: lambda x: x**n, (POSITIVE,), EXPONENTS),
    "vpow": Case(lambda _: lambda x, y: x**y, (POSITIVE, st.floats(-2.0, 3.0))),
    "abs": Case(lambda _: lambda x: abs(x), (AWAY_FROM_ZERO,)),
    "exp": Case(unary("exp"), (REAL,)),
    "log": Case(unary("log"), (POSITIVE,)),
    "sqrt": Case(unary("sqrt"), (POSITIVE,)),
    "tanh": Case(unary("tanh"), (REAL,)),
    "sigmoid": Case(unary("sigmoid"), (st.floats(-6.0, 6.0),)),
    "softplus": Case(unary("softplus"), (st.floats(-6.0, 6.0),)),
    "relu": Case(unary("relu"), (AWAY_FROM_ZERO,)),
    "leaky_relu": Case(
        lambda s: lambda x: x.leaky_relu(s), (AWAY_FROM_ZERO,), st.floats(0.01, 0.5)
    ),
    "sin": Case(unary("sin"), (REAL,)),
    "cos": Case(unary("cos"), (REAL,)),
    "linear": Case(lambda _: lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b), (REAL,) * 5),
}


def test_every_op_has_a_higher_order_case():
    assert set(CASES) == set(OPS), "add a case to CASES for each new op"


def squared(f: Callable) -> Callable:
    """f * f: the upstream gradient 2f then depends on x, so rules must compose with it."""

    def g(*xs):
        y = f(*xs)
        return y * y

    return g


def close(a: float, b: float, scale: float = 1.0, rel: float = 1e-5) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * (1.0 + abs(scale)))


def central(g: Callable, xs: list[float], k: int, eps: float = 1e-6) -> float:
    """d g / d x_k by central differences of a float function."""
    hi, lo = list(xs), list(xs)
    hi[k] += eps
    lo[k] -= eps
    return (g(*hi) - g(*lo)) / (2 * eps)


def check_one_order_up(lower: Callable, xs: list[float]) -> None:
    """grad(lower) against central differences of lower, in every argument."""
    for k in range(len(xs)):
        analytic = grad(lower, k)(*xs)
        numeric = central(lower, xs, k)
        assert close(analytic, numeric, scale=lower(*xs) + numeric), (k, xs, analytic, numeric)


def draw_case(data, name):
    case = CASES[name]
    extra = data.draw(case.extra, label="extra")
    xs = [data.draw(d, label=f"x{i}") for i, d in enumerate(case.domains)]
    return case.build(extra), xs


@pytest.mark.parametrize("shape", ["plain", "squared"])
@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_second_derivatives_match_differences_of_the_first(name, shape, data):
    f, xs = draw_case(data, name)
    f = squared(f) if shape == "squared" else f
    for i in range(len(xs)):
        check_one_order_up(grad(f, i), xs)


@pytest.mark.parametrize("shape", ["plain", "squared"])
@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_third_derivatives_match_differences_of_the_second(name, shape, data):
    f, xs = draw_case(data, name)
    f = squared(f) if shape == "squared" else f
    n = len(xs)
    # Mixed partials are symmetric for these smooth functions: i <= j covers them all.
    for i in range(n):
        for j in range(i, n):
            check_one_order_up(grad(grad(f, i), j), xs)


UNARY = sorted(name for name, case in CASES.items() if len(case.domains) == 1)


@pytest.mark.parametrize("name", UNARY)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_unary_derivatives_match_finite_differences_of_f_itself(name, data):
    """No engine derivative on the numeric side: stencils on f's values only."""
    f, (x,) = draw_case(data, name)

    def value(t: float) -> float:
        with no_grad():
            return f(Value(t)).data

    h2, h3 = 1e-4, 2e-3
    second = (value(x + h2) - 2 * value(x) + value(x - h2)) / h2**2
    third = (value(x + 2 * h3) - 2 * value(x + h3) + 2 * value(x - h3) - value(x - 2 * h3)) / (
        2 * h3**3
    )
    d2 = grad(grad(f))(x)
    d3 = grad(grad(grad(f)))(x)
    assert close(d2, second, scale=value(x), rel=1e-4), (x, d2, second)
    assert close(d3, third, scale=value(x) + d2, rel=2e-3), (x, d3, third)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# (f written with Values, x, f'', f''') with the derivatives worked out by hand.
CLOSED_FORMS = [
    ("sin", lambda v: v.sin(), 0.7, -math.sin(0.7), -math.cos(0.7)),
    ("cos", lambda v: v.cos(), 0.7, -math.cos(0.7), math.sin(0.7)),
    ("exp", lambda v: v.exp(), 1.3, math.exp(1.3), math.exp(1.3)),
    ("log", lambda v: v.log(), 2.0, -1 / 4, 2 / 8),
    ("sqrt", lambda v: v.sqrt(), 4.0, -1 / 4 * 4.0**-1.5, 3 / 8 * 4.0**-2.5),
    ("cube", lambda v: v**3, -2.0, 6 * -2.0, 6.0),
    ("inverse", lambda v: v**-1, 2.0, 2 / 8, -6 / 16),
    (
        "tanh",
        lambda v: v.tanh(),
        0.5,
        -2 * math.tanh(0.5) * (1 - math.tanh(0.5) ** 2),
        (1 - math.tanh(0.5) ** 2) * (6 * math.tanh(0.5) ** 2 - 2),
    ),
    (
        "sigmoid",
        lambda v: v.sigmoid(),
        0.4,
        sig(0.4) * (1 - sig(0.4)) * (1 - 2 * sig(0.4)),
        sig(0.4) * (1 - sig(0.4)) * (1 - 6 * sig(0.4) + 6 * sig(0.4) ** 2),
    ),
    ("softplus", lambda v: v.softplus(), -0.3, sig(-0.3) * (1 - sig(-0.3)), None),
    ("exp(2x)", lambda v: autograd.exp(2 * v), 0.25, 4 * math.exp(0.5), 8 * math.exp(0.5)),
    ("x*sin(x)", lambda v: v * v.sin(), 1.0, 2 * math.cos(1) - math.sin(1), None),
    ("2**x", lambda v: 2.0**v, 1.5, 2**1.5 * math.log(2) ** 2, 2**1.5 * math.log(2) ** 3),
]


@pytest.mark.parametrize(
    ("name", "f", "x", "d2", "d3"), CLOSED_FORMS, ids=[c[0] for c in CLOSED_FORMS]
)
def test_closed_form_second_and_third_derivatives(name, f, x, d2, d3):
    assert grad(grad(f))(x) == pytest.approx(d2, rel=1e-12, abs=1e-12)
    if d3 is not None:
        assert grad(grad(grad(f)))(x) == pytest.approx(d3, rel=1e-12, abs=1e-12)


def test_mixed_partials_of_binary_ops_by_hand():
    x, y = 1.7, 0.6
    # d2(x^y)/dx dy = x^(y-1) (1 + y log x)
    assert grad(grad(lambda a, b: a**b, 0), 1)(x, y) == pytest.approx(
        x ** (y - 1) * (1 + y * math.log(x)), rel=1e-12
    )
    # d2(x/y)/dy2 = 2x / y^3 and d2(x/y)/dx dy = -1 / y^2
    assert grad(grad(lambda a, b: a / b, 1), 1)(x, y) == pytest.approx(2 * x / y**3, rel=1e-12)
    assert grad(grad(lambda a, b: a / b, 0), 1)(x, y) == pytest.approx(-1 / y**2, rel=1e-12)
    # d3(x^2 y)/dx2 dy = 2
    assert grad(grad(grad(lambda a, b: a * a * b, 0), 0), 1)(x, y) == pytest.approx(2.0)


def test_kinks_have_zero_second_derivative_like_pytorch():
    for f in (abs, lambda v: v.relu(), lambda v: v.leaky_relu(0.1)):
        assert grad(grad(f))(0.0) == 0.0
        assert grad(grad(f))(1.5) == 0.0
        assert grad(grad(f))(-1.5) == 0.0


def test_value_power_second_derivatives_at_zero_base_and_zero_exponent():
    # d2(x^y)/dx2 = y (y - 1) x^(y - 2): at x = 0, y = 2 it is 2; at y = 0 it is 0.
    assert grad(grad(lambda a, b: a**b, 0), 0)(0.0, 2.0) == pytest.approx(2.0)
    assert grad(grad(lambda a, b: a**b, 0), 0)(0.0, 0.0) == 0.0
    assert grad(grad(lambda a, b: a**b, 0), 0)(3.0, 0.0) == 0.0
    # ... while d2(x^y)/dx dy = x^(y-1) (1 + y log x) is 1/x at y = 0, not 0.
    assert grad(grad(lambda a, b: a**b, 0), 1)(2.0, 0.0) == pytest.approx(0.5)
    # d3(x^y)/dx2 dy = (2y - 1) x^(y-2) + y (y - 1) x^(y-2) log x: 1/x at y = 1.
    assert grad(grad(grad(lambda a, b: a**b, 0), 0), 1)(2.0, 1.0) == pytest.approx(0.5)


# backward(create_graph=True) and gradients(create_graph=True) ---------------------------


def test_backward_create_graph_returns_differentiable_gradients():
    x, y = Value(1.5), Value(-0.5)
    f = x * x * y + (x * y).sin()
    grads = f.backward(create_graph=True)
    # df/dx = 2xy + y cos(xy), df/dy = x^2 + x cos(xy)
    dfdx = 2 * 1.5 * -0.5 + -0.5 * math.cos(-0.75)
    dfdy = 1.5**2 + 1.5 * math.cos(-0.75)
    assert grads[x].data == pytest.approx(dfdx) and x.grad == pytest.approx(dfdx)
    assert grads[y].data == pytest.approx(dfdy) and y.grad == pytest.approx(dfdy)
    assert not grads[x].is_leaf  # a graph of its own, built from x and y
    # d2f/dxdy = 2x + cos(xy) - xy sin(xy)
    d2 = 2 * 1.5 + math.cos(-0.75) - (-0.75) * math.sin(-0.75)
    assert gradients(grads[x], [y]) == [pytest.approx(d2)]


def test_create_graph_grads_equal_first_order_grads_everywhere():
    a, b = Value(0.8), Value(-1.1)
    c = (a * b).tanh() + a.exp() / (b * b + 1)
    c.backward()
    first = {n: n.grad for n in autograd.topological_order(c)}
    c.backward(create_graph=True)
    for node, g in first.items():
        expected = 2 * g if node.is_leaf else g  # leaves accumulate, like PyTorch
        assert node.grad == pytest.approx(expected, rel=1e-14)


def test_gradients_create_graph_leaves_grad_untouched():
    x = Value(2.0)
    y = x**3
    (g,) = gradients(y, [x], create_graph=True)
    assert x.grad == 0.0 and y.grad == 0.0
    assert g.data == 12.0
    assert gradients(g, [x]) == [12.0]  # d2(x^3)/dx2 = 6x


def test_create_graph_works_inside_no_grad():
    x = Value(0.3)
    y = x.sin()
    with no_grad():
        (g,) = gradients(y, [x], create_graph=True)
    assert gradients(g, [x]) == [pytest.approx(-math.sin(0.3))]


# Nesting -------------------------------------------------------------------------------


def test_grad_nests_to_the_fourth_order():
    f = lambda x: x**5  # noqa: E731
    d = f
    expected = [5 * 2.0**4, 20 * 2.0**3, 60 * 2.0**2, 120 * 2.0]
    for want in expected:
        d = grad(d)
        assert d(2.0) == pytest.approx(want, rel=1e-12)


def test_inner_grad_closing_over_an_outer_variable():
    # d/dx [d/dy (x y)] = 1 and d/dx [d/dy (x y^2)]|y=3 = 2y = 6: the inner grad, called
    # with a plain number, must stay connected to the outer x.
    assert grad(lambda x: grad(lambda y: x * y)(1.0))(2.0) == 1.0
    assert grad(lambda x: grad(lambda y: x * y * y)(3.0))(2.0) == 6.0


def test_value_and_grad_nests():
    def f(x):
        return x.sin() * x

    def outer(x):
        value, slope = value_and_grad(f)(x)
        return value + slope

    # outer = f + f' = x sin x + sin x + x cos x, so outer' = sin x + x cos x + 2 cos x - x sin x
    x = 0.9
    expected = math.sin(x) + x * math.cos(x) + math.cos(x) + math.cos(x) - x * math.sin(x)
    assert grad(outer)(x) == pytest.approx(expected, rel=1e-12)


def test_grad_ignores_an_outer_no_grad():
    with no_grad():
        assert grad(lambda x: x.sin())(0.4) == pytest.approx(math.cos(0.4))
        assert grad(grad(lambda x: x.sin()))(0.4) == pytest.approx(-math.sin(0.4))


# Hessians of classic functions ------------------------------------------------------------


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


@pytest.mark.parametrize("point", [(-1.2, 1.0), (0.0, 0.0), (1.0, 1.0), (0.5, -0.3)])
def test_rosenbrock_hessian(point):
    x, y = point
    expected = [[2 - 400 * y + 1200 * x * x, -400 * x], [-400 * x, 200.0]]
    h = hessian(rosenbrock)(x, y)
    for row, want in zip(h, expected, strict=True):
        assert row == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_quadratic_form_hessian_is_a_plus_a_transpose():
    a = [[1.0, 2.0, -3.0], [0.5, -1.0, 4.0], [2.5, 0.0, 3.0]]

    def quad(*xs):
        return sum((a[i][j] * xs[i] * xs[j] for i in range(3) for j in range(3)), Value(0.0))

    h = hessian(quad)(0.3, -1.2, 2.0)  # constant: the point does not matter
    for i in range(3):
        for j in range(3):
            assert h[i][j] == pytest.approx(a[i][j] + a[j][i], abs=1e-12)


def test_log_sum_exp_hessian_is_diag_p_minus_p_p_transpose():
    def lse(*xs):
        m = max(x.data for x in xs)  # shift by a constant for stability
        return autograd.log(sum((autograd.exp(x - m) for x in xs), Value(0.0))) + m

    point = [0.2, -1.0, 1.5, 0.7]
    exps = [math.exp(x) for x in point]
    p = [e / sum(exps) for e in exps]
    h = hessian(lse)(*point)
    for i in range(4):
        for j in range(4):
            want = (p[i] if i == j else 0.0) - p[i] * p[j]
            assert h[i][j] == pytest.approx(want, abs=1e-13)


def test_newton_reaches_the_rosenbrock_minimum_in_far_fewer_steps_than_gradient_descent():
    tol = 1e-3
    slope = grad(rosenbrock, (0, 1))

    x, y = -1.2, 1.0
    newton_steps = 0
    while math.hypot(x - 1, y - 1) > tol and newton_steps < 100:
        gx, gy = slope(x, y)
        (a, b), (c, d) = hessian(rosenbrock)(x, y)
        det = a * d - b * c
        x, y = x - (d * gx - b * gy) / det, y - (a * gy - c * gx) / det
        newton_steps += 1
    assert math.hypot(x - 1, y - 1) <= tol

    # A fixed step below 2 / (largest Hessian eigenvalue at the minimum, ~1001.6) is stable.
    x, y = -1.2, 1.0
    gd_steps = 0
    while math.hypot(x - 1, y - 1) > tol and gd_steps < 50_000:
        gx, gy = slope(x, y)
        x, y = x - 1.5e-3 * gx, y - 1.5e-3 * gy
        gd_steps += 1
    assert math.hypot(x - 1, y - 1) <= tol

    assert newton_steps <= 10
    assert 100 * newton_steps < gd_steps
