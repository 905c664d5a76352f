"""Logins, guest rights and DNS rebinding protection against real `webui.py` processes.

Two servers, started side by side: a public one (`--host 0.0.0.0 --guest`, so a generated admin password and
two generated API tokens) and a plain loopback one (no login, Host and Origin checked).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import DATA_DIR
from tests.factories import tiny_pth
from tests.integration.conftest import start_webui, stop

GUEST = ("visitor", "guest-pw-123")
EVIL = "evil.example"
CLIP = DATA_DIR / "voice_low" / "002.flac"
# index, transpose, f0_method, index_rate, filter_radius, resample_sr, rms_mix_rate, protect, sid, noise_scale,
# f0_file, output format: the Inference tab's inputs after the audio, the server path and the model
CONVERT = ("none", 0, "pm", 0.75, 3, 0, 0.25, 0.33, 0, 0.66666, None, "wav")
FILE_ROUTES = [("GET", "file="), ("HEAD", "file="), ("GET", "file/")]  # Gradio's file route, and its old spelling
SECRETS = {  # what start-up prints -> the name of the secret
    "password": re.compile(r"WebUI login: user 'admin', password (\S+)"),
    "admin_token": re.compile(r"REST API token .*: (\S+)$"),
    "guest_token": re.compile(r"REST API guest token .*: (\S+)$"),
}


class Public(NamedTuple):
    url: str
    home: Path
    secrets: dict[str, str]


def printed_secrets(process: subprocess.Popen) -> dict[str, str]:
    """The secrets the server printed before it started (they are in the pipe by the time it answers)."""
    found: dict[str, str] = {}
    while len(found) < len(SECRETS):
        line = process.stdout.readline()
        assert line, f"the server printed only {sorted(found)}"
        found.update({name: match[1] for name, pattern in SECRETS.items() if (match := pattern.search(line.strip()))})
    return found


@pytest.fixture(scope="module")
def servers(tmp_path_factory, rvc_home: Path):
    """(public, loopback URL); both start at once to halve the waiting."""
    homes = [tmp_path_factory.mktemp(name) for name in ("public_home", "loopback_home")]
    (homes[0] / "assets" / "weights").mkdir(parents=True)
    shutil.copy(tiny_pth("tiny_v2_f0_40k"), homes[0] / "assets" / "weights" / "tiny.pth")
    envs = [dict(os.environ, RVC_HOME=str(home), RVC_EMBEDDER=str(rvc_home / "embedder"), OMP_NUM_THREADS="1")
            for home in homes]
    with ThreadPoolExecutor(2) as pool:
        public = pool.submit(start_webui, envs[0], "--host", "0.0.0.0", "--guest", ":".join(GUEST))
        loopback = pool.submit(start_webui, envs[1])
        (public_process, public_url), (loopback_process, loopback_url) = public.result(), loopback.result()
    secrets = printed_secrets(public_process)
    for process in (public_process, loopback_process):  # read on (and dropped), so a full pipe never blocks a server
        threading.Thread(target=collections.deque, args=(process.stdout, 0), daemon=True).start()
    try:
        yield Public(public_url, homes[0], secrets), loopback_url
    finally:
        stop(public_process)
        stop(loopback_process)


@pytest.fixture(scope="module")
def public(servers) -> Public:
    return servers[0]


@pytest.fixture(scope="module")
def loopback(servers) -> str:
    return servers[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the public server: logins and roles ----------------------------------------------------------------------

def test_a_public_server_prints_a_generated_password_and_tokens(public: Public):
    assert len(set(public.secrets.values())) == 3 and all(len(value) >= 24 for value in public.secrets.values())


def test_the_page_needs_a_login(public: Public):
    with httpx.Client(base_url=public.url, timeout=30) as browser:
        assert browser.get("/config").status_code == 401
        assert browser.get("/gradio_api/info").status_code == 401
        assert browser.get("/").status_code == 200 and '"auth_required":true' in browser.get("/").text
        assert browser.post("/login", data={"username": "admin", "password": "wrong"}).status_code == 400
        assert browser.post("/login", data={"username": "admin", "password": public.secrets["password"]}).is_success
        assert browser.get("/config").status_code == 200
        assert browser.get("/gradio_api/info").status_code == 200
    # off loopback without --allowed-host the Host is not checked (a proxy or share link names the server)
    assert httpx.get(public.url, headers={"Host": EVIL}).status_code == 200


def test_the_api_needs_a_token_and_a_guest_may_only_convert(public: Public):
    admin, guest = bearer(public.secrets["admin_token"]), bearer(public.secrets["guest_token"])
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=60) as api:
        assert api.get("/models").status_code == 401
        assert api.get("/models", headers=bearer("wrong")).status_code == 401
        assert [m["model_id"] for m in api.get("/models", headers=guest).json()["items"]] == ["tiny"]
        for method, path, body in [("POST", "/trainings", {"name": "v", "target_sr": "40k", "dataset_path": "x"}),
                                   ("GET", "/system/files/browse", None), ("DELETE", "/models/tiny", None),
                                   ("POST", "/models/import", {"url": "https://example.com/x.pth"})]:
            refused = api.request(method, path, json=body, headers=guest)
            assert refused.status_code == 403 and "guests may only convert" in refused.json()["detail"]
        assert api.get("/system/files/browse", headers=admin).status_code == 200

        with open(DATA_DIR / "voice_low" / "001.flac", "rb") as file:
            uploaded = api.post("/system/upload", files={"file": ("001.flac", file)}, headers=guest)
        assert uploaded.status_code == 201
        request = {"model_id": "tiny", "audio_path": uploaded.json()["path"], "params": {"f0_method": "pm"}}
        created = api.post("/inference/tasks", json=request, headers=guest)
        assert created.status_code == 201, created.text
        model_file = str(public.home / "assets" / "weights" / "tiny.pth")
        assert api.post("/inference/tasks", json=request | {"audio_path": model_file}, headers=guest).status_code == 404
        task = created.json()["id"]
        assert api.get(f"/tasks/{task}", headers=guest).status_code == 200
        cancelled = api.post(f"/tasks/{task}/cancel", headers=guest)  # its own: reached (400 if already done)
        assert cancelled.status_code == 200 or "nothing to cancel" in cancelled.json()["detail"]
        assert api.get(f"/tasks/{task}", headers=admin).json()["owner"] == {"user": None, "role": "guest"}


def test_a_guest_may_not_follow_a_training_log(public: Public):
    """The training log socket is an admin's, as every training route: a guest's handshake is refused."""
    socket_url = f"{public.url.replace('http', 'ws', 1)}api/v2/ws/trainings/nope/log?token="
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url + public.secrets["guest_token"])
    assert refused.value.response.status_code == 403
    with connect(socket_url + public.secrets["admin_token"]) as socket:  # accepted, then "no such training"
        assert "not found" in socket.recv(timeout=10)


def test_a_guest_session_may_look_but_not_train(public: Public):
    client = Client(public.url, auth=GUEST, verbose=False)
    assert client.predict(api_name="/system_info")["cpu_count"] >= 1
    for api_name, inputs in [("/preprocess", ("voice", "40k", "v2", True, [], str(DATA_DIR), None, "")),
                             ("/save_settings", ("pm", "auto", 500, "")),
                             ("/convert_batch", ([], str(DATA_DIR), "tiny", "auto", 0, "pm", 0.75, 3, 0, 0.25,
                                                 0.33, 0, 0.66666, None, "wav"))]:
        with pytest.raises(AppError, match="needs an admin login"):
            client.predict(*inputs, api_name=api_name)
    admin = Client(public.url, auth=("admin", public.secrets["password"]), verbose=False)
    with pytest.raises(AppError, match="not found"):  # past the role check, to the service
        admin.predict("no-such-task", api_name="/cancel_task")


# --- the public server: whose tasks and files a guest reaches --------------------------------------------------

class Owned(NamedTuple):
    """What the admin and the guest made on the public server, each in their own way."""

    admin_task: str  # a finished conversion the admin submitted with its API token
    admin_output: Path  # the file it wrote, under outputs/api/
    token_task: str  # a finished conversion submitted with the guest token
    session_task: str  # a finished batch conversion the guest's page login submitted
    guest_result_url: str  # the guest's own conversion on the Inference tab, as Gradio hands it to the browser


def finished(api: httpx.Client, task_id: str, headers: dict[str, str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while (task := api.get(f"/tasks/{task_id}", headers=headers).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']} after {timeout_s} s"
        time.sleep(0.2)
    return task


def submit_conversion(api: httpx.Client, headers: dict[str, str]) -> str:
    with open(CLIP, "rb") as file:
        uploaded = api.post("/system/upload", files={"file": (CLIP.name, file)}, headers=headers).json()["path"]
    request = {"model_id": "tiny", "audio_path": uploaded, "params": {"f0_method": "pm"}}
    created = api.post("/inference/tasks", json=request, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture(scope="module")
def owned(public: Public) -> Owned:
    """The admin's and the guest's conversions: two API tasks and, at the same time, the guest's page session."""
    admin, guest = bearer(public.secrets["admin_token"]), bearer(public.secrets["guest_token"])
    session = Client(public.url, auth=GUEST, verbose=False, download_files=False)
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=60) as api:
        admin_task, token_task = submit_conversion(api, admin), submit_conversion(api, guest)
        audio, *_ = session.predict(handle_file(str(CLIP)), "", "tiny", *CONVERT, api_name="/convert")
        summary, *_ = session.predict([handle_file(str(CLIP))], "", "tiny", *CONVERT, api_name="/convert_batch")
        assert "1/1 converted" in summary
        assert all(finished(api, task, admin)["status"] == "completed" for task in (admin_task, token_task))
        tasks = api.get("/tasks", params={"limit": 100}, headers=admin).json()["items"]
        session_task = next(task["id"] for task in tasks if task["owner"] == {"user": GUEST[0], "role": "guest"})
        admin_output = Path(api.get(f"/inference/tasks/{admin_task}/outputs", headers=admin).json()[0]["path"])
    return Owned(admin_task, admin_output, token_task, session_task, audio["url"])


