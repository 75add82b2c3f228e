"""The functional API: grad, value_and_grad, jacobian, hessian, hvp and gradgradcheck."""

from __future__ import annotations

import math
import re

import pytest

import autograd
from autograd import (
    OPS,
    GradcheckError,
    Value,
    grad,
    gradcheck,
    gradgradcheck,
    gradients,
    hessian,
    hvp,
    jacobian,
    numerical_grad,
    value_and_grad,
)


def f2(x, y):
    """x^2 y + sin(y): grad = (2xy, x^2 + cos y), Hessian [[2y, 2x], [2x, -sin y]]."""
    return x * x * y + autograd.sin(y)


# grad and value_and_grad -----------------------------------------------------------------


def test_grad_of_numbers_is_a_plain_float():
    d = grad(lambda x: x**3)(2.0)
    assert type(d) is float and d == 12.0
    assert type(grad(lambda x: x**3)(2)) is float  # ints are numbers too


def test_grad_of_values_is_a_value_on_the_graph():
    x = Value(2.0)
    d = grad(lambda t: t**3)(x)
    assert isinstance(d, Value) and d.data == 12.0
    assert autograd.gradients(d, [x]) == [12.0]  # d/dx 3x^2 = 6x
    assert x.grad == 0.0  # grad never writes .grad


def test_generic_functions_accept_floats_and_values():
    assert autograd.exp(0.0) == 1.0
    assert grad(lambda x: autograd.exp(x) * autograd.log(x))(1.0) == pytest.approx(math.e)


def test_argnums_selects_and_orders_derivatives():
    x, y = 1.5, 0.4
    assert grad(f2, 1)(x, y) == pytest.approx(x * x + math.cos(y))
    assert grad(f2, -1)(x, y) == pytest.approx(x * x + math.cos(y))
    gy, gx = grad(f2, (1, 0))(x, y)
    assert gx == pytest.approx(2 * x * y) and gy == pytest.approx(x * x + math.cos(y))
    assert grad(f2, [0])(x, y) == (pytest.approx(2 * x * y),)  # a sequence gives a tuple


def test_value_and_grad_returns_the_value_too():
    value, (gx, gy) = value_and_grad(f2, (0, 1))(1.5, 0.4)
    assert value == pytest.approx(1.5**2 * 0.4 + math.sin(0.4))
    assert (gx, gy) == (pytest.approx(1.2), pytest.approx(2.25 + math.cos(0.4)))
    assert type(value) is float


def test_constant_function_has_zero_derivative():
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(lambda x, y: x * 2, 1)(1.0, 5.0) == 0.0
    assert grad(grad(lambda x: 4 * x))(1.0) == 0.0


def test_second_derivative_by_nesting():
    assert grad(grad(lambda x: x.sin()))(0.3) == pytest.approx(-math.sin(0.3))
    assert grad(grad(f2, 0), 1)(1.5, 0.4) == pytest.approx(3.0)  # d2f/dxdy = 2x


def test_names_say_what_the_function_is():
    def square(x):
        return x * x

    assert grad(square).__name__ == "grad(square)"
    assert value_and_grad(square).__name__ == "value_and_grad(square)"


# jacobian, hessian, hvp ------------------------------------------------------------------


def test_jacobian_of_a_list_returning_function():
    def polar(r, t):
        return [r * autograd.cos(t), r * autograd.sin(t)]

    r, t = 2.0, 0.6
    j = jacobian(polar)(r, t)
    expected = [[math.cos(t), -r * math.sin(t)], [math.sin(t), r * math.cos(t)]]
    for row, want in zip(j, expected, strict=True):
        assert row == pytest.approx(want)


def test_jacobian_rows_for_scalar_and_constant_outputs():
    assert jacobian(lambda x, y: x * y)(2.0, 3.0) == [[3.0, 2.0]]
    assert jacobian(lambda x: [x, 7.0])(2.0) == [[1.0], [0.0]]


def test_jacobian_of_values_is_differentiable():
    x = Value(0.5)
    ((d,),) = jacobian(lambda t: [t.exp()])(x)
    assert isinstance(d, Value)
    assert autograd.gradients(d, [x]) == [pytest.approx(math.exp(0.5))]


def test_hessian_is_a_symmetric_list_of_lists():
    x, y = 1.5, 0.4
    h = hessian(f2)(x, y)
    assert isinstance(h, list) and all(isinstance(row, list) for row in h)
    assert h == [
        [pytest.approx(2 * y), pytest.approx(2 * x)],
        [pytest.approx(2 * x), pytest.approx(-math.sin(y))],
    ]
    assert all(type(v) is float for row in h for v in row)


def test_hessian_of_a_linear_function_is_zero():
    assert hessian(lambda x, y: 3 * x - y + 1)(1.0, 2.0) == [[0.0, 0.0], [0.0, 0.0]]


def test_hvp_equals_hessian_times_vector():
    xs, v = [1.5, 0.4], [0.3, -2.0]
    h = hessian(f2)(*xs)
    expected = [sum(h[i][j] * v[j] for j in range(2)) for i in range(2)]
    assert hvp(f2)(xs, v) == pytest.approx(expected)


def test_hessian_nests_inside_grad():
    # d/dx of d2(x^4)/dx2 = 24x
    assert grad(lambda x: hessian(lambda t: t**4)(x)[0][0])(2.0) == pytest.approx(48.0)


# Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [True, 1.5, "0", None, (0, "1"), (True,)])
def test_bad_argnums_type(bad):
    with pytest.raises(TypeError, match=r"grad: argnums must be an int or a tuple of ints"):
        grad(f2, bad)


def test_empty_argnums():
    with pytest.raises(ValueError, match="value_and_grad: argnums is empty"):
        value_and_grad(f2, ())


@pytest.mark.parametrize("bad", [2, -3, (0, 5)])
def test_argnums_out_of_range_names_the_position_and_count(bad):
    with pytest.raises(ValueError, match=r"grad: argnums -?\d is out of range for a call with 2"):
        grad(f2, bad)(1.0, 2.0)


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="hessian: f must be a function, got int 3"):
        hessian(3)


def test_non_scalar_output_points_to_jacobian():
    with pytest.raises(
        TypeError, match=r"grad: f must return one scalar .* list of 2 items.*jacobian"
    ):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match=r"hessian: f must return one scalar .* got str"):
        hessian(lambda x: "x")(1.0)


def test_bad_argument_names_its_position():
    with pytest.raises(
        TypeError, match="grad: argument 1 must be a number or a Value, got str 'a'"
    ):
        grad(f2)(1.0, "a")
    with pytest.raises(TypeError, match=r"jacobian: argument 0 .* got bool True"):
        jacobian(lambda x: [x])(True)


def test_jacobian_bad_output_names_its_index():
    with pytest.raises(TypeError, match=r"jacobian \(output 1\): f must return one scalar"):
        jacobian(lambda x: [x, [x]])(1.0)


def test_hvp_length_mismatch():
    with pytest.raises(ValueError, match="hvp: 2 inputs but a vector of length 3"):
        hvp(f2)([1.0, 2.0], [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match=r"hvp: v\[1\] must be a number"):
        hvp(f2)([1.0, 2.0], [1.0, "0"])


# gradgradcheck ---------------------------------------------------------------------------


def test_gradgradcheck_passes_on_correct_functions():
    assert gradgradcheck(f2, [1.5, 0.4])
    assert gradgradcheck(lambda x, y, z: (x * y).tanh() * z.exp() + x / y, [0.3, 1.2, -0.5])
    assert gradgradcheck(lambda x: x.sqrt().log(), [2.0])


def _detached_sin_rule(xs, out, arg):
    """Right value of d sin/dx, but a constant: its own derivative is lost."""
    x = xs[0]
    return (math.cos(x.data if isinstance(x, Value) else x),)


def test_gradgradcheck_catches_a_rule_that_is_right_only_to_first_order(monkeypatch):
    monkeypatch.setitem(OPS, "sin", OPS["sin"]._replace(backward=_detached_sin_rule))
    assert autograd.gradcheck(lambda x, y: x.sin() * y, [0.7, 1.3])  # first order still fine
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda x, y: x.sin() * y, [0.7, 1.3])
    message = str(info.value)
    assert "Hessian entry [0][0]" in message
    analytic, numeric = re.search(r"is (\S+) analytically but (\S+) by finite", message).groups()
    assert float(analytic) == 0.0  # the detached rule's (wrong) value
    assert float(numeric) == pytest.approx(-math.sin(0.7) * 1.3, rel=1e-6)  # the right one
    assert gradgradcheck(lambda x, y: x.sin() * y, [0.7, 1.3], raise_exception=False) is False


def test_gradgradcheck_names_an_off_diagonal_entry(monkeypatch):
    def mul_rule_with_detached_dy(xs, out, arg):
        x, y = xs
        return y, (Value(x.data) if isinstance(x, Value) else x)

    monkeypatch.setitem(OPS, "mul", OPS["mul"]._replace(backward=mul_rule_with_detached_dy))
    with pytest.raises(GradcheckError, match=r"Hessian entry \[1\]\[0\]"):
        gradgradcheck(lambda x, y: x * y, [0.5, 2.0])


# Bad arguments: a clear message, never a raw ZeroDivisionError or a silent 0 ------------


@pytest.mark.parametrize("eps", [0, 0.0, -1e-6, math.inf, math.nan, True, "1e-6"])
def test_checkers_refuse_an_eps_that_is_not_a_positive_number(eps):
    def f(x):
        return x * x

    for check in (gradcheck, gradgradcheck):
        with pytest.raises(ValueError, match=r"eps must be a finite number > 0"):
            check(f, [1.0], eps=eps)
    with pytest.raises(ValueError, match=r"numerical_grad: eps must be a finite number > 0"):
        numerical_grad(f, [1.0], eps=eps)


def test_a_probe_that_leaves_the_domain_says_so():
    # log is defined at 1e-7, but 1e-7 - 1e-6 is negative.
    with pytest.raises(ValueError) as err:
        gradcheck(lambda x: x.log(), [1e-7])
    message = str(err.value)
    assert "finite-difference probe x[0]" in message and "left the domain" in message
    assert "log: input must be > 0" in message


def test_gradients_refuses_an_output_or_inputs_that_are_not_values():
    a = Value(2.0)
    c = a * a
    with pytest.raises(TypeError, match=r"gradients: output must be a Value, got float 3.0"):
        gradients(3.0, [a])
    with pytest.raises(TypeError, match=r"gradients: inputs\[1\] must be a Value .* got float"):
        gradients(c, [a, 1.0])
    assert gradients(c, [a]) == [4.0]
