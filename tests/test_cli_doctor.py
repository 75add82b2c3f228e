"""``tapegrad doctor`` and ``tapegrad --version`` in a clean checkout (clashes: test_clash.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import autograd
import nn
from autograd import viz
from nn import _doctor_cmd
from nn.cli import main


def test_version_prints_the_one_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"tapegrad {autograd.__version__}\n"


def test_version_from_the_console_entry_in_a_subprocess(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nn", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tapegrad {autograd.__version__}"


def test_doctor_reports_where_autograd_and_nn_resolve_and_exits_0(capsys):
    rows, problems = _doctor_cmd.diagnose()
    assert problems == []
    report = dict(rows)
    assert report["autograd"] == str(Path(autograd.__file__).resolve())
    assert report["nn"] == str(Path(nn.__file__).resolve())
    assert report["autograd.__version__"] == autograd.__version__
    for extra in _doctor_cmd.EXTRAS:
        assert f"extra {extra}" in report
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for label, text in rows:
        assert f"  {label}" in out and text in out
    assert out.rstrip().endswith("OK: `autograd` and `nn` are tapegrad's")


def test_doctor_names_the_renderer_or_says_what_to_install(monkeypatch):
    assert dict(_doctor_cmd.diagnose()[0])["renderer"] == viz.find_renderer()
    monkeypatch.setattr(viz, "RENDERER", "no-such-renderer-xyz")
    rows, problems = _doctor_cmd.diagnose()
    assert problems == []  # no renderer is not a clash
    renderer = dict(rows)["renderer"]
    assert renderer.startswith("none: ") and "'no-such-renderer-xyz'" in renderer


def test_doctor_flags_two_copies_of_tapegrad(capsys, monkeypatch, tmp_path):
    # nn from one folder and autograd from another: an old install shadowing a checkout.
    monkeypatch.setattr(nn, "__file__", str(tmp_path / "nn" / "__init__.py"))
    assert main(["doctor"]) == 1
    assert "come from different folders" in capsys.readouterr().err


def test_doctor_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "doctor" in out and "--version" in out
