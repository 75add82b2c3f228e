"""The browser harness itself: pages open from disk, the network stays closed, blank is caught."""

from __future__ import annotations

import pytest
from browser import chromium_page, not_blank, screenshot

pytestmark = pytest.mark.browser


def test_page_from_disk_renders_and_network_requests_are_refused(tmp_path):
    page_file = tmp_path / "p.html"
    page_file.write_text(
        "<!doctype html><body style='margin:0'>"
        "<div id=box style='width:200px;height:100px;background:#c33'></div>"
        "<img src='https://example.invalid/x.png'>"
        "<script>window.ready = 6 * 7;</script></body>"
    )
    with chromium_page(viewport=(400, 300)) as (page, log):
        page.goto(page_file.as_uri())
        assert page.evaluate("window.ready") == 42
        shot = screenshot(page, tmp_path / "p.png")
    assert any(u.startswith("https://example.invalid") for u in log["requests"])
    assert not_blank(shot)


def test_a_blank_page_is_reported_blank(tmp_path):
    page_file = tmp_path / "blank.html"
    page_file.write_text("<!doctype html><body style='background:#fff'></body>")
    with chromium_page(viewport=(300, 200)) as (page, _log):
        page.goto(page_file.as_uri())
        page.screenshot(path=str(tmp_path / "b.png"))
    assert not not_blank(tmp_path / "b.png")
