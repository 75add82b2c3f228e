"""fit(compile=True): the eager history on compiled tapes, or eager training where no tape fits."""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys

import pytest

from autograd import Value, gradients
from autograd.compile import trace
from nn import (
    MLP,
    SGD,
    Adam,
    AdamW,
    Callback,
    EarlyStopping,
    LinearLR,
    Module,
    blobs,
    evaluate,
    fit,
    moons,
    spiral,
)
from nn import functional as F
from nn.compiled import CompileFallbackWarning

REL = 1e-12


def weights(model) -> list[float]:
    return [p.data for p in model.parameters()]


def assert_close(got, want, what: str, rel: float = REL) -> None:
    """Equal within ``rel``, relative to the largest magnitude in ``want`` (None equals None)."""
    assert len(got) == len(want), f"{what}: {len(got)} entries, not {len(want)}"
    finite = [abs(w) for w in want if w is not None]
    scale = max(finite, default=0.0)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        if a is None or b is None:
            assert a is b, f"{what}[{k}]: {a!r} != {b!r}"
        else:
            assert abs(a - b) <= rel * max(abs(b), scale), f"{what}[{k}]: {a!r} != {b!r}"


def assert_same_history(compiled, eager) -> None:
    assert compiled.epoch == eager.epoch
    assert compiled.lr == eager.lr
    assert compiled.stop_reason == eager.stop_reason
    # Accuracies count the same right answers: equal, not merely close.
    assert compiled.train_acc == eager.train_acc
    assert compiled.val_acc == eager.val_acc
    assert_close(compiled.train_loss, eager.train_loss, "train_loss")
    assert_close(compiled.val_loss, eager.val_loss, "val_loss")


def fit_twice(make_model, data, loss, make_optimizer, epochs, schedule=False, **kwargs):
    """The same run eagerly and compiled, from the same weights: (eager, compiled) results."""
    runs = []
    for compile in (False, True):
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
        runs.append((history, model))
    return runs


# The same numbers ------------------------------------------------------------------------------


def test_micrograds_demo_setup_gives_the_eager_history_with_sgd():
    data = moons(n=40, noise=0.1, seed=0)
    val = moons(n=20, noise=0.1, seed=1)
    (eager, eager_model), (compiled, compiled_model) = fit_twice(
        lambda: MLP(2, [16, 16, 1], seed=0),
        data,
        "hinge",
        lambda ps: SGD(ps, lr=1.0),
        epochs=5,
        schedule=True,
        l2=1e-4,
        val=val,
    )
    assert compiled.compiled and not eager.compiled
    assert len(set(eager.train_acc)) > 1  # the accuracies change, so comparing them means something
    assert_same_history(compiled, eager)
    assert_close(weights(compiled_model), weights(eager_model), "weights")


def test_adam_with_shuffled_mini_batches_gives_the_eager_history():
    data = moons(n=33, noise=0.2, seed=3)
    (eager, eager_model), (compiled, compiled_model) = fit_twice(
        lambda: MLP(2, [8, 8, 1], seed=1),
        data,
        "hinge",
        lambda ps: Adam(ps, lr=0.02),
        epochs=4,
        batch_size=7,  # 5 batches per epoch, the last one of 5 points
        val=moons(n=15, seed=4),
        l2=1e-3,
    )
    assert compiled.compiled
    assert_same_history(compiled, eager)
    assert_close(weights(compiled_model), weights(eager_model), "weights")


