"""Grad mode and the watchers: the state every op and every backward pass consults.

A leaf module (it imports nothing of tapegrad), so ``value``, ``engine``,
``anomaly`` and ``compile`` can all read it without importing each other.
Context variables make each thread and each async task see its own mode.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# (grad enabled, creation watcher or None).  One ContextVar so each op pays a
# single lookup.
MODE: ContextVar[tuple] = ContextVar("tapegrad_mode", default=(True, None))

# Called as watcher(value, symbol, other, result) by every comparison of a Value
# (v < x, v >= w, ...): a compiled tape records them as guards (autograd.compile).
COMPARISON_WATCHER: ContextVar = ContextVar("tapegrad_comparison_watcher", default=None)

# node -> where it was created (anomaly mode fills it); entries vanish with their nodes.
_SITES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``: ops then record no parents."""
    return MODE.get()[0]


def creation_watcher():
    """The callable that sees every new node (anomaly mode), or None."""
    return MODE.get()[1]


@contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block, ops compute values but record no graph (for evaluation)."""
    token = MODE.set((False, MODE.get()[1]))
    try:
        yield
    finally:
        MODE.reset(token)


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record graphs again inside a ``no_grad()`` block."""
    token = MODE.set((True, MODE.get()[1]))
    try:
        yield
    finally:
        MODE.reset(token)


@contextmanager
def watch_creation(watcher):
    """Call ``watcher(out, op, operands)`` for every node created inside the block.

    A watcher may also have a ``check_backward(order)`` method, which
    ``backward`` then calls once after its pass (anomaly mode uses both).
    """
    token = MODE.set((MODE.get()[0], watcher))
    try:
        yield
    finally:
        MODE.reset(token)


@contextmanager
def watch_comparisons(watcher):
    """Call ``watcher(value, symbol, other, result)`` for each comparison of a Value."""
    token = COMPARISON_WATCHER.set(watcher)
    try:
        yield
    finally:
        COMPARISON_WATCHER.reset(token)


def record_site(node, site) -> None:
    """Remember where ``node`` was created (called by anomaly mode's watcher)."""
    _SITES[node] = site


def creation_site(node):
    """Where anomaly mode saw ``node`` being created (``anomaly.Site``), or None."""
    return _SITES.get(node)
