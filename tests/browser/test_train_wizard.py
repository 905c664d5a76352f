"""The training wizard in a real browser: the tiny configuration from a dataset folder to an exported model,
then the page opened again shows where the experiment stands."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_page

pytestmark = pytest.mark.slow
NAME = "browser_voice"
STEP_TIMEOUT_MS = 300_000


def _wait_completed(page, status_id: str) -> None:
    status = page.locator(f"#{status_id}")
    status.get_by_text("completed").wait_for(timeout=STEP_TIMEOUT_MS)



def test_walk_the_wizard_to_an_exported_model(page, browser, webui_server, browser_home):
    page.get_by_role("tab", name="Train", exact=True).click()
    experiment = page.locator("#train-experiment input")
    experiment.fill(NAME)
    experiment.press("Enter")
    page.locator("#train-summary").get_by_text("New experiment").wait_for()
    page.get_by_role("button", name="2. Pitch and feature extraction").click()
    extract_button = page.get_by_role("button", name="Extract features", exact=True)
    assert extract_button.is_disabled()  # step 2 is locked until step 1 is done

    # 1. dataset folder on the server and the tiny run config (advanced), then preprocess
    page.locator("#train-dataset-path").get_by_role("textbox").fill(str(browser_home / "uploads" / "dataset"))
    page.get_by_role("button", name="Advanced").click()
    page.locator("#train-config-path").get_by_role("textbox").fill(str(browser_home / "uploads" / "tiny_config.json"))
    page.get_by_role("button", name="Preprocess", exact=True).click()
    _wait_completed(page, "train-status-preprocess")
    page.locator("audio").first.wait_for(state="attached")  # pieces to listen to

    # 2. pitch with pm on the CPU
    page.wait_for_function(
        "!Array.from(document.querySelectorAll('button')).find(b => b.textContent.trim() === 'Extract features')"
        ".disabled")
    page.locator("#train-f0-method").get_by_label("pm", exact=True).check()
    extract_button.click()
    _wait_completed(page, "train-status-extract")

    # 3. one epoch of the tiny model
    page.locator("#train-epochs input").fill("1")
    page.locator("#train-batch-size input").fill("2")
    page.locator("#train-save-every input").fill("1")
    train_button = page.get_by_role("button", name="Train", exact=True)
    page.wait_for_function(
        "!Array.from(document.querySelectorAll('button')).find(b => b.textContent.trim() === 'Train').disabled")
    train_button.click()
    _wait_completed(page, "train-status-train")
    page.locator("#train-summary").get_by_text("checkpoint(s)").wait_for(timeout=30_000)

    # 4. index, then export
    page.get_by_role("button", name="Build the index", exact=True).click()
    _wait_completed(page, "train-status-index")
    assert (browser_home / "assets" / "weights" / f"{NAME}.pth").is_file()  # training exports the last epoch
    page.locator("#train-export-name").get_by_role("textbox").fill(f"{NAME}_export")
    page.get_by_role("button", name="Export the model", exact=True).click()
    _wait_completed(page, "train-status-export")
    assert (browser_home / "assets" / "weights" / f"{NAME}_export.pth").is_file()

    # the page opened again, also after a server restart, shows the experiment's state from the store
    _expect_finished_experiment(browser, webui_server.url)
    webui_server.restart()
    _expect_finished_experiment(browser, webui_server.url)


def _expect_finished_experiment(browser, url: str) -> None:
    page = open_page(browser, url)
    try:
        page.get_by_role("tab", name="Train", exact=True).click()
        summary = page.locator("#train-summary")
        summary.get_by_text(f"{NAME}_export").wait_for()
        assert summary.get_by_role("strong").first.inner_text() == NAME
        page.locator("#train-status-export").get_by_text("completed").wait_for()
        assert page.get_by_role("button", name="Export the model", exact=True).is_enabled()
        _expect_plotted_losses(page)
    finally:
        page.context.close()


def _expect_plotted_losses(page) -> None:
    """The loss plot drew a line per loss: Vega's SVG has line marks with a path, and the legend names the losses
    (an empty plot draws only its axes)."""
    page.locator("#train-loss-plot").scroll_into_view_if_needed()
    page.wait_for_function(
        "(() => { const plot = document.querySelector('#train-loss-plot'); if (!plot) return false;"
        " const lines = [...plot.querySelectorAll('g.mark-line path')].filter(p => (p.getAttribute('d') || '').length);"
        " const legend = [...plot.querySelectorAll('g.role-legend text')].map(t => t.textContent);"
        " return lines.length >= 4 && legend.includes('loss_mel'); })()",
        timeout=30_000)
