"""A thin layer over `logs/webui.db` (SQLite, WAL): tasks, their events, trainings, models' metadata, metrics.

One connection guarded by a lock serves every thread of the server; WAL lets other processes (a CLI, a second
reader) read while the server writes, and `busy_timeout` makes writers wait for each other instead of failing.
Rows come back as the dataclasses of `rvc.jobs.records`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from rvc.jobs.records import (
    PREDECESSORS,
    TRAINING_STEPS,
    Event,
    Metric,
    ModelRecord,
    Owner,
    Page,
    Progress,
    Task,
    TaskStatus,
    Training,
)
from rvc.jobs.schema import MIGRATIONS, Migration, migrate

BUSY_TIMEOUT_MS = 10_000
FULL_DISK_BYTES = 1 << 20  # with less free space than this, an I/O error of SQLite means a full disk
T = TypeVar("T")

# SQLite's primary result codes that are about the file or its disk, not about the SQL.
_DISK_CODES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
_NOT_A_DATABASE_CODES = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})

# The task columns `set_status` may change along with the status; everything else is fixed at submission.
_STATUS_FIELDS = ("started", "finished", "error", "pid", "result")


class NotFoundError(LookupError):
    """No row with that id: the front ends answer 404 / "not found"."""


class StoreOpenError(RuntimeError):
    """The database cannot be opened or brought up to date because of its file or its disk (full, read-only, not a
    database). The message names the file, the problem and what to do; the file was not deleted or overwritten.
    """


def _open_problem(path: Path, error: OSError | sqlite3.Error) -> str | None:
    """What is wrong with the database file or its disk, and the remedy; None when the file is not the cause."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # an extended code keeps the primary one in its low byte
    if code in _NOT_A_DATABASE_CODES:
        return ("the file is not a SQLite database, or it is damaged: move it aside (rename it) and start again to "
                "get a new, empty one")
    if not isinstance(error, OSError) and code not in _DISK_CODES:
        return None
    folder = next(parent for parent in path.parents if parent.exists())
    free = shutil.disk_usage(folder).free
    if code == sqlite3.SQLITE_FULL or getattr(error, "errno", None) == errno.ENOSPC or free < FULL_DISK_BYTES:
        return f"its disk is full ({free:,} bytes free): free some space there and start again"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return (f"the file or its folder {folder} is read-only for this user: make both writable, or set RVC_HOME "
                "to a writable folder")
    return "the disk could not be read or written: check the disk, its free space and the folder's permissions"


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _task(row: sqlite3.Row) -> Task:
    return Task(
        id=row["id"], kind=row["kind"], status=TaskStatus(row["status"]), params=_loads(row["params"]),
        argv=_loads(row["argv"]), resource=row["resource"],
        progress=Progress(row["progress_done"], row["progress_total"], row["progress_stage"], row["progress_message"]),
        created=row["created"], started=row["started"], finished=row["finished"], error=row["error"],
        pid=row["pid"], result=_loads(row["result"]), training_id=row["training_id"],
        owner=None if row["owner_role"] is None else Owner(row["owner"], row["owner_role"]),
    )


def _event(row: sqlite3.Row) -> Event:
    return Event(row["task_id"], row["seq"], row["type"], _loads(row["payload"]), row["created"])


def _training(row: sqlite3.Row) -> Training:
    return Training(
        id=row["id"], name=row["name"], target_sr=row["target_sr"], if_f0=bool(row["if_f0"]),
        version=row["version"], dataset_path=row["dataset_path"], current_step=row["current_step"],
        config=_loads(row["config"]), created=row["created"], updated=row["updated"],
    )


def _model(row: sqlite3.Row) -> ModelRecord:
    return ModelRecord(**{key: row[key] for key in row.keys()} | {"f0": None if row["f0"] is None else bool(row["f0"])})


def _metric(row: sqlite3.Row) -> Metric:
    return Metric(row["training_id"], row["step"], row["epoch"], _loads(row["values"]), row["created"])


def _where(filters: dict[str, Any], exact: dict[str, Any] | None = None) -> tuple[str, list[Any]]:
    """`WHERE` for column filters; a filter is skipped when None and may be one value or several. ``exact``:
    columns that must hold one value, NULL included (`IS`)."""
    clauses, args = [], []
    for column, value in filters.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
        args.extend(values)
    for column, value in (exact or {}).items():
        clauses.append(f"{column} IS ?")
        args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


