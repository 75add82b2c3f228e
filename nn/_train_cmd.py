"""``tapegrad train``: train an MLP on a built-in dataset and write the results to a folder.

With no options it is micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons points
(noise 0.1), hinge loss + 1e-4 * sum p^2, SGD with lr = 1.0 - 0.9 * k / 100,
100 full-batch steps.  It writes ``model.json``, ``history.json`` (or .csv)
and, with matplotlib installed, ``loss.png`` and ``decision_boundary.png``.
``--compile`` runs the same steps on compiled tapes (``fit(compile=True)``).
Exit status: 0 done, 1 training diverged, 2 bad arguments, 130 Ctrl-C (after
saving what was trained so far).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from . import data as datasets
from .callbacks import EarlyStopping
from .io import save
from .layers import MLP
from .objective import LOSSES, default_loss, evaluate
from .optim import SGD, Adam, AdamW, CosineLR, LinearLR
from .train import fit

DEFAULT_LR = {"sgd": 1.0, "adam": 0.01, "adamw": 0.01}
MULTICLASS = ("spiral", "blobs")


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


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
    return sizes


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train an MLP on a built-in dataset (the default: micrograd's moons demo)",
        description="Train an MLP on a built-in 2-D dataset and write model.json, "
        "history.json and (with matplotlib) loss.png and decision_boundary.png to --out. "
        "With no options: micrograd's demo, MLP(2, [16, 16, 1]) on moons with hinge loss, "
        "L2 1e-4 and SGD lr 1.0 -> 0.1 over 100 steps.",
    )
    add = parser.add_argument
    add("--dataset", choices=datasets.DATASETS, default="moons", help="default: moons")
    add("--samples", type=_positive_int, help="number of points (default: the dataset's)")
    add("--noise", type=_non_negative, help="noise level (default: the dataset's)")
    add("--classes", type=_positive_int, help="classes for spiral and blobs (default 3)")
    add("--hidden", type=_hidden, default=[16, 16], help="hidden layer sizes (default 16,16)")
    add("--activation", choices=["relu", "tanh", "sigmoid", "leaky_relu"], default="relu")
    add("--init", choices=["uniform", "xavier", "he"], default="uniform")
    add(
        "--loss",
        choices=["auto", *LOSSES],
        default="auto",
        help="default: hinge, or cross_entropy for more than two classes",
    )
    add("--optimizer", choices=["sgd", "adam", "adamw"], default="sgd")
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
    add("--out", help="output folder (default runs/DATASET)")
    add("--history-format", choices=["json", "csv"], default="json")
    add("--no-plots", action="store_true", help="do not draw loss.png and decision_boundary.png")
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
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        parser.error(f"--out {args.out!r} exists and is not a folder")


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


def run(args) -> int:
    """Train as the options say; returns the exit status."""
    parser = args.train_parser
    _check(args, parser)
    try:
        return _train(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _train(args) -> int:
    say = (lambda *a, **k: None) if args.quiet else print
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
            args.train_parser.error(f"--val-fraction: {err}")
    loss = default_loss(data) if args.loss == "auto" else args.loss
    n_out = data.n_classes if loss == "cross_entropy" else 1
    model = MLP(
        2,
        [*args.hidden, n_out],
        activation=args.activation,
        init=args.init,
        dropout=args.dropout,
        seed=args.seed,
    )
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    params = model.parameters()
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
    schedule = None
    if args.schedule == "linear":
        schedule = LinearLR(optimizer, total_iters=args.epochs)
    elif args.schedule == "cosine":
        schedule = CosineLR(optimizer, total_iters=args.epochs)
    callbacks = [EarlyStopping(patience=args.early_stopping)] if args.early_stopping else []
    out = args.out or os.path.join("runs", data.name)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as err:
        args.train_parser.error(f"--out: cannot create {out!r}: {err.strerror}")

    say(_describe(args, model, data, loss, name, lr, wd, val))
    start = time.perf_counter()
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

    written = []
    history_path = os.path.join(out, f"history.{args.history_format}")
    if history.stop_reason == "diverged":
        history.save(history_path)
        print(
            f"training diverged at epoch {len(history) + 1}: try a smaller --lr "
            f"(now {lr:g}); wrote {history_path}, no model",
            file=sys.stderr,
        )
        return 1
    model_path = os.path.join(out, "model.json")
    save(model, model_path)
    history.save(history_path)
    written += [model_path, history_path]

    train_loss, train_acc = evaluate(model, train, loss, args.l2)
    result = f"train accuracy {100 * train_acc:.1f}%, loss {train_loss:.4f}"
    if val is not None:
        val_loss, val_acc = evaluate(model, val, loss, args.l2)
        result += f"; validation accuracy {100 * val_acc:.1f}%, loss {val_loss:.4f}"

    if history.interrupted:
        print(
            f"interrupted after {len(history)} epochs ({seconds:.1f} s): {result}\n"
            f"saved {', '.join(written)}",
            file=sys.stderr,
        )
        return 130
    if not args.no_plots:
        written += _plots(model, data, history, out, say)
    print(f"done in {seconds:.1f} s ({len(history)} epochs): {result}")
    print(f"wrote {', '.join(written)}")
    return 0


def _plots(model, data, history, out, say) -> list[str]:
    """loss.png and decision_boundary.png, or one line on how to get them."""
    try:
        import matplotlib  # noqa: F401

        from .plot import plot_decision_boundary, plot_history
    except ImportError:
        say('no plots: matplotlib is not installed (pip install "tapegrad[notebooks]")')
        return []
    loss_png = os.path.join(out, "loss.png")
    boundary_png = os.path.join(out, "decision_boundary.png")
    plot_history(history, loss_png)
    model.eval()
    plot_decision_boundary(model, data, boundary_png, title=f"{data.name}: decision boundary")
    return [loss_png, boundary_png]
