"""Compiled tapes and batch replay give the eager engine's numbers, or refuse loudly."""

from __future__ import annotations

import contextlib
import gc
import math
import random
import weakref

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nn
from autograd import Value, constant, gradients, linear, no_grad
from autograd.compile import TapeMismatch, TraceError, allow_reads, trace
from autograd.ops import OPS
from nn.compiled_loss import compile_loss

# Helpers ---------------------------------------------------------------------------------------


def batch_replay(tape, *columns, **options):
    """autograd.batch.batch_replay, imported on use (it needs numpy, which some tests skip)."""
    from autograd.batch import batch_replay as replay

    return replay(tape, *columns, **options)


def eager(fn, inputs, params=(), wrt=None):
    """(value, grads) from the eager engine, in the order a tape returns them."""
    args, leaves = [], []
    for x in inputs:
        if isinstance(x, list):
            row = [Value(e) for e in x]
            args.append(row)
            leaves += row
        else:
            v = Value(x)
            args.append(v)
            leaves.append(v)
    out = fn(*args)
    params = list(params)
    wrt = wrt or ("params" if params else "inputs")
    wanted = (params if wrt in ("params", "all") else []) + (
        leaves if wrt in ("inputs", "all") else []
    )
    return out.data, gradients(out, wanted)


def close(a: float, b: float, rel: float = 1e-12, scale: float = 0.0) -> bool:
    """Equal within ``rel`` of the larger magnitude (or of ``scale``); NaN equals NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), scale)


def assert_same(got, want, rel: float = 1e-12, scales=None) -> None:
    (v1, g1), (v2, g2) = got, want
    scales = scales or (0.0, [0.0] * len(g2))
    assert close(v1, v2, rel, scales[0]), f"value {v1!r} != {v2!r}"
    assert len(g1) == len(g2)
    for k, (a, b) in enumerate(zip(g1, g2)):
        assert close(a, b, rel, scales[1][k]), f"gradient {k}: {a!r} != {b!r}"


def raises_like(fn, *args):
    """The exception fn(*args) raises, or None."""
    try:
        fn(*args)
    except (ArithmeticError, ValueError) as err:
        return err
    return None


@contextlib.contextmanager
def gc_disabled():
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# Every op of the table compiles, forward and backward ------------------------------------------

# One small function per op, with two input points (to trace at, then to replay at).
OP_CASES = {
    "add": (lambda x, y: x + y, [0.7, -1.3], [2.5, 0.25]),
    "sub": (lambda x, y: x - y, [0.7, -1.3], [-2.5, 0.25]),
    "mul": (lambda x, y: x * y, [0.7, -1.3], [2.5, 0.25]),
    "div": (lambda x, y: x / y, [0.7, -1.3], [2.5, 0.25]),
    "neg": (lambda x: -x, [0.4], [-3.0]),
    "pow": (lambda x: x**3 + x**0.5 + x**-2, [0.9], [2.3]),
    "vpow": (lambda x, y: x**y, [1.3, 0.7], [2.1, -1.5]),
    "abs": (lambda x: abs(x), [-0.3], [1.7]),
    "exp": (lambda x: x.exp(), [0.3], [-2.0]),
    "log": (lambda x: x.log(), [1.7], [0.2]),
    "sqrt": (lambda x: x.sqrt(), [1.7], [0.2]),
    "tanh": (lambda x: x.tanh(), [0.3], [-2.0]),
    "sigmoid": (lambda x: x.sigmoid(), [0.3], [-40.0]),
    "softplus": (lambda x: x.softplus(), [0.3], [-40.0]),
    "relu": (lambda x: x.relu(), [0.3], [-2.0]),
    "leaky_relu": (lambda x: x.leaky_relu(0.2), [0.3], [-2.0]),
    "sin": (lambda x: x.sin(), [0.3], [-2.0]),
    "cos": (lambda x: x.cos(), [0.3], [-2.0]),
    "linear": (
        lambda a, b, c, d, e: linear([a, b], [c, d], e),
        [1, 2, 3, 4, 5],
        [-1, 0.5, 2, -3, 1],
    ),
}


def test_every_op_of_the_table_has_a_case_here():
    missing = set(OPS) - set(OP_CASES)
    assert not missing, f"add a case for op(s) {sorted(missing)}: every op must compile"


@pytest.mark.parametrize("op", sorted(OPS))
def test_each_op_replays_like_eager(op):
    fn, first, second = OP_CASES[op]
    tape = trace(fn, *first)
    assert any(f"# {op}" in line for line in tape.source().splitlines())
    assert_same(tape(*first), eager(fn, first))
    assert_same(tape(*second), eager(fn, second))


@pytest.mark.parametrize("op", ["relu", "leaky_relu", "abs"])
@pytest.mark.parametrize("x", [-1.5, 0.0, 2.0])
def test_kinks_replay_on_both_sides_and_at_zero(op, x):
    fn = OP_CASES[op][0]
    tape = trace(fn, 1.0)  # recorded on the positive side
    assert_same(tape(x), eager(fn, [x]))


# Random expression graphs ----------------------------------------------------------------------

UNARY = ["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "leaky"]
UNARY += ["sin", "cos", "square", "cube", "root", "inverse"]
BINARY = ["add", "sub", "mul", "div", "vpow", "linear"]
# Ops whose numpy versions give the same bits as Python floats (for batch comparisons).
EXACT_UNARY = ["neg", "abs", "relu", "leaky"]
EXACT_BINARY = ["add", "sub", "mul", "div", "linear"]


def apply(name, a, b=None):
    unary = {
        "neg": lambda: -a,
        "abs": lambda: abs(a),
        "exp": lambda: a.exp(),
        "log": lambda: a.log(),
        "sqrt": lambda: a.sqrt(),
        "tanh": lambda: a.tanh(),
        "sigmoid": lambda: a.sigmoid(),
        "softplus": lambda: a.softplus(),
        "relu": lambda: a.relu(),
        "leaky": lambda: a.leaky_relu(0.1),
        "sin": lambda: a.sin(),
        "cos": lambda: a.cos(),
        "square": lambda: a**2,
        "cube": lambda: a**3,
        "root": lambda: a**0.5,
        "inverse": lambda: a**-1,
    }
    if name in unary:
        return unary[name]()
    return {
        "add": lambda: a + b,
        "sub": lambda: a - b,
        "mul": lambda: a * b,
        "div": lambda: a / b,
        "vpow": lambda: a**b,
        "linear": lambda: linear([a, b], [b, 0.5], a),
    }[name]()


def programs(unary, binary):
    """A random straight-line program over 1-3 inputs: [(op, i, j)] on earlier results."""

    @st.composite
    def build(draw):
        n_inputs = draw(st.integers(1, 3))
        steps = []
        for k in range(draw(st.integers(1, 8))):
            available = n_inputs + k
            op = draw(st.sampled_from(unary + binary))
            i = draw(st.integers(0, available - 1))
            j = draw(st.integers(0, available - 1))
            const = draw(st.sampled_from([None, -1.5, 0.5, 2.0]))
            steps.append((op, i, j, const))
        return n_inputs, steps

    return build()


def run_program(steps):
    def fn(*xs):
        values = list(xs)
        for op, i, j, const in steps:
            b = values[j] if const is None else const
            values.append(apply(op, values[i], b))
        # Sum every result so that each node lies on the way to the output.
        total = values[len(xs)]
        for v in values[len(xs) + 1 :]:
            total = total + v
        return total

    return fn


point = st.floats(-2.5, 2.5, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(programs(UNARY, BINARY), st.lists(point, min_size=3, max_size=3), st.data())
def test_random_graphs_replay_like_eager(program, a, data):
    n, steps = program
    fn = run_program(steps)
    first = a[:n]
    assume(raises_like(eager, fn, first) is None)
    tape = trace(fn, *first)
    second = data.draw(st.lists(point, min_size=n, max_size=n))
    error = raises_like(eager, fn, second)
    if error is None:
        assert_same(tape(*second), eager(fn, second))
    else:
        with pytest.raises(type(error)) as got:
            tape(*second)
        assert str(got.value) == str(error)


@settings(max_examples=40, deadline=None)
@given(programs(UNARY, BINARY), st.lists(point, min_size=3, max_size=3))
def test_generated_source_runs_by_hand(program, a):
    n, steps = program
    fn = run_program(steps)
    first = a[:n]
    assume(raises_like(eager, fn, first) is None)
    tape = trace(fn, *first)
    namespace: dict = {}
    exec(compile(tape.source(), "tape_by_hand.py", "exec"), namespace)
    assert_same(namespace["fn"](*first), tape(*first), rel=0.0)


# The demo: micrograd's MLP step ----------------------------------------------------------------


def demo_setup():
    data = nn.moons(100, noise=0.1, seed=0).signed()
    X = [[float(a) for a in row] for row in data.X]
    Y = [float(y) for y in data.y]
    model = nn.MLP(2, [16, 16, 1], seed=1)
    return model, X, Y


def hinge_sample(model):
    def sample_loss(x, y):
        return (1 + -y * model(x)).relu()

    return sample_loss


def per_sample_eager(fn, X, Y, params):
    """Eager (value, grads) of each sample, and the sum of their magnitudes (the scale of a sum)."""
    results = [eager(fn, [x, y], params) for x, y in zip(X, Y)]
    value = sum(v for v, _ in results)
    grads = [sum(g[k] for _, g in results) for k in range(len(params))]
    scale_v = sum(abs(v) for v, _ in results)
    scale_g = [sum(abs(g[k]) for _, g in results) for k in range(len(params))]
    return (value, grads), (scale_v, scale_g)


def test_demo_step_sum_over_matches_eager():
    model, X, Y = demo_setup()
    params = model.parameters()
    fn = hinge_sample(model)
    tape = trace(fn, X[0], Y[0], params=params)
    assert len(tape.params) == 337
    want, scales = per_sample_eager(fn, X, Y, params)
    assert_same(tape.sum_over(X, Y), want, 1e-12, scales)
    # One sample at a time, the tape gives exactly the eager numbers.
    for k in (0, 17, 99):
        assert tape(X[k], Y[k]) == eager(fn, [X[k], Y[k]], params)


def test_demo_full_batch_loss_and_update_match_eager():
    model, X, Y = demo_setup()
    params = model.parameters()
    alpha = 1e-4
    compiled = compile_loss(model, lambda s, y: (1 + -y * s).relu(), X[0], Y[0])
    penalty = trace(lambda: alpha * nn.functional.l2_penalty(params), params=params)

    model.zero_grad()
    data_loss = compiled.sum_over(X, Y, scale=1.0 / len(X))
    reg, reg_grads = penalty()
    for p, g in zip(params, reg_grads):
        p.grad += g
    got = (data_loss + reg, [p.grad for p in params])

    model.zero_grad()
    scores = [model([Value(a) for a in x]) for x in X]
    loss = nn.functional.hinge(scores, Y) + alpha * nn.functional.l2_penalty(params)
    loss.backward()
    want = (loss.data, [p.grad for p in params])
    assert_same(got, want, 1e-12, (1.0, [max(1.0, abs(g)) for g in want[1]]))


def hinge_reading_the_target(score, y):
    """micrograd's hinge term, with the target used as a plain number (as nn's losses may)."""
    y = y.data if isinstance(y, Value) else y
    return (1 + -y * score).relu()


def test_compile_loss_freezes_targets_a_loss_reads_as_numbers():
    model, X, Y = demo_setup()
    # Reading the target's .data makes 'auto' fall back to one tape per target value.
    compiled = compile_loss(model, hinge_reading_the_target, X[0], Y[0])
    assert compiled.static
    model.zero_grad()
    total = compiled.sum_over(X, Y)
    assert len(compiled.tapes) == 2  # y = -1 and y = +1
    got = (total, [p.grad for p in model.parameters()])
    model.zero_grad()
    terms = [hinge_reading_the_target(model(x), y) for x, y in zip(X, Y)]
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    loss.backward()
    want = (loss.data, [p.grad for p in model.parameters()])
    assert_same(got, want, 1e-12, (1.0, [max(1.0, abs(g)) for g in want[1]]))
    with pytest.raises(TraceError, match=r"\.data"):
        compile_loss(model, hinge_reading_the_target, X[0], Y[0], targets="input")


def stable_cross_entropy(logits, target):
    """-log softmax(z)_t with the max shift frozen (allowed: it changes no result)."""
    with allow_reads():
        m = max(z.data for z in logits)
    total = (logits[0] - m).exp()
    for z in logits[1:]:
        total = total + (z - m).exp()
    return total.log() + m - logits[target]


def test_compile_loss_builds_one_tape_per_class_index():
    model = nn.MLP(2, [8, 3], seed=0)
    data = nn.spiral(30, classes=3, seed=0)
    compiled = compile_loss(model, stable_cross_entropy, data.X[0], data.y[0])
    assert compiled.static  # an int target indexes the logits: frozen
    model.zero_grad()
    total = compiled.sum_over(data.X, data.y, scale=1.0 / len(data.y))
    assert len(compiled.tapes) == 3
    got = (total, [p.grad for p in model.parameters()])
    model.zero_grad()
    loss = nn.functional.cross_entropy([model(x) for x in data.X], data.y)
    loss.backward()
    want = (loss.data, [p.grad for p in model.parameters()])
    assert_same(got, want, 1e-12, (1.0, [max(1.0, abs(g)) for g in want[1]]))


def test_compile_loss_gives_up_on_too_many_frozen_targets():
    model, X, _ = demo_setup()
    compiled = compile_loss(model, hinge_reading_the_target, X[0], 0.5)
    assert compiled.static
    compiled.max_tapes = 3
    with pytest.raises(TraceError, match="targets='input'"):
        compiled.sum_over(X[:4], [0.1, 0.2, 0.3, 0.4])


def test_compile_loss_one_sample_accumulates_into_grad():
    model, X, Y = demo_setup()
    compiled = compile_loss(model, lambda s, y: (s - y) ** 2, X[3], Y[3], targets="input")
    model.zero_grad()
    compiled(X[3], Y[3])
    compiled(X[3], Y[3])
    once = eager(lambda x, y: (model(x) - y) ** 2, [X[3], Y[3]], model.parameters())
    for p, g in zip(model.parameters(), once[1]):
        assert close(p.grad, 2 * g)


def test_compile_loss_rejects_an_unknown_targets_mode():
    model, X, Y = demo_setup()
    with pytest.raises(ValueError, match="targets"):
        compile_loss(model, lambda s, y: s * y, X[0], Y[0], targets="maybe")


# The tape made visible -------------------------------------------------------------------------


def test_source_shows_the_rules_of_the_table():
    tape = trace(lambda x, y: (x * y).tanh(), 0.5, -1.0)
    code = tape.source()
    # Forward: one line per node; backward: tanh' = 1 - out^2 and mul's rule.
    assert "v2 = v0 * v1  # mul" in code
    assert "g_v2 = g_v3 * (1.0 - v3 * v3)" in code
    assert "g_v0 = g_v2 * v1" in code and "g_v1 = g_v2 * v0" in code
    assert code.index("# forward") < code.index("# backward")


def test_source_of_the_summing_loop_runs_by_hand():
    w = Value(0.5, label="w")
    tape = trace(lambda x, y: (w * x - y) ** 2, 1.0, 2.0, params=[w])
    namespace: dict = {}
    exec(compile(tape.source(summed=True), "loop.py", "exec"), namespace)
    got = namespace["tape_sum"]  # a lambda has no usable name: the tape is called "tape"
    assert got([[1.0, 2.0], [2.0, -1.0]], [0.5]) == tape.sum_over([1.0, 2.0], [2.0, -1.0])


def test_names_come_from_the_function():
    def loss(x, target):
        return (x[0] - target) ** 2 + x[1]

    tape = trace(loss, [1.0, 2.0], 0.5)
    assert "def loss(x, target):" in tape.source()
    assert "v0, v1 = x" in tape.source()
    assert tape.input_shapes == [2, None]
    assert "loss(x, target)" in repr(tape)


# Gradients with respect to what ----------------------------------------------------------------


def test_params_are_read_at_each_call_and_can_be_given():
    w = Value(0.5)
    tape = trace(lambda x: x * w, 2.0, params=[w])
    assert tape(2.0) == (1.0, [2.0])
    w.data = 1.5
    assert tape(2.0) == (3.0, [2.0])
    assert tape(2.0, params=[-1.0]) == (-2.0, [2.0])
    with pytest.raises(TapeMismatch, match="parameter values"):
        tape(2.0, params=[1.0, 2.0])


def test_wrt_inputs_params_or_all():
    w = Value(3.0)

    def f(x, y):
        return x * y * w

    assert trace(f, 1.0, 2.0)(1.0, 2.0)[1] == [6.0, 3.0]  # no params: inputs
    assert trace(f, 1.0, 2.0, params=[w])(1.0, 2.0)[1] == [2.0]
    assert trace(f, 1.0, 2.0, params=[w], wrt="all")(1.0, 2.0)[1] == [2.0, 6.0, 3.0]
    with pytest.raises(ValueError, match="wrt"):
        trace(f, 1.0, 2.0, wrt="everything")


def test_unused_inputs_and_params_get_zero_gradients():
    w, unused = Value(1.0), Value(2.0)
    tape = trace(lambda x, y: x * w, 3.0, 4.0, params=[w, unused], wrt="all")
    assert tape(3.0, 4.0) == (3.0, [3.0, 0.0, 1.0, 0.0])


def test_captured_values_are_read_at_each_call():
    c = Value(2.0)
    tape = trace(lambda x: x * c, 1.0)
    c.data = 5.0
    assert tape(1.0) == (5.0, [5.0])


def test_values_made_under_no_grad_are_recomputed_without_gradient():
    def f(x, w):
        with no_grad():
            s = x * 3.0  # a constant for the gradient, but it follows x
        return s * w + x

    tape = trace(f, 1.0, 2.0)
    assert "under no_grad" in tape.source()
    for point in ([1.0, 2.0], [-2.0, 0.5]):
        assert_same(tape(*point), eager(f, point))


def test_a_constant_output_and_an_input_output():
    assert trace(lambda x: constant(2.0), 1.0)(5.0) == (2.0, [0.0])
    assert trace(lambda x: x, 1.0)(5.0) == (5.0, [1.0])


# Replays that would take another path ----------------------------------------------------------


def branchy(x):
    if x > 0:  # a comparison of a Value: recorded as a guard
        return x * 2.0
    return x * -3.0


def test_a_guard_passes_on_the_recorded_side_and_fails_on_the_other():
    tape = trace(branchy, 1.0)
    assert tape.guards and "x > 0" not in tape.guards[0]  # shown with the tape's names
    assert tape(5.0) == (10.0, [2.0])
    with pytest.raises(TapeMismatch, match=r"guard 0: v0 > 0\.0 .*test_compile\.py.* was True"):
        tape(-1.0)
    left = trace(branchy, -1.0)
    assert left(-2.0) == (6.0, [-3.0])
    with pytest.raises(TapeMismatch):
        left(0.5)


def test_guards_between_values_and_on_values_outside_the_output():
    def f(x, y):
        if x * x > y:  # x * x is not part of the result
            return x + y
        return x - y

    tape = trace(f, 2.0, 1.0)
    assert tape(3.0, 1.0) == (4.0, [1.0, 1.0])
    with pytest.raises(TapeMismatch):
        tape(0.5, 1.0)
    with pytest.raises(TapeMismatch):
        tape(1.0, 1.0)  # 1 > 1 is False: the boundary belongs to the other side


def test_max_of_values_is_guarded():
    tape = trace(lambda a, b: max(a, b) * 2.0, 1.0, 3.0)
    assert tape(0.0, 4.0) == (8.0, [0.0, 2.0])
    with pytest.raises(TapeMismatch):
        tape(5.0, 4.0)


def test_sum_over_names_the_sample_whose_guard_fails():
    tape = trace(branchy, 1.0)
    assert tape.sum_over([1.0, 2.0]) == (6.0, [4.0])
    with pytest.raises(TapeMismatch, match="sample 2: guard 0"):
        tape.sum_over([1.0, 2.0, -3.0, 4.0])


def test_inputs_of_another_shape_are_refused():
    tape = trace(lambda x, y: x[0] * x[1] + y, [1.0, 2.0], 3.0)
    with pytest.raises(TapeMismatch, match="has 3 items"):
        tape([1.0, 2.0, 3.0], 1.0)
    with pytest.raises(TapeMismatch, match="was a list of 2"):
        tape(1.0, 1.0)
    with pytest.raises(TapeMismatch, match="was a number"):
        tape([1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="takes 2 inputs"):
        tape([1.0, 2.0])
    with pytest.raises(TypeError, match="must be a number"):
        tape([1.0, "2"], 1.0)
    with pytest.raises(TypeError, match="must be a number"):
        tape([1.0, 2.0], True)
    with pytest.raises(TapeMismatch, match="different lengths"):
        tape.sum_over([[1.0, 2.0]], [1.0, 2.0])


def test_reading_data_while_tracing_is_refused_and_says_where():
    def f(x):
        return x * 2.0 if x.data > 0 else x * 3.0

    with pytest.raises(TraceError, match=r"read \.data .*test_compile\.py"):
        trace(f, 1.0)
    with pytest.raises(TraceError, match=r"\.grad"):
        trace(lambda x: x * x.grad, 1.0)
    with pytest.raises(TraceError):
        trace(lambda x: x * x.detach(), 1.0)  # detach copies data into a new leaf
    # Reading a constant's data is harmless.
    assert trace(lambda x: x * constant(2.0).data, 1.0)(3.0) == (6.0, [2.0])


def test_check_mode_verifies_each_replay_by_running_the_function_again():
    def f(x):
        return x * 2.0 if x.data > 0 else x * 3.0

    tape = trace(f, 1.0, check=True)
    assert tape(4.0) == (8.0, [2.0])
    with pytest.raises(TapeMismatch, match="another graph"):
        tape(-4.0)

    def scaled(x):
        return x * x.data  # the number read becomes a constant of the graph

    tape = trace(scaled, 2.0, check=True)
    assert tape(2.0) == (4.0, [2.0])
    with pytest.raises(TapeMismatch, match="constant"):
        tape(3.0)


def test_allow_reads_freezes_a_read_that_cannot_change_the_result():
    def logsumexp(a, b):
        with allow_reads():
            m = max(a.data, b.data)  # any shift gives the same value and gradients
        return ((a - m).exp() + (b - m).exp()).log() + m

    tape = trace(logsumexp, 1.0, 2.0)
    for point in ([1.0, 2.0], [-3.0, 0.5]):
        assert_same(tape(*point), eager(logsumexp, point), 1e-12)


def test_tracing_leaves_value_as_it_was_even_when_fn_raises():
    slots = {name: Value.__dict__[name] for name in ("data", "grad")}

    def broken(x):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        trace(broken, 1.0)
    trace(lambda x: x * 2.0, 1.0)
    assert {name: Value.__dict__[name] for name in slots} == slots
    assert Value(2.0) > 1.0  # comparisons work untraced


def test_bad_trace_arguments():
    with pytest.raises(TypeError, match="must return one Value"):
        trace(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="must be a number"):
        trace(lambda x: x, "1")
    with pytest.raises(TypeError, match="params"):
        trace(lambda x: x, 1.0, params=[1.0])
    with pytest.raises(ValueError, match="result of an op"):
        trace(lambda x: x, Value(1.0) * 2.0)
    with pytest.raises(ValueError, match="twice"):
        w = Value(1.0)
        trace(lambda x: x, w, params=[w])
    with pytest.raises(TypeError, match="function"):
        trace(3.0, 1.0)


# Domain errors on replay are the eager engine's --------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (lambda x: x.log(), 2.0, -2.0),
        (lambda x, y: x / y, (1.0, 2.0), (1.0, 0.0)),
        (lambda x: x.sqrt(), 4.0, -1.0),
        (lambda x: x.exp(), 1.0, 800.0),
        (lambda x: x**0.5, 4.0, -8.0),
        (lambda x: x.sqrt(), 4.0, 0.0),  # the forward is fine; the derivative is not
    ],
)
def test_domain_errors_on_replay_are_the_eager_errors(fn, good, bad):
    good = list(good) if isinstance(good, tuple) else [good]
    bad = list(bad) if isinstance(bad, tuple) else [bad]
    tape = trace(fn, *good)
    error = raises_like(eager, fn, bad)
    assert error is not None
    with pytest.raises(type(error)) as got:
        tape(*bad)
    assert str(got.value) == str(error)
    columns = [[g, b, g] for g, b in zip(good, bad)]
    with pytest.raises(type(error), match=r"^sample 1: ") as got:
        tape.sum_over(*columns)
    assert str(got.value) == f"sample 1: {error}"


# Memory ----------------------------------------------------------------------------------------


def test_the_traced_graph_is_freed_by_reference_counting():
    seen = []

    def f(x):
        y = x * 2.0
        seen.append(weakref.ref(y))
        return y.tanh()

    with gc_disabled():
        tape = trace(f, 1.0)
        assert seen[0]() is None
        assert tape(0.5)[0] == math.tanh(1.0)


# Batch replay (numpy) --------------------------------------------------------------------------


@pytest.fixture
def np():
    return pytest.importorskip("numpy")


def test_batch_demo_step_matches_eager(np):
    model, X, Y = demo_setup()
    params = model.parameters()
    fn = hinge_sample(model)
    tape = trace(fn, X[0], Y[0], params=params)
    want, scales = per_sample_eager(fn, X, Y, params)
    assert_same(batch_replay(tape, np.array(X), np.array(Y)), want, 1e-12, scales)
    assert_same(batch_replay(tape, X, Y), want, 1e-12, scales)  # lists work too


def test_batch_relu_masks_are_per_sample(np):
    tape = trace(lambda x: (x * 2.0).relu() + abs(x - 1.0), 1.0)
    xs = [-2.0, -0.5, 0.0, 0.5, 1.0, 3.0]
    want = (0.0, [0.0])
    for x in xs:
        v, (g,) = eager(lambda x: (x * 2.0).relu() + abs(x - 1.0), [x])
        want = (want[0] + v, [want[1][0] + g])
    assert_same(batch_replay(tape, xs), want)


@settings(max_examples=40, deadline=None)
@given(
    programs(EXACT_UNARY, EXACT_BINARY),
    st.lists(st.lists(point, min_size=3, max_size=3), min_size=1, max_size=6),
)
def test_batch_random_graphs_match_eager(program, samples):
    numpy = pytest.importorskip("numpy")
    n, steps = program
    fn = run_program(steps)
    samples = [s[:n] for s in samples]
    assume(raises_like(eager, fn, samples[0]) is None)
    tape = trace(fn, *samples[0])
    columns = [numpy.array([s[k] for s in samples]) for k in range(n)]
    errors = [raises_like(eager, fn, s) for s in samples]
    bad = next((k for k, e in enumerate(errors) if e is not None), None)
    if bad is not None:
        with pytest.raises(type(errors[bad]), match=f"^sample {bad}: "):
            batch_replay(tape, *columns)
        return
    results = [eager(fn, s) for s in samples]
    want = (sum(v for v, _ in results), [sum(g[k] for _, g in results) for k in range(n)])
    scales = (
        sum(abs(v) for v, _ in results),
        [sum(abs(g[k]) for _, g in results) for k in range(n)],
    )
    assert_same(batch_replay(tape, *columns), want, 1e-12, scales)


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "sin", "cos"])
def test_batch_functions_of_the_table(np, op):
    fn = OP_CASES[op][0]
    xs = [0.2, 0.9, 1.7, 3.5]
    tape = trace(fn, 1.0)
    want = [eager(fn, [x]) for x in xs]
    got = batch_replay(tape, xs)
    assert close(got[0], sum(v for v, _ in want), 1e-14)
    assert close(got[1][0], sum(g[0] for _, g in want), 1e-14)


def test_batch_guards_and_shapes(np):
    tape = trace(branchy, 1.0)
    assert batch_replay(tape, [1.0, 2.0]) == (6.0, [4.0])
    with pytest.raises(TapeMismatch, match="sample 1: guard 0"):
        batch_replay(tape, [1.0, -2.0, 3.0])
    pair = trace(lambda x, y: x[0] * x[1] + y, [1.0, 2.0], 3.0)
    with pytest.raises(TapeMismatch, match="shape"):
        batch_replay(pair, np.ones((4, 3)), np.ones(4))
    with pytest.raises(TapeMismatch, match="different lengths"):
        batch_replay(pair, np.ones((4, 2)), np.ones(3))
    assert batch_replay(pair, np.ones((0, 2)), np.ones(0)) == (0.0, [0.0, 0.0, 0.0])


def test_batch_domain_errors_name_the_sample(np):
    tape = trace(lambda x: x.log(), 1.0)
    error = raises_like(eager, lambda x: x.log(), [-1.0])
    with pytest.raises(ValueError) as got:
        batch_replay(tape, [1.0, 2.0, -1.0])
    assert str(got.value) == f"sample 2: {error}"


def test_batch_of_many_random_samples_matches_sum_over(np):
    rng = random.Random(0)
    w = [Value(rng.uniform(-1, 1)) for _ in range(4)]

    def f(x, y):
        h = linear(w[:2], x, w[2]).tanh()
        return (h * w[3] - y) ** 2

    tape = trace(f, [0.1, 0.2], 0.3, params=w)
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(500)]
    Y = [rng.uniform(-1, 1) for _ in range(500)]
    loop = tape.sum_over(X, Y)
    batch = batch_replay(tape, np.array(X), np.array(Y))
    assert_same(batch, loop, 1e-12, (loop[0], [1.0] * 4))
