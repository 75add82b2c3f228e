"""Float64 parity with PyTorch: every op's value and first derivatives, and random graphs.

Optional: skipped when torch is not installed.  Correctness is proven without it
(tests/test_ops.py, tests/test_properties.py); this file shows we agree with the
library learners will move on to, kinks included.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import NamedTuple

import pytest

from autograd import OPS, Value, linear, topological_order

torch = pytest.importorskip("torch")
F = torch.nn.functional


class Case(NamedTuple):
    """One op as our expression and as PyTorch's, and the points to compare at."""

    op: str
    ours: Callable
    theirs: Callable
    points: tuple


def shared(op, f, points):
    """A case written once: operators and methods that Values and tensors share."""
    return Case(op, f, f, points)


GRID = (-3.0, -1.1, -0.2, 0.0, 0.4, 1.7, 5.0)
POSITIVE = (1e-3, 0.3, 1.0, 2.5, 40.0)
NONZERO = tuple(x for x in GRID if x != 0.0)
PAIRS = tuple((x, y) for x in (-2.0, -0.5, 0.0, 1.5) for y in (-1.5, 0.0, 0.7, 3.0))
PAIRS_NONZERO_DIVISOR = tuple((x, y) for x, y in PAIRS if y != 0.0)
# A zero base only where the derivative is finite: ours raises where PyTorch gives inf.
POWER_PAIRS = tuple((x, y) for x in (0.2, 1.0, 3.5) for y in (0.0, 0.5, 1.0, 2.5))
POWER_PAIRS += ((0.0, 0.0), (0.0, 1.0), (0.0, 2.5))
STABLE = (-1e6, -750.0, -30.0, -0.5, 0.0, 0.5, 30.0, 750.0, 1e6)


def one(points):
    """Wrap single numbers as 1-tuples of arguments."""
    return tuple((p,) for p in points)


CASES = [
    shared("add", lambda x, y: x + y, PAIRS),
    shared("add", lambda x: 1.5 + x, one(GRID)),
    shared("sub", lambda x, y: x - y, PAIRS),
    shared("sub", lambda x: 1.5 - x, one(GRID)),
    shared("mul", lambda x, y: x * y, PAIRS),
    shared("div", lambda x, y: x / y, PAIRS_NONZERO_DIVISOR),
    shared("div", lambda x: 2.0 / x, one(NONZERO)),
    shared("neg", lambda x: -x, one(GRID)),
    shared("pow", lambda x: x**3, one(GRID)),
    shared("pow", lambda x: x**-2, one(NONZERO)),
    shared("pow", lambda x: x**0, one(GRID)),
    shared("pow", lambda x: x**1.5, one((0.0, *POSITIVE))),
    shared("pow", lambda x: x**-0.5, one(POSITIVE)),
    shared("vpow", lambda x, y: x**y, POWER_PAIRS),
    shared("vpow", lambda y: 3.0**y, one(GRID)),
    shared("abs", abs, one(GRID)),
    Case("exp", lambda x: x.exp(), torch.exp, one((*GRID, -700.0, 700.0))),
    Case("log", lambda x: x.log(), torch.log, one(POSITIVE)),
    Case("sqrt", lambda x: x.sqrt(), torch.sqrt, one(POSITIVE)),
    Case("tanh", lambda x: x.tanh(), torch.tanh, one((*GRID, *STABLE))),
    Case("sigmoid", lambda x: x.sigmoid(), torch.sigmoid, one((*GRID, *STABLE))),
    Case("softplus", lambda x: x.softplus(), F.softplus, one((*GRID, *STABLE))),
    Case("relu", lambda x: x.relu(), torch.relu, one(GRID)),
    Case("leaky_relu", lambda x: x.leaky_relu(), F.leaky_relu, one(GRID)),
    Case("leaky_relu", lambda x: x.leaky_relu(0.2), lambda x: F.leaky_relu(x, 0.2), one(GRID)),
    Case("sin", lambda x: x.sin(), torch.sin, one(GRID)),
    Case("cos", lambda x: x.cos(), torch.cos, one(GRID)),
    Case(
        "linear",
        lambda w1, w2, x1, x2, b: linear([w1, w2], [x1, x2], b),
        lambda w1, w2, x1, x2, b: b + torch.stack([w1, w2]) @ torch.stack([x1, x2]),
        ((0.5, -1.2, 2.0, 0.3, -0.4), (-2.0, 0.0, 0.0, 1.5, 3.0)),
    ),
]


def ours(build, point):
    """(value, input grads) of ``build`` at ``point`` with tapegrad."""
    xs = [Value(p) for p in point]
    out = build(*xs)
    out.backward()
    return out.data, [x.grad for x in xs]


def theirs(build, point):
    """(value, input grads) of ``build`` at ``point`` with float64 PyTorch."""
    xs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    out = build(*xs)
    grads = torch.autograd.grad(out, xs, allow_unused=True)
    return out.item(), [0.0 if g is None else g.item() for g in grads]


