"""The functions every front end (WebUI tabs, REST API, CLI) shares. They validate input and return plain data."""

from __future__ import annotations

from rvc.config import get_paths
from rvc.system import system_info


def get_system_info() -> dict:
    """CPU, memory, disk of the RVC home, and GPUs, as a JSON-ready dict."""
    paths = get_paths()
    paths.home.mkdir(parents=True, exist_ok=True)
    return system_info(paths.home).to_dict()
