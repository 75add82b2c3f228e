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

from importlib import import_module

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
    "History": "history",
    "draw_network": "netview",
    "evaluate": "objective",
    "fit": "train",
}


def __getattr__(name: str):
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
    "ModelFileError",
    "Module",
    "Neuron",
    "Optimizer",
    "StateDictError",
    "StepLR",
    "batches",
    "blobs",
    "circles",
    "draw_network",
    "evaluate",
    "fit",
    "functional",
    "load",
    "load_into",
    "moons",
    "save",
    "spiral",
    "train_val_split",
    "xor",
]
