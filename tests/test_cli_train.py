"""``tapegrad train``: end to end in a temp folder, outputs, plots or a hint, bad args, Ctrl-C."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

import nn
from nn import _train_cmd
from nn.cli import main

FAST = ["--samples", "20", "--hidden", "4", "--no-plots", "--quiet"]
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_module(*args, cwd):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "nn", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_nn_help(tmp_path):
    result = run_module("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "train" in result.stdout and "graph" in result.stdout
    result = run_module("train", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--dataset", "--hidden", "--optimizer", "--early-stopping", "--out"):
        assert option in result.stdout
    assert "--compile" in result.stdout and "compiled tapes" in result.stdout


def test_train_end_to_end_in_a_subprocess(tmp_path):
    result = run_module(
        "train", "--epochs", "3", "--samples", "20", "--no-plots", "--out", "run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "epoch 3/3" in result.stdout and "train accuracy" in result.stdout
    model = nn.load(tmp_path / "run" / "model.json")
    assert model.nouts == [16, 16, 1]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    assert history["lr"][0] == 1.0  # micrograd's schedule: 1.0 - 0.9 k / epochs
    assert history["lr"][1] == pytest.approx(1.0 - 0.9 / 3)


def test_default_run_is_micrograds_demo_and_reaches_100_percent(tmp_path, capsys):
    status = main(["train", "--out", str(tmp_path), "--no-plots"])
    out = capsys.readouterr().out
    assert status == 0
    assert "moons, 100 points" in out and "337 params" in out
    assert "epoch 100/100" in out
    assert "train accuracy 100.0%" in out
    assert str(tmp_path / "model.json") in out
    assert nn.load(tmp_path / "model.json").num_parameters() == 337


def test_compile_flag_trains_on_tapes_with_the_eager_numbers(tmp_path, capsys):
    common = ["train", "--epochs", "4", "--samples", "30", "--hidden", "8,8", "--no-plots"]
    assert main([*common, "--out", str(tmp_path / "eager")]) == 0
    eager_out = capsys.readouterr().out
    assert main([*common, "--compile", "--out", str(tmp_path / "compiled")]) == 0
    out = capsys.readouterr().out
    assert "full batch, compiled" in out and "full batch, compiled" not in eager_out
    assert "fit: compiled the training step into 4 tapes" in out
    assert "epoch 4/4" in out and "train accuracy" in out
    eager = json.loads((tmp_path / "eager" / "history.json").read_text())
    compiled = json.loads((tmp_path / "compiled" / "history.json").read_text())
    assert compiled["train_acc"] == eager["train_acc"] and compiled["lr"] == eager["lr"]
    assert compiled["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-12)
    a = nn.load(tmp_path / "eager" / "model.json").parameters()
    b = nn.load(tmp_path / "compiled" / "model.json").parameters()
    scale = max(abs(p.data) for p in a)
    assert all(abs(p.data - q.data) <= 1e-12 * scale for p, q in zip(a, b, strict=True))


def test_no_subcommand_means_train(tmp_path, capsys):
    assert main(["--epochs", "1", *FAST, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "model.json").exists()


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_plots_are_written_with_matplotlib(tmp_path, capsys):
    status = main(
        [
            "train",
            "--epochs",
            "2",
            "--samples",
            "20",
            "--hidden",
            "4",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    for name in ("loss.png", "decision_boundary.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "decision_boundary.png" in capsys.readouterr().out


def test_without_matplotlib_it_finishes_and_says_how_to_get_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    status = main(
        ["train", "--epochs", "2", "--samples", "20", "--hidden", "4", "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert 'pip install "tapegrad[notebooks]"' in out
    # training.html needs no matplotlib: the replay draws its own SVG.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.json",
        "model.json",
        "training.html",
    ]


def test_multiclass_dataset_uses_k_outputs_and_cross_entropy(tmp_path, capsys):
    status = main(
        [
            "train",
            "--dataset",
            "spiral",
            "--classes",
            "4",
            "--epochs",
            "2",
            "--optimizer",
            "adam",
            *FAST[:4],
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    assert "loss cross_entropy" in capsys.readouterr().out
    assert nn.load(tmp_path / "model.json").nouts == [4, 4]


def test_options_reach_the_model_and_the_history(tmp_path):
    status = main(
        [
            "train",
            "--dataset",
            "circles",
            "--epochs",
            "4",
            "--optimizer",
            "adamw",
            "--lr",
            "0.02",
            "--dropout",
            "0.2",
            "--activation",
            "tanh",
            "--batch-size",
            "8",
            "--early-stopping",
            "2",
            "--history-format",
            "csv",
            "--schedule",
            "none",
            *FAST,
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    model = nn.load(tmp_path / "model.json")
    assert model.architecture()["activation"] == ["tanh", "linear"]
    assert model.dropout.p == 0.2
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,train_loss")
    row = lines[1].split(",")
    assert row[3] != ""  # early stopping held out validation data
    assert float(row[5]) == 0.02


def test_ctrl_c_saves_what_was_trained_and_exits_130(tmp_path, monkeypatch, capsys):
    real_fit = _train_cmd.fit

    class Interrupt(nn.Callback):
        def on_epoch_end(self, model, history):
            if history.epoch[-1] == 2:
                raise KeyboardInterrupt

    def fit_then_ctrl_c(*args, callbacks=(), **kwargs):
        return real_fit(*args, callbacks=[*callbacks, Interrupt()], **kwargs)

    monkeypatch.setattr(_train_cmd, "fit", fit_then_ctrl_c)
    status = main(["train", "--epochs", "50", *FAST, "--out", str(tmp_path)])
    assert status == 130
    assert "interrupted after 2 epochs" in capsys.readouterr().err
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["interrupted"] is True and history["epoch"] == [1, 2]
    assert nn.load(tmp_path / "model.json").nouts == [4, 1]


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "0"],
        ["--lr", "-1"],
        ["--lr", "nan"],
        ["--dropout", "1"],
        ["--dropout", "-0.1"],
        ["--epochs", "0"],
        ["--epochs", "2.5"],
        ["--hidden", "16,x"],
        ["--hidden", "16,0"],
        ["--dataset", "mnist"],
        ["--optimizer", "rmsprop"],
        ["--classes", "4"],
        ["--dataset", "spiral", "--classes", "1"],
        ["--dataset", "spiral", "--loss", "hinge"],
        ["--loss", "cross_entropy"],
        ["--optimizer", "adam", "--momentum", "0.9"],
        ["--compile", "--dropout", "0.2"],
        ["--momentum", "1.0"],
        ["--val-fraction", "1.5"],
        ["--weight-decay", "-1"],
        ["--batch-size", "0"],
        ["--samples", "1"],
        ["--unknown-option"],
    ],
)
def test_bad_arguments_exit_2_with_usage(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "error:" in err
    assert not (tmp_path / "out").exists()


def test_out_that_is_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["train", *FAST, "--out", str(tmp_path / "file")])
    assert exc.value.code == 2
    assert "not a folder" in capsys.readouterr().err


def test_bad_arguments_exit_2_in_a_subprocess(tmp_path):
    result = run_module("train", "--lr", "-0.5", cwd=tmp_path)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "--lr" in result.stderr and "-0.5" in result.stderr
