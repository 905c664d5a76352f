"""Every tab, in English and in Chinese, saved as a screenshot for people to look at (test artifacts).

The images go to $RVC_TEST_ARTIFACTS (default `test-artifacts/` in the project, ignored by git). The test fails
when a tab does not open or renders an error toast, so a broken tab is caught even before anyone looks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import open_page
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow
ARTIFACTS = Path(os.environ.get("RVC_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "screenshots"
TABS = {  # tab id -> its name in each locale
    "inference": {"en-US": "Inference", "zh-CN": "模型推理"},
    "train": {"en-US": "Train", "zh-CN": "训练"},
    "oneclick": {"en-US": "One click", "zh-CN": "一键训练"},
    "models": {"en-US": "Models", "zh-CN": "模型管理"},
    "tasks": {"en-US": "Tasks", "zh-CN": "任务"},
    "system": {"en-US": "System", "zh-CN": "系统"},
}


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_every_tab_opens_and_is_saved_as_a_screenshot(browser, webui_url, locale):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = open_page(browser, webui_url, locale=locale)
    try:
        for tab_id, names in TABS.items():
            page.get_by_role("tab", name=names[locale], exact=True).click()
            page.get_by_role("tab", name=names[locale], exact=True, selected=True).wait_for()
            page.wait_for_timeout(500)  # let the tab's load events fill it in
            path = ARTIFACTS / f"{locale}-{tab_id}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 10_000, f"{path} looks blank"
            assert page.locator(".toast-body.error").count() == 0, f"the {tab_id} tab shows an error"
    finally:
        page.context.close()