@contextmanager
def page_session(url: str, user: str, password: str) -> Iterator[httpx.Client]:
    """A browser logged in to the page (it holds Gradio's login cookie)."""
    with httpx.Client(base_url=url, timeout=30) as browser:
        assert browser.post("/login", data={"username": user, "password": password}).is_success
        yield browser


def test_tasks_record_who_submitted_them(public: Public, owned: Owned):
    admin = bearer(public.secrets["admin_token"])
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=30) as api:
        owners = {task: api.get(f"/tasks/{task}", headers=admin).json()["owner"]
                  for task in (owned.admin_task, owned.token_task, owned.session_task)}
    assert owners == {owned.admin_task: {"user": None, "role": "admin"},  # a token names a role, not a person
                      owned.token_task: {"user": None, "role": "guest"},
                      owned.session_task: {"user": GUEST[0], "role": "guest"}}


def refused_by_page(session: Client, *inputs, api_name: str) -> bool:
    """Whether the page answers a call with "not found" (as for an unknown id)."""
    try:
        session.predict(*inputs, api_name=api_name)
    except AppError as error:
        return "not found" in str(error)
    return False


def test_a_guest_lists_streams_and_cancels_only_its_own_tasks(public: Public, owned: Owned):
    admin, guest = bearer(public.secrets["admin_token"]), bearer(public.secrets["guest_token"])
    foreign, token = owned.admin_task, public.secrets["guest_token"]
    refusals: list[bool] = []  # one per attempt to reach the admin's task as a guest
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=30) as api:
        for path in ("/tasks", "/inference/tasks", "/tasks?kind=inference&status=completed"):
            listed, everything = api.get(path, headers=guest).json(), api.get(path, headers=admin).json()["items"]
            assert {foreign, owned.token_task} <= {task["id"] for task in everything}
            own = [task["id"] for task in everything if task["owner"] == {"user": None, "role": "guest"}]
            assert [task["id"] for task in listed["items"]] == own and listed["total"] == len(own) >= 1
            refusals.append(foreign not in str(listed))
        for method, path in [("GET", f"/tasks/{foreign}"), ("GET", f"/inference/tasks/{foreign}"),
                             ("GET", f"/tasks/{foreign}/progress"), ("GET", f"/inference/tasks/{foreign}/outputs"),
                             ("GET", f"/inference/tasks/{foreign}/outputs/{owned.admin_output.name}"),
                             ("POST", f"/tasks/{foreign}/cancel"), ("POST", f"/inference/tasks/{foreign}/cancel")]:
            answer = api.request(method, path, headers=guest)
            refusals.append(answer.status_code == 404 and "not found" in answer.text)
        refusals.append(api.get(f"/tasks/{foreign}/progress", params={"token": token}).status_code == 404)
        with api.stream("GET", f"/tasks/{owned.token_task}/progress", headers=guest) as stream:  # its own: all of it
            assert stream.status_code == 200 and "event: completed" in "".join(stream.iter_text())
        assert api.get(f"/tasks/{foreign}", headers=admin).json()["status"] == "completed"  # no cancel reached it
    with connect(f"{public.url.replace('http', 'ws', 1)}api/v2/ws/tasks/{foreign}/log?token={token}") as socket:
        refusals.append("not found" in socket.recv(timeout=10))

    session = Client(public.url, auth=GUEST, verbose=False, download_files=False)
    table, text = session.predict("all", "all", 1, api_name="/list_tasks")
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=30) as api:
        everything = api.get("/tasks", params={"limit": 100}, headers=admin).json()["items"]
    sessions = [task["id"] for task in everything if task["owner"] == {"user": GUEST[0], "role": "guest"}]
    assert owned.session_task in sessions and len(sessions) == 2  # its /convert and its /convert_batch
    assert [row[0] for row in table["data"]] == sessions and "2 task(s)" in text
    refusals.append(foreign not in str(table))
    refusals += [refused_by_page(session, foreign, api_name=name)
                 for name in ("/task_detail", "/follow_task", "/cancel_task")]
    assert "completed" in session.predict(owned.session_task, api_name="/task_detail")[0]
    admin_session = Client(public.url, auth=("admin", public.secrets["password"]), verbose=False)
    everything = admin_session.predict("all", "all", 1, api_name="/list_tasks")[0]["data"]
    assert {foreign, owned.session_task, owned.token_task} <= {row[0] for row in everything}
    print(f"foreign task reads by a guest: {len(refusals)} tried, {sum(refusals)} refused")
    assert refusals == [True] * 16


