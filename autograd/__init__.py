"""tapegrad's autograd: a scalar reverse-mode automatic differentiation engine.

``Value`` records every operation into a graph; ``backward()`` walks that graph
in reverse topological order (the tape) and applies the chain rule, one rule
per op from the table in ``autograd.ops``.
"""

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

__version__ = "0.1.0"

__all__ = [
    "OPS",
    "AnomalyError",
    "GradcheckError",
    "Value",
    "backward",
    "constant",
    "cos",
    "detect_anomaly",
    "enable_grad",
    "exp",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
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
    "value_and_grad",
]
