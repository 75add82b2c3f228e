"""The `autograd` name clash with HIPS autograd is never silent.

Each test builds the folder pip would leave (a HIPS-like ``autograd`` with its
``dist-info`` RECORD, a mixed folder, a namespace left by an uninstall) and runs
Python on it with ``-S`` (no site-packages, so only that folder is seen).  The
real thing, with HIPS autograd from PyPI and the built wheel in both install
orders, is checked by ``.ci/wheel_check.sh``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import autograd
from autograd import _clash

# The packages under test: the checkout's, or the installed wheel's (.ci/wheel_check.sh).
HERE = Path(autograd.__file__).resolve().parents[1]
HIPS_INIT = "from .core import make_vjp\nfrom .differential_operators import grad, jacobian\n"
RECIPE = "pip uninstall -y autograd tapegrad && pip install tapegrad"


def _dist_info(site: Path, name: str, version: str, files: list[str]) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def _hips(site: Path) -> Path:
    """A HIPS-autograd-like package in ``site``, owned by the distribution autograd 1.9.1."""
    pkg = site / "autograd"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(HIPS_INIT)
    (pkg / "core.py").write_text("def make_vjp(f, x):\n    return f\n")
    operators = "def grad(f):\n    return f\n\n\njacobian = grad\n"
    (pkg / "differential_operators.py").write_text(operators)
    (pkg / "numpy").mkdir()
    (pkg / "numpy" / "__init__.py").write_text("")
    files = ["autograd/__init__.py", "autograd/core.py", "autograd/differential_operators.py"]
    _dist_info(site, "autograd", "1.9.1", [*files, "autograd/numpy/__init__.py"])
    return pkg


def _tapegrad(site: Path) -> None:
    """tapegrad's two packages copied into ``site`` (as a wheel install puts them)."""
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(HERE / "autograd", site / "autograd", dirs_exist_ok=True, ignore=ignore)
    shutil.copytree(HERE / "nn", site / "nn", ignore=ignore)


