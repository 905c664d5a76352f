"""The Inference tab in a real browser: convert a file and play the result; a bad input gets a message."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_page
from tests.conftest import DATA_DIR
from tests.integration.test_api import worker_of

CLIP = DATA_DIR / "voice_low" / "001.flac"
pytestmark = pytest.mark.slow


def test_convert_a_file_and_play_the_result(page):
    model = page.locator("#inference-model input")
    assert model.input_value() == "tiny"  # the first model is chosen when the page opens
    page.locator("#inference-input-audio input[type=file]").set_input_files(str(CLIP))
    page.locator("#inference-f0-method").get_by_label("pm", exact=True).check()
    page.get_by_role("button", name="Convert", exact=True).click()

    page.locator("#inference-timings").get_by_text("total").wait_for(timeout=120_000)
    output = page.locator("#inference-output-audio")
    assert "001_tiny.wav" in output.locator("a[download]").get_attribute("download")
    output.get_by_role("button", name="Play", exact=True).click()
    output.get_by_role("button", name="Pause", exact=True).wait_for(timeout=10_000)  # it is playing
    page.wait_for_function("document.querySelector('#inference-output-audio time#time').textContent !== '0:00'",
                           timeout=10_000)


def test_an_error_says_what_to_do(page):
    page.get_by_role("button", name="Convert", exact=True).click()  # no input audio
    page.get_by_text("Upload an audio file or enter a path on the server.").wait_for(timeout=15_000)


def test_a_path_outside_the_allowed_folders_is_refused(page):
    page.get_by_label("…or a path on the server").fill("/etc/passwd")
    page.get_by_role("button", name="Convert", exact=True).click()
    page.get_by_text("outside the folders this server may read").wait_for(timeout=15_000)


def test_the_page_speaks_chinese_to_a_chinese_browser(browser, webui_url):
    page = open_page(browser, webui_url, locale="zh-CN")
    try:
        page.get_by_role("tab", name="模型推理", exact=True).wait_for()
        page.get_by_role("tab", name="训练", exact=True).click()
        page.get_by_role("button", name="处理数据", exact=True).wait_for()
        assert page.get_by_text("检索特征占比").count() >= 1
        assert page.get_by_role("tab", name="Inference", exact=True).count() == 0
    finally:
        page.context.close()


LONG_SOURCE = DATA_DIR / "source_speech_stereo48k.wav"  # 39 s: its conversion runs long enough to be killed


def test_a_conversion_is_a_task_and_a_killed_worker_fails_only_that_task(page, webui_server):
    """The Inference tab's conversion runs in the inference worker: it is listed in the Tasks tab, and killing the
    worker mid-conversion gives a clear failed task while the page and the server go on."""
    page.locator("#inference-input-audio input[type=file]").set_input_files(str(LONG_SOURCE))
    page.locator("#inference-f0-method").get_by_label("pm", exact=True).check()
    page.get_by_role("button", name="Convert", exact=True).click()
    worker = worker_of(webui_server.process.pid)
    page.wait_for_timeout(1500)  # into the conversion
    worker.kill()
    page.get_by_text("The conversion failed").wait_for(timeout=60_000)

    page.get_by_role("tab", name="Tasks", exact=True).click()
    page.get_by_text("killed by SIGKILL").first.wait_for(timeout=30_000)  # the conversion's row, with its error
    page.get_by_role("tab", name="Inference", exact=True).click()  # the same again, in a new worker
    page.get_by_role("button", name="Convert", exact=True).click()
    page.locator("#inference-timings").get_by_text("total").wait_for(timeout=120_000)
