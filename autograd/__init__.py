"""tapegrad's autograd: a scalar reverse-mode automatic differentiation engine.

``Value`` records every operation into a graph; ``backward()`` walks that graph
in reverse topological order (the tape) and applies the chain rule, one rule
per op from the table in ``autograd.ops``.

HIPS autograd is also imported as ``autograd``: ``autograd._clash`` explains a
mix-up (nn refuses to import without ``__tapegrad__``; a warning here when
HIPS's modules share this folder).
"""

from . import _clash
from .anomaly import AnomalyError, detect_anomaly
from .engine import backward, enable_grad, gradients, is_grad_enabled, no_grad, topological_order
from .functional import (
    GradcheckError,
    grad,
    gradcheck,
    gradgradcheck,
    hessian,
    hvp,
    jacobian,
    numerical_grad,
    value_and_grad,
)
from .ops import OPS, cos, exp, leaky_relu, log, relu, sigmoid, sin, softplus, sqrt, tanh
from .value import Value, constant, linear

# The one place the version is written: pyproject.toml reads it (setuptools attr).
__version__ = "0.1.0"
# nn checks this marker: the name `autograd` may be HIPS autograd's package.
__tapegrad__ = True

_clash.warn_if_shared(__path__[0])

# Pictures and step-through live in autograd.viz / autograd.steps, which start
# subprocesses and are not needed to compute anything: import them on first use.
_LAZY = {
    "draw_dot": "viz",
    "to_dot": "viz",
    "render": "viz",
    "backward_steps": "steps",
    "explain": "steps",
    "graph_stats": "steps",
    "Player": "player",
    "play": "player",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'autograd' has no attribute {name!r}")


__all__ = [
    "OPS",
    "AnomalyError",
    "GradcheckError",
    "Player",
    "Value",
    "backward",
    "backward_steps",
    "constant",
    "cos",
    "detect_anomaly",
    "draw_dot",
    "enable_grad",
    "exp",
    "explain",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "graph_stats",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "leaky_relu",
    "linear",
    "log",
    "no_grad",
    "numerical_grad",
    "play",
    "relu",
    "render",
    "sigmoid",
    "sin",
    "softplus",
    "sqrt",
    "tanh",
    "to_dot",
    "topological_order",
    "value_and_grad",
]
