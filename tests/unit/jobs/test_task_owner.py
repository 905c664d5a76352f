"""Tasks record who submitted them: a database from before owners opens, keeps its tasks, and gains the columns."""

from __future__ import annotations

import json
import sqlite3
import time

from rvc.jobs import ADMIN_ROLE, GUEST_ROLE, JobStore, Owner, Progress, Task, TaskStatus
from rvc.jobs.schema import MIGRATIONS, migrate

ALICE, BOB = Owner("alice", GUEST_ROLE), Owner("bob", GUEST_ROLE)
TOKEN_GUEST = Owner(None, GUEST_ROLE)  # the API's guest token names a role, not a person


def old_database(path) -> str:
    """A `webui.db` as the release before owners wrote it (schema version 1), with one finished task."""
    connection = sqlite3.connect(path, isolation_level=None)
    assert migrate(connection, MIGRATIONS[:1]) == 1
    connection.execute(
        "INSERT INTO tasks (id, kind, status, params, argv, resource, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("old-task", "inference", "completed", json.dumps({"input_path": "a.wav"}), "[]", "cpu", time.time()),
    )
    connection.close()
    return "old-task"


def columns(path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[1] for row in connection.execute("PRAGMA table_info(tasks)")}


def test_an_old_database_opens_with_its_tasks_ownerless(tmp_path):
    path = tmp_path / "webui.db"
    old = old_database(path)
    assert "owner" not in columns(path)
    store = JobStore(path)
    assert store.version == len(MIGRATIONS)
    assert {"owner", "owner_role"} <= columns(path)
    task = store.get_task(old)
    assert (task.status, task.params, task.owner) == (TaskStatus.COMPLETED, {"input_path": "a.wav"}, None)
    assert store.list_tasks().total == 1
    assert store.list_tasks(owner=ALICE).total == 0  # an ownerless task is nobody's: only the unfiltered list has it
    assert store.integrity_check() == ["ok"]
    store.close()
    JobStore(path).close()  # opening again applies nothing
    with sqlite3.connect(path) as connection:
        assert [row[0] for row in connection.execute("SELECT version FROM schema_version")] == [
            *range(1, len(MIGRATIONS) + 1)]


def test_owners_are_recorded_at_creation_and_filter_the_list(tmp_path):
    store = JobStore(tmp_path / "webui.db")
    ids = {}
    for name, owner in (("alice", ALICE), ("bob", BOB), ("token", TOKEN_GUEST), ("admin", Owner("root", ADMIN_ROLE))):
        task = store.create_task("inference", [], {}, "cpu", owner=owner)
        assert task.owner == owner
        ids[name] = task.id
    ids["none"] = store.create_task("inference", [], {}, "cpu").id
    assert [t.id for t in store.list_tasks(owner=ALICE).items] == [ids["alice"]]
    assert [t.id for t in store.list_tasks(owner=TOKEN_GUEST).items] == [ids["token"]]  # NULL user matched by IS
    assert store.list_tasks(owner=Owner("alice", ADMIN_ROLE)).total == 0  # the same name in another role differs
    assert store.list_tasks().total == 5
    assert store.list_tasks(owner=BOB, status="queued", kind="inference").total == 1
    assert store.get_task(ids["alice"]).owner == ALICE and store.get_task(ids["none"]).owner is None
    store.close()


def test_an_admin_sees_every_task_a_guest_its_own():
    mine = Task("t", "inference", TaskStatus.QUEUED, {}, [], "cpu", Progress(), 0.0, owner=ALICE)
    ownerless = Task("u", "inference", TaskStatus.QUEUED, {}, [], "cpu", Progress(), 0.0)
    assert ALICE.may_see(mine) and not BOB.may_see(mine) and not TOKEN_GUEST.may_see(mine)
    assert not ALICE.may_see(ownerless)
    assert Owner(None, ADMIN_ROLE).may_see(mine) and Owner("root", ADMIN_ROLE).may_see(ownerless)
