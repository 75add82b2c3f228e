"""Value itself: construction, the read-only graph view, operators, comparisons, identity."""

from __future__ import annotations

import math
import operator
import weakref
from fractions import Fraction

import pytest

from autograd import Value, constant


@pytest.mark.parametrize("data", [3, -7, 0, 2.5, -0.0, 1e308, 2**60])
def test_construction_stores_a_float(data):
    v = Value(data)
    assert type(v.data) is float
    assert v.data == data
    assert type(v.grad) is float and v.grad == 0.0
    assert v.label == ""


@pytest.mark.parametrize("data", [math.inf, -math.inf])
def test_infinities_are_accepted(data):
    assert Value(data).data == data


def test_nan_is_accepted():
    assert math.isnan(Value(math.nan).data)


def test_label_is_kept():
    assert Value(1.0, label="w1").label == "w1"
    assert Value(1.0, "b").label == "b"


def test_a_leaf_has_no_parents_and_no_op():
    v = Value(1.0)
    assert v.parents == ()
    assert v.op == ""
    assert v.arg is None
    assert v.is_leaf


def test_slots_and_no_instance_dict():
    v = Value(1.0)
    assert not hasattr(v, "__dict__")
    with pytest.raises(AttributeError):
        v.colour = "red"
    assert weakref.ref(v)() is v  # slots still allow weak references


@pytest.mark.parametrize("name", ["parents", "op", "arg", "is_leaf"])
def test_graph_view_is_read_only(name):
    v = Value(1.0) * 2.0
    with pytest.raises(AttributeError):
        setattr(v, name, None)


def test_data_grad_label_are_writable():
    # Optimizers write data, users zero grads, pictures use labels.
    v = Value(1.0)
    v.data = 2.0
    v.grad = 0.5
    v.label = "x"
    assert (v.data, v.grad, v.label) == (2.0, 0.5, "x")


def test_parents_are_in_operand_order():
    a, b = Value(1.0), Value(2.0)
    assert (a * b).parents == (a, b)
    assert (b * a).parents == (b, a)
    assert (a - b).parents == (a, b)
    assert (b / a).parents == (b, a)
    assert (a * a).parents == (a, a)
    assert type((a + b).parents) is tuple


@pytest.mark.parametrize(
    "expr, op, n_parents",
    [
        (lambda a, b: a + b, "add", 2),
        (lambda a, b: a - b, "sub", 2),
        (lambda a, b: a * b, "mul", 2),
        (lambda a, b: a / b, "div", 2),
        (lambda a, b: a**b, "vpow", 2),
        (lambda a, b: a**2, "pow", 1),
        (lambda a, b: -a, "neg", 1),
        (lambda a, b: abs(a), "abs", 1),
        (lambda a, b: a.exp(), "exp", 1),
        (lambda a, b: a.log(), "log", 1),
        (lambda a, b: a.sqrt(), "sqrt", 1),
        (lambda a, b: a.tanh(), "tanh", 1),
        (lambda a, b: a.sigmoid(), "sigmoid", 1),
        (lambda a, b: a.softplus(), "softplus", 1),
        (lambda a, b: a.relu(), "relu", 1),
        (lambda a, b: a.leaky_relu(), "leaky_relu", 1),
        (lambda a, b: a.sin(), "sin", 1),
        (lambda a, b: a.cos(), "cos", 1),
    ],
)
def test_each_operation_records_its_op(expr, op, n_parents):
    a, b = Value(1.5), Value(2.0)
    out = expr(a, b)
    assert out.op == op
    assert len(out.parents) == n_parents
    assert out.parents[0] is a
    assert not out.is_leaf
    assert out.label == "" and out.grad == 0.0


