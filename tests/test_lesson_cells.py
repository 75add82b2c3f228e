"""What the lessons promise beyond running: hidden solutions and a checker that finds the wrong
node (lesson 2), and a PyTorch lesson that runs cleanly without PyTorch (lesson 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BUILD = NOTEBOOKS / "02_build_it_yourself.ipynb"
PYTORCH = NOTEBOOKS / "12_on_to_pytorch.ipynb"


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_build_it_yourself_hides_its_solutions_and_checks_every_exercise():
    cells = code_cells(BUILD)
    solutions = [i for i, c in enumerate(cells) if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) == 3
    for i in solutions:
        meta = cells[i]["metadata"]
        assert meta["jupyter"]["source_hidden"] is True and meta["collapsed"] is True
        # The learner's cell just before is all comments, and the cell after runs the checker.
        stub = [line for line in source(cells[i - 1]).splitlines() if line.strip()]
        assert stub and all(line.startswith("#") for line in stub)
        assert source(cells[i + 1]).startswith("assert check(")
    others = [source(c).lower() for j, c in enumerate(cells) if j not in solutions]
    assert not any("solution" in text for text in others)  # no solution left in plain sight


@pytest.fixture(scope="module")
def build_namespace():
    """Lesson 2's code cells up to its checker, run as the lesson runs them."""
    namespace: dict = {}
    for cell in code_cells(BUILD):
        code = source(cell)
        if "plt." in code or "RecursionError" in code:
            continue  # pictures and the deep-recursion demonstration are not needed here
        exec(compile(code, str(BUILD), "exec"), namespace)
        if code.startswith("FORWARD = {"):
            break
    return namespace


def test_the_checker_names_the_node_whose_backward_is_wrong(build_namespace, capsys):
    ns = build_namespace
    Scalar, math = ns["Scalar"], ns["math"]

    def bad_exp(self):  # passes back e^x * 2: wrong by a factor of 2
        out = Scalar(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += 2 * out.data * out.grad

        out._backward = _backward
        return out

    good_exp = Scalar.exp
    assert ns["check"](lambda a, b: (a * b).exp() + b, [0.5, -1.0]) is True
    capsys.readouterr()
    Scalar.exp = bad_exp
    try:
        assert ns["check"](lambda a, b: (a * b).exp() + b, [0.5, -1.0]) is False
    finally:
        Scalar.exp = good_exp
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("node 'exp' with inputs [-0.5]")
    assert "should be 0.606531" in lines[0] and "passes back 1.213061" in lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == ["input 0", "input 1"]


_WITHOUT_TORCH = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
sys.modules["torch"] = None  # as if PyTorch were not installed
namespace = {}
for cell in json.load(open(sys.argv[1]))["cells"]:
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), "lesson", "exec"), namespace)
"""


@pytest.mark.slow
def test_on_to_pytorch_runs_without_torch_and_says_how_to_install_it():
    cells = code_cells(PYTORCH)
    torch_cells = [c for c in cells if "if HAVE_TORCH:" in source(c)]
    assert len(torch_cells) >= 5
    # Each torch block either has the hint in its else branch or only prepares a later block.
    hinted = [c for c in torch_cells if "else:\n    print(INSTALL)" in source(c)]
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, str(PYTORCH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    hint = (
        "PyTorch is not installed: this part is skipped. "
        "Install it with pip install 'tapegrad[torch]'"
    )
    # The import cell and every torch block print the hint; tapegrad's half still runs.
    assert result.stdout.count(hint) == 1 + len(hinted) >= 5
    assert "tapegrad: L = -8.0  grads [8.0, -12.0, -4.0, 2.0]" in result.stdout
    assert "816 scalar nodes" in result.stdout
