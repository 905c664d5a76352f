"""The SQLite layer: schema and migrations, status rules, events, trainings, models, metrics."""

from __future__ import annotations

import sqlite3

import pytest

from rvc.jobs import JobStore, ModelRecord, NotFoundError, Progress, TaskStatus
from rvc.jobs.schema import MIGRATIONS, Migration, migrate

TABLES = {"schema_version", "tasks", "trainings", "models", "metrics", "events"}


def tables(path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_file_gets_the_schema_in_wal_mode(tmp_path):
    store = JobStore(tmp_path / "logs" / "webui.db")
    assert store.version == len(MIGRATIONS)
    assert store.journal_mode() == "wal"
    assert store.integrity_check() == ["ok"]
    assert tables(store.path) >= TABLES
    with pytest.raises(sqlite3.IntegrityError):  # foreign keys are enforced
        store.create_task("train", ["train"], {}, "gpu:0", training_id="no-such-training")
    store.close()


def test_opening_again_applies_nothing(tmp_path):
    path = tmp_path / "webui.db"
    JobStore(path).close()
    JobStore(path).close()
    with sqlite3.connect(path) as connection:
        versions = [row[0] for row in connection.execute("SELECT version FROM schema_version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1))


def test_later_migrations_apply_in_order_once(tmp_path):
    path = tmp_path / "webui.db"
    JobStore(path).close()  # a file from the current release
    added = [
        Migration("tags", ("CREATE TABLE tags (name TEXT PRIMARY KEY)",)),
        Migration("a tag", ("INSERT INTO tags VALUES ('first')",)),
    ]
    newer = [*MIGRATIONS, *added]
    JobStore(path, migrations=newer).close()
    connection = sqlite3.connect(path, isolation_level=None)
    assert connection.execute("SELECT name FROM tags").fetchall() == [("first",)]
    assert migrate(connection, newer) == len(newer)  # the INSERT did not run twice
    assert connection.execute("SELECT COUNT(*) FROM tags").fetchone()[0] == 1
    connection.close()


def test_a_failing_migration_leaves_the_file_at_the_last_good_version(tmp_path):
    broken = [*MIGRATIONS, Migration("broken", ("CREATE TABLE half (x)", "NOT SQL"))]
    with pytest.raises(sqlite3.OperationalError):
        JobStore(tmp_path / "webui.db", migrations=broken)
    store = JobStore(tmp_path / "webui.db")
    assert store.version == len(MIGRATIONS) and "half" not in tables(store.path)
    store.close()


def test_status_changes_follow_the_rules(store):
    task = store.create_task("train", ["train"], {"experiment": "a"}, "gpu:0")
    assert task.status is TaskStatus.QUEUED and task.progress == Progress()
    assert not store.set_status(task.id, TaskStatus.COMPLETED)  # never ran
    assert store.set_status(task.id, TaskStatus.RUNNING, started=1.0, pid=42)
    assert store.set_status(task.id, TaskStatus.FAILED, finished=2.0, error="boom", result={"partial": True})
    assert not store.set_status(task.id, TaskStatus.CANCELLED)  # a finished task stays finished
    task = store.get_task(task.id)
    assert (task.status, task.pid, task.error, task.done) == ("failed", 42, "boom", True)
    assert task.result == {"partial": True}
    with pytest.raises(ValueError, match="kind"):
        store.set_status(task.id, TaskStatus.RUNNING, kind="x")


def test_task_lists_filter_and_page(store):
    ids = [store.create_task(kind, ["x"], {}, "cpu").id for kind in ("index", "train", "index", "index")]
    store.set_status(ids[0], TaskStatus.RUNNING)
    page = store.list_tasks(kind="index", limit=2)
    assert page.total == 3 and [t.id for t in page.items] == [ids[3], ids[2]]
    assert [t.id for t in store.list_tasks(kind="index", limit=2, offset=2).items] == [ids[0]]
    assert [t.id for t in store.list_tasks(status=["queued"], oldest_first=True, limit=None).items] == ids[1:]
    assert store.list_tasks(status="running", kind="train").total == 0
    assert page.to_dict()["items"][0]["status"] == "queued"
    with pytest.raises(NotFoundError):
        store.get_task("nope")


def test_events_are_numbered_per_task(store):
    first, second = (store.create_task("x", ["x"], {}, "cpu").id for _ in range(2))
    for number in range(5):
        store.append_event(first, "log", {"message": str(number)})
    store.append_event(second, "log", {"message": "other"})
    events = store.events(first, from_seq=2)
    assert [(e.seq, e.data["message"]) for e in events] == [(2, "2"), (3, "3"), (4, "4")]
    assert store.events(second)[0].seq == 0
    assert store.last_event(first).seq == 4
    assert events[0].to_dict() | {"created": 0} == {
        "type": "log", "message": "2", "task_id": first, "seq": 2, "created": 0,
    }


def test_trainings_metrics_and_their_links(store):
    training = store.create_training("alice", "40k", True, "v2", "/data/alice", {"batch_size": 4})
    assert training.current_step == "none" and store.find_training("alice").id == training.id
    with pytest.raises(ValueError, match="already exists"):
        store.create_training("alice", "40k", True, "v2", "/data/alice")
    assert store.update_training(training.id, current_step="extracted").current_step == "extracted"
    with pytest.raises(ValueError, match="unknown training step"):
        store.update_training(training.id, current_step="done")
    for step in (0, 100, 200):
        store.add_metric(training.id, step, step // 100, {"loss_g": 30.0 - step / 100})
    store.add_metric(training.id, 100, 1, {"loss_g": 1.0})  # a resumed run repeats a step: replaced
    assert [(m.step, m.values["loss_g"]) for m in store.metrics(training.id)] == [(0, 30.0), (100, 1.0), (200, 28.0)]
    assert [m.step for m in store.metrics(training.id, since_step=100)] == [200]
    task = store.create_task("train", ["train"], {}, "gpu:0", training_id=training.id)
    assert store.delete_training(training.id)
    assert store.metrics(training.id) == [] and store.get_task(task.id).training_id is None
    assert store.list_trainings().total == 0


def test_models_are_upserted_by_file_stem(store):
    store.upsert_model(ModelRecord("alice", "/w/alice.pth", "v2", 40000, True, "epoch 20", 55_000_000))
    updated = store.upsert_model(ModelRecord("alice", "/w/alice.pth", "v2", 40000, True, "epoch 40", 56_000_000,
                                             index_path="/i/alice.index"))
    assert (updated.info, updated.f0, updated.index_path) == ("epoch 40", True, "/i/alice.index")
    assert store.list_models().total == 1
    assert store.delete_model("alice") and not store.delete_model("alice")