def _python(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-S", *args],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rows(report: str) -> list[tuple[str, str]]:
    """The doctor's ``label  text`` lines as pairs."""
    lines = report.splitlines()[1:]
    return [tuple(re.split(r"\s{2,}", line.strip(), maxsplit=1)) for line in lines if "  " in line]


def test_our_autograd_carries_the_marker_and_no_hips_module():
    assert autograd.__tapegrad__ is True
    assert _clash.is_tapegrad_init(autograd.__file__)
    assert _clash.hips_modules_in(Path(autograd.__file__).parent) == []


def test_tapegrad_then_hips_import_nn_names_the_file_its_owner_and_the_fix(tmp_path):
    site = tmp_path / "site"
    _tapegrad(site)
    hips = _hips(site)  # installed last: its __init__.py replaced ours
    result = _python(site, "-c", "import nn", cwd=tmp_path)
    assert result.returncode == 1
    err = result.stderr
    assert "ImportError: tapegrad needs its own `autograd` package" in err
    assert f"`autograd` resolved to {hips / '__init__.py'}" in err
    assert "that file was installed by: autograd 1.9.1" in err
    assert "tapegrad's modules are in the same folder: HIPS was installed last" in err
    assert RECIPE in err and "restart the kernel" in err
    assert "cannot import name" not in err


def test_tapegrad_then_hips_the_command_explains_and_doctor_exits_1(tmp_path):
    site = tmp_path / "site"
    _tapegrad(site)
    _hips(site)
    train = _python(site, "-m", "nn", "train", "--epochs", "1", cwd=tmp_path)
    assert train.returncode == 1
    assert train.stderr.startswith("tapegrad: tapegrad needs its own `autograd` package")
    assert "Traceback" not in train.stderr and RECIPE in train.stderr
    assert not (tmp_path / "runs").exists()
    doctor = _python(site, "-m", "nn", "doctor", cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stderr
    rows = _rows(doctor.stdout)
    at = rows.index(("autograd", str(site / "autograd" / "__init__.py")))
    assert rows[at + 1] == ("owned by", "autograd 1.9.1")
    assert "PROBLEM:" in doctor.stderr and RECIPE in doctor.stderr
    version = _python(site, "-m", "nn", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("tapegrad ")


def test_hips_elsewhere_on_the_path_wins_and_nn_says_so(tmp_path):
    # An editable checkout beside a normal HIPS install: HIPS's folder comes first on sys.path.
    hips_site, ours = tmp_path / "hips", tmp_path / "ours"
    _hips(hips_site)
    _tapegrad(ours)
    result = subprocess.run(
        [sys.executable, "-S", "-c", "import nn"],
        env={"PYTHONPATH": f"{hips_site}:{ours}", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"`autograd` resolved to {hips_site / 'autograd' / '__init__.py'}" in result.stderr
    assert "same folder" not in result.stderr


def test_hips_then_tapegrad_our_autograd_warns_and_doctor_exits_1(tmp_path):
    site = tmp_path / "site"
    _hips(site)
    _tapegrad(site)  # installed last: our __init__.py replaced HIPS's
    code = "import warnings; warnings.simplefilter('always')\nimport nn\nprint(nn.MLP.__name__)"
    result = _python(site, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "MLP"  # tapegrad works ...
    err = result.stderr
    assert "NameClashWarning: HIPS autograd's modules (core.py, differential_operators.py" in err
    assert f"share tapegrad's `autograd` folder {site / 'autograd'}" in err
    assert "numpy/" in err and RECIPE in err
    # ... and its __init__.py is no longer HIPS's, though HIPS's RECORD still lists it.
    assert "was installed by: autograd 1.9.1" in err
    doctor = _python(site, "-m", "nn", "doctor", cwd=tmp_path)
    assert doctor.returncode == 1
    assert doctor.stderr.count("HIPS autograd's modules") == 1  # the report, not the warning too
    assert "PROBLEM: HIPS autograd's modules" in doctor.stderr
    args = ["--epochs", "1", "--samples", "20", "--hidden", "2", "--no-plots", "--quiet"]
    train = _python(site, "-m", "nn", "train", *args, "--out", "run", cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    assert train.stderr == (
        "tapegrad: warning: HIPS autograd's modules share tapegrad's `autograd` folder: "
        "tapegrad works, HIPS autograd does not; `tapegrad doctor` explains how to fix it\n"
    )


def test_a_namespace_left_by_an_uninstall_is_explained(tmp_path):
    site = tmp_path / "site"
    _tapegrad(site)
    (site / "autograd" / "__init__.py").unlink()  # what uninstalling HIPS autograd does
    result = _python(site, "-c", "import nn", cwd=tmp_path)
    assert result.returncode == 1
    assert "`autograd` is a namespace package with no __init__.py" in result.stderr
    assert str(site / "autograd") in result.stderr and RECIPE in result.stderr


def test_a_clean_install_has_no_warning_and_doctor_exits_0(tmp_path):
    site = tmp_path / "site"
    _tapegrad(site)
    _dist_info(site, "tapegrad", "0.1.0", ["autograd/__init__.py", "nn/__init__.py"])
    result = _python(site, "-W", "error", "-c", "import autograd, nn; nn.MLP", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doctor = _python(site, "-m", "nn", "doctor", cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stderr
    rows = _rows(doctor.stdout)
    assert ("tapegrad", "0.1.0 (installed)") in rows
    at = rows.index(("autograd", str(site / "autograd" / "__init__.py")))
    assert rows[at + 1] == ("owned by", "tapegrad 0.1.0")
    assert doctor.stdout.rstrip().endswith("OK: `autograd` and `nn` are tapegrad's")


def test_owners_reads_the_record_and_editable_installs(tmp_path):
    site = tmp_path / "site"
    _hips(site)
    assert _clash.owners(site / "autograd" / "core.py") == []  # not on sys.path here
    sys.path.insert(0, str(site))
    try:
        assert _clash.owners(site / "autograd" / "core.py") == ["autograd 1.9.1"]
        assert _clash.owners(site / "autograd" / "other.py") == []
    finally:
        sys.path.remove(str(site))


def test_the_clash_check_keeps_import_autograd_light(tmp_path):
    # The check is a few stat calls; reading distribution metadata happens only to explain a clash.
    code = (
        "import sys, autograd\n"
        "print(sorted(m for m in ('importlib.metadata', 'json', 'email', 'zipfile') "
        "if m in sys.modules))"
    )
    site = tmp_path / "site"
    _tapegrad(site)
    result = _python(site, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
