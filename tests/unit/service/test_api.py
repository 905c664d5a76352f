"""The REST layer without a server: the error mapping, token checks, streamed uploads and the SSE format."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from rvc import service
from rvc.api import api_token, create_api
from rvc.api.errors import status_of
from rvc.api.sse import event_message, message, progress_stream
from tests.conftest import PROJECT_ROOT
from tests.unit.service.conftest import write_settings, write_wav
from tests.unit.test_architecture import imported_modules, python_files


def test_the_api_reaches_rvc_only_through_the_service():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): bad
        for path in python_files("rvc/api")
        if (bad := sorted(n for n in imported_modules(path) if n.split(".")[0] == "rvc"
                          and not n.startswith(("rvc.service", "rvc.api"))))
    }
    assert offenders == {}


@pytest.mark.parametrize(("error", "status"), [
    (service.NotFound("x"), 404), (service.Conflict("x"), 409), (service.TooLarge("x"), 413),
    (service.UnsupportedMedia("x"), 415), (service.PathNotAllowedError("x"), 403), (service.NotAllowed("x"), 403),
    (FileNotFoundError("x"), 422), (ValueError("x"), 422), (NotImplementedError("x"), 501),
])
def test_each_service_error_has_one_status(error: Exception, status: int):
    assert status_of(error) == status


@pytest.mark.parametrize(("given", "host", "share", "required", "generated"), [
    (None, "127.0.0.1", False, False, False), (None, "localhost", False, False, False),
    (None, "::1", False, False, False), (None, "0.0.0.0", False, True, True), (None, "192.168.1.5", False, True, True),
    (None, "127.0.0.1", True, True, True), ("secret", "127.0.0.1", False, True, False),
])
def test_a_token_is_required_off_loopback_or_when_given(given, host, share, required, generated):
    token, was_generated = api_token(given, host, share)
    assert (token is not None) == required and was_generated == generated
    assert given is None or token == given


@pytest.fixture()
def client(home: Path, jobs) -> TestClient:
    return TestClient(create_api())


def test_answers_are_json_with_a_detail(client: TestClient, home: Path):
    assert client.get("/inference/tasks/nope").json() == {"detail": "task 'nope' not found"}
    assert client.get("/trainings/42").status_code == 404
    assert client.get("/models/nobody").status_code == 404
    answer = client.get("/inference/tasks", params={"limit": 0})
    assert answer.status_code == 422 and "limit" in answer.json()["detail"]
    answer = client.post("/inference/tasks", json={"model_id": "tiny", "audio_path": "/etc/hostname"})
    assert answer.status_code == 403 and "outside" in answer.json()["detail"]
    answer = client.post("/trainings", json={"name": "a", "target_sr": "40k", "if_f0": "yes", "dataset_path": "x"})
    assert answer.status_code == 422 and "if_f0" in answer.json()["detail"]
    answer = client.post("/inference/tasks", json={"model_id": "tiny", "audio_path": "x", "speed": 2})
    assert answer.status_code == 422 and "speed" in answer.json()["detail"]


def test_a_token_guards_every_route_and_websocket(home: Path, jobs):
    client = TestClient(create_api("s3cret"))
    assert client.get("/system/info").status_code == 401
    assert client.get("/system/info", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/system/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/ws/tasks/x/log"):
            pass
    assert refused.value.code == 1008
    assert client.get("/openapi.json").status_code == 200  # the schema describes, it serves nothing


HEADER, QUERY = {"headers": {"Authorization": "Bearer s3cret"}}, {"params": {"token": "s3cret"}}
# how a caller sends the token -> (whether the plain routes let it in, whether the streams do)
TOKEN_FORMS = {"header": (HEADER, True, True), "query": (QUERY, False, True),
               "query and header": (HEADER | QUERY, False, True),
               "wrong query": ({"params": {"token": "wrong"}}, False, False), "none": ({}, False, False)}
PLAIN_ROUTES = [("GET", "/system/info"), ("GET", "/models"), ("GET", "/tasks/x"), ("POST", "/tasks/x/cancel"),
                ("GET", "/tasks/x/log"), ("GET", "/inference/tasks/x/outputs/a.wav")]


@pytest.mark.parametrize("form", TOKEN_FORMS)
def test_a_token_in_the_url_is_taken_only_where_a_browser_cannot_send_a_header(home: Path, jobs, form: str):
    """`?token=` opens the event stream and both WebSockets; every other route answers it 401 naming the header,
    even beside a good header (the token is in the URL all the same). Let in, a route answers for the unknown id."""
    client = TestClient(create_api("s3cret"))
    options, plain, streams = TOKEN_FORMS[form]
    answers = {path: client.request(method, path, **options) for method, path in PLAIN_ROUTES}
    assert {path: answer.status_code != 401 for path, answer in answers.items()} == dict.fromkeys(answers, plain)
    if form.startswith("query"):
        assert all("?token= is accepted only by" in answer.json()["detail"] for answer in answers.values())
    assert client.get("/tasks/x/progress", **options).status_code == (404 if streams else 401)
    query = f"?token={options['params']['token']}" if "params" in options else ""
    for socket in ("/ws/tasks/x/log", "/ws/trainings/x/log"):
        if streams:  # accepted, then "no such task/training"
            with client.websocket_connect(socket + query, headers=dict(options.get("headers", {}))) as connection:
                assert "not found" in connection.receive_json()["detail"]
        else:
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(socket + query):
                pass
            assert refused.value.code == 1008


def upload(client: TestClient, content: bytes, name: str = "take.wav", **options):
    return client.post("/system/upload", files={"file": (name, content, "application/octet-stream")}, **options)


def test_uploads_stream_into_uploads_with_limit_and_type_checked(client: TestClient, home: Path):
    wav = write_wav(home / "take.wav", seconds=1.0).read_bytes()
    answer = upload(client, wav, "../../escape.wav")
    assert answer.status_code == 201
    assert answer.json() == {"path": str(home / "uploads" / "escape.wav"), "name": "escape.wav",
                             "size_bytes": len(wav), "media_type": "wav", "files": None}
    assert upload(client, b"plain text pretending", "fake.wav").status_code == 415
    assert client.post("/system/upload", content=wav, headers={"content-type": "audio/wav"}).status_code == 415
    answer = client.post("/system/upload", files={"other": ("x.wav", wav)})
    assert answer.status_code == 422 and "'file'" in answer.json()["detail"]

    write_settings(home, upload_limit_mb=1)
    big = wav + bytes(2**20)
    assert upload(client, big).status_code == 413  # announced too large: refused before reading
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    body = head + big + b"\r\n--b--\r\n"

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    multipart = {"content-type": "multipart/form-data; boundary=b"}
    answer = client.post("/system/upload", content=chunks(), headers=multipart)
    assert answer.status_code == 413  # no length announced: counted while streaming
    assert sorted(p.name for p in (home / "uploads").iterdir()) == ["escape.wav"]


def test_sse_messages_name_the_event_and_number_it():
    assert message("heartbeat", {}) == "event: heartbeat\ndata: {}\n\n"
    progress = {"type": "progress", "task_id": "t", "seq": 3, "created": 1.0, "stage": "f0", "done": 1, "total": 2,
                "message": ""}
    assert event_message(progress).startswith("id: 3\nevent: progress\ndata: {\"seq\": 3")
    error = {"type": "error", "task_id": "t", "seq": 4, "created": 1.0, "message": "boom", "detail": ""}
    assert event_message(error).startswith("id: 4\nevent: log\n") and '"level": "error"' in event_message(error)


def test_progress_replays_beats_while_idle_and_ends_with_the_task(home: Path):
    service.start_jobs(command=["sleep"], grace_s=1.0)
    try:
        task_id = service.runner().submit("wait", ["0.6"])

        async def collect() -> list[str]:
            return [chunk async for chunk in progress_stream(task_id, heartbeat_s=0.2)]

        chunks = asyncio.run(collect())
    finally:
        service.stop_jobs()
    names = [chunk.split("event: ")[1].split("\n")[0] for chunk in chunks]
    assert names[:2] == ["status", "status"] and "heartbeat" in names
    assert names[-1] == "failed"  # `sleep` prints no result event: the runner calls that a failure
    assert '"status": "failed"' in chunks[-1] and "exited without a result" in chunks[-1]
