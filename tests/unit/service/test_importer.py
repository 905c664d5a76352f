"""Model imports: public hosts only, size limit while downloading, safe unzipping, checked models, no overwrite."""

from __future__ import annotations

import errno
import io
import ipaddress
import json
import socket
import stat
import struct
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import faiss
import httpx
import numpy as np
import pytest

from rvc import service
from rvc.events import EventSink
from rvc.service.archives import Budget, unpack
from rvc.service.importer import ALLOW_PRIVATE_ENV, MODEL_FILES, check_import_url, download, import_from_url
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
    """Serves `files` by path and answers `redirects` with a 302; `/api/models/<repo>/tree/main` lists a repo like
    the Hugging Face Hub. Every path asked for is noted in `hits`.
    """

    files: dict[str, bytes] = {}
    redirects: dict[str, str] = {}
    hits: list[str] = []
    chunked: bool = False

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = self.path.split("?")[0]
        self.hits.append(path)
        if path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
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


def serve() -> tuple[type[Files], ThreadingHTTPServer]:
    handler = type("Handler", (Files,), {"files": {}, "redirects": {}, "hits": [], "chunked": False})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    handler.port = httpd.server_address[1]
    handler.url = f"http://127.0.0.1:{handler.port}"
    return handler, httpd


@pytest.fixture()
def server(home: Path, monkeypatch) -> Iterator[type[Files]]:
    """A local file server (private imports allowed for it) that is also the hub endpoint."""
    handler, httpd = serve()
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    monkeypatch.setenv("RVC_HF_ENDPOINT", handler.url)
    yield handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def other_server() -> Iterator[type[Files]]:
    """A second local server, the private target a redirect points at: it must never be reached."""
    handler, httpd = serve()
    handler.files["/voice.pth"] = MODEL
    yield handler
    httpd.shutdown()
    httpd.server_close()


def run_import(url: str, limit_bytes: int | None = None) -> tuple[dict, list[dict]]:
    stream = io.StringIO()
    result = import_from_url(url, EventSink(stream, json_lines=True), limit_bytes)
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


PRIVATE_URLS = [
    "http://127.0.0.1:8000/model.pth", "http://localhost/model.pth", "http://10.1.2.3/m.pth",
    "http://192.168.0.2/m.pth", "http://172.16.5.5/m.pth", "http://169.254.169.254/latest/meta-data",
    "http://[::1]/m.pth", "http://0.0.0.0/m.pth", "http://100.64.0.1/m.pth", "http://224.0.0.1/m.pth",
    # the loopback spelt as one number, in hex, in octal
    "http://2130706433/m.pth", "http://0x7f.1/m.pth", "http://017700000001/m.pth",
    # IPv6: unique local, link-local, and IPv4 addresses carried inside (mapped, compatible, 6to4, NAT64)
    "http://[fd00::1]/m.pth", "http://[fe80::1]/m.pth", "http://[::ffff:127.0.0.1]/m.pth",
    "http://[::ffff:10.0.0.1]:8080/m.pth", "http://[::127.0.0.1]/m.pth", "http://[2002:7f00:1::1]/m.pth",
    "http://[64:ff9b::a00:1]/m.pth",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
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
    budget = Budget(10**6)
    for name in ("../evil.pth", "/abs/evil.pth", "a/../../evil.pth"):
        archive = tmp_path / "bad.zip"
        archive.write_bytes(zip_of({name: b"x"}))
        with pytest.raises(ValueError, match="unsafe member"):
            unpack(archive, tmp_path / "out", budget, MODEL_FILES)
    link = zipfile.ZipInfo("link.pth")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ValueError, match="unsafe member"):
        unpack(tmp_path / "link.zip", tmp_path / "out", budget, MODEL_FILES)


def test_unpacked_sizes_count_against_the_limit(tmp_path: Path):
    archive = tmp_path / "bomb.zip"
    archive.write_bytes(zip_of({"a.pth": bytes(600_000), "b.index": bytes(600_000)}))
    with pytest.raises(service.TooLarge):
        unpack(archive, tmp_path / "out", Budget(1_000_000), MODEL_FILES)


def test_a_public_address_passes(monkeypatch):
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    check_import_url("http://93.184.216.34/m.pth")
    check_import_url("https://[2606:4700:4700::1111]/m.pth")


@pytest.mark.parametrize("value", ["yes please", "127.0.0.1", "localhost:80", "127.0.0.1:http"])
def test_a_malformed_allow_list_is_an_error(value: str, monkeypatch):
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, value)
    with pytest.raises(ValueError, match="ADDRESS:PORT"):
        check_import_url("http://10.0.0.1/m.pth")


