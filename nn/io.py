"""Save and load models as human-readable JSON.

A model file looks like::

    {"format": "tapegrad.mlp", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [16, 16, 1],
                      "activation": ["relu", "relu", "linear"], "dropout": 0.0},
     "parameters": {"layers.0.neurons.0.w.0": 0.6888437030500962, ...}}

``save`` writes it to a temporary file in the same folder and renames it, so a
crash never leaves half a file behind.  ``load_into`` checks the whole file
before it changes a single weight; any problem raises ``ModelFileError``
naming the file and what is wrong, and the model is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile

from autograd.files import write_atomic

from .layers import ACTIVATIONS, MLP

FORMAT = "tapegrad.mlp"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, wrong format, shapes or values."""

    def __init__(self, path, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the usual rw-r--r--.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Also on Ctrl-C: never leave the temporary file behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save(model: MLP, path) -> None:
    """Write ``model``'s architecture and parameters to ``path`` as JSON, atomically."""
    if not isinstance(model, MLP):
        raise TypeError(
            f"save: only MLP models can be saved to a file, got {type(model).__name__}; "
            "use model.state_dict() for other modules"
        )
    params = model.state_dict()
    for name, value in params.items():
        if not math.isfinite(value):
            raise ValueError(
                f"save: parameter {name} is {value!r}; a model with non-finite weights "
                "cannot be saved (training probably diverged: try a smaller learning rate)"
            )
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.architecture(),
        "parameters": params,
    }
    write_atomic(path, _format(doc))


def _format(doc: dict) -> str:
    """JSON with the header on short lines and one parameter per line, easy to read and diff."""
    lines = ["{"]
    for key in ("format", "version", "architecture"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(doc[key], allow_nan=False)},")
    lines.append('  "parameters": {')
    items = [
        f"    {json.dumps(k)}: {json.dumps(v, allow_nan=False)}"
        for k, v in doc["parameters"].items()
    ]
    lines.append(",\n".join(items))
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _no_duplicates(pairs):
    # json keeps the last of two equal keys without a word; a model file must not.
    doc = {}
    for key, value in pairs:
        if key in doc:
            raise ValueError(f"the key {key!r} appears twice")
        doc[key] = value
    return doc


def _read(path) -> dict:
    """The parsed, fully validated document of a model file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ModelFileError(path, f"not a text file ({err.reason})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise ModelFileError(
            path, f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    except ValueError as err:
        raise ModelFileError(path, f"not valid model JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(path, f"expected a JSON object, found {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise ModelFileError(
            path, f"format is {doc.get('format')!r}, expected {FORMAT!r} (not a tapegrad model?)"
        )
    version = doc.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise ModelFileError(
            path, f"version {version!r} is not supported (this tapegrad reads version {VERSION})"
        )
    arch = _check_architecture(path, doc.get("architecture"))
    params = doc.get("parameters")
    if not isinstance(params, dict):
        raise ModelFileError(path, "'parameters' must be an object of name -> number")
    expected = _parameter_names(arch)
    missing = [k for k in expected if k not in params]
    unexpected = [k for k in params if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing parameters {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected parameters {_few(unexpected)}")
        raise ModelFileError(
            path, f"parameters do not match the architecture {_shape(arch)}: " + "; ".join(parts)
        )
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelFileError(
                path, f"parameter {name} must be a number, found {type(value).__name__} {value!r}"
            )
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise ModelFileError(path, f"parameter {name} is not a finite number: {value!r}")
    return {"architecture": arch, "parameters": {k: float(v) for k, v in params.items()}}


def _check_architecture(path, arch) -> dict:
    if not isinstance(arch, dict):
        raise ModelFileError(path, "'architecture' must be an object")
    if arch.get("type") != "MLP":
        raise ModelFileError(path, f"architecture type {arch.get('type')!r} is not 'MLP'")
    nin, nouts = arch.get("nin"), arch.get("nouts")

    def positive(n) -> bool:
        return isinstance(n, int) and not isinstance(n, bool) and n >= 1

    if not positive(nin):
        raise ModelFileError(path, f"architecture nin must be a positive int, found {nin!r}")
    if not isinstance(nouts, list) or not nouts or not all(positive(n) for n in nouts):
        raise ModelFileError(
            path, f"architecture nouts must be a list of positive ints, found {nouts!r}"
        )
    acts = arch.get("activation")
    if (
        not isinstance(acts, list)
        or len(acts) != len(nouts)
        or not all(a in ACTIVATIONS for a in acts)
    ):
        raise ModelFileError(
            path,
            f"architecture activation must list one of {', '.join(ACTIVATIONS)} "
            f"per layer ({len(nouts)} layers), found {acts!r}",
        )
    dropout = arch.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ModelFileError(path, f"architecture dropout must be in [0, 1), found {dropout!r}")
    return {"nin": nin, "nouts": nouts, "activation": acts, "dropout": float(dropout)}


def _parameter_names(arch: dict) -> list[str]:
    """The dotted names an MLP of this architecture has, in order."""
    names = []
    sizes = [arch["nin"], *arch["nouts"]]
    for i in range(len(arch["nouts"])):
        for j in range(sizes[i + 1]):
            names += [f"layers.{i}.neurons.{j}.w.{k}" for k in range(sizes[i])]
            names.append(f"layers.{i}.neurons.{j}.b")
    return names


def _shape(arch: dict) -> str:
    return f"MLP({arch['nin']}, {arch['nouts']})"


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load(path) -> MLP:
    """A new MLP rebuilt from a file written by ``save``."""
    doc = _read(path)
    arch = doc["architecture"]
    model = MLP(arch["nin"], arch["nouts"], activation=arch["activation"], dropout=arch["dropout"])
    model.load_state_dict(doc["parameters"])
    return model


def load_into(model: MLP, path) -> MLP:
    """Load a file's parameters into ``model``, after checking it matches; returns the model.

    The file must describe the same layer sizes and activations.  Nothing
    changes unless the whole file is valid.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"load_into: expected an MLP, got {type(model).__name__}")
    doc = _read(path)
    arch = doc["architecture"]
    mine = model.architecture()
    for key in ("nin", "nouts", "activation"):
        if arch[key] != mine[key]:
            raise ModelFileError(
                path, f"the file's {key} is {arch[key]!r} but the model's is {mine[key]!r}"
            )
    model.load_state_dict(doc["parameters"])
    return model
