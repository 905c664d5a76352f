"""Logins, guest rights and DNS rebinding protection against real `webui.py` processes.

Two servers, started side by side: a public one (`--host 0.0.0.0 --guest`, so a generated admin password and
two generated API tokens) and a plain loopback one (no login, Host and Origin checked).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import DATA_DIR
from tests.factories import tiny_pth
from tests.integration.conftest import start_webui, stop

GUEST = ("visitor", "guest-pw-123")
EVIL = "evil.example"
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
    try:
        yield Public(public_url, homes[0], printed_secrets(public_process)), loopback_url
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
        assert api.post("/inference/tasks", json=request | {"audio_path": model_file}, headers=guest).status_code == 403
        task = created.json()["id"]
        assert api.get(f"/tasks/{task}", headers=guest).status_code == 200
        assert api.post(f"/tasks/{task}/cancel", headers=guest).status_code == 403  # not its to stop
        assert api.post(f"/tasks/{task}/cancel", headers=admin).status_code == 200


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