class JobStore:
    """The web UI's database. Safe to share between threads; every method is one short transaction."""

    def __init__(self, path: str | os.PathLike, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        """Open (or create) the file and apply the migrations it lacks; `StoreOpenError` when the file or its disk
        is the problem.
        """
        self.path = Path(path)
        self._lock = threading.RLock()
        connection = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")  # with WAL: durable at checkpoints, no fsync per event
            connection.execute("PRAGMA foreign_keys = ON")
            self.version = migrate(connection, migrations)
        except (OSError, sqlite3.Error) as error:
            if connection is not None:
                connection.close()
            problem = _open_problem(self.path, error)
            if problem is None:
                raise
            raise StoreOpenError(f"cannot open the database {self.path}: {problem} ({error})") from error
        self._db = connection

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run one write; return how many rows it changed."""
        with self._lock:
            return self._db.execute(sql, tuple(args)).rowcount

    def _one(self, sql: str, args: Iterable[Any], convert: Callable[[sqlite3.Row], T], what: str) -> T:
        rows = self._rows(sql, args)
        if not rows:
            raise NotFoundError(f"{what} not found")
        return convert(rows[0])

    def _page(
        self, table: str, filters: dict[str, Any], order: str, limit: int | None, offset: int,
        convert: Callable[[sqlite3.Row], T], exact: dict[str, Any] | None = None,
    ) -> Page[T]:
        """Rows ``offset`` to ``offset + limit`` (all when ``limit`` is None) and how many match in all."""
        where, args = _where(filters, exact)
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM {table}{where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM {table}{where} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            ).fetchall()
        return Page([convert(row) for row in rows], total, limit, offset)

    # --- health -------------------------------------------------------------------------------------------

    def journal_mode(self) -> str:
        return self._rows("PRAGMA journal_mode")[0][0]

    def integrity_check(self) -> list[str]:
        """SQLite's own check of the file: ``["ok"]`` when sound, else the problems it found."""
        return [row[0] for row in self._rows("PRAGMA integrity_check")]

    # --- tasks --------------------------------------------------------------------------------------------

    def create_task(
        self, kind: str, argv: Sequence[str], params: dict[str, Any], resource: str, training_id: str | None = None,
        owner: Owner | None = None,
    ) -> Task:
        """A queued task; ``owner``: who submits it (None on a server without logins), fixed from the start."""
        task_id = uuid.uuid4().hex
        self._execute(
            "INSERT INTO tasks (id, kind, status, params, argv, resource, created, training_id, owner, owner_role) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task_id, kind, TaskStatus.QUEUED, _json(params), _json(list(argv)), resource, time.time(), training_id,
             owner and owner.user, owner and owner.role),
        )
        return self.get_task(task_id)

    def get_task(self, task_id: str) -> Task:
        return self._one("SELECT * FROM tasks WHERE id = ?", (task_id,), _task, f"task {task_id!r}")

    def list_tasks(
        self,
        status: str | Iterable[str] | None = None,
        kind: str | Iterable[str] | None = None,
        training_id: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
        oldest_first: bool = False,
        owner: Owner | None = None,
    ) -> Page[Task]:
        """Tasks newest first (or oldest first: the order the scheduler starts them), filtered; with ``owner``,
        only the tasks that owner submitted (the store knows no roles: an admin's listing passes None)."""
        order = f"created {'ASC' if oldest_first else 'DESC'}, rowid {'ASC' if oldest_first else 'DESC'}"
        filters = {"status": status, "kind": kind, "training_id": training_id}
        exact = None if owner is None else {"owner": owner.user, "owner_role": owner.role}
        return self._page("tasks", filters, order, limit, offset, _task, exact)

    def set_status(self, task_id: str, status: TaskStatus, **fields: Any) -> bool:
        """Move a task to ``status`` (and set any of started/finished/error/pid/result) if the move is legal.

        Returns False, changing nothing, when the task's current status may not lead to ``status``: the
        loser of a race (say, a cancel against the job's own end) learns it lost.
        """
        unknown = set(fields) - set(_STATUS_FIELDS)
        if unknown:
            raise ValueError(f"set_status cannot change {sorted(unknown)}")
        values = dict(fields)
        if values.get("result") is not None:
            values["result"] = _json(values["result"])
        allowed = [str(s) for s in PREDECESSORS[status]]
        assignments = "".join(f", {key} = ?" for key in values)
        return bool(self._execute(
            f"UPDATE tasks SET status = ?{assignments} WHERE id = ? AND status IN ({', '.join('?' * len(allowed))})",
            [str(status), *values.values(), task_id, *allowed],
        ))

    def set_progress(self, task_id: str, progress: Progress) -> None:
        self._execute(
            "UPDATE tasks SET progress_done = ?, progress_total = ?, progress_stage = ?, progress_message = ? "
            "WHERE id = ?",
            (progress.done, progress.total, progress.stage, progress.message, task_id),
        )

    # --- events -------------------------------------------------------------------------------------------

    def append_event(self, task_id: str, type: str, data: dict[str, Any]) -> Event:
        """Store an event as the task's next one (seq = previous + 1, from 0) and return it."""
        now = time.time()
        with self._lock:
            seq = self._db.execute(
                "INSERT INTO events (task_id, seq, type, payload, created) "
                "SELECT ?, COALESCE(MAX(seq) + 1, 0), ?, ?, ? FROM events WHERE task_id = ? RETURNING seq",
                (task_id, type, _json(data), now, task_id),
            ).fetchone()[0]
        return Event(task_id, seq, type, data, now)

    def events(self, task_id: str, from_seq: int = 0, limit: int | None = None) -> list[Event]:
        """The task's events with seq >= ``from_seq``, in order."""
        rows = self._rows(
            "SELECT * FROM events WHERE task_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
            (task_id, from_seq, -1 if limit is None else limit),
        )
        return [_event(row) for row in rows]

    def last_event(self, task_id: str) -> Event | None:
        rows = self._rows("SELECT * FROM events WHERE task_id = ? ORDER BY seq DESC LIMIT 1", (task_id,))
        return _event(rows[0]) if rows else None

    # --- trainings ----------------------------------------------------------------------------------------

    def create_training(
        self, name: str, target_sr: str, if_f0: bool, version: str, dataset_path: str,
        config: dict[str, Any] | None = None,
    ) -> Training:
        training_id, now = uuid.uuid4().hex, time.time()
        try:
            self._execute(
                "INSERT INTO trainings (id, name, target_sr, if_f0, version, dataset_path, config, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (training_id, name, target_sr, int(if_f0), version, dataset_path, _json(config or {}), now, now),
            )
        except sqlite3.IntegrityError as error:
            raise ValueError(f"a training named {name!r} already exists: pick another name") from error
        return self.get_training(training_id)

    def get_training(self, training_id: str) -> Training:
        return self._one("SELECT * FROM trainings WHERE id = ?", (training_id,), _training, f"training {training_id!r}")

    def find_training(self, name: str) -> Training:
        return self._one("SELECT * FROM trainings WHERE name = ?", (name,), _training, f"training named {name!r}")

    def list_trainings(self, limit: int = 50, offset: int = 0) -> Page[Training]:
        return self._page("trainings", {}, "updated DESC", limit, offset, _training)

    def update_training(
        self, training_id: str, current_step: str | None = None, config: dict[str, Any] | None = None
    ) -> Training:
        if current_step is not None and current_step not in TRAINING_STEPS:
            raise ValueError(f"unknown training step {current_step!r}: use one of {', '.join(TRAINING_STEPS)}")
        changed = self._execute(
            "UPDATE trainings SET current_step = COALESCE(?, current_step), config = COALESCE(?, config), "
            "updated = ? WHERE id = ?",
            (current_step, None if config is None else _json(config), time.time(), training_id),
        )
        if not changed:
            raise NotFoundError(f"training {training_id!r} not found")
        return self.get_training(training_id)

    def delete_task(self, task_id: str) -> bool:
        """Forget a task and its events (the foreign key cascades)."""
        return bool(self._execute("DELETE FROM tasks WHERE id = ?", (task_id,)))

    def delete_training(self, training_id: str) -> bool:
        """Forget a training and its metrics (its tasks stay, unlinked); files on disk are not touched."""
        return bool(self._execute("DELETE FROM trainings WHERE id = ?", (training_id,)))

    # --- models -------------------------------------------------------------------------------------------

    def upsert_model(self, record: ModelRecord) -> ModelRecord:
        values = asdict(record) | {"updated": record.updated or time.time()}
        values["f0"] = None if record.f0 is None else int(record.f0)
        columns = ", ".join(values)
        updates = ", ".join(f"{key} = excluded.{key}" for key in values if key != "model_id")
        self._execute(
            f"INSERT INTO models ({columns}) VALUES ({', '.join('?' * len(values))}) "
            f"ON CONFLICT (model_id) DO UPDATE SET {updates}",
            values.values(),
        )
        return self.get_model(record.model_id)

    def get_model(self, model_id: str) -> ModelRecord:
        return self._one("SELECT * FROM models WHERE model_id = ?", (model_id,), _model, f"model {model_id!r}")

    def list_models(self, limit: int = 100, offset: int = 0) -> Page[ModelRecord]:
        return self._page("models", {}, "model_id", limit, offset, _model)

    def delete_model(self, model_id: str) -> bool:
        return bool(self._execute("DELETE FROM models WHERE model_id = ?", (model_id,)))

    # --- metrics ------------------------------------------------------------------------------------------

    def add_metric(self, training_id: str, step: int, epoch: int, values: dict[str, float]) -> None:
        """Record one step's losses; a step written again (a resumed run repeats it) replaces the old row."""
        self._execute(
            'INSERT OR REPLACE INTO metrics (training_id, step, epoch, "values", created) VALUES (?, ?, ?, ?, ?)',
            (training_id, step, epoch, _json(values), time.time()),
        )

    def metrics(self, training_id: str, since_step: int | None = None, limit: int | None = None) -> list[Metric]:
        """The training's metrics by step; with ``since_step``, only the steps after it (for polling)."""
        rows = self._rows(
            "SELECT * FROM metrics WHERE training_id = ? AND step > ? ORDER BY step LIMIT ?",
            (training_id, -1 if since_step is None else since_step, -1 if limit is None else limit),
        )
        return [_metric(row) for row in rows]