def agree(a, b, rel=1e-12, abs_tol=1e-300):
    """Equal, or within ``rel`` relative / ``abs_tol`` absolute error."""
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def test_every_op_has_a_parity_case():
    missing = sorted(set(OPS) - {case.op for case in CASES})
    assert not missing, f"ops with no PyTorch parity case: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.op}-{i}" for i, c in enumerate(CASES)])
def test_op_matches_pytorch(case):
    for point in case.points:
        value, grads = ours(case.ours, point)
        t_value, t_grads = theirs(case.theirs, point)
        assert agree(value, t_value), f"{case.op}{point}: {value} vs torch {t_value}"
        for i, (g, t) in enumerate(zip(grads, t_grads, strict=True)):
            assert agree(g, t), f"{case.op}{point} d/dx{i}: {g} vs torch {t}"


# Random graphs: shared subexpressions, every op, arguments kept inside their domains.


class Lib(NamedTuple):
    """The functions whose spelling differs between the two libraries."""

    softplus: Callable
    leaky: Callable
    linear: Callable


OURS = Lib(lambda u: u.softplus(), lambda u: u.leaky_relu(0.05), linear)
THEIRS = Lib(
    F.softplus,
    lambda u: F.leaky_relu(u, 0.05),
    lambda ws, xs, b: b + sum(w * x for w, x in zip(ws, xs, strict=True)),
)

# name -> (arity, build(lib, *operands)): domains are kept by construction.
STEPS = {
    "add": (2, lambda lib, u, v: u + v),
    "sub": (2, lambda lib, u, v: u - v),
    "mul": (2, lambda lib, u, v: u * v),
    "div": (2, lambda lib, u, v: u / (v * v + 0.5)),
    "neg": (1, lambda lib, u: -u),
    "pow": (1, lambda lib, u: u**2),
    "pow_frac": (1, lambda lib, u: (u * u + 0.1) ** 0.75),
    "vpow": (2, lambda lib, u, v: (u.sigmoid() + 0.2) ** v.tanh()),
    "abs": (1, lambda lib, u: abs(u)),
    "exp": (1, lambda lib, u: u.tanh().exp()),
    "log": (1, lambda lib, u: (u * u + 0.1).log()),
    "sqrt": (1, lambda lib, u: (u * u + 0.1).sqrt()),
    "tanh": (1, lambda lib, u: u.tanh()),
    "sigmoid": (1, lambda lib, u: u.sigmoid()),
    "softplus": (1, lambda lib, u: lib.softplus(u)),
    "relu": (1, lambda lib, u: u.relu()),
    "leaky_relu": (1, lambda lib, u: lib.leaky(u)),
    "sin": (1, lambda lib, u: u.sin()),
    "cos": (1, lambda lib, u: u.cos()),
    "linear": (3, lambda lib, u, v, w: lib.linear([u, v], [w, u], v)),
}


def random_program(seed, n_inputs=3, n_steps=14):
    """(inputs, program): a program is a list of (step name, operand indices), values < 1e3."""
    rng = random.Random(seed)
    nodes = [Value(rng.uniform(-2, 2)) for _ in range(n_inputs)]
    program = []
    while len(program) < n_steps:
        name = rng.choice(sorted(STEPS))
        arity, build = STEPS[name]
        # Prefer recent nodes so graphs get deep, but reuse old ones too (diamonds).
        picks = [max(0, len(nodes) - 1 - int(rng.expovariate(0.5))) for _ in range(arity)]
        out = build(OURS, *(nodes[i] for i in picks))
        if abs(out.data) < 1e3:
            nodes.append(out)
            program.append((name, picks))
    return [n.data for n in nodes[:n_inputs]], program


def run(program, inputs, lib, make):
    """Replay ``program`` on inputs made by ``make``: (inputs, a sum over its last nodes)."""
    nodes = [make(x) for x in inputs]
    for name, picks in program:
        nodes.append(STEPS[name][1](lib, *(nodes[i] for i in picks)))
    return nodes[: len(inputs)], sum(nodes[len(inputs) :][-4:], nodes[-1] * 0.5)


def test_random_graphs_cover_every_op():
    seen = set()
    for seed in range(50):
        inputs, program = random_program(seed)
        seen |= {node.op for node in topological_order(run(program, inputs, OURS, Value)[1])}
    assert set(OPS) <= seen, sorted(set(OPS) - seen)


@pytest.mark.parametrize("block", range(4))
def test_random_graphs_match_pytorch(block):
    for seed in range(50 * block, 50 * (block + 1)):
        inputs, program = random_program(seed)
        xs, out = run(program, inputs, OURS, Value)
        out.backward()
        txs, tout = run(
            program,
            inputs,
            THEIRS,
            lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True),
        )
        tgrads = torch.autograd.grad(tout, txs, allow_unused=True)
        scale = 1.0 + max(abs(x.grad) for x in xs)
        assert agree(out.data, tout.item(), rel=1e-10, abs_tol=1e-12), seed
        for x, t in zip(xs, tgrads, strict=True):
            t = 0.0 if t is None else t.item()
            assert agree(x.grad, t, rel=1e-9, abs_tol=1e-12 * scale), (seed, x.grad, t)
