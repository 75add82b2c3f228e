"""tapegrad's nn: neurons, layers, losses, optimizers, datasets and a training loop.

Built on ``autograd``'s public API only, with PyTorch's vocabulary::

    from nn import MLP, SGD, LinearLR, fit, moons
    model = MLP(2, [16, 16, 1], seed=0)        # micrograd's demo network
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(model, moons(100, noise=0.1), loss="hinge", l2=1e-4, optimizer=opt,
                  epochs=100, lr_schedule=LinearLR(opt, total_iters=100))
    history.train_acc[-1]                      # 1.0

Plots (``nn.plot``) need matplotlib and are imported only when used.
"""

import sys
import warnings
from importlib import import_module
from pathlib import Path


def _clash_module():
    """tapegrad's ``autograd/_clash.py``, loaded by path: ``autograd`` may not be ours."""
    if "autograd._clash" in sys.modules:
        return sys.modules["autograd._clash"]
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "autograd" / "_clash.py"
    spec = importlib.util.spec_from_file_location("_tapegrad_clash", path)
    if spec is None or spec.loader is None or not path.is_file():
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _autograd_clash() -> str | None:
    """None when ``import autograd`` gives tapegrad's; else the message saying why not."""
    module: object = None
    error: Exception | None = None
    try:
        with warnings.catch_warnings():
            if _starting_the_command():  # nn.cli says it in one line; doctor in full
                warnings.filterwarnings("ignore", message="HIPS autograd's modules")
            import autograd
    except Exception as err:  # HIPS's __init__ without numpy, a broken half-uninstall, ...
        error = err
    else:
        if getattr(autograd, "__tapegrad__", False):
            return None
        module = autograd
    clash = _clash_module()
    if clash is None:
        return f"`autograd` is not tapegrad's ({getattr(module, '__file__', error)})"
    return clash.not_ours_message(module, error)


def _starting_the_command() -> bool:
    """True while ``tapegrad ...`` or ``python -m nn ...`` starts: it reports a clash itself."""
    argv = getattr(sys, "orig_argv", [])
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "nn":
        return True
    return bool(sys.argv) and Path(sys.argv[0]).stem in ("tapegrad", "tapegrad-script")


# The name `autograd` is shared with HIPS autograd: never fail later with a confusing
# "cannot import name 'Value'".  The command (nn.cli) prints this message itself, so
# that `tapegrad doctor` still runs.
_CLASH = _autograd_clash()
if _CLASH is not None and not _starting_the_command():
    raise ImportError(_CLASH)

# Each public name and the module that defines it.  They are imported on first
# use, so ``tapegrad graph`` (nn.cli) does not load the training code.
_EXPORTS = {
    "functional": None,
    **dict.fromkeys(
        ["Dataset", "batches", "blobs", "circles", "moons", "spiral", "train_val_split", "xor"],
        "data",
    ),
    **dict.fromkeys(["ModelFileError", "load", "load_into", "save"], "io"),
    **dict.fromkeys(["MLP", "Dropout", "Layer", "Neuron"], "layers"),
    **dict.fromkeys(["IncompatibleKeys", "Module", "StateDictError"], "module"),
    **dict.fromkeys(
        ["SGD", "Adam", "AdamW", "CosineLR", "LinearLR", "LRScheduler", "Optimizer", "StepLR"],
        "optim",
    ),
    **dict.fromkeys(["Callback", "EarlyStopping"], "callbacks"),
    "LiveView": "live",
    **dict.fromkeys(["Recorder", "write_training_html"], "replay"),
    "History": "history",
    "draw_network": "netview",
    "evaluate": "objective",
    "fit": "train",
    **dict.fromkeys(["from_torch", "to_torch"], "torch_bridge"),
}


def __getattr__(name: str):
    if _CLASH is not None:
        raise ImportError(_CLASH)
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nn' has no attribute {name!r}")
    module = import_module(f".{_EXPORTS[name] or name}", __name__)
    value = module if _EXPORTS[name] is None else getattr(module, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "CosineLR",
    "Dataset",
    "Dropout",
    "EarlyStopping",
    "History",
    "IncompatibleKeys",
    "LRScheduler",
    "Layer",
    "LinearLR",
    "LiveView",
    "ModelFileError",
    "Module",
    "Neuron",
    "Optimizer",
    "Recorder",
    "StateDictError",
    "StepLR",
    "batches",
    "blobs",
    "circles",
    "draw_network",
    "evaluate",
    "fit",
    "from_torch",
    "functional",
    "load",
    "load_into",
    "moons",
    "save",
    "spiral",
    "to_torch",
    "train_val_split",
    "write_training_html",
    "xor",
]
