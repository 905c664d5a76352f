"""A traversal corpus never escapes the allowed roots."""

from __future__ import annotations

import os

import pytest

from rvc.config import Paths
from rvc.security import PathNotAllowedError, add_allowed_root, confined_path, resolve_allowed, serve_clients


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
    # too long for the system: refused, not an OSError from deep inside (a 500)
    "uploads/" + "a" * 300, "uploads/" + "x/" * 3000, "uploads/" + "x/" * 1000 + "../" * 1001 + "../secret.txt",
    "uploads/\ud800.wav",  # a lone surrogate, which JSON can carry
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


def test_confined_path_is_as_given_until_the_process_serves_clients(home, tmp_path):
    outside = tmp_path / "secret.txt"
    assert confined_path(outside, home) == outside
    serve_clients(True)
    try:
        with pytest.raises(PathNotAllowedError):
            confined_path(outside, home)
        assert confined_path("uploads/song.wav", home) == (home.uploads / "song.wav").resolve()
    finally:
        serve_clients(False)


@pytest.mark.parametrize("path", ["uploads/" + "a" * 300, "uploads/" + "x/" * 3000, "uploads/\ud800.wav"])
def test_a_path_no_system_call_takes_is_refused_not_an_os_error(home, path):
    with pytest.raises(PathNotAllowedError, match="too long|malformed"):
        resolve_allowed(path, home)
