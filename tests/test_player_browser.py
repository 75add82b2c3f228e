"""The exported player page in headless Chromium: it steps to the engine's gradients, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import chromium_page, screenshot
from conftest import build_readme_graph

from autograd import topological_order
from autograd.player import Player, format_number

pytestmark = [pytest.mark.browser, pytest.mark.renderer]


def shots_folder(tmp_path) -> Path:
    """Where screenshots go: $TAPEGRAD_SCREENSHOTS (to keep and look at them), else tmp_path."""
    folder = Path(os.environ.get("TAPEGRAD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _mlp_loss():
    from nn import MLP

    model = MLP(2, [2, 1], activation="tanh", seed=0)
    X, y = [[1.0, -0.5], [-0.3, 0.8]], [1.0, -1.0]
    loss = sum(((model(x) - t) ** 2 for x, t in zip(X, y, strict=True)), start=0.0) * 0.5
    loss.label = "loss"
    return model, loss


def _nodes(page) -> list[dict]:
    return page.evaluate(
        """[...document.querySelectorAll('[data-node]')].map(g => ({
            node: g.getAttribute('data-node'), label: g.getAttribute('data-label'),
            data: g.getAttribute('data-data'), grad: g.getAttribute('data-grad')}))"""
    )


def _check_page(tmp_path, name, root, player, shot_step=None):
    """Open the saved page and check the contract; returns the screenshot's path."""
    page_file = tmp_path / f"{name}.html"
    player.save_html(page_file)
    order = topological_order(root)
    with chromium_page() as (page, log):
        page.goto(page_file.as_uri())
        steps = page.evaluate("window.tapegradPlayer.steps")
        assert steps == player.steps
        assert page.evaluate("window.tapegradPlayer.step") == 0
        # Step 0: nothing computed, so no node shows data or grad.
        shown = _nodes(page)
        assert len(shown) == len(order)
        assert all(n["data"] is None and n["grad"] is None for n in shown)
        assert all(n["label"] == order[int(n["node"])].label for n in shown)

        page.evaluate(f"window.tapegradPlayer.goto({steps})")
        root.backward()
        for n in _nodes(page):
            v = order[int(n["node"])]
            assert n["grad"] == format_number(v.grad), n
            assert n["data"] == format_number(v.data), n
            text = page.locator(f"[data-node='{n['node']}'] text").last.text_content()
            assert text == f"grad {format_number(v.grad)}"

        page.evaluate("window.tapegradPlayer.goto(0)")
        assert all(n["data"] is None and n["grad"] is None for n in _nodes(page))
        page.keyboard.press("ArrowRight")
        assert page.evaluate("window.tapegradPlayer.step") == 1
        first = [n for n in _nodes(page) if n["data"] is not None]
        assert [int(n["node"]) for n in first] == [0]  # the first Value on the tape
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("window.tapegradPlayer.step") == 1

        page.evaluate(f"window.tapegradPlayer.goto({shot_step or steps})")
        shot = screenshot(page, shots_folder(tmp_path) / f"{name}.png")
        assert log["console_errors"] == []
        assert log["requests"] == [page_file.as_uri()]  # the page itself, nothing else
    return shot


def test_the_readme_example_steps_to_the_engines_gradients(tmp_path):
    _, _, g = build_readme_graph(backward=False)
    player = Player(g, title="g = f(a, b), the README example")
    # The screenshot: a backward step where a node used twice shows its grad adding up.
    step = next(
        k for k, f in enumerate(player.frames) if f.phase == "backward" and f.sums and k > 45
    )
    _check_page(tmp_path, "player_readme", g, player, shot_step=step)


def test_an_mlp_loss_steps_to_the_engines_gradients_and_its_neuron_boxes_collapse(tmp_path):
    model, loss = _mlp_loss()
    player = Player(loss, module=model, title="A small MLP's loss")
    _check_page(tmp_path, "player_mlp", loss, player)
    with chromium_page() as (page, log):
        page.goto((tmp_path / "player_mlp.html").as_uri())
        boxes = page.locator("g[data-cluster] > text")
        labels = [boxes.nth(i).text_content() for i in range(boxes.count())]
        neuron = labels.index("layers.0.neurons.1")
        visible = page.locator("g.node:visible").count()
        boxes.nth(neuron).click()
        hidden = visible - page.locator("g.node:visible").count()
        assert hidden >= 3  # its weights, its bias and its linear op
        boxes.nth(neuron).click()
        assert page.locator("g.node:visible").count() == visible
        # A click on a leaf explains its gradient as a sum over paths.
        page.evaluate("window.tapegradPlayer.goto(window.tapegradPlayer.steps)")
        weight = next(i for i, v in enumerate(topological_order(loss)) if v.label.endswith("w.0"))
        page.locator(f"[data-node='{weight}']").click()
        info = page.locator(".tgp-info").text_content()
        assert "its gradient as a sum over paths" in info and "path" in info
        assert log["console_errors"] == []


def test_tapegrad_graph_html_writes_a_page_that_steps_to_the_engines_gradients(tmp_path, capsys):
    from autograd import Value
    from nn.cli import main

    page_file = tmp_path / "g.html"
    assert main(["graph", "tanh(x*w + b)", "x=2", "w=-3", "b=6.88", "--html", str(page_file)]) == 0
    assert f"wrote {page_file}" in capsys.readouterr().out
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.88, label="b")
    out = (x * w + b).tanh()
    out.backward()
    expected = {v.label: format_number(v.grad) for v in (x, w, b)}
    with chromium_page() as (page, log):
        page.goto(page_file.as_uri())
        steps = page.evaluate("window.tapegradPlayer.steps")
        page.evaluate(f"window.tapegradPlayer.goto({steps})")
        shown = {n["label"]: n["grad"] for n in _nodes(page)}
        assert {k: shown[k] for k in expected} == expected
        assert shown["out"] == "1.0000"
        for _ in range(steps + 3):  # the right arrow walks to the end and stops there
            page.keyboard.press("ArrowRight")
        assert page.evaluate("window.tapegradPlayer.step") == steps
        screenshot(page, shots_folder(tmp_path) / "player_neuron.png")
        assert log["console_errors"] == []
        assert log["requests"] == [page_file.as_uri()]


def test_the_buttons_and_the_slider_drive_the_player(tmp_path):
    from autograd import Value

    x = Value(3.0, label="x")
    y = x * x + x
    y.label = "y"
    player = Player(y)
    page_file = tmp_path / "p.html"
    player.save_html(page_file)
    with chromium_page() as (page, log):
        page.goto(page_file.as_uri())
        step = "window.tapegradPlayer.step"
        page.click("button[data-act=next]")
        page.click("button[data-act=next]")
        assert page.evaluate(step) == 2
        page.click("button[data-act=prev]")
        assert page.evaluate(step) == 1
        page.click("button[data-act=play]")
        page.wait_for_function(f"{step} >= 3", timeout=5000)
        page.click("button[data-act=play]")  # pause
        paused = page.evaluate(step)
        page.wait_for_timeout(1300)
        assert page.evaluate(step) == paused
        page.click("button[data-act=reset]")
        assert page.evaluate(step) == 0
        page.locator("input[type=range]").fill(str(player.steps))
        assert page.evaluate(step) == player.steps
        assert page.locator(".tgp-count").text_content() == f"step {player.steps} / {player.steps}"
        # x is used three times: the last step shows its grad as the sum of the three terms.
        sums = page.locator(".tgp-sum").all_text_contents()
        assert any(s.startswith("grad = ") and s.endswith("= 7.0000") for s in sums), sums
        assert log["console_errors"] == []
