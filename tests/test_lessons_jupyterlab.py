"""The lessons as a learner opens them: a fresh clone in JupyterLab, every picture shown.

A notebook JupyterLab has not executed itself is untrusted (its signature is
not in the local trust database), and then JupyterLab shows no SVG from it: a
graph display that holds only SVG shows as text.  This test serves a copy of
``notebooks/`` from ``jupyter lab`` on a free local port, with a trust
database of its own (empty: every lesson untrusted, as after ``git clone``),
opens each lesson in headless Chromium, scrolls to the end, and counts the
pictures shown against the picture outputs the notebook holds.  A second test
runs a notebook in that JupyterLab, as a learner does (outputs made there are
trusted, so their scripts run): the backprop player steps, the live view shows.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import browser_required, chromium_page, need_browser, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSONS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
START_TIMEOUT = 90  # seconds for jupyter lab to answer
LESSON_TIMEOUT = 120  # seconds to open, scroll and count one lesson

# The pictures shown so far, by cell and output: windowed notebooks render only
# the cells near the view, so the count is gathered while scrolling.
SEEN = """(seen) => {
  for (const cell of document.querySelectorAll(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")) {
    const index = cell.getAttribute("data-windowed-list-index");
    const outputs = cell.querySelectorAll(".jp-OutputArea-child");
    outputs.forEach((out, k) => {
      const shown = [...out.querySelectorAll("img, svg")].some(el => {
        const box = el.getBoundingClientRect();
        const loaded = el.tagName.toLowerCase() !== "img" || (el.complete && el.naturalWidth > 0);
        return loaded && box.width > 20 && box.height > 20;
      });
      if (shown) seen[`${index}:${k}`] = true;
    });
  }
  return seen;
}"""

SCROLL = """() => {
  const panel = document.querySelector(
    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
  );
  const before = panel.scrollTop;
  panel.scrollTop = before + panel.clientHeight * 0.6;
  return panel.scrollTop > before;
}"""


def picture_outputs(path: Path) -> int:
    """Outputs a notebook holds that are pictures: image/png, image/svg+xml, or HTML
    carrying an <img> (the backprop player's and the live view's picture)."""
    nb = nbformat.read(path, as_version=4)
    return sum(
        1
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if {"image/png", "image/svg+xml"} & set(out.get("data", {}))
        or "<img " in "".join(out.get("data", {}).get("text/html", ""))
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, folder) of a jupyter lab serving an untrusted copy of the lessons."""
    need_browser()
    if importlib.util.find_spec("jupyterlab") is None:
        reason = 'JupyterLab is not installed (pip install -e ".[notebooks]")'
        if browser_required():
            pytest.fail(f"TAPEGRAD_BROWSER_TESTS=required but {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("lab")
    lessons = root / "notebooks"
    shutil.copytree(NOTEBOOKS, lessons)
    home = root / "home"  # config, data (the trust database) and runtime of this server only
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={lessons}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.extension_manager=readonly",  # no look-ups on PyPI
        "--ServerApp.disable_check_xsrf=True",  # lets the test stop kernels over the REST API
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log = open(root / "lab.log", "wb")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start: {(root / 'lab.log').read_text()}")
                time.sleep(0.5)
        yield base, lessons
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def shut_down_kernels(base: str) -> None:
    """Stop the kernels opened lessons started (they run nothing here)."""
    with urllib.request.urlopen(f"{base}/api/sessions", timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{base}/api/sessions/{s['id']}", method="DELETE")
        urllib.request.urlopen(req, timeout=10).close()


def count_shown(page, base: str, lesson: str) -> int:
    page.goto(f"{base}/lab/tree/{lesson}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=LESSON_TIMEOUT * 1000
    )
    page.wait_for_timeout(1500)  # outputs render after the cells
    seen: dict = {}
    deadline = time.monotonic() + LESSON_TIMEOUT
    while time.monotonic() < deadline:
        seen = page.evaluate(SEEN, seen)
        if not page.evaluate(SCROLL):
            page.wait_for_timeout(800)  # the last cells: let their pictures load
            seen = page.evaluate(SEEN, seen)
            break
        page.wait_for_timeout(250)
    else:
        pytest.fail(f"{lesson}: not scrolled through in {LESSON_TIMEOUT} s")
    return len(seen)


def test_every_lesson_shows_all_its_pictures_in_jupyterlab_untrusted(lab, tmp_path):
    base, lessons = lab
    assert LESSONS, "no lessons found"
    results = {}
    with chromium_page(viewport=(1280, 900), offline=False) as (page, _):

        def local_only(route):  # the server on this machine and inline data, nothing else
            url = route.request.url
            if url.startswith((base, "data:", "blob:", "about:")):
                route.fallback()
            else:
                route.abort()

        page.route("**/*", local_only)
        for lesson in LESSONS:
            expected = picture_outputs(lessons / lesson)
            results[lesson] = (count_shown(page, base, lesson), expected)
            if lesson.startswith("04"):
                page.goto(f"{base}/lab/tree/{lesson}?reset", wait_until="domcontentloaded")
                picture = page.locator(".jp-OutputArea-child img").first
                picture.wait_for(timeout=60_000)
                picture.scroll_into_view_if_needed()
                page.wait_for_timeout(1000)
                screenshot(page, tmp_path / "lesson04.png")
            shut_down_kernels(base)
    missing = {k: v for k, v in results.items() if v[0] != v[1]}
    assert missing == {}, f"pictures shown / held: {results}"
    assert sum(expected for _, expected in results.values()) >= 40


PLAYER_CELL = """\
from autograd import Value, play
x = Value(2.0, label="x"); w = Value(-3.0, label="w"); b = Value(6.88, label="b")
out = (x * w + b).tanh(); out.label = "out"
out.backward()
play(out)"""

LIVE_CELL = """\
import nn
data = nn.moons(40, noise=0.1, seed=0)
model = nn.MLP(2, [4, 1], seed=0)
history = nn.fit(model, data, epochs=6, verbose=False, callbacks=[nn.LiveView(data)])"""


def test_the_player_and_the_live_view_run_in_jupyterlab(lab, tmp_path):
    """Run in JupyterLab (so its outputs are trusted and their scripts run): the player's
    controls appear and step it, and the live view shows its picture."""
    base, folder = lab
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(PLAYER_CELL), nbformat.v4.new_code_cell(LIVE_CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, folder / "play_here.ipynb")
    with chromium_page(viewport=(1280, 900), offline=False) as (page, log):

        def local_only(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", local_only)
        page.goto(f"{base}/lab/tree/play_here.ipynb?reset", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=LESSON_TIMEOUT * 1000)
        # Once the kernel is up, Run > Run All Cells, as a learner would.
        page.wait_for_function(
            "() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')",
            timeout=LESSON_TIMEOUT * 1000,
        )
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        controls = page.locator(".tgp .tgp-controls:not([hidden])")
        controls.wait_for(timeout=LESSON_TIMEOUT * 1000)
        assert page.locator(".tgp .tgp-static").count() == 0  # the script swapped it out
        count = page.locator(".tgp .tgp-count")
        page.locator('.tgp button[data-act="next"]').click()
        page.locator('.tgp button[data-act="next"]').click()
        assert count.inner_text().startswith("step 2 /")
        live = page.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']")
        live.last.wait_for(timeout=LESSON_TIMEOUT * 1000)
        page.wait_for_function(  # the training cell done: the kernel is idle again
            "() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')",
            timeout=LESSON_TIMEOUT * 1000,
        )
        box = live.last.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
        screenshot(page, tmp_path / "jupyterlab_player.png")
        shots = os.environ.get("TAPEGRAD_SCREENSHOTS")
        if shots:
            shutil.copy(tmp_path / "jupyterlab_player.png", Path(shots) / "jupyterlab_player.png")
    assert not [e for e in log["console_errors"] if "tgp" in e or "tapegrad" in e]
    shut_down_kernels(base)
