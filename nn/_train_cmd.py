"""``tapegrad train``: train an MLP on a built-in dataset and write the results to a folder.

With no options it is micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons points
(noise 0.1), hinge loss + 1e-4 * sum p^2, SGD with lr = 1.0 - 0.9 * k / 100,
100 full-batch steps.  It writes ``model.json``, ``history.json`` (or .csv)
and, with matplotlib installed, ``loss.png``, ``decision_boundary.png`` and
``network.svg`` (the trained network, neuron by neuron).
``--compile`` runs the same steps on compiled tapes (``fit(compile=True)``).

The output folder is never a mix of two runs: everything is written into a
new hidden folder beside it, which then replaces the old folder as a whole
(a folder holding anything but a previous run's files is refused, never
emptied).  Notices (no matplotlib) are ``TrainNotice`` warnings: on stderr
from the command line, catchable from Python.  Sizes are bounded (``MAX_*``)
so that a typo cannot exhaust the memory.  Exit status: 0 done; 1 training
diverged (the history and, if its weights are finite, the model are still
written) or the folder could not be written; 2 bad arguments; 130 Ctrl-C
(after saving what was trained so far).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import secrets
import shutil
import sys
import time
import warnings

from . import data as datasets
from .callbacks import Callback, EarlyStopping
from .io import save
from .layers import MLP
from .netview import draw_network
from .objective import LOSSES, default_loss, evaluate
from .optim import SGD, Adam, AdamW, CosineLR, LinearLR, LRScheduler, Optimizer
from .replay import Recorder, write_training_html
from .train import fit

DEFAULT_LR = {"sgd": 1.0, "adam": 0.01, "adamw": 0.01}
MULTICLASS = ("spiral", "blobs")

# Bounds on sizes (shown in --help): a scalar engine builds a node per operation, so
# past these a run exhausts the memory or never ends.  Refused with exit status 2.
MAX_SAMPLES = 100_000
MAX_LAYER = 10_000  # neurons in one layer
MAX_CLASSES = 100
MAX_PARAMETERS = 1_000_000

# What a run writes; an existing --out folder holding anything else is not replaced.
RUN_FILES = (
    "model.json",
    "history.json",
    "history.csv",
    "loss.png",
    "decision_boundary.png",
    "training.html",  # the training player, where this version writes one
    "network.svg",
)


class TrainNotice(UserWarning):
    """Something a ``tapegrad train`` user should know (no plots, ...): stderr, never stdout."""


class OutputError(Exception):
    """--out cannot be written: exit status 1 with this message, no traceback."""


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _at_most(limit: int):
    """An argparse type: a positive integer up to ``limit`` (a documented bound)."""

    def parse(text: str) -> int:
        n = _positive_int(text)
        if n > limit:
            raise argparse.ArgumentTypeError(f"at most {limit:,} is supported, got {text}")
        return n

    return parse


def _float_in(lo: float, hi: float, lo_open: bool, hi_open: bool, what: str):
    """An argparse type: a finite float in the interval, with a message naming it."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = (
            math.isfinite(x)
            and (x > lo if lo_open else x >= lo)
            and (x < hi if hi_open else x <= hi)
        )
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return x

    return parse


_positive = _float_in(0.0, math.inf, True, True, "a number > 0")
_non_negative = _float_in(0.0, math.inf, False, True, "a number >= 0")
_unit = _float_in(0.0, 1.0, False, True, "in [0, 1)")
_fraction = _float_in(0.0, 1.0, True, True, "in (0, 1)")


