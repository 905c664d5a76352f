"""The REST API against a real `webui.py` process: httpx for REST and SSE, `websockets` for the log sockets.

One server (with an API token, and ../shared/data as an allowed folder) serves most tests, in file order: the
inference flow, errors, cancelling and killing conversions, then the training flow through every step. The
restart test runs its own server, since it kills it.
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import os
import re
import shutil
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
import soundfile
from websockets.sync.client import connect

from rvc.jobs import JobStore
from tests.conftest import DATA_DIR
from tests.factories import tiny_pth
from tests.hostile_files import HOSTILE_MODELS
from tests.integration.conftest import start_webui, stop
from tests.unit.train.tiny_experiment import tiny_config

TOKEN = "test-token-0123456789"
FINAL = {"completed", "failed", "cancelled", "paused", "interrupted"}
LONG_SOURCE = DATA_DIR / "source_speech_stereo48k.wav"  # 39 s: converting it takes long enough to interrupt
PM = {"f0_method": "pm", "noise_scale": 0, "index_rate": 0}
needs_delete = pytest.mark.skipif(not hasattr(JobStore, "delete_task"), reason="JobStore.delete_task not there yet")
needs_import = pytest.mark.skipif("import" not in importlib.import_module("rvc.__main__").COMMANDS,
                                  reason="`python -m rvc import` is not in rvc/__main__.py yet")


def make_home(root: Path) -> Path:
    (root / "assets" / "weights").mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), root / "assets" / "weights" / "tiny.pth")
    return root


def home_env(home: Path, rvc_home: Path) -> dict[str, str]:
    return dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1",
                RVC_IMPORT_ALLOW_PRIVATE="1")  # imports from a server of the test on 127.0.0.1


@pytest.fixture(scope="module")
def server(tmp_path_factory, rvc_home: Path) -> Iterator[tuple[str, Path, int]]:
    """A running webui.py: its /api/v2 URL, its RVC_HOME and its pid."""
    home = make_home(tmp_path_factory.mktemp("api_home"))
    process, url = start_webui(home_env(home, rvc_home), "--api-token", TOKEN, "--allowed-path", str(DATA_DIR))
    yield f"{url}api/v2", home, process.pid
    stop(process)


@pytest.fixture()
def api(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        yield client


def events(client: httpx.Client, task_id: str, from_seq: int = 0) -> Iterator[tuple[str, dict]]:
    """The task's Server-Sent Events as (event name, data) until the stream ends."""
    with client.stream("GET", f"/tasks/{task_id}/progress", params={"from_seq": from_seq}, timeout=300) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                yield name, json.loads(line.removeprefix("data: "))


def final(client: httpx.Client, task_id: str) -> tuple[str, dict]:
    """The task's final event (name and the task), read from its progress stream."""
    for name, data in events(client, task_id):
        if name in FINAL:
            return name, data
    raise AssertionError(f"the progress stream of {task_id} ended without a final event")


