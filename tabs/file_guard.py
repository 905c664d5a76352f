"""Gradio's file route serves a guest nothing from the server's folders.

Gradio answers `/gradio_api/file=<path>` (and its older spelling `/gradio_api/file/<path>`) to any logged-in user,
from the folders webui.py gives `launch(allowed_paths=...)` (assets, logs, uploads, outputs, `--allowed-path`) and
from Gradio's own cache. Those folders are there so that Gradio may take what a callback returns from them: a
conversion's output or a task's files are copied into the cache, and the browser fetches that copy, by its cache
path. Nobody needs the folders themselves served by path, and a guest must not get models, training logs, the
database or another's outputs that way. So `GuestFileGuard` answers a guest's request for a path inside them 403
before Gradio sees it; a guest still plays and downloads its own results (cache paths), and an admin, or anyone on
a page without logins, is served as before.

The user is the request's Gradio login, found as Gradio finds `gr.Request.username`: the login cookie looked up
in the app's sessions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from tabs.common import is_admin_user

FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/")
REFUSED = ("guests may not download the server's files by path (models, logs, outputs, uploads): a conversion's "
           "result comes with the answer that made it")


def _resolved(path: str | os.PathLike) -> Path:
    """The path as Gradio's file route resolves it (relative to the working folder, links followed)."""
    return Path(os.path.abspath(path)).resolve()


def requested_path(scope: Scope) -> str | None:
    """The server path a request asks Gradio's file route for, None for any other request."""
    path, root = scope["path"], scope.get("root_path", "")
    route = path[len(root):] if root and path.startswith(root) else path
    return next((route[len(prefix):] for prefix in FILE_ROUTES if route.startswith(prefix)), None)


def session_user(scope: Scope) -> str | None:
    """The Gradio login of a request (None without one): its access-token cookie in the app's sessions."""
    app = scope.get("app")
    cookie_id, sessions = getattr(app, "cookie_id", None), getattr(app, "tokens", {})
    cookies = HTTPConnection(scope).cookies
    for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
        if (token := cookies.get(name)) in sessions:
            return sessions[token]
    return None


class GuestFileGuard:
    """Pure ASGI middleware: a 403 for a non-admin's file-route request inside ``roots``."""

    def __init__(self, app: ASGIApp, roots: Iterable[str | os.PathLike]) -> None:
        self.app = app
        self.roots = [_resolved(root) for root in roots]

    def refuses(self, scope: Scope) -> bool:
        requested = requested_path(scope) if scope["type"] == "http" else None
        if requested is None or is_admin_user(session_user(scope)):
            return False
        try:
            path = _resolved(requested)
        except (OSError, ValueError):  # a path no file can have (a NUL byte, a link loop): nothing to serve
            return True
        return any(path.is_relative_to(root) for root in self.roots)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.refuses(scope):
            await PlainTextResponse(REFUSED, status_code=403)(scope, receive, send)
        else:
            await self.app(scope, receive, send)
