"""DNS rebinding and cross-site protection: which Host and Origin headers pass, and the middleware's answers."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from rvc.api.host_guard import HostGuard, allowed_hosts, host_allowed, same_origin

LOOPBACK = allowed_hosts("127.0.0.1", share=False)
WS = "ws://127.0.0.1:7865/ws"  # the test client's WebSockets ignore its base_url


@pytest.mark.parametrize(("bound", "share", "names", "expected"), [
    ("127.0.0.1", False, [], {"localhost", "127.0.0.1", "::1"}),
    ("127.0.0.2", False, [], {"localhost", "127.0.0.1", "::1", "127.0.0.2"}),
    ("localhost", False, [], {"localhost", "127.0.0.1", "::1"}),
    ("127.0.0.1", True, [], None),  # behind a share link the Host is the link's name
    ("0.0.0.0", False, [], None),
    ("0.0.0.0", False, ["RVC.lan", "[fd00::5]"], {"localhost", "127.0.0.1", "::1", "rvc.lan", "fd00::5"}),
    ("192.168.1.5", False, ["rvc.lan"], {"localhost", "127.0.0.1", "::1", "rvc.lan", "192.168.1.5"}),
])
def test_allowed_hosts(bound, share, names, expected):
    assert allowed_hosts(bound, share, names) == (frozenset(expected) if expected is not None else None)


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1:7865", True), ("localhost", True), ("LocalHost:1", True), ("[::1]:7865", True),
    ("evil.example", False), ("evil.example:7865", False), ("localhost.evil.example", False),
    ("127.0.0.1.evil.example", False), ("0.0.0.0:7865", False), ("evil@127.0.0.1:7865", False),
    ("127.0.0.1:7865/x", False), ("127.0.0.1:port", False), ("", False), (None, False),
])
def test_host_header(host, allowed):
    assert host_allowed(host, LOOPBACK) is allowed


@pytest.mark.parametrize(("origin", "host", "scheme", "same"), [
    ("http://127.0.0.1:7865", "127.0.0.1:7865", "http", True),
    ("http://LOCALHOST:7865", "localhost:7865", "ws", True),
    ("http://localhost", "localhost:80", "http", True),
    ("http://localhost:7865", "127.0.0.1:7865", "http", False),
    ("http://127.0.0.1:8000", "127.0.0.1:7865", "http", False),
    ("http://evil.example", "127.0.0.1:7865", "http", False),
    ("https://localhost", "localhost", "http", False),
    ("null", "127.0.0.1:7865", "http", False),
    ("file://", "127.0.0.1:7865", "http", False),
])
def test_origin_header(origin, host, scheme, same):
    assert same_origin(origin, host, scheme) is same


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


@pytest.fixture()
def client() -> TestClient:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"), methods=["GET", "POST"]),
                            WebSocketRoute("/ws", echo)])
    return TestClient(HostGuard(app, LOOPBACK), base_url="http://127.0.0.1:7865")


def test_the_guard_refuses_other_hosts(client: TestClient):
    assert client.get("/").text == "ok"
    assert client.get("/", headers={"Host": "localhost:7865"}).status_code == 200
    refused = client.get("/", headers={"Host": "evil.example"})
    assert refused.status_code == 400 and "DNS rebinding" in refused.text and "'evil.example'" in refused.text
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(WS, headers={"Host": "evil.example"}):
        pass
    assert closed.value.code == 1008
    with client.websocket_connect(WS) as websocket:
        assert websocket.receive_text() == "hello"


def test_the_guard_refuses_cross_site_writes_and_websockets(client: TestClient):
    evil = {"Origin": "http://evil.example"}
    refused = client.post("/", headers=evil)
    assert refused.status_code == 403 and "'http://evil.example'" in refused.text
    assert client.get("/", headers=evil).status_code == 200  # a read: the browser keeps the answer from evil
    assert client.post("/", headers={"Origin": "http://127.0.0.1:7865"}).status_code == 200
    assert client.post("/").status_code == 200  # no Origin: not a browser's cross-site request
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(WS, headers=evil):
        pass
    with client.websocket_connect(WS, headers={"Origin": "http://127.0.0.1:7865"}) as websocket:
        assert websocket.receive_text() == "hello"