def wait_status(client: httpx.Client, task_id: str, status: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while (task := client.get(f"/tasks/{task_id}").json())["status"] != status:
        assert time.monotonic() < deadline and task["status"] not in FINAL - {status}, task
        time.sleep(0.1)
    return task


def upload(client: httpx.Client, path: Path, **params) -> httpx.Response:
    with open(path, "rb") as file:
        return client.post("/system/upload", files={"file": (path.name, file)}, params=params)


# --- auth and inference -------------------------------------------------------------------------------------


def test_every_call_needs_the_token(server):
    url = server[0]
    assert httpx.get(f"{url}/system/info").status_code == 401
    assert httpx.get(f"{url}/system/info", headers={"Authorization": "Bearer nope"}).status_code == 401
    info = httpx.get(f"{url}/system/info", headers={"Authorization": f"Bearer {TOKEN}"})
    assert info.status_code == 200 and info.json()["cpu_count"] >= 1 and isinstance(info.json()["gpus"], list)
    assert httpx.get(f"{url}/docs").status_code == 200
    assert "/inference/tasks" in httpx.get(f"{url}/openapi.json").json()["paths"]


def test_inference_flow_upload_task_progress_download(api: httpx.Client, server):
    uploaded = upload(api, DATA_DIR / "voice_low" / "001.flac")
    assert uploaded.status_code == 201
    path = uploaded.json()["path"]
    assert path == str(server[1] / "uploads" / "001.flac") and uploaded.json()["media_type"] == "flac"

    created = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": path, "params": PM})
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["status"] in ("queued", "running") and task["kind"] == "inference"

    seen = list(events(api, task["id"]))
    names = [name for name, _ in seen]
    assert names[0] == "status" and "progress" in names and names[-1] == "completed"
    assert seen[-1][1]["status"] == "completed" and seen[-1][1]["result"]["sample_rate_hz"] == 40000
    assert api.get(f"/inference/tasks/{task['id']}").json()["status"] == "completed"

    outputs = api.get(f"/inference/tasks/{task['id']}/outputs").json()
    assert [(o["name"], o["kind"]) for o in outputs] == [("001_tiny.wav", "audio")]
    download = api.get(outputs[0]["url"].removeprefix("/api/v2"))
    assert download.status_code == 200 and len(download.content) == outputs[0]["size_bytes"]
    audio, rate = soundfile.read(io.BytesIO(download.content))
    assert rate == 40000 and len(audio) > 40000

    with connect(f"{server[0].replace('http', 'ws', 1)}/ws/tasks/{task['id']}/log?token={TOKEN}") as socket:
        messages = [json.loads(text) for text in socket]
    assert messages[-1]["type"] == "status" and messages[-1]["status"] == "completed"


@needs_delete
def test_deleting_a_task_removes_it_and_its_outputs(api: httpx.Client):
    task = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": str(DATA_DIR / "voice_low" /
                                                                                   "002.flac"), "params": PM}).json()
    assert final(api, task["id"])[0] == "completed"
    output = Path(api.get(f"/inference/tasks/{task['id']}/outputs").json()[0]["path"])
    assert api.delete(f"/inference/tasks/{task['id']}").status_code == 204
    assert not output.exists()
    assert api.get(f"/inference/tasks/{task['id']}").status_code == 404


# --- errors -------------------------------------------------------------------------------------------------


def test_unknown_ids_are_404(api: httpx.Client):
    for path in ("/inference/tasks/nope", "/inference/tasks/123/outputs", "/trainings/nope", "/models/nope",
                 "/quick/tasks/nope", "/tasks/nope/progress", "/trainings/nope/train/metrics"):
        answer = api.get(path)
        assert answer.status_code == 404 and "not found" in answer.json()["detail"], path
    assert api.post("/inference/tasks/nope/cancel").status_code == 404
    assert api.post("/trainings/nope/preprocess").status_code == 404


def test_paths_outside_the_allowed_roots_are_403(api: httpx.Client, server):
    for audio_path in ("/etc/hostname", "uploads/../../../etc/hostname", str(server[1].parent)):
        answer = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": audio_path, "params": PM})
        assert answer.status_code == 403, (audio_path, answer.text)
    assert api.get("/system/files/browse", params={"path": "/etc"}).status_code == 403
    assert api.get("/system/files/browse", params={"path": "logs/../.."}).status_code == 403
    listing = api.get("/system/files/browse", params={"path": str(DATA_DIR)}).json()
    assert {"voice_low", "source_speech_stereo48k.wav"} <= {entry["name"] for entry in listing["entries"]}


def test_bad_input_is_422_before_any_task(api: httpx.Client):
    before = api.get("/inference/tasks").json()["total"]
    source = str(DATA_DIR / "voice_low" / "001.flac")
    for body in ({"model_id": "tiny", "audio_path": source, "params": {"index_rate": 5}},
                 {"model_id": "tiny", "audio_path": source, "params": {"f0_method": "magic"}},
                 {"model_id": "tiny", "audio_path": source, "output_format": "exe"},
                 {"model_id": "tiny", "audio_path": str(DATA_DIR / "missing.wav")},
                 {"model_id": "tiny"}):
        answer = api.post("/inference/tasks", json=body)
        assert answer.status_code == 422 and answer.json()["detail"], body
    missing_model = api.post("/inference/tasks", json={"model_id": "nobody", "audio_path": source})
    assert missing_model.status_code == 404
    assert api.get("/inference/tasks").json()["total"] == before
    assert api.get("/inference/tasks", params={"status": "finished"}).status_code == 422
    assert api.get("/inference/tasks", params={"limit": 0}).status_code == 422


def test_uploads_over_the_limit_are_413_and_text_is_415(api: httpx.Client, server, tmp_path: Path):
    settings = server[1] / "settings.json"
    settings.write_text(json.dumps({"upload_limit_mb": 1}))  # read at every upload
    try:
        assert upload(api, DATA_DIR / "voice_high_long.flac").status_code == 413
    finally:
        settings.unlink()
    fake = tmp_path / "notes.wav"
    fake.write_text("these are notes, not audio")
    answer = upload(api, fake)
    assert answer.status_code == 415 and "not audio" in answer.json()["detail"]
    assert not (server[1] / "uploads" / "notes.wav").exists()


