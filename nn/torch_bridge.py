"""``to_torch`` and ``from_torch``: an MLP as a ``torch.nn.Sequential`` and back.

A ``Layer`` of n neurons with m inputs is one ``torch.nn.Linear(m, n)``: row j
of its weight matrix is neuron j's weights, entry j of its bias is neuron j's
bias, so ``Linear(x) = W x + b`` computes every neuron's ``b_j + sum_i w_ji x_i``
at once.  Each activation is the torch module of the same function
(``leaky_relu`` with slope 0.01, ``linear`` none at all) and ``MLP(dropout=p)``
puts a ``Dropout(p)`` after each hidden activation, where ours is.  Tensors
are float64, the precision of a Python float, so the two networks give the
same outputs and gradients to rounding.

PyTorch is optional (``pip install 'tapegrad[torch]'``): it is imported only
when one of these functions is called.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from .layers import MLP, Layer

INSTALL_HINT = "pip install 'tapegrad[torch]'"

# Our activation name -> the torch.nn class name of the same function.
_TORCH_ACTIVATIONS = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "leaky_relu": "LeakyReLU",
}
_LEAKY_SLOPE = 0.01  # nn.layers' leaky_relu, and torch.nn.LeakyReLU's default


def _import_torch(what: str):
    try:
        import torch
    except ImportError:
        raise ImportError(f"{what} needs PyTorch, which is not installed: {INSTALL_HINT}") from None
    return torch


def _linear(torch, layer: Layer):
    linear = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(
            torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        )
        linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
    return linear


def _activation(torch, name: str):
    if name == "linear":
        return None
    if name == "leaky_relu":
        return torch.nn.LeakyReLU(_LEAKY_SLOPE)
    return getattr(torch.nn, _TORCH_ACTIVATIONS[name])()


def to_torch(model: MLP | Layer) -> Any:
    """A float64 ``torch.nn.Sequential`` computing the same function as ``model`` (MLP or Layer).

    The weights are copied (the two models do not share storage); the
    Sequential starts in the same training/evaluation mode as ``model``.
    """
    torch = _import_torch("nn.to_torch")
    if isinstance(model, Layer):
        layers, dropout = [model], 0.0
    elif isinstance(model, MLP):
        layers, dropout = model.layers, (model.dropout.p if model.dropout is not None else 0.0)
    else:
        raise TypeError(
            f"nn.to_torch: expects an MLP or a Layer, got {type(model).__name__}; "
            "other modules have no torch.nn counterpart here"
        )
    modules = []
    for i, layer in enumerate(layers):
        modules.append(_linear(torch, layer))
        act = _activation(torch, layer.activation)
        if act is not None:
            modules.append(act)
        if dropout and i < len(layers) - 1:
            modules.append(torch.nn.Dropout(dropout))
    seq = torch.nn.Sequential(*modules)
    return seq.train(model.training)


def _activation_name(torch, module, index: int) -> str | None:
    """Our name for a torch activation module, or None if ``module`` is not one."""
    for name, cls in _TORCH_ACTIVATIONS.items():
        if type(module) is getattr(torch.nn, cls):
            if name == "leaky_relu" and module.negative_slope != _LEAKY_SLOPE:
                raise ValueError(
                    f"nn.from_torch: layer [{index}] is LeakyReLU(negative_slope="
                    f"{module.negative_slope}); tapegrad's leaky_relu has slope {_LEAKY_SLOPE}"
                )
            return name
    if type(module) is torch.nn.Identity:
        return "linear"
    return None


def from_torch(seq: Any) -> MLP:
    """An MLP with the weights and activations of ``seq``, a ``torch.nn.Sequential``.

    ``seq`` must be Linear layers, each followed by at most one activation
    (ReLU, Tanh, Sigmoid, LeakyReLU(0.01) or Identity) and, after hidden
    layers, the same Dropout(p) after each one, as ``to_torch`` makes them.
    A Linear without bias gets biases of 0.
    """
    torch = _import_torch("nn.from_torch")
    if not isinstance(seq, torch.nn.Sequential):
        raise TypeError(f"nn.from_torch: expects a torch.nn.Sequential, got {type(seq).__name__}")
    blocks: list[dict] = []  # one per Linear: its weights, activation, dropout after it
    for i, module in enumerate(seq):
        if isinstance(module, torch.nn.Linear):
            blocks.append({"linear": module, "activation": "linear", "dropout": None, "at": i})
            continue
        if not blocks:
            raise ValueError(
                f"nn.from_torch: layer [{i}] is {type(module).__name__}; "
                "the Sequential must start with a Linear"
            )
        block = blocks[-1]
        name = _activation_name(torch, module, i)
        if name is not None and block["activation"] == "linear" and block["dropout"] is None:
            block["activation"] = name
        elif isinstance(module, torch.nn.Dropout) and block["dropout"] is None:
            block["dropout"] = float(module.p)
        else:
            raise ValueError(
                f"nn.from_torch: layer [{i}] is {module!r}, which has no place in an MLP here: "
                "each Linear may be followed by one activation (ReLU, Tanh, Sigmoid, "
                "LeakyReLU(0.01), Identity) and, after a hidden layer, one Dropout"
            )
    if not blocks:
        raise ValueError("nn.from_torch: the Sequential has no Linear layer")
    for prev, block in pairwise(blocks):
        nin, nout = block["linear"].in_features, prev["linear"].out_features
        if nin != nout:
            raise ValueError(
                f"nn.from_torch: layer [{block['at']}] expects {nin} inputs, "
                f"but the Linear before it gives {nout}"
            )
    dropouts = {b["dropout"] or 0.0 for b in blocks[:-1]}
    if blocks[-1]["dropout"] is not None or len(dropouts) > 1:
        raise ValueError(
            "nn.from_torch: an MLP has one Dropout(p) after every hidden layer and none after "
            f"the last; got {[b['dropout'] for b in blocks]!r}"
        )
    model = MLP(
        blocks[0]["linear"].in_features,
        [b["linear"].out_features for b in blocks],
        activation=[b["activation"] for b in blocks],
        dropout=dropouts.pop() if dropouts else 0.0,
    )
    for layer, block in zip(model.layers, blocks):
        linear = block["linear"]
        weight = linear.weight.detach().to(torch.float64).tolist()
        bias = (
            linear.bias.detach().to(torch.float64).tolist()
            if linear.bias is not None
            else [0.0] * linear.out_features
        )
        for neuron, row, b in zip(layer.neurons, weight, bias):
            for w, value in zip(neuron.w, row):
                w.data = value
            neuron.b.data = b
    model.train(seq.training)
    return model
