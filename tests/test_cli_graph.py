"""``tapegrad graph``: good expressions print their gradients and draw; hostile ones exit 2."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from autograd import graph_cmd as _graph_cmd
from autograd import viz


def run(*argv: str) -> int:
    """Parse like the ``tapegrad`` dispatcher does and run the graph command."""
    parser = argparse.ArgumentParser(prog="tapegrad")
    _graph_cmd.add_parser(parser.add_subparsers(dest="command"))
    return _graph_cmd.run(parser.parse_args(["graph", *argv]))


def neuron_numbers():
    """tanh(x*w + b) at x=2, w=-3, b=6.88 and its gradients, by hand."""
    t = math.tanh(2 * -3 + 6.88)
    dt = 1 - t * t
    return t, {"x": -3 * dt, "w": 2 * dt, "b": dt}


def test_prints_value_and_gradients(capsys):
    assert run("tanh(x*w + b)", "x=2", "w=-3", "b=6.88") == 0
    t, grads = neuron_numbers()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"tanh(x*w + b) = {t:.4f}"
    assert lines[1:4] == [f"  d/d{k} = {v:.4f}" for k, v in grads.items()]


@pytest.mark.renderer
def test_writes_an_svg_with_data_and_grad(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    code = run("tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "-o", str(out), "--edge-labels")
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {out}"
    svg = ET.fromstring(out.read_text(encoding="utf-8"))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    t, grads = neuron_numbers()
    for expected in ["out", f"data {t:.4f}", "grad 1.0000", f"grad {grads['x']:.4f}", "tanh"]:
        assert expected in texts
    assert any(s and s.startswith("local ") for s in texts)


@pytest.mark.renderer
def test_writes_png_and_top_to_bottom(tmp_path):
    out = tmp_path / "graph.png"
    assert run("x*x", "x=3", "-o", str(out), "--rankdir", "TB", "--precision", "2") == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_writes_dot_without_a_renderer(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(viz.RENDERER_ENV, str(tmp_path / "nothing"))
    out = tmp_path / "graph.dot"
    assert run("x*x", "x=3", "-o", str(out), "--precision", "1") == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph {")
    assert ">out</td>" in text and ">data 9.0</td>" in text and ">grad 1.0</td>" in text
    assert "d/dx = 6.0" in capsys.readouterr().out


def test_missing_renderer_exits_1_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(viz.RENDERER_ENV, str(tmp_path / "nothing"))
    assert run("x*x", "x=3", "-o", str(tmp_path / "g.svg")) == 1
    assert viz.INSTALL_HINT in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()


HOSTILE = [
    "__import__('os').system('touch {canary}')",
    "open('{canary}', 'w')",
    "exec(\"open('{canary}', 'w')\")",
    "(lambda: open('{canary}', 'w'))()",
    "[open('{canary}', 'w') for _ in (1,)]",
    "x.__class__.__bases__[0].__subclasses__()",
    "x ** 10 ** 10",
    "9 ** 9 ** 9",
    "getattr(x, 'real')",
    "tanh(x, slope=1)",
    "x + y",
    "x; open('{canary}', 'w')",
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_expressions_exit_2_and_run_nothing(expression, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "canary"
    out = tmp_path / "g.svg"
    code = run(expression.format(canary=canary), "x=2", "-o", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tapegrad graph: error: ")
    assert not canary.exists() and not out.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "x=abc"], "the value of x must be a number, got 'abc'"),
        (["x", "x=nan"], "the value of x must be finite"),
        (["x", "x"], "'x' is not NAME=VALUE"),
        (["x", "x=1", "x=2"], "x is given twice"),
        (["x", "x=1", "y=2"], "y given but not used"),
        (["tanh", "tanh=1"], "'tanh' cannot be a name"),
        (["__x", "__x=1"], "'__x' cannot be a name"),
        (
            ["x", "x=1", "-o", "g.pdf"],
            "-o must name a file ending in .svg, .png, .dot, got 'g.pdf'",
        ),
        (["x", "x=1", "--precision", "-1"], "precision must be an int from 0 to 15"),
        (["log(x)", "x=0"], "log: input must be > 0"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(*argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert os.listdir(tmp_path) == []


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as err:
        run("x", "x=1", "--rankdir", "RL")
    assert err.value.code == 2
    assert "invalid choice: 'RL'" in capsys.readouterr().err


def test_the_tapegrad_command_dispatches_to_graph(capsys):
    from nn import cli

    t, _ = neuron_numbers()
    assert cli.main(["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88"]) == 0
    assert capsys.readouterr().out.startswith(f"tanh(x*w + b) = {t:.4f}\n")
    assert cli.main(["graph", "x.y", "x=1"]) == 2


def test_tapegrad_graph_loads_no_training_code():
    code = (
        "import sys; from nn import cli; "
        "status = cli.main(['graph', 'x*y', 'x=2', 'y=3']); "
        "print(status, sorted(m for m in sys.modules if m.startswith('nn')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 ['nn', 'nn.cli']"


@pytest.mark.parametrize(
    ("expression", "bindings", "message"),
    [
        ("sqrt(x)", ["x=0"], "backward of sqrt(0.0)"),
        ("x**0.5", ["x=0"], "backward of pow(0.0, 0.5)"),
        ("sqrt(x*x+y*y)", ["x=0", "y=0"], "backward of sqrt(0.0)"),
        ("x/y", ["x=1", "y=0"], "division by zero"),
        ("log(x)", ["x=-1"], "log: input must be > 0"),
    ],
)
def test_a_derivative_or_value_outside_its_domain_is_a_message_not_a_traceback(
    capsys, tmp_path, expression, bindings, message
):
    out = tmp_path / "g.svg"
    assert run(expression, *bindings, "-o", str(out)) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert not out.exists()


@pytest.mark.parametrize("name", [".svg", "sub/.png", "g.txt", "g"])
def test_an_output_name_without_a_picture_extension_exits_2(capsys, tmp_path, name):
    (tmp_path / "sub").mkdir()
    assert run("x*y", "x=1", "y=2", "-o", str(tmp_path / name)) == 2
    assert "-o must name a file ending in" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["sub"] and os.listdir(tmp_path / "sub") == []


def test_an_output_folder_exits_1(capsys, tmp_path):
    (tmp_path / "g.svg").mkdir()
    assert run("x*y", "x=1", "y=2", "-o", str(tmp_path / "g.svg")) == 1
    assert "is a folder" in capsys.readouterr().err
