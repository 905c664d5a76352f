"""Jobs: every long action runs as a child process whose JSON-lines events are stored in `logs/webui.db`
and fanned out live (see `runner` for the life of a task, `store` for the database, `worker` for conversions).
"""

from rvc.jobs.fanout import AsyncSubscription, Subscription
from rvc.jobs.records import (
    ADMIN_ROLE,
    GUEST_ROLE,
    TERMINAL_STATUSES,
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
from rvc.jobs.runner import INFERENCE_KIND, PAUSE_REQUEST, JobRunner, JobStateError
from rvc.jobs.store import JobStore, NotFoundError, StoreOpenError

__all__ = [
    "ADMIN_ROLE", "GUEST_ROLE", "INFERENCE_KIND", "PAUSE_REQUEST", "TERMINAL_STATUSES", "TRAINING_STEPS",
    "AsyncSubscription", "Event", "JobRunner", "JobStateError", "JobStore", "Metric", "ModelRecord", "NotFoundError",
    "Owner", "Page", "Progress", "StoreOpenError", "Subscription", "Task", "TaskStatus", "Training",
]