@pytest.mark.parametrize(
    "make_data",
    [lambda: blobs(n=45, classes=3, noise=0.5, seed=0), lambda: spiral(n=45, classes=3, seed=2)],
    ids=["blobs", "spiral"],
)
@pytest.mark.parametrize("batch_size", [None, 10])
def test_cross_entropy_over_three_classes_gives_the_eager_history(make_data, batch_size):
    data = make_data()
    (eager, eager_model), (compiled, compiled_model) = fit_twice(
        lambda: MLP(2, [8, 3], activation="tanh", seed=0),
        data,
        "cross_entropy",
        lambda ps: AdamW(ps, lr=0.05),
        epochs=4,
        batch_size=batch_size,
        val=data,
    )
    assert compiled.compiled
    assert_same_history(compiled, eager)
    assert_close(weights(compiled_model), weights(eager_model), "weights")


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_the_other_binary_losses_give_the_eager_history(loss):
    data = moons(n=30, noise=0.2, seed=5)
    (eager, _), (compiled, _) = fit_twice(
        lambda: MLP(2, [6, 1], seed=3),
        data,
        loss,
        lambda ps: SGD(ps, lr=0.2, momentum=0.5),
        epochs=4,
        val=moons(n=10, seed=6),
    )
    assert compiled.compiled
    assert_same_history(compiled, eager)


def test_early_stopping_restores_the_same_weights_when_compiled():
    train = moons(n=30, noise=0.1, seed=0)
    val = (train.X, [1 - y for y in train.y])  # flipped labels: val_loss rises as the fit improves
    runs = []
    for compile in (False, True):
        model = MLP(2, [8, 1], seed=0)
        stopper = EarlyStopping(monitor="val_loss", patience=2)
        history = fit(
            model,
            train,
            "hinge",
            SGD(model.parameters(), lr=0.2),
            epochs=30,
            val=val,
            callbacks=[stopper],
            verbose=False,
            compile=compile,
        )
        runs.append((history, model))
    (eager, eager_model), (compiled, compiled_model) = runs
    assert eager.stop_reason == "early_stopping" and len(eager) < 30
    assert_same_history(compiled, eager)
    assert compiled.restored_epoch == eager.restored_epoch
    assert_close(weights(compiled_model), weights(eager_model), "weights")


def test_divergence_stops_before_nan_reaches_the_weights_when_compiled():
    model = MLP(2, [8, 8, 1], seed=0)
    with pytest.warns(RuntimeWarning, match="training diverged"):  # quiet, never silent
        history = fit(
            model,
            moons(n=20, seed=0),
            "mse",
            SGD(model.parameters(), lr=100.0),
            epochs=500,
            verbose=False,
            compile=True,
        )
    assert history.stop_reason == "diverged" and len(history) < 500
    assert all(math.isfinite(p.data) for p in model.parameters())


def test_verbose_says_what_was_compiled_and_quiet_says_nothing(capsys):
    data = moons(n=10, seed=0)
    model = MLP(2, [3, 1], seed=0)
    fit(model, data, epochs=2, l2=1e-4, compile=True)
    lines = capsys.readouterr().out.splitlines()
    # One tape per label (0 and 1), one for the penalty, one for the outputs.
    assert lines[0].startswith("fit: compiled the training step into 4 tapes in ")
    assert [line.split()[1] for line in lines[1:]] == ["1/2", "2/2"]
    fit(model, data, epochs=2, verbose=False, compile=True)
    assert capsys.readouterr().out == ""


# Refusals and fall-backs ------------------------------------------------------------------------


def test_dropout_is_refused_before_anything_is_trained():
    model = MLP(2, [8, 8, 1], dropout=0.3, seed=0)
    before = weights(model)
    with pytest.raises(ValueError, match=r"compile=True.*Dropout\(p=0\.3\) at 'dropout'.*mask"):
        fit(model, moons(n=10), epochs=2, verbose=False, compile=True)
    assert weights(model) == before
    # p = 0 draws no mask: nothing to freeze.
    fit(MLP(2, [4, 1], dropout=0.0), moons(n=10), epochs=1, verbose=False, compile=True)


def test_compile_must_be_a_bool_or_a_mode():
    with pytest.raises(ValueError, match=r"compile='yes' is not a mode.*'tape', 'batch', 'matrix'"):
        fit(MLP(2, [3, 1]), moons(n=10), epochs=1, compile="yes")
    with pytest.raises(TypeError, match="compile must be True, False or a mode name"):
        fit(MLP(2, [3, 1]), moons(n=10), epochs=1, compile=1)


