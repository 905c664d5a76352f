"""The guard on Gradio's file route: which requests it reads as file requests, and whose it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tabs import common
from tabs.file_guard import GuestFileGuard, requested_path

# Gradio's app as the guard sees it: the login cookie's id and the sessions (cookie value -> user name)
GRADIO_APP = SimpleNamespace(cookie_id="abc", tokens={"admin-cookie": "boss", "guest-cookie": "visitor"})


def request(path: str, session: str | None = None, root_path: str = "") -> dict:
    cookie = [(b"cookie", f"access-token-abc={session}".encode())] if session else []
    return {"type": "http", "method": "GET", "path": path, "root_path": root_path, "headers": cookie,
            "app": GRADIO_APP}


@pytest.fixture()
def logins() -> Iterator[None]:
    common.set_admins({"boss"})
    yield
    common.set_admins(None)


@pytest.mark.parametrize(("path", "root_path", "file"), [
    ("/gradio_api/file=/srv/a.pth", "", "/srv/a.pth"), ("/gradio_api/file//srv/a.pth", "", "/srv/a.pth"),
    ("/rvc/gradio_api/file=/srv/a.pth", "/rvc", "/srv/a.pth"), ("/gradio_api/upload", "", None),
    ("/gradio_api/files=/srv/a.pth", "", None), ("/api/v2/tasks", "", None),
])
def test_file_requests_are_told_apart(path, root_path, file):
    assert requested_path(request(path, root_path=root_path)) == file


def test_only_admins_get_paths_inside_the_roots(tmp_path: Path, logins):
    root = tmp_path / "home"
    (root / "assets").mkdir(parents=True)
    guard = GuestFileGuard(app=None, roots=[root])
    inside, outside = root / "assets" / "m.pth", tmp_path / "cache" / "out.wav"
    escaping = f"{tmp_path}/cache/../home/assets/m.pth"
    for session in ("guest-cookie", "forged", None):
        assert all(guard.refuses(request(f"/gradio_api/file={path}", session)) for path in (inside, escaping))
        assert not guard.refuses(request(f"/gradio_api/file={outside}", session))
    assert guard.refuses(request("/gradio_api/file=/a\0b", "guest-cookie"))  # no file has that name
    assert not guard.refuses(request(f"/gradio_api/file={inside}", "admin-cookie"))
    common.set_admins(None)  # a page without logins: everyone is the admin
    assert not guard.refuses(request(f"/gradio_api/file={inside}"))
