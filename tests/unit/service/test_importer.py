"""Model imports: public hosts only, size limit while downloading, safe unzipping, checked models, no overwrite."""

from __future__ import annotations

import io
import json
import stat
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import faiss
import numpy as np
import pytest

from rvc import service
from rvc.events import EventSink
from rvc.service.importer import ALLOW_PRIVATE_ENV, check_import_url, import_from_url, unpack
from tests.factories import tiny_pth

MODEL = tiny_pth("tiny_v2_f0_40k").read_bytes()


def index_bytes(dim: int = 768) -> bytes:
    index = faiss.IndexFlatL2(dim)
    index.add(np.zeros((4, dim), dtype=np.float32))
    return faiss.serialize_index(index).tobytes()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


class Files(BaseHTTPRequestHandler):
    """Serves `files` by path; `/api/models/<repo>/tree/main` lists a repo like the Hugging Face Hub."""

    files: dict[str, bytes] = {}
    chunked: bool = False

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = self.path.split("?")[0]
        if path.startswith("/api/models/") and "/tree/" in path:
            repo = path.removeprefix("/api/models/").split("/tree/")[0]
            listing = [{"type": "file", "path": name.split("/resolve/main/")[1], "size": len(content), "oid": "0"}
                       for name, content in self.files.items() if name.startswith(f"/{repo}/resolve/main/")]
            return self._send(json.dumps(listing).encode(), "application/json")
        if path not in self.files:
            self.send_error(404)
            return None
        return self._send(self.files[path], "application/octet-stream")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if self.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 4096):
                piece = body[start:start + 4096]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(home: Path, monkeypatch) -> Iterator[type[Files]]:
    """A local file server (private imports allowed for it) that is also the hub endpoint."""
    handler = type("Handler", (Files,), {"files": {}, "chunked": False})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    monkeypatch.setenv("RVC_HF_ENDPOINT", handler.url)
    yield handler
    httpd.shutdown()
    httpd.server_close()


def run_import(url: str, limit_bytes: int | None = None) -> tuple[dict, list[dict]]:
    stream = io.StringIO()
    result = import_from_url(url, EventSink(stream, json_lines=True), limit_bytes)
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/model.pth", "http://localhost/model.pth", "http://10.1.2.3/m.pth",
    "http://192.168.0.2/m.pth", "http://172.16.5.5/m.pth", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/m.pth",
])
def test_private_and_local_hosts_are_refused(url: str, monkeypatch):
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    with pytest.raises(service.NotAllowed, match="private or local"):
        check_import_url(url)
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    check_import_url(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/m.pth", "not a url", "http:///m.pth"])
def test_only_http_urls_with_a_host(url: str):
    with pytest.raises(ValueError):
        check_import_url(url)


def test_a_direct_link_to_a_model_is_installed(home: Path, server):
    server.files["/downloads/v1/voice.pth"] = MODEL
    result, events = run_import(f"{server.url}/downloads/v1/voice.pth")
    assert result == {"models": ["voice"], "indexes": []}
    assert (home / "assets" / "weights" / "voice.pth").read_bytes() == MODEL
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == len(MODEL)
    assert {"type": "artifact", "kind": "model", "path": str(home / "assets" / "weights" / "voice.pth")} in events
    assert not list((home / "assets").glob(".import-*"))


def test_a_zip_brings_the_model_with_its_linked_index(home: Path, server, jobs):
    server.files["/pack.zip"] = zip_of({"Singer/singer.pth": MODEL, "Singer/added_IVF4_Flat_v2.index": index_bytes(),
                                        "Singer/readme.txt": b"hello"})
    result, _ = run_import(f"{server.url}/pack.zip")
    index = home / "assets" / "indices" / "singer" / "added_IVF4_Flat_v2.index"
    assert result == {"models": ["singer"], "indexes": [str(index)]}
    listed = {model["model_id"]: model for model in service.list_models_detailed()}
    assert listed["singer"]["index_path"] == str(index) and listed["singer"]["version"] == "v2"
    assert {"name": index.name, "path": str(index), "dim": 768, "size_bytes": index.stat().st_size} in (
        service.list_indexes())


def test_a_hugging_face_repo_is_listed_and_its_files_fetched(home: Path, server):
    server.files["/someone/voices/resolve/main/alto.pth"] = MODEL
    server.files["/someone/voices/resolve/main/notes.md"] = b"# notes"
    result, _ = run_import(f"{server.url}/someone/voices")
    assert result["models"] == ["alto"]
    server.files["/someone/voices/resolve/main/tenor.pth"] = MODEL
    assert run_import(f"{server.url}/someone/voices/blob/main/tenor.pth")[0]["models"] == ["tenor"]


def test_an_existing_model_is_never_replaced(home: Path, server):
    server.files["/tiny.pth"] = MODEL[:-10] + b"0123456789"
    before = (home / "assets" / "weights" / "tiny.pth").read_bytes()
    with pytest.raises(service.Conflict, match="not replacing"):
        run_import(f"{server.url}/tiny.pth")
    assert (home / "assets" / "weights" / "tiny.pth").read_bytes() == before


def test_a_file_that_is_not_a_model_is_refused_and_removed(home: Path, server):
    server.files["/broken.pth"] = b"this is not a checkpoint"
    with pytest.raises(ValueError, match="broken.pth"):
        run_import(f"{server.url}/broken.pth")
    assert not (home / "assets" / "weights" / "broken.pth").exists()
    assert not list((home / "assets").glob(".import-*"))


@pytest.mark.parametrize("chunked", [False, True])
def test_the_size_limit_holds_announced_or_not(home: Path, server, chunked: bool):
    server.chunked = chunked
    server.files["/voice.pth"] = MODEL
    with pytest.raises(service.TooLarge, match="limit"):
        run_import(f"{server.url}/voice.pth", limit_bytes=len(MODEL) // 2)
    assert not (home / "assets" / "weights" / "voice.pth").exists()


def test_other_file_types_and_missing_files_are_errors(home: Path, server):
    server.files["/voice.exe"] = b"MZ"
    with pytest.raises(ValueError, match="not a .pth"):
        run_import(f"{server.url}/voice.exe")
    with pytest.raises(FileNotFoundError, match="404"):
        run_import(f"{server.url}/missing.pth")


def test_unsafe_zip_members_are_refused(tmp_path: Path):
    budget = service.importer._Budget(10**6)
    for name in ("../evil.pth", "/abs/evil.pth", "a/../../evil.pth"):
        archive = tmp_path / "bad.zip"
        archive.write_bytes(zip_of({name: b"x"}))
        with pytest.raises(ValueError, match="unsafe member"):
            unpack(archive, tmp_path / "out", budget)
    link = zipfile.ZipInfo("link.pth")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match="unsafe member"):
        unpack(tmp_path / "link.zip", tmp_path / "out", budget)


def test_unpacked_sizes_count_against_the_limit(tmp_path: Path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_of({"a.pth": bytes(600_000), "b.index": bytes(600_000)}))
    with pytest.raises(service.TooLarge):
        unpack(archive, tmp_path / "out", service.importer._Budget(1_000_000))
