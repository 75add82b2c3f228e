"""Properties of gradients over random expressions (hypothesis).

Expressions are trees over three inputs.  ``SMOOTH`` ops are composed so that
every argument stays inside its op's domain (``log(u^2 + 1)``, ``2 ** tanh(u)``),
which keeps central differences valid; the algebraic identities also run over
the ops with kinks (``ALL``).
"""

from __future__ import annotations

import math
import sys

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd import Value, gradients, linear, numerical_grad, topological_order

N_INPUTS = 3

SMOOTH_UNARY = {
    "neg": lambda u: -u,
    "tanh": lambda u: u.tanh(),
    "sigmoid": lambda u: u.sigmoid(),
    "softplus": lambda u: u.softplus(),
    "sin": lambda u: u.sin(),
    "cos": lambda u: u.cos(),
    "exp_tanh": lambda u: u.tanh().exp(),
    "log_sq1": lambda u: (u * u + 1.0).log(),
    "sqrt_sq1": lambda u: (u * u + 1.0).sqrt(),
    "recip_sq1": lambda u: 1.0 / (u * u + 1.0),
    "pow_1.5": lambda u: (u.sigmoid() + 0.5) ** 1.5,
    "cube_tanh": lambda u: u.tanh() ** 3,
    "exp2_tanh": lambda u: 2.0 ** u.tanh(),
}
SMOOTH_BINARY = {
    "add": lambda u, v: u + v,
    "sub": lambda u, v: u - v,
    "mul_tanh": lambda u, v: u * v.tanh(),
    "div_sq1": lambda u, v: u / (v * v + 1.0),
    "vpow": lambda u, v: (u.sigmoid() + 0.5) ** v.tanh(),
}
KINKED_UNARY = {
    "relu": lambda u: u.relu(),
    "abs": abs,
    "leaky_relu": lambda u: u.leaky_relu(0.1),
}
KINKED_BINARY = {
    "mul": lambda u, v: u * v,
    "linear": lambda u, v: linear([u, 0.5], [v, u], -0.25),
}
ALL_UNARY = {**SMOOTH_UNARY, **KINKED_UNARY}
ALL_BINARY = {**SMOOTH_BINARY, **KINKED_BINARY}

finite = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False, allow_infinity=False)
# Below the smallest normal float 1/x overflows, so x/x would have a NaN derivative.
SMALLEST_NORMAL = sys.float_info.min
inputs = st.lists(finite, min_size=N_INPUTS, max_size=N_INPUTS)


def trees(unary, binary):
    """Expression trees: ("x", i) an input, ("c", value) a constant, (op, *children)."""
    leaves = st.one_of(
        st.tuples(st.just("x"), st.integers(0, N_INPUTS - 1)),
        st.tuples(st.just("c"), finite),
    )

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(sorted(unary)), children),
            st.tuples(st.sampled_from(sorted(binary)), children, children),
        )

    return st.recursive(leaves, extend, max_leaves=8)


smooth_trees = trees(SMOOTH_UNARY, SMOOTH_BINARY)
any_trees = trees(ALL_UNARY, ALL_BINARY)


def evaluate(tree, xs):
    """The Value of ``tree`` with inputs ``xs`` (constants become plain numbers)."""
    kind = tree[0]
    if kind == "x":
        return xs[tree[1]]
    if kind == "c":
        return Value(tree[1])
    children = [evaluate(t, xs) for t in tree[1:]]
    table = ALL_UNARY if len(children) == 1 else ALL_BINARY
    return table[kind](*children)


def scale_of(out):
    """The largest magnitude in the graph: rounding errors grow with it."""
    return max(1.0, *(abs(n.data) for n in topological_order(out)))


