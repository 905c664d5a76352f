"""A bug in a route answers 500 as JSON in the API's error shape, naming no detail of the server, over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from rvc import service
from rvc.api.app import create_api
from tests.integration.conftest import free_port


@pytest.fixture()
def api_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret path /home/admin/notes.txt")

    monkeypatch.setattr(service, "list_models_detailed", broken)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_api(), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_server_error_is_json_without_the_message(api_url: str) -> None:
    answer = httpx.get(f"{api_url}/models", timeout=10)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    detail = answer.json()["detail"]
    assert "RuntimeError" in detail and "secret" not in detail