def test_a_guest_downloads_no_server_file_by_path(public: Public, owned: Owned):
    training_log = public.home / "logs" / "voice" / "train.log"  # what a training run leaves in logs/
    training_log.parent.mkdir(parents=True, exist_ok=True)
    training_log.write_text("epoch 1 loss_g 31.2\n")
    files = [public.home / "assets" / "weights" / "tiny.pth", owned.admin_output, training_log,
             public.home / "logs" / "webui.db"]
    cached = httpx.URL(owned.guest_result_url).path.removeprefix("/gradio_api/file=")
    # out of Gradio's cache and into the models by "..", escaped so that the client sends it as it is
    sneaky = f"{cached}{'/%2E%2E' * cached.count('/')}{files[0]}"
    admin_login = ("admin", public.secrets["password"])
    with page_session(public.url, *GUEST) as guest, page_session(public.url, *admin_login) as admin:
        answers = [(guest.request(method, f"/gradio_api/{route}{path}").status_code,
                    admin.request(method, f"/gradio_api/{route}{path}").status_code)
                   for path in [*map(str, files), sneaky] for method, route in FILE_ROUTES]
        own = guest.get(owned.guest_result_url)
        assert own.status_code == 200 and own.content[:4] == b"RIFF"  # its own result, from Gradio's cache
        assert admin.get(owned.guest_result_url).status_code == 200
    assert httpx.get(owned.guest_result_url).status_code == 401  # no login, no file
    refused = sum(guest_status == 403 for guest_status, _ in answers)
    print(f"guest file-route requests by path: {len(answers)} tried, {refused} refused")
    assert answers == [(403, 200)] * len(answers) and len(answers) == 15


