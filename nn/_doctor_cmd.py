"""``tapegrad doctor``: where ``autograd`` and ``nn`` come from, and what is installed.

It reports the tapegrad version, the files ``autograd`` and ``nn`` resolve to
and the distributions that own them, the Graphviz renderer found, and the
optional extras present.  Exit status 1 when ``autograd`` is not tapegrad's or
HIPS autograd shares the environment (the name clash ``autograd._clash``
explains), else 0.  It runs without importing HIPS autograd or any extra.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

import nn

# Distribution names of the optional extras, and what each one is for.
EXTRAS = {
    "graphviz": "graphviz objects in notebooks (viz extra)",
    "graphviz-pure": "a Graphviz renderer without a system install (viz extra)",
    "tqdm": "progress bars in fit",
    "numpy": "numpy arrays as data",
    "matplotlib": "loss and decision-boundary plots",
    "torch": "the PyTorch comparisons and lesson",
    "playwright": "the browser tests",
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``doctor`` subcommand."""
    return subparsers.add_parser(
        "doctor",
        help="check the installation: where autograd and nn come from, the renderer, extras",
        description="Report the tapegrad version, the files `autograd` and `nn` resolve to "
        "and the distributions that own them (HIPS autograd uses the name `autograd` too), "
        "the Graphviz renderer and the optional extras. Exit status 1 on a name clash.",
    )


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _renderer() -> str:
    from autograd.viz import RendererNotFound, find_renderer

    try:
        return find_renderer()
    except RendererNotFound as err:
        return f"none: {err}"


def diagnose() -> tuple[list[tuple[str, str]], list[str]]:
    """(rows of the report as (label, text), problems found)."""
    clash = nn._clash_module()
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    rows.append(("python", f"{platform.python_version()} {sys.executable}"))
    installed = _version("tapegrad")
    rows.append(("tapegrad", f"{installed} (installed)" if installed else "not installed"))

    nn_file = str(Path(nn.__file__).resolve())
    rows.append(("nn", nn_file))
    if clash is not None:
        rows.append(("  owned by", ", ".join(clash.owners(nn_file)) or "no distribution"))
        found = clash.where("autograd")
        file = found["file"]
        rows.append(("autograd", str(file or found["folders"] or "not found")))
        if file:
            rows.append(("  owned by", ", ".join(clash.owners(str(file))) or "no distribution"))
    if nn._CLASH is not None:
        problems.append(nn._CLASH)
    else:
        import autograd

        folder = os.path.dirname(str(autograd.__file__))
        ours = Path(nn_file).parent.parent / "autograd"
        if Path(folder).resolve() != ours.resolve():
            problems.append(
                f"`autograd` ({folder}) and `nn` ({Path(nn_file).parent}) come from different "
                "folders: two copies of tapegrad are on sys.path"
            )
        shared = clash.hips_modules_in(folder) if clash is not None else []
        if clash is not None and shared:
            problems.append(clash.shared_folder_message(folder, shared))
        rows.append(("autograd.__version__", autograd.__version__))
        rows.append(("renderer", _renderer()))
    hips = _version("autograd")
    if hips is not None and not problems and clash is not None:
        problems.append(f"HIPS autograd {hips} is installed in this environment too.\n{clash.FIX}")
    for dist, purpose in EXTRAS.items():
        version = _version(dist)
        rows.append((f"extra {dist}", f"{version or 'not installed'}  ({purpose})"))
    return rows, problems


def run(args) -> int:
    """Print the report; 1 when there is a name clash, else 0."""
    rows, problems = diagnose()
    width = max(len(label) for label, _ in rows)
    print("tapegrad doctor")
    for label, text in rows:
        print(f"  {label:<{width}}  {text}")
    if not problems:
        print("OK: `autograd` and `nn` are tapegrad's")
        return 0
    for problem in problems:
        print(f"\nPROBLEM: {problem}", file=sys.stderr)
    return 1
