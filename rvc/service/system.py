"""System services: what the machine has, which pretrained files are present, and the persistent settings."""

from __future__ import annotations

from rvc.assets import asset_status
from rvc.config import get_paths
from rvc.settings import Settings, load_settings, save_settings
from rvc.system import system_info


def get_system_info() -> dict:
    """CPU, memory, disk of the RVC home, and GPUs, as a JSON-ready dict."""
    paths = get_paths()
    paths.home.mkdir(parents=True, exist_ok=True)
    return system_info(paths.home).to_dict()


def get_asset_status() -> list[dict]:
    """Each pretrained file: name, path, present, size and whether the size is the published one."""
    return [
        {"name": s.asset.name, "path": str(s.path), "present": s.present, "size_bytes": s.size_bytes,
         "size_ok": s.size_ok}
        for s in asset_status()
    ]


def get_settings() -> dict:
    return load_settings().to_dict()


def update_settings(**changes) -> dict:
    """Change some settings (validated by name) and persist them."""
    return save_settings(load_settings().replace(**changes)).to_dict()


__all__ = ["Settings", "get_asset_status", "get_settings", "get_system_info", "update_settings"]
