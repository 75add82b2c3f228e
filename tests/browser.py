"""Headless Chromium for the tests that look at pages the way a person does.

Playwright drives Debian's ``chromium`` (``apt-get install -y chromium``) through
``executable_path``: Playwright's own browser download cannot work offline.
Where no Chromium or no Playwright is found the browser tests skip with the
reason, unless ``TAPEGRAD_BROWSER_TESTS=required`` (set by ``.ci/run``), in
which case they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

# Without these, Chromium tries to reach Google's hosts at start-up and the
# closed network refuses it, many times over.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None: $CHROMIUM, then Debian's package names."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


def browser_required() -> bool:
    return os.environ.get("TAPEGRAD_BROWSER_TESTS", "") == "required"


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright; no browser download needed)"
    if chromium_path() is None:
        return "no Chromium found (apt-get install -y chromium, or set $CHROMIUM)"
    return None


def need_browser() -> None:
    """Skip the calling test (or fail, when the browser tests are required) without a browser."""
    reason = missing_browser_reason()
    if reason is None:
        return
    if browser_required():
        pytest.fail(f"TAPEGRAD_BROWSER_TESTS=required but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium_page(viewport=(1200, 900), offline: bool = True):
    """A fresh headless Chromium page; yields (page, log).

    ``log`` collects ``console_errors`` (console messages of type error and
    uncaught page errors) and ``requests`` (every URL the page asked for).  With
    ``offline`` every request that is not ``file:`` or ``data:`` is aborted.
    """
    need_browser()
    from playwright.sync_api import sync_playwright

    log = {"console_errors": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on(
                "console",
                lambda m: log["console_errors"].append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: log["console_errors"].append(str(e)))

            def route(r):
                url = r.request.url
                log["requests"].append(url)
                if offline and not url.startswith(("file:", "data:", "blob:", "about:")):
                    r.abort()
                else:
                    r.continue_()

            page.route("**/*", route)
            yield page, log
        finally:
            browser.close()


def screenshot(page, path: Path) -> Path:
    """Write a full-page PNG and check it is not one flat colour (a blank page)."""
    page.screenshot(path=str(path), full_page=True)
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert not_blank(path), f"{path} is a blank picture"
    return Path(path)


def not_blank(path: Path) -> bool:
    """True when the picture holds more than one shade (Pillow comes with matplotlib)."""
    from PIL import Image

    with Image.open(path) as im:
        low, high = im.convert("L").getextrema()
    return low != high
