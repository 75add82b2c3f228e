"""Derivatives of Python functions, and checks against finite differences.

Every function here takes ``f``, a Python function of scalars that returns one
scalar, written with ``Value`` operations or the generic ``autograd.exp``,
``autograd.log``, ... (which accept floats and Values alike).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from .engine import enable_grad, gradients, no_grad
from .value import Value


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree (raised by the checks below)."""


def _argnums(argnums, n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -n <= i < n:
            raise ValueError(f"argnums: {i!r} is not a position of the {n} arguments")
    return tuple(i % n for i in nums)


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _call(f: Callable, args: Sequence) -> Value:
    out = f(*args)
    if isinstance(out, Value):
        return out
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return Value(out)  # f does not depend on its inputs: every derivative is 0
    raise TypeError(f"f must return a Value or a number, got {type(out).__name__} {out!r}")


def value_and_grad(f: Callable, argnums=0) -> Callable:
    """``g(*xs) -> (f(*xs), df/dx[argnums])`` with plain numbers (a tuple for several argnums).

    Arguments that are Values stay connected to their graphs, so the result
    of ``grad(f)`` can be differentiated again: ``grad(grad(f))`` is f''.
    """

    def value_and_grad_f(*xs):
        nums = _argnums(argnums, len(xs))
        args = [_as_value(x) for x in xs]
        out = _call(f, args)
        higher = any(isinstance(x, Value) for x in xs)
        gs = gradients(out, [args[i] for i in nums], create_graph=higher)
        if not higher:
            return out.data, (gs[0] if isinstance(argnums, int) else tuple(gs))
        return out, (gs[0] if isinstance(argnums, int) else tuple(gs))

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(f: Callable, argnums=0) -> Callable:
    """``grad(f)(*xs) = df/dx[argnums]``; ``grad(grad(f))`` gives the second derivative.

    Called with floats it returns floats; called with Values (as an outer
    ``grad`` does) it returns Values, so derivatives nest to any order.
    """
    vg = value_and_grad(f, argnums)

    def grad_f(*xs):
        return vg(*xs)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def jacobian(f: Callable) -> Callable:
    """``jacobian(f)(*xs)[i][j] = d f_i / d x_j`` for ``f`` returning a list of scalars."""

    def jacobian_f(*xs):
        args = [_as_value(x) for x in xs]
        outs = f(*args)
        if isinstance(outs, Value) or not isinstance(outs, (list, tuple)):
            outs = [outs]
        rows = []
        for out in outs:
            out = out if isinstance(out, Value) else Value(out)
            rows.append(gradients(out, args))
        return rows

    return jacobian_f


def hessian(f: Callable) -> Callable:
    """``hessian(f)(*xs)[i][j] = d^2 f / dx_i dx_j`` as a list of lists of floats."""

    def hessian_f(*xs):
        args = [_as_value(x) for x in xs]
        out = _call(f, args)
        first = gradients(out, args, create_graph=True)
        return [gradients(g, args) for g in first]

    return hessian_f


def hvp(f: Callable) -> Callable:
    """``hvp(f)(xs, v) = H(xs) @ v``: one extra backward pass, no full Hessian."""

    def hvp_f(xs, v):
        if len(xs) != len(v):
            raise ValueError(f"hvp: {len(xs)} inputs but a vector of length {len(v)}")
        args = [_as_value(x) for x in xs]
        first = gradients(_call(f, args), args, create_graph=True)
        dot = sum((g * vi for g, vi in zip(first, v)), Value(0.0))
        return gradients(dot, args)

    return hvp_f


# Checking against finite differences ------------------------------------------------


def numerical_grad(f: Callable, inputs: Sequence[float], eps: float = 1e-6) -> list[float]:
    """Central differences: df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    The error is O(eps^2) for smooth f; ``f`` is evaluated on plain Values
    under ``no_grad``, so nothing here uses the backward pass it is checking.
    """
    xs = [float(x) for x in inputs]

    def at(point):
        with no_grad():
            return _call(f, [Value(p) for p in point]).data

    result = []
    for i in range(len(xs)):
        hi = xs.copy()
        lo = xs.copy()
        hi[i] += eps
        lo[i] -= eps
        result.append((at(hi) - at(lo)) / (2 * eps))
    return result


def _compare(name, analytic, numeric, inputs, atol, rtol, raise_exception):
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if not math.isclose(a, n, rel_tol=rtol, abs_tol=atol):
            if raise_exception:
                raise GradcheckError(
                    f"{name}: input {i} (x = {inputs[i]!r}) has analytic {a!r} "
                    f"but numerical {n!r}: off by {abs(a - n):.3g} "
                    f"(atol={atol}, rtol={rtol})"
                )
            return False
    return True


def gradcheck(
    f: Callable,
    inputs: Sequence[float],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = True,
) -> bool:
    """Compare ``backward`` gradients of f with central differences at ``inputs``.

    Returns True when every input agrees; otherwise raises ``GradcheckError``
    naming the input and both numbers (or returns False).
    """
    xs = [float(x) for x in inputs]
    args = [Value(x) for x in xs]
    analytic = gradients(_call(f, args), args)
    numeric = numerical_grad(f, xs, eps)
    return _compare("gradcheck", analytic, numeric, xs, atol, rtol, raise_exception)


def gradgradcheck(
    f: Callable,
    inputs: Sequence[float],
    eps: float = 1e-5,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: the Hessian against finite differences of the gradient."""
    xs = [float(x) for x in inputs]
    analytic = hessian(f)(*xs)
    for i in range(len(xs)):

        def dfi(*args, i=i):
            with enable_grad():  # numerical_grad evaluates under no_grad
                return gradients(_call(f, args), list(args), create_graph=True)[i]

        numeric = numerical_grad(dfi, xs, eps)
        if not _compare(f"gradgradcheck d/dx{i}", analytic[i], numeric, xs, atol, rtol, raise_exception):
            return False
    return True
