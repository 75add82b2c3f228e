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
    args = ["train", "--epochs", "2", "--samples", "20", "--hidden", "4", "--quiet"]
    with pytest.warns(_train_cmd.TrainNotice, match=r'pip install "tapegrad\[notebooks\]"'):
        status = main([*args, "--out", str(tmp_path)])  # from Python: a warning, even --quiet
    assert status == 0
    assert "pip install" not in capsys.readouterr().out  # never on stdout
    # training.html and network.svg need no matplotlib: both draw their own SVG.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "history.json",
        "model.json",
        "network.svg",
        "training.html",
    ]


def test_on_the_command_line_a_notice_is_one_plain_line_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["tapegrad", "train", "--epochs", "1", *FAST[:4], "--quiet", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    assert main() == 0
    captured = capsys.readouterr()
    notice = 'no plots: matplotlib is not installed (pip install "tapegrad[notebooks]")'
    assert captured.err == f"tapegrad: notice: {notice}\n"
    assert "notice" not in captured.out


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
        ["--hidden", "50000000"],
        ["--dataset", "spiral", "--classes", "100000000"],
        ["--samples", "200000000"],
        ["--hidden", "2000,2000"],
        ["--l2", "1e308"],
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


def test_every_option_has_help_text():
    from nn.cli import build_parser

    parser = build_parser(("train",))
    train = parser._subparsers._group_actions[0].choices["train"]
    missing = [a.option_strings for a in train._actions if not a.help]
    assert missing == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--hidden", "50000000"], "at most 10,000 neurons per layer"),
        (["--dataset", "spiral", "--classes", "100000000"], "--classes: at most 100 is"),
        (["--samples", "200000000"], "--samples: at most 100,000 is"),
        (["--hidden", "2000,2000"], "4,010,001 parameters; at most 1,000,000"),
        (["--l2", "1e308"], "--l2 1e+308: the penalty l2 * sum(p^2) is inf"),
        (["--out", ""], "--out must name a folder"),
    ],
)
def test_sizes_past_the_bounds_and_bad_values_are_refused_at_once(args, says, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert says in err
    assert "--lr" not in err.split("error:")[1]  # --l2 1e308 is not the learning rate's fault


def test_bounds_are_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--samples <= 100,000" in out and "<= 1,000,000 parameters" in out
    assert "replaced as a whole" in out


def _run_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_second_run_replaces_the_folder_never_mixes_two_runs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", *FAST, "--out", str(out)]) == 0
    assert _run_files(out) == ["history.json", "model.json", "training.html"]
    assert (
        main(["train", "--epochs", "1", *FAST, "--history-format", "csv", "--out", str(out)]) == 0
    )
    # no history.json of the first run
    assert _run_files(out) == ["history.csv", "model.json", "training.html"]
    assert _run_files(tmp_path) == ["run"]  # no staging folder left beside it


def test_a_run_that_fails_leaves_the_previous_run_untouched(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", *FAST, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_fit(*args, **kwargs):
        raise RuntimeError("a bug in training")

    monkeypatch.setattr(_train_cmd, "fit", broken_fit)
    with pytest.raises(RuntimeError):
        main(["train", "--epochs", "1", *FAST, "--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _run_files(tmp_path) == ["run"]


def test_a_diverged_run_writes_history_and_model_says_why_and_exits_1(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--l2", "0", "--lr", "1e200", "--activation", "leaky_relu", "--epochs", "8"]
    assert main(["train", *args, *FAST, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "training diverged after 1 epoch: epoch 2: the loss overflowed" in err
    assert "Try a smaller learning rate" in err
    assert f"wrote {out / 'history.json'}" in err
    history = json.loads((out / "history.json").read_text())
    assert history["stop_reason"] == "diverged" and history["epoch"] == [1]
    assert "model.json" in _run_files(out) or "no model (its weights are not finite)" in err


def test_divergence_from_a_huge_l2_is_blamed_on_l2(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--l2", "1e300", "--epochs", "5", *FAST, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "--l2 1e+300 is too large for --lr 1" in err and "use a smaller --l2" in err
    assert "smaller --lr" not in err
    assert (out / "history.json").exists()


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path, capsys):
    folder = tmp_path / "mine"
    (folder / "model.json").mkdir(parents=True)  # a folder where a file would go
    (folder / "notes.txt").write_text("keep me")
    assert main(["train", "--epochs", "1", *FAST, "--out", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "holds files that are not from a tapegrad run (model.json/, notes.txt)" in err
    assert "Traceback" not in err
    assert (folder / "notes.txt").read_text() == "keep me"
    assert _run_files(tmp_path) == ["mine"]


def test_an_output_folder_under_a_file_is_a_clear_error_exit_1(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--epochs", "1", *FAST, "--out", str(tmp_path / "afile" / "run")]) == 1
    err = capsys.readouterr().err
    assert f"cannot write the output folder {tmp_path / 'afile' / 'run'}" in err
    assert f"{tmp_path / 'afile'} is a file" in err


def test_a_folder_that_cannot_be_written_is_exit_1_in_a_subprocess(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run_module("train", "--epochs", "1", *FAST, "--out", "afile/run", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("tapegrad train: cannot write the output folder")
    assert "Traceback" not in result.stderr


def test_the_divergence_reason_uses_fits_message_and_blames_l2_when_l2_is_the_cause():
    from types import SimpleNamespace

    said = (
        "epoch 2: the loss is inf; training diverged (the weights are those before the step "
        "that diverged). Try a smaller learning rate (now 1), or a smaller l2 (now 1e+300)"
    )
    sgd = SimpleNamespace(l2=1e300, optimizer="sgd")
    reason = _train_cmd._divergence_reason(sgd, 1.0, SimpleNamespace(stop_message=said))
    assert reason.startswith("epoch 2: the loss is inf; training diverged (the weights")
    assert "--l2 1e+300 is too large for --lr 1" in reason and "learning rate" not in reason
    small_l2 = SimpleNamespace(l2=1e-4, optimizer="sgd")
    assert (
        _train_cmd._divergence_reason(small_l2, 1e200, SimpleNamespace(stop_message=said)) == said
    )
    no_message = SimpleNamespace()  # a History without stop_message
    reason = _train_cmd._divergence_reason(small_l2, 1e200, no_message)
    assert reason == "try a smaller --lr (now 1e+200)"
