"""A traversal corpus never escapes the allowed roots."""

from __future__ import annotations

import os

import pytest

from rvc.config import Paths
from rvc.security import PathNotAllowedError, add_allowed_root, resolve_allowed


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setattr("rvc.security._extra_roots", [])
    monkeypatch.setenv("RVC_HOME", str(tmp_path / "home"))
    paths = Paths(tmp_path / "home")
    (paths.uploads).mkdir(parents=True)
    (paths.uploads / "song.wav").write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", paths.uploads / "link.wav")
    os.symlink(tmp_path, paths.uploads / "dirlink")
    return paths


def test_inside_paths_resolve(home):
    assert resolve_allowed(home.uploads / "song.wav", home) == (home.uploads / "song.wav").resolve()
    assert resolve_allowed("uploads/song.wav", home) == (home.uploads / "song.wav").resolve()
    assert resolve_allowed("uploads/../uploads/song.wav", home).name == "song.wav"


TRAVERSALS = [
    "../secret.txt", "uploads/../../secret.txt", "/etc/passwd", "uploads/link.wav", "uploads/dirlink/secret.txt",
    "~/.bashrc", "assets/../../secret.txt", "uploads/%2e%2e/%2e%2e/secret.txt", "..\\..\\secret.txt",
    "C:\\Windows\\win.ini", "", "uploads/\x00.wav", "/", "//etc/passwd",
]


def test_traversal_corpus_never_escapes(home):
    escaped = []
    for attempt in TRAVERSALS:
        try:
            real = resolve_allowed(attempt, home, must_exist=False)
        except PathNotAllowedError:
            continue
        if not real.is_relative_to(home.home.resolve()):
            escaped.append((attempt, real))
    assert escaped == []


def test_extra_root(home, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.wav").write_bytes(b"x")
    with pytest.raises(PathNotAllowedError):
        resolve_allowed(data / "a.wav", home)
    add_allowed_root(data)
    assert resolve_allowed(data / "a.wav", home).name == "a.wav"
