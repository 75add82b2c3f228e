"""training.html in headless Chromium: the slider shows each epoch's numbers, offline."""

from __future__ import annotations

import pytest
from browser import chromium_page, screenshot
from test_player_browser import shots_folder

from nn import MLP, SGD, fit, moons
from nn.replay import Recorder, write_training_html

pytestmark = pytest.mark.browser


def _shown(page) -> dict:
    return page.evaluate(
        """(() => { const t = document.querySelector('.tgt');
        return {epoch: t.getAttribute('data-epoch'), loss: t.getAttribute('data-loss'),
                acc: t.getAttribute('data-acc'),
                boundary: [...document.querySelectorAll('.tgt-boundary')]
                    .filter(g => g.style.display !== 'none')
                    .map(g => g.getAttribute('data-shows'))}; })()"""
    )


def test_training_html_steps_through_the_recorded_epochs(tmp_path):
    data = moons(60, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], seed=0)
    recorder = Recorder()
    history = fit(
        model,
        data,
        optimizer=SGD(model.parameters(), lr=0.5),
        epochs=30,
        l2=1e-4,
        callbacks=[recorder],
        verbose=False,
    )
    page_file = tmp_path / "training.html"
    write_training_html(history, model, data, page_file, recorder.states, max_frames=10)
    with chromium_page(viewport=(1000, 420)) as (page, log):
        page.goto(page_file.as_uri())
        assert page.evaluate("window.tapegradTraining.epochs") == 30
        assert page.evaluate("window.tapegradTraining.epoch") == 30  # opens on the end
        for k in (1, 7, 30):
            page.evaluate(f"window.tapegradTraining.goto({k})")
            shown = _shown(page)
            assert shown["epoch"] == str(k)
            assert shown["loss"] == f"{history.train_loss[k - 1]:.4f}"
            assert shown["acc"] == f"{100 * history.train_acc[k - 1]:.1f}%"
            assert len(shown["boundary"]) == 1 and int(shown["boundary"][0]) <= k
        page.evaluate("window.tapegradTraining.goto(7)")
        page.keyboard.press("ArrowRight")
        assert page.evaluate("window.tapegradTraining.epoch") == 8
        assert _shown(page)["loss"] == f"{history.train_loss[7]:.4f}"
        page.keyboard.press("ArrowLeft")
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("window.tapegradTraining.epoch") == 6
        page.evaluate("window.tapegradTraining.goto(12)")
        screenshot(page, shots_folder(tmp_path) / "training.png")
        assert log["console_errors"] == []
        assert log["requests"] == [page_file.as_uri()]


def test_tapegrad_train_writes_training_html_that_opens_offline(tmp_path, capsys):
    from nn.cli import main

    out = tmp_path / "run"
    argv = ["train", "--epochs", "5", "--samples", "30", "--out", str(out), "--no-plots"]
    assert main(argv) == 0
    assert "training.html" in capsys.readouterr().out
    with chromium_page(viewport=(1000, 420)) as (page, log):
        page.goto((out / "training.html").as_uri())
        assert page.evaluate("window.tapegradTraining.epochs") == 5
        page.keyboard.press("ArrowLeft")
        assert _shown(page)["epoch"] == "4"
        assert log["console_errors"] == []
        assert len(log["requests"]) == 1
