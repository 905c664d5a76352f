"""Every text key the tabs use has English and Chinese words."""

from __future__ import annotations

import re

from tabs.i18n import EN, ZH, t
from tests.conftest import PROJECT_ROOT

KEY_USE = re.compile(r"""\bt\(\s*["']([\w.]+)["']\s*\)""")


def used_keys() -> set[str]:
    paths = [p for p in (PROJECT_ROOT / "tabs").glob("*.py") if p.name != "i18n.py"]
    return {key for path in paths for key in KEY_USE.findall(path.read_text())}


def test_english_and_chinese_have_the_same_keys():
    assert set(EN) == set(ZH)


def test_every_key_the_tabs_use_is_translated():
    assert used_keys() - set(EN) == set()


def test_chinese_texts_are_chinese():
    cjk = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [key for key, text in ZH.items() if not cjk.search(text) and key != "app.title"]
    assert untranslated == []


def test_an_unknown_key_fails_when_the_page_is_built():
    try:
        t("no.such.key")
    except KeyError as error:
        assert "tabs/i18n.py" in str(error)
    else:
        raise AssertionError("t() accepted an unknown key")
