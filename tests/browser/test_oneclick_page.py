"""One click in a real browser: dataset folder, name, preset (and the tiny run config), one button, then the
test conversion to listen to and the outputs to download."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
NAME = "browser_oneclick"


def test_one_click_trains_and_plays_the_test_conversion(page, browser_home):
    page.get_by_role("tab", name="One click", exact=True).click()
    page.locator("#oneclick-name").get_by_role("textbox").fill(NAME)
    page.locator("#oneclick-dataset-path").get_by_role("textbox").fill(str(browser_home / "uploads" / "dataset"))
    page.locator("#oneclick-preset").get_by_label("fast", exact=True).check()
    page.get_by_role("button", name="Advanced").last.click()
    config = browser_home / "uploads" / "tiny_config.json"
    page.locator("#oneclick-config-path").get_by_role("textbox").fill(str(config))
    page.locator("#oneclick-epochs input").fill("1")
    page.get_by_role("button", name="Train the voice", exact=True).click()

    page.locator("#oneclick-status").get_by_text("completed").wait_for(timeout=300_000)
    page.locator("#oneclick-test-audio audio").first.wait_for(state="attached", timeout=30_000)
    downloads = page.locator("#oneclick-outputs a[download]")
    downloads.first.wait_for(timeout=30_000)
    names = " ".join(downloads.nth(i).get_attribute("download") or "" for i in range(downloads.count()))
    assert f"{NAME}.pth" in names and ".index" in names and "test_conversion.wav" in names
    assert (browser_home / "assets" / "weights" / f"{NAME}.pth").is_file()