@pytest.mark.parametrize(
    "expr, op, value",
    [
        (lambda v: 2 + v, "add", 2 + 3.0),
        (lambda v: 2 - v, "sub", 2 - 3.0),
        (lambda v: 2 * v, "mul", 2 * 3.0),
        (lambda v: 2 / v, "div", 2 / 3.0),
        (lambda v: 2**v, "vpow", 2**3.0),
    ],
)
def test_reflected_operators_put_the_number_first(expr, op, value):
    v = Value(3.0)
    out = expr(v)
    assert out.op == op
    assert out.data == value
    number, operand = out.parents
    assert operand is v
    assert number.op == "const" and number.data == 2.0 and number.is_leaf


def test_numbers_become_constant_leaves():
    v = Value(3.0)
    out = v * 4
    const = out.parents[1]
    assert const.op == "const" and const.data == 4.0 and const.is_leaf
    c = constant(5)
    assert c.op == "const" and c.data == 5.0 and c.parents == ()


def test_op_constants_are_exposed_as_arg():
    v = Value(3.0)
    assert (v**2).arg == 2
    assert (v**-0.5).arg == -0.5
    assert v.leaky_relu(0.2).arg == 0.2
    assert v.leaky_relu().arg == 0.01
    assert (v**v).arg is None


def test_unary_plus_is_the_value_itself():
    v = Value(3.0)
    assert +v is v


def test_augmented_assignment_builds_a_new_node():
    a = Value(1.0)
    c = a
    c += 1
    assert c is not a and c.parents[0] is a and a.data == 1.0


def test_repr_shows_data_grad_and_label():
    v = Value(2.5, label="w")
    v.grad = -1.0
    text = repr(v)
    assert text.startswith("Value(")
    assert "data=2.5" in text and "grad=-1.0" in text and "label='w'" in text
    assert "label" not in repr(Value(2.5))


@pytest.mark.parametrize(
    "compare", [operator.lt, operator.le, operator.gt, operator.ge], ids=["<", "<=", ">", ">="]
)
@pytest.mark.parametrize("x, y", [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (-3.0, 0.0)])
def test_comparisons_are_plain_bools_on_data(compare, x, y):
    expected = compare(x, y)
    for result in (
        compare(Value(x), Value(y)),
        compare(Value(x), y),
        compare(x, Value(y)),
        compare(Value(x), int(y) if y.is_integer() else y),
    ):
        assert type(result) is bool
        assert result is expected


def test_equality_and_hash_are_identity():
    a, b = Value(1.0), Value(1.0)
    assert a == a
    assert a != b  # same data, different nodes
    assert a != 1.0
    assert hash(a) == hash(a)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2


@pytest.mark.parametrize(
    "method", ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__"]
)
@pytest.mark.parametrize("other", ["2", None, True, 1j, [1.0], (1.0,)])
def test_arithmetic_with_unsupported_operands_is_not_implemented(method, other):
    assert getattr(Value(1.0), method)(other) is NotImplemented


@pytest.mark.parametrize("method", ["__truediv__", "__rtruediv__", "__pow__", "__rpow__"])
@pytest.mark.parametrize("other", ["2", None, True, 1j])
def test_division_and_power_with_unsupported_operands_are_not_implemented(method, other):
    assert getattr(Value(1.0), method)(other) is NotImplemented


@pytest.mark.parametrize("method", ["__lt__", "__le__", "__gt__", "__ge__"])
@pytest.mark.parametrize("other", ["2", None, True, 1j])
def test_comparisons_with_unsupported_operands_are_not_implemented(method, other):
    assert getattr(Value(1.0), method)(other) is NotImplemented


@pytest.mark.parametrize(
    "expr",
    [
        lambda v: v + "2",
        lambda v: "2" + v,
        lambda v: v * None,
        lambda v: v - 1j,
        lambda v: v / [1.0],
        lambda v: v ** "2",
        lambda v: True**v,
        lambda v: v < "2",
        lambda v: v >= None,
    ],
)
def test_unsupported_operands_raise_type_error(expr):
    with pytest.raises(TypeError, match="Value"):
        expr(Value(1.0))


def test_detach_makes_a_new_leaf_with_the_same_data_and_label():
    x = Value(1.5, label="x")
    y = x * 2.0
    y.label = "y"
    d = y.detach()
    assert d is not y
    assert d.data == y.data and d.label == "y"
    assert d.is_leaf and d.parents == () and d.op == "" and d.grad == 0.0


