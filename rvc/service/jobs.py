"""The one job runner of a server process, shared by every front end, and what the services need around it.

webui.py starts it at launch (which also marks the tasks a dead server left running as interrupted) and stops it
at exit; anything that needs it before then starts it lazily, so a script or a test can use the services alone.
The runner's own errors are translated here into the service's (`rvc.service.errors`), so front ends see one
vocabulary.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rvc.config import get_paths
from rvc.devices import default_device
from rvc.jobs import JobRunner, JobStateError, JobStore, NotFoundError, Owner, Task
from rvc.security import serve_clients
from rvc.service.errors import Conflict, NotFound
from rvc.settings import load_settings

_DEVICES = re.compile(r"^(cpu|(\d+)(-\d+)?)$")  # the `--devices` of the training commands

_lock = threading.Lock()
_runner: JobRunner | None = None


def start_jobs(max_cpu_jobs: int = 1, **options: Any) -> JobRunner:
    """Open `logs/webui.db` and start the runner (recovering after a dead server); a second call changes nothing.

    ``max_cpu_jobs`` is how many tasks may run on the CPU at once; ``options`` go to `JobRunner` (tests put
    stand-in commands there). A process with a runner serves clients, so from now on the model and index paths
    that conversions are given must lie in the allowed roots too (`rvc.security.serve_clients`). A database that
    cannot be opened (full disk, read-only folder, not a database) raises `rvc.jobs.StoreOpenError`, whose
    message says what to do.
    """
    global _runner
    if max_cpu_jobs < 1:
        raise ValueError(f"max_cpu_jobs={max_cpu_jobs} must be at least 1")
    with _lock:
        if _runner is None:
            paths = get_paths()
            _runner = JobRunner(JobStore(paths.database), paths, {"cpu": max_cpu_jobs}, **options).start()
            serve_clients(True)
        return _runner


def stop_jobs() -> None:
    """Stop the running tasks (they end interrupted, or paused if a trainer saved) and close the database."""
    global _runner
    with _lock:
        stopping, _runner = _runner, None
    if stopping is not None:
        serve_clients(False)
        stopping.shutdown()
        stopping.store.close()


def runner() -> JobRunner:
    """The process's runner, started on first use."""
    return _runner or start_jobs()


@contextmanager
def job_errors() -> Iterator[None]:
    """Re-raise the runner's and the store's errors as the service's."""
    try:
        yield
    except NotFoundError as error:
        raise NotFound(str(error)) from error
    except JobStateError as error:
        raise Conflict(str(error)) from error


def task_dict(task: Task) -> dict[str, Any]:
    """The task as plain data (timestamps in Unix seconds; the owner as {"user", "role"} or None)."""
    return {
        "id": task.id, "kind": task.kind, "status": str(task.status), "progress": asdict(task.progress),
        "params": task.params, "created": task.created, "started": task.started, "finished": task.finished,
        "error": task.error, "result": task.result, "training_id": task.training_id,
        "owner": None if task.owner is None else asdict(task.owner),
    }


def submit(
    kind: str, argv: Sequence[str] | None = None, params: dict[str, Any] | None = None, resource: str = "cpu",
    training_id: str | None = None, owner: Owner | None = None,
) -> dict[str, Any]:
    """Queue a task (see `JobRunner.submit`) and return it as `task_dict`; ``owner``: who submits it (None on a
    server without logins)."""
    with job_errors():
        active = runner()
        return task_dict(active.get(active.submit(kind, argv, params, resource, training_id, owner)))


def resource_of(devices: str) -> str:
    """The runner resource a step on ``devices`` ("cpu", "N" or "N-M") occupies: "cpu" or its first GPU "gpu:N",
    whose slot the scheduler counts. Checked here so that a typo is refused at once, not by a failing task.
    """
    match = _DEVICES.match(devices)
    if match is None:
        raise ValueError(f"devices {devices!r}: use 'cpu', a GPU number ('0') or a range ('0-1')")
    return "cpu" if devices == "cpu" else f"gpu:{match.group(2)}"


def conversion_resource() -> str:
    """Where conversions run: the `device` setting ("cpu", "cuda:N", "xpu:N", "mps"), "auto" meaning the first
    accelerator if any (`rvc.devices`)."""
    device = load_settings().device
    if device == "auto":
        device = str(default_device())
    return device.replace("cuda:", "gpu:", 1)


def require_command(name: str) -> None:
    """Refuse, before queuing, a task whose `python -m rvc` command this installation does not have."""
    commands = importlib.import_module("rvc.__main__").COMMANDS
    if name not in commands:
        raise NotImplementedError(f"this installation has no `python -m rvc {name}` command yet")
