"""Who may use the server, and what a guest may do.

A server bound to a loopback address is private to its machine; with `--share` (a public link) or any other
address (0.0.0.0 included) it needs a login: the page asks for a user and password (Gradio's login) and every
REST call needs `Authorization: Bearer <token>`. Passwords and tokens are given (`--auth`, `--api-token`) or
generated at start and printed. Browsers cannot put headers on an EventSource or a WebSocket, so the routes they
open (marked `accepts_query_token`) may take the token as `?token=` instead; every other route refuses a token in
its URL (401), since URLs end up in logs, browser history and Referer headers.

Two roles: an admin does everything; a guest (`--guest` logins, the guest token) may convert, follow and cancel
its own tasks and list models, but never trains, changes or deletes anything, downloads assets, sees another's
task or reads the server's folders. The UI checks the role in its callbacks (tabs.common), the API with
`require_admin`; tasks record who submitted them (`caller_owner`), and a guest's view of tasks is its own.
A token names a role, not a person: every holder of the guest token is the same guest.
Passwords and tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, WebSocketException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.types import Scope

from rvc import service

_bearer = HTTPBearer(auto_error=False, description="the server's admin or guest token (printed at start)")
ADMIN_USER = "admin"  # the login generated when none is given
GUEST_REFUSED = "guests may only convert, follow tasks and list models: this needs the admin token"
QUERY_TOKEN = "token"
QUERY_TOKEN_REFUSED = ("?token= is accepted only by the event stream and WebSocket routes, which a browser opens "
                       "without headers: send Authorization: Bearer <token>")
_query_token_endpoints: set[Callable[..., object]] = set()
Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


class Role(StrEnum):
    ADMIN = service.ADMIN_ROLE
    GUEST = service.GUEST_ROLE


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def login_required(host: str, share: bool) -> bool:
    """Whether others than this machine's users can reach the server (then nothing is open without a login)."""
    return share or not is_loopback(host)


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


# --- the UI's logins ------------------------------------------------------------------------------------------

def parse_login(text: str) -> tuple[str, str]:
    """`user:password` (the password may contain ':') as (user, password); ValueError naming what is wrong."""
    user, colon, password = text.partition(":")
    user = user.strip()  # Gradio's login form strips the name it is sent
    if not colon:
        raise ValueError(f"{text!r} is not USER:PASSWORD (no ':')")
    if not user or not password:
        raise ValueError(f"{text!r} needs both a user name and a password")
    return user, password


@dataclass(frozen=True)
class Logins:
    """The page's accounts: user name -> (password, role)."""

    accounts: Mapping[str, tuple[str, Role]]

    def check(self, username: str, password: str) -> bool:
        """Gradio's `auth` callable: the password compared in constant time, also for an unknown name."""
        expected, _ = self.accounts.get(username, (None, None))
        matches = same_secret(password, expected if expected is not None else new_secret())
        return expected is not None and matches

    def users(self, role: Role) -> frozenset[str]:
        return frozenset(user for user, (_, user_role) in self.accounts.items() if user_role is role)


def ui_logins(admins: Iterable[tuple[str, str]], guests: Iterable[tuple[str, str]], host: str,
              share: bool) -> tuple[Logins | None, str | None]:
    """The page's logins (None: the page is open) and the admin password generated here, which start-up prints.

    The page asks for a login when others can reach it, or when any login is given; without an admin login
    one is made for user `admin`.
    """
    admins, guests = list(admins), list(guests)
    if not (admins or guests or login_required(host, share)):
        return None, None
    generated = None
    if not admins:
        generated = new_secret()
        admins = [(ADMIN_USER, generated)]
    accounts: dict[str, tuple[str, Role]] = {}
    for role, logins in ((Role.ADMIN, admins), (Role.GUEST, guests)):
        for user, password in logins:
            if user in accounts:
                raise ValueError(f"the user name {user!r} is given twice")
            accounts[user] = (password, role)
    return Logins(accounts), generated


# --- the API's tokens -----------------------------------------------------------------------------------------

def api_token(given: str | None, host: str, share: bool, logins: bool = False) -> tuple[str | None, bool]:
    """The admin token the API requires (None: none) and whether it was generated here (so must be shown).

    One is required when others can reach the server, or when the page has logins (``logins``): the API must
    not be an open door beside a locked page.
    """
    if given:
        return given, False
    if logins or login_required(host, share):
        return new_secret(), True
    return None, False


def guest_token(given: str | None, guests: bool) -> tuple[str | None, bool]:
    """The guest token (None: no guests on the API) and whether it was generated here (when guests log in)."""
    if given:
        return given, False
    return (new_secret(), True) if guests else (None, False)


def token_roles(admin: str | None, guest: str | None) -> dict[Role, str]:
    """The tokens the API accepts, by role (empty: an open API where every caller is the admin)."""
    if guest and not admin:
        raise ValueError("a guest token needs an admin token as well")
    if guest and same_secret(guest, admin or ""):
        raise ValueError("the guest token must differ from the admin token")
    return {role: token for role, token in ((Role.ADMIN, admin), (Role.GUEST, guest)) if token}


def role_of_token(given: str, tokens: Mapping[Role, str]) -> Role | None:
    """The role whose token was given (every token is compared, in constant time), None for no match."""
    matches = [role for role, token in tokens.items() if same_secret(given, token)]
    return matches[0] if matches else None


def accepts_query_token(endpoint: Endpoint) -> Endpoint:
    """Mark a route's endpoint (an EventSource's or a WebSocket's) as one that may take the token as `?token=`."""
    _query_token_endpoints.add(endpoint)
    return endpoint


def query_token_accepted(scope: Scope) -> bool:
    """Whether the route a request reached (FastAPI puts it in the scope) was marked `accepts_query_token`."""
    return getattr(scope.get("route"), "endpoint", None) in _query_token_endpoints


def _refuse(connection: HTTPConnection, reason: str) -> HTTPException | WebSocketException:
    if connection.scope["type"] == "websocket":
        return WebSocketException(status.WS_1008_POLICY_VIOLATION, reason)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"})


async def caller_role(
    connection: HTTPConnection, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Role:
    """The caller's role from its token (the app's `state.tokens`, see `rvc.api.app`); 401 without a valid one,
    and for a token in the URL of a route that does not accept one there (even beside a good header)."""
    tokens: Mapping[Role, str] = connection.app.state.tokens
    if not tokens:
        return Role.ADMIN
    in_query = connection.query_params.get(QUERY_TOKEN)
    if in_query is not None and not query_token_accepted(connection.scope):
        raise _refuse(connection, QUERY_TOKEN_REFUSED)
    given = credentials.credentials if credentials else in_query
    if given is not None and (role := role_of_token(given, tokens)) is not None:
        return role
    raise _refuse(connection, "missing or wrong API token (send Authorization: Bearer <token>)")


CallerRole = Annotated[Role, Depends(caller_role)]


def require_admin(role: CallerRole) -> None:
    """For the routes that train, change or delete things, or read the server's folders: 403 for a guest."""
    if role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, GUEST_REFUSED)


ADMIN_ONLY = [Depends(require_admin)]


async def caller_owner(connection: HTTPConnection, role: CallerRole) -> service.Owner | None:
    """The caller as the owner its tasks record and the one whose tasks it may see; None on an open API (no
    tokens: whoever calls is this machine's user and sees every task)."""
    return service.Owner(None, str(role)) if connection.app.state.tokens else None


CallerOwner = Annotated[service.Owner | None, Depends(caller_owner)]

