"""Never a silent wrong number, never a hang: hostile files, labels and diverging training.

Each test protects one reproduction of issue 13: a model file that asks for
more memory than it is worth, a label that would inject code into a tape, a
training run whose numbers turn NaN, a metric scored against the wrong labels.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import pytest

from nn import MLP, ModelFileError, StateDictError, load, save

# Model files ---------------------------------------------------------------------------------


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
    assert tape.batch([1.0, 2.0]) == (6.0, [3.0])
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
        for replay in (tape.sum_over, tape.batch):
            with pytest.raises(TypeError, match=rf"sample 0: input x must be a number, {shown}"):
                replay(bad, [1.0, 1.0])
    # numpy numbers are numbers, for both replays
    assert tape.sum_over([np.float32(1.0), np.int64(2)], [1.0, 1.0]) == (3.0, [2.0, 3.0])
    assert tape.batch(np.array([1, 2]), [1.0, 1.0]) == (3.0, [2.0, 3.0])


def test_a_compiled_loss_refuses_to_replay_a_model_whose_layers_changed():
    from autograd.compile import TapeMismatch, compile_loss
    from nn import Layer
    from nn import functional as F

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
