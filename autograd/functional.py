"""Derivatives of Python functions, and checks against finite differences.

Every function here takes ``f``, a Python function of scalars that returns one
scalar, written with ``Value`` operations or the generic ``autograd.exp``,
``autograd.log``, ... (which accept floats and Values alike).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextvars import ContextVar

from .engine import enable_grad, gradients, no_grad
from .value import Value


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree (raised by the checks below)."""


# How many transforms (grad, hessian, ...) are running f right now.  Inside one,
# a nested transform must return Values so the outer one can differentiate
# through them, even when it was called with plain numbers or closes over a
# Value: grad(lambda x: grad(lambda y: x * y)(1.0))(2.0) is d/dx x = 1.
_DEPTH: ContextVar[int] = ContextVar("tapegrad_transform_depth", default=0)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_f(who: str, f) -> None:
    if not callable(f):
        raise TypeError(f"{who}: f must be a function, got {type(f).__name__} {f!r}")


def _check_argnums(who: str, argnums) -> tuple[int, ...]:
    """argnums as a tuple of ints: an int or a non-empty tuple/list of ints."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if (
        isinstance(argnums, bool)
        or not isinstance(nums, (tuple, list))
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums)
    ):
        raise TypeError(f"{who}: argnums must be an int or a tuple of ints, got {argnums!r}")
    if not nums:
        raise ValueError(f"{who}: argnums is empty, so there is nothing to differentiate")
    return tuple(nums)


def _positions(who: str, nums: tuple[int, ...], n: int) -> list[int]:
    for i in nums:
        if not -n <= i < n:
            raise ValueError(f"{who}: argnums {i} is out of range for a call with {n} argument(s)")
    return [i % n for i in nums]


def _as_value(who: str, i: int, x) -> Value:
    if isinstance(x, Value):
        return x
    if _is_number(x):
        return Value(x)
    raise TypeError(
        f"{who}: argument {i} must be a number or a Value, got {type(x).__name__} {x!r}"
    )


def _scalar(who: str, out) -> Value:
    """f's result as a Value; a number means f does not depend on its inputs."""
    if isinstance(out, Value):
        return out
    if _is_number(out):
        return Value(out)
    hint = ""
    if isinstance(out, (list, tuple)):
        hint = f" of {len(out)} items; for a function with several outputs use jacobian(f)"
    raise TypeError(
        f"{who}: f must return one scalar (a Value or a number), got {type(out).__name__}{hint}"
    )


def _call(f: Callable, args: Sequence):
    """Run f on Values, recording its graph even inside no_grad(), one transform deeper."""
    token = _DEPTH.set(_DEPTH.get() + 1)
    try:
        with enable_grad():
            return f(*args)
    finally:
        _DEPTH.reset(token)


def _nested(xs) -> bool:
    """Should results stay Values?  Yes when called with Values or inside another transform."""
    return _DEPTH.get() > 0 or any(isinstance(x, Value) for x in xs)


def _number(x) -> float:
    return x.data if isinstance(x, Value) else x


def _value_and_grad(f: Callable, argnums, who: str) -> Callable:
    _check_f(who, f)
    nums = _check_argnums(who, argnums)

    def value_and_grad_f(*xs):
        where = _positions(who, nums, len(xs))
        args = [_as_value(who, i, x) for i, x in enumerate(xs)]
        out = _scalar(who, _call(f, args))
        nested = _nested(xs)
        gs = gradients(out, [args[i] for i in where], create_graph=nested)
        value = out if nested else out.data
        return value, (gs[0] if isinstance(argnums, int) else tuple(gs))

    return value_and_grad_f


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``g(*xs) -> (f(*xs), df/dx_i)`` for i = argnums (a tuple of derivatives for a tuple).

    Called with numbers it returns numbers.  Called with Values, or from inside
    another transform, it returns Values connected to the graph, so the result
    can be differentiated again.
    """
    vg = _value_and_grad(f, argnums, "value_and_grad")
    vg.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return vg


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``grad(f)(*xs) = df/dx_i`` for i = argnums; ``grad(grad(f))`` is the second derivative.

    Called with numbers it returns numbers; called with Values (as an outer
    ``grad`` does) it returns Values, so derivatives nest to any order.
    """
    vg = _value_and_grad(f, argnums, "grad")

    def grad_f(*xs):
        return vg(*xs)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def jacobian(f: Callable) -> Callable:
    """``jacobian(f)(*xs)[i][j] = d f_i / d x_j`` for f returning a list of scalars.

    A single scalar result counts as a list of one (one row).  Numbers in,
    numbers out; Values in (or nested in another transform), Values out.
    """
    _check_f("jacobian", f)

    def jacobian_f(*xs):
        args = [_as_value("jacobian", i, x) for i, x in enumerate(xs)]
        outs = _call(f, args)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        nested = _nested(xs)
        rows = []
        for k, out in enumerate(outs):
            out = _scalar(f"jacobian (output {k})", out)
            rows.append(gradients(out, args, create_graph=nested))
        return rows

    jacobian_f.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    return jacobian_f


