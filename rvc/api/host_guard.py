"""DNS rebinding and cross-site protection for the whole server (the page, Gradio's routes and /api/v2).

A web page on evil.example can make its name resolve to 127.0.0.1 and then talk to a server on loopback "from
the same origin"; the browser still sends `Host: evil.example`. So a server on loopback answers only requests
whose Host is localhost, 127.0.0.1, [::1] (any port) or the address it is bound to (400 otherwise), and refuses
a state-changing request or a WebSocket whose `Origin` is another site (403): another page may not drive it.
On another address the Host is only checked when the operator names the server's names (`--allowed-host`):
behind a share link or a proxy the Host is the public name, which the server cannot guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from rvc.api.auth import is_loopback

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
POLICY_VIOLATION = 1008  # WebSocket close code; the server answers the handshake with 403


def allowed_hosts(bound: str, share: bool, names: Iterable[str] = ()) -> frozenset[str] | None:
    """The host names the server answers to (any port), or None when it answers to any (Host not checked)."""
    names = {name.strip().lower().strip("[]") for name in names if name.strip()}
    if not names and (share or not is_loopback(bound)):
        return None
    bound = bound.lower().strip("[]")
    return frozenset(LOOPBACK_NAMES | names | ({bound} if not _is_wildcard(bound) else set()))


def _is_wildcard(host: str) -> bool:
    """0.0.0.0 or ::, which a browser may be pointed at but which names no server."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _host_and_port(authority: str, scheme: str) -> tuple[str, int] | None:
    """("example.com", 8080) of "Example.com:8080" (the scheme's port when none is named); None if malformed."""
    if not authority or set(authority) & set("@/?#\\ "):  # only name[:port]; no user part, path or spaces
        return None
    try:
        parts = urlsplit(f"//{authority}")
        return (parts.hostname or "", parts.port or DEFAULT_PORTS.get(scheme, 80)) if parts.hostname else None
    except ValueError:  # a port that is not a number
        return None


def host_allowed(host: str | None, allowed: frozenset[str]) -> bool:
    """Whether a Host header names one of the allowed hosts."""
    parsed = _host_and_port(host or "", "http")
    return parsed is not None and parsed[0] in allowed


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """Whether an Origin header ("http://name:port") is the server the request reached (its Host, same port)."""
    parts = urlsplit(origin)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return False  # "null" (a sandboxed or file: page) or garbage
    return _host_and_port(parts.netloc, parts.scheme) == _host_and_port(host, scheme)


def refusal(scope: Scope, headers: Headers, allowed: frozenset[str]) -> tuple[int, str] | None:
    """(status, reason) to refuse the request with, or None to let it through."""
    host = headers.get("host")
    if not host_allowed(host, allowed):
        return 400, (f"Host {host!r} is not this server: it answers to {', '.join(sorted(allowed))} (DNS rebinding "
                     "protection; start it with --allowed-host NAME to add a name)")
    origin = headers.get("origin")
    unsafe = scope["type"] == "websocket" or scope.get("method") not in SAFE_METHODS
    if unsafe and origin is not None and not same_origin(origin, host, scope.get("scheme", "http")):
        return 403, f"cross-site request refused: Origin {origin!r} is not this server ({host})"
    return None


class HostGuard:
    """Pure ASGI middleware applying `refusal` to every HTTP request and WebSocket handshake."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = refusal(scope, Headers(scope=scope), self.allowed) if scope["type"] in ("http", "websocket") else None
        if refused is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose(POLICY_VIOLATION)(scope, receive, send)  # the handshake gets a 403
        else:
            await PlainTextResponse(refused[1], status_code=refused[0])(scope, receive, send)