def _hidden(text: str) -> list[int]:
    """'16,16' -> [16, 16]; '' -> [] (no hidden layer)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) != len(parts) or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer sizes like 16,16, got {text!r}"
        )
    if any(s > MAX_LAYER for s in sizes):
        raise argparse.ArgumentTypeError(
            f"at most {MAX_LAYER:,} neurons per layer are supported, got {text!r}"
        )
    return sizes


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train an MLP on a built-in dataset (the default: micrograd's moons demo)",
        description="Train an MLP on a built-in 2-D dataset and write model.json, "
        "history.json and (with matplotlib) loss.png and decision_boundary.png to --out. "
        "With no options: micrograd's demo, MLP(2, [16, 16, 1]) on moons with hinge loss, "
        "L2 1e-4 and SGD lr 1.0 -> 0.1 over 100 steps. The output folder is replaced as a "
        "whole when the run ends (it is written beside it first), so it never mixes files of "
        f"two runs. Bounds: --samples <= {MAX_SAMPLES:,}, <= {MAX_LAYER:,} neurons per layer, "
        f"--classes <= {MAX_CLASSES}, <= {MAX_PARAMETERS:,} parameters.",
    )
    add = parser.add_argument
    add("--dataset", choices=datasets.DATASETS, default="moons", help="default: moons")
    add(
        "--samples",
        type=_at_most(MAX_SAMPLES),
        help=f"number of points, 2 to {MAX_SAMPLES:,} (default: the dataset's)",
    )
    add("--noise", type=_non_negative, help="noise level (default: the dataset's)")
    add(
        "--classes",
        type=_at_most(MAX_CLASSES),
        help=f"classes for spiral and blobs, 2 to {MAX_CLASSES} (default 3)",
    )
    add(
        "--hidden",
        type=_hidden,
        default=[16, 16],
        help=f"hidden layer sizes, each up to {MAX_LAYER:,} (default 16,16; '' for none)",
    )
    add(
        "--activation",
        choices=["relu", "tanh", "sigmoid", "leaky_relu"],
        default="relu",
        help="activation of the hidden layers (default relu)",
    )
    add(
        "--init",
        choices=["uniform", "xavier", "he"],
        default="uniform",
        help="weight initialisation: uniform in [-1, 1] as micrograd (default), xavier or he",
    )
    add(
        "--loss",
        choices=["auto", *LOSSES],
        default="auto",
        help="default: hinge, or cross_entropy for more than two classes",
    )
    add("--optimizer", choices=["sgd", "adam", "adamw"], default="sgd", help="default: sgd")
    add("--lr", type=_positive, help="learning rate (default 1.0 for sgd, 0.01 for adam/adamw)")
    add("--momentum", type=_unit, default=0.0, help="SGD momentum in [0, 1) (default 0)")
    add(
        "--schedule",
        choices=["linear", "cosine", "none"],
        default="linear",
        help="lr schedule over the epochs: linear to 0.1 x lr (default, as micrograd), "
        "cosine to 0, or none",
    )
    add("--epochs", type=_positive_int, default=100, help="default 100")
    add("--batch-size", type=_positive_int, help="mini-batch size (default: full batch)")
    add("--dropout", type=_unit, default=0.0, help="dropout after hidden layers, in [0, 1)")
    add(
        "--weight-decay",
        type=_non_negative,
        help="optimizer weight decay (default 0; 0.01 for adamw)",
    )
    add(
        "--l2",
        type=_non_negative,
        default=1e-4,
        help="L2 penalty alpha * sum p^2 added to the loss (default 1e-4, as micrograd)",
    )
    add(
        "--early-stopping",
        type=_positive_int,
        metavar="PATIENCE",
        help="stop when val_loss has not improved for PATIENCE epochs, keep the best weights",
    )
    add(
        "--val-fraction",
        type=_fraction,
        help="hold out this fraction for validation (default 0, or 0.2 with --early-stopping)",
    )
    add(
        "--compile",
        nargs="?",
        const="tape",
        choices=["tape", "batch", "matrix"],
        help="train on compiled tapes (autograd.compile): the loss of one sample recorded "
        "once and replayed as straight-line code (tape, the default), with numpy over the "
        "batch (batch) or as one matrix product per layer (matrix); the same numbers, faster. "
        "Not with --dropout (a tape would freeze one dropout mask)",
    )
    add("--seed", type=int, default=0, help="seed for data, weights and batches (default 0)")
    add(
        "--out",
        help="output folder (default runs/DATASET), replaced as a whole when the run ends; "
        "a folder holding other files is refused",
    )
    add(
        "--history-format",
        choices=["json", "csv"],
        default="json",
        help="history.json (default) or history.csv, one row per epoch",
    )
    add(
        "--no-plots",
        action="store_true",
        help="do not draw network.svg, loss.png and decision_boundary.png",
    )
    add("--quiet", action="store_true", help="print only the final summary")
    parser.set_defaults(train_parser=parser)
    return parser


def _dataset(args):
    kwargs = {"seed": args.seed}
    if args.samples is not None:
        kwargs["n"] = args.samples
    if args.noise is not None:
        kwargs["noise"] = args.noise
    if args.dataset in MULTICLASS:
        kwargs["classes"] = 3 if args.classes is None else args.classes
    return datasets.make(args.dataset, **kwargs)


def _check(args, parser) -> None:
    """Combinations argparse cannot check alone; errors exit 2 with the usage."""
    if args.classes is not None and args.dataset not in MULTICLASS:
        parser.error(f"--classes applies to {' and '.join(MULTICLASS)}, not {args.dataset}")
    if args.classes is not None and args.classes < 2:
        parser.error(f"--classes must be at least 2, got {args.classes}")
    if args.momentum and args.optimizer != "sgd":
        parser.error("--momentum applies to --optimizer sgd only")
    multiclass = args.dataset in MULTICLASS and (args.classes or 3) > 2
    if multiclass and args.loss in ("hinge", "bce", "mse"):
        parser.error(
            f"--loss {args.loss} needs two classes; {args.dataset} has more: "
            "use cross_entropy (the default)"
        )
    if not multiclass and args.loss == "cross_entropy":
        parser.error(f"--loss cross_entropy needs several classes; {args.dataset} has two")
    if args.samples is not None and args.samples < 2:
        parser.error("--samples must be at least 2")
    if args.compile and args.dropout:
        parser.error(
            "--compile cannot be used with --dropout: a compiled tape would replay one "
            "dropout mask at every step; drop one of the two"
        )
    if args.out is not None and not args.out.strip():
        parser.error("--out must name a folder, got an empty string")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out {args.out!r} exists and is not a folder")
    if args.out is not None:
        out = os.path.join(os.path.abspath(args.out), "")
        if os.path.join(os.getcwd(), "").startswith(out):
            parser.error(f"--out {args.out!r} is the current folder or holds it: name a subfolder")


def _describe(args, model, data, loss, optimizer_name, lr, wd, val) -> str:
    shape = f"MLP({model.nin}, {model.nouts}) {args.activation}, {model.num_parameters()} params"
    opt = f"{optimizer_name} lr {lr:g}"
    if args.schedule == "linear":
        opt += f" -> {0.1 * lr:g} (linear)"
    elif args.schedule == "cosine":
        opt += " -> 0 (cosine)"
    if wd:
        opt += f", weight decay {wd:g}"
    objective = loss + (f" + {args.l2:g}*sum(p^2)" if args.l2 else "")
    batch = f"batch {args.batch_size}" if args.batch_size else "full batch"
    if args.compile:
        batch += ", compiled"
    split = f", {len(val)} for validation" if val is not None else ""
    return (
        f"tapegrad train: {data.name}, {len(data)} points{split}\n"
        f"  model {shape}, dropout {args.dropout:g}\n"
        f"  loss {objective}; {opt}; {args.epochs} epochs, {batch}"
    )


def _notice(message: str) -> None:
    """A notice for the user: a ``TrainNotice`` warning (stderr; never hidden by --quiet)."""
    warnings.warn(message, TrainNotice, stacklevel=2)


def run(args) -> int:
    """Train as the options say; returns the exit status."""
    parser = args.train_parser
    _check(args, parser)
    try:
        return _train(args)
    except OutputError as err:
        print(f"tapegrad train: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _parameter_count(sizes: list[int]) -> int:
    """Weights and biases of an MLP whose layer widths are ``sizes`` (inputs first)."""
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def _train(args) -> int:
    say = (lambda *a, **k: None) if args.quiet else print
    parser = args.train_parser
    data = _dataset(args)
    val = None
    val_fraction = args.val_fraction
    if val_fraction is None and args.early_stopping:
        val_fraction = 0.2
    train = data
    if val_fraction:
        try:
            train, val = datasets.train_val_split(data, val_fraction, seed=args.seed)
        except ValueError as err:
            parser.error(f"--val-fraction: {err}")
    loss = default_loss(data) if args.loss == "auto" else args.loss
    n_out = data.n_classes if loss == "cross_entropy" else 1
    n_params = _parameter_count([2, *args.hidden, n_out])
    if n_params > MAX_PARAMETERS:
        parser.error(
            f"--hidden {','.join(map(str, args.hidden))} gives {n_params:,} parameters; "
            f"at most {MAX_PARAMETERS:,} are supported"
        )
    model = MLP(
        2,
        [*args.hidden, n_out],
        activation=args.activation,
        init=args.init,
        dropout=args.dropout,
        seed=args.seed,
    )
    params = model.parameters()
    penalty = args.l2 * math.fsum(p.data * p.data for p in params)
    if not math.isfinite(penalty):
        parser.error(
            f"--l2 {args.l2:g}: the penalty l2 * sum(p^2) is {penalty} for the initial weights; "
            "use a smaller --l2 (micrograd's is 1e-4)"
        )
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    optimizer: Optimizer
    if args.optimizer == "sgd":
        wd = args.weight_decay or 0.0
        optimizer = SGD(params, lr=lr, momentum=args.momentum, weight_decay=wd)
        name = "SGD" + (f" momentum {args.momentum:g}" if args.momentum else "")
    elif args.optimizer == "adam":
        wd = args.weight_decay or 0.0
        optimizer, name = Adam(params, lr=lr, weight_decay=wd), "Adam"
    else:
        wd = 0.01 if args.weight_decay is None else args.weight_decay
        optimizer, name = AdamW(params, lr=lr, weight_decay=wd), "AdamW"
    schedule: LRScheduler | None = None
    if args.schedule == "linear":
        schedule = LinearLR(optimizer, total_iters=args.epochs)
    elif args.schedule == "cosine":
        schedule = CosineLR(optimizer, total_iters=args.epochs)
    callbacks: list[Callback] = (
        [EarlyStopping(patience=args.early_stopping)] if args.early_stopping else []
    )
    callbacks.append(recorder := Recorder())  # each epoch's weights, for training.html
    out = args.out or os.path.join("runs", data.name)
    staging = _staging_folder(out)  # before training: a folder we cannot write fails now
    try:
        say(_describe(args, model, data, loss, name, lr, wd, val))
        start = time.perf_counter()
        with warnings.catch_warnings():
            # A quiet fit warns when it diverges; the command says so itself, once, below.
            warnings.filterwarnings("ignore", ".*training diverged", RuntimeWarning)
            history = fit(
                model,
                train,
                loss=loss,
                optimizer=optimizer,
                epochs=args.epochs,
                batch_size=args.batch_size,
                val=val,
                callbacks=callbacks,
                lr_schedule=schedule,
                l2=args.l2,
                verbose=not args.quiet,
                seed=args.seed,
                compile=args.compile,
            )
        seconds = time.perf_counter() - start
        return _finish(
            args, model, data, train, val, loss, lr, history, seconds, out, staging, recorder
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it replaced --out


def _finish(
    args, model, data, train, val, loss, lr, history, seconds, out, staging, recorder
) -> int:
    """Write the run into ``staging``, swap it in as ``out``; print what happened."""
    history_name = f"history.{args.history_format}"
    _write(lambda path: history.save(path), staging, history_name)
    if history.stop_reason == "diverged":
        try:
            _write(lambda path: save(model, path), staging, "model.json")
            model_note = "model.json (the weights when it stopped)"
        except ValueError:
            model_note = "no model (its weights are not finite)"
        _replace(out, staging)
        print(
            f"tapegrad train: training diverged after {len(history)} "
            f"epoch{'' if len(history) == 1 else 's'}: "
            f"{_divergence_reason(args, lr, history)}\n"
            f"wrote {os.path.join(out, history_name)}, {model_note}",
            file=sys.stderr,
        )
        return 1
    _write(lambda path: save(model, path), staging, "model.json")
    _write(
        lambda path: write_training_html(history, model, data, path, recorder.states),
        staging,
        "training.html",
    )
    written = ["model.json", history_name, "training.html"]

    train_loss, train_acc = evaluate(model, train, loss, args.l2)
    result = f"train accuracy {100 * train_acc:.1f}%, loss {train_loss:.4f}"
    if val is not None:
        val_loss, val_acc = evaluate(model, val, loss, args.l2)
        result += f"; validation accuracy {100 * val_acc:.1f}%, loss {val_loss:.4f}"

    if history.interrupted:
        _replace(out, staging)
        paths = ", ".join(os.path.join(out, name) for name in written)
        print(
            f"interrupted after {len(history)} epochs ({seconds:.1f} s): {result}\nsaved {paths}",
            file=sys.stderr,
        )
        return 130
    if not args.no_plots:
        written += _plots(model, data, history, staging)
    _replace(out, staging)
    print(f"done in {seconds:.1f} s ({len(history)} epochs): {result}")
    print(f"wrote {', '.join(os.path.join(out, name) for name in written)}")
    return 0


def _divergence_reason(args, lr: float, history) -> str:
    """Why, in the options' terms: fit's message (where it gives one), or the option to change."""
    said = getattr(history, "stop_message", None)  # fit's explanation, in newer versions
    if args.optimizer == "sgd" and args.l2 >= 1 and lr * args.l2 > 1:
        # The penalty's own step p <- p (1 - 2 lr l2) grows |p| once lr * l2 > 1; with an
        # unusual l2 (micrograd's is 1e-4) that is the cause, whatever the learning rate.
        what = f"{said.split('. ')[0]}. " if said else ""
        return (
            f"{what}--l2 {args.l2:g} is too large for --lr {lr:g}: with lr * l2 = "
            f"{lr * args.l2:.3g} > 1 each SGD step overshoots the penalty's minimum; "
            "use a smaller --l2"
        )
    return said or f"try a smaller --lr (now {lr:g})"


# The output folder ---------------------------------------------------------------------------


def _staging_folder(out: str) -> str:
    """A new empty folder beside ``out`` to write the run into; OutputError if impossible."""
    out = os.path.abspath(out)
    if os.path.isdir(out):
        foreign = sorted(
            entry + ("/" if os.path.isdir(os.path.join(out, entry)) else "")
            for entry in os.listdir(out)
            if entry not in RUN_FILES or not os.path.isfile(os.path.join(out, entry))
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(
                f"--out {out} holds files that are not from a tapegrad run ({shown}); "
                "a run replaces the whole folder, so name a new or empty folder"
            )
    parent = os.path.dirname(out)
    blocking = parent
    while blocking and not os.path.exists(blocking):
        blocking = os.path.dirname(blocking)
    if blocking and not os.path.isdir(blocking):
        raise OutputError(f"cannot write the output folder {out}: {blocking} is a file")
    try:
        os.makedirs(parent, exist_ok=True)
        staging = os.path.join(
            parent, f".{os.path.basename(out)}.{os.getpid()}.{secrets.token_hex(4)}.partial"
        )
        os.mkdir(staging)  # the usual permissions (umask), as the folder it replaces
        return staging
    except OSError as err:
        raise OutputError(f"cannot write the output folder {out}: {err.strerror}") from None


def _write(write, folder: str, name: str) -> None:
    """``write(path)`` for ``folder/name``, an OSError becoming an OutputError."""
    try:
        write(os.path.join(folder, name))
    except OSError as err:
        raise OutputError(f"cannot write {name}: {err.strerror or err}") from None


def _replace(out: str, staging: str) -> None:
    """Put the finished ``staging`` folder in the place of ``out`` (which may not exist).

    Two renames in one folder: a reader sees the old run or the new one, never a
    mix; the old folder is deleted only once the new one is in place.
    """
    out = os.path.abspath(out)
    old = None
    try:
        if os.path.isdir(out):
            old = staging + ".old"
            os.rename(out, old)
        os.rename(staging, out)
    except OSError as err:
        if old is not None and not os.path.exists(out):
            os.rename(old, out)  # put the previous run back
        raise OutputError(f"cannot replace the output folder {out}: {err.strerror}") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _plots(model, data, history, out) -> list[str]:
    """network.svg, loss.png and decision_boundary.png (their names); without matplotlib
    the first only, and a notice on how to get the others."""
    # The trained weights, neuron by neuron: an SVG of its own, no matplotlib needed.
    _write(lambda path: draw_network(model).save(path), out, "network.svg")
    try:
        import matplotlib  # noqa: F401

        from .plot import plot_decision_boundary, plot_history
    except ImportError:
        _notice('no plots: matplotlib is not installed (pip install "tapegrad[notebooks]")')
        return ["network.svg"]
    _write(lambda path: plot_history(history, path), out, "loss.png")
    model.eval()
    title = f"{data.name}: decision boundary"
    _write(
        lambda path: plot_decision_boundary(model, data, path, title=title),
        out,
        "decision_boundary.png",
    )
    return ["network.svg", "loss.png", "decision_boundary.png"]
