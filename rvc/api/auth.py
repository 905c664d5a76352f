"""Who may call the API: everyone on a server only this machine can reach, bearer-token holders otherwise.

A server bound to a loopback address is private to its machine; with `--share` (a public link) or any other
address (0.0.0.0 included) every call needs `Authorization: Bearer <token>`. The token is `--api-token`, or one
generated at start and printed; given explicitly, it is required on loopback too. Browsers cannot put headers
on an EventSource or a WebSocket, so those may pass it as `?token=` instead.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, WebSocketException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

_bearer = HTTPBearer(auto_error=False, description="the server's API token (printed at start, or --api-token)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def api_token(given: str | None, host: str, share: bool) -> tuple[str | None, bool]:
    """The token the server requires (None: none) and whether it was generated here (so must be shown)."""
    if given:
        return given, False
    if share or not is_loopback(host):
        return secrets.token_urlsafe(24), True
    return None, False


def token_guard(token: str) -> Callable[..., Awaitable[None]]:
    """A dependency that refuses a call without ``token`` (compared in constant time)."""
    expected = token.encode()

    async def require_token(
        connection: HTTPConnection, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> None:
        given = credentials.credentials if credentials else connection.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), expected):
            return
        reason = "missing or wrong API token (send Authorization: Bearer <token>)"
        if connection.scope["type"] == "websocket":
            raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"})

    return require_token
