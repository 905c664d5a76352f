"""The database schema as an ordered list of migrations, applied once each and recorded in `schema_version`.

A new release appends a migration (never edits an old one), so a `webui.db` from any earlier version is
brought up to date on open, and opening an up-to-date one changes nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "tasks, trainings, models, metrics, events",
        (
            """CREATE TABLE trainings (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                target_sr TEXT NOT NULL,
                if_f0 INTEGER NOT NULL,
                version TEXT NOT NULL,
                dataset_path TEXT NOT NULL,
                current_step TEXT NOT NULL DEFAULT 'none',
                config TEXT NOT NULL DEFAULT '{}',
                created REAL NOT NULL,
                updated REAL NOT NULL
            )""",
            """CREATE TABLE tasks (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                params TEXT NOT NULL DEFAULT '{}',
                argv TEXT NOT NULL DEFAULT '[]',
                resource TEXT NOT NULL,
                progress_done INTEGER NOT NULL DEFAULT 0,
                progress_total INTEGER NOT NULL DEFAULT 0,
                progress_stage TEXT NOT NULL DEFAULT '',
                progress_message TEXT NOT NULL DEFAULT '',
                created REAL NOT NULL,
                started REAL,
                finished REAL,
                error TEXT,
                pid INTEGER,
                result TEXT,
                training_id TEXT REFERENCES trainings(id) ON DELETE SET NULL
            )""",
            "CREATE INDEX tasks_status ON tasks(status, created)",
            "CREATE INDEX tasks_kind ON tasks(kind, created)",
            "CREATE INDEX tasks_training ON tasks(training_id)",
            """CREATE TABLE models (
                model_id TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                version TEXT,
                sample_rate INTEGER,
                f0 INTEGER,
                info TEXT,
                size INTEGER,
                index_path TEXT,
                updated REAL
            )""",
            """CREATE TABLE metrics (
                training_id TEXT NOT NULL REFERENCES trainings(id) ON DELETE CASCADE,
                step INTEGER NOT NULL,
                epoch INTEGER NOT NULL,
                "values" TEXT NOT NULL,
                created REAL NOT NULL,
                PRIMARY KEY (training_id, step)
            )""",
            """CREATE TABLE events (
                task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                type TEXT NOT NULL,
                payload TEXT NOT NULL,
                created REAL NOT NULL,
                PRIMARY KEY (task_id, seq)
            )""",
        ),
    ),
    Migration(
        "tasks' owner: who submitted them (a login's name and role; NULL on a server without logins)",
        (
            "ALTER TABLE tasks ADD COLUMN owner TEXT",
            "ALTER TABLE tasks ADD COLUMN owner_role TEXT",
            "CREATE INDEX tasks_owner ON tasks(owner_role, owner, created)",
        ),
    ),
    Migration(
        "models' read error; the cached models are forgotten, since earlier versions cached a file's info "
        "stringified whatever it was (a hostile one took 100 MB): each is read again by the bounded reader",
        (
            "ALTER TABLE models ADD COLUMN error TEXT",
            "DELETE FROM models",
        ),
    ),
    Migration(
        "models' size under the name the API gives it",
        ("ALTER TABLE models RENAME COLUMN size TO size_bytes",),
    ),
)


def schema_version(connection: sqlite3.Connection) -> int:
    """The last migration applied (0 for a new file)."""
    row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(connection: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the migrations this file lacks, in order, each in its own transaction; return the version.

    ``connection`` must be in autocommit mode (``isolation_level=None``). Each migration re-reads the version
    inside a write transaction, so two processes opening the same new file apply it once.
    """
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied REAL NOT NULL)"
    )
    for version, migration in enumerate(migrations, start=1):
        if schema_version(connection) >= version:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(connection) < version:
                for statement in migration.statements:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)",
                    (version, migration.description, time.time()),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return schema_version(connection)
