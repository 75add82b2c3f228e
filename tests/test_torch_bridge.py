"""nn.to_torch and nn.from_torch: same weights, same outputs, same gradients (float64).

The torch tests are skipped without PyTorch; the message that tells a learner
how to install it is tested with torch blocked, so it runs everywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import nn
from autograd import Value
from nn import MLP, Layer

REPO = Path(__file__).resolve().parents[1]
POINTS = [[0.5, -1.2], [2.0, 0.3], [-0.7, -0.4], [0.0, 0.0], [1.5, 1.5]]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def ours_out(model, x) -> list[float]:
    out = model(x)
    return [v.data for v in out] if isinstance(out, list) else [out.data]


def theirs_out(torch, seq, x) -> list[float]:
    return seq(torch.tensor(x, dtype=torch.float64)).tolist()


MODELS = {
    "micrograd's demo net": lambda: MLP(2, [16, 16, 1], seed=3),
    "every activation": lambda: MLP(
        2, [5, 4, 4, 3, 2], activation=["tanh", "sigmoid", "leaky_relu", "relu", "tanh"], seed=1
    ),
    "he init, two outputs": lambda: MLP(2, [8, 2], init="he", seed=2),
    "unfused neurons": lambda: MLP(2, [4, 1], activation="tanh", fused=False, seed=4),
    "one layer": lambda: Layer(2, 3, activation="sigmoid", seed=5),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(MODELS))
def test_to_torch_gives_the_same_outputs(torch, name):
    model = MODELS[name]()
    seq = nn.to_torch(model)
    assert isinstance(seq, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in seq.parameters())
    assert sum(p.numel() for p in seq.parameters()) == model.num_parameters()
    for x in POINTS:
        assert theirs_out(torch, seq, x) == pytest.approx(ours_out(model, x), abs=1e-12, rel=0)


@pytest.mark.torch
def test_to_torch_copies_each_neuron_into_a_row(torch):
    model = MLP(3, [2, 1], seed=0)
    seq = nn.to_torch(model)
    first = model.layers[0]
    assert seq[0].weight.tolist() == [[w.data for w in n.w] for n in first.neurons]
    assert seq[0].bias.tolist() == [n.b.data for n in first.neurons]
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    with torch.no_grad():  # a copy: changing one side leaves the other alone
        seq[0].weight[0, 0] = 123.0
    assert first.neurons[0].w[0].data != 123.0


@pytest.mark.torch
@pytest.mark.parametrize("name", [n for n in MODELS if n != "one layer"])
def test_round_trip_keeps_every_weight_and_the_architecture(torch, name):
    model = MODELS[name]()
    back = nn.from_torch(nn.to_torch(model))
    assert back.architecture() == model.architecture()
    assert back.state_dict() == model.state_dict()
    seq = nn.to_torch(model)
    again = nn.to_torch(nn.from_torch(seq))
    assert str(again) == str(seq)
    for p, q in zip(again.parameters(), seq.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.torch
def test_from_torch_reads_a_network_built_in_torch(torch):
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(3, 6),
        torch.nn.Tanh(),
        torch.nn.Linear(6, 4),
        torch.nn.LeakyReLU(0.01),
        torch.nn.Linear(4, 1),
        torch.nn.Identity(),
    ).double()
    model = nn.from_torch(seq)
    assert model.nouts == [6, 4, 1]
    assert model.activations == ["tanh", "leaky_relu", "linear"]
    for x in ([0.1, -0.2, 0.3], [2.0, 1.0, -3.0]):
        assert ours_out(model, x) == pytest.approx(theirs_out(torch, seq, x), abs=1e-12, rel=0)


@pytest.mark.torch
def test_gradients_agree_after_one_backward(torch):
    model = MLP(2, [6, 5, 2], activation="tanh", seed=7)
    seq = nn.to_torch(model)
    targets = [[1.0, -1.0], [0.0, 0.5], [-1.0, 1.0], [0.3, 0.3], [2.0, 0.0]]
    # The same loss both ways: the sum of squared errors over five points.
    loss = sum(
        ((o - t) ** 2 for x, ts in zip(POINTS, targets) for o, t in zip(model(x), ts)),
        start=Value(0.0),
    )
    loss.backward()
    X = torch.tensor(POINTS, dtype=torch.float64)
    Y = torch.tensor(targets, dtype=torch.float64)
    torch_loss = ((seq(X) - Y) ** 2).sum()
    torch_loss.backward()
    assert torch_loss.item() == pytest.approx(loss.data, abs=1e-12, rel=0)
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(model.layers, linears, strict=True):
        ours_w = [[w.grad for w in n.w] for n in layer.neurons]
        ours_b = [n.b.grad for n in layer.neurons]
        for row, theirs in zip(ours_w, linear.weight.grad.tolist(), strict=True):
            assert row == pytest.approx(theirs, abs=1e-12, rel=0)
        assert ours_b == pytest.approx(linear.bias.grad.tolist(), abs=1e-12, rel=0)


@pytest.mark.torch
def test_dropout_and_mode_cross_over(torch):
    model = MLP(2, [8, 8, 1], dropout=0.25, seed=0).eval()
    seq = nn.to_torch(model)
    assert [type(m).__name__ for m in seq].count("Dropout") == 2
    assert seq[2].p == 0.25 and not seq.training
    for x in POINTS:  # evaluation mode: dropout off on both sides
        assert theirs_out(torch, seq, x) == pytest.approx(ours_out(model, x), abs=1e-12, rel=0)
    back = nn.from_torch(seq.train())
    assert back.training and back.dropout.p == 0.25


@pytest.mark.torch
@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (lambda t: [t.nn.Linear(2, 3), t.nn.Softmax(dim=0)], r"layer \[1\] is Softmax"),
        (lambda t: [t.nn.ReLU(), t.nn.Linear(2, 3)], "must start with a Linear"),
        (lambda t: [t.nn.Linear(2, 3), t.nn.Linear(4, 1)], r"layer \[1\] expects 4 inputs"),
        (lambda t: [t.nn.Linear(2, 3), t.nn.LeakyReLU(0.2)], "negative_slope=0.2"),
        (lambda t: [t.nn.Linear(2, 3), t.nn.ReLU(), t.nn.Tanh()], r"layer \[2\] is Tanh"),
        (lambda t: [t.nn.Linear(2, 3), t.nn.Dropout(0.5)], "none after the last"),
        (lambda t: [], "has no Linear layer"),
    ],
)
def test_from_torch_names_the_layer_it_cannot_take(torch, layers, message):
    with pytest.raises(ValueError, match=message):
        nn.from_torch(torch.nn.Sequential(*layers(torch)))


@pytest.mark.torch
def test_bad_arguments_say_what_was_expected(torch):
    with pytest.raises(TypeError, match="expects an MLP or a Layer, got Dropout"):
        nn.to_torch(nn.Dropout(0.5))
    with pytest.raises(TypeError, match=r"expects a torch\.nn\.Sequential, got Linear"):
        nn.from_torch(torch.nn.Linear(2, 1))


_WITHOUT_TORCH = r"""
import sys
sys.modules["torch"] = None  # as if PyTorch were not installed
import nn
for call in (lambda: nn.to_torch(nn.MLP(2, [1])), lambda: nn.from_torch(None)):
    try:
        call()
    except ImportError as err:
        print(err)
"""


def test_without_torch_the_error_says_how_to_install_it():
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "nn.to_torch needs PyTorch, which is not installed: pip install 'tapegrad[torch]'",
        "nn.from_torch needs PyTorch, which is not installed: pip install 'tapegrad[torch]'",
    ]