# --- the public server: every Gradio event, as a guest, beside an admin's data ---------------------------------

SECRET_NAME = "admin-secret-voice"  # an admin's experiment
NEVER_SENT = ("secret-dataset-folder", "admin-secret-upload", "secret-allowed-root")  # what a guest never names


def admins_data(public: Public) -> None:
    """An experiment (with its dataset folder), an upload and a setting of the admin's, on the public server."""
    dataset = public.home / "uploads" / NEVER_SENT[0]
    dataset.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLIP, dataset / "clip.flac")
    root = public.home.parent / NEVER_SENT[2]
    root.mkdir(exist_ok=True)
    with httpx.Client(base_url=f"{public.url}api/v2", timeout=60, headers=bearer(public.secrets["admin_token"])) as api:
        created = api.post("/trainings", json={"name": SECRET_NAME, "target_sr": "40k", "dataset_path": str(dataset)})
        assert created.status_code in (201, 409), created.text
        with open(CLIP, "rb") as file:
            assert api.post("/system/upload", files={"file": (f"{NEVER_SENT[1]}.flac", file)}).status_code == 201
        settings = api.get("/system/settings").json()
        paths = sorted({*settings["allowed_paths"], str(root)})
        assert api.put("/system/settings", json={"allowed_paths": paths}).status_code == 200


