"""Logins, tokens and the two roles: parsing, generation, constant-time checks, and which routes refuse a guest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rvc.api import create_api
from rvc.api.auth import (
    ADMIN_USER,
    GUEST_REFUSED,
    Role,
    api_token,
    guest_token,
    parse_login,
    role_of_token,
    token_roles,
    ui_logins,
)
from tests.unit.service.conftest import write_wav

ADMIN, GUEST = {"Authorization": "Bearer admin-secret"}, {"Authorization": "Bearer guest-secret"}
# what a guest may call: convert, follow and cancel its tasks, list models, upload audio, the machine's info
GUEST_ROUTES = {
    ("POST", "/inference/tasks"), ("GET", "/inference/tasks"), ("GET", "/inference/tasks/{task_id}"),
    ("GET", "/inference/tasks/{task_id}/outputs"), ("GET", "/inference/tasks/{task_id}/outputs/{filename}"),
    ("POST", "/inference/tasks/{task_id}/cancel"),
    ("GET", "/models"), ("GET", "/models/{model_id}"), ("GET", "/indexes"),
    ("GET", "/tasks"), ("GET", "/tasks/{task_id}"), ("GET", "/tasks/{task_id}/progress"),
    ("POST", "/tasks/{task_id}/cancel"), ("GET", "/tasks/{task_id}/outputs"),
    ("GET", "/tasks/{task_id}/outputs/{file_type}"), ("GET", "/tasks/{task_id}/log"),
    ("GET", "/system/info"), ("GET", "/system/status"), ("POST", "/system/upload"),
}


@pytest.mark.parametrize(("text", "login"), [
    ("alice:pw", ("alice", "pw")), ("alice:p:w:", ("alice", "p:w:")), (" alice :pw ", ("alice", "pw ")),
])
def test_a_login_is_user_colon_password(text, login):
    assert parse_login(text) == login


@pytest.mark.parametrize(("text", "problem"), [
    ("alice", "no ':'"), (":pw", "both a user name and a password"), ("alice:", "both a user name and a password"),
])
def test_a_malformed_login_says_what_is_missing(text, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_login(text)


def test_the_page_is_open_on_loopback_without_logins():
    assert ui_logins([], [], "127.0.0.1", False) == (None, None)
    assert ui_logins([], [], "::1", False) == (None, None)


@pytest.mark.parametrize(("host", "share", "guests"), [
    ("0.0.0.0", False, []), ("192.168.1.5", False, []), ("127.0.0.1", True, []),
    ("127.0.0.1", False, [("bob", "pw")]),  # guests on loopback: the admin needs a login too
])
def test_without_an_admin_login_one_is_generated(host, share, guests):
    logins, password = ui_logins([], guests, host, share)
    assert password and len(password) >= 24
    assert logins.check(ADMIN_USER, password) and not logins.check(ADMIN_USER, password + "x")
    assert logins.users(Role.ADMIN) == {ADMIN_USER} and logins.users(Role.GUEST) == {name for name, _ in guests}


def test_given_logins_are_checked_with_their_roles():
    logins, generated = ui_logins([("alice", "a-pw")], [("bob", "b-pw"), ("carol", "c:pw")], "0.0.0.0", False)
    assert generated is None
    assert logins.check("alice", "a-pw") and logins.check("bob", "b-pw") and logins.check("carol", "c:pw")
    assert not logins.check("alice", "b-pw") and not logins.check("nobody", "a-pw") and not logins.check("bob", "")
    assert logins.users(Role.ADMIN) == {"alice"} and logins.users(Role.GUEST) == {"bob", "carol"}
    with pytest.raises(ValueError, match="'alice' is given twice"):
        ui_logins([("alice", "1")], [("alice", "2")], "127.0.0.1", False)


@pytest.mark.parametrize(("given", "host", "share", "logins", "generated"), [
    (None, "127.0.0.1", False, False, False), (None, "127.0.0.1", False, True, True),
    (None, "0.0.0.0", False, False, True), ("mine", "0.0.0.0", False, True, False),
])
def test_the_admin_token_is_required_beside_any_login(given, host, share, logins, generated):
    token, was_generated = api_token(given, host, share, logins=logins)
    assert (token is not None) == (generated or given is not None) and was_generated == generated


def test_a_guest_token_exists_with_guests_or_when_given():
    assert guest_token(None, False) == (None, False)
    assert guest_token("g", False) == ("g", False)
    token, generated = guest_token(None, True)
    assert token and generated


def test_tokens_map_to_roles_and_must_differ():
    tokens = token_roles("admin-secret", "guest-secret")
    assert role_of_token("admin-secret", tokens) is Role.ADMIN
    assert role_of_token("guest-secret", tokens) is Role.GUEST
    assert role_of_token("guest-secre", tokens) is None and role_of_token("", tokens) is None
    assert token_roles(None, None) == {}
    with pytest.raises(ValueError, match="must differ"):
        token_roles("same", "same")
    with pytest.raises(ValueError, match="needs an admin token"):
        token_roles(None, "guest-secret")


def test_guests_reach_only_converting_and_reading_routes(home: Path, jobs):
    api = create_api("admin-secret", "guest-secret")
    client = TestClient(api)
    routes = {(method.upper(), path) for path, item in api.openapi()["paths"].items() for method in item}
    assert GUEST_ROUTES < routes
    for method, path in sorted(routes):
        url = re.sub(r"\{[^}]+\}", "x", path)
        guest = client.request(method, url, headers=GUEST).status_code
        admin = client.request(method, url, headers=ADMIN).status_code
        assert admin not in (401, 403), (method, path, admin)
        assert (guest == 403) is ((method, path) not in GUEST_ROUTES), (method, path, guest)
    answer = client.post("/trainings", json={}, headers=GUEST)
    assert answer.json() == {"detail": GUEST_REFUSED}
    assert client.get("/models").status_code == 401


def test_a_guest_converts_its_uploads_only(home: Path, jobs):
    client = TestClient(create_api("admin-secret", "guest-secret"))
    take = write_wav(home / "take.wav").read_bytes()
    upload = client.post("/system/upload", files={"file": ("take.wav", take)}, headers=GUEST).json()["path"]
    body = {"model_id": "tiny", "audio_path": upload, "params": {"f0_method": "pm"}}
    assert client.post("/inference/tasks", json=body, headers=GUEST).status_code == 201
    admins = client.post("/system/upload", files={"file": ("take.wav", take)}, headers=ADMIN).json()["path"]
    elsewhere = write_wav(home / "logs" / "voice" / "take.wav")
    for path in (admins, str(elsewhere), str(home / "uploads" / "missing.wav")):  # the same answer for each
        answer = client.post("/inference/tasks", json=body | {"audio_path": path}, headers=GUEST)
        assert answer.status_code == 404 and answer.json()["detail"] == f"no upload of yours at {path!r}: upload " \
                                                                          "the file first"
    assert client.post("/inference/tasks", json=body | {"audio_path": str(elsewhere)}, headers=ADMIN).status_code == 201


def test_without_tokens_every_caller_is_the_admin(home: Path, jobs):
    client = TestClient(create_api())
    assert client.get("/trainings").status_code == 200
    assert client.get("/system/files/browse").status_code == 200
