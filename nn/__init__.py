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

from . import functional
from .callbacks import Callback, EarlyStopping
from .data import Dataset, batches, blobs, circles, moons, spiral, train_val_split, xor
from .history import History
from .io import ModelFileError, load, load_into, save
from .layers import MLP, Dropout, Layer, Neuron
from .module import IncompatibleKeys, Module, StateDictError
from .objective import evaluate
from .optim import SGD, Adam, AdamW, CosineLR, LinearLR, LRScheduler, Optimizer, StepLR
from .train import fit

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
