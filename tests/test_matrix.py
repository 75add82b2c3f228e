"""Matrix lowering (autograd.matrix): the eager loss and gradients from matrix products."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import pytest

from autograd import Value, constant, linear, no_grad
from autograd.compile import TapeMismatch, trace
from nn import MLP, SGD, Adam, LinearLR, blobs, fit, moons
from nn import functional as F

np = pytest.importorskip("numpy")  # the matrix lowering runs on numpy (an extra)

from autograd.batch import batch_replay  # noqa: E402
from autograd.matrix import MatrixFallback, lower  # noqa: E402

REL = 1e-12


def assert_close(got, want, what: str, rel: float = REL) -> None:
    """Equal within ``rel``, relative to the largest magnitude in ``want``."""
    got, want = list(got), list(want)
    assert len(got) == len(want), f"{what}: {len(got)} entries, not {len(want)}"
    scale = max((abs(w) for w in want), default=0.0)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert abs(a - b) <= rel * max(abs(b), scale), f"{what}[{k}]: {a!r} != {b!r}"


def eager_sum(loss_of_sample, X, Y, params):
    """sum_i loss(x_i, y_i) and its gradients by the eager engine (one graph for the batch)."""
    for p in params:
        p.grad = 0.0
    total = None
    for x, y in zip(X, Y, strict=True):
        term = loss_of_sample([Value(a) for a in x], y)
        total = term if total is None else total + term
    total.backward()
    grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    return total.data, grads


def demo_data(n=100):
    data = moons(n, noise=0.1, seed=0).signed()
    return [[float(a) for a in row] for row in data.X], [float(v) for v in data.y]


def test_the_demo_equals_eager_and_reads_as_matrix_code():
    # micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons, hinge; the penalty has its own tape.
    X, Y = demo_data()
    model = MLP(2, [16, 16, 1], seed=1337)
    params = model.parameters()

    def hinge(x, y):
        return (1 + -y * model(x)).relu()

    tape = trace(hinge, X[0], Y[0], params=params)
    low = lower(tape)
    assert low.lowered and low.reason is None
    value, grads = low(X, Y)
    want_value, want_grads = eager_sum(hinge, X, Y, params)
    assert len(grads) == 337
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads, "grads")
    assert sum(g != 0 for g in grads) > 250  # the comparison covers real gradients
    source = low.source()
    for line in (
        "z1 = x @ W1.T + b1",
        "h1 = relu(z1)",
        "z2 = h1 @ W2.T + b2",
        "z3 = h2 @ W3.T + b3",
        "dW1 = dz1.T @ x",
        "dh1 = dz2 @ W2",
        "dz1 = dh1 * d_relu(z1, h1)",
    ):
        assert line in source, line
    # The penalty 1e-4 * sum p^2 (the demo's other half) adds up to the eager total.
    penalty = trace(lambda: 1e-4 * F.l2_penalty(params), params=params)
    reg, reg_grads = penalty()
    for p in params:
        p.grad = 0.0
    total = F.hinge([model([Value(a) for a in x]) for x in X], Y) + 1e-4 * F.l2_penalty(params)
    total.backward()
    mean_grads = [g / len(X) + r for g, r in zip(grads, reg_grads, strict=True)]
    assert_close([value / len(X) + reg], [total.data], "demo loss")
    assert_close(mean_grads, [p.grad for p in params], "demo grads")


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_each_activation(activation):
    X, Y = demo_data(30)
    model = MLP(2, [5, 4, 1], activation=activation, seed=2)
    params = model.parameters()

    def loss(x, y):
        return (model(x) - y) ** 2

    low = lower(trace(loss, X[0], Y[0], params=params))
    assert low.lowered
    value, grads = low(X, Y)
    want_value, want_grads = eager_sum(loss, X, Y, params)
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads, "grads")
    if activation != "linear":
        assert f"h1 = {activation}(z1)" in low.source()


def _labels(loss: str, Y):
    return {"bce": [(y + 1) / 2 for y in Y], "cross_entropy": [int(y > 0) for y in Y]}.get(loss, Y)


@pytest.mark.parametrize("loss", ["hinge", "mse", "bce", "cross_entropy"])
def test_each_loss_with_frozen_targets(loss):
    # As fit(compile='matrix') does it: one tape per label, the label frozen in as a number.
    X, Y = demo_data(40)
    Y = _labels(loss, Y)
    outputs = 2 if loss == "cross_entropy" else 1
    model = MLP(2, [6, 5, outputs], activation="tanh", seed=3)
    params = model.parameters()
    fn = {
        "hinge": F.hinge,
        "mse": F.mse,
        "bce": F.bce_with_logits,
        "cross_entropy": F.cross_entropy,
    }[loss]
    value, grads = 0.0, np.zeros(len(params))
    for label in sorted(set(Y)):
        rows = [x for x, y in zip(X, Y, strict=True) if y == label]

        def sample(x, label=label):
            return fn([model(x)], [label])

        low = lower(trace(sample, rows[0], params=params))
        assert low.lowered
        v, g = low(rows)
        value, grads = value + v, grads + g
    want_value, want_grads = eager_sum(lambda x, y: fn([model(x)], [y]), X, Y, params)
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads, "grads")


def test_input_targets_mini_batches_and_given_params():
    X, Y = demo_data(64)
    model = MLP(2, [8, 8, 1], seed=4)
    params = model.parameters()

    def loss(x, y):
        return (1 + -y * model(x)).relu() + 0.5 * (model(x) - y) ** 2

    low = lower(trace(loss, X[0], Y[0], params=params))
    for start in range(0, 64, 13):  # uneven mini-batches, the last one of 12
        xs, ys = X[start : start + 13], Y[start : start + 13]
        value, grads = low(np.array(xs), np.array(ys))
        want_value, want_grads = eager_sum(loss, xs, ys, params)
        assert_close([value], [want_value], "loss")
        assert_close(grads, want_grads, "grads")
    # Parameter values given to the replay are used instead of the Values' data.
    shifted = np.array([p.data + 0.01 for p in params])
    value, grads = low(X, Y, params=shifted)
    for p, w in zip(params, shifted, strict=True):
        p.data = float(w)
    want_value, want_grads = eager_sum(loss, X, Y, params)
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads, "grads")
    with pytest.raises(TapeMismatch, match="3 parameter values given"):
        low(X, Y, params=[1.0, 2.0, 3.0])


def test_frozen_parameters_are_read_but_not_differentiated():
    X, Y = demo_data(30)
    model = MLP(2, [6, 1], seed=5)
    first, last = model.layers
    trained = last.parameters()  # the first layer is frozen: captured by the tape

    def loss(x, y):
        return (1 + -y * model(x)).relu()

    low = lower(trace(loss, X[0], Y[0], params=trained))
    assert low.lowered
    value, grads = low(X, Y)
    assert len(grads) == len(trained)
    want_value, want_grads = eager_sum(loss, X, Y, model.parameters())
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads[-len(trained) :], "grads")
    # A frozen weight changed after tracing is read at the next replay.
    first.neurons[0].w[0].data += 0.5
    value, _ = low(X, Y)
    assert_close([value], [eager_sum(loss, X, Y, model.parameters())[0]], "loss after change")


def test_gradients_with_respect_to_inputs():
    model = MLP(3, [4, 1], activation="tanh", seed=6)
    X = [[0.1 * i, -0.2 * i, 0.3] for i in range(5)]
    low = lower(trace(lambda x: model(x) ** 2, X[0], wrt="inputs"))
    value, grads = low(X)
    want = [0.0, 0.0, 0.0]
    total = 0.0
    for x in X:
        xs = [Value(a) for a in x]
        out = model(xs) ** 2
        out.backward()
        total += out.data
        want = [w + v.grad for w, v in zip(want, xs, strict=True)]
    assert_close([value], [total], "value")
    assert_close(grads, want, "input grads")


def test_a_model_without_layers_falls_back_to_batch_replay_and_says_why():
    X, Y = demo_data(20)
    model = MLP(2, [4, 1], fused=False, seed=7)  # sums of * and +: no linear node
    params = model.parameters()

    def loss(x, y):
        return (1 + -y * model(x)).relu()

    tape = trace(loss, X[0], Y[0], params=params)
    with pytest.warns(MatrixFallback, match=r"no layer to lower.*fused=False"):
        low = lower(tape)
    assert not low.lowered and "fused=False" in low.reason
    assert low.source().startswith("# not lowered to matrices: no layer")
    value, grads = low(X, Y)
    want_value, want_grads = batch_replay(tape, X, Y)
    assert value == want_value and list(grads) == want_grads
    # check=True needs the function re-run per sample: also announced.
    checked = trace(loss, X[0], Y[0], params=params, check=True)
    with pytest.warns(MatrixFallback, match="check=True"):
        assert not lower(checked).lowered
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "check=True" in lower(checked, warn=False).reason


def test_guards_refuse_a_changed_path():
    model = MLP(2, [4, 1], seed=8)
    params = model.parameters()

    def branchy(x):
        out = model(x)
        if out > 0:  # recorded as a guard
            return out * out
        return -out

    X, _ = demo_data(50)
    with no_grad():
        signs = [model(x).data > 0 for x in X]
    assert any(signs) and not all(signs)
    pos = [x for x, s in zip(X, signs, strict=True) if s]
    neg = [x for x, s in zip(X, signs, strict=True) if not s]
    low = lower(trace(branchy, pos[0], params=params))
    assert "guard(0, z2[:, 0] > 0.0, True)" in low.source()
    value, grads = low(pos)
    want_value, want_grads = eager_sum(lambda x, y: branchy(x), pos, pos, params)
    assert_close([value], [want_value], "loss")
    assert_close(grads, want_grads, "grads")
    mixed = [pos[0], pos[1], neg[0]]
    with pytest.raises(TapeMismatch, match=r"sample 2: guard 0: .* was True when recorded"):
        low(mixed)
    with pytest.raises(TapeMismatch, match="sample 2: guard 0"):
        low.forward(mixed)


def test_float_trouble_gives_the_eager_error_for_the_first_bad_sample():
    model = MLP(1, [1], seed=9)  # out = w x + b
    model.layers[0].neurons[0].w[0].data = 1.0
    params = model.parameters()
    low = lower(trace(lambda x: model(x).log(), [1.0], params=params))
    assert low.lowered
    with pytest.raises(ValueError, match=r"sample 2: log: input must be > 0, got log\(-1\.0\)"):
        low([[1.0], [2.0], [-1.0], [-3.0]])
    # Overflow: the eager engine's OverflowError, not a numpy warning or an inf.
    big = lower(trace(lambda x: (model(x) * 1000.0).exp(), [0.0], params=params))
    with pytest.raises(OverflowError, match="sample 1: exp: result overflows"):
        big([[0.0], [1.0]])


def test_shapes_are_checked():
    model = MLP(2, [3, 1], seed=10)
    low = lower(trace(lambda x, y: (model(x) - y) ** 2, [0.0, 0.0], 0.0))
    # Lists are checked sample by sample, as sum_over checks them; arrays by shape.
    with pytest.raises(TapeMismatch, match=r"sample 0: input x has 3 items, the tape was recorde"):
        low([[1.0, 2.0, 3.0]], [1.0])
    with pytest.raises(TapeMismatch, match=r"input x was a list of 2 per sample"):
        low(np.array([[1.0, 2.0, 3.0]]), np.array([1.0]))
    # numpy would read None as nan and True as 1.0: refused, naming the sample.
    with pytest.raises((TypeError, ValueError), match="sample 1"):
        low([[1.0, 2.0], [0.5, 0.5]], [1.0, None])
    with pytest.raises((TypeError, ValueError), match="sample 0"):
        low([[1.0, 2.0]], [True])
    with pytest.raises(TapeMismatch, match="columns of different lengths"):
        low([[1.0, 2.0]], [1.0, 2.0])
    with pytest.raises(TypeError, match="one column per input"):
        low([[1.0, 2.0]])
    value, grads = low([], [])
    assert value == 0.0 and list(grads) == [0.0] * len(grads)


def test_forward_gives_each_samples_value():
    X, _ = demo_data(10)
    model = MLP(2, [4, 3], activation="sigmoid", seed=11)
    low = lower(trace(lambda x: model(x)[2], X[0], params=model.parameters()))
    with no_grad():
        want = [model(x)[2].data for x in X]
    assert_close(low.forward(X), want, "outputs")


# fit(compile='matrix') ---------------------------------------------------------------------


def fit_twice(make_model, data, loss, make_optimizer, epochs, schedule=False, **kwargs):
    runs = []
    for compile in (False, "matrix"):
        model = make_model()
        optimizer = make_optimizer(model.parameters())
        history = fit(
            model,
            data,
            loss,
            optimizer,
            epochs=epochs,
            lr_schedule=LinearLR(optimizer, total_iters=epochs) if schedule else None,
            verbose=False,
            compile=compile,
            **kwargs,
        )
        runs.append((history, [p.data for p in model.parameters()]))
    return runs


def assert_same_history(compiled, eager) -> None:
    assert compiled.epoch == eager.epoch
    assert compiled.train_acc == eager.train_acc
    assert compiled.val_acc == eager.val_acc
    assert compiled.stop_reason == eager.stop_reason
    assert_close(compiled.train_loss, eager.train_loss, "train_loss")
    if eager.val_loss[0] is not None:
        assert_close(compiled.val_loss, eager.val_loss, "val_loss")


def test_fit_matrix_gives_the_eager_history_on_the_demo():
    (eager, w_eager), (matrix, w_matrix) = fit_twice(
        lambda: MLP(2, [16, 16, 1], seed=0),
        moons(n=40, noise=0.1, seed=0),
        "hinge",
        lambda ps: SGD(ps, lr=1.0),
        epochs=5,
        schedule=True,
        l2=1e-4,
        val=moons(n=20, noise=0.1, seed=1),
    )
    assert matrix.compiled and not eager.compiled
    assert len(set(eager.train_acc)) > 1
    assert_same_history(matrix, eager)
    assert_close(w_matrix, w_eager, "weights")


def test_fit_matrix_mini_batches_and_cross_entropy():
    (eager, w_eager), (matrix, w_matrix) = fit_twice(
        lambda: MLP(2, [8, 3], activation="tanh", seed=1),
        blobs(n=45, classes=3, seed=2),
        "cross_entropy",
        lambda ps: Adam(ps, lr=0.05),
        epochs=3,
        batch_size=10,
        val=blobs(n=15, classes=3, seed=3),
    )
    assert matrix.compiled
    assert_same_history(matrix, eager)
    assert_close(w_matrix, w_eager, "weights")


def test_fit_matrix_announces_the_fall_back(capsys):
    fit(
        MLP(2, [4, 1], fused=False, seed=0),
        moons(n=20, seed=0),
        epochs=1,
        compile="matrix",
    )
    out = capsys.readouterr().out
    assert "compile='matrix' uses the numpy batch replay here: no layer to lower" in out


def test_tapegrad_train_compile_matrix_reproduces_the_eager_history(tmp_path):
    histories = []
    for extra in ([], ["--compile", "matrix"]):
        out = tmp_path / ("matrix" if extra else "eager")
        cmd = [
            sys.executable,
            "-m",
            "nn",
            "train",
            "--dataset",
            "moons",
            "--epochs",
            "4",
            "--samples",
            "40",
        ]
        cmd += ["--hidden", "8,8", "--no-plots", "--quiet", "--out", str(out), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        with open(out / "history.json", encoding="utf-8") as f:
            histories.append(json.load(f))
    eager, matrix = histories
    assert matrix["epoch"] == eager["epoch"] == [1, 2, 3, 4]
    assert matrix["train_acc"] == eager["train_acc"]
    assert matrix["val_acc"] == eager["val_acc"]
    assert_close(matrix["train_loss"], eager["train_loss"], "train_loss")
    assert all(math.isfinite(x) for x in matrix["train_loss"])


@pytest.mark.parametrize("style", ["l2_penalty", "python_sum"])
def test_a_sum_over_the_parameters_is_one_reduction(style):
    # micrograd's 1e-4 * sum(p*p for p in params) (Python's sum starts at 0) and nn's l2_penalty.
    params = MLP(2, [16, 16, 1], seed=12).parameters()

    def penalty():
        if style == "python_sum":
            return 1e-4 * sum(p * p for p in params)
        return 1e-4 * F.l2_penalty(params)

    low = lower(trace(penalty, params=params))
    assert low.lowered
    assert "q1 = q1_0 * q1_0  # mul of 337 terms" in low.source()
    value, grads = low()
    for p in params:
        p.grad = 0.0
    want = penalty()
    want.backward()
    assert_close([value], [want.data], "penalty")
    assert_close(grads, [p.grad for p in params], "grads")


def test_a_layer_reading_a_parameter_and_a_constant_as_inputs():
    # Two neurons over (x0, p, 2.0): the inputs are gathered into columns, p's gradient
    # sums its use as an input and as a weight of the second neuron.
    p = Value(0.7, "p")
    w = [Value(0.3), Value(-0.2), Value(0.5), Value(0.1), Value(0.4), Value(-0.6)]
    b = [Value(0.05), Value(-0.1)]
    params = [p, *w, *b]

    def f(x):
        xs = [x[0], p, constant(2.0)]
        h0 = linear(w[:3], xs, b[0]).tanh()
        h1 = linear([w[3], p, w[5]], xs, b[1]).tanh()
        return h0 * h1

    X = [[0.1], [-0.4], [1.3]]
    low = lower(trace(f, X[0], params=params))
    assert low.lowered and "s1 = columns(n, x[:, 0], v1, 2.0)" in low.source()
    value, grads = low(X)
    want_value, want_grads = eager_sum(lambda x, y: f(x), X, X, params)
    assert_close([value], [want_value], "value")
    assert_close(grads, want_grads, "grads")


def test_fit_matrix_without_numpy_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    with pytest.raises(ImportError, match=r"compile='matrix' replays with numpy.*pip install"):
        fit(MLP(2, [3, 1]), moons(n=10), epochs=1, verbose=False, compile="matrix")
