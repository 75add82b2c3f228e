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

Loading takes time and memory in proportion to the file: the number of
parameters the architecture implies is computed by arithmetic and compared
with the file's before any name is built, and the names are matched through
a dict.  A file may describe at most ``MAX_PARAMETERS`` (10,000,000)
parameters and be at most ``MAX_FILE_BYTES`` (640 MB) long; beyond either,
and for JSON nested too deeply to parse, ``ModelFileError`` says so.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
from itertools import pairwise

from autograd.files import write_atomic

from .layers import ACTIVATIONS, MLP

FORMAT = "tapegrad.mlp"
VERSION = 1
# The largest model a file may describe.  A scalar engine trains far smaller
# ones; the bound keeps a short file from asking for memory it never pays for.
MAX_PARAMETERS = 10_000_000
# A file of that many parameters, one per line as ``save`` writes them, is about
# 500 MB; a larger file is refused before it is read.
MAX_FILE_BYTES = 64 * MAX_PARAMETERS


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not JSON, wrong format, shapes or values."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


def save(model: MLP, path: str | os.PathLike[str]) -> None:
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
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice")
            seen.add(key)
    return doc


@contextlib.contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector while a model is built.

    Loading makes hundreds of thousands of objects and no reference cycles;
    the collector would walk all of them again and again as they pile up
    (a third of the load time at 162,001 parameters), for nothing to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(path) -> dict:
    """The parsed, fully validated document of a model file."""
    size = os.stat(path).st_size
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            path,
            f"the file has {size:,} bytes, more than a model of {MAX_PARAMETERS:,} "
            f"parameters needs ({MAX_FILE_BYTES:,})",
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as err:
        raise ModelFileError(path, f"not a text file ({err.reason})") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:  # '[[[[...' deeper than the parser's stack
        raise ModelFileError(path, "not a model file: JSON nested too deeply") from None
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
    _check_names(path, arch, params)
    isfinite = math.isfinite
    for name, value in params.items():
        if type(value) is float and isfinite(value):  # the common case, checked fast
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelFileError(
                path,
                f"parameter {name} must be a number, found {type(value).__name__} {_brief(value)}",
            )
        try:
            finite = isfinite(value)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise ModelFileError(path, f"parameter {name} is not a finite number: {_brief(value)}")
    return {"architecture": arch, "parameters": {k: float(v) for k, v in params.items()}}


def _assign(model: MLP, params: dict) -> None:
    """Copy checked numbers into the model (``_read`` has matched every name already)."""
    for name, p in model.named_parameters():
        p.data = params[name]


def _check_architecture(path, arch) -> dict:
    if not isinstance(arch, dict):
        raise ModelFileError(path, "'architecture' must be an object")
    if arch.get("type") != "MLP":
        raise ModelFileError(path, f"architecture type {arch.get('type')!r} is not 'MLP'")
    nin, nouts = arch.get("nin"), arch.get("nouts")

    def positive(n) -> bool:
        return isinstance(n, int) and not isinstance(n, bool) and n >= 1

    if not positive(nin):
        raise ModelFileError(path, f"architecture nin must be a positive int, found {_brief(nin)}")
    if not isinstance(nouts, list) or not nouts or not all(positive(n) for n in nouts):
        raise ModelFileError(
            path, f"architecture nouts must be a list of positive ints, found {_brief(nouts)}"
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
            f"per layer ({len(nouts)} layers), found {_brief(acts)}",
        )
    dropout = arch.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ModelFileError(
            path, f"architecture dropout must be in [0, 1), found {_brief(dropout)}"
        )
    return {"nin": nin, "nouts": nouts, "activation": acts, "dropout": float(dropout)}


def parameter_count(arch: dict) -> int:
    """How many parameters an MLP of this architecture has: sum over layers of (n_in + 1) * n_out.

    Pure arithmetic on the sizes, so a file claiming 10^12 parameters is refused
    without building anything.
    """
    sizes = [arch["nin"], *arch["nouts"]]
    return sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))


def _parameter_names(arch: dict):
    """The dotted names an MLP of this architecture has, in order (a generator)."""
    sizes = [arch["nin"], *arch["nouts"]]
    for i in range(len(arch["nouts"])):
        for j in range(sizes[i + 1]):
            for k in range(sizes[i]):
                yield f"layers.{i}.neurons.{j}.w.{k}"
            yield f"layers.{i}.neurons.{j}.b"


def _check_names(path, arch: dict, params: dict) -> None:
    """The file's parameter names are exactly the architecture's, in linear time.

    Counts are compared first, by arithmetic: names are built only when their
    number is within a small factor of the names the file holds, so the work
    and memory stay proportional to the file's size.
    """
    count = parameter_count(arch)
    if count > MAX_PARAMETERS:
        raise ModelFileError(
            path,
            f"the architecture {_shape(arch)} has {count:,} parameters, more than the "
            f"{MAX_PARAMETERS:,} a model file may hold",
        )
    problem = f"parameters do not match the architecture {_shape(arch)}: "
    if count > 2 * len(params) + 100:  # far too few names for a few to be missing
        raise ModelFileError(
            path, problem + f"it has {count:,} parameters, the file lists {len(params):,}"
        )
    missing, found = [], 0
    for name in _parameter_names(arch):
        if name in params:
            found += 1
        else:
            missing.append(name)
    if missing or found != len(params):
        unexpected = []
        if found != len(params):  # some of the file's names are not the architecture's
            expected = set(_parameter_names(arch))
            unexpected = [k for k in params if k not in expected]
        parts = []
        if missing:
            parts.append(f"missing parameters {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected parameters {_few(unexpected)}")
        raise ModelFileError(path, problem + "; ".join(parts))


def _shape(arch: dict) -> str:
    nouts = arch["nouts"]
    shown = repr(nouts) if len(nouts) <= 8 else f"[{nouts[0]}, ... {len(nouts)} layers]"
    return f"MLP({arch['nin']}, {shown})"


def _brief(x, limit: int = 80) -> str:
    """repr of a value from the file, cut short: a message must not echo a megabyte."""
    text = (
        repr(x)
        if not isinstance(x, int) or x.bit_length() < 200
        else f"an int of {x.bit_length()} bits"
    )
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _few(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def load(path: str | os.PathLike[str]) -> MLP:
    """A new MLP rebuilt from a file written by ``save``."""
    with _collector_paused():
        doc = _read(path)
        arch = doc["architecture"]
        model = MLP(
            arch["nin"], arch["nouts"], activation=arch["activation"], dropout=arch["dropout"]
        )
        _assign(model, doc["parameters"])
    return model


def load_into(model: MLP, path: str | os.PathLike[str]) -> MLP:
    """Load a file's parameters into ``model``, after checking it matches; returns the model.

    The file must describe the same layer sizes and activations.  Nothing
    changes unless the whole file is valid.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"load_into: expected an MLP, got {type(model).__name__}")
    with _collector_paused():
        doc = _read(path)
    arch = doc["architecture"]
    mine = model.architecture()
    for key in ("nin", "nouts", "activation"):
        if arch[key] != mine[key]:
            raise ModelFileError(
                path, f"the file's {key} is {arch[key]!r} but the model's is {mine[key]!r}"
            )
    _assign(model, doc["parameters"])
    return model