class Peeking(Module):
    """A model that makes a Python decision on a number: no tape can record it."""

    def __init__(self):
        self.net = MLP(2, [4, 1], seed=0)

    def forward(self, x):
        out = self.net(x)
        return out if out.data > 0 else out * 0.5


class Gated(Module):
    """A model that compares one of its Values: a tape records that as a guard."""

    def __init__(self):
        self.net = MLP(2, [8, 1], seed=2)
        self.gate = Value(1.0)

    def forward(self, x):
        out = self.net(x)
        return out if self.gate > 0 else -out


class FlipGateAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, model, history):
        if history.epoch[-1] == self.epoch:
            model.gate.data = -1.0


def test_a_model_no_tape_can_record_trains_eagerly_with_a_notice(capsys):
    data = moons(n=20, seed=0)
    eager = fit(Peeking(), data, epochs=3, verbose=False)
    model = Peeking()
    with pytest.warns(CompileFallbackWarning, match="training eagerly"):
        history = fit(model, data, epochs=3, compile=True)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("fit: training eagerly, compile=True cannot be used here: ")
    assert "read .data" in first
    assert not history.compiled
    assert history.train_loss == eager.train_loss and history.train_acc == eager.train_acc
    with pytest.warns(CompileFallbackWarning, match="training eagerly"):
        fit(Peeking(), data, epochs=1, verbose=False, compile=True)
    assert capsys.readouterr().out == ""


def test_a_guard_that_fails_mid_training_switches_to_eager_steps(capsys):
    data = moons(n=20, seed=1)
    runs = []
    for compile in (False, True):
        model = Gated()
        # The compiled run falls back to eager steps, with a warning; the eager one has none.
        expected = pytest.warns(CompileFallbackWarning, match="training eagerly")
        with expected if compile else contextlib.nullcontext():
            history = fit(
                model,
                data,
                "hinge",
                SGD(model.parameters(), lr=0.1),
                epochs=4,
                val=data,
                callbacks=[FlipGateAfter(2)],
                verbose=compile,
                log_every=1,
                compile=compile,
            )
        runs.append((history, model))
    (eager, eager_model), (compiled, compiled_model) = runs
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fit: compiled the training step")
    # Epochs 1 and 2 ran on the tapes; the guard fails at the first replay of epoch 3.
    assert lines[1].startswith("epoch 1/4") and lines[2].startswith("epoch 2/4")
    assert lines[3].startswith("fit: training eagerly from here on, a compiled tape failed: guard")
    assert lines[4].startswith("epoch 3/4") and len(lines) == 6
    assert not compiled.compiled
    # The failed step was redone eagerly from scratch, not half applied.
    assert_same_history(compiled, eager)
    assert_close(weights(compiled_model), weights(eager_model), "weights")


def test_a_loss_function_of_ones_own_trains_eagerly_with_a_notice(capsys):
    def summed_hinge(outputs, targets):  # a sum, not a mean: a one-sample tape cannot tell
        return F.hinge(outputs, [2 * y - 1 for y in targets]) * len(outputs)

    data = moons(n=12, seed=0)
    eager = fit(MLP(2, [4, 1], seed=0), data, summed_hinge, epochs=3, verbose=False)
    with pytest.warns(CompileFallbackWarning, match="training eagerly"):
        history = fit(MLP(2, [4, 1], seed=0), data, summed_hinge, epochs=3, compile=True)
    assert "pass the loss by name" in capsys.readouterr().out
    assert not history.compiled
    assert history.train_loss == eager.train_loss


def test_an_optimizer_over_other_values_trains_eagerly_with_a_notice(capsys):
    model = MLP(2, [4, 1], seed=0)
    extra = Value(0.5)
    optimizer = SGD([*model.parameters(), extra], lr=0.1)
    with pytest.warns(CompileFallbackWarning, match="training eagerly"):
        fit(model, moons(n=12), optimizer=optimizer, epochs=1, compile=True)
    assert "not model.parameters()" in capsys.readouterr().out


