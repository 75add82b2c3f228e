"""Training you can watch: LiveView redraws in place, Recorder and training.html replay the run."""

from __future__ import annotations

import base64
import json
import re

import pytest

from nn import MLP, SGD, fit, moons, xor
from nn.live import LiveView, panels_svg
from nn.netview import NEGATIVE, POSITIVE
from nn.replay import Recorder, write_training_html


class Handle:
    """A display handle as IPython returns it: it is updated with each new picture."""

    def __init__(self) -> None:
        self.shown = []
        self.updates = []

    def show(self, picture, display_id):
        assert display_id is True
        self.shown.append(picture._repr_mimebundle_())
        return self

    def update(self, picture) -> None:
        self.updates.append(picture._repr_mimebundle_())


def _train(epochs=8, callbacks=(), data=None):
    data = data if data is not None else moons(40, noise=0.1, seed=1)
    model = MLP(2, [4, 1], seed=0)
    history = fit(
        model,
        data,
        optimizer=SGD(model.parameters(), lr=0.5),
        epochs=epochs,
        callbacks=list(callbacks),
        verbose=False,
    )
    return model, data, history


def test_the_live_view_replaces_one_picture_in_place_and_ends_on_the_last_epoch():
    handle = Handle()
    data = moons(40, noise=0.1, seed=1)
    view = LiveView(data, display=handle.show)
    model, _, history = _train(8, [view], data)
    assert len(handle.shown) == 1  # one display, then updates of it
    assert len(handle.updates) == view.redraws >= 2  # at least the first epoch and the last
    last = handle.updates[-1]
    assert set(last) == {"text/html", "text/plain"}
    assert last["text/plain"].startswith(f"epoch 8: loss {history.train_loss[-1]:.4g}")
    # The picture is an <img> of the SVG, which untrusted notebooks show too.
    src = re.fullmatch(
        r'<img alt="[^"]*" src="data:image/svg\+xml;base64,([^"]+)">', last["text/html"]
    )
    assert src is not None
    svg = base64.b64decode(src.group(1)).decode("utf-8")
    assert svg.startswith("<svg xmlns=") and "decision boundary (epoch 8)" in svg
    # One point per sample on the boundary, coloured by class.
    assert svg.count('r="2.6"') == len(data)
    # The network: a line per weight (2*4 + 4*1), in draw_network's colour for a positive weight.
    weights = [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    lines = re.findall(r'<line [^>]*stroke="(#[0-9a-f]+)"[^>]*stroke-opacity', svg)
    assert len(lines) == len(weights) == 12
    assert lines.count(POSITIVE) == sum(w > 0 for w in weights)
    assert lines.count(NEGATIVE) == sum(w <= 0 for w in weights)


def test_the_drawing_budget_holds_redraws_back():
    handle = Handle()
    data = moons(40, noise=0.1, seed=1)
    view = LiveView(data, display=handle.show, budget=1e-9)
    _train(8, [view], data)
    # The first epoch (nothing measured yet) and the final picture, nothing between.
    assert view.redraws == 2
    assert [u["text/plain"].split(":")[0] for u in handle.updates] == ["epoch 1", "epoch 8"]


def test_the_live_view_without_2d_data_draws_the_curves_only():
    view = LiveView(display=Handle().show)
    _train(3, [view])
    assert "decision boundary" not in view.picture.svg and "accuracy" in view.picture.svg


def test_outside_a_notebook_the_live_view_shows_nothing_and_costs_little(capsys):
    view = LiveView(moons(40, noise=0.1, seed=1))
    _train(3, [view])
    assert capsys.readouterr().out == ""
    assert view.redraws >= 1 and view.picture is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"every": 0}, "every must be a positive int, got 0"),
        ({"resolution": 1}, "resolution must be an int >= 2, got 1"),
        ({"budget": 0}, r"budget must be a number in \(0, 1\], got 0"),
    ],
)
def test_bad_live_view_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LiveView(**kwargs)


def test_panels_are_drawn_from_the_history_numbers():
    _, _, history = _train(5)
    svg = panels_svg(history, namespace=False)
    assert "xmlns" not in svg
    # The loss axis is labelled with the run's largest loss.
    assert f">{max(history.train_loss):.4g}</text>" in svg


# The replay ---------------------------------------------------------------------------------


def _rows(html: str) -> list[dict]:
    m = re.search(
        r"tapegradStartTraining\(document\.getElementById\(\"[^\"]+\"\), (\{.*\})\);", html
    )
    assert m
    return json.loads(m.group(1))


def test_the_recorded_run_is_one_self_contained_page(tmp_path):
    recorder = Recorder()
    model, data, history = _train(6, [recorder])
    assert sorted(recorder.states) == list(range(7))  # epoch 0 (the start) to 6
    final = model.state_dict()
    path = write_training_html(history, model, data, tmp_path / "training.html", recorder.states)
    assert model.state_dict() == final  # drawing old epochs puts the weights back
    html = (tmp_path / "training.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert "<script src" not in html and "<link" not in html
    payload = _rows(html)
    assert [r["epoch"] for r in payload["rows"]] == history.epoch
    assert [r["loss"] for r in payload["rows"]] == [f"{x:.4f}" for x in history.train_loss]
    assert payload["shown"] == list(range(1, 7))  # a boundary for every epoch: few of them
    assert html.count('class="tgt-boundary"') == 6
    assert path == str(tmp_path / "training.html")
    assert [p.name for p in tmp_path.iterdir()] == ["training.html"]


def test_without_recorded_weights_the_page_shows_the_final_boundary(tmp_path):
    model, data, history = _train(4)
    write_training_html(history, model, data, tmp_path / "t.html")
    payload = _rows((tmp_path / "t.html").read_text(encoding="utf-8"))
    assert payload["shown"] == [4]


def test_many_epochs_draw_at_most_max_frames_boundaries(tmp_path):
    recorder = Recorder()
    model, data, history = _train(12, [recorder], data=xor(30, seed=2))
    write_training_html(history, model, data, tmp_path / "t.html", recorder.states, max_frames=4)
    shown = _rows((tmp_path / "t.html").read_text(encoding="utf-8"))["shown"]
    assert len(shown) == 4 and shown[0] == 1 and shown[-1] == 12


def test_write_training_html_refuses_bad_input(tmp_path):
    from nn import History

    model, data, history = _train(2)
    with pytest.raises(ValueError, match="the history has no epochs"):
        write_training_html(History(), model, data, tmp_path / "t.html")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_training_html(history, model, data, tmp_path)
    with pytest.raises(ValueError, match="max_frames must be an int >= 2, got 1"):
        write_training_html(history, model, data, tmp_path / "t.html", max_frames=1)
