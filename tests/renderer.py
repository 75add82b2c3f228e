"""Whether pictures can be rendered here, shared by the rendering tests."""

import importlib.metadata
import shutil

import pytest


def viz_extra_installed() -> bool:
    """True when the ``viz`` extra's renderer (graphviz-pure) is installed."""
    try:
        importlib.metadata.distribution("graphviz-pure")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# Without the viz extra nor a system Graphviz there is nothing to render with; with the
# extra installed the rendering tests run, and a lookup that fails makes them fail, not skip.
HAS_RENDERER = viz_extra_installed() or shutil.which("dot") is not None
needs_renderer = pytest.mark.skipif(not HAS_RENDERER, reason="no viz extra, no system Graphviz")
