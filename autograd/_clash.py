"""Is ``autograd`` tapegrad's?  HIPS autograd (on PyPI as ``autograd``) uses the same name.

Both distributions install a package folder named ``autograd``; pip does not
notice two distributions writing the same file, so the one installed last owns
``autograd/__init__.py`` and the folder holds a mix of both:

- HIPS first, then tapegrad: ``autograd`` is ours and HIPS's code is broken
  (``from autograd import jacobian`` silently gets tapegrad's scalar jacobian).
- tapegrad first, then HIPS: ``autograd`` is HIPS's and nn cannot import ``Value``.
- uninstalling either deletes the shared ``__init__.py``: what is left is a
  namespace package ("unknown location").

This module turns each of these into a message that says which file
``autograd`` resolved to, which distribution owns that file (from its
``RECORD``), and how to fix it.  It uses the standard library only and no
relative imports: ``nn`` and ``tapegrad doctor`` load it by file path when
``autograd`` is not ours, so it must work without its package.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pathlib and importlib.metadata cost ~20 ms: loaded only to explain a clash
    import importlib.metadata
    from pathlib import Path

# Files and folders that HIPS autograd installs and tapegrad's autograd never has.
HIPS_MODULES = ("core.py", "differential_operators.py", "tracer.py", "numpy", "scipy")

FIX = """\
How to fix it: tapegrad and HIPS autograd cannot share one Python environment \
(both install a package named `autograd`).
  Keep tapegrad:       pip uninstall -y autograd tapegrad && pip install tapegrad
  Keep HIPS autograd:  pip uninstall -y tapegrad autograd && pip install autograd
  Need both: give each its own virtual environment (python -m venv ...).
  From a tapegrad checkout (pip install -e .): pip uninstall -y autograd, \
then pip install -e . again.
In a hosted notebook (Colab, Kaggle, ...) whose image ships HIPS autograd, run in a cell
  !pip uninstall -y autograd tapegrad && pip install tapegrad
then restart the kernel (Colab: Runtime > Restart session) so the old `autograd` is forgotten.
Check the result with: tapegrad doctor"""


class NameClashWarning(UserWarning):
    """HIPS autograd's modules share the folder of tapegrad's ``autograd``."""


def hips_modules_in(folder: str | os.PathLike[str]) -> list[str]:
    """The names from ``HIPS_MODULES`` present in ``folder`` (a few ``stat`` calls)."""
    return [name for name in HIPS_MODULES if os.path.exists(os.path.join(folder, name))]


def owners(path: str | os.PathLike[str]) -> list[str]:
    """Distributions that installed ``path``, as ``"name version"`` strings.

    A wheel install lists every file in its ``RECORD``; an editable install
    lists none, so a file under the source folder named by an editable
    distribution's ``direct_url.json`` counts as that distribution's.
    """
    import importlib.metadata
    from pathlib import Path

    target = Path(path).resolve()
    found = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or "?"
        label = f"{name} {dist.version}"
        base = Path(str(dist.locate_file(""))).resolve()
        try:
            relative = target.relative_to(base).as_posix()
        except ValueError:
            relative = None
        record = dist.read_text("RECORD") or ""
        if relative is not None and any(
            line.split(",", 1)[0] == relative for line in record.splitlines()
        ):
            found.append(label)
            continue
        source = _editable_source(dist)
        if source is not None and target.is_relative_to(source):
            found.append(f"{label} (editable, from {source})")
    return sorted(set(found))


def _editable_source(dist: importlib.metadata.Distribution) -> Path | None:
    """The source folder of an editable install (PEP 610 ``direct_url.json``), else None."""
    import json
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = info.get("url", "")
    if not info.get("dir_info", {}).get("editable") or not url.startswith("file://"):
        return None
    return Path(unquote(urlparse(url).path)).resolve()


def where(name: str = "autograd") -> dict[str, Any]:
    """Where ``import name`` would load from, without importing it.

    Keys: ``file`` (the ``__init__.py``, or None for a namespace package or
    nothing found), ``folders`` (the package's search path), ``found`` (bool).
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return {"found": False, "file": None, "folders": []}
    origin = spec.origin if spec.has_location else None
    folders = list(spec.submodule_search_locations or [])
    return {"found": True, "file": origin, "folders": folders}


def is_tapegrad_init(path: str | os.PathLike[str] | None) -> bool:
    """True when ``path`` is tapegrad's ``autograd/__init__.py`` (it imports this module)."""
    if not path or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        return "from . import _clash" in f.read()


def _owned_by(path: str | os.PathLike[str] | None) -> str:
    if not path:
        return "no file"
    found = owners(path)
    return ", ".join(found) if found else "no installed distribution (a file on sys.path)"


def shared_folder_message(folder: str | os.PathLike[str], found: list[str]) -> str:
    """The warning for HIPS autograd's modules beside ours."""
    init = os.path.join(folder, "__init__.py")
    hips = ", ".join(f"{n}/" if os.path.isdir(os.path.join(folder, n)) else n for n in found)
    return (
        f"HIPS autograd's modules ({hips}) share tapegrad's `autograd` folder {folder}.\n"
        f"  {init} was installed by: {_owned_by(init)}\n"
        "tapegrad works, but HIPS autograd does not (`from autograd import jacobian` gives "
        "tapegrad's scalar jacobian), and uninstalling either package breaks the other.\n" + FIX
    )


def not_ours_message(module: object = None, error: BaseException | None = None) -> str:
    """The ``ImportError`` text for an ``autograd`` that is not tapegrad's.

    ``module`` is the imported ``autograd`` (if the import worked), ``error``
    the exception raised by ``import autograd`` (if it failed).
    """
    info = where("autograd")
    file = getattr(module, "__file__", None) or info["file"]
    folders = list(getattr(module, "__path__", None) or info["folders"])
    if file:
        found = f"`autograd` resolved to {file}\n  that file was installed by: {_owned_by(file)}"
        folder = os.path.dirname(str(file))
        if not is_tapegrad_init(file) and os.path.exists(os.path.join(folder, "value.py")):
            found += "\n  tapegrad's modules are in the same folder: HIPS was installed last"
    elif info["found"] or folders:
        where_to = ", ".join(str(f) for f in folders) or "unknown location"
        found = (
            f"`autograd` is a namespace package with no __init__.py ({where_to}): "
            "uninstalling HIPS autograd or tapegrad deleted the __init__.py they shared"
        )
    else:
        found = "no package named `autograd` is installed"
    reason = f"\n  importing it failed: {type(error).__name__}: {error}" if error else ""
    return (
        "tapegrad needs its own `autograd` package, but the name `autograd` is taken "
        f"(HIPS autograd uses the same name).\n  {found}{reason}\n" + FIX
    )


def warn_if_shared(folder: str | os.PathLike[str]) -> None:
    """Warn (``NameClashWarning``) when HIPS autograd's modules are in ``folder``."""
    found = hips_modules_in(folder)
    if found:
        warnings.warn(shared_folder_message(folder, found), NameClashWarning, stacklevel=3)
