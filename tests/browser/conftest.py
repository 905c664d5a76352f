"""A served WebUI (webui.py, as the README starts it) in a throwaway RVC home, and headless Chromium pages on it.

The browser is the system's Chromium (`/usr/bin/chromium`, or $RVC_CHROMIUM); Playwright never downloads one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, PROJECT_ROOT
from tests.factories import tiny_pth, write_small_embedder
from tests.integration.conftest import free_port

CHROMIUM = os.environ.get("RVC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 120


@pytest.fixture(scope="package")
def browser_home(tmp_path_factory) -> Path:
    """RVC_HOME with the tiny model `tiny`, a thin embedder, a 3-clip dataset and the tiny run config."""
    from tests.unit.train.tiny_experiment import tiny_config

    home = tmp_path_factory.mktemp("browser_home")
    (home / "assets" / "weights").mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), home / "assets" / "weights" / "tiny.pth")
    write_small_embedder(home / "embedder")
    dataset = home / "uploads" / "dataset"
    dataset.mkdir(parents=True)
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:3]:
        shutil.copy(clip, dataset / clip.name)
    (home / "uploads" / "tiny_config.json").write_text(json.dumps(tiny_config("v2", True)))
    return home


class WebUIServer:
    """`webui.py` on a fixed port over ``home``, which a test may restart (the page's state must survive it)."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, RVC_HOME=str(self.home), RVC_EMBEDDER=str(self.home / "embedder"),
                   GRADIO_ANALYTICS_ENABLED="False")
        log_path = self.home / "server.log"
        with open(log_path, "a") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([sys.executable, "webui.py", "--port", str(self.port)],
                                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_served(self.process, self.url, log_path)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="package")
def webui_server(browser_home) -> Iterator[WebUIServer]:
    server = WebUIServer(browser_home)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def webui_url(webui_server) -> str:
    return webui_server.url


def _wait_until_served(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the WebUI exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the WebUI did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="package")
def browser():
    """Package scope: the sync API runs an event loop in this thread, which must be gone before other tests
    call asyncio.run."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package or set RVC_CHROMIUM")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str, locale: str = "en-US"):
    """A fresh page of the WebUI in ``locale``, once Gradio has rendered the tabs."""
    context = browser.new_context(locale=locale, viewport={"width": 1300, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(url)
    page.get_by_role("tab").first.wait_for()
    return page


@pytest.fixture()
def page(browser, webui_url):
    page = open_page(browser, webui_url)
    yield page
    page.context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's page as a screenshot in the temp folder (its path in the report), to see what it showed."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None and not page.is_closed():
        path = Path(tempfile.gettempdir()) / f"rvc-browser-{item.name}.png"
        page.screenshot(path=str(path), full_page=True)
        report.sections.append(("screenshot", str(path)))