def test_trainings_conflict_on_names_and_step_order_and_paginate(api: httpx.Client):
    body = {"target_sr": "40k", "if_f0": True, "version": "v2", "dataset_path": str(DATA_DIR / "voice_low")}
    ids = []
    for name in ("page_a", "page_b", "page_c"):
        answer = api.post("/trainings", json={"name": name, **body})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    duplicate = api.post("/trainings", json={"name": "page_a", **body})
    assert duplicate.status_code == 409 and "exists" in duplicate.json()["detail"]
    early = api.post(f"/trainings/{ids[0]}/extract", json={"f0_method": "pm"})
    assert early.status_code == 409 and "preprocess" in early.json()["detail"]
    assert api.post(f"/trainings/{ids[0]}/train/start").status_code == 409
    assert api.post("/trainings", json={"name": "x", **body, "target_sr": "44k"}).status_code == 422
    assert api.post("/trainings", json={"name": "x", **body, "if_f0": "maybe"}).status_code == 422

    page = api.get("/trainings", params={"limit": 2, "offset": 1}).json()
    assert page["total"] >= 3 and page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2
    assert api.get("/trainings", params={"offset": 1000}).json()["items"] == []
    for training_id in ids:
        assert api.delete(f"/trainings/{training_id}").status_code == 204
    assert api.get(f"/trainings/{ids[0]}").status_code == 404


def test_models_and_indexes_are_listed(api: httpx.Client):
    models = api.get("/models").json()
    tiny = next(model for model in models["items"] if model["model_id"] == "tiny")
    assert (tiny["version"], tiny["sample_rate"], tiny["f0"]) == ("v2", 40000, True)
    assert api.get("/models/tiny").json()["size_bytes"] == tiny["size_bytes"]
    assert api.get("/indexes").json()["total"] == 0


def test_hostile_models_are_listed_with_their_error_fast_and_outside_the_server(api: httpx.Client, server,
                                                                              tmp_path: Path):
    """The issue's probe files in assets/weights: the list answers 200 at once, the files read by a child process."""
    hostile = [entry for entry in HOSTILE_MODELS if entry.name in ("shared-reference-info", "nested-info")]
    weights = server[1] / "assets" / "weights"
    server_process = psutil.Process(server[2])
    before = server_process.memory_info().rss
    paths = [entry.write(weights) for entry in hostile]
    try:
        start = time.monotonic()
        answer = api.get("/models")
        seconds = time.monotonic() - start
        assert answer.status_code == 200 and seconds < 15 and len(answer.content) < 20_000
        listed = {model["model_id"]: model for model in answer.json()["items"]}
        assert listed["tiny"]["error"] is None and listed["tiny"]["version"] == "v2"
        for entry in hostile:
            assert re.search(entry.problem, listed[entry.name]["error"]) and listed[entry.name]["info"] is None
        assert server_process.memory_info().rss - before < 100 * 2**20
        start = time.monotonic()
        assert api.get("/models").json()["items"] == answer.json()["items"]  # cached: no child this time
        assert time.monotonic() - start < 1
    finally:
        for path in paths:
            assert api.delete(f"/models/{path.stem}").status_code == 204


@needs_import
def test_a_model_is_imported_from_a_zip_at_a_url(api: httpx.Client, tmp_path: Path):
    with zipfile.ZipFile(tmp_path / "pack.zip", "w") as archive:
        archive.write(tiny_pth("tiny_v2_f0_40k"), "pack/imported.pth")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    files = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        answer = api.post("/models/import", json={"url": f"http://127.0.0.1:{files.server_address[1]}/pack.zip"})
        assert answer.status_code == 201, answer.text
        name, task = final(api, answer.json()["id"])
    finally:
        files.shutdown()
        files.server_close()
    assert name == "completed", task["error"]
    assert task["result"]["models"] == ["imported"]
    assert api.get("/models/imported").json()["version"] == "v2"


# --- stopping conversions -----------------------------------------------------------------------------------


def long_conversion(api: httpx.Client) -> str:
    answer = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": str(LONG_SOURCE), "params": PM})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def worker_of(server_pid: int) -> psutil.Process:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in psutil.Process(server_pid).children(recursive=True):
            if "rvc.jobs.worker" in " ".join(child.cmdline()):
                return child
        time.sleep(0.1)
    raise AssertionError("no inference worker process")


