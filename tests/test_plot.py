"""Plots: training curves, decision boundaries and activations, saved as real PNG files."""

from __future__ import annotations

import math
import struct
from types import SimpleNamespace

import pytest

from autograd import Value, is_grad_enabled
from nn.plot import (
    activation_curves,
    decision_grid,
    plot_activations,
    plot_decision_boundary,
    plot_history,
)

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=200):
    data = path.read_bytes()
    assert data[:8] == PNG
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_width and height >= 100


def history(**overrides):
    h = {
        "epoch": [1, 2, 3, 4],
        "train_loss": [1.0, 0.6, 0.4, 0.3],
        "train_acc": [0.5, 0.7, 0.8, 0.9],
        "val_loss": [1.1, 0.7, 0.5, 0.45],
        "val_acc": [0.4, 0.6, 0.75, 0.8],
        "lr": [0.1] * 4,
        "time": [0.1, 0.2, 0.3, 0.4],
    }
    h.update(overrides)
    return h


# plot_history ------------------------------------------------------------------


def test_history_plot_has_loss_and_accuracy_panels(tmp_path):
    fig = plot_history(history(), tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    train, val = loss_ax.get_lines()
    assert list(train.get_xdata()) == [1, 2, 3, 4]
    assert list(val.get_ydata()) == [1.1, 0.7, 0.5, 0.45]
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == [
        "train accuracy",
        "validation accuracy",
    ]


def test_history_object_without_validation(tmp_path):
    h = SimpleNamespace(**history(val_loss=[None] * 4, val_acc=[None] * 4))
    fig = plot_history(h)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.get_lines()) == 1 and len(acc_ax.get_lines()) == 1


def test_history_without_accuracy_or_epochs_has_one_panel():
    fig = plot_history({"train_loss": [3.0, 2.0], "val_loss": []})
    (ax,) = fig.axes
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2]


def test_history_gaps_are_skipped():
    fig = plot_history(history(val_loss=[None, 0.7, None, 0.45]))
    val = fig.axes[0].get_lines()[1]
    assert list(val.get_xdata()) == [2, 4] and list(val.get_ydata()) == [0.7, 0.45]


def test_bad_histories_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no epochs"):
        plot_history({"train_loss": []})
    with pytest.raises(ValueError, match="val_loss has 2 entries but train_loss has 4"):
        plot_history(history(val_loss=[1.0, 2.0]))
    with pytest.raises(TypeError, match="expected a History or a dict"):
        plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match=r"path must end in one of \.png, \.svg, \.pdf"):
        plot_history(history(), tmp_path / "h.jpg")
    assert list(tmp_path.iterdir()) == []


# Decision boundary ------------------------------------------------------------------

X = [[-1.0, -1.0], [-0.5, 0.5], [0.5, -0.5], [1.0, 1.0]]
Y = [-1, -1, 1, 1]


def test_decision_grid_thresholds_a_single_score_under_no_grad():
    seen = []

    def model(p):
        seen.append(is_grad_enabled())
        return Value(p[0]) * 2.0  # positive right of x1 = 0

    xs, ys, classes = decision_grid(model, (X, Y), resolution=11, margin=0.0)
    assert xs[0] == -1.0 and xs[-1] == 1.0 and len(ys) == 11
    assert seen and not any(seen)
    for row in classes:
        assert row == [1 if x > 0 else 0 for x in xs]


def test_decision_grid_multiclass_takes_the_argmax_and_accepts_a_dataset():
    data = SimpleNamespace(X=X, y=[0, 1, 2, 2])

    def model(p):  # class 0 left, 1 middle, 2 right
        return [Value(-p[0]), Value(0.25 - abs(p[0])), Value(p[0])]

    xs, _, classes = decision_grid(model, data, resolution=9, margin=0.0)
    expected = [max(range(3), key=[-x, 0.25 - abs(x), x].__getitem__) for x in xs]
    assert all(row == expected for row in classes)
    assert set(expected) == {0, 1, 2}


def test_decision_grid_predicts_in_eval_mode_and_restores_training():
    import nn

    model = nn.MLP(2, [16, 1], dropout=0.5, seed=3).train()
    data = ([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    first = decision_grid(model, data, resolution=6)[2]
    second = decision_grid(model, data, resolution=6)[2]
    assert first == second  # dropout off: the same picture twice
    assert model.training is True


def test_decision_boundary_png(tmp_path):
    fig = plot_decision_boundary(
        lambda p: Value(p[0]) + Value(p[1]), (X, Y), tmp_path / "b.png", resolution=20
    )
    assert_png(tmp_path / "b.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class -1", "class 1"]


def test_bad_decision_inputs_are_refused():
    with pytest.raises(ValueError, match="resolution must be an int from 2 to 1000"):
        decision_grid(lambda p: Value(0.0), (X, Y), resolution=1)
    with pytest.raises(ValueError, match="needs 2-D points"):
        decision_grid(lambda p: Value(0.0), ([[1.0, 2.0, 3.0]], [1]))
    with pytest.raises(ValueError, match="1 points but 2 labels"):
        decision_grid(lambda p: Value(0.0), ([[1.0, 2.0]], [1, 0]))
    with pytest.raises(TypeError, match="data must be"):
        decision_grid(lambda p: Value(0.0), 5)
    with pytest.raises(TypeError, match="must return a Value or a list of Values"):
        decision_grid(lambda p: "yes", (X, Y), resolution=2)


# Activations -------------------------------------------------------------------------


def test_activation_derivatives_come_from_backward_and_match_the_formulas():
    curves = activation_curves(-3.0, 3.0, 61)
    assert list(curves) == ["relu", "sigmoid", "tanh", "leaky_relu(0.1)"]
    for name, (xs, ys, ds) in curves.items():
        for x, y, d in zip(xs, ys, ds, strict=True):
            if name == "relu":
                assert (y, d) == (max(x, 0.0), 1.0 if x > 0 else 0.0)
            elif name == "sigmoid":
                s = 1 / (1 + math.exp(-x))
                assert y == pytest.approx(s) and d == pytest.approx(s * (1 - s))
            elif name == "tanh":
                assert d == pytest.approx(1 - math.tanh(x) ** 2)
            else:
                assert (y, d) == ((x, 1.0) if x > 0 else (0.1 * x, 0.1))


def test_activations_png(tmp_path):
    fig = plot_activations(tmp_path / "a.png")
    assert_png(tmp_path / "a.png", min_width=800)
    assert [ax.get_title() for ax in fig.axes] == ["relu", "sigmoid", "tanh", "leaky_relu(0.1)"]
    assert all(len(ax.get_lines()) >= 2 for ax in fig.axes)


def test_decision_boundaries_side_by_side_in_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, 2)
    data = ([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    for ax, sign in zip(axes, (1, -1), strict=True):
        out = plot_decision_boundary(lambda p, s=sign: Value(s * (p[0] - 0.5)), data, ax=ax)
        assert out is fig
    assert all(ax.collections for ax in axes)  # each panel has its regions and points
    assert len(fig.axes) == 2
