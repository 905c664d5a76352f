"""The rows the job store holds, as plain dataclasses, and the task status machine.

Front ends get these (or their `to_dict()`), never SQL rows, so the schema can change behind them. Each field's
meaning is declared here once (`describe`): the REST API's response models are derived from these records
(`rvc.api.schemas`), so a record and its answer cannot drift apart. Fields marked private (a task's command
line, its process) stay on the server: `to_dict()` and the response models leave them out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from rvc.vocabulary import TASK_KINDS


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


# A task never leaves these: a paused or interrupted training goes on as a new task (see JobRunner.resume).
TERMINAL_STATUSES = frozenset(
    {TaskStatus.PAUSED, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.INTERRUPTED}
)

# status -> the statuses a task may hold just before it; the store refuses any other change, so two threads
# racing (a cancel and the scheduler, a crash and a cancel) cannot both win.
PREDECESSORS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.QUEUED: frozenset(),
    TaskStatus.RUNNING: frozenset({TaskStatus.QUEUED}),
    TaskStatus.PAUSED: frozenset({TaskStatus.RUNNING}),
    TaskStatus.COMPLETED: frozenset({TaskStatus.RUNNING}),
    TaskStatus.FAILED: frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING}),
    TaskStatus.CANCELLED: frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING}),
    TaskStatus.INTERRUPTED: frozenset({TaskStatus.RUNNING}),
}

# Which wizard step of a training is done, in order.
TRAINING_STEPS = ("none", "preprocessed", "extracted", "trained", "indexed", "exported")

# The event type the runner itself writes when a task changes status; the last event of every task is one.
STATUS_EVENT = "status"

T = TypeVar("T")


def describe(help: str, default: Any = dataclasses.MISSING, private: bool = False) -> Any:  # noqa: A002
    """A record field with its meaning (the API's description) and whether it stays on the server."""
    return dataclasses.field(default=default, metadata={"help": help, "private": private})


def public_fields(record: type) -> tuple[dataclasses.Field, ...]:
    """The fields of a record class that front ends see."""
    return tuple(field for field in dataclasses.fields(record) if not field.metadata.get("private"))


def public_dict(record: Any) -> dict[str, Any]:
    """A record as plain data without its private fields (nested records as dicts, enums as their value)."""
    values = {field.name: getattr(record, field.name) for field in public_fields(type(record))}
    return {name: _plain(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return asdict(value)
    return str(value) if isinstance(value, StrEnum) else value


@dataclass(frozen=True)
class Progress:
    """How far a task is, as its latest progress event said."""

    done: int = describe("units of work done", 0)
    total: int = describe("units of work in all (0: not known yet)", 0)
    stage: str = describe("what the task is doing, in a word", "")
    message: str = describe("what the task is doing, in a sentence", "")


# The roles of logins and tokens (`rvc.api.auth.Role`): an admin sees every task, a guest only its own.
ADMIN_ROLE, GUEST_ROLE = "admin", "guest"


@dataclass(frozen=True)
class Owner:
    """Who submitted a task, or who asks for one: a login's user name (None for a caller known by a token only,
    which names a role, not a person) and its role. An admin sees every task; any other role only its own.
    """

    user: str | None = describe("the login's user name; null for a token, which names a role only")
    role: str = describe("admin or guest")

    @property
    def sees_all(self) -> bool:
        return self.role == ADMIN_ROLE

    def may_see(self, task: Task) -> bool:
        return self.sees_all or task.owner == self


@dataclass(frozen=True)
class Task:
    """One job: what to run (kind, argv, params, resource) and how it went."""

    id: str = describe("the task's id")
    kind: str = describe(", ".join(TASK_KINDS))
    status: TaskStatus = describe("where the task stands")
    params: dict[str, Any] = describe("the parameters it was given")
    argv: list[str] = describe("the command line of its process", private=True)
    resource: str = describe("what it waits for: cpu, or the device it runs on", private=True)
    progress: Progress = describe("how far it is")
    created: float = describe("when it was submitted, Unix seconds")
    started: float | None = describe("when it started running, Unix seconds", None)
    finished: float | None = describe("when it ended, Unix seconds", None)
    error: str | None = describe("why it failed, in a sentence", None)
    pid: int | None = describe("its process while it runs", None, private=True)
    result: dict[str, Any] | None = describe("what it made (files, figures), once completed", None)
    training_id: str | None = describe("the training it is a step of", None)
    # None: submitted on a server without logins, or before owners were recorded
    owner: Owner | None = describe("who submitted it; null on a server without logins", None)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return public_dict(self)


@dataclass(frozen=True)
class Event:
    """One line of a task's event stream, numbered from 0 in the order it arrived."""

    task_id: str
    seq: int
    type: str
    data: dict[str, Any]
    created: float

    @property
    def final(self) -> bool:
        """True for the task's last event: the runner's notice of a terminal status."""
        return self.type == STATUS_EVENT and self.data.get("status") in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """The event as the protocol line it came from, plus where it sits in the stream."""
        return {**self.data, "type": self.type, "task_id": self.task_id, "seq": self.seq, "created": self.created}


@dataclass(frozen=True)
class Training:
    id: str = describe("the training's id")
    name: str = describe("the experiment's folder under logs/ and the exported model's name")
    target_sr: str = describe("32k, 40k or 48k")
    if_f0: bool = describe("a model with pitch guidance")
    version: str = describe("v1 or v2")
    dataset_path: str = describe("the folder of clips or the recording it trains on")
    current_step: str = describe(f"the last step done: {', '.join(TRAINING_STEPS)}")
    config: dict[str, Any] = describe("a run config replacing the preset ({}: the preset)")
    created: float = describe("when it was created, Unix seconds")
    updated: float = describe("when it last changed, Unix seconds")

    def to_dict(self) -> dict[str, Any]:
        return public_dict(self)


@dataclass(frozen=True)
class ModelRecord:
    """What the model list shows about one inference `.pth`, cached so listing does not load every file.

    A file that could not be read is cached too, as its ``error`` with nothing else, so that a hostile file costs
    one read, not one per listing; any change to the file (size or time) has it read again.
    """

    model_id: str = describe("the model's name: its file stem in assets/weights")
    path: str = describe("the model file")
    version: str | None = describe("v1 or v2", None)
    sample_rate: int | None = describe("the rate of its output, Hz", None)
    f0: bool | None = describe("whether it has pitch guidance", None)
    info: str | None = describe("the info text stored in the file", None)
    size_bytes: int | None = describe("the file's size", None)
    index_path: str | None = describe("the index linked to it by name (the ecosystem's rule), if any", None)
    updated: float | None = describe("when the file was read", None, private=True)
    error: str | None = describe("why the file could not be read, if it could not", None)

    def to_dict(self) -> dict[str, Any]:
        return public_dict(self)


@dataclass(frozen=True)
class Metric:
    training_id: str
    step: int
    epoch: int
    values: dict[str, float]
    created: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list query, with the number of rows that match in all."""

    items: list[T]
    total: int
    limit: int | None  # None: no limit
    offset: int

    def to_dict(self) -> dict[str, Any]:
        items = [item.to_dict() if hasattr(item, "to_dict") else item for item in self.items]
        return {"items": items, "total": self.total, "limit": self.limit, "offset": self.offset}

