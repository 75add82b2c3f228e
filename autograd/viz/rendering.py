"""Turning DOT text into pictures with a Graphviz executable: finding it, running it.

A system ``dot`` when it is on PATH, else ``graphviz-pure`` (installed by
``pip install "tapegrad[viz]"``), found on PATH or beside the running
interpreter, since a notebook kernel need not have its virtual environment on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..value import Value
from .dot import to_dot

INSTALL_HINT = 'pip install "tapegrad[viz]" (or a system Graphviz)'

# Where the renderer is: None looks it up; a path (or command name) uses that one.
# The environment variable TAPEGRAD_DOT does the same without touching code.
# (Set it as autograd.viz.RENDERER: the package passes it on to this module.)
RENDERER: str | None = None
RENDERER_ENV = "TAPEGRAD_DOT"

FORMATS = ("svg", "png", "pdf", "dot")
RENDER_TIMEOUT = 120  # seconds; a picture that takes longer is not worth waiting for


class RendererNotFound(RuntimeError):
    """No Graphviz executable was found to turn DOT text into a picture."""


class RenderError(RuntimeError):
    """The Graphviz executable ran but did not produce the picture."""


def _exe_name(name: str) -> str:
    return name + ".exe" if os.name == "nt" else name


def _not_found(reason: str) -> RendererNotFound:
    return RendererNotFound(f"{reason}; to draw graphs, install one: {INSTALL_HINT}")


def find_renderer() -> str:
    """Path of the Graphviz executable to use, or ``RendererNotFound`` saying what to install.

    Order: ``RENDERER`` (module setting) or ``$TAPEGRAD_DOT`` when set; else a
    system ``dot`` on PATH; else ``graphviz-pure`` on PATH; else
    ``graphviz-pure`` beside the running Python (its scripts folder).
    """
    override = RENDERER if RENDERER is not None else os.environ.get(RENDERER_ENV) or None
    if override is not None:
        found = shutil.which(override)
        if found is None:
            origin = "autograd.viz.RENDERER" if RENDERER is not None else f"${RENDERER_ENV}"
            raise _not_found(f"{origin} is {override!r}, which is not an executable")
        return found
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name)
        if found:
            return found
    exe = Path(sys.executable).parent
    folders = [exe, exe / "Scripts", Path(sysconfig.get_path("scripts"))]
    for folder in folders:
        candidate = folder / _exe_name("graphviz-pure")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise _not_found("no Graphviz renderer found (neither 'dot' nor 'graphviz-pure')")


def dot_source(obj, **options) -> str:
    """DOT text from a Value, a graphviz object, anything with ``to_dot()``, or DOT text."""
    if isinstance(obj, Value):
        return to_dot(obj, **options)
    if options:
        raise TypeError("drawing options apply to a Value only; pass them to draw_dot instead")
    if isinstance(obj, str):
        return obj
    if hasattr(obj, "to_dot"):
        return obj.to_dot()
    if isinstance(getattr(obj, "source", None), str):
        return obj.source
    raise TypeError(
        f"expected a Value, a graphviz graph or DOT text, got {type(obj).__name__} {obj!r}"
    )


def run_dot(source: str, fmt: str, *args: str) -> bytes:
    renderer = find_renderer()
    try:
        done = subprocess.run(
            [renderer, f"-T{fmt}", *args],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"{renderer} took more than {RENDER_TIMEOUT} s; draw fewer nodes (max_nodes=...)"
        ) from None
    except OSError as err:
        raise RenderError(f"could not run {renderer}: {err}") from None
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or "no output"
        raise RenderError(f"{renderer} -T{fmt} failed (exit {done.returncode}): {message}")
    return done.stdout


def to_svg(obj: Any, **options: Any) -> str:
    """SVG text of a Value's graph (``options`` as in ``draw_dot``), a graphviz graph or DOT."""
    return run_dot(dot_source(obj, **options), "svg").decode("utf-8")


def render(
    obj: Any, path: str | os.PathLike[str], format: str | None = None, **options: Any
) -> str:
    """Write a picture of ``obj`` to ``path`` and return the path.

    ``format`` is one of svg, png, pdf, dot, taken from the file extension
    when not given.  "dot" writes the source and needs no renderer.  The file
    is written to a temporary name beside ``path`` and then renamed, so a
    failed render never leaves half a file.
    """
    path = Path(path)
    fmt = format if format is not None else path.suffix.lstrip(".").lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        origin = "format" if format is not None else f"the extension of {str(path)!r}"
        raise ValueError(f"{origin} must be one of {', '.join(FORMATS)}, got {fmt!r}")
    source = dot_source(obj, **options)
    data = source.encode("utf-8") if fmt == "dot" else run_dot(source, fmt)
    write_atomic(path, data)
    return str(path)
