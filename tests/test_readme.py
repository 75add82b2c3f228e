"""The first example of the README (micrograd's): the numbers learners already know."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest


def test_readme_numbers_to_four_places(readme_graph):
    a, b, g = readme_graph()
    assert round(g.data, 4) == 24.7041
    assert round(a.grad, 4) == 138.8338
    assert round(b.grad, 4) == 645.5773


def test_readme_numbers_against_the_derivation_by_hand(readme_graph):
    a, b, g = readme_graph()
    x, y = -4.0, 2.0
    # Unrolled: c = 3a + 4b + 3 and d = 4(3(ab + b^3) + relu(a + b)) + relu(b - a).
    # At a = -4, b = 2: relu(a + b) = relu(-2) is flat, relu(b - a) = relu(6) has slope 1.
    c = 3 * x + 4 * y + 3
    d = 4 * 3 * (x * y + y**3) + (y - x)
    e = c - d
    f = e * e
    assert g.data == pytest.approx(f / 2 + 10 / f, rel=1e-14)
    dg_de = (0.5 - 10 / f**2) * 2 * e
    de_da = 3 - (12 * y - 1)  # dc/da - dd/da
    de_db = 4 - (12 * (x + 3 * y**2) + 1)  # dc/db - dd/db
    assert a.grad == pytest.approx(dg_de * de_da, rel=1e-14)
    assert b.grad == pytest.approx(dg_de * de_db, rel=1e-14)


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_example_block() -> str:
    """The README's Python code block that contains the example above."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    matching = [b for b in blocks if "Value(-4.0)" in b and "backward()" in b]
    assert matching, "README.md has no Python block with the Value(-4.0) example"
    return matching[0]


def test_the_readme_block_prints_what_its_comments_say():
    code = _readme_example_block()
    # Each print line ends in a comment that starts with the number it prints.
    promised = re.findall(r"^print\(.*\)\s*#\s*(-?\d+\.\d+)", code, re.M)
    assert promised == ["24.7041", "138.8338", "645.5773"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    assert out.getvalue().split() == promised


def test_every_readme_python_block_runs_and_prints_its_promised_lines(tmp_path, monkeypatch):
    """All ```python blocks, in order, in one namespace (as a reader pastes them).

    A comment line at column 0 in a block is output the block promises: each
    must appear, in order, among the lines the block prints.
    """
    monkeypatch.chdir(tmp_path)  # blocks that write pictures write them here
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), namespace)
        printed = [line.strip() for line in out.getvalue().splitlines()]
        promised = [line[1:].strip() for line in block.splitlines() if line.startswith("#")]
        promised = [p for p in promised if p and not p.endswith(":")]
        remaining = iter(printed)
        for line in promised:
            assert any(line == p for p in remaining), f"README promises {line!r}; printed {printed}"
