"""Anomaly mode: the first NaN or inf is reported with its op, operands and source line."""

from __future__ import annotations

import contextlib
import gc
import inspect
import math
import weakref

import pytest

import autograd
from autograd import AnomalyError, Value, detect_anomaly, grad, no_grad
from autograd.anomaly import creation_site
from autograd.engine import creation_watcher

INF = float("inf")
HERE = __file__


def next_line() -> int:
    """The line number just after the caller's current line."""
    return inspect.currentframe().f_back.f_lineno + 1


def assert_names_line(err: AnomalyError, line: int) -> None:
    assert err.site is not None
    assert err.site.filename == HERE and err.site.lineno == line
    assert f"{HERE}:{line}" in str(err)


def test_is_a_floating_point_error():
    assert issubclass(AnomalyError, FloatingPointError)
    assert issubclass(AnomalyError, ArithmeticError)


# Forward ------------------------------------------------------------------------------


def test_zero_times_inf_names_mul_the_operands_and_the_line():
    a, b = Value(0.0), Value(INF)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = next_line()
        c = a * b
    err = info.value
    assert err.phase == "forward" and err.op == "mul" and err.operands == (0.0, INF)
    assert "mul(0.0, inf) gave nan" in str(err)
    assert "c = a * b" in str(err)  # the source text of that line
    assert "operand 1 was already inf (a leaf)" in str(err)
    assert_names_line(err, line)
    with pytest.raises(NameError):
        c  # noqa: B018  (the op never returned)


def test_inf_minus_inf_names_sub():
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        line = next_line()
        Value(INF) - Value(INF)
    assert info.value.op == "sub" and "sub(inf, inf) gave nan" in str(info.value)
    assert_names_line(info.value, line)


def test_overflow_from_finite_operands_raises_where_it_happens_even_outside_anomaly_mode():
    x = Value(1e200)
    y = x * 2.0  # still finite
    for mode in (contextlib.nullcontext, detect_anomaly):
        with mode(), pytest.raises(OverflowError) as info:
            y * y
        assert not isinstance(info.value, AnomalyError)
        assert "mul: result overflows a float: mul(2e+200, 2e+200)" in str(info.value)


def helper_that_divides(a, b):
    return a / b


def test_the_line_is_the_first_frame_outside_the_package():
    line = inspect.getsourcelines(helper_that_divides)[1] + 1
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        helper_that_divides(Value(INF), Value(INF))
    assert info.value.op == "div"
    assert_names_line(info.value, line)
    assert "helper_that_divides" in str(info.value)


def test_line_inside_a_function_given_to_grad():
    def f(x):
        return x * INF  # inf at x = 0 times inf: nan

    line = inspect.getsourcelines(f)[1] + 1
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        grad(f)(0.0)
    assert info.value.op == "mul"
    assert_names_line(info.value, line)


def test_forward_is_checked_under_no_grad_too():
    with detect_anomaly(), no_grad(), pytest.raises(AnomalyError, match="mul"):
        Value(0.0) * INF


def test_usable_as_a_decorator():
    @detect_anomaly()
    def compute():
        return Value(INF) + Value(-INF)

    with pytest.raises(AnomalyError, match=r"add\(inf, -inf\) gave nan"):
        compute()


# Backward -----------------------------------------------------------------------------


def log_of_underflowed_exp():
    """log(exp(-740)): exp underflows to a subnormal, so d log/dy = 1/y overflows to inf.

    The true derivative of log(exp(x)) is 1; the float computation gives inf.
    """
    x = Value(-740.0)
    y = x.exp()
    line = next_line()
    z = y.log()
    return x, y, z, line


def test_without_anomaly_mode_the_inf_is_silent():
    x, _, z, _ = log_of_underflowed_exp()
    z.backward()
    assert math.isinf(x.grad)


def test_log_of_an_underflowed_value_names_log_and_its_line_in_backward():
    with detect_anomaly():
        _, y, z, line = log_of_underflowed_exp()
        with pytest.raises(AnomalyError) as info:
            z.backward()
    err = info.value
    assert err.phase == "backward" and err.op == "log" and err.operands == (y.data,)
    assert "local derivative inf" in str(err)
    assert "z = y.log()" in str(err)
    assert_names_line(err, line)


