"""``import autograd`` is this project (HIPS autograd shares the name); its core needs no extras."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest

import autograd

REPO = Path(__file__).resolve().parents[1]
HERE = Path(autograd.__file__).resolve().parents[1]  # the folder holding the packages under test

AUTOGRAD_CORE = ["autograd", "autograd.value", "autograd.ops", "autograd.engine"]
AUTOGRAD_CORE += ["autograd.functional", "autograd.anomaly"]
AUTOGRAD_CORE += ["autograd.compile", "autograd.compile.errors", "autograd.compile.symbols"]
AUTOGRAD_CORE += [
    "autograd.compile.render",
    "autograd.compile.templates",
    "autograd.compile.record",
]
AUTOGRAD_CORE += ["autograd.compile.codegen", "autograd.compile.tape"]
# Plots (matplotlib) are optional by design, so nn.plot is not in the core.
NN_CORE = ["nn", "nn.module", "nn.layers", "nn.functional", "nn.optim", "nn.data", "nn.io"]
NN_CORE += ["nn.history", "nn.callbacks", "nn.objective", "nn.train", "nn.compiled", "nn.cli"]
NN_CORE += ["nn._doctor_cmd"]
AUTOGRAD_CORE += ["autograd._clash"]
THIRD_PARTY = ["graphviz", "tqdm", "numpy", "matplotlib", "torch", "micrograd", "IPython"]


def test_autograd_is_the_package_under_test():
    """The checkout's, or (TAPEGRAD_TEST_INSTALLED=1, set by .ci/wheel_check.sh) the wheel's."""
    import nn

    folder = Path(autograd.__file__).resolve().parent
    if os.environ.get("TAPEGRAD_TEST_INSTALLED") == "1":
        site = Path(sysconfig.get_path("purelib")).resolve()
        assert folder == site / "autograd", f"tests import {folder}, not the installed wheel"
        assert not folder.is_relative_to(REPO)
    else:
        assert folder == REPO / "autograd"
    assert Path(nn.__file__).resolve().parent == folder.parent / "nn"
    assert autograd.__tapegrad__ is True
    assert hasattr(autograd, "Value") and hasattr(autograd, "topological_order")


def test_autograd_is_installed_from_the_tapegrad_distribution():
    providers = importlib.metadata.packages_distributions().get("autograd", [])
    assert set(providers) == {"tapegrad"}, f"'autograd' is provided by {providers}"
    assert importlib.metadata.version("tapegrad") == autograd.__version__


_CHECK = r"""
import importlib, importlib.abc, json, sys

sys.path.insert(0, sys.argv[1])  # the folder of the autograd under test, before any other
blocked = set(sys.argv[2].split(","))


class NoThirdParty(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"{name} is not installed (blocked by the test)")
        return None


sys.meta_path.insert(0, NoThirdParty())
before = set(sys.modules)
for module in sys.argv[3:]:
    importlib.import_module(module)
ours = {"autograd", "nn"}
new = {m.partition(".")[0] for m in set(sys.modules) - before}
print(json.dumps(sorted(m for m in new if m not in ours and m not in sys.stdlib_module_names)))
"""


def test_the_core_imports_with_no_third_party_package():
    modules = AUTOGRAD_CORE + NN_CORE  # each must exist: a renamed module fails the import
    result = subprocess.run(
        [sys.executable, "-I", "-c", _CHECK, str(HERE), ",".join(THIRD_PARTY), *modules],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], f"non-standard modules imported: {result.stdout}"


def test_graphviz_options_reach_graphviz_without_a_deprecation_warning(tmp_path):
    graphviz = pytest.importorskip("graphviz")
    from autograd import Value, draw_dot

    dot = draw_dot(Value(1.0, label="x") * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a (Pending)DeprecationWarning would be raised here
        # Another engine goes to graphviz's own render(), which needs a system Graphviz.
        with contextlib.suppress(graphviz.ExecutableNotFound):
            dot.render(tmp_path / "g", format="svg", engine="neato")


RAW = "https://raw.githubusercontent.com/tapegrad/tapegrad/main/"
BLOB = "https://github.com/tapegrad/tapegrad/blob/main/"


def test_readme_links_and_images_are_absolute_and_point_at_files_that_exist():
    """The package index shows README.md on its own: relative links would be broken there."""
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    assert targets, "README.md has no links at all?"
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#", "mailto:"))]
    assert relative == [], f"relative links or images in README.md: {relative}"
    for target in targets:
        for prefix in (RAW, BLOB):
            if target.startswith(prefix):
                path = target.removeprefix(prefix).split("#")[0]
                assert (REPO / path).exists(), f"README.md links to {path}, not in the repository"
    assert any(t.startswith(RAW) for t in targets)  # the graph picture


def _missing_annotations(qualname: str, fn) -> list[str]:
    import inspect

    sig = inspect.signature(fn)
    bare = [
        f"{qualname}({p.name})"
        for p in sig.parameters.values()
        if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")
    ]
    if sig.return_annotation is inspect.Signature.empty and fn.__name__ != "__init__":
        bare.append(f"{qualname} -> ?")
    return bare


def test_the_public_api_is_fully_annotated():
    """Every function and public method named in __all__ (py.typed promises it; mypy checks)."""
    import inspect

    import nn

    missing = []
    for module in (autograd, nn):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                missing += _missing_annotations(name, obj)
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") and attr not in ("__init__", "__call__"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        missing += _missing_annotations(f"{name}.{attr}", member)
    assert missing == []
