"""The backprop player: its frames are the engine's numbers, and its page stands alone."""

from __future__ import annotations

import base64
import json
import re

import pytest

import autograd
from autograd import Value, backward_steps, topological_order
from autograd.player import Player, format_number


def _mlp_loss():
    from nn import MLP

    model = MLP(2, [2, 1], activation="tanh", seed=0)
    X, y = [[1.0, -0.5], [-0.3, 0.8]], [1.0, -1.0]
    loss = sum(((model(x) - t) ** 2 for x, t in zip(X, y, strict=True)), start=0.0) * 0.5
    loss.label = "loss"
    return model, loss


def test_the_last_step_shows_every_grad_that_backward_computes(readme_graph):
    _, _, g = readme_graph(backward=False)
    player = Player(g)
    data, grads = player.state(player.steps)
    g.backward()
    order = topological_order(g)
    assert set(grads) == set(order) and set(data) == set(order)
    for v in order:
        assert grads[v] == v.grad  # exactly: the same pass, not a second computation
        assert data[v] == v.data


def test_the_last_step_of_an_mlp_loss_matches_backward():
    model, loss = _mlp_loss()
    player = Player(loss, module=model)
    _, grads = player.state(player.steps)
    model.zero_grad()
    loss.backward()
    for v in topological_order(loss):
        assert grads[v] == v.grad


def test_steps_run_forward_in_tape_order_then_the_seed_then_the_engines_backward(readme_graph):
    _, _, g = readme_graph(backward=False)
    player = Player(g)
    order = topological_order(g)
    assert player.state(0) == ({}, {})
    assert player.frames[0].phase == "start"
    forward = player.frames[1 : len(order) + 1]
    assert [f.node for f in forward] == order
    assert all(f.phase == "forward" and f.data == {f.node: f.node.data} for f in forward)
    seed = player.frames[len(order) + 1]
    assert seed.phase == "seed" and seed.grads == {g: 1.0}
    backward = player.frames[len(order) + 2 :]
    recorded = list(backward_steps(g))  # the step-through's own record of the same pass
    assert len(backward) == len(recorded) == player.steps - len(order) - 1
    for frame, step in zip(backward, recorded, strict=True):
        assert frame.phase == "backward" and frame.node is step.node
        assert [e[3] for e in frame.edges] == list(step.local)
        assert [e[4] for e in frame.edges] == list(step.contributions)
        assert [e[0] for e in frame.edges] == list(step.parents)
    # Halfway through the forward pass only the first nodes have data, and no grads.
    data, grads = player.state(5)
    assert list(data) == order[:5] and grads == {}


def test_a_node_used_twice_shows_its_grad_as_the_sum_of_what_it_received():
    x = Value(3.0, label="x")
    y = x * x + x  # x reaches y by three edges: both operands of x*x, and the add
    y.label = "y"
    player = Player(y)
    summed = [f for f in player.frames if x in f.sums]
    assert summed, "no frame shows x's grad adding up"
    last = summed[-1]
    assert len(last.sums[x]) == 3
    assert sum(last.sums[x]) == pytest.approx(7.0)  # dy/dx = 2x + 1
    y.backward()
    assert last.grads[x] == x.grad == 7.0
    # a * a: one step gives x both of its contributions, one per operand slot.
    mul = next(f for f in player.frames if f.phase == "backward" and f.node.op == "mul")
    assert [(e[0], e[2]) for e in mul.edges] == [(x, 0), (x, 1)]
    assert any("x is used 2 times" in line for line in mul.lines)


def test_making_a_player_leaves_every_grad_as_it_was(readme_graph):
    a, b, g = readme_graph(backward=True)  # the leaves already hold a gradient
    before = {v: v.grad for v in topological_order(g)}
    player = Player(g)
    assert {v: v.grad for v in topological_order(g)} == before
    # The player shows one pass from zero grads: d g / d a, not the sum of two passes.
    _, grads = player.state(player.steps)
    assert grads[a] == pytest.approx(138.8338, abs=1e-4)
    assert grads[b] == pytest.approx(645.5773, abs=1e-4)


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(TypeError, match=r"Player: root must be a Value, got float 3\.0"):
        Player(3.0)
    with pytest.raises(ValueError, match="precision must be an int from 0 to 15, got 20"):
        Player(Value(1.0), precision=20)
    with pytest.raises(ValueError, match="rankdir"):
        Player(Value(1.0), rankdir="XY")
    with pytest.raises(ValueError, match="k must be an int from 0 to"):
        Player(Value(1.0) * 2).state(99)
    y = Value(1.0)
    for _ in range(2000):
        y = y * 1.0  # 4,001 nodes: the product and its constant each time
    with pytest.raises(ValueError, match=r"the graph has 4,001 nodes, more than 3,000"):
        Player(y)


