"""The rows the job store holds, as plain dataclasses, and the task status machine.

Front ends get these (or their `to_dict()`), never SQL rows, so the schema can change behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar


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


@dataclass(frozen=True)
class Progress:
    done: int = 0
    total: int = 0
    stage: str = ""
    message: str = ""


# The roles of logins and tokens (`rvc.api.auth.Role`): an admin sees every task, a guest only its own.
ADMIN_ROLE, GUEST_ROLE = "admin", "guest"


@dataclass(frozen=True)
class Owner:
    """Who submitted a task, or who asks for one: a login's user name (None for a caller known by a token only,
    which names a role, not a person) and its role. An admin sees every task; any other role only its own.
    """

    user: str | None
    role: str

    @property
    def sees_all(self) -> bool:
        return self.role == ADMIN_ROLE

    def may_see(self, task: Task) -> bool:
        return self.sees_all or task.owner == self


@dataclass(frozen=True)
class Task:
    """One job: what to run (kind, argv, params, resource) and how it went."""

    id: str
    kind: str
    status: TaskStatus
    params: dict[str, Any]
    argv: list[str]
    resource: str
    progress: Progress
    created: float
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    pid: int | None = None
    result: dict[str, Any] | None = None
    training_id: str | None = None
    owner: Owner | None = None  # None: submitted on a server without logins, or before owners were recorded

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": str(self.status)}


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
    id: str
    name: str
    target_sr: str
    if_f0: bool
    version: str
    dataset_path: str
    current_step: str
    config: dict[str, Any]
    created: float
    updated: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelRecord:
    """What the model list shows about one inference `.pth`, cached so listing does not load every file.

    A file that could not be read is cached too, as its ``error`` with nothing else, so that a hostile file costs
    one read, not one per listing; any change to the file (size or time) has it read again.
    """

    model_id: str
    path: str
    version: str | None = None
    sample_rate: int | None = None
    f0: bool | None = None
    info: str | None = None
    size: int | None = None
    index_path: str | None = None
    updated: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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

