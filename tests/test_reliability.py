"""Never a silent wrong number, never a hang: hostile files, labels and diverging training.

Each test protects one reproduction of issue 13: a model file that asks for
more memory than it is worth, a label that would inject code into a tape, a
training run whose numbers turn NaN, a metric scored against the wrong labels.
"""

from __future__ import annotations

import functools
import json
import math
import tracemalloc

import pytest

from nn import MLP, ModelFileError, StateDictError, load, save
from nn.compiled import CompileFallbackWarning

# Model files ---------------------------------------------------------------------------------


def batch_replay(tape, *columns, **options):
    """autograd.batch.batch_replay, imported on use (it needs numpy, which some tests skip)."""
    from autograd.batch import batch_replay as replay

    return replay(tape, *columns, **options)


def header(nin, nouts, params=None) -> str:
    doc = {
        "format": "tapegrad.mlp",
        "version": 1,
        "architecture": {
            "type": "MLP",
            "nin": nin,
            "nouts": nouts,
            "activation": ["relu"] * (len(nouts) - 1) + ["linear"],
            "dropout": 0.0,
        },
        "parameters": params or {"layers.0.neurons.0.b": 0.0},
    }
    return json.dumps(doc)


def test_a_tiny_file_claiming_a_huge_model_fails_fast_without_allocating(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(header(1_000_000, [1_000_000]))
    assert path.stat().st_size < 250
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"1,000,001,000,000 parameters, more than"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * path.stat().st_size  # not 10^12 names, not even 10^6


def test_a_tiny_file_under_the_bound_is_refused_by_counting_not_by_naming(tmp_path):
    path = tmp_path / "wide.json"
    path.write_text(header(3000, [3000]))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"it has 9,003,000 parameters, the file lists 1"):
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * path.stat().st_size


def test_deeply_nested_json_is_a_model_file_error_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load(path)


def test_a_long_architecture_is_not_echoed_whole_in_the_message(tmp_path):
    path = tmp_path / "long.json"
    path.write_text(header(2, [1] * 50_000 + [0]))
    with pytest.raises(ModelFileError, match="nouts must be a list of positive ints") as err:
        load(path)
    assert len(str(err.value)) < 300