def run_event(browser: httpx.Client, fn_index: int, data: list) -> str:
    """One Gradio event run the way the page runs it (the queue, by number: unnamed events too): what it answered
    (each message's data, error and success, without timings and the queue's bookkeeping), as text."""
    session = f"matrix{fn_index}{time.monotonic_ns()}"
    joined = browser.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "event_data": None,
                                                           "session_hash": session, "trigger_id": None})
    if not joined.is_success:
        return joined.text
    answers = []
    with browser.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            message = json.loads(line.removeprefix("data:")) if line.startswith("data:") else {}
            if "output" in message:
                output = message["output"]
                answers.append([output.get("data"), output.get("error"), message.get("success")])
            if message.get("msg") in ("process_completed", "unexpected_error"):
                break
    return json.dumps(answers)


def test_no_gradio_event_shows_a_guest_the_admins_data(public: Public):
    """Every event of the page (named or not), with its defaults and with the admin's experiment name in each
    text input: a guest's answers hold none of the admin's data, and naming the experiment answers as naming one
    that does not exist."""
    admins_data(public)
    admin_login = ("admin", public.secrets["password"])
    with page_session(public.url, *GUEST) as guest, page_session(public.url, *admin_login) as admin:
        config = guest.get("/config").json()
        values = {component["id"]: component.get("props", {}).get("value") for component in config["components"]}
        events = [(index, [values.get(i) for i in dependency["inputs"]])
                  for index, dependency in enumerate(config["dependencies"]) if dependency.get("backend_fn", True)]
        leaks, oracles, calls = [], [], 0
        for index, defaults in events:
            named = [SECRET_NAME if value is None or isinstance(value, str) else value for value in defaults]
            missing = ["no-such-voice" if value == SECRET_NAME else value for value in named]
            answers = [run_event(guest, index, data) for data in (defaults, named, missing)]
            calls += len(answers)
            leaks += [(index, answer[:300]) for answer in answers if any(secret in answer for secret in NEVER_SENT)]
            if SECRET_NAME in answers[0]:
                leaks.append((index, answers[0][:300]))
            same = answers[1].replace(SECRET_NAME, "X") == answers[2].replace("no-such-voice", "X")
            if SECRET_NAME in named and not same:
                oracles.append((index, answers[1][:300], answers[2][:300]))
        # the admin's own page does show them: the secrets are there to be found
        assert SECRET_NAME in run_event(admin, next(index for index, dependency in enumerate(config["dependencies"])
                                                    if dependency.get("api_name") == "list_trainings"), [None])
    print(f"guest Gradio matrix: {len(events)} events, {calls} calls, {len(leaks)} leaks, {len(oracles)} oracles")
    assert leaks == [] and oracles == []


# --- the loopback server: DNS rebinding -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/info", "/api/v2/system/info"])
def test_a_loopback_server_answers_only_to_its_names(loopback: str, path: str):
    port = httpx.URL(loopback).port
    for host in (EVIL, f"{EVIL}:{port}", f"localhost.{EVIL}:{port}"):
        refused = httpx.get(f"{loopback.rstrip('/')}{path}", headers={"Host": host})
        assert refused.status_code == 400 and "DNS rebinding" in refused.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{loopback.rstrip('/')}{path}", headers={"Host": host}).status_code == 200


def test_a_loopback_server_refuses_cross_site_writes(loopback: str):
    evil, own = {"Origin": f"http://{EVIL}"}, {"Origin": loopback.rstrip("/")}
    merge = f"{loopback}api/v2/models/merge"
    refused = httpx.post(merge, json={}, headers=evil)
    assert refused.status_code == 403 and "cross-site" in refused.text
    assert httpx.post(f"{loopback}gradio_api/queue/join", json={}, headers=evil).status_code == 403
    assert httpx.post(merge, json={}, headers=own).status_code == 422  # reaches the API, which wants a body
    assert httpx.get(f"{loopback}api/v2/models", headers=evil).status_code == 200  # a read; the browser hides it
    socket_url = f"{loopback.replace('http', 'ws', 1)}api/v2/ws/tasks/nope/log"
    with pytest.raises(InvalidStatus) as rejected:
        connect(socket_url, origin=f"http://{EVIL}")
    assert rejected.value.response.status_code == 403
    with connect(socket_url, origin=loopback.rstrip("/")) as socket:  # accepted, then "no such task"
        assert "not found" in socket.recv(timeout=10)


def test_gradio_client_works_by_ip_and_by_name(loopback: str):
    for url in (loopback, loopback.replace("127.0.0.1", "localhost")):
        assert Client(url, verbose=False).predict(api_name="/system_info")["cpu_count"] >= 1
