"""What the tests share: markers applied by rule, and fixtures for the README graph and rendering.

Markers (registered in pyproject.toml): ``notebooks`` (every lesson, applied
here), ``browser`` (headless Chromium), ``torch`` (PyTorch comparisons),
``slow``, and ``renderer`` (needs a Graphviz renderer: skipped, with the
reason, where there is none).  ``python -m pytest -m "not notebooks"`` is the
quick loop.
"""

from __future__ import annotations

import importlib.metadata
import shutil

import pytest

from autograd import Value


def _viz_extra_installed() -> bool:
    try:
        importlib.metadata.distribution("graphviz-pure")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# Without the viz extra nor a system Graphviz there is nothing to render with; with the
# extra installed the rendering tests run, and a lookup that fails makes them fail, not skip.
VIZ_EXTRA = _viz_extra_installed()
HAS_RENDERER = VIZ_EXTRA or shutil.which("dot") is not None


@pytest.hookimpl(tryfirst=True)  # before -m reads the markers
def pytest_collection_modifyitems(config, items):
    no_renderer = pytest.mark.skip(
        reason="no viz extra, no system Graphviz: nothing to render with"
    )
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)
        if item.get_closest_marker("renderer") is not None and not HAS_RENDERER:
            item.add_marker(no_renderer)


def build_readme_graph(backward: bool = True):
    """The README's expression (micrograd's) with a, b and g labelled; returns (a, b, g).

    Its known numbers: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
    """
    a = Value(-4.0, label="a")
    b = Value(2.0, label="b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.label = "g"
    if backward:
        g.backward()
    return a, b, g


@pytest.fixture
def readme_graph():
    """``readme_graph(backward=True) -> (a, b, g)``: builds the README's expression."""
    return build_readme_graph


@pytest.fixture
def viz_extra() -> bool:
    """True when the ``viz`` extra's renderer (graphviz-pure) is installed."""
    return VIZ_EXTRA


@pytest.fixture
def has_renderer() -> bool:
    """True when some renderer (the viz extra or a system Graphviz) can draw."""
    return HAS_RENDERER