def test_a_leaf_alone_has_one_forward_step_and_the_seed():
    x = Value(2.0, label="x")
    player = Player(x)
    assert player.steps == 2
    assert player.state(2) == ({x: 2.0}, {x: 1.0})


def test_the_package_exports_player_and_play_lazily():
    assert autograd.Player is Player
    assert isinstance(autograd.play(Value(1.0) + 1), Player)


# The page ---------------------------------------------------------------------------------


def _payload(html: str) -> dict:
    m = re.search(r"tapegradStartPlayer\(document\.getElementById\(\"[^\"]+\"\), (\{.*\})\);", html)
    assert m, "no player data in the page"
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.mark.renderer
def test_the_page_is_self_contained(readme_graph, tmp_path):
    _, _, g = readme_graph(backward=False)
    player = Player(g)
    html = player.to_html()
    assert not re.search(r"https?://", html), "the page names a URL"
    assert "<script src" not in html and "<link" not in html
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1 and "window.tapegradPlayer = api" in scripts[0]
    assert "<style>" in html
    # Every drawn Value carries data-node (its place on the tape) and data-label.
    order = topological_order(g)
    marked = re.findall(r'data-node="(\d+)" data-label="([^"]*)"', html)
    assert sorted(int(i) for i, _ in marked) == list(range(len(order)))
    assert all(order[int(i)].label == label for i, label in marked)
    # The numbers the page shows are Python's, formatted once.
    payload = _payload(html)
    assert payload["steps"] == player.steps == len(payload["frames"]) - 1
    last = {}
    for frame in payload["frames"]:
        last.update(frame["grad"])
    g.backward()
    assert {int(i): t for i, t in last.items()} == {
        i: format_number(v.grad) for i, v in enumerate(order)
    }
    # Without scripts the page is the picture of the last step, with no controls showing.
    assert 'class="tgp-controls" hidden' in html
    assert "grad 138.8338" in html and "grad 645.5773" in html  # dg/da and dg/db
    out = player.save_html(tmp_path / "p.html")
    assert (tmp_path / "p.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert out == str(tmp_path / "p.html")
    assert [p.name for p in tmp_path.iterdir()] == ["p.html"]  # no temporary file left


def test_save_html_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        Player(Value(1.0) + 1).save_html(tmp_path)


@pytest.mark.renderer
def test_the_notebook_display_has_the_player_and_a_png_for_viewers_without_scripts():
    model, loss = _mlp_loss()
    bundle = Player(loss, module=model)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    # Without scripts a PNG <img> of the last step shows; the script swaps in the player.
    png = re.search(
        r'<div class="tgp-static"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', html
    )
    assert png is not None
    assert base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        '<div class="tgp-graph" hidden>' in html
        and '.querySelector(".tgp-static").remove()' in html
    )
    assert "<!doctype" not in html  # a fragment inside the notebook's page
    assert '"standalone":false' in html
    assert html.count("data-cluster") >= 2  # the neuron boxes, which collapse on a click


def test_numbers_are_formatted_as_in_the_pictures():
    assert format_number(-0.0) == "0.0000"
    assert format_number(2.5) == "2.5000"
    assert format_number(1e-7) == "1.0000e-07"
    assert format_number(float("nan")) == "nan"


@pytest.mark.renderer
def test_tapegrad_graph_writes_the_player_page(tmp_path, capsys):
    from nn.cli import main

    page_file = tmp_path / "g.html"
    argv = ["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "--html", str(page_file)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "d/dw = 1.0019" in out and f"wrote {page_file}" in out
    html = page_file.read_text(encoding="utf-8")
    assert "tanh(x*w + b): backpropagation step by step" in html
    assert not re.search(r"https?://", html)
    # The leaves' grads at the last step: dout/dx = w (1 - tanh^2), and so on.
    last = {}
    for frame in _payload(html)["frames"]:
        last.update(frame["grad"])
    assert sorted(last.values()) == sorted(
        ["-1.5029", "1.0019", "0.5010", "0.5010", "0.5010", "1.0000"]
    )


def test_tapegrad_graph_refuses_a_folder_for_html(tmp_path, capsys):
    from nn.cli import main

    assert main(["graph", "x*2", "x=1", "--html", str(tmp_path)]) == 1
    assert f"--html {str(tmp_path)!r} is a folder" in capsys.readouterr().err