def test_a_running_conversion_is_cancelled(api: httpx.Client):
    task_id = long_conversion(api)
    wait_status(api, task_id, "running")
    assert api.post(f"/inference/tasks/{task_id}/cancel").status_code == 200
    name, task = final(api, task_id)
    assert name == "cancelled" and task["status"] == "cancelled"
    assert api.get(f"/inference/tasks/{task_id}/outputs").json() == []
    assert not any(Path(task["params"]["output_path"]).parent.glob("*.tmp"))


def test_a_killed_worker_fails_its_task_and_the_server_goes_on(api: httpx.Client, server):
    task_id = long_conversion(api)
    wait_status(api, task_id, "running")
    worker_of(server[2]).send_signal(signal.SIGKILL)
    name, task = final(api, task_id)
    assert name == "failed" and "SIGKILL" in task["error"]
    assert api.get("/system/info").status_code == 200


# --- the training flow --------------------------------------------------------------------------------------


def first_metric(api: httpx.Client, task_id: str, after_step: int = 0) -> dict:
    for name, data in events(api, task_id):
        if name == "metric" and "loss_g" in data and data["step"] > after_step:
            return data
        assert name not in FINAL, data
    raise AssertionError("no metric")


@pytest.mark.slow
def test_training_flow_through_every_step(api: httpx.Client, server):
    for clip in sorted((DATA_DIR / "voice_low").glob("*.flac"))[:3]:
        assert upload(api, clip, folder="voice_set").status_code == 201
    created = api.post("/trainings", json={"name": "voice", "target_sr": "40k", "if_f0": True, "version": "v2",
                                           "dataset_path": "uploads/voice_set", "config": tiny_config()})
    assert created.status_code == 201, created.text
    training_id = created.json()["id"]
    base = f"/trainings/{training_id}"

    assert final(api, api.post(f"{base}/preprocess", json={"n_proc": 1}).json()["id"])[0] == "completed"
    samples = api.get(f"{base}/preprocess/samples", params={"k": 2}).json()
    assert len(samples) == 2 and api.get(samples[0]["url"].removeprefix("/api/v2")).content[:4] == b"RIFF"
    assert api.get(f"{base}/preprocess/report").json()["clips"] == 3

    extract = api.post(f"{base}/extract", json={"f0_method": "pm", "gpu_id": "cpu"})
    assert extract.status_code == 202
    assert final(api, extract.json()["id"])[0] == "completed"
    assert api.get(base).json()["current_step"] == "extracted"

    train = api.post(f"{base}/train/start", json={"total_epoch": 500, "batch_size": 4, "save_every_epoch": 500})
    assert train.status_code == 202
    with connect(f"{server[0].replace('http', 'ws', 1)}/ws/trainings/{training_id}/log",
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        line = json.loads(socket.recv(timeout=120))
    assert line["type"] == "log" and line["task_id"] == train.json()["id"]
    first_metric(api, train.json()["id"])
    assert api.post(f"{base}/train/pause").status_code == 200
    name, paused = final(api, train.json()["id"])
    assert name == "paused", paused
    paused_step = paused["result"]["step"]
    metrics = api.get(f"{base}/train/metrics").json()["items"]
    assert metrics and metrics[-1]["step"] == paused_step and "loss_mel" in metrics[-1]
    since = api.get(f"{base}/train/metrics", params={"since_step": 1}).json()["items"]
    assert [m["step"] for m in since] == [m["step"] for m in metrics if m["step"] > 1]
    assert api.post(f"{base}/train/pause").status_code == 409

    resumed = api.post(f"{base}/train/resume")
    assert resumed.status_code == 202
    assert first_metric(api, resumed.json()["id"], after_step=paused_step)["step"] == paused_step + 1
    assert api.post(f"{base}/index").status_code == 409  # one step at a time
    assert api.post(f"/tasks/{resumed.json()['id']}/cancel").status_code == 200
    assert final(api, resumed.json()["id"])[0] == "cancelled"

    detail = api.get(base).json()
    assert detail["checkpoints"] and detail["tasks"]["train"]["status"] == "cancelled"
    assert final(api, api.post(f"{base}/index").json()["id"])[0] == "completed"
    export = api.post(f"{base}/export", json={"checkpoint_name": detail["checkpoints"][-1], "export_name": "api_voice"})
    assert final(api, export.json()["id"])[0] == "completed"
    assert api.post(f"{base}/export", json={"export_name": "api_voice"}).status_code == 409

    detail = api.get(base).json()
    assert detail["current_step"] == "exported" and detail["has_index"] and "api_voice" in detail["exported_models"]
    model = api.get("/models/api_voice").json()
    assert (model["version"], model["sample_rate"], model["f0"]) == ("v2", 40000, True)
    assert any(index["dim"] == 768 for index in api.get("/indexes").json()["items"])


# --- restart --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_task_running_when_the_server_dies_is_interrupted_after_restart(tmp_path: Path, rvc_home: Path):
    env = home_env(make_home(tmp_path / "home"), rvc_home)
    process, url = start_webui(env, "--allowed-path", str(DATA_DIR))
    orphans: list[psutil.Process] = []
    try:
        with httpx.Client(base_url=f"{url}api/v2", timeout=60) as api:
            task_id = long_conversion(api)
            wait_status(api, task_id, "running")
            orphans = [worker_of(process.pid)]
            process.kill()
            process.wait(30)
        process, url = start_webui(env, "--allowed-path", str(DATA_DIR))
        with httpx.Client(base_url=f"{url}api/v2", timeout=60) as api:
            task = api.get(f"/inference/tasks/{task_id}").json()
            assert task["status"] == "interrupted" and "server stopped" in task["error"]
            assert final(api, task_id)[0] == "interrupted"
    finally:
        stop(process)
        for orphan in orphans:  # the dead server's worker would finish its file before it noticed
            if orphan.is_running():
                orphan.kill()


def test_a_rest_only_client_has_what_the_page_has(api: httpx.Client, server):
    """Settings, pretrained files, the machine's load, any task's log and deletion, folder listings with times."""
    settings = api.get("/system/settings").json()
    changed = api.put("/system/settings", json={"upload_limit_mb": 64})
    assert changed.status_code == 200 and changed.json() == settings | {"upload_limit_mb": 64}
    refused = api.put("/system/settings", json={"device": "tpu"})
    assert refused.status_code == 422 and "cuda:N" in refused.json()["detail"]
    assert api.put("/system/settings", json={"upload_limit_mb": settings["upload_limit_mb"]}).status_code == 200

    assets = {asset["name"]: asset for asset in api.get("/system/assets").json()}
    assert not assets["hubert_base"]["present"] and assets["rmvpe"]["path"].endswith("rmvpe.pt")
    unknown = api.post("/system/assets/download", json={"names": ["no_such_asset"]})
    assert unknown.status_code == 422 and "no_such_asset" in unknown.json()["detail"]

    status = api.get("/system/status").json()
    assert 0 <= status["memory_percent"] <= 100 and 0 <= status["disk_percent"] <= 100
    assert abs(status["timestamp"] - time.time()) < 60

    clip = str(DATA_DIR / "voice_low" / "001.flac")
    task = api.post("/inference/tasks", json={"model_id": "tiny", "audio_path": clip, "params": PM}).json()
    assert final(api, task["id"])[0] == "completed"
    log = api.get(f"/tasks/{task['id']}/log").json()
    assert [event["seq"] for event in log] == list(range(len(log)))
    assert {"progress", "result"} <= {event["type"] for event in log}
    assert api.delete(f"/tasks/{task['id']}").status_code == 204
    assert api.get(f"/tasks/{task['id']}").status_code == 404

    listing = api.get("/system/files/browse", params={"path": str(DATA_DIR)}).json()
    assert all(entry["modified"] > 0 for entry in listing["entries"])


def test_merge_and_onnx_export_run_as_tasks(api: httpx.Client, server):
    """Both write models in a process of their own: listed in the task history, the server untouched if they
    crash; the answer is the same as when they ran in the server."""
    merged = api.post("/models/merge", json={"model_a": "tiny", "model_b": "tiny", "alpha": 0.3, "name": "blend"})
    assert merged.status_code == 201, merged.text
    assert merged.json()["model_id"] == "blend" and merged.json()["sample_rate"] == 40000
    exported = api.post("/models/tiny/onnx")
    assert exported.status_code == 200 and exported.json()["path"].endswith("tiny.onnx")
    for kind in ("merge", "onnx"):
        tasks = api.get("/tasks", params={"kind": kind}).json()["items"]
        assert [task["status"] for task in tasks] == ["completed"], tasks
    again = api.post("/models/merge", json={"model_a": "tiny", "model_b": "nobody", "alpha": 0.3, "name": "x"})
    assert again.status_code == 404  # checked before any task
    assert api.delete("/models/blend").status_code == 204
