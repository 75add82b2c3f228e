"""nn.Module and the layers: parameters and names, modes, dropout, state dicts, repr, errors."""

from __future__ import annotations

import math
import random

import pytest

from autograd import Value, topological_order
from nn import MLP, Dropout, Layer, Module, Neuron, StateDictError


def data_of(model):
    return [p.data for p in model.parameters()]


# Parameters and names ------------------------------------------------------------------------


def test_micrograd_demo_network_has_337_parameters():
    model = MLP(2, [16, 16, 1])
    # (2*16 + 16) + (16*16 + 16) + (16*1 + 1)
    assert model.num_parameters() == 337
    assert len(model.parameters()) == 337


def test_parameter_order_is_layer_neuron_weights_then_bias():
    model = MLP(2, [3, 1])
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0",
        "layers.0.neurons.1.w.1",
        "layers.0.neurons.1.b",
        "layers.0.neurons.2.w.0",
        "layers.0.neurons.2.w.1",
        "layers.0.neurons.2.b",
        "layers.1.neurons.0.w.0",
        "layers.1.neurons.0.w.1",
        "layers.1.neurons.0.w.2",
        "layers.1.neurons.0.b",
    ]
    # parameters() is the same objects in the same order, and each is a leaf.
    assert [p for _, p in model.named_parameters()] == model.parameters()
    assert all(isinstance(p, Value) and p.is_leaf for p in model.parameters())


def test_parameters_are_labelled_with_their_dotted_names():
    model = MLP(2, [16, 16, 1])
    for name, p in model.named_parameters():
        assert p.label == name
    assert model.layers[0].neurons[3].w[1].label == "layers.0.neurons.3.w.1"


def test_a_module_inside_a_custom_module_gets_the_longer_names():
    class Net(Module):
        def __init__(self):
            self.body = MLP(2, [2, 1])
            self.scale = Value(1.0)

        def forward(self, x):
            return self.body(x) * self.scale

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names[0] == "body.layers.0.neurons.0.w.0"
    assert names[-1] == "scale"
    assert net.body.layers[1].neurons[0].b.label == "body.layers.1.neurons.0.b"
    assert net([1.0, 2.0]).data == pytest.approx(net.body([1.0, 2.0]).data)


def test_shared_parameter_is_listed_once():
    class Tied(Module):
        def __init__(self):
            self.a = Value(1.0)
            self.b = self.a

    assert Tied().num_parameters() == 1


