"""Module: the base class of every layer, with PyTorch's vocabulary.

A module finds its parameters and sub-modules by looking at its attributes:
a ``Value`` is a parameter, a ``Module`` is a child, and a list or tuple of
them is numbered (``w.0``, ``w.1``, ``neurons.3`` ...).  So ``named_parameters``
yields dotted names such as ``layers.0.neurons.3.w.1``, in the order the
attributes were assigned, and each parameter's ``label`` is set to that name
so pictures of the graph show which weight is which.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from autograd import Value


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` could not match: names missing from the dict, and extra ones."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictError(ValueError):
    """A state dict that does not fit the module (missing or unexpected keys, bad values)."""


def _is_number(x) -> bool:
    """A real number as ``Value`` takes it (int, float, numpy scalar, Fraction), never a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class Module:
    """Base class: ``forward``/``__call__``, parameters, train/eval and state dicts."""

    training: bool = True

    # Finding parameters and children ------------------------------------------------

    def _members(self) -> Iterator[tuple[str, Value | Module]]:
        """(name, Value or Module) for each public attribute, lists numbered, in order."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (Value, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Value, Module)):
                        yield f"{name}.{i}", item

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their names (``layers.0``, ``neurons.3``, ...)."""
        for name, member in self._members():
            if isinstance(member, Module):
                yield name, member

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every module below it, depth first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every module below it."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """(dotted name, parameter) pairs, each parameter once, in assignment order."""
        seen: set[int] = set()
        for name, p in self._named(prefix):
            if id(p) not in seen:  # a parameter shared by two modules is listed once
                seen.add(id(p))
                yield name, p

    def _named(self, prefix: str = "") -> list[tuple[str, Value]]:
        """Every (dotted name, parameter), shared ones under each of their names."""
        pairs: list[tuple[str, Value]] = []
        _collect_named(self, f"{prefix}." if prefix else "", pairs)
        return pairs

    def graph_groups(self, root: Value) -> dict:
        """{Value: neuron path}: how pictures of ``root``'s graph box this module's neurons."""
        from .graphgroups import graph_groups

        return graph_groups(self, root)

    def parameters(self) -> list[Value]:
        """Every parameter as a list (micrograd's order: layer, neuron, weights then bias).

        The order and the once-each rule of ``named_parameters``, without building
        the names: training loops (and compiled losses, which check that the model
        still has the parameters they recorded) call this at every step, so the
        walk is kept tight.
        """
        params: list[Value] = []
        _collect(self, params)
        if len({id(p) for p in params}) != len(params):
            # A parameter shared by two modules: keep its first place only.
            first: dict[int, Value] = {}
            for p in params:
                first.setdefault(id(p), p)
            params = list(first.values())
        return params

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return sum(1 for _ in self.named_parameters())

    def label_parameters(self) -> None:
        """Set each parameter's ``label`` to its dotted name (done on every assignment)."""
        # Last to first, so a shared parameter ends with its first name, as listed.
        for name, p in reversed(self._named()):
            p.label = name

    def __setattr__(self, name: str, value) -> None:
        object.__setattr__(self, name, value)
        # Assigning a parameter or a child renames the parameters below this
        # module.  Children are built before their parent, so the outermost
        # module assigns last and its names are the ones that stick.
        if not name.startswith("_") and (
            isinstance(value, (Value, Module))
            or (
                isinstance(value, (list, tuple))
                and any(isinstance(v, (Value, Module)) for v in value)
            )
        ):
            self.label_parameters()

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: a typo must fail loudly, never give None.
        known = [n for n in dir(self) if not n.startswith("_")]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{hint}")

    # Running ------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0 before the next backward pass."""
        for p in self.parameters():
            p.grad = 0.0

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and all below it; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # State dicts ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """{dotted name: float} for every parameter, in ``named_parameters`` order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(
        self, state_dict: Mapping[str, float], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy numbers from ``state_dict`` into the parameters of the same names.

        Every value is checked first (a finite int or float) and nothing changes
        if one is bad.  With ``strict=True`` a missing or unexpected key raises
        ``StateDictError`` naming them; otherwise the matching keys are loaded
        and the mismatches are returned, as in PyTorch.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                f"load_state_dict: expected a dict of name -> number, "
                f"got {type(state_dict).__name__}"
            )
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state_dict]
        unexpected = [key for key in state_dict if key not in params]
        if strict and (missing or unexpected):
            raise StateDictError(
                f"load_state_dict for {type(self).__name__}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing keys {_few(missing)}" if missing else "",
                        f"unexpected keys {_few(unexpected)}" if unexpected else "",
                    )
                    if part
                )
            )
        updates = []
        isfinite = math.isfinite
        for name, p in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if type(value) is float and isfinite(value):  # the common case, checked fast
                updates.append((p, value))
                continue
            if not _is_number(value):
                raise TypeError(
                    f"load_state_dict: {name!r} must be a real number, "
                    f"got {type(value).__name__} {value!r}"
                )
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int too large for a float (10**400)
                finite = False
            if not finite:
                raise StateDictError(
                    f"load_state_dict: {name!r} is not a finite float: {_short(value)}"
                )
            updates.append((p, float(value)))
        for p, value in updates:
            p.data = value
        return IncompatibleKeys(missing, unexpected)

    # Display --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (subclasses fill it)."""
        return ""

    def __repr__(self) -> str:
        # torch's layout: extra_repr and children each on an indented line.
        extra = self.extra_repr()
        children = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self.named_children()
        ]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + children
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _collect(module: Module, params: list) -> None:
    """Append the parameters below ``module`` in assignment order (as ``_members``)."""
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, Value):
            params.append(value)
        elif isinstance(value, Module):
            _collect(value, params)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Value):
                    params.append(item)
                elif isinstance(item, Module):
                    _collect(item, params)


def _collect_named(module: Module, prefix: str, pairs: list) -> None:
    """Append (dotted name, parameter) below ``module``, as ``_members`` numbers them."""
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, Value):
            pairs.append((prefix + name, value))
        elif isinstance(value, Module):
            _collect_named(value, f"{prefix}{name}.", pairs)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, Value):
                    pairs.append((f"{prefix}{name}.{i}", item))
                elif isinstance(item, Module):
                    _collect_named(item, f"{prefix}{name}.{i}.", pairs)


def _short(value) -> str:
    """repr of a number, or its size for an int too long to print (str() refuses 4300+ digits)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def _few(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"[{shown}{more}]"