PUBLIC = "93.184.216.34"


def test_a_name_that_rebinds_to_the_loopback_is_only_connected_at_the_address_checked(server, monkeypatch,
                                                                                      tmp_path: Path):
    """DNS rebinding: the name answers a public address first and the loopback after. The check and the
    connection must use the same answer, so the only connection tried goes to the public address (refused
    here: there is no network), never to the local server that would serve the file.
    """
    monkeypatch.delenv(ALLOW_PRIVATE_ENV)
    server.files["/voice.pth"] = MODEL
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    queries, connections = [], []

    def rebinding(host: str, port, *args, **kwargs):
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        queries.append(host)
        return real_getaddrinfo(PUBLIC if len(queries) == 1 else "127.0.0.1", port, *args, **kwargs)

    def connect(sock: socket.socket, address: tuple) -> None:
        connections.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "no way out of the test")
        real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(socket.socket, "connect", connect)
    folder = tmp_path / "download"
    folder.mkdir()
    with pytest.raises(httpx.ConnectError):
        download(f"http://rebind.test:{server.port}/voice.pth", folder, Budget(10**8), EventSink(io.StringIO()))
    assert queries == ["rebind.test"] and connections == [PUBLIC]
    assert server.hits == [] and list(folder.iterdir()) == []


def test_an_allowed_server_cannot_redirect_into_the_private_network(home: Path, server, other_server, monkeypatch):
    """Only the test server's own address and port are allowed: its redirects to itself are followed, and every
    redirect elsewhere in the private network is refused before anything connects there.
    """
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, f"127.0.0.1:{server.port}")
    server.files["/voice.pth"] = MODEL
    server.redirects["/moved.pth"] = "/voice.pth"
    assert run_import(f"{server.url}/moved.pth")[0]["models"] == ["moved"]  # named as asked for
    port = other_server.port
    for target in (f"{other_server.url}/voice.pth", f"http://[::ffff:127.0.0.1]:{port}/voice.pth",
                   f"http://2130706433:{port}/voice.pth", f"http://0x7f.1:{port}/voice.pth",
                   "http://10.0.0.1/voice.pth", "http://169.254.169.254/voice.pth"):
        server.redirects["/hop.pth"] = target
        with pytest.raises(service.NotAllowed, match="private or local"):
            run_import(f"{server.url}/hop.pth")
    assert other_server.hits == []
    assert sorted(path.name for path in (home / "assets" / "weights").iterdir()) == ["moved.pth", "tiny.pth"]
    assert not list((home / "assets").glob(".import-*"))


@pytest.mark.parametrize("name", ["..\\evil.pth", "C:\\evil.pth", "C:/evil.pth", "c:evil.pth"])
def test_windows_forms_of_zip_members_are_refused(tmp_path: Path, name: str):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_of({name: b"x"}))
    with pytest.raises(ValueError, match="unsafe member"):
        unpack(archive, tmp_path / "out", Budget(10**6), MODEL_FILES)


def test_a_member_declaring_more_than_the_limit_is_refused_before_anything_is_written(tmp_path: Path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("bomb.pth", bytes(5_000_000))  # 5 MB of zeros, some 5 KB packed
    assert archive.stat().st_size < 20_000
    with pytest.raises(service.TooLarge, match="unpacks to 4 MB"):
        unpack(archive, tmp_path / "out", Budget(1_000_000), MODEL_FILES)
    assert list((tmp_path / "out").iterdir()) == []


def lying_zip(actual_bytes: int, declared_bytes: int) -> bytes:
    """A zip of one member `bomb.pth` whose headers declare ``declared_bytes`` while it unpacks to more."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("bomb.pth", bytes(actual_bytes))
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        start = data.index(signature)
        data[start + offset:start + offset + 4] = struct.pack("<I", declared_bytes)
    return bytes(data)


def test_a_member_whose_header_lies_about_its_size_is_refused_and_nothing_installed(home: Path, server):
    server.files["/bomb.zip"] = lying_zip(actual_bytes=5_000_000, declared_bytes=1000)
    with pytest.raises(ValueError, match="bomb"):
        run_import(f"{server.url}/bomb.zip", limit_bytes=1_000_000)
    assert sorted(path.name for path in (home / "assets" / "weights").iterdir()) == ["tiny.pth"]
    assert not list((home / "assets").glob(".import-*"))
