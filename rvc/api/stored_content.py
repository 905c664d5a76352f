"""Files the server hands out are media or downloads, never pages.

What the server stores comes partly from visitors: a guest's upload named `report.html` that is a WAV header and
then a script passes the content check, and served inline as `text/html` it would run in the admin's browser,
on the server's origin, with the admin's login. So a file answer may be shown inline only when its type is one a
browser plays or shows without running anything (`inline_allowed`: audio and video, which the page's players
need inline, and raster images); anything else (HTML, SVG, JavaScript, XML, text, unknown) goes out as
`application/octet-stream` with `Content-Disposition: attachment`, and every file answer says
`X-Content-Type-Options: nosniff`, so the browser never sniffs a page out of what it was told is a WAV.

The REST API's downloads are built so (`download_type`, `NOSNIFF`); Gradio's file route, which serves its cache
and the allowed folders inline by their guessed type, is rewritten by `StoredContent`.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOWNLOAD_TYPE = "application/octet-stream"
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
INLINE_FAMILIES = ("audio/", "video/")
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})  # never SVG


def inline_allowed(media_type: str | None) -> bool:
    """Whether a browser may show content of ``media_type`` ("audio/wav; rate=..." or bare) in the page."""
    bare = (media_type or "").split(";")[0].strip().lower()
    return bare.startswith(INLINE_FAMILIES) or bare in INLINE_IMAGES


def download_type(filename: str) -> str:
    """The Content-Type to serve a file under: its own when it may be shown inline, else a plain download."""
    guessed = mimetypes.guess_type(filename)[0]
    return guessed if inline_allowed(guessed) else DOWNLOAD_TYPE


def as_attachment(disposition: str | None) -> str:
    """A Content-Disposition made an attachment, keeping its filename parameters."""
    kind, separator, parameters = (disposition or "").partition(";")
    return f"attachment{separator}{parameters}" if kind.strip().lower() in ("inline", "attachment") else "attachment"


class StoredContent:
    """Pure ASGI middleware for the routes under ``prefixes`` that serve stored files: a successful answer whose type
    may not be shown inline becomes an attachment of type `DOWNLOAD_TYPE`; every answer gets `NOSNIFF`."""

    def __init__(self, app: ASGIApp, prefixes: Iterable[str]) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)

    def serves_files(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        root = scope.get("root_path", "")
        return scope["path"].removeprefix(root).startswith(self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.serves_files(scope):
            await self.app(scope, receive, send)
            return

        async def send_safely(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if message["status"] < 300 and not inline_allowed(headers.get("content-type")):
                    headers["content-type"] = DOWNLOAD_TYPE
                    headers["content-disposition"] = as_attachment(headers.get("content-disposition"))
                headers.update(NOSNIFF)
            await send(message)

        await self.app(scope, receive, send_safely)
