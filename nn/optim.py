"""Optimizers (SGD, Adam, AdamW) and learning-rate schedules, with torch.optim's formulas.

The loop is PyTorch's: ``opt.zero_grad(); loss.backward(); opt.step()``.
Each optimizer reads ``p.grad`` and changes ``p.data`` of the Values it was
given; ``opt.lr`` can be changed at any time (the schedules do so).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from autograd import Value


def _number(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return float(value)


def _at_least_zero(owner: str, name: str, value) -> float:
    value = _number(owner, name, value)
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return value


def _in_unit_interval(owner: str, name: str, value) -> float:
    value = _number(owner, name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return value


class Optimizer:
    """Base class: holds the parameters and the learning rate; subclasses define ``step``."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        name = type(self).__name__
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"{name}: parameters must be Values, got {type(p).__name__} {p!r}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears twice in the list")
        self.lr = lr

    @property
    def lr(self) -> float:
        """The learning rate used by the next ``step()`` (>= 0, settable)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _at_least_zero(type(self).__name__, "lr", value)

    def zero_grad(self) -> None:
        """Set the grad of every parameter to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its grad."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0).

    g = grad + weight_decay * p;  with momentum mu: b = mu * b + g (b = g on the
    first step), then g = g + mu * b (Nesterov) or g = b;  finally p = p - lr * g.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _in_unit_interval("SGD", "momentum", momentum)
        self.weight_decay = _at_least_zero("SGD", "weight_decay", weight_decay)
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.nesterov = nesterov
        self.buffers: list[float] | None = None  # momentum buffers, made on the first step

    def step(self) -> None:
        """p = p - lr * g with momentum and weight decay as above."""
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        first = self.buffers is None
        if mu and self.buffers is None:
            self.buffers = [0.0] * len(self.params)
        buffers = self.buffers or []
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data if wd else p.grad
            if mu:
                b = g if first else mu * buffers[i] + g
                buffers[i] = b
                g = g + mu * b if self.nesterov else b
            p.data -= lr * g


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (weight decay added to the gradient, as L2).

    t += 1;  g = grad + weight_decay * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    p = p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _in_unit_interval(name, "betas[0]", betas[0]),
            _in_unit_interval(name, "betas[1]", betas[1]),
        )
        self.eps = _at_least_zero(name, "eps", eps)
        self.weight_decay = _at_least_zero(name, "weight_decay", weight_decay)
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        """One Adam update of every parameter (see the class docstring)."""
        self.t += 1
        lr, wd, eps = self.lr, self.weight_decay, self.eps
        b1, b2 = self.betas
        step_size = lr / (1.0 - b1**self.t)
        correction2 = math.sqrt(1.0 - b2**self.t)
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            g = p.grad
            if wd:
                if self.decoupled:
                    p.data *= 1.0 - lr * wd  # AdamW: shrink the weight, not the gradient
                else:
                    g = g + wd * p.data
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step_size * (m[i] / (math.sqrt(v[i]) / correction2 + eps))


class AdamW(Adam):
    """Adam with decoupled weight decay, as torch.optim.AdamW: p = p (1 - lr wd) before the step."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# Learning-rate schedules ------------------------------------------------------------------


class LRScheduler:
    """Base class: sets ``optimizer.lr = lr_at(k)``; ``step()`` moves k on by one (per epoch)."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, k: int) -> float:
        """The learning rate after ``k`` calls of ``step()``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and update the optimizer's learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate set by the last call (as torch's ``get_last_lr``, one group)."""
        return self.optimizer.lr


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


class StepLR(LRScheduler):
    """lr_k = base_lr * gamma ** (k // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = _at_least_zero("StepLR", "gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, k: int) -> float:
        """base_lr * gamma ** (k // step_size)."""
        return self.base_lr * self.gamma ** (k // self.step_size)


class LinearLR(LRScheduler):
    """lr_k = base_lr * (start + (end - start) * min(k, total_iters) / total_iters).

    The defaults give micrograd's demo: with base_lr 1.0 and total_iters 100,
    lr_k = 1.0 - 0.9 * k / 100.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 100,
        start_factor: float = 1.0,
        end_factor: float = 0.1,
    ) -> None:
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = _at_least_zero("LinearLR", "start_factor", start_factor)
        self.end_factor = _at_least_zero("LinearLR", "end_factor", end_factor)
        super().__init__(optimizer)

    def lr_at(self, k: int) -> float:
        """base_lr * (start + (end - start) * min(k, total) / total)."""
        frac = (self.end_factor - self.start_factor) * min(k, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + frac)


class CosineLR(LRScheduler):
    """lr_k = min_lr + (base_lr - min_lr) * (1 + cos(pi * k / total_iters)) / 2, then min_lr."""

    def __init__(self, optimizer: Optimizer, total_iters: int, min_lr: float = 0.0) -> None:
        self.total_iters = _positive_int("CosineLR", "total_iters", total_iters)
        self.min_lr = _at_least_zero("CosineLR", "min_lr", min_lr)
        super().__init__(optimizer)

    def lr_at(self, k: int) -> float:
        """Half a cosine from base_lr down to min_lr over total_iters steps."""
        k = min(k, self.total_iters)
        return (
            self.min_lr
            + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * k / self.total_iters)) / 2.0
        )
