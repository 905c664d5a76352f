"""Stored files opened in Chromium: a visitor's page-like upload comes as a download and its script never runs;
audio still opens inline for the players."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.integration.test_hostile_requests import SCRIPT, html_wav

pytestmark = pytest.mark.slow
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>document.title = "pwned"; alert("pwned")</script></svg>'


def test_page_like_files_download_and_their_scripts_never_run(browser, webui_url, browser_home):
    uploaded = httpx.post(f"{webui_url}api/v2/system/upload", files={"file": ("report.html", html_wav())}, timeout=60)
    assert uploaded.status_code == 201, uploaded.text  # a WAV header, then a script: the content check takes it
    svg = browser_home / "uploads" / "logo.svg"
    svg.write_bytes(SVG)
    song = browser_home / "uploads" / "song.wav"
    song.write_bytes(html_wav())
    context = browser.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        dialogs: list[str] = []
        downloads: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("download", lambda download: downloads.append(download.suggested_filename))
        page.set_content(SCRIPT.decode())  # the control: shown as a page, this script runs and is seen
        assert dialogs == ["pwned"]
        dialogs.clear()

        for path in (Path(uploaded.json()["path"]), svg):
            with page.expect_download() as download:
                try:
                    page.goto(f"{webui_url}gradio_api/file={path}")
                except PlaywrightError:  # the navigation became a download, as it should
                    pass
            assert download.value.suggested_filename == path.name
        page.goto(f"{webui_url}gradio_api/file={song}")  # audio opens in the browser's player, no download
        page.wait_for_timeout(1000)
        assert downloads == ["report.html", "logo.svg"]
        assert dialogs == [] and page.title() != "pwned"
    finally:
        context.close()
