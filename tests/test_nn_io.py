"""nn.save / nn.load / nn.load_into: round trips, atomic writes, and every bad file refused."""

from __future__ import annotations

import json
import math
import os
import re

import pytest

from nn import MLP, ModelFileError, Neuron, load, load_into, save


def data_of(model):
    return [p.data for p in model.parameters()]


@pytest.fixture
def saved(tmp_path):
    model = MLP(2, [4, 3, 1], activation="tanh", seed=1)
    path = tmp_path / "model.json"
    save(model, path)
    return model, path


def test_round_trip_gives_the_same_model(saved):
    model, path = saved
    again = load(path)
    assert isinstance(again, MLP)
    assert again.architecture() == model.architecture()
    assert data_of(again) == data_of(model)  # repr of a float round-trips exactly
    x = [0.3, -0.8]
    assert again(x).data == model(x).data


def test_file_is_readable_json_with_names(saved):
    model, path = saved
    doc = json.loads(path.read_text())
    assert doc["format"] == "tapegrad.mlp" and doc["version"] == 1
    assert doc["architecture"] == {
        "type": "MLP",
        "nin": 2,
        "nouts": [4, 3, 1],
        "activation": ["tanh", "tanh", "linear"],
        "dropout": 0.0,
    }
    assert list(doc["parameters"]) == [name for name, _ in model.named_parameters()]
    # One parameter per line, so a diff shows which weight changed.
    assert '"layers.0.neurons.0.w.0":' in path.read_text().splitlines()[5]


def test_load_into_copies_into_an_existing_model(saved):
    model, path = saved
    other = MLP(2, [4, 3, 1], activation="tanh", seed=99)
    assert load_into(other, path) is other
    assert data_of(other) == data_of(model)


def test_dropout_is_part_of_the_architecture(tmp_path):
    model = MLP(2, [3, 1], dropout=0.25)
    save(model, tmp_path / "m.json")
    assert load(tmp_path / "m.json").dropout.p == 0.25


def edit(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def set_param(name, value):
    def change(doc):
        doc["parameters"][name] = value

    return change


W = "layers.1.neurons.2.w.3"

BAD_FILES = {
    "truncated": (
        lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]),
        "not valid JSON",
    ),
    "empty": (lambda p: p.write_text(""), "not valid JSON"),
    "binary": (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "not a text file"),
    "a list": (lambda p: p.write_text("[1, 2]"), "expected a JSON object"),
    "wrong format": (lambda p: edit(p, lambda d: d.update(format="keras")), "format is 'keras'"),
    "no format": (lambda p: edit(p, lambda d: d.pop("format")), "format is None"),
    "version 2": (lambda p: edit(p, lambda d: d.update(version=2)), "version 2 is not supported"),
    "version string": (lambda p: edit(p, lambda d: d.update(version="1")), "version '1'"),
    "version bool": (lambda p: edit(p, lambda d: d.update(version=True)), "version True"),
    "no architecture": (lambda p: edit(p, lambda d: d.pop("architecture")), "'architecture'"),
    "bad nouts": (
        lambda p: edit(p, lambda d: d["architecture"].update(nouts=[4, 0, 1])),
        "nouts must be a list of positive ints",
    ),
    "bad activation": (
        lambda p: edit(p, lambda d: d["architecture"].update(activation=["tanh", "gelu", "x"])),
        "activation must list",
    ),
    "shape mismatch": (
        lambda p: edit(
            p, lambda d: d["architecture"].update(nouts=[4, 1], activation=["tanh"] * 2)
        ),
        r"do not match the architecture MLP\(2, \[4, 1\]\)",
    ),
    "missing parameter": (
        lambda p: edit(p, lambda d: d["parameters"].pop(W)),
        f"missing parameters {W}",
    ),
    "unexpected parameter": (
        lambda p: edit(p, set_param("layers.9.neurons.0.b", 0.0)),
        "unexpected parameters",
    ),
    "string number": (lambda p: edit(p, set_param(W, "0.5")), f"{W} must be a number, found str"),
    "bool": (lambda p: edit(p, set_param(W, True)), "found bool"),
    "null": (lambda p: edit(p, set_param(W, None)), "found NoneType"),
    "list": (lambda p: edit(p, set_param(W, [0.5])), "found list"),
    "nan": (lambda p: edit(p, set_param(W, math.nan)), "not a finite number: nan"),
    "infinity": (lambda p: edit(p, set_param(W, -math.inf)), "not a finite number"),
    "huge exponent": (
        lambda p: p.write_text(re.sub(f'"{W}": [^,]+', f'"{W}": 1e999', p.read_text())),
        "not a finite number",
    ),
    "huge int": (lambda p: edit(p, set_param(W, 10**400)), "not a finite number"),
    "duplicate key": (
        lambda p: p.write_text(
            p.read_text().replace('"version": 1,', '"version": 1, "version": 1,')
        ),
        "appears twice",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_a_clear_error_and_leaves_the_model_unchanged(saved, case):
    _, path = saved
    corrupt, message = BAD_FILES[case]
    corrupt(path)
    target = MLP(2, [4, 3, 1], activation="tanh", seed=7)
    before = data_of(target)
    with pytest.raises(ModelFileError, match=message) as err:
        load_into(target, path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)
    assert data_of(target) == before
    with pytest.raises(ModelFileError):
        load(path)


def test_load_into_a_model_of_another_shape_or_activation(saved):
    _, path = saved
    for other, key in [
        (MLP(2, [4, 4, 1], activation="tanh"), "nouts"),
        (MLP(3, [4, 3, 1], activation="tanh"), "nin"),
        (MLP(2, [4, 3, 1], activation="relu"), "activation"),
    ]:
        before = data_of(other)
        with pytest.raises(ModelFileError, match=f"the file's {key}"):
            load_into(other, path)
        assert data_of(other) == before


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.json")


def test_save_is_atomic_and_leaves_no_temporary_file(saved, monkeypatch):
    model, path = saved
    original = path.read_text()
    model.layers[0].neurons[0].b.data = 42.0

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save(model, path)
    monkeypatch.undo()
    assert path.read_text() == original  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["model.json"]
    save(model, path)
    assert load(path).layers[0].neurons[0].b.data == 42.0
    assert [p.name for p in path.parent.iterdir()] == ["model.json"]


def test_save_refuses_non_finite_weights_and_other_modules(tmp_path):
    model = MLP(2, [2, 1])
    model.layers[1].neurons[0].w[0].data = math.nan
    with pytest.raises(ValueError, match=r"layers\.1\.neurons\.0\.w\.0 is nan"):
        save(model, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()
    with pytest.raises(TypeError, match="only MLP models"):
        save(Neuron(2), tmp_path / "n.json")
