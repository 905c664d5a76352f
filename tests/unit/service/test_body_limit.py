"""The upload limit on the bodies of Gradio's routes, judged by the declared length before anything is read; the
real server is driven in tests/integration/test_hostile_requests.py."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from rvc.api.body_limit import BodyLimit, refusal
from rvc.api.uploads import MULTIPART_SLACK_BYTES

LIMIT = 2**20


@pytest.mark.parametrize(("headers", "status"), [
    ({"content-length": str(LIMIT + MULTIPART_SLACK_BYTES + 1)}, 413), ({"content-length": str(600 * 2**20)}, 413),
    ({"transfer-encoding": "chunked"}, 411), ({"content-length": str(LIMIT)}, None), ({}, None),
])
def test_gradio_bodies_are_judged_by_their_declared_length(headers: dict[str, str], status: int | None):
    refused = refusal(Headers(headers), lambda: LIMIT)
    assert (refused[0] if refused else None) == status


def test_the_body_limit_spares_the_api_and_reads_the_limit_for_each_request():
    limits = [LIMIT]

    def echo(request):
        return PlainTextResponse("stored")

    app = Starlette(routes=[Route("/gradio_api/upload", echo, methods=["POST"]),
                            Route("/api/v2/system/upload", echo, methods=["POST"])])
    client = TestClient(BodyLimit(app, limit_bytes=lambda: limits[0], exempt=("/api/v2/",)))
    body = bytes(2 * LIMIT)
    refused = client.post("/gradio_api/upload", content=body)
    assert refused.status_code == 413 and "larger than the limit of 1 MB" in refused.text
    assert client.post("/api/v2/system/upload", content=body).status_code == 200  # the API counts for itself
    limits[0] = 4 * LIMIT  # the setting changed while the server runs
    assert client.post("/gradio_api/upload", content=body).status_code == 200
