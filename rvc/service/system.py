"""System services: what the machine has, which pretrained files are present, and the persistent settings."""

from __future__ import annotations

import time

from rvc.assets import asset_status, pretrained_pair
from rvc.config import get_paths
from rvc.security import allowed_roots
from rvc.settings import Settings, load_settings, save_settings
from rvc.system import system_info


def get_system_info() -> dict:
    """CPU, memory, disk of the RVC home, and GPUs, as a JSON-ready dict."""
    paths = get_paths()
    paths.home.mkdir(parents=True, exist_ok=True)
    return system_info(paths.home).to_dict()


def get_system_status() -> dict:
    """The machine's load right now: CPU, memory and disk of the RVC home in percent, GPUs, and when it was read."""
    info = get_system_info()
    return {
        "timestamp": time.time(), "cpu_percent": info["cpu_percent"],
        "memory_percent": round(100 * info["memory_used_mb"] / max(1, info["memory_total_mb"]), 1),
        "disk_percent": round(100 * (1 - info["disk_free_mb"] / max(1, info["disk_total_mb"])), 1),
        "gpus": info["gpus"],
    }


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


def served_roots() -> list:
    """The folders the web server may serve files from (outputs, sample pieces, models): the allowed roots."""
    return allowed_roots()


def pretrained_for(target_sr: str, version: str, if_f0: bool) -> dict:
    """The pretrained base G/D the Train tab fills in for (rate, version, f0); None where not downloaded."""
    pair = pretrained_pair(version, target_sr, bool(if_f0))
    return {"pretrained_g": str(pair[0]) if pair else None, "pretrained_d": str(pair[1]) if pair else None}


__all__ = [
    "Settings", "get_asset_status", "get_settings", "get_system_info", "get_system_status", "pretrained_for",
    "served_roots",
    "start_download", "update_settings",
]


def start_download(names: list[str] | None = None) -> dict:
    """Download pretrained files as a job (`python -m rvc download`); names as the CLI takes them, None = all."""
    from rvc.assets import select_assets
    from rvc.service.jobs import command_argv, submit

    chosen = list(names or ["all"])
    select_assets(chosen)  # an unknown name is refused now, not by a failing task
    return submit("download", command_argv("download", chosen), {"names": chosen})
