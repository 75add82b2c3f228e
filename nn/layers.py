"""Neuron, Layer, MLP and Dropout, with micrograd's constructors.

``MLP(2, [16, 16, 1])`` is micrograd's demo network: 337 parameters, ReLU on
the hidden layers, a linear output, parameters ordered layer by layer, neuron
by neuron, weights then bias.  On top of that: an activation and an
initialisation per network, an explicit seed or ``random.Random`` (the default
is ``seed=0``; Python's global ``random`` state is never used), and dropout.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from autograd import Value, constant, linear

from .module import Module

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
INITS = ("uniform", "xavier", "he")


def _check_activation(activation) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    return activation


def _check_size(what: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")
    return n


def make_rng(seed=None, rng=None) -> random.Random:
    """The random generator to use: ``rng`` if given, else ``random.Random(seed)`` (seed 0).

    Never Python's global ``random`` state, so the same arguments give the
    same numbers whatever else the program does.
    """
    if rng is not None:
        if seed is not None:
            raise ValueError("give either seed or rng, not both")
        if not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        return rng
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    return random.Random(seed)


def init_bound(init: str, fan_in: int, fan_out: int) -> float:
    """Weights are drawn from uniform(-a, a) with a depending on ``init``.

    uniform (micrograd): a = 1;  xavier (Glorot): a = sqrt(6 / (fan_in + fan_out));
    he (Kaiming, for ReLU): a = sqrt(6 / fan_in), i.e. variance 2 / fan_in.
    """
    if init == "uniform":
        return 1.0
    if init == "xavier":
        return math.sqrt(6.0 / (fan_in + fan_out))
    if init == "he":
        return math.sqrt(6.0 / fan_in)
    raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")


# Each activation as a function of one Value; looked up once per neuron call.
_ACTIVATE = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": lambda v: v.leaky_relu(0.01),
    "linear": lambda v: v,
}


def activate(x, activation: str):
    """Apply a named activation to one Value ('linear' is the identity)."""
    return _ACTIVATE[activation](x)


class Neuron(Module):
    """One unit: act(b + sum_i w_i x_i).

    ``nonlin=True`` (micrograd) means ReLU and ``nonlin=False`` linear; an
    explicit ``activation`` overrides it.  ``fused=True`` computes the sum as
    one ``linear`` node; ``fused=False`` builds micrograd's chain of ``*`` and
    ``+`` (same numbers, a bigger picture for teaching).
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        init: str = "uniform",
        fan_out: int = 1,
        fused: bool = True,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_size("Neuron: nin", nin)
        self.activation = _check_activation(
            activation if activation is not None else ("relu" if nonlin else "linear")
        )
        self.fused = bool(fused)
        bound = init_bound(init, nin, fan_out)
        draw = make_rng(seed, rng)
        self.w = [Value(draw.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)

    @property
    def nin(self) -> int:
        """Number of inputs."""
        return len(self.w)

    def forward(self, x: Sequence[Value | float]) -> Value:
        """act(b + sum_i w_i x_i) for a list of ``nin`` Values or numbers."""
        x = _check_inputs(self, x, len(self.w))
        return self._forward([v if isinstance(v, Value) else constant(v) for v in x])

    def _forward(self, x):
        # x: checked, and every input a Value (a Layer does this once for all its neurons).
        if self.fused:
            act = linear(self.w, x, self.b, all_values=True)
        else:
            act = self.b
            for wi, xi in zip(self.w, x, strict=True):
                act = act + wi * xi
        return _ACTIVATE[self.activation](act)

    def extra_repr(self) -> str:
        return f"nin={self.nin}, activation={self.activation!r}"


class Layer(Module):
    """``nout`` neurons reading the same inputs; always returns a list of ``nout`` Values."""

    def __init__(
        self,
        nin: int,
        nout: int,
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        **kwargs: Any,
    ) -> None:
        _check_size("Layer: nin", nin)
        _check_size("Layer: nout", nout)
        draw = make_rng(seed, rng)
        kwargs.setdefault("fan_out", nout)
        self.neurons = [Neuron(nin, rng=draw, **kwargs) for _ in range(nout)]

    @property
    def nin(self) -> int:
        """Number of inputs."""
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        """Number of outputs (neurons)."""
        return len(self.neurons)

    @property
    def activation(self) -> str:
        """The activation of this layer's neurons."""
        return self.neurons[0].activation

    def forward(self, x: Sequence[Value | float]) -> list[Value]:
        """[neuron(x) for each neuron]: a list even when there is one neuron."""
        x = _check_inputs(self, x, self.nin)
        # Wrap plain numbers once, so the neurons share one input node per feature.
        x = [v if isinstance(v, Value) else constant(v) for v in x]
        return [n._forward(x) for n in self.neurons]

    def __repr__(self) -> str:
        # One line, like torch's Linear: sixteen Neuron lines would hide the shape.
        return f"Layer(nin={self.nin}, nout={self.nout}, activation={self.activation!r})"


class Dropout(Module):
    """Zero each input with probability ``p`` in training mode; scale the rest by 1/(1-p).

    The mask is a multiplication by a constant (0.0 or 1/(1-p)) so it shows in
    the graph; in evaluation mode (``model.eval()``) the input passes unchanged.
    """

    def __init__(
        self, p: float = 0.5, *, seed: int | None = None, rng: random.Random | None = None
    ) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self._rng = make_rng(seed, rng)

    def forward(self, x: Any) -> Any:
        """The input (a Value or a list of Values) with the training-mode mask applied."""
        if not self.training or self.p == 0.0:
            return x
        if isinstance(x, (list, tuple)):
            return [self._drop(v) for v in x]
        return self._drop(x)

    def _drop(self, v):
        keep = self._rng.random() >= self.p
        return v * constant(1.0 / (1.0 - self.p) if keep else 0.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(Module):
    """A multilayer perceptron: ``Layer``s of sizes ``nouts`` after ``nin`` inputs.

    ``activation`` is one name for every hidden layer (the output stays linear,
    as in micrograd) or a list with one name per layer, output included.
    ``init`` is 'uniform' (micrograd's uniform(-1, 1)), 'xavier' or 'he'; biases
    start at 0.  ``dropout`` > 0 adds a ``Dropout`` after each hidden layer.
    Randomness comes from ``seed`` or ``rng`` (default ``seed=0``).  Returns a
    single Value when the last layer has one neuron, else a list.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str | Sequence[str] = "relu",
        init: str = "uniform",
        dropout: float = 0.0,
        fused: bool = True,
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_size("MLP: nin", nin)
        if not isinstance(nouts, (list, tuple)) or not nouts:
            raise ValueError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        for n in nouts:
            _check_size("MLP: each layer size in nouts", n)
        if isinstance(activation, str):
            acts = [activation] * (len(nouts) - 1) + ["linear"]
        else:
            acts = list(activation)
            if len(acts) != len(nouts):
                raise ValueError(
                    f"MLP: {len(acts)} activations given for {len(nouts)} layers: {acts!r}"
                )
        for a in acts:
            _check_activation(a)
        init_bound(init, 1, 1)  # validates the name before any weight is drawn
        draw = make_rng(seed, rng)
        sizes = [nin, *nouts]
        self.activations = acts
        self.init = init
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation=acts[i], init=init, fused=fused, rng=draw)
            for i in range(len(nouts))
        ]
        self.dropout = Dropout(dropout, rng=draw) if dropout else None

    @property
    def nin(self) -> int:
        """Number of inputs."""
        return self.layers[0].nin

    @property
    def nouts(self) -> list[int]:
        """The size of each layer."""
        return [layer.nout for layer in self.layers]

    def architecture(self) -> dict:
        """What it takes to rebuild this network (saved with the weights by ``nn.save``)."""
        return {
            "type": "MLP",
            "nin": self.nin,
            "nouts": self.nouts,
            "activation": list(self.activations),
            "dropout": self.dropout.p if self.dropout is not None else 0.0,
        }

    def forward(self, x: Sequence[Value | float]) -> Any:  # a Value, or a list of them
        """Run the layers in turn; one Value if the last layer has one neuron, else a list."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if self.dropout is not None and i < last:
                x = self.dropout(x)
        return x[0] if len(x) == 1 else x

    def extra_repr(self) -> str:
        return f"nin={self.nin}, nouts={self.nouts}"


def _check_inputs(module: Module, x, n: int) -> list:
    if isinstance(x, (Value, int, float)) or not hasattr(x, "__len__"):
        raise TypeError(
            f"{type(module).__name__} expects a list of {n} inputs, got {type(x).__name__} {x!r}"
        )
    if len(x) != n:
        raise ValueError(f"{type(module).__name__} expects {n} inputs, got {len(x)}: {list(x)!r}")
    return x
