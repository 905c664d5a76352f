"""Paths from clients (browser, REST, gradio_client) stay inside the allowed roots.

A shared WebUI must not become a file server: every path a client sends is resolved (symlinks followed, `..`
collapsed) and must land inside one of the allowed roots: RVC_HOME's assets/, logs/, uploads/ and outputs/,
plus folders the operator names (`--allowed-path`, settings). The command line is not confined: its user
already has the machine. Functions that both serve clients and the command line (a conversion names its model
and index) confine those paths through `confined_path` while the process serves clients (`serve_clients`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rvc.config import Paths, get_paths

MAX_PATH_BYTES = 4096  # Linux's PATH_MAX: a longer client path can name nothing, only make the system calls fail
MAX_NAME_BYTES = 255  # NAME_MAX, for each part of the path

_extra_roots: list[Path] = []
_serving = False


class PathNotAllowedError(PermissionError):
    """A client path outside every allowed root (the message never echoes the resolved target)."""


def add_allowed_root(folder: str | os.PathLike) -> None:
    """Allow one more folder for this process (the `--allowed-path` flag)."""
    root = Path(folder).resolve()
    if root not in _extra_roots:
        _extra_roots.append(root)


def serve_clients(serving: bool = True) -> None:
    """Say whether this process answers clients (the server does while its job runner runs); see `confined_path`."""
    global _serving
    _serving = serving


def allowed_roots(paths: Paths | None = None, extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    from rvc.settings import load_settings

    paths = paths or get_paths()
    roots = [paths.assets, paths.logs, paths.uploads, paths.home / "outputs", *_extra_roots]
    roots += [Path(p) for p in load_settings(paths).allowed_paths] + [Path(p) for p in extra]
    return [Path(os.path.realpath(root)) for root in roots]


def within(path: str | os.PathLike, roots: Iterable[Path]) -> bool:
    """Whether ``path``, resolved (links followed, `..` collapsed), lies inside one of ``roots`` (real paths)."""
    real = Path(os.path.realpath(path))
    return any(real == root or real.is_relative_to(root) for root in roots)


def is_allowed(real: Path, paths: Paths | None = None) -> bool:
    """Whether an already resolved path lies inside an allowed root."""
    return within(real, allowed_roots(paths))


def resolve_allowed(path: str | os.PathLike, paths: Paths | None = None, must_exist: bool = True) -> Path:
    """The real path of ``path`` if it lies inside an allowed root; relative paths are taken from RVC_HOME."""
    text = os.fspath(path)
    _check_form(text)
    paths = paths or get_paths()
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = paths.home / candidate
    real = Path(os.path.realpath(candidate))
    if not is_allowed(real, paths):
        raise PathNotAllowedError(f"{text!r} is outside the folders this server may read")
    _check_form(str(real))  # RVC_HOME in front of a relative path, or a link, can make it too long
    if must_exist and not os.path.exists(real):
        raise FileNotFoundError(f"{text!r} does not exist")
    return real


def confined_path(path: str | os.PathLike, paths: Paths | None = None) -> Path:
    """A file named to a function that the command line and the front ends share (a model, an index): taken as
    given in a script or on the command line, and resolved inside the allowed roots (`resolve_allowed`) while
    the process serves clients, so that no front end can reach past the roots through it.
    """
    return resolve_allowed(path, paths, must_exist=False) if _serving else Path(path)


def _check_form(text: str) -> None:
    """Refuse what can name no file: empty, a NUL byte or a lone surrogate, or longer than the system's limits."""
    if not text or "\x00" in text:
        raise PathNotAllowedError("empty or malformed path")
    try:
        encoded = os.fsencode(text)
    except UnicodeEncodeError:  # a lone surrogate (JSON can carry one)
        raise PathNotAllowedError("empty or malformed path") from None
    if len(encoded) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in encoded.split(b"/")):
        raise PathNotAllowedError(f"the path is too long ({len(encoded)} bytes; at most {MAX_PATH_BYTES}, and "
                                  f"{MAX_NAME_BYTES} for each part)")