def test_many_distinct_regression_targets_train_eagerly_with_a_notice(capsys):
    # mse reads each target as a number, so every distinct target would need a tape of its own.
    X = [[i / 70, 1 - i / 70] for i in range(70)]
    y = [i / 7 for i in range(70)]
    with pytest.warns(CompileFallbackWarning, match="training eagerly"):
        history = fit(MLP(2, [2, 1], seed=0), (X, y), "mse", epochs=1, compile=True)
    assert "training eagerly" in capsys.readouterr().out
    assert not history.compiled and len(history) == 1


# Cross-entropy on a tape ------------------------------------------------------------------------


def test_cross_entropy_traces_with_its_shift_frozen_and_replays_the_eager_numbers():
    tape = trace(lambda z: F.cross_entropy(z, 1), [0.5, -1.0, 2.0])
    for logits in ([0.5, -1.0, 2.0], [3.0, 2.5, -4.0], [40.0, 41.0, 39.5]):
        zs = [Value(z) for z in logits]
        loss = F.cross_entropy(zs, 1)
        want = [loss.data, *gradients(loss, zs)]
        value, grads = tape(logits)
        assert_close([value, *grads], want, f"cross_entropy{logits}")


def test_a_frozen_shift_far_below_the_logits_raises_instead_of_a_wrong_number():
    tape = trace(lambda z: F.cross_entropy(z, 0), [0.0, 0.0, 0.0])
    with pytest.raises(OverflowError, match="exp"):
        tape([800.0, 0.0, 0.0])
    # The eager loss chooses its own shift and stays exact: 800 - 800 + log(1 + 2e^-800) = 0.
    assert F.cross_entropy([Value(800.0), Value(0.0), Value(0.0)], 0).data == 0.0


def test_softmax_traces_too():
    tape = trace(lambda z: F.softmax(z)[2], [1.0, 2.0, 3.0])
    zs = [Value(1.0), Value(-1.0), Value(0.5)]
    p = F.softmax(zs)[2]
    value, grads = tape([1.0, -1.0, 0.5])
    assert_close([value, *grads], [p.data, *gradients(p, zs)], "softmax")


def test_evaluation_on_the_outputs_tape_equals_evaluate():
    # fit's validation numbers, taken from the tape, are evaluate()'s own.
    data = blobs(n=30, classes=3, seed=1)
    model = MLP(2, [5, 3], seed=4)
    optimizer = Adam(model.parameters(), lr=0.01)
    history = fit(
        model,
        data,
        "cross_entropy",
        optimizer,
        epochs=1,
        val=data,
        l2=0.01,
        verbose=False,
        compile=True,
    )
    assert history.compiled
    assert (history.val_loss[-1], history.val_acc[-1]) == evaluate(
        model, data, "cross_entropy", 0.01
    )


def test_importing_nn_does_not_load_the_compiler():
    code = "import sys, nn; print('autograd.compile' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_the_fall_back_to_eager_is_a_warning_even_when_not_verbose(capsys):
    from nn.compiled import CompileFallbackWarning

    with pytest.warns(CompileFallbackWarning, match="training eagerly, compile=True cannot") as got:
        history = fit(Peeking(), moons(n=12, seed=0), epochs=1, verbose=False, compile=True)
    assert not history.compiled
    assert got[0].filename == __file__  # points at the caller's fit(...) line
    assert capsys.readouterr().out == ""  # the log stays quiet; the warning is not silent


def test_a_fall_back_mid_training_warns_at_the_callers_line():
    from nn.compiled import CompileFallbackWarning

    model = Gated()
    with pytest.warns(CompileFallbackWarning, match="from here on") as got:
        fit(
            model,
            moons(n=20, seed=1),
            epochs=4,
            callbacks=[FlipGateAfter(2)],
            verbose=False,
            compile=True,
        )
    assert got[0].filename == __file__
