"""Second and third derivatives of every op against torch.autograd.grad(create_graph=True).

float64 on both sides, so agreement is to rounding.  Skipped without torch.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autograd import OPS, Value, grad, linear

torch = pytest.importorskip("torch")
F = torch.nn.functional

REAL = st.floats(-4.0, 4.0)
POSITIVE = st.floats(0.3, 4.0)
AWAY_FROM_ZERO = st.one_of(st.floats(0.3, 4.0), st.floats(-4.0, -0.3))

# name -> (ours, torch's, domains), each a function of the same scalars.
UNARY_METHODS = ["exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "sin", "cos"]
TORCH_UNARY = {
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "relu": torch.relu,
    "sin": torch.sin,
    "cos": torch.cos,
}
DOMAINS = {"log": POSITIVE, "sqrt": POSITIVE, "relu": AWAY_FROM_ZERO}

CASES = {
    "add": (lambda x, y: x + y, lambda x, y: x + y, (REAL, REAL)),
    "sub": (lambda x, y: x - y, lambda x, y: x - y, (REAL, REAL)),
    "mul": (lambda x, y: x * y, lambda x, y: x * y, (REAL, REAL)),
    "div": (lambda x, y: x / y, lambda x, y: x / y, (REAL, AWAY_FROM_ZERO)),
    "neg": (lambda x: -x, lambda x: -x, (REAL,)),
    "pow": (lambda x: x**2.5, lambda x: x**2.5, (POSITIVE,)),
    # Not at y in {0, 1}: there PyTorch masks y * x^(y-1) (resp. its derivative
    # (y-1) x^(y-2)) to a constant 0, losing its dependence on y, so e.g. its
    # d2(x^y)/dx dy at y = 0 is 0 instead of 1/x.  test_higher_order checks ours
    # against finite differences at such points.
    "vpow": (
        lambda x, y: x**y,
        lambda x, y: x**y,
        (POSITIVE, st.floats(-2.0, 3.0).filter(lambda y: y not in (0.0, 1.0))),
    ),
    "abs": (abs, torch.abs, (AWAY_FROM_ZERO,)),
    "leaky_relu": (
        lambda x: x.leaky_relu(0.2),
        lambda x: F.leaky_relu(x, 0.2),
        (AWAY_FROM_ZERO,),
    ),
    "linear": (
        lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b),
        lambda w1, w2, x1, x2, b: w1 * x1 + w2 * x2 + b,
        (REAL,) * 5,
    ),
}
for _name in UNARY_METHODS:
    CASES[_name] = (
        lambda x, m=_name: getattr(x, m)(),
        TORCH_UNARY[_name],
        (DOMAINS.get(_name, REAL),),
    )


def test_every_op_is_compared_with_torch():
    assert set(CASES) == set(OPS)


def torch_derivatives(fn, xs):
    """{(i,): d1, (i, j): d2, (i, j, k): d3} of fn at xs, from torch in float64."""
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]

    def d(y):
        # A derivative that no longer depends on the inputs does not require grad: zeros.
        if not y.requires_grad:
            return [torch.zeros((), dtype=torch.float64) for _ in ts]
        return torch.autograd.grad(
            y, ts, create_graph=True, allow_unused=True, materialize_grads=True
        )

    result = {}
    level = {(): fn(*ts)}
    for _order in range(3):
        nxt = {}
        for key, y in level.items():
            for i, dy in enumerate(d(y)):
                nxt[(*key, i)] = dy
        result.update(nxt)
        level = nxt
    return {k: v.item() for k, v in result.items()}


def ours(fn, key, xs):
    """The derivative of fn named by key, e.g. (0, 1, 1) = d3 fn / dx0 dx1 dx1."""
    g = fn
    for i in key:
        g = grad(g, i)
    return g(*xs)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_second_and_third_derivatives_match_torch(name, data):
    mine, theirs, domains = CASES[name]
    xs = [data.draw(d, label=f"x{i}") for i, d in enumerate(domains)]
    expected = torch_derivatives(theirs, xs)
    n = len(xs)
    for order in (2, 3):
        for key in itertools.combinations_with_replacement(range(n), order):
            assert ours(mine, key, xs) == pytest.approx(expected[key], rel=1e-10, abs=1e-10), key


@pytest.mark.parametrize("name", ["abs", "relu", "leaky_relu"])
def test_kinks_match_torch_to_third_order(name):
    mine, theirs, _ = CASES[name]
    expected = torch_derivatives(theirs, [0.0])
    for key in [(0,), (0, 0), (0, 0, 0)]:
        assert ours(mine, key, [0.0]) == expected[key], key


@settings(max_examples=15, deadline=None)
@given(x=st.floats(-2.0, 2.0), y=st.floats(0.5, 2.0))
@example(x=0.0, y=1.0)
def test_a_composite_function_matches_torch(x, y):
    def mine(a, b):
        return (a * b).tanh() * (a / b).exp() + (a * a + b).sqrt() * a.sin() - b.log() ** 2

    def theirs(a, b):
        return (
            torch.tanh(a * b) * torch.exp(a / b)
            + torch.sqrt(a * a + b) * torch.sin(a)
            - torch.log(b) ** 2
        )

    expected = torch_derivatives(theirs, [x, y])
    for order in (1, 2, 3):
        for key in itertools.product(range(2), repeat=order):
            assert ours(mine, key, [x, y]) == pytest.approx(expected[key], rel=1e-9, abs=1e-9)


def test_backward_create_graph_matches_torch_autograd_grad():
    x, y = Value(0.7), Value(-0.4)
    out = (x * y).sin() * x.exp()
    g = out.backward(create_graph=True)
    second = g[x].backward(create_graph=True)

    tx = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(-0.4, dtype=torch.float64, requires_grad=True)
    (tgx, tgy) = torch.autograd.grad(
        torch.sin(tx * ty) * torch.exp(tx), (tx, ty), create_graph=True
    )
    txx, txy = torch.autograd.grad(tgx, (tx, ty))
    assert g[x].data == pytest.approx(tgx.item(), rel=1e-12)
    assert g[y].data == pytest.approx(tgy.item(), rel=1e-12)
    assert second[x].data == pytest.approx(txx.item(), rel=1e-12)
    assert second[y].data == pytest.approx(txy.item(), rel=1e-12)