def test_gradient_does_not_flow_through_detach():
    x = Value(3.0)
    out = x.detach() * x  # d/dx treats the detached factor as a constant
    out.backward()
    assert x.grad == 3.0


# micrograd's code runs with only its imports changed ------------------------------------


def test_prev_is_the_set_of_parents_as_in_micrograd():
    a, b = Value(2.0), Value(3.0)
    c = a * b + a
    assert c._prev == {c.parents[0], a}
    assert (a * a)._prev == {a}  # a set: a Value used twice appears once
    assert a._prev == set()
    with pytest.raises(AttributeError):
        c._prev = set()  # read-only: the graph is not edited through it


def test_the_lectures_graph_walk_runs_on_tapegrad():
    # Written the way the lecture writes it: recursion over _prev, nodes and edges in sets.
    def trace(root):
        nodes, edges = set(), set()

        def build(v):
            if v not in nodes:
                nodes.add(v)
                for child in v._prev:
                    edges.add((child, v))
                    build(child)

        build(root)
        return nodes, edges

    x1, x2, w1, w2, b = (Value(v) for v in (2.0, 0.0, -3.0, 1.0, 6.88))
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.backward()
    nodes, edges = trace(o)
    assert len(nodes) == 10 and len(edges) == 9
    assert {v._op for v in nodes} == {"", "mul", "add", "tanh"}
    assert all(isinstance(v.data, float) and isinstance(v.grad, float) for v in nodes)


@pytest.mark.parametrize(
    "number",
    [3, 2.5, Fraction(1, 3), Fraction(-7, 2), 10**20],
)
def test_any_real_number_is_stored_as_a_float(number):
    v = Value(number)
    assert type(v.data) is float and v.data == float(number)


def test_numpy_scalars_work_as_values_and_as_operands():
    np = pytest.importorskip("numpy")
    for number in (np.int64(3), np.float32(0.5), np.float64(-2.25), np.int8(-4)):
        v = Value(number)
        assert type(v.data) is float and v.data == float(number)
    a = Value(2.0)
    assert (a * np.int64(3)).data == 6.0 and (a ** np.int64(2)).data == 4.0
    assert (a + Fraction(1, 2)).data == 2.5 and (a < np.int64(3)) is True


@pytest.mark.parametrize("bad", [True, "3", None, 1j, [1.0]])
def test_non_real_data_raises_saying_what_is_accepted(bad):
    with pytest.raises(TypeError, match=r"Value\(\) takes a real number .* got "):
        Value(bad)


def test_a_graph_of_numpy_scalars_walks_and_differentiates_like_one_of_floats():
    np = pytest.importorskip("numpy")

    def trace(root):  # the lecture's walk again, over a graph fed with numpy scalars
        nodes, edges = set(), set()

        def build(v):
            if v not in nodes:
                nodes.add(v)
                for child in v._prev:
                    edges.add((child, v))
                    build(child)

        build(root)
        return nodes, edges

    def neuron(x, w, b):
        return (x[0] * w[0] + x[1] * w[1] + b).tanh()

    def leaves(numbers):
        return [Value(n) for n in numbers]

    xs_np, ws_np = leaves([np.float32(3.0), np.int64(-1)]), leaves([np.float64(0.5), np.int8(2)])
    xs, ws = leaves([3.0, -1.0]), leaves([0.5, 2.0])
    b_np, b = Value(np.float32(0.25)), Value(0.25)
    out_np, out = neuron(xs_np, ws_np, b_np), neuron(xs, ws, b)
    out_np.backward()
    out.backward()
    nodes, edges = trace(out_np)
    assert len(nodes) == 10 and len(edges) == 9
    assert all(type(v.data) is float and type(v.grad) is float for v in nodes)
    assert out_np.data == out.data
    assert [v.grad for v in (*xs_np, *ws_np, b_np)] == [v.grad for v in (*xs, *ws, b)]
