"""What the server hands out as files: media inline, everything else a download, never sniffed. The real server and
Chromium are driven in tests/integration/test_hostile_requests.py and tests/browser/test_stored_content.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route

from rvc.api.common import file_answer
from rvc.api.stored_content import StoredContent, inline_allowed

INLINE = ["audio/wav", "audio/x-wav", "audio/mpeg", "audio/flac; charset=binary", "video/mp4", "image/png",
          "IMAGE/JPEG"]
DOWNLOADS = ["text/html", "text/html; charset=utf-8", "application/xhtml+xml", "image/svg+xml", "text/javascript",
             "application/javascript", "text/xml", "application/xml", "text/plain", "application/pdf",
             "application/octet-stream", "", None]


@pytest.mark.parametrize(("media_type", "inline"), [(t, True) for t in INLINE] + [(t, False) for t in DOWNLOADS])
def test_only_media_may_be_shown_inline(media_type: str | None, inline: bool):
    assert inline_allowed(media_type) is inline


@pytest.mark.parametrize(("name", "typed"), [("report.html", "application/octet-stream"), ("take.wav", "audio/"),
                                             ("logo.svg", "application/octet-stream"),
                                             ("voice.pth", "application/octet-stream")])
def test_a_rest_download_is_an_attachment_typed_as_media_only(tmp_path: Path, name: str, typed: str):
    (tmp_path / name).write_bytes(b"<script>alert(1)</script>")
    answer = file_answer(tmp_path / name)
    assert answer.media_type.startswith(typed)
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["x-content-type-options"] == "nosniff"


def stored_app(folder: Path) -> TestClient:
    """A stand-in for Gradio's file route: serves a folder's files inline by their guessed type, as Gradio does."""
    def serve(request):
        path = folder / request.path_params["name"]
        if not path.is_file():
            return PlainTextResponse("File not allowed", status_code=403)
        return FileResponse(path, filename=path.name, content_disposition_type="inline")

    app = Starlette(routes=[Route("/gradio_api/file={name:path}", serve), Route("/page/{name:path}", serve)])
    return TestClient(StoredContent(app, prefixes=("/gradio_api/file=",)))


def test_the_file_route_serves_pages_as_downloads_and_media_inline(tmp_path: Path):
    for name in ("report.html", "logo.svg", "app.js", "feed.xml", "take.wav"):
        (tmp_path / name).write_bytes(b"<script>alert(1)</script>")
    client = stored_app(tmp_path)
    for name in ("report.html", "logo.svg", "app.js", "feed.xml"):
        answer = client.get(f"/gradio_api/file={name}")
        assert (answer.headers["content-type"], answer.headers["content-disposition"]) == (
            "application/octet-stream", f'attachment; filename="{name}"')
        assert answer.headers["x-content-type-options"] == "nosniff"
    audio = client.get("/gradio_api/file=take.wav")
    headers = audio.headers
    assert headers["content-type"].startswith("audio/") and headers["content-disposition"].startswith("inline")
    assert headers["x-content-type-options"] == "nosniff"
    refused = client.get("/gradio_api/file=missing.html")  # an error answer keeps its text, and is not sniffed
    assert refused.status_code == 403 and refused.headers["x-content-type-options"] == "nosniff"
    assert client.get("/page/report.html").headers["content-type"].startswith("text/html")  # other routes: as they are