def test_a_file_with_one_name_replaced_names_both(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    path = tmp_path / "m.json"
    save(model, path)
    path.write_text(path.read_text().replace('"layers.1.neurons.0.b"', '"layers.1.neurons.0.c"'))
    with pytest.raises(ModelFileError, match=r"missing parameters layers\.1\.neurons\.0\.b; "):
        load(path)
    with pytest.raises(ModelFileError, match=r"unexpected parameters layers\.1\.neurons\.0\.c"):
        load(path)


def test_loading_restores_the_garbage_collector_state(tmp_path):
    import gc

    model = MLP(2, [3, 1], seed=0)
    save(model, tmp_path / "m.json")
    assert gc.isenabled()
    assert load(tmp_path / "m.json").state_dict() == model.state_dict()
    assert gc.isenabled()
    gc.disable()
    try:
        load(tmp_path / "m.json")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_load_state_dict_names_the_key_of_an_int_too_large_for_a_float():
    model = MLP(2, [1], seed=0)
    state = model.state_dict()
    before = dict(state)
    state["layers.0.neurons.0.w.1"] = 10**400
    with pytest.raises(StateDictError, match=r"'layers\.0\.neurons\.0\.w\.1'.*401 digits"):
        model.load_state_dict(state)
    state["layers.0.neurons.0.w.1"] = 10**5000  # too long even for str()
    with pytest.raises(StateDictError, match=r"'layers\.0\.neurons\.0\.w\.1'"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_parameters_keep_the_named_order_and_list_a_shared_parameter_once():
    model = MLP(2, [3, 2], seed=0)
    model.layers[1].neurons[1].w[0] = model.layers[0].neurons[0].w[0]  # shared
    names = [name for name, _ in model.named_parameters()]
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    assert "layers.1.neurons.1.w.0" not in names
    model.label_parameters()
    assert model.layers[1].neurons[1].w[0].label == "layers.0.neurons.0.w.0"  # its first name
    assert math.isfinite(sum(p.data for p in model.parameters()))


# Compiled tapes ------------------------------------------------------------------------------

HOSTILE_LABELS = [
    "w\n    print('INJECTED')",
    "w\r    print('INJECTED')",
    "w\u2028print('INJECTED')",
    "w\u2029print('INJECTED')",
    "w\x0c\nprint('INJECTED')",
    "w\x85print('INJECTED')",
    'w"""\nprint(\'INJECTED\')\n"""',
    "w' + print('INJECTED') + '",
    "w\\\nprint('INJECTED')",
    "# w\n#",
    "w\x00",
    "{print('INJECTED')}",
]


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_hostile_labels_never_run_and_never_break_a_tape(label, capsys):
    from autograd import Value
    from autograd.compile import trace

    w = Value(2.0, label=label)

    def f(x):
        y = x * w
        y.label = label  # an op node's label reaches the code too, as a comment
        return y.relu()

    tape = trace(f, 3.0, params=[w])
    assert tape(3.0) == (6.0, [3.0])
    assert tape.sum_over([1.0, 2.0]) == (6.0, [3.0])
    assert batch_replay(tape, [1.0, 2.0]) == (6.0, [3.0])
    assert "INJECTED" not in capsys.readouterr().out
    source = tape.source()
    compile(source, "<check>", "exec")  # still valid Python
    # Each label sits whole in a comment: the line after each one is code the tape made.
    lines = source.splitlines()
    assert len(lines) == len(source.split("\n")) - 1  # no stray line breaks (\u2028, \x0c...)
    commented = [line for line in lines if label[:1] in line and "#" in line]
    assert commented, source


def test_batch_refuses_strings_bools_and_none_like_sum_over():
    import numpy as np

    from autograd.compile import trace

    tape = trace(lambda x, y: x * y, 1.0, 2.0)
    for bad, shown in [
        (["3", 4.0], "got str '3'"),
        ([True, 4.0], "got bool True"),
        ([None, 4.0], "got NoneType None"),
        (np.array([True, False]), "got bool np.True_"),
        (np.array(["1", "2"]), "got str_"),
    ]:
        for replay in (tape.sum_over, functools.partial(batch_replay, tape)):
            with pytest.raises(TypeError, match=rf"sample 0: input x must be a number, {shown}"):
                replay(bad, [1.0, 1.0])
    # numpy numbers are numbers, for both replays
    assert tape.sum_over([np.float32(1.0), np.int64(2)], [1.0, 1.0]) == (3.0, [2.0, 3.0])
    assert batch_replay(tape, np.array([1, 2]), [1.0, 1.0]) == (3.0, [2.0, 3.0])


def test_a_compiled_loss_refuses_to_replay_a_model_whose_layers_changed():
    from autograd.compile import TapeMismatch
    from nn import Layer
    from nn import functional as F
    from nn.compiled_loss import compile_loss

    model = MLP(2, [3, 1], seed=0)
    loss = compile_loss(model, F.mse, [0.5, -0.5], 1.0)
    X, Y = [[0.5, -0.5], [1.0, 2.0]], [1.0, 0.0]
    loss.sum_over(X, Y)
    model.layers.append(Layer(1, 1, seed=1))  # a layer added after compiling
    with pytest.raises(TapeMismatch, match=r"13 recorded, 15 now.*compile_loss again"):
        loss.sum_over(X, Y)
    with pytest.raises(TapeMismatch, match="parameters are not the ones recorded"):
        loss([0.5, -0.5], 1.0)
    model.layers.pop()
    loss.sum_over(X, Y)  # the recorded network again: replays
    model.layers[1] = Layer(3, 1, seed=2)  # same size, other parameters
    with pytest.raises(TapeMismatch, match=r"13 recorded, 13 now"):
        loss.sum_over(X, Y)


# Training that diverges ----------------------------------------------------------------------


def moons_with_an_inf_feature(n=40, where=7):
    from nn import moons

    data = moons(n, seed=0)
    X = [list(row) for row in data.X]
    X[where][0] = math.inf
    return X, data.y


def test_fit_on_data_with_an_inf_feature_stops_diverged_and_names_the_point(tmp_path):
    from nn import History, fit

    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.warns(RuntimeWarning, match=r"epoch 1: the loss is nan; training diverged"):
        history = fit(model, moons_with_an_inf_feature(), epochs=5, verbose=False)
    assert history.stop_reason == "diverged" and len(history) == 0
    assert "point 7 is [inf, " in history.stop_message
    assert model.state_dict() == before  # no NaN reached the weights
    for name in ("h.json", "h.csv"):
        history.save(tmp_path / name)
    again = History.load(tmp_path / "h.json")
    assert again.stop_reason == "diverged" and again.stop_message == history.stop_message


def test_fit_with_a_huge_learning_rate_stops_diverged_with_finite_saveable_weights(
    tmp_path, capsys
):
    from nn import SGD, History, fit, moons

    model = MLP(2, [8, 8, 1], activation="leaky_relu", seed=0)
    history = fit(model, moons(40, seed=0), optimizer=SGD(model.parameters(), lr=1e200), epochs=8)
    out = capsys.readouterr().out
    assert history.stop_reason == "diverged" and 1 <= len(history) < 8
    assert "loss 0.0000" not in out  # the silent NaN loss
    assert history.stop_message in out
    assert "overflow" in history.stop_message and "smaller learning rate (now 1e+200)" in out
    assert all(math.isfinite(p.data) for p in model.parameters())
    save(model, tmp_path / "model.json")  # the weights before the step that diverged
    history.save(tmp_path / "history.json")
    assert History.load(tmp_path / "history.json").train_loss == history.train_loss


def test_a_non_finite_gradient_stops_training_and_names_the_parameter():
    from nn import SGD, fit, moons

    class NanGradient(SGD):
        calls = 0

        def step(self):
            NanGradient.calls += 1
            if NanGradient.calls == 3:  # the third step meets a NaN gradient
                self.params[4].grad = math.nan
            super().step()

    model = MLP(2, [3, 1], seed=0)
    with pytest.warns(RuntimeWarning):
        history = fit(model, moons(20, seed=0), optimizer=NanGradient(model.parameters(), lr=0.1),
                      epochs=10, verbose=False)  # fmt: skip
    assert history.stop_reason == "diverged" and len(history) == 2
    name = [n for n, _ in model.named_parameters()][4]
    assert f"epoch 3: the gradient of {name} is nan" in history.stop_message
    assert all(math.isfinite(p.data) for p in model.parameters())


def test_a_step_that_makes_a_weight_infinite_is_undone_and_named():
    from nn import SGD, fit, moons

    class Blowup(SGD):
        def step(self):
            super().step()
            self.params[-1].data = math.inf

    model = MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    with pytest.warns(RuntimeWarning, match=r"the step made layers\.1\.neurons\.0\.b inf"):
        history = fit(model, moons(20, seed=0), optimizer=Blowup(model.parameters(), lr=0.1),
                      epochs=3, verbose=False)  # fmt: skip
    assert history.stop_reason == "diverged"
    assert model.state_dict() == before


def test_a_validation_set_with_an_inf_feature_stops_and_says_so():
    from nn import fit, moons

    with pytest.warns(RuntimeWarning, match=r"validation loss is nan.*validation data"):
        history = fit(MLP(2, [3, 1], seed=0), moons(20), val=moons_with_an_inf_feature(),
                      epochs=3, verbose=False)  # fmt: skip
    assert history.stop_reason == "diverged" and len(history) == 0


def test_evaluate_of_a_model_with_nan_weights_reports_nan_not_a_fine_accuracy():
    from nn import evaluate, moons

    model = MLP(2, [4, 1], seed=0)
    for p in model.parameters():
        p.data = math.nan
    for loss in ("hinge", "mse", "bce"):
        value, acc = evaluate(model, moons(20), loss)
        assert math.isnan(value) and math.isnan(acc)
    model3 = MLP(2, [4, 3], seed=0)
    model3.layers[1].neurons[2].b.data = math.nan
    value, acc = evaluate(model3, ([[0.1, 0.2], [0.3, 0.4]], [0, 2]), "cross_entropy")
    assert math.isnan(value) and math.isnan(acc)


def test_detect_anomaly_flags_the_nan_a_forward_pass_makes_during_fit():
    from autograd import AnomalyError, detect_anomaly
    from nn import fit

    with detect_anomaly(), pytest.raises(AnomalyError, match=r"anomaly in forward: .* gave inf"):
        fit(MLP(2, [4, 1], seed=0), moons_with_an_inf_feature(), epochs=2, verbose=False)
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"relu\(nan\) gave nan"):
        from autograd import Value

        Value(math.nan).relu()


def test_history_with_non_finite_numbers_round_trips_through_json_and_csv(tmp_path):
    from nn import History

    h = History(
        epoch=[1, 2, 3],
        train_loss=[0.5, math.inf, math.nan],
        train_acc=[0.5, math.nan, 0.25],
        val_loss=[1.0, -math.inf, None],
        val_acc=[None, None, None],
        lr=[0.1, 0.1, 0.1],
        time=[0.1, 0.2, 0.3],
        stop_reason="diverged",
        stop_message="epoch 4: the loss is nan",
    )
    h.save(tmp_path / "h.json")
    doc = json.loads((tmp_path / "h.json").read_text())  # strict JSON: no NaN tokens
    assert doc["train_loss"] == [0.5, None, None]
    assert doc["non_finite"]["train_loss"] == {"1": "inf", "2": "nan"}
    h.save(tmp_path / "h.csv")
    for name, flags in (("h.json", True), ("h.csv", False)):
        again = History.load(tmp_path / name)
        for column in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
            mine, theirs = getattr(h, column), getattr(again, column)
            assert [repr(x) for x in mine] == [repr(x) for x in theirs], (name, column)
        assert (again.stop_message == h.stop_message) is flags


# Labels and the MSE threshold ----------------------------------------------------------------


class AlwaysClassZero:
    """A model of one parameter whose output is always -10: class 0 for any threshold in use."""

    def __new__(cls):
        from autograd import Value
        from nn import Module

        class Model(Module):
            def __init__(self):
                self.b = Value(0.0)

            def forward(self, x):
                return self.b * 0.0 - 10.0

        return Model()


def test_mse_accuracy_of_a_one_class_split_uses_the_training_threshold():
    from nn import evaluate, fit, moons

    data = moons(40, seed=0)
    ones = data.subset([i for i, y in enumerate(data.y) if y == 1])
    model = AlwaysClassZero()
    assert evaluate(model, ones, "mse")[1] == 0.0  # always wrong is 0%, not 100%
    history = fit(model, data, "mse", val=ones, epochs=2, verbose=False)
    assert history.val_acc == [0.0, 0.0] and history.train_acc == [0.5, 0.5]
    signed = data.signed()
    plus = signed.subset([i for i, y in enumerate(signed.y) if y == 1])
    history = fit(model, signed, "mse", val=plus, epochs=1, verbose=False)
    assert history.val_acc == [0.0]
    # the class-0 points of a model that learned them are scored right at 0.5
    zeros = data.subset([i for i, y in enumerate(data.y) if y == 0])
    assert evaluate(model, zeros, "mse")[1] == 1.0


def test_fit_takes_numpy_labels_as_the_numbers_they_are():
    import numpy as np

    from nn import fit, moons

    data = moons(20, seed=0)
    for loss, cast, nout in [
        ("hinge", np.int64, 1),
        ("mse", np.float32, 1),
        ("bce", np.int32, 1),
        ("cross_entropy", np.int64, 2),
    ]:
        plain = fit(MLP(2, [3, nout], seed=0), data, loss, epochs=2, batch_size=5, verbose=False)
        numpy = fit(
            MLP(2, [3, nout], seed=0),
            (np.array(data.X), [cast(y) for y in data.y]),
            loss,
            epochs=2,
            batch_size=5,
            verbose=False,
        )
        assert numpy.train_loss == plain.train_loss and numpy.train_acc == plain.train_acc


@pytest.mark.parametrize(
    ("label", "loss", "message"),
    [
        ("1", "hinge", r"label 13 of the training data is str '1'; labels must be numbers"),
        (None, "mse", r"label 13 of the training data is NoneType None"),
        (True, "mse", r"label 13 of the training data is bool True"),
        (math.nan, "mse", r"label 13 of the training data is nan; labels must be finite"),
        (2, "cross_entropy", r"class indices 0\.\.1 \(the model has 2 outputs\); label 13 .* 2"),
        (1.0, "cross_entropy", r"label 13 of the training data is 1\.0"),
    ],
)
def test_bad_labels_are_refused_before_the_first_step_changes_the_model(label, loss, message):
    from nn import fit, moons

    data = moons(20, seed=0)
    y = list(data.y)
    y[13] = label  # in the last mini-batch but one: the first batches would have stepped
    model = MLP(2, [3, 2 if loss == "cross_entropy" else 1], seed=0)
    before = model.state_dict()
    with pytest.raises((TypeError, ValueError), match=message):
        fit(model, (data.X, y), loss, epochs=2, batch_size=4, shuffle=False, verbose=False)
    assert model.state_dict() == before


def test_bad_validation_labels_are_refused_too():
    from nn import fit, moons

    data = moons(20, seed=0)
    with pytest.raises(TypeError, match=r"label 0 of the validation data is str 'a'"):
        fit(MLP(2, [3, 1]), data, val=(data.X[:2], ["a", 1]), epochs=1, verbose=False)
    with pytest.raises(ValueError, match=r"label 1 of the validation data is 5"):
        fit(MLP(2, [3, 2]), data, "cross_entropy", val=(data.X[:2], [0, 5]), verbose=False)


# sin and cos of infinity ---------------------------------------------------------------------


def test_sin_and_cos_of_inf_are_nan_everywhere_and_anomaly_mode_names_op_and_value():
    from autograd import AnomalyError, Value, detect_anomaly
    from autograd.compile import trace

    for op in ("sin", "cos"):
        assert math.isnan(getattr(Value(math.inf), op)().data)
        tape = trace(lambda x, op=op: getattr(x, op)(), 1.0)
        assert all(math.isnan(v) for v in (tape(math.inf)[0], *tape(-math.inf)[1]))
        value, grads = batch_replay(tape, [math.inf, 0.0])
        assert math.isnan(value) and math.isnan(grads[0])
        with detect_anomaly(), pytest.raises(AnomalyError, match=rf"{op}\(inf\) gave nan"):
            getattr(Value(math.inf), op)()


def test_history_load_refuses_files_it_did_not_write(tmp_path):
    from nn import History

    bad_json = tmp_path / "h.json"
    bad_json.write_text(json.dumps({c: ["x"] for c in ("epoch", "train_loss", "train_acc",
                                    "val_loss", "val_acc", "lr", "time")}))  # fmt: skip
    with pytest.raises(ValueError, match=r"epoch holds 'x', not a number"):
        History.load(bad_json)
    bad_csv = tmp_path / "h.csv"
    bad_csv.write_text(
        "epoch,train_loss,train_acc,val_loss,val_acc,lr,time\n1,0.5,oops,,,0.1,0.2\n"
    )
    with pytest.raises(ValueError, match=r"h\.csv line 2: could not convert"):
        History.load(bad_csv)
    with pytest.raises(ValueError, match=r"must end in \.json or \.csv"):
        History.load(tmp_path / "h.txt")


def test_detect_anomaly_also_flags_a_nan_in_a_compiled_replay():
    from autograd import AnomalyError, Value, detect_anomaly
    from autograd.compile import trace
    from nn import fit

    w = Value(2.0, label="w")
    tape = trace(lambda x: (x * w).relu(), 1.0, params=[w])
    assert math.isnan(tape(math.nan)[0])  # outside anomaly mode: IEEE, as eager
    with detect_anomaly():
        assert tape(3.0) == (6.0, [3.0])
        for replay in (lambda: tape(math.nan), lambda: tape.sum_over([1.0, math.inf])):
            with pytest.raises(AnomalyError, match=r"mul\((nan|inf), 2\.0\) gave"):
                replay()
        with pytest.raises(AnomalyError, match="anomaly in tape: its replay gave"):
            tape(math.nan, params=[2.0])
    with (
        detect_anomaly(),
        pytest.raises(AnomalyError, match=r"anomaly in forward: linear\("),
        pytest.warns(CompileFallbackWarning, match="training eagerly"),
    ):
        fit(MLP(2, [4, 1], seed=0), moons_with_an_inf_feature(), epochs=2, verbose=False,
            compile=True)  # fmt: skip


def test_load_state_dict_takes_numpy_numbers_and_refuses_numpy_bools():
    import numpy as np

    model = MLP(2, [1], seed=0)
    state = {name: np.float32(0.5) for name in model.state_dict()}
    model.load_state_dict(state)
    assert all(type(v) is float and v == 0.5 for v in model.state_dict().values())
    state["layers.0.neurons.0.b"] = np.bool_(True)
    with pytest.raises(TypeError, match=r"'layers\.0\.neurons\.0\.b' must be a real number"):
        model.load_state_dict(state)


def test_an_overflow_while_validating_stops_diverged_instead_of_escaping_fit():
    from nn import fit, moons

    model = MLP(2, [1], seed=0)
    for p in model.parameters():
        p.data = 10.0
    with pytest.warns(RuntimeWarning, match=r"validation loss overflowed \(linear: result"):
        history = fit(model, moons(20), val=([[1e308, 0.0]], [1]), epochs=3, verbose=False)
    assert history.stop_reason == "diverged" and len(history) == 0
