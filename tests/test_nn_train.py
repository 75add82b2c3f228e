"""nn.train: fit on micrograd's demo, early stopping, weight decay, dropout, History, Ctrl-C."""

from __future__ import annotations

import csv
import json
import math

import pytest

from autograd import Value
from nn import (
    MLP,
    SGD,
    AdamW,
    Callback,
    EarlyStopping,
    History,
    LinearLR,
    StepLR,
    blobs,
    evaluate,
    fit,
    moons,
)
from nn import functional as F


def weight_norm(model) -> float:
    return math.sqrt(sum(p.data**2 for name, p in model.named_parameters() if ".w." in name))


def test_micrograds_demo_reaches_100_percent_on_moons():
    data = moons(n=100, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        data,
        loss="hinge",
        optimizer=opt,
        epochs=100,
        lr_schedule=LinearLR(opt, total_iters=100),
        l2=1e-4,
        verbose=False,
    )
    assert len(history) == 100 and history.stop_reason is None
    assert history.lr[0] == 1.0 and history.lr[-1] == pytest.approx(0.109)
    assert history.train_acc[-1] == 1.0
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    loss, acc = evaluate(model, data, "hinge", l2=1e-4)
    assert acc == 1.0
    assert loss < 0.05


def test_fit_follows_micrograds_training_loop_step_by_step():
    micrograd = pytest.importorskip("micrograd.engine")
    data = moons(n=12, noise=0.1, seed=4)
    ours = MLP(2, [4, 1], seed=11)
    # micrograd's own code on a copy of the same weights.
    ws = [Value(p.data) for p in ours.parameters()]
    mws = [micrograd.Value(w.data) for w in ws]

    def micro_forward(x):
        hidden = []
        for j in range(4):
            w0, w1, b = mws[3 * j : 3 * j + 3]
            hidden.append((b + w0 * x[0] + w1 * x[1]).relu())
        *wo, bo = mws[12:]
        return sum((w * h for w, h in zip(wo, hidden, strict=True)), bo)

    ys = [1 if v > 0 else -1 for v in data.y]
    micro_losses = []
    for k in range(5):
        scores = [micro_forward([micrograd.Value(c) for c in x]) for x in data.X]
        losses = [(1 + -y * s).relu() for y, s in zip(ys, scores, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in mws)
        for p in mws:
            p.grad = 0
        total.backward()
        for p in mws:
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        micro_losses.append(total.data)

    opt = SGD(ours.parameters(), lr=1.0)
    history = fit(
        ours, data, "hinge", opt, epochs=5, lr_schedule=LinearLR(opt, 100), l2=1e-4, verbose=False
    )
    assert history.train_loss == pytest.approx(micro_losses, rel=1e-12)
    assert [p.data for p in ours.parameters()] == pytest.approx([p.data for p in mws], rel=1e-12)


def test_full_batch_history_records_each_steps_own_loss_exactly():
    # Seeds where loss * 50 / 50 != loss for some steps, so a mean of one batch would show.
    data = moons(n=50, noise=0.1, seed=2).signed()
    by_hand, by_fit = MLP(2, [4, 1], seed=0), MLP(2, [4, 1], seed=0)
    opt = SGD(by_hand.parameters(), lr=0.5)
    losses = []
    for _ in range(4):
        loss = F.hinge([by_hand(x) for x in data.X], data.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    history = fit(by_fit, data, "hinge", SGD(by_fit.parameters(), lr=0.5), epochs=4, verbose=False)
    assert history.train_loss == losses  # exactly: no mean-of-one rounding


class Snapshots(Callback):
    """Keeps the weights at the end of every epoch."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, model, history):
        self.states[history.epoch[-1]] = model.state_dict()


def test_early_stopping_stops_and_restores_the_best_weights():
    train = moons(n=30, noise=0.1, seed=0)
    # Validation labels flipped: the better the model fits, the worse val_loss gets.
    val = (train.X, [1 - y for y in train.y])
    model = MLP(2, [8, 1], seed=0)
    snaps = Snapshots()
    stopper = EarlyStopping(monitor="val_loss", patience=3)
    history = fit(
        model,
        train,
        "hinge",
        SGD(model.parameters(), lr=0.2),
        epochs=50,
        val=val,
        callbacks=[snaps, stopper],
        verbose=False,
    )
    best = history.best_epoch("val_loss")
    assert history.stop_reason == "early_stopping"
    assert len(history) == best + 3 < 50
    assert stopper.best_epoch == best and history.restored_epoch == best
    assert model.state_dict() == snaps.states[best] != snaps.states[len(history)]
    val_loss, _ = evaluate(model, val, "hinge")
    assert val_loss == pytest.approx(history.val_loss[best - 1])


def test_early_stopping_patience_and_min_delta():
    stopper = EarlyStopping(monitor="train_loss", patience=2, min_delta=0.5, restore_best=False)
    history = History()
    model = MLP(1, [1])
    stopper.on_train_begin(model, history)
    stops = []
    for epoch, loss in enumerate([5.0, 4.8, 4.0, 3.9, 3.8], start=1):
        history.epoch.append(epoch)
        history.train_loss.append(loss)
        stops.append(stopper.on_epoch_end(model, history))
    # 4.8 is not 0.5 better than 5.0; 4.0 is; then two epochs without: stop at epoch 5.
    assert stops == [False, False, False, False, True]
    assert stopper.best == 4.0 and stopper.best_epoch == 3


def test_early_stopping_on_val_needs_val_data():
    model = MLP(2, [2, 1])
    with pytest.raises(ValueError, match="no val data"):
        fit(model, moons(n=10), epochs=2, callbacks=[EarlyStopping()], verbose=False)
    with pytest.raises(ValueError, match="monitor must be one of"):
        EarlyStopping(monitor="loss")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "l2"])
def test_weight_decay_shrinks_the_weight_norm(optimizer):
    data = moons(n=30, seed=1)
    norms = []
    for decay in (0.0, 0.05):
        model = MLP(2, [8, 1], seed=2)
        if optimizer == "sgd":
            opt, l2 = SGD(model.parameters(), lr=0.1, weight_decay=decay), 0.0
        elif optimizer == "adamw":
            opt, l2 = AdamW(model.parameters(), lr=0.05, weight_decay=10 * decay), 0.0
        else:
            opt, l2 = SGD(model.parameters(), lr=0.1), decay
        fit(model, data, "hinge", opt, epochs=30, l2=l2, verbose=False)
        norms.append(weight_norm(model))
    assert norms[1] < 0.9 * norms[0]


def test_dropout_is_used_in_training_and_not_in_evaluation():
    data = moons(n=20, seed=0)
    model = MLP(2, [16, 16, 1], dropout=0.5, seed=0)
    x = data.X[0]
    history = fit(
        model, data, "hinge", SGD(model.parameters(), lr=0.05), epochs=3, val=data, verbose=False
    )
    assert model.training  # fit leaves the model in training mode
    assert len({model(x).data for _ in range(6)}) > 1
    first = evaluate(model, data, "hinge")
    assert evaluate(model, data, "hinge") == first
    assert model.training
    # The validation numbers are the deterministic evaluation-mode ones.
    assert history.val_loss[-1] == first[0]


def test_multiclass_cross_entropy_learns_blobs():
    data = blobs(n=60, classes=3, noise=0.3, seed=0)
    model = MLP(2, [8, 3], seed=0)
    history = fit(
        model, data, "cross_entropy", AdamW(model.parameters(), lr=0.05), epochs=25, verbose=False
    )
    assert history.train_acc[-1] > 0.9
    assert evaluate(model, data, "cross_entropy")[1] > 0.9


def test_mini_batches_take_several_steps_per_epoch():
    class Counting(SGD):
        steps = 0

        def step(self):
            Counting.steps += 1
            super().step()

    data = moons(n=23, seed=0)
    model = MLP(2, [4, 1], seed=0)
    history = fit(
        model,
        data,
        "bce",
        Counting(model.parameters(), lr=0.1),
        epochs=3,
        batch_size=5,
        verbose=False,
    )
    assert Counting.steps == 3 * 5
    assert len(history) == 3


def test_lr_history_and_callable_loss():
    data = moons(n=10, seed=0)
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.4)
    seen = []

    def my_loss(outputs, targets):
        seen.append(len(outputs))
        return F.mse(outputs, targets)

    history = fit(
        model, data, my_loss, opt, epochs=4, lr_schedule=StepLR(opt, 2, 0.5), verbose=False
    )
    assert history.lr == [0.4, 0.4, 0.2, 0.2]
    assert seen == [10, 10, 10, 10]


def test_ctrl_c_returns_the_history_so_far():
    class Interrupt(Callback):
        ended = False

        def on_epoch_end(self, model, history):
            if history.epoch[-1] == 3:
                raise KeyboardInterrupt

        def on_train_end(self, model, history):
            Interrupt.ended = True

    model = MLP(2, [3, 1])
    history = fit(model, moons(n=10), epochs=10, callbacks=[Interrupt()], verbose=False)
    assert history.interrupted and history.stop_reason == "interrupted"
    assert history.epoch == [1, 2, 3]
    assert Interrupt.ended


def test_divergence_stops_before_nan_reaches_the_weights(capsys):
    model = MLP(2, [8, 8, 1], seed=0)
    history = fit(
        model,
        moons(n=20, seed=0),
        "mse",
        SGD(model.parameters(), lr=100.0),
        epochs=500,
        log_every=1000,
    )
    assert history.stop_reason == "diverged" and len(history) < 500
    assert all(math.isfinite(p.data) for p in model.parameters())
    assert "diverged" in capsys.readouterr().out


def test_verbose_prints_a_line_per_logged_epoch(capsys):
    model = MLP(2, [3, 1], seed=0)
    data = moons(n=10, seed=0)
    fit(model, data, epochs=6, val=data, log_every=3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["1/6", "3/6", "6/6"]
    assert "val_acc" in lines[0] and "lr 0.1" in lines[0]
    fit(model, data, epochs=2, verbose=False)
    assert capsys.readouterr().out == ""


def test_fit_argument_errors():
    model = MLP(2, [3, 1])
    data = moons(n=10)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit(model, data, epochs=0)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        fit(model, data, l2=-1.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        fit(model, data, loss="hing")
    with pytest.raises(ValueError, match=r"needs two classes.*cross_entropy"):
        fit(MLP(2, [3, 1]), blobs(n=9, classes=3), loss="hinge")


# History -----------------------------------------------------------------------------------------


def small_history():
    h = History()
    for e, (tl, vl) in enumerate([(1.0, 1.2), (0.5, 0.9), (0.25, 1.1)], start=1):
        h.epoch.append(e)
        h.train_loss.append(tl)
        h.train_acc.append(0.5 + 0.1 * e)
        h.val_loss.append(vl)
        h.val_acc.append(0.5)
        h.lr.append(0.1)
        h.time.append(0.01 * e)
    return h


def test_history_best_epoch():
    h = small_history()
    assert h.best_epoch("val_loss") == 2
    assert h.best_epoch("train_loss") == 3
    assert h.best_epoch("train_acc") == 3
    assert h.best_epoch("val_loss", mode="max") == 1
    with pytest.raises(ValueError, match="no val_loss values"):
        History(epoch=[1], val_loss=[None]).best_epoch()


def test_history_save_json_and_csv(tmp_path):
    h = small_history()
    h.train_loss[0] = math.nan  # not representable in JSON: saved as null
    h.save(tmp_path / "h.json")
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["epoch"] == [1, 2, 3] and doc["val_loss"] == [1.2, 0.9, 1.1]
    assert doc["train_loss"][0] is None and doc["interrupted"] is False
    h.save(tmp_path / "h.csv")
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert [float(r["val_loss"]) for r in rows] == [1.2, 0.9, 1.1]
    assert rows[0]["train_loss"] == "nan"  # CSV spells it out; an empty cell is None
    assert list(rows[0]) == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "time",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "h.json"]  # no temp files
    with pytest.raises(ValueError, match=r"\.json or \.csv"):
        h.save(tmp_path / "h.txt")


def test_the_progress_bar_shows_on_a_terminal_and_in_jupyter_only(monkeypatch):
    import io
    import sys

    from nn import train

    class KernelStream(io.StringIO):  # what a Jupyter kernel's sys.stdout looks like
        pass

    KernelStream.__module__ = "ipykernel.iostream"
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # redirected: no bar
    assert train._progress_bar(3, verbose=True) is None
    monkeypatch.setattr(sys, "stdout", KernelStream())
    assert train._progress_bar(3, verbose=False) is None
    bar = train._progress_bar(3, verbose=True)
    assert bar is not None and bar.total == 3
    bar.close()
