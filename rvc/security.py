"""Paths from clients (browser, REST, gradio_client) stay inside the allowed roots.

A shared WebUI must not become a file server: every path a client sends is resolved (symlinks followed, `..`
collapsed) and must land inside one of the allowed roots: RVC_HOME's assets/, logs/, uploads/ and outputs/,
plus folders the operator names (`--allowed-path`, settings). The command line is not confined: its user
already has the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rvc.config import Paths, get_paths

_extra_roots: list[Path] = []


class PathNotAllowedError(PermissionError):
    """A client path outside every allowed root (the message never echoes the resolved target)."""


def add_allowed_root(folder: str | os.PathLike) -> None:
    """Allow one more folder for this process (the `--allowed-path` flag)."""
    root = Path(folder).resolve()
    if root not in _extra_roots:
        _extra_roots.append(root)


def allowed_roots(paths: Paths | None = None, extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    from rvc.settings import load_settings

    paths = paths or get_paths()
    roots = [paths.assets, paths.logs, paths.uploads, paths.home / "outputs", *_extra_roots]
    roots += [Path(p) for p in load_settings(paths).allowed_paths] + [Path(p) for p in extra]
    return [Path(os.path.realpath(root)) for root in roots]


def resolve_allowed(path: str | os.PathLike, paths: Paths | None = None, must_exist: bool = True) -> Path:
    """The real path of ``path`` if it lies inside an allowed root; relative paths are taken from RVC_HOME."""
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise PathNotAllowedError("empty or malformed path")
    paths = paths or get_paths()
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = paths.home / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real == root or real.is_relative_to(root) for root in allowed_roots(paths)):
        raise PathNotAllowedError(f"{text!r} is outside the folders this server may read")
    if must_exist and not real.exists():
        raise FileNotFoundError(f"{text!r} does not exist")
    return real
