"""User settings that persist across restarts (System tab, REST API): one JSON file in the RVC home.

Unknown keys in the file are ignored and bad values fall back to the defaults, so a hand-edited or older file
never stops the app from starting.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rvc.atomic import write_json_atomic
from rvc.config import Paths, get_paths
from rvc.vocabulary import DEVICE_NAME, F0_METHODS

SETTINGS_FILE = "settings.json"


class SettingsError(ValueError):
    """A setting with a value it cannot take, named with what is allowed."""


@dataclass(frozen=True)
class Settings:
    default_f0_method: str = "rmvpe"
    device: str = "auto"  # "auto" or a device name of rvc.devices: "cpu", "cuda:N", "xpu:N", "mps"
    upload_limit_mb: int = 500
    allowed_paths: tuple[str, ...] = field(default_factory=tuple)  # extra folders the UI/API may read
    compile_decoder: bool = False  # torch.compile the decoder's windows: a minute's compile, then faster conversions

    def validate(self) -> Settings:
        if self.default_f0_method not in F0_METHODS:
            raise SettingsError(f"default_f0_method must be one of {', '.join(F0_METHODS)}")
        if self.device != "auto" and not DEVICE_NAME.match(self.device):
            raise SettingsError("device must be 'auto', 'cpu', 'cuda:N', 'xpu:N' or 'mps'")
        if not 1 <= self.upload_limit_mb <= 100_000:
            raise SettingsError("upload_limit_mb must be between 1 and 100000")
        if not isinstance(self.compile_decoder, bool):
            raise SettingsError("compile_decoder must be true or false")
        for folder in self.allowed_paths:
            if not Path(folder).is_absolute():
                raise SettingsError(f"allowed path {folder!r} must be absolute")
        return self

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["allowed_paths"] = list(self.allowed_paths)
        return values

    def replace(self, **changes: Any) -> Settings:
        if "allowed_paths" in changes:
            changes["allowed_paths"] = tuple(changes["allowed_paths"])
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes).validate()


def settings_path(paths: Paths | None = None) -> Path:
    return (paths or get_paths()).home / SETTINGS_FILE


def load_settings(paths: Paths | None = None) -> Settings:
    path = settings_path(paths)
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return Settings()
    settings = Settings()
    for name, value in stored.items() if isinstance(stored, dict) else ():
        try:
            settings = settings.replace(**{name: value})
        except (SettingsError, TypeError, AttributeError):
            continue  # one bad value must not lose the others
    return settings


def save_settings(settings: Settings, paths: Paths | None = None) -> Settings:
    """Validate and write atomically (temp file + rename)."""
    write_json_atomic(settings_path(paths), settings.validate().to_dict())
    return settings
