"""The two errors of compiled tapes, in a module every part of ``autograd.compile`` imports."""

from __future__ import annotations


class TapeMismatch(ValueError):
    """A replay would leave the recorded path: a guard failed or an input has another shape."""


class TraceError(RuntimeError):
    """``trace`` cannot record the function as a tape that stays valid for new inputs."""
