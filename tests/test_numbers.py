"""One number policy for every op: finite in gives finite out or an error; NaN and inf pass through.

``tests/test_ops.py`` runs the NaN check over its catalogue of every op.
"""

from __future__ import annotations

import math

import pytest

from autograd import OPS, Value, linear
from autograd.functional import gradients

NAN, INF = math.nan, math.inf


def test_relu_of_nan_is_nan_not_zero():
    assert math.isnan(Value(NAN).relu().data)
    assert math.isnan(Value(NAN).leaky_relu(0.1).data)
    assert math.isnan(abs(Value(NAN)).data)


def test_a_nan_loss_gives_nan_gradients():
    w = Value(0.5)
    loss = (w * Value(NAN)).relu() + w * w
    loss.backward()
    assert math.isnan(loss.data) and math.isnan(w.grad)


@pytest.mark.parametrize(
    ("name", "build", "op"),
    [
        ("add", lambda: Value(1e308) + Value(1e308), "add"),
        ("sub", lambda: Value(1e308) - Value(-1e308), "sub"),
        ("mul", lambda: Value(1e308) * 10, "mul"),
        ("div", lambda: Value(1e308) / Value(1e-10), "div"),
        ("pow", lambda: Value(1e200) ** 2, "pow"),
        ("vpow", lambda: Value(10.0) ** Value(400.0), "pow"),
        ("exp", lambda: Value(800.0).exp(), "exp"),
        ("linear", lambda: linear([1e308, 1e308], [Value(1.0), Value(1.0)], 0.0), "linear"),
    ],
)
def test_finite_operands_whose_result_overflows_raise_naming_the_op(name, build, op):
    with pytest.raises(OverflowError, match=rf"^{op}: result overflows a float: {op}\("):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Value(1e308).tanh(),
        lambda: Value(-1e308).sigmoid(),
        lambda: Value(1e308).softplus(),
        lambda: Value(1e308).log(),
        lambda: Value(1e308).sqrt(),
        lambda: Value(1e308).sin(),
        lambda: Value(-1e308).cos(),
        lambda: -Value(1e308),
        lambda: abs(Value(-1e308)),
        lambda: Value(1e308).relu(),
        lambda: Value(-1e308).leaky_relu(0.5),
    ],
)
def test_ops_that_cannot_overflow_stay_finite_at_the_largest_inputs(build):
    assert math.isfinite(build().data)


def test_every_op_that_can_overflow_is_tested():
    bounded = {"neg", "abs", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "leaky_relu"}
    bounded |= {"sin", "cos"}
    tested = {"add", "sub", "mul", "div", "pow", "vpow", "exp", "linear"}
    assert set(OPS) == bounded | tested


def test_an_inf_that_comes_in_passes_through_without_an_error():
    assert (Value(INF) * 2).data == INF
    assert math.isnan((Value(INF) - Value(INF)).data)
    assert math.isnan(Value(INF).sin().data) and math.isnan(Value(-INF).cos().data)
    assert Value(INF).exp().data == INF


@pytest.mark.torch
@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "abs", "tanh", "sigmoid", "softplus", "exp", "sin", "sqrt"]
)
def test_the_gradient_at_nan_is_nan_where_pytorch_says_so(name):
    torch = pytest.importorskip("torch")
    functions = {
        "relu": (lambda v: v.relu(), torch.relu),
        "leaky_relu": (lambda v: v.leaky_relu(0.01), torch.nn.functional.leaky_relu),
        "abs": (abs, torch.abs),
        "tanh": (lambda v: v.tanh(), torch.tanh),
        "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
        "softplus": (lambda v: v.softplus(), torch.nn.functional.softplus),
        "exp": (lambda v: v.exp(), torch.exp),
        "sin": (lambda v: v.sin(), torch.sin),
        "sqrt": (lambda v: v.sqrt(), torch.sqrt),
    }
    ours, theirs = functions[name]
    x = Value(NAN)
    (grad,) = gradients(ours(x), [x])
    t = torch.tensor(NAN, dtype=torch.float64, requires_grad=True)
    theirs(t).backward()
    expected = t.grad.item()
    assert (math.isnan(grad) and math.isnan(expected)) or grad == expected, (grad, expected)
