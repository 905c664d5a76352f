"""A stand-in for the Hugging Face Hub's file endpoint, served from the test process on 127.0.0.1.

It answers HEAD and GET `/{repo_id}/resolve/{revision}/{filename}` the way huggingface.co does for what a file
download needs: `ETag`, `X-Repo-Commit`, `Content-Length`, `Accept-Ranges` with `Range` -> 206 + `Content-Range`,
and `X-Error-Code: EntryNotFound` on a 404 so huggingface_hub raises its usual error. Switches let a test cut a
transfer in the middle, answer 503, ignore ranges, or redirect to a content-addressed "CDN" path as huggingface.co
does for large (LFS) files.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "4f0ac1e33e6c00b3ef1b1c1e4e3f1e1f0d2a9b8c"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None


class FakeHub:
    """Files by repo path, a log of the requests, and failure switches; use as a context manager."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.cuts_left = 0  # GETs still to cut off after half of their body
        self.errors_left = 0  # requests still to answer with 503
        self.honor_ranges = True
        self.redirect_to_cdn = False
        handler = type("BoundHandler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, repo_id: str, filename: str, content: bytes, revision: str = "main") -> None:
        self.files[f"/{repo_id}/resolve/{revision}/{filename}"] = content
        self.files[f"/cdn/{hashlib.sha256(content).hexdigest()}"] = content

    def gets(self) -> list[Request]:
        return [request for request in self.requests if request.method == "GET"]

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass

    def _answer(self, send_body: bool) -> None:
        hub = self.hub
        wanted = self.headers.get("Range") if hub.honor_ranges else None
        hub.requests.append(Request(self.command, self.path, self.headers.get("Range")))
        content = hub.files.get(unquote(self.path))
        if hub.errors_left > 0 or content is None:
            self._refuse(503 if hub.errors_left > 0 else 404)
            return
        if hub.redirect_to_cdn and "/resolve/" in self.path:
            self._redirect(content)
            return
        start = int(wanted.removeprefix("bytes=").split("-")[0]) if wanted else 0
        body = content[start:]
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
        self.send_header("X-Repo-Commit", COMMIT)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        self.end_headers()
        if not send_body:
            return
        if self.command == "GET" and hub.cuts_left > 0:
            hub.cuts_left -= 1
            body = body[: len(body) // 2]  # then the connection closes short of Content-Length
        self.wfile.write(body)

    def _redirect(self, content: bytes) -> None:
        sha256 = hashlib.sha256(content).hexdigest()
        self.send_response(302)
        self.send_header("Location", f"/cdn/{sha256}")
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("X-Linked-Etag", f'"{sha256}"')
        self.send_header("X-Linked-Size", str(len(content)))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _refuse(self, status: int) -> None:
        if status == 503:
            self.hub.errors_left -= 1
        self.send_response(status)
        if status == 404:
            self.send_header("X-Error-Code", "EntryNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()