def close(a, b, rel, scale=1.0):
    """|a - b| within ``rel`` relative to the values or to ``scale``."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * scale)


@settings(max_examples=150, deadline=None)
@given(tree=smooth_trees, point=inputs)
def test_gradients_match_central_differences(tree, point):
    xs = [Value(p) for p in point]
    out = evaluate(tree, xs)
    analytic = gradients(out, xs)
    numeric = numerical_grad(lambda *vs: evaluate(tree, vs), point, eps=1e-6)
    tol = 1e-5 * scale_of(out)
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        assert math.isclose(a, n, rel_tol=1e-4, abs_tol=tol), (i, a, n, tree)


@settings(max_examples=100, deadline=None)
@given(
    ops=st.lists(st.sampled_from(sorted(SMOOTH_UNARY)), min_size=1, max_size=8),
    x=finite,
)
def test_a_chain_of_composed_ops_matches_central_differences(ops, x):
    def chain(v):
        for name in ops:
            v = SMOOTH_UNARY[name](v)
        return v

    v = Value(x)
    out = chain(v)
    out.backward()
    (numeric,) = numerical_grad(chain, [x])
    assert math.isclose(v.grad, numeric, rel_tol=1e-4, abs_tol=1e-6), (ops, v.grad, numeric)


@settings(max_examples=150, deadline=None)
@given(f=any_trees, g=any_trees, a=finite, b=finite, point=inputs)
def test_gradient_is_linear(f, g, a, b, point):
    xs = [Value(p) for p in point]
    fv, gv = evaluate(f, xs), evaluate(g, xs)
    combined = gradients(a * fv + b * gv, xs)
    df, dg = gradients(fv, xs), gradients(gv, xs)
    scale = 1.0 + abs(a) * max(map(abs, df)) + abs(b) * max(map(abs, dg))
    for h, p, q in zip(combined, df, dg, strict=True):
        assert close(h, a * p + b * q, 1e-12, scale)


@settings(max_examples=150, deadline=None)
@given(f=any_trees, g=any_trees, point=inputs)
def test_product_rule(f, g, point):
    xs = [Value(p) for p in point]
    fv, gv = evaluate(f, xs), evaluate(g, xs)
    product = gradients(fv * gv, xs)
    df, dg = gradients(fv, xs), gradients(gv, xs)
    scale = 1.0 + abs(fv.data) * max(map(abs, dg)) + abs(gv.data) * max(map(abs, df))
    for h, p, q in zip(product, df, dg, strict=True):
        assert close(h, p * gv.data + fv.data * q, 1e-12, scale)


@settings(max_examples=100, deadline=None)
@given(f=any_trees, point=inputs)
def test_self_difference_has_zero_gradient(f, point):
    xs = [Value(p) for p in point]
    fv = evaluate(f, xs)
    out = fv - fv
    assert out.data == 0.0
    assert gradients(out, xs) == [0.0] * N_INPUTS


@settings(max_examples=100, deadline=None)
@given(f=any_trees, point=inputs)
def test_self_quotient_is_one_with_zero_gradient(f, point):
    xs = [Value(p) for p in point]
    fv = evaluate(f, xs)
    assume(abs(fv.data) >= SMALLEST_NORMAL)
    out = fv / fv
    assert out.data == 1.0
    # 1/f - (f/f)/f cancels exactly, so nothing reaches the inputs.
    assert gradients(out, xs) == [0.0] * N_INPUTS


@settings(max_examples=50, deadline=None)
@given(point=inputs)
def test_x_minus_x_and_x_over_x(point):
    x = Value(point[0])
    (x - x).backward()
    assert x.grad == 0.0
    assume(abs(point[0]) >= SMALLEST_NORMAL)
    y = Value(point[0])
    (y / y).backward()
    assert y.grad == 0.0


@settings(max_examples=100, deadline=None)
@given(f=any_trees, point=inputs)
def test_backward_twice_doubles_leaf_grads_and_keeps_the_rest(f, point):
    xs = [Value(p) for p in point]
    out = evaluate(f, xs) * 1.5  # never a bare leaf, so the root is an op
    out.backward()
    order = topological_order(out)
    first = [n.grad for n in order]
    out.backward()
    for node, g in zip(order, first, strict=True):
        assert node.grad == (2 * g if node.is_leaf else g)


@settings(max_examples=100, deadline=None)
@given(f=any_trees, point=inputs)
def test_gradients_agree_with_backward(f, point):
    xs = [Value(p) for p in point]
    out = evaluate(f, xs)
    expected = gradients(out, xs)
    assert all(x.grad == 0.0 for x in xs)  # gradients() leaves .grad alone
    out.backward()
    reached = set(topological_order(out))
    assert [x.grad if x in reached else 0.0 for x in xs] == expected
