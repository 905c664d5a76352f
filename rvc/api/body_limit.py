"""The upload limit for the request bodies of Gradio's routes (its `/gradio_api/upload` above all).

Gradio stores what its upload route receives without a size limit of its own (`max_file_size` is one number
fixed at launch, and per file), so the project's limit (`upload_limit_mb`, which the settings can change while
the server runs) is applied here, before Gradio reads a byte: a body whose Content-Length is over the limit is
a 413, and a body without one (chunked, which no browser and no gradio_client sends) is a 411, since only a
declared length can be judged before it arrives. A declared length is also all the server will read, so
nothing larger can get through. The REST API counts its uploads while they stream (`rvc.api.uploads`), so its
mount is left to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rvc.api.uploads import announced_too_large

LENGTH_REQUIRED = ("send a Content-Length with the body: the upload limit is judged before the body is read "
                   "(chunked bodies are not taken here)")


def refusal(headers: Headers, limit_bytes: Callable[[], int]) -> tuple[int, str] | None:
    """(status, reason) to refuse a request's body with, or None to let it through."""
    announced = headers.get("content-length")
    if announced is None:
        return (411, LENGTH_REQUIRED) if "transfer-encoding" in headers else None
    limit = limit_bytes()
    too_large = announced_too_large(announced, limit)
    return (413, f"{too_large} (the setting upload_limit_mb)") if too_large else None


class BodyLimit:
    """Pure ASGI middleware applying `refusal` to every HTTP request outside the ``exempt`` path prefixes."""

    def __init__(self, app: ASGIApp, limit_bytes: Callable[[], int], exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.limit_bytes = limit_bytes
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        judged = scope["type"] == "http" and not scope["path"].startswith(self.exempt)
        refused = refusal(Headers(scope=scope), self.limit_bytes) if judged else None
        if refused is None:
            await self.app(scope, receive, send)
        else:
            await PlainTextResponse(refused[1], status_code=refused[0])(scope, receive, send)