def test_log_of_an_underflowed_value_with_create_graph():
    # d log(y)/dy = 1/y overflows for a subnormal y: the gradient graph's own op says so.
    with detect_anomaly():
        _, _, z, line = log_of_underflowed_exp()
        with pytest.raises(OverflowError) as info:
            z.backward(create_graph=True)
    message = str(info.value)
    assert message.startswith("backward of log(")
    assert "div: result overflows a float: div(1.0, " in message
    assert f"the log node was created at {HERE}:{line}" in message


def zero_upstream_into_log_of_a_subnormal():
    """relu(-1) * log(y): the log node gets upstream 0, and d log/dy = 1/y is inf: 0 * inf."""
    r = Value(-1.0).relu()
    y = Value(5e-324)  # the smallest subnormal
    line = next_line()
    out = r * y.log()
    return y, out, line


def test_zero_times_inf_in_backward_is_reported_at_the_log():
    y, out, _ = zero_upstream_into_log_of_a_subnormal()
    out.backward()
    assert math.isnan(y.grad)  # silent without anomaly mode

    with detect_anomaly():
        y, out, line = zero_upstream_into_log_of_a_subnormal()
        with pytest.raises(AnomalyError) as info:
            out.backward()
    err = info.value
    assert err.phase == "backward" and err.op == "log" and err.operands == (5e-324,)
    assert "local derivative inf" in str(err) and "upstream gradient 0.0" in str(err)
    assert "passes nan back" in str(err)
    assert_names_line(err, line)


def test_a_domain_error_in_backward_names_the_line_in_anomaly_mode():
    with detect_anomaly():
        line = next_line()
        s = Value(0.0).sqrt()
        with pytest.raises(ZeroDivisionError) as info:
            s.backward()
    assert "backward of sqrt(0.0)" in str(info.value)
    assert f"the sqrt node was created at {HERE}:{line}" in str(info.value)

    s = Value(0.0).sqrt()
    with pytest.raises(ZeroDivisionError) as info:
        s.backward()
    assert "created at" not in str(info.value)


def test_gradients_are_checked_too():
    with detect_anomaly():
        x, _, z, line = log_of_underflowed_exp()
        with pytest.raises(AnomalyError) as info:
            autograd.gradients(z, [x])
    assert info.value.op == "log"
    assert_names_line(info.value, line)


# Recording, and its absence ---------------------------------------------------------------


def test_finite_results_are_unchanged():
    def run():
        a, b = Value(0.7), Value(-1.3)
        c = (a * b).tanh() + a.exp() / (b * b + 1)
        c.backward()
        return c.data, a.grad, b.grad

    plain = run()
    with detect_anomaly():
        checked = run()
    assert checked == plain


def test_records_where_each_node_was_created_only_inside_the_block():
    a = Value(2.0)
    before = a * 3
    with detect_anomaly():
        line = next_line()
        inside = a * 3
    after = a * 3
    site = creation_site(inside)
    assert (site.filename, site.lineno, site.function) == (
        HERE,
        line,
        "test_records_where_each_node_was_created_only_inside_the_block",
    )
    assert site.source == "inside = a * 3"
    assert creation_site(before) is None and creation_site(after) is None
    assert creation_site(a) is None  # leaves are not made by ops


def test_without_anomaly_mode_nothing_watches():
    assert creation_watcher() is None
    with detect_anomaly():
        assert creation_watcher() is not None
    assert creation_watcher() is None
    x = Value(1.0)
    y = x
    for _ in range(50):
        y = y * 1.01 + 0.5
    y.backward()
    assert all(creation_site(n) is None for n in autograd.topological_order(y))


def test_records_do_not_keep_nodes_alive():
    with detect_anomaly():
        a = Value(1.0)
        b = a * 2
        ref = weakref.ref(b)
    assert creation_site(b) is not None
    del b
    gc.collect()
    assert ref() is None


def test_nested_blocks_and_restoring_the_mode():
    with detect_anomaly():
        with detect_anomaly():
            Value(1.0) + 1
        with pytest.raises(AnomalyError):
            Value(INF) * 0
    assert creation_watcher() is None
    assert math.isnan((Value(INF) * 0).data)  # IEEE again outside the block
