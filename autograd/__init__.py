"""tapegrad's autograd: a scalar reverse-mode automatic differentiation engine.

``Value`` records every operation into a graph; ``backward()`` walks that graph
in reverse topological order (the tape) and applies the chain rule, one rule
per op from the table in ``autograd.ops``.
"""

from .engine import backward, enable_grad, gradients, is_grad_enabled, no_grad, topological_order
from .functional import gradcheck, numerical_grad
from .ops import OPS, cos, exp, leaky_relu, log, relu, sigmoid, sin, softplus, sqrt, tanh
from .value import Value, constant, linear

__version__ = "0.1.0"

__all__ = [
    "OPS",
    "Value",
    "backward",
    "constant",
    "cos",
    "enable_grad",
    "exp",
    "gradcheck",
    "gradients",
    "is_grad_enabled",
    "leaky_relu",
    "linear",
    "log",
    "no_grad",
    "numerical_grad",
    "relu",
    "sigmoid",
    "sin",
    "softplus",
    "sqrt",
    "tanh",
    "topological_order",
]