def test_named_modules_and_children():
    model = MLP(2, [3, 1], dropout=0.5)
    children = [name for name, _ in model.named_children()]
    assert children == ["layers.0", "layers.1", "dropout"]
    names = [name for name, _ in model.named_modules()]
    assert names[0] == ""
    assert "layers.0.neurons.2" in names
    assert len(names) == 1 + 2 + 3 + 1 + 1  # MLP, layers, neurons, dropout


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [4, 1])
    model([1.0, -2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


# micrograd compatibility ---------------------------------------------------------------------


def test_micrograd_defaults_relu_hidden_linear_output():
    model = MLP(2, [16, 16, 1])
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert Neuron(3).activation == "relu"
    assert Neuron(3, nonlin=False).activation == "linear"
    assert Layer(3, 2, nonlin=False).activation == "linear"


def test_default_init_is_uniform_minus_one_one_with_zero_bias():
    model = MLP(4, [50, 1])
    ws = [p.data for name, p in model.named_parameters() if ".w." in name]
    bs = [p.data for name, p in model.named_parameters() if name.endswith(".b")]
    assert all(-1.0 <= w <= 1.0 for w in ws)
    assert min(ws) < -0.8 and max(ws) > 0.8  # spread over the whole interval
    assert bs == [0.0] * 51


def test_weights_equal_micrograd_for_the_same_seed():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    state = random.getstate()
    try:
        random.seed(1337)
        theirs = micrograd_nn.MLP(2, [16, 16, 1])
    finally:
        random.setstate(state)
    ours = MLP(2, [16, 16, 1], seed=1337)
    assert data_of(ours) == [p.data for p in theirs.parameters()]
    x = [0.3, -1.2]
    assert ours(x).data == pytest.approx(theirs(x).data, rel=1e-12)


def test_layer_always_returns_a_list_and_mlp_unwraps_one_output():
    layer = Layer(2, 1)
    out = layer([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 1
    assert isinstance(MLP(2, [3, 1])([1.0, 2.0]), Value)
    multi = MLP(2, [3, 4])([1.0, 2.0])
    assert isinstance(multi, list) and len(multi) == 4


def test_neuron_computes_activation_of_bias_plus_weighted_sum():
    n = Neuron(3, activation="tanh", seed=5)
    n.b.data = 0.25
    x = [0.5, -1.0, 2.0]
    expected = math.tanh(0.25 + sum(w.data * xi for w, xi in zip(n.w, x, strict=True)))
    assert n(x).data == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_fused_and_unfused_neurons_give_identical_numbers(activation):
    kwargs = {"activation": [activation, activation, "linear"], "seed": 3}
    fused = MLP(3, [4, 4, 1], **kwargs)
    chain = MLP(3, [4, 4, 1], fused=False, **kwargs)
    assert data_of(fused) == data_of(chain)
    x = [0.7, -0.2, 1.5]
    a, b = fused(x), chain(x)
    assert a.data == b.data
    a.backward()
    b.backward()
    assert [p.grad for p in fused.parameters()] == [p.grad for p in chain.parameters()]
    # The fused graph has one node per neuron's sum, the chain 2n of them.
    assert len(topological_order(a)) < len(topological_order(b))
    ops = {node.op for node in topological_order(b)}
    assert "linear" not in ops and {"mul", "add"} <= ops


def test_activation_per_layer_and_output_stays_linear_for_a_name():
    model = MLP(2, [3, 3, 2], activation="tanh")
    assert [layer.activation for layer in model.layers] == ["tanh", "tanh", "linear"]
    model = MLP(2, [3, 2], activation=["sigmoid", "sigmoid"])
    assert [layer.activation for layer in model.layers] == ["sigmoid", "sigmoid"]
    out = model([0.1, 0.2])
    assert all(0.0 < v.data < 1.0 for v in out)


@pytest.mark.parametrize(
    ("init", "bound"),
    [
        ("uniform", lambda fi, fo: 1.0),
        ("xavier", lambda fi, fo: math.sqrt(6 / (fi + fo))),
        ("he", lambda fi, fo: math.sqrt(6 / fi)),
    ],
)
def test_init_bounds(init, bound):
    model = MLP(20, [30, 1], init=init, seed=1)
    layer0 = [w.data for n in model.layers[0].neurons for w in n.w]
    limit = bound(20, 30)
    assert all(-limit <= w <= limit for w in layer0)
    # Enough draws to come close to both ends of the interval.
    assert max(layer0) > 0.9 * limit and min(layer0) < -0.9 * limit


def test_seed_and_rng_are_deterministic_and_never_use_global_random():
    state = random.getstate()
    try:
        random.seed(1)
        a = data_of(MLP(2, [5, 1]))
        random.seed(2)
        b = data_of(MLP(2, [5, 1]))
        assert a == b == data_of(MLP(2, [5, 1], seed=0))
        assert random.random() == random.Random(2).random()  # global state untouched
    finally:
        random.setstate(state)
    assert data_of(MLP(2, [5, 1], seed=7)) == data_of(MLP(2, [5, 1], rng=random.Random(7)))
    assert data_of(MLP(2, [5, 1], seed=7)) != data_of(MLP(2, [5, 1], seed=8))


# Modes and dropout ----------------------------------------------------------------------------


def test_train_and_eval_return_self_and_set_every_module():
    model = MLP(2, [3, 1], dropout=0.5)
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    with pytest.raises(TypeError, match="mode"):
        model.train("no")


def test_dropout_zeroes_and_scales_in_training_only():
    drop = Dropout(0.5, seed=0)
    xs = [Value(float(i + 1)) for i in range(200)]
    out = drop(xs)
    zeroed = [o for o in out if o.data == 0.0]
    kept = [(o, x) for o, x in zip(out, xs, strict=True) if o.data != 0.0]
    assert 60 < len(zeroed) < 140
    assert all(o.data == pytest.approx(2.0 * x.data) for o, x in kept)
    # The mask is a visible multiplication by a constant 0.0 or 1/(1-p).
    masks = {o.parents[1].data for o in out}
    assert masks == {0.0, 2.0}
    assert all(o.op == "mul" and o.parents[1].op == "const" for o in out)
    drop.eval()
    assert drop(xs) is xs


def test_dropout_gradient_follows_the_mask():
    drop = Dropout(0.25, seed=4)
    xs = [Value(1.0) for _ in range(50)]
    out = drop(xs)
    total = out[0]
    for o in out[1:]:
        total = total + o
    total.backward()
    for x, o in zip(xs, out, strict=True):
        assert x.grad == (0.0 if o.data == 0.0 else pytest.approx(1 / 0.75))


def test_mlp_dropout_changes_training_outputs_not_evaluation_outputs():
    model = MLP(2, [32, 32, 1], dropout=0.5, seed=0)
    x = [0.5, -0.3]
    train_outs = {model(x).data for _ in range(5)}
    assert len(train_outs) > 1
    model.eval()
    eval_outs = {model(x).data for _ in range(5)}
    assert len(eval_outs) == 1
    plain = MLP(2, [32, 32, 1], seed=0)
    assert eval_outs == {plain(x).data}


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", True])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="Dropout: p"):
        Dropout(p)


# State dicts -----------------------------------------------------------------------------------


def test_state_dict_round_trip():
    a = MLP(2, [4, 1], seed=1)
    b = MLP(2, [4, 1], seed=2)
    sd = a.state_dict()
    assert list(sd) == [n for n, _ in a.named_parameters()]
    assert all(isinstance(v, float) for v in sd.values())
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert data_of(b) == data_of(a)
    x = [0.2, 0.9]
    assert b(x).data == a(x).data


def test_state_dict_is_a_copy():
    model = MLP(2, [2, 1])
    sd = model.state_dict()
    sd["layers.0.neurons.0.w.0"] = 123.0
    assert model.layers[0].neurons[0].w[0].data != 123.0


def test_strict_load_reports_missing_and_unexpected_keys_and_changes_nothing():
    model = MLP(2, [2, 1], seed=1)
    before = data_of(model)
    sd = MLP(2, [2, 1], seed=9).state_dict()
    del sd["layers.1.neurons.0.b"]
    sd["layers.2.neurons.0.b"] = 0.5
    with pytest.raises(StateDictError) as err:
        model.load_state_dict(sd)
    assert "layers.1.neurons.0.b" in str(err.value) and "layers.2.neurons.0.b" in str(err.value)
    assert "missing" in str(err.value) and "unexpected" in str(err.value)
    assert data_of(model) == before


def test_non_strict_load_loads_what_matches_and_returns_the_rest():
    model = MLP(2, [2, 1], seed=1)
    result = model.load_state_dict({"layers.0.neurons.0.w.0": 0.125, "extra": 1.0}, strict=False)
    assert model.layers[0].neurons[0].w[0].data == 0.125
    assert result.unexpected_keys == ["extra"]
    assert len(result.missing_keys) == model.num_parameters() - 1


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("0.5", TypeError),
        (True, TypeError),
        (None, TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
    ],
)
def test_load_rejects_bad_values_before_changing_anything(value, error):
    model = MLP(2, [2, 1], seed=1)
    before = data_of(model)
    sd = {name: 0.0 for name in model.state_dict()}
    sd["layers.1.neurons.0.w.1"] = value  # a late key: earlier ones must not be applied
    with pytest.raises(error, match=r"layers\.1\.neurons\.0\.w\.1"):
        model.load_state_dict(sd)
    assert data_of(model) == before


# repr and errors ---------------------------------------------------------------------------------


def test_repr_is_torch_style():
    text = repr(MLP(2, [16, 16, 1], dropout=0.1))
    assert text.splitlines() == [
        "MLP(",
        "  nin=2, nouts=[16, 16, 1]",
        "  (layers.0): Layer(nin=2, nout=16, activation='relu')",
        "  (layers.1): Layer(nin=16, nout=16, activation='relu')",
        "  (layers.2): Layer(nin=16, nout=1, activation='linear')",
        "  (dropout): Dropout(p=0.1)",
        ")",
    ]
    assert repr(Neuron(3, nonlin=False)) == "Neuron(nin=3, activation='linear')"


def test_unknown_attribute_raises_with_a_suggestion():
    model = MLP(2, [2, 1])
    with pytest.raises(AttributeError, match="did you mean 'layers'"):
        model.layer  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        model.nonexistent  # noqa: B018
    assert not hasattr(model, "paramters")


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()(1.0)


def test_bad_inputs_and_sizes_raise_clear_errors():
    model = MLP(2, [3, 1])
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="list of 2 inputs"):
        model(1.0)
    with pytest.raises(ValueError, match="nin must be a positive int"):
        MLP(0, [1])
    with pytest.raises(ValueError, match="nouts"):
        MLP(2, [])
    with pytest.raises(ValueError, match="each layer size"):
        MLP(2, [3, 0])
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP(2, [3, 1], activation="gelu")
    with pytest.raises(ValueError, match="2 activations given for 3 layers"):
        MLP(2, [3, 3, 1], activation=["relu", "relu"])
    with pytest.raises(ValueError, match="init must be one of"):
        MLP(2, [3, 1], init="normal")
    with pytest.raises(ValueError, match="either seed or rng"):
        MLP(2, [3, 1], seed=1, rng=random.Random(1))
    with pytest.raises(TypeError, match="seed must be an int"):
        MLP(2, [3, 1], seed=1.5)