def hessian(f: Callable) -> Callable:
    """``hessian(f)(*xs)[i][j] = d^2 f / dx_i dx_j`` as a list of lists.

    The gradient is built as a graph (``create_graph=True``) and each of its
    entries is differentiated once more: n + 1 backward passes for n inputs.
    """
    _check_f("hessian", f)

    def hessian_f(*xs):
        args = [_as_value("hessian", i, x) for i, x in enumerate(xs)]
        out = _scalar("hessian", _call(f, args))
        nested = _nested(xs)
        first = gradients(out, args, create_graph=True)
        return [gradients(g, args, create_graph=nested) for g in first]

    hessian_f.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return hessian_f


def hvp(f: Callable) -> Callable:
    """``hvp(f)(xs, v) = H(xs) v``, as the gradient of (grad f . v): no full Hessian is built."""
    _check_f("hvp", f)

    def hvp_f(xs, v):
        xs, v = list(xs), list(v)
        if len(xs) != len(v):
            raise ValueError(f"hvp: {len(xs)} inputs but a vector of length {len(v)}")
        for i, vi in enumerate(v):
            if not isinstance(vi, Value) and not _is_number(vi):
                raise TypeError(f"hvp: v[{i}] must be a number or a Value, got {vi!r}")
        args = [_as_value("hvp", i, x) for i, x in enumerate(xs)]
        nested = _nested(xs) or any(isinstance(vi, Value) for vi in v)
        first = gradients(_scalar("hvp", _call(f, args)), args, create_graph=True)
        with enable_grad():
            dot = sum((g * vi for g, vi in zip(first, v, strict=True)), Value(0.0))
        return gradients(dot, args, create_graph=nested)

    hvp_f.__name__ = f"hvp({getattr(f, '__name__', 'f')})"
    return hvp_f


# Checking against finite differences ------------------------------------------------


def numerical_grad(f: Callable, inputs: Sequence[float], eps: float = 1e-6) -> list[float]:
    """Central differences: df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    The error is O(eps^2) for smooth f; ``f`` is evaluated on plain Values
    under ``no_grad``, so nothing here uses the backward pass it is checking.
    """
    xs = [float(x) for x in inputs]
    _check_eps("numerical_grad", eps)

    def at(point, i):
        with no_grad():
            try:
                return _scalar("numerical_grad", f(*[Value(p) for p in point])).data
            except (ArithmeticError, ValueError) as err:
                # f is defined at x but not a step of eps away: say so, not just the op's error.
                raise type(err)(
                    f"numerical_grad: the finite-difference probe x[{i}] = {point[i]!r} "
                    f"(x[{i}] = {xs[i]!r} moved by eps = {eps!r}) left the domain of f: {err}; "
                    "choose a point further from the domain's edge or a smaller eps"
                ) from None

    result = []
    for i in range(len(xs)):
        hi = xs.copy()
        lo = xs.copy()
        hi[i] += eps
        lo[i] -= eps
        result.append((at(hi, i) - at(lo, i)) / (2 * eps))
    return result


def _check_eps(name: str, eps) -> None:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise ValueError(f"{name}: eps must be a finite number > 0, got {eps!r}")


def _compare(name, analytic, numeric, inputs, atol, rtol, raise_exception):
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
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
    _check_eps("gradcheck", eps)
    args = [Value(x) for x in xs]
    analytic = gradients(_scalar("gradcheck", _call(f, args)), args)
    numeric = numerical_grad(f, xs, eps)
    return _compare("gradcheck", analytic, numeric, xs, atol, rtol, raise_exception)


def _float_gradient(f: Callable, xs: list[float]) -> list[float]:
    """First derivatives of f at the point xs, by the float backward pass."""
    args = [Value(x) for x in xs]
    return gradients(_scalar("gradgradcheck", _call(f, args)), args)


def gradgradcheck(
    f: Callable,
    inputs: Sequence[float],
    eps: float = 1e-5,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: the Hessian against finite differences of the gradient.

    Entry [i][j] = d/dx_j (df/dx_i) is compared with
    (g_i(x + eps e_j) - g_i(x - eps e_j)) / (2 eps), where g is the gradient from
    the ordinary first-order backward pass; the Hessian comes from
    ``create_graph=True``, so the two routes share nothing but the rule table.
    Returns True when all agree; otherwise raises ``GradcheckError`` naming
    the entry and both numbers (or returns False).
    """
    xs = [float(x) for x in inputs]
    _check_eps("gradgradcheck", eps)
    analytic = hessian(f)(*xs)
    for j in range(len(xs)):
        hi, lo = xs.copy(), xs.copy()
        hi[j] += eps
        lo[j] -= eps
        column = [
            (a - b) / (2 * eps)
            for a, b in zip(_float_gradient(f, hi), _float_gradient(f, lo), strict=True)
        ]
        for i, numeric in enumerate(column):
            a = _number(analytic[i][j])
            if math.isclose(a, numeric, rel_tol=rtol, abs_tol=atol):
                continue
            if not raise_exception:
                return False
            raise GradcheckError(
                f"gradgradcheck: Hessian entry [{i}][{j}] = d2f/dx{i} dx{j} at x = {xs!r} "
                f"is {a!r} analytically but {numeric!r} by finite differences of the "
                f"gradient: off by {abs(a - numeric):.3g} (atol={atol}, rtol={rtol})"
            )
    return True
