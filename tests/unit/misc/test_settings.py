"""Settings persist, reject bad values by name, and survive a damaged file."""

from __future__ import annotations

import pytest

from rvc.config import Paths
from rvc.settings import Settings, SettingsError, load_settings, save_settings, settings_path


def test_round_trip(tmp_path):
    paths = Paths(tmp_path)
    saved = save_settings(Settings().replace(default_f0_method="fcpe", allowed_paths=["/data"]), paths)
    assert load_settings(paths) == saved
    assert load_settings(paths).allowed_paths == ("/data",)


@pytest.mark.parametrize(
    ("name", "value"),
    [("default_f0_method", "nope"), ("device", "tpu"), ("upload_limit_mb", 0), ("allowed_paths", ["rel"]),
     ("compile_decoder", "yes")],
)
def test_bad_values_are_named(name, value):
    with pytest.raises(SettingsError, match=name.split("_")[0]):
        Settings().replace(**{name: value})


def test_unknown_setting_is_refused():
    with pytest.raises(SettingsError, match="unknown"):
        Settings().replace(colour="blue")


def test_damaged_or_partly_bad_file_keeps_the_good_values(tmp_path):
    paths = Paths(tmp_path)
    settings_path(paths).write_text("{not json")
    assert load_settings(paths) == Settings()
    settings_path(paths).write_text('{"device": "cpu", "upload_limit_mb": -5, "extra": 1}')
    assert load_settings(paths) == Settings(device="cpu")
